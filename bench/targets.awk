# bench/targets.awk — reads bench/run.sh's results.tsv (tab-separated) and prints one T row per
# target: T <name> <value> <op> <limit> <unit> <ok|MISS|n/a>. The name of a throughput target is
# the metric's name (so the report can show it beside the metric).
#
# Row kinds read: M metric (name value unit source), D dedup (corpus tool logical stored index
# seconds chunks settings).

function emit(name, v, op, lim, unit,    ok) {
	if (v == "") {
		printf "T\t%s\t-\t%s\t%s\t%s\tn/a\n", name, op, lim, unit
		return
	}
	if (op == ">=")
		ok = (v + 0 >= lim + 0)
	else if (op == "<=")
		ok = (v + 0 <= lim + 0)
	else
		ok = (v + 0 < lim + 0)
	printf "T\t%s\t%s\t%s\t%s\t%s\t%s\n", name, v, op, lim, unit, ok ? "ok" : "MISS"
}

$1 == "M" {
	val[$2] = $3
	if (chunker == "" && $2 ~ /chunk/ && $4 == "GB/s")
		chunker = $2
}
$1 == "D" {
	stored[$2, $3] = $5
	index_b[$2, $3] = $6
}

END {
	emit(chunker == "" ? "chunker" : chunker, val[chunker], ">=", 2, "GB/s")
	emit("ingest_unique", val["ingest_unique"], ">=", 250, "MB/s")
	emit("ingest_dup", val["ingest_dup"], ">=", 600, "MB/s")
	if ("import_unique" in val) {
		emit("import_unique", val["import_unique"], ">=", 250, "MB/s")
		emit("import_dup", val["import_dup"], ">=", 600, "MB/s")
	}
	split("checkpoints shards", vs, " ")
	for (i = 1; i <= 2; i++) {
		c = vs[i]
		v = ""
		if (((c, "cairn") in stored) && ((c, "casync") in stored) && stored[c, "casync"] > 0)
			v = sprintf("%.3f", stored[c, "cairn"] / stored[c, "casync"])
		emit("stored_vs_casync:" c, v, "<=", 0.85, "x")
	}
	# The index target is for the checkpoint and shard corpora only: the logs corpus stores a
	# few MB, of which LMDB's fixed floor of pages alone is over 1% (bench/README.md).
	for (i = 1; i <= 2; i++) {
		c = vs[i]
		v = ""
		if (((c, "cairn") in stored) && stored[c, "cairn"] > 0)
			v = sprintf("%.3f", 100 * index_b[c, "cairn"] / stored[c, "cairn"])
		emit("index_pct:" c, v, "<", 1, "%")
	}
}
