# bench/s3report.awk — turns the results file of bench/s3bench.sh into the table (mode=table) or
# the JSON report (mode=json). Run as: awk -F'\t' -v mode=table -f bench/s3report.awk results.tsv
#
# Input lines (tab-separated):
#   D row label unit metric kind      a row of the table, in order; kind: bytes | ops | page
#   V row server rep key value        one figure of one run ("MB_per_s", "p50_ms", …); server
#                                     "disk": the disk alone writing the row's bytes (baseline)
#   F row server rep message          a run that failed
#   A row server reason               the row (server "*": both columns) is not measured
#   T name row what op limit unit     a target; what: ratio | cairn | rss
#   I key value                       run information
#   N text                            a note
# Every value shown is the median over the runs of that row and server, but the RSS parts
# (server_rss_*_peak_kb, sampled by loadgen during each run): the largest over the runs.

function maximum(list,    n, a, i, m) {
	n = split(list, a, " ")
	if (n == 0)
		return ""
	m = a[1] + 0
	for (i = 2; i <= n; i++)
		if (a[i] + 0 > m)
			m = a[i] + 0
	return m
}
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	if (n == 0)
		return ""
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function fmt(v) {
	if (v == "")
		return "-"
	if (v >= 1000)
		return sprintf("%.0f", v)
	if (v >= 100)
		return sprintf("%.1f", v)
	if (v >= 10)
		return sprintf("%.2f", v)
	return sprintf("%.3f", v)
}
function jstr(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	gsub(/\t/, " ", s)
	return "\"" s "\""
}
function jnum(v) {
	return v == "" ? "null" : v + 0
}
function na(row, srv) {
	if ((row, srv) in nareason)
		return nareason[row, srv]
	if ((row, "*") in nareason)
		return nareason[row, "*"]
	return ""
}
function cpukey(kind) {
	return kind == "bytes" ? "server_cpu_s_per_GB" : "server_cpu_us_per_op"
}
function cpuunit(kind) {
	return kind == "bytes" ? "s/GB" : "us/op"
}
# Medians of row/srv into val[], p50[], p99[], cpu[], runs[].
function summarize(row, srv,    k) {
	k = row SUBSEP srv
	val[k] = median(vals[row, srv, metric[row]])
	p50[k] = median(vals[row, srv, "p50_ms"])
	p99[k] = median(vals[row, srv, "p99_ms"])
	cpu[k] = median(vals[row, srv, cpukey(kind[row])])
	runs[k] = vals[row, srv, metric[row]]
	anon[k] = maximum(vals[row, srv, "server_rss_anon_peak_kb"])
	file[k] = maximum(vals[row, srv, "server_rss_file_peak_kb"])
	shmem[k] = maximum(vals[row, srv, "server_rss_shmem_peak_kb"])
}
function rss(row, srv,    k) {
	k = row SUBSEP srv
	if (anon[k] == "" || file[k] == "" || shmem[k] == "")
		return "-"
	return sprintf("%.0f/%.0f/%.0f", anon[k] / 1024, file[k] / 1024, shmem[k] / 1024)
}
function mib(kb) {
	return kb == "" ? "?" : sprintf("%.1f", kb / 1024)
}
function cell(row, srv,    k) {
	k = row SUBSEP srv
	if (na(row, srv) != "")
		return "n/a"
	if (val[k] == "" && (row, srv) in failed)
		return "FAIL"
	if (val[k] == "")
		return "-"
	return fmt(val[k])
}
function lat(row, srv,    k) {
	k = row SUBSEP srv
	if (kind[row] == "bytes" || p50[k] == "")
		return "-"
	return fmt(p50[k]) "/" fmt(p99[k])
}
function target_value(i,    r) {
	r = trow[i]
	if (twhat[i] == "rss")
		return info["cairnd_vmhwm_kb"] != "" ? info["cairnd_vmhwm_kb"] / 1024 : ""
	if (twhat[i] == "ratio")
		return ratio[r]
	return val[r, "cairn"]
}
function run_list(k,    n, a, j, s) {
	n = split(runs[k], a, " ")
	s = ""
	for (j = 1; j <= n; j++)
		s = s (j > 1 ? ", " : "") fmt(a[j] + 0)
	return s
}
# The runs behind a target on cairn's own figure, in the order they ran: on a shared machine the
# spread says as much as the median. Where the disk alone was measured beside them, its runs too.
function target_runs(i,    r, a, s) {
	r = trow[i]
	if (twhat[i] == "rss" || twhat[i] == "ratio" || split(runs[r, "cairn"], a, " ") < 2)
		return ""
	s = "(runs " run_list(r SUBSEP "cairn")
	if (runs[r, "disk"] != "")
		s = s "; the disk alone " run_list(r SUBSEP "disk")
	return s ")"
}
function target_status(i, v) {
	if (v == "")
		return "n/a"
	if (top[i] == ">=")
		return v >= tlimit[i] ? "ok" : "MISS"
	return v <= tlimit[i] ? "ok" : "MISS"
}

$1 == "D" {
	nrows++
	order[nrows] = $2
	label[$2] = $3
	unit[$2] = $4
	metric[$2] = $5
	kind[$2] = $6
}
$1 == "V" {
	k = $2 SUBSEP $3 SUBSEP $5
	vals[k] = (k in vals) ? vals[k] " " $6 : $6
}
$1 == "F" {
	failed[$2, $3] = 1
	nfail++
	fails[nfail] = $2 " " $3 " rep " $4 ": " $5
}
$1 == "A" { nareason[$2, $3] = $4 }
$1 == "T" {
	nt++
	tname[nt] = $2
	trow[nt] = $3
	twhat[nt] = $4
	top[nt] = $5
	tlimit[nt] = $6
	tunit[nt] = $7
}
$1 == "I" {
	if (!($2 in info))
		infoorder[++ninfo] = $2
	info[$2] = $3
}
$1 == "N" { notes[++nnotes] = $2 }

END {
	for (i = 1; i <= nrows; i++) {
		r = order[i]
		summarize(r, "cairn")
		summarize(r, "nginx")
		summarize(r, "disk")
		ratio[r] = ""
		if (kind[r] != "page" && val[r, "cairn"] != "" && val[r, "nginx"] + 0 > 0)
			ratio[r] = val[r, "cairn"] / val[r, "nginx"]
	}
	for (i = 1; i <= nt; i++) {
		tval[i] = target_value(i)
		tstat[i] = target_status(i, tval[i])
		count[tstat[i]]++
	}
	if (mode == "json")
		json()
	else
		table()
}

function table(    i, r, w, reason) {
	printf "S3 over HTTP — %s vs %s, same run, loopback, %s cores, %s; median of %s run(s)\n",
		info["cairnd"], info["nginx"], info["cores"], info["fs"], info["reps"]
	if (info["quick"] == 1)
		printf "(CAIRN_BENCH_QUICK=1: small sizes, figures not comparable)\n"
	w = "%-46s %-7s %10s %10s %7s %17s %17s %12s %10s\n"
	printf "\n" w, "row", "unit", "cairn", "nginx", "ratio", "cairn p50/p99 ms", "nginx p50/p99 ms",
		"cairn CPU", "cairn RSS"
	for (i = 1; i <= nrows; i++) {
		r = order[i]
		reason = na(r, "*")
		if (reason != "") {
			printf "%-46s %-7s %s\n", label[r], unit[r], reason
			continue
		}
		printf w, label[r], unit[r], cell(r, "cairn"), cell(r, "nginx"),
			ratio[r] == "" ? "-" : sprintf("%.2f", ratio[r]), lat(r, "cairn"), lat(r, "nginx"),
			cpu[r, "cairn"] == "" ? "-" : fmt(cpu[r, "cairn"]) " " cpuunit(kind[r]),
			rss(r, "cairn")
	}
	for (i = 1; i <= nrows; i++) {
		r = order[i]
		if (val[r, "disk"] != "")
			printf "\n%s: the disk alone, the same bytes written to a file and fdatasync'ed " \
				"just before each cairn run: %s %s (runs %s)", label[r], fmt(val[r, "disk"]),
				unit[r], run_list(r SUBSEP "disk")
	}
	printf "\ncairnd peak RSS (VmHWM over the whole run): %s MiB; nginx (largest process): %s MiB\n",
		mib(info["cairnd_vmhwm_kb"]), mib(info["nginx_vmhwm_kb"])
	printf "cairnd RSS parts, peaks of samples every 0.2 s over the whole run: anonymous %s MiB, " \
		"file-backed %s MiB, shmem %s MiB\n", mib(info["cairnd_rss_anon_peak_kb"]),
		mib(info["cairnd_rss_file_peak_kb"]), mib(info["cairnd_rss_shmem_peak_kb"])
	printf "CPU = cairnd's utime+stime over the figure, per GB moved or per request; RSS = the " \
		"peaks of its\nanonymous/file-backed/shmem parts (MiB) sampled every 0.1 s during the " \
		"figure (file-backed: the binary,\nlibraries and the index map, which " \
		"index_resident_max bounds; shmem: the upload ring buffers)\n"
	printf "\ntargets\n"
	for (i = 1; i <= nt; i++)
		printf "  %-58s %10s %-5s  %s\n", tname[i],
			tval[i] == "" ? "-" : fmt(tval[i]), tunit[i],
			target_runs(i) == "" ? tstat[i] : sprintf("%-4s  %s", tstat[i], target_runs(i))
	printf "  %d ok, %d MISS, %d n/a\n", count["ok"], count["MISS"], count["n/a"]
	for (i = 1; i <= nfail; i++)
		printf "%s%s\n", i == 1 ? "\nfailed runs\n  " : "  ", fails[i]
	for (i = 1; i <= nnotes; i++)
		printf "%s%s\n", i == 1 ? "\nnotes\n  " : "  ", notes[i]
	printf "\n%s s; load average %s at the start, %s at the end (%s cores: more means other work " \
		"shared the machine)\n", info["seconds"], info["loadavg_start"], info["loadavg_end"], info["cores"]
}

function jside(r, srv,    k, n, a, i, s, f) {
	k = r SUBSEP srv
	f = "false"
	if ((r, srv) in failed)
		f = "true"
	if (na(r, srv) != "")
		return "{\"na\": " jstr(na(r, srv)) "}"
	n = split(runs[k], a, " ")
	s = ""
	for (i = 1; i <= n; i++)
		s = s ((i > 1 ? ", " : "")) (a[i] + 0)
	return sprintf("{\"value\": %s, \"runs\": [%s], \"p50_ms\": %s, \"p99_ms\": %s, " \
		"\"cpu\": %s, \"cpu_unit\": %s, \"rss_anon_peak_kb\": %s, \"rss_file_peak_kb\": %s, " \
		"\"rss_shmem_peak_kb\": %s, \"failed\": %s}", jnum(val[k]), s, jnum(p50[k]),
		jnum(p99[k]), jnum(cpu[k]), jstr(cpuunit(kind[r])), jnum(anon[k]), jnum(file[k]),
		jnum(shmem[k]), f)
}

function json(    i, r) {
	printf "{\n  \"info\": {"
	for (i = 1; i <= ninfo; i++)
		printf "%s%s: %s", (i > 1 ? ", " : ""), jstr(infoorder[i]),
			info[infoorder[i]] ~ /^[0-9]+(\.[0-9]+)?$/ ? info[infoorder[i]] + 0 : jstr(info[infoorder[i]])
	printf "},\n  \"rows\": [\n"
	for (i = 1; i <= nrows; i++) {
		r = order[i]
		printf "    {\"row\": %s, \"label\": %s, \"unit\": %s, \"metric\": %s, \"cairn\": %s, " \
			"\"nginx\": %s, \"ratio\": %s%s}%s\n", jstr(r), jstr(label[r]), jstr(unit[r]),
			jstr(metric[r]), jside(r, "cairn"), jside(r, "nginx"), jnum(ratio[r]),
			val[r, "disk"] == "" ? "" : ", \"disk\": " jside(r, "disk"), (i < nrows ? "," : "")
	}
	printf "  ],\n  \"targets\": [\n"
	for (i = 1; i <= nt; i++)
		printf "    {\"name\": %s, \"row\": %s, \"value\": %s, \"op\": %s, \"limit\": %s, " \
			"\"unit\": %s, \"status\": %s}%s\n", jstr(tname[i]), jstr(trow[i]), jnum(tval[i]),
			jstr(top[i]), tlimit[i] + 0, jstr(tunit[i]), jstr(tstat[i]), (i < nt ? "," : "")
	printf "  ],\n  \"failed\": ["
	for (i = 1; i <= nfail; i++)
		printf "%s%s", (i > 1 ? ", " : ""), jstr(fails[i])
	printf "],\n  \"notes\": ["
	for (i = 1; i <= nnotes; i++)
		printf "%s%s", (i > 1 ? ", " : ""), jstr(notes[i])
	printf "]\n}\n"
}
