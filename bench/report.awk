# bench/report.awk — prints bench/run.sh's results.tsv (tab-separated, targets.awk's T rows
# appended) as the `make bench` table. Row kinds: I info, M metric, D dedup, S sweep, T target,
# N note. See bench/README.md for what the columns mean.

function mb(b) {
	return sprintf("%.1f", b / 1e6)
}
function pct(a, b) {
	return b > 0 ? sprintf("%.2f%%", 100 * a / b) : "-"
}
function ratio(a, b) {
	return b > 0 ? sprintf("%.2f", a / b) : "-"
}
function rate(b, s) {
	return s > 0 ? sprintf("%.0f", b / 1e6 / s) : "-"
}
function target_text(n) {
	return (n in top) ? top[n] " " tlim[n] " " tunit[n] : ""
}
function rule(title) {
	printf "\n-- %s --\n", title
}

{
	row[NR] = $0
}
$1 == "I" {
	info[$2] = $3
}
$1 == "T" {
	tval[$2] = $3
	top[$2] = $4
	tlim[$2] = $5
	tunit[$2] = $6
	tstat[$2] = $7
	tname[++nt] = $2
}

END {
	printf "== cairn make bench: %s cores, work dir on %s, %s s, load average %s before, %s after%s ==\n",
		info["cores"], info["fs"], info["seconds"], info["load_start"], info["load_end"],
		info["quick"] == 1 ? " (QUICK: small sizes, not comparable)" : ""
	if (info["load_start"] + 0 > 1 || info["load_end"] + 0 > info["cores"] + 1)
		printf "WARNING: the machine was busy with other work: throughput and time figures are low and noisy (byte counts are exact)\n"
	print_metrics()
	print_dedup()
	print_sweep()
	print_targets()
	print_notes()
}

function print_metrics(    i, f, n, hidden) {
	rule("throughput (higher is better)")
	printf "%-28s %10s %-6s %-14s %-10s %s\n", "metric", "value", "unit", "target", "status",
		"from"
	for (i = 1; i <= NR; i++) {
		n = split(row[i], f, "\t")
		if (f[1] != "M")
			continue
		# bench_pack measures every level; the table shows the store's default level only.
		if (f[5] == "bench_pack" && !(f[2] ~ ("_l" info["zstd_level"] "(_backoff|_verify)?$"))) {
			hidden++
			continue
		}
		printf "%-28s %10s %-6s %-14s %-10s %s\n", f[2], f[3], f[4], target_text(f[2]),
			(f[2] in tstat) ? tstat[f[2]] : "", f[5]
	}
	if (hidden)
		printf "(%d more bench_pack figures, for the other zstd levels, are in the JSON)\n", hidden
}

function dedup_line(f, casync_stored,    st, tg, vs, k) {
	vs = casync_stored > 0 ? ratio(f[5], casync_stored) : "-"
	st = ""
	tg = ""
	if (f[3] == "cairn") {
		k = "stored_vs_casync:" f[2]
		if (k in tstat) {
			tg = "<=0.85 casync, "
			st = tstat[k] == "ok" ? "" : tstat[k] "(xcasync) "
		}
		k = "index_pct:" f[2]
		if (k in tstat) {
			tg = tg "idx<1%"
			st = st (tstat[k] == "ok" ? "" : tstat[k] "(idx)")
		}
		sub(/, $/, "", tg)
		sub(/ $/, "", st)
		if (st == "" && tg != "")
			st = "ok"
	}
	printf "%-12s %-12s %9s %9s %7s %7s %6s %7s %7s %5s  %-21s %s\n", f[2], f[3], mb(f[4]),
		mb(f[5]), mb(f[6]), pct(f[6], f[5]), ratio(f[4], f[5]), vs, f[7], rate(f[4], f[7]),
		tg, st
}

function print_dedup(    i, f, cas, n) {
	rule("dedup: every snapshot stored in order (MB = 10^6 bytes; ratio = logical/stored)")
	printf "%-12s %-12s %9s %9s %7s %7s %6s %7s %7s %5s  %-21s %s\n", "corpus", "tool",
		"logical", "stored", "index", "index%", "ratio", "xcasync", "time_s", "MB/s",
		"target", "status"
	for (i = 1; i <= NR; i++) {
		n = split(row[i], f, "\t")
		if (f[1] == "D" && f[3] == "casync")
			cas[f[2]] = f[5]
	}
	for (i = 1; i <= NR; i++) {
		n = split(row[i], f, "\t")
		if (f[1] == "D")
			dedup_line(f, cas[f[2]])
	}
	printf "settings:\n"
	for (i = 1; i <= NR; i++) {
		n = split(row[i], f, "\t")
		if (f[1] == "D" && !(f[3] in said)) {
			said[f[3]] = 1
			printf "  %-12s %s\n", f[3], f[9]
		}
	}
}

function print_sweep(    i, f, n, a, best, pick, fastest, r, ok) {
	rule("chunk-size sweep: cairn engine, min = avg/4, max = avg*4")
	printf "%-12s %7s %9s %10s %8s %7s %7s %7s %8s %6s\n", "corpus", "avg_KiB", "chunks",
		"stored", "index", "index%", "live%", "ratio", "time_s", "MB/s"
	for (i = 1; i <= NR; i++) {
		n = split(row[i], f, "\t")
		if (f[1] != "S")
			continue
		printf "%-12s %7d %9s %10s %8s %7s %7s %7s %8s %6s\n", f[2], f[3] / 1024, f[8],
			mb(f[5]), mb(f[6]), pct(f[6], f[5]), f[10] == "" ? "-" : pct(f[10], f[5]),
			ratio(f[4], f[5]), f[7], rate(f[4], f[7])
		if (!(f[3] in tot))
			avgs[++na] = f[3]
		tot[f[3]] += f[5] + f[6]
		if (f[5] > 0 && 100 * f[6] / f[5] >= 1)
			index_over[f[3]] = 1
		lsum[f[3]] += f[4]
		tsum[f[3]] += f[7]
	}
	if (na == 0)
		return
	fastest = 0
	for (a = 1; a <= na; a++) {
		r = tsum[avgs[a]] > 0 ? lsum[avgs[a]] / tsum[avgs[a]] : 0
		speed[avgs[a]] = r
		if (r > fastest)
			fastest = r
		printf "  avg %3d KiB: stored+index over these corpora %s MB, %s MB/s\n",
			avgs[a] / 1024, mb(tot[avgs[a]]), rate(lsum[avgs[a]], tsum[avgs[a]])
	}
	# Among the sizes that ingest at >= 80% of the fastest and keep the index under 1% of
	# stored on every corpus, the smallest footprint; then the largest average within 1% of it
	# (fewer chunks: less index, less per-chunk work).
	best = ""
	for (a = 1; a <= na; a++) {
		ok[avgs[a]] = speed[avgs[a]] >= 0.8 * fastest && !(avgs[a] in index_over)
		if (ok[avgs[a]] && (best == "" || tot[avgs[a]] < tot[best]))
			best = avgs[a]
	}
	pick = best
	for (a = 1; a <= na; a++)
		if (ok[avgs[a]] && tot[avgs[a]] <= 1.01 * tot[best] && avgs[a] + 0 > pick + 0)
			pick = avgs[a]
	if (best == "")
		printf "recommendation: none: every size ingesting at >= 80%% of the fastest has an index of 1%% of stored or more\n"
	else
		printf "recommendation: avg %d KiB (min %d, max %d KiB): the smallest stored+index among the sizes ingesting at >= 80%% of the fastest with an index under 1%% of stored (larger average preferred within 1%%)\n",
			pick / 1024, pick / 4096, pick * 4 / 1024
	if (info["default_avg"] > 0)
		printf "current default: avg %d KiB\n", info["default_avg"] / 1024
}

function print_targets(    i, n, ok, miss, na) {
	rule("targets")
	for (i = 1; i <= nt; i++) {
		n = tname[i]
		printf "%-28s %10s  %-2s %-6s %-4s  %s\n", n, tval[n], top[n], tlim[n], tunit[n],
			tstat[n]
		if (tstat[n] == "ok")
			ok++
		else if (tstat[n] == "MISS")
			miss++
		else
			na++
	}
	printf "targets: %d ok, %d MISS, %d n/a\n", ok, miss, na
}

function print_notes(    i, n, f) {
	for (i = 1; i <= NR; i++) {
		n = split(row[i], f, "\t")
		if (f[1] == "N")
			printf "note: %s\n", f[2]
	}
}
