#!/usr/bin/env bash
# bench/s3bench.sh [BUILD] — S3 over HTTP: cairnd against nginx, in the same run, on loopback.
# bench/run.sh calls it at the end of `make bench`; it also runs alone (after
# `make BUILD/cairnd BUILD/bench/loadgen`). See the "S3 over HTTP" part of bench/README.md.
#
# Starts BUILD/cairnd with a fresh data dir and an nginx (bench/nginx.conf.in) that serves the
# same bytes from a directory (sendfile) and stores PUTs (DAV), both on free 127.0.0.1 ports,
# under one work dir on the real disk. Drives both with BUILD/bench/loadgen (libcurl, SigV4) and
# wrk (small GETs, presigned URLs). Every figure runs BENCH_REPS times, cairn and nginx in turn;
# the medians go into one table on stdout (progress on stderr), BUILD/bench-s3.txt, and JSON in
# BUILD/bench-s3.json. Both servers and any running client are stopped by PID when the script
# ends, also on failure or ^C; the work dir is removed. Exits 0 when every run succeeded (targets
# may still be missed: the table says so), 1 when a run failed or cairnd died, 2 on bad settings.
#
# Environment (sizes in bytes; the row labels print the sizes used):
#   CAIRN_BENCH_DIR      base of the work dir (default /var/tmp; a real disk, not tmpfs)
#   CAIRN_BENCH_QUICK    1 = small sizes and one rep, for a smoke run (numbers not comparable)
#   CAIRN_BENCH_KEEP     1 = keep the work dir (data, logs, raw outputs)
#   CAIRN_BENCH_NO_INSTALL 1 = never apt-get install nginx / wrk
#   BENCH_REPS           runs per figure (default 3)
#   BENCH_LARGE_SIZE     large PUT/GET object (default 1 GiB)
#   BENCH_MPU_SIZE, BENCH_MPU_PART, BENCH_MPU_CONC   multipart (2 GiB, 8 MiB, 8)
#   BENCH_PAR_COUNT, BENCH_PAR_SIZE   concurrent uploads for the RSS row (128 x 8 MiB)
#   BENCH_SMALL_KEYS     4 KiB objects that GET/HEAD cycle over (default 10000)
#   BENCH_SMALL_SECONDS  seconds per small-object figure (default 3)
#   BENCH_LIST_KEYS      keys to populate for ListObjectsV2 (default 1000000)
#   BENCH_LIST_SECONDS   populating stops after this long (default 150); the count reached is used
#   BENCH_LIST_CONC      concurrency of that populating (default 32)
#   BENCH_TIMEOUT        seconds any one client command may take (default 300)
set -u

BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
BASE=${CAIRN_BENCH_DIR:-/var/tmp}
QUICK=${CAIRN_BENCH_QUICK:-0}
KEEP=${CAIRN_BENCH_KEEP:-0}
JSON=$BUILD/bench-s3.json
TXT=$BUILD/bench-s3.txt
LOADGEN=$BUILD/bench/loadgen
CAIRND=$BUILD/cairnd
BUCKET=bench
SEED=20240601
START_NS=$(date +%s%N)

if [ "$QUICK" = 1 ]; then
	d_reps=1 d_large=$((128 << 20)) d_mpu=$((256 << 20)) d_par_size=$((1 << 20))
	d_small_keys=2000 d_small_secs=1 d_list_keys=20000 d_list_secs=20
else
	d_reps=3 d_large=$((1 << 30)) d_mpu=$((2 << 30)) d_par_size=$((8 << 20))
	d_small_keys=10000 d_small_secs=3 d_list_keys=1000000 d_list_secs=150
fi
REPS=${BENCH_REPS:-$d_reps}
LARGE=${BENCH_LARGE_SIZE:-$d_large}
MPU_SIZE=${BENCH_MPU_SIZE:-$d_mpu}
MPU_PART=${BENCH_MPU_PART:-$((8 << 20))}
MPU_CONC=${BENCH_MPU_CONC:-8}
PAR_COUNT=${BENCH_PAR_COUNT:-128}
PAR_SIZE=${BENCH_PAR_SIZE:-$d_par_size}
SMALL_KEYS=${BENCH_SMALL_KEYS:-$d_small_keys}
SMALL_SECS=${BENCH_SMALL_SECONDS:-$d_small_secs}
LIST_KEYS=${BENCH_LIST_KEYS:-$d_list_keys}
LIST_SECS=${BENCH_LIST_SECONDS:-$d_list_secs}
LIST_CONC=${BENCH_LIST_CONC:-32}
TIMEOUT=${BENCH_TIMEOUT:-300}

for v in REPS LARGE MPU_SIZE MPU_PART MPU_CONC PAR_COUNT PAR_SIZE SMALL_KEYS SMALL_SECS \
	LIST_KEYS LIST_SECS LIST_CONC TIMEOUT; do
	case ${!v} in
	'' | *[!0-9]*)
		echo "s3bench: $v must be a whole number, not '${!v}'" >&2
		exit 2
		;;
	esac
	[ "${!v}" -gt 0 ] || { echo "s3bench: $v must be > 0" >&2; exit 2; }
done

CAIRND_PID=
SAMPLER_PID=
NGINX_PID=
NGINX_PIDS=
CHILD=
WORK=

stop_pid() { # pid seconds: SIGTERM, wait, then SIGKILL; returns the exit status
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

cleanup() {
	stop_pid "$SAMPLER_PID" 2
	stop_pid "$CHILD" 2
	stop_pid "$CAIRND_PID" 15
	stop_pid "$NGINX_PID" 10
	CHILD= CAIRND_PID= NGINX_PID= SAMPLER_PID=
	[ -n "$WORK" ] || return
	if [ "$KEEP" = 1 ]; then
		echo "s3bench: work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

progress() {
	local s=$((($(date +%s%N) - START_NS) / 1000000000))
	printf '[s3 %02d:%02d] %s\n' $((s / 60)) $((s % 60)) "$*" >&2
}
note() {
	progress "note: $*"
	printf 'N\t%s\n' "$*" >>"$RES"
}
human() { # bytes → "1 GiB", "8 MiB", "4 KiB" or bytes
	awk -v b="$1" 'BEGIN {
		if (b >= 2^30 && b % 2^30 == 0) printf "%d GiB", b / 2^30
		else if (b >= 2^20 && b % 2^20 == 0) printf "%d MiB", b / 2^20
		else if (b >= 2^10 && b % 2^10 == 0) printf "%d KiB", b / 2^10
		else printf "%d B", b }'
}

# Runs a command in the background (so a signal reaches the traps at once) under the timeout,
# stdout to $1, stderr to $1.err (and appended to $WORK/stderr.log). Returns its exit status.
run_to() {
	local out=$1 rc
	shift
	timeout "$TIMEOUT" "$@" >"$out" 2>"$out.err" &
	CHILD=$!
	wait "$CHILD"
	rc=$?
	CHILD=
	cat "$out.err" >>"$WORK/stderr.log"
	return $rc
}

kv() { awk -v k="$2:" '$1 == k {print $2; exit}' "$1"; }

# A free TCP port on 127.0.0.1 (not listening in /proc/net/tcp*). The server that gets it is
# checked by its health answer, so a race only makes the start fail.
free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 40000))
		awk -v p="$(printf '%04X' "$p")" 'FNR > 1 {split($2, a, ":");
			if (a[2] == p) found = 1} END {exit found ? 0 : 1}' \
			/proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

# Sum of utime + stime (clock ticks) of the given comma-separated pids.
cpu_ticks() {
	local pid t=0 v
	for pid in ${1//,/ }; do
		v=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
vmhwm_kb() { awk '$1 == "VmHWM:" {print $2}' "/proc/$1/status" 2>/dev/null; }
# rss_sampler pid file: every 0.2 s while pid lives, writes the peaks so far of its RssAnon,
# RssFile and RssShmem (kB) to file as "anon file shmem" (no process started per sample but
# sleep). VmHWM alone does not say whether a peak was heap or mapped files (the index map).
rss_sampler() {
	local a=0 f=0 s=0 k v _
	while kill -0 "$1" 2>/dev/null; do
		while read -r k v _; do
			case $k in
			RssAnon:) [ "$v" -gt "$a" ] && a=$v ;;
			RssFile:) [ "$v" -gt "$f" ] && f=$v ;;
			RssShmem:) [ "$v" -gt "$s" ] && s=$v ;;
			esac
		done 2>/dev/null <"/proc/$1/status"
		echo "$a $f $s" >"$2"
		sleep 0.2
	done
}

ensure_tools() {
	local missing=() t
	for t in nginx wrk; do
		command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] && return
	if [ "${CAIRN_BENCH_NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ] ||
		! command -v apt-get >/dev/null; then
		note "not installed (and not installing): ${missing[*]}"
		return
	fi
	progress "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq "${missing[@]}" >"$WORK/apt.log" 2>&1; then
		apt-get update -qq >>"$WORK/apt.log" 2>&1
		apt-get install -y -qq "${missing[@]}" >>"$WORK/apt.log" 2>&1 ||
			note "apt-get install ${missing[*]} failed"
	fi
}

start_cairnd() {
	local port i
	port=$(free_port) || { note "no free port for cairnd"; return 1; }
	CAIRN_URL=http://127.0.0.1:$port
	CAIRN_ROOT_ACCESS_KEY=$AK CAIRN_ROOT_SECRET_KEY=$SK "$CAIRND" --data "$WORK/cairn-data" \
		--listen "127.0.0.1:$port" --region us-east-1 --shutdown-timeout 5 \
		2>"$WORK/cairnd.log" &
	CAIRND_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(curl -s "$CAIRN_URL/_cairn/health" 2>/dev/null)" = ok ] && return 0
		kill -0 "$CAIRND_PID" 2>/dev/null || break
		sleep 0.1
	done
	note "cairnd did not start: $(tail -n 3 "$WORK/cairnd.log" | tr '\n' ' ')"
	stop_pid "$CAIRND_PID" 5
	CAIRND_PID=
	return 1
}

start_nginx() {
	local port i bin dir=$WORK/nginx code
	bin=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$bin" ] || { note "nginx not installed: its columns are empty"; return 1; }
	port=$(free_port) || { note "no free port for nginx"; return 1; }
	NGINX_URL=http://127.0.0.1:$port
	mkdir -p "$dir" "$WORK/nginx-root/$BUCKET" "$WORK/nginx-root/.tmp-body" || return 1
	sed -e "s#@WORK@#$dir#g; s#@ROOT@#$WORK/nginx-root#g; s#@PORT@#$port#g" \
		-e "s#@USER@#$(id -un) $(id -gn)#g; s#@WORKERS@#$(nproc)#g" \
		bench/nginx.conf.in >"$dir/nginx.conf" || return 1
	"$bin" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" 2>>"$dir/error.log" &
	NGINX_PID=$!
	for ((i = 0; i < 100; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$NGINX_URL/$BUCKET/none" 2>/dev/null)
		if [ "$code" = 404 ]; then
			NGINX_PIDS=$(pgrep -P "$NGINX_PID" | paste -sd,)
			NGINX_PIDS=$NGINX_PID${NGINX_PIDS:+,$NGINX_PIDS}
			return 0
		fi
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.1
	done
	note "nginx did not start: $(tail -n 3 "$dir/error.log" | tr '\n' ' ')"
	stop_pid "$NGINX_PID" 5
	NGINX_PID=
	return 1
}

is_up() { # server
	if [ "$1" = cairn ]; then
		[ -n "$CAIRND_PID" ] && kill -0 "$CAIRND_PID" 2>/dev/null
	else
		[ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null
	fi
}

# Writes back the dirty pages of the work dir's file system, so that what one figure left in
# the page cache (nginx does not fsync) is not flushed on the time of the next one.
settle() {
	timeout 120 sync -f "$WORK" 2>/dev/null || timeout 120 sync
}

# lg server out command [args…]: loadgen against server, reporting its CPU and RSS.
lg() {
	local srv=$1 out=$2 cmd=$3 url pids
	shift 3
	settle
	if [ "$srv" = cairn ]; then
		url=$CAIRN_URL pids=$CAIRND_PID
	else
		url=$NGINX_URL pids=$NGINX_PIDS
	fi
	run_to "$out" "$LOADGEN" "$cmd" --url "$url" --bucket "$BUCKET" --pids "$pids" "$@"
}

# Records the "key: value" lines of out for row/server/rep, or a failure when rc says so.
record() {
	local row=$1 srv=$2 rep=$3 out=$4 rc=$5 why
	if [ "$rc" -ne 0 ] || [ "$(kv "$out" errors)" != 0 ]; then
		why=$(grep -v '^$' "$out.err" 2>/dev/null | head -n 1 | cut -c1-300)
		[ "$rc" = 124 ] && why="timed out after ${TIMEOUT}s"
		printf 'F\t%s\t%s\t%s\t%s\n' "$row" "$srv" "$rep" "exit $rc: $why" >>"$RES"
		progress "$row $srv rep $rep FAILED: $why"
		return 1
	fi
	awk -F': *' -v row="$row" -v srv="$srv" -v rep="$rep" 'NF >= 2 {
		split($2, v, " "); printf "V\t%s\t%s\t%s\t%s\t%s\n", row, srv, rep, $1, v[1] }' \
		"$out" >>"$RES"
	progress "$row $srv rep $rep: $(awk '$1 ~ /^(MB_per_s|ops_per_s|p50_ms):$/ {
		printf "%s %s ", $2, $3}' "$out")"
}

# disk_figure row rep args…: the disk alone writing (and fdatasync'ing) what a PUT of new data
# must make durable, recorded as server "disk": the baseline of the unique PUT row, since this
# shared disk's speed moves several-fold within a run.
disk_figure() {
	local row=$1 rep=$2 out=$WORK/out/$1-disk-$2
	shift 2
	settle
	run_to "$out" "$LOADGEN" disk --out "$WORK/disk.bin" "$@"
	record "$row" disk "$rep" "$out" $?
	rm -f "$WORK/disk.bin"
}

# figure row rep server command args…: one loadgen run, recorded.
figure() {
	local row=$1 rep=$2 srv=$3 out rc
	shift 3
	if ! is_up "$srv"; then
		printf 'F\t%s\t%s\t%s\t%s\n' "$row" "$srv" "$rep" "$srv is not running" >>"$RES"
		return 1
	fi
	out=$WORK/out/$row-$srv-$rep
	lg "$srv" "$out" "$@"
	rc=$?
	record "$row" "$srv" "$rep" "$out" $rc
}

row_def() { # id label unit metric kind(bytes|ops|page)
	printf 'D\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RES"
}
row_na() { # id server(cairn|nginx|*) reason
	printf 'A\t%s\t%s\t%s\n' "$@" >>"$RES"
}

SERVERS=()

# REPS reps of a PUT of object 1's bytes (those of the first unique rep) under prefix<rep>/ on
# each server, then nginx's copy removed: row prefix skip [loadgen args…]; skip 1 starts rep i's
# body at byte i of the stream (0: the same bytes every rep).
repeat_put_rows() {
	local row=$1 prefix=$2 by_rep=$3 i s
	shift 3
	for ((i = 1; i <= REPS; i++)); do
		for s in "${SERVERS[@]}"; do
			figure "$row" "$i" "$s" put --prefix "$prefix$i/" --start 1 --size "$LARGE" \
				--seed "$SEED" --skip $((by_rep ? i : 0)) "$@"
		done
		rm -rf "$WORK/nginx-root/$BUCKET/$prefix$i"
	done
}

large_rows() {
	local i s L
	L=$(human "$LARGE")
	row_def put_large_unique "PUT $L unique, 1 stream" MB/s MB_per_s bytes
	row_def put_large_dup "PUT $L again (all chunks dedup)" MB/s MB_per_s bytes
	row_def put_large_dup_signed "PUT $L again, signed payload" MB/s MB_per_s bytes
	row_def put_large_shift "PUT $L stored chunks, new MD5 chain" MB/s MB_per_s bytes
	row_def get_large "GET $L, 1 stream" MB/s MB_per_s bytes
	row_def get_large_4r "GET $L, 4 ranged streams" MB/s MB_per_s bytes
	for ((i = 1; i <= REPS; i++)); do
		disk_figure put_large_unique "$i" --start "$i" --size "$LARGE" --seed "$SEED"
		for s in "${SERVERS[@]}"; do
			figure put_large_unique "$i" "$s" put --prefix big/ --start "$i" \
				--size "$LARGE" --seed "$SEED"
		done
	done
	repeat_put_rows put_large_dup dup 0
	# The same with the body's SHA-256 in x-amz-content-sha256, as botocore (boto3, aws-cli)
	# sends it over plain HTTP: cairnd verifies it, a whole-body SHA-256 the memo does not
	# serve. No target; nginx ignores the header.
	repeat_put_rows put_large_dup_signed sdup 0 --signed
	# The same bytes from byte i of the stream on: all chunks but the first and last are stored,
	# but the body's MD5 passes states no upload has, so the MD5 memo cannot serve it (the
	# near-copy case: a checkpoint with its first bytes changed). A new offset each rep.
	repeat_put_rows put_large_shift shift 1
	check_large
	for ((i = 1; i <= REPS; i++)); do
		for s in "${SERVERS[@]}"; do
			figure get_large "$i" "$s" get --prefix big/ --start 1 --size "$LARGE" \
				--seed "$SEED"
			figure get_large_4r "$i" "$s" ranged --prefix big/ --start 1 --conc 4 \
				--size "$LARGE" --seed "$SEED"
		done
	done
}

# Untimed: cairn's copy of big/00000001 comes back byte for byte, whole and in ranges.
check_large() {
	is_up cairn || return
	progress "check: GET and ranged GET of big/00000001 from cairn, every byte compared"
	figure check_get 0 cairn get --prefix big/ --start 1 --size "$LARGE" --seed "$SEED" \
		--verify || note "cairn returned wrong bytes for big/00000001 (see stderr.log)"
	figure check_get 0 cairn ranged --prefix big/ --start 1 --size "$LARGE" --seed "$SEED" \
		--conc 7 --verify || note "cairn returned wrong bytes in a range of big/00000001"
}

# One multipart figure: row rep prefix start. Returns 3 when cairnd does not implement multipart.
mpu_figure() {
	local row=$1 i=$2 prefix=$3 start=$4 s rc out
	for s in "${SERVERS[@]}"; do
		out=$WORK/out/$row-$s-$i
		is_up "$s" || continue
		if [ "$s" = cairn ]; then
			lg cairn "$out" mpu --prefix "$prefix" --start "$start" --size "$MPU_SIZE" \
				--part-size "$MPU_PART" --conc "$MPU_CONC" --seed "$SEED"
		else
			lg nginx "$out" mpu --plain --prefix "$prefix" --start "$start" \
				--size "$MPU_SIZE" --part-size "$MPU_PART" --conc "$MPU_CONC" \
				--seed "$SEED"
		fi
		rc=$?
		[ $rc = 3 ] && return 3
		record "$row" "$s" "$i" "$out" $rc
	done
	rm -rf "$WORK/nginx-root/$BUCKET/$prefix"
}

mpu_rows() {
	local i label
	label="multipart PUT $(human "$MPU_SIZE"), $(human "$MPU_PART") parts x $MPU_CONC"
	row_def mpu "$label" MB/s MB_per_s bytes
	row_def mpu_again "multipart PUT $(human "$MPU_SIZE") again (dedup)" MB/s MB_per_s bytes
	for ((i = 1; i <= REPS; i++)); do
		if ! mpu_figure mpu "$i" mpu/ "$i"; then
			row_na mpu '*' "n/a (multipart not implemented)"
			row_na mpu_again '*' "n/a (multipart not implemented)"
			progress "multipart: cairnd answers 501 NotImplemented: rows n/a"
			return
		fi
	done
	# The bytes of rep 1 again, in the same parts (aws-cli re-uploading a checkpoint that did
	# not change): every chunk is stored and each part's MD5 comes from the memo.
	for ((i = 1; i <= REPS; i++)); do
		mpu_figure mpu_again "$i" "mpu-again$i/" 1
	done
	is_up cairn || return
	figure check_mpu 0 cairn get --prefix mpu/ --start 1 --size "$MPU_SIZE" --seed "$SEED" \
		--verify || note "multipart object mpu/00000001 read back wrong (see stderr.log)"
}

par_rows() {
	local i s
	row_def put_par "PUT $PAR_COUNT x $(human "$PAR_SIZE") at once ($PAR_COUNT conns)" MB/s \
		MB_per_s bytes
	for ((i = 1; i <= REPS; i++)); do
		for s in "${SERVERS[@]}"; do
			figure put_par "$i" "$s" put --prefix "par$i/" --count "$PAR_COUNT" \
				--conc "$PAR_COUNT" --size "$PAR_SIZE" --seed $((SEED + i))
		done
		rm -rf "$WORK/nginx-root/$BUCKET/par$i"
	done
}

# Small GETs through wrk on presigned URLs (one client thread); loadgen when wrk is missing.
wrk_figure() { # row rep server conns
	local row=$1 rep=$2 srv=$3 conns=$4 url pids out c0 c1 rc
	if ! command -v wrk >/dev/null; then
		figure "$row" "$rep" "$srv" get --prefix small/ --count "$SMALL_KEYS" --size 4096 \
			--ops 1000000000 --conc "$conns" --duration "$SMALL_SECS" --seed "$SEED"
		return
	fi
	if [ "$srv" = cairn ]; then url=$CAIRN_URL pids=$CAIRND_PID; else url=$NGINX_URL pids=$NGINX_PIDS; fi
	is_up "$srv" || { printf 'F\t%s\t%s\t%s\t%s\n' "$row" "$srv" "$rep" "$srv is not running" >>"$RES"; return; }
	out=$WORK/out/$row-$srv-$rep
	settle
	c0=$(cpu_ticks "$pids")
	run_to "$out.wrk" wrk -t1 -c"$conns" -d"${SMALL_SECS}s" --timeout 10s --latency \
		-s "$WORK/get.lua" "$url" -- "$WORK/paths.txt"
	rc=$?
	c1=$(cpu_ticks "$pids")
	awk -v cpu=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v hwm="$(vmhwm_kb "${pids%%,*}")" '
	function ms(s) {
		if (s ~ /us$/) return s / 1000
		if (s ~ /ms$/) return s + 0
		if (s ~ /s$/) return s * 1000
		return s + 0
	}
	$1 == "Requests/sec:" {rate = $2}
	$2 == "requests" && $3 == "in" {ops = $1; secs = $4 + 0}
	$1 == "50%" {p50 = ms($2)}
	$1 == "99%" {p99 = ms($2)}
	/Non-2xx or 3xx responses:/ {err += $NF}
	$1 == "Socket" && $2 == "errors:" {gsub(/,/, ""); err += $4 + $6 + $8 + $10}
	END {
		printf "ops: %d\nerrors: %d\nseconds: %.3f s\n", ops, err, secs
		printf "ops_per_s: %.1f ops/s\nMB_per_s: %.1f MB/s\n", rate, rate * 4096 / 1e6
		printf "p50_ms: %.3f ms\np99_ms: %.3f ms\n", p50, p99
		printf "server_cpu_s: %.2f s\n", cpu / hz
		if (ops > 0) printf "server_cpu_us_per_op: %.1f us\n", cpu / hz * 1e6 / ops
		printf "server_vmhwm_kb: %d kB\n", hwm
	}' "$out.wrk" >"$out"
	[ -n "$(kv "$out" ops_per_s)" ] && [ "$(kv "$out" ops)" != 0 ] || rc=1
	record "$row" "$srv" "$rep" "$out" $rc
}

small_rows() {
	local i s out c
	row_def put_4k_16 "PUT 4 KiB, 16 conns" ops/s ops_per_s ops
	row_def put_4k_128 "PUT 4 KiB, 128 conns" ops/s ops_per_s ops
	c=$(command -v wrk >/dev/null && echo ", wrk" || echo "")
	row_def get_4k_16 "GET 4 KiB, 16 conns$c" ops/s ops_per_s ops
	row_def get_4k_128 "GET 4 KiB, 128 conns$c" ops/s ops_per_s ops
	row_def head_16 "HEAD 4 KiB object, 16 conns" ops/s ops_per_s ops
	progress "populating $SMALL_KEYS objects of 4 KiB on each server"
	for s in "${SERVERS[@]}"; do
		figure populate_small 0 "$s" put --prefix small/ --count "$SMALL_KEYS" --size 4096 \
			--conc 16 --seed "$SEED"
	done
	if is_up cairn && ! figure check_small 0 cairn get --prefix small/ --count "$SMALL_KEYS" \
		--size 4096 --conc 16 --seed "$SEED" --verify; then
		note "cairn returned wrong 4 KiB objects (see stderr.log)"
	fi
	"$LOADGEN" presign --url "${CAIRN_URL:-http://127.0.0.1:1}" --bucket "$BUCKET" \
		--prefix small/ --count "$SMALL_KEYS" --expires 7200 >"$WORK/paths.txt"
	for ((i = 1; i <= REPS; i++)); do
		for s in "${SERVERS[@]}"; do
			for c in 16 128; do
				figure "put_4k_$c" "$i" "$s" put --prefix "p$c-$i/" --count 1000000000 \
					--size 4096 --conc "$c" --duration "$SMALL_SECS" \
					--seed $((SEED + 100 + i))
			done
			wrk_figure get_4k_16 "$i" "$s" 16
			wrk_figure get_4k_128 "$i" "$s" 128
			figure head_16 "$i" "$s" head --prefix small/ --count "$SMALL_KEYS" \
				--ops 1000000000 --conc 16 --duration "$SMALL_SECS"
		done
	done
}

list_rows() {
	local i out n
	if ! is_up cairn; then
		row_def list "ListObjectsV2, page of 1000" "ms/page" p50_ms page
		printf 'F\tlist\tcairn\t0\tcairn is not running\n' >>"$RES"
		return
	fi
	progress "populating up to $LIST_KEYS empty objects (at most ${LIST_SECS}s, $LIST_CONC conns)"
	out=$WORK/out/populate-list
	lg cairn "$out" put --prefix list/ --count "$LIST_KEYS" --size 0 --conc "$LIST_CONC" \
		--duration "$LIST_SECS" --seed "$SEED"
	n=$(kv "$out" ops)
	if [ -z "$n" ] || [ "$n" = 0 ] || [ "$(kv "$out" errors)" != 0 ]; then
		note "populating the listing failed: $(head -n 1 "$out.err")"
		row_def list "ListObjectsV2, page of 1000" "ms/page" p50_ms page
		row_na list '*' "n/a (populating failed)"
		return
	fi
	[ "$n" -lt "$LIST_KEYS" ] &&
		note "listing bucket: $n of BENCH_LIST_KEYS=$LIST_KEYS keys within ${LIST_SECS}s ($(kv "$out" ops_per_s) PUT/s)"
	printf 'I\tlist_keys\t%s\n' "$n" >>"$RES"
	row_def list "ListObjectsV2, page of 1000 ($n keys)" "ms/page" p50_ms page
	row_na list nginx "n/a (no listing)"
	for ((i = 1; i <= REPS; i++)); do
		out=$WORK/out/list-cairn-$i
		figure list "$i" cairn list --prefix list/ --max-keys 1000 --duration 60 || continue
		if [ "$(kv "$out" complete)" != 1 ] || [ "$(kv "$out" keys)" != "$n" ]; then
			note "listing rep $i: $(kv "$out" keys) keys (complete=$(kv "$out" complete)), $n were stored"
		fi
	done
}

targets() {
	# name row what(ratio|cairn|rss) op limit unit
	printf 'T\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"large GET >= 0.5 x nginx" get_large ratio ">=" 0.5 "x" \
		"large PUT unique >= 300 MB/s" put_large_unique cairn ">=" 300 "MB/s" \
		"large PUT dedup >= 600 MB/s" put_large_dup cairn ">=" 600 "MB/s" \
		"4 KiB GET >= 0.4 x nginx at 16 conns" get_4k_16 ratio ">=" 0.4 "x" \
		"4 KiB durable PUT >= 3000 ops/s at 16 conns" put_4k_16 cairn ">=" 3000 "ops/s" \
		"ListObjectsV2 page median <= 20 ms" list cairn "<=" 20 "ms" \
		"peak RSS <= 256 MiB (incl. $PAR_COUNT concurrent uploads)" rss rss "<=" 256 "MiB" \
		>>"$RES"
}

mkdir -p "$BASE" "$BUILD" || exit 1
WORK=$(mktemp -d "$BASE/cairn-s3bench.XXXXXX") || exit 1
mkdir -p "$WORK/out" || exit 1
RES=$WORK/results.tsv
: >"$RES"
: >"$WORK/stderr.log"
progress "work dir $WORK ($(stat -f -c %T "$BASE")), reps $REPS"
case $(stat -f -c %T "$BASE") in
tmpfs | ramfs) note "$BASE is tmpfs: disk costs (fsync) are not measured" ;;
esac
if [ ! -x "$LOADGEN" ] || [ ! -x "$CAIRND" ]; then
	echo "s3bench: $LOADGEN or $CAIRND is not built (make $CAIRND $LOADGEN)" >&2
	exit 1
fi
ensure_tools
AK=BENCH$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
SK=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export LOADGEN_ACCESS_KEY=$AK LOADGEN_SECRET_KEY=$SK
CAIRN_URL= NGINX_URL=
# A port taken between free_port and the bind fails the start: try again on another.
for ((try = 0; try < 3; try++)); do
	start_cairnd && { SERVERS+=(cairn); break; }
done
if [ -n "$CAIRND_PID" ]; then
	rss_sampler "$CAIRND_PID" "$WORK/cairnd-rss" &
	SAMPLER_PID=$!
fi
for ((try = 0; try < 3; try++)); do
	start_nginx && { SERVERS+=(nginx); break; }
	[ -n "$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null)" ] || break
done
if [ ${#SERVERS[@]} = 0 ] || [ "${SERVERS[0]}" != cairn ]; then
	echo "s3bench: cairnd did not start; see above" >&2
	exit 1
fi
if ! figure mb 0 cairn mb; then
	echo "s3bench: CreateBucket failed: $(head -n 1 "$WORK/out/mb-cairn-0.err")" >&2
	exit 1
fi
cat >"$WORK/get.lua" <<'EOF'
-- wrk: GET the presigned paths listed in the file given after "--", round robin.
local reqs = {}
local i = 0
function init(args)
	for line in io.lines(args[1]) do
		reqs[#reqs + 1] = wrk.format("GET", line)
	end
	if #reqs == 0 then
		error("no paths in " .. args[1])
	end
	i = math.random(#reqs) - 1
end
function request()
	i = i % #reqs + 1
	return reqs[i]
end
EOF
printf 'I\t%s\t%s\n' loadavg_start "$(cut -d' ' -f1 /proc/loadavg)" reps "$REPS" quick "$QUICK" cores "$(nproc)" fs "$(stat -f -c %T "$BASE")" \
	cairnd "$("$CAIRND" --version 2>&1 | head -n 1)" \
	nginx "$( (nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1) | head -n 1 | sed 's/.*: //')" \
	curl "$(curl-config --version 2>/dev/null || echo '?')" \
	wrk "$(wrk -v 2>&1 | head -n 1 | awk '{print $2}')" >>"$RES"

large_rows
mpu_rows
par_rows
small_rows
list_rows
stop_pid "$SAMPLER_PID" 2 # its file is complete once it has stopped
SAMPLER_PID=
if is_up cairn; then
	printf 'I\tcairnd_vmhwm_kb\t%s\n' "$(vmhwm_kb "$CAIRND_PID")" >>"$RES"
	read -r a f s <"$WORK/cairnd-rss" 2>/dev/null &&
		printf 'I\tcairnd_rss_anon_peak_kb\t%s\nI\tcairnd_rss_file_peak_kb\t%s\nI\tcairnd_rss_shmem_peak_kb\t%s\n' \
			"$a" "$f" "$s" >>"$RES"
else
	note "cairnd exited during the run: $(tail -n 3 "$WORK/cairnd.log" | tr '\n' ' ')"
fi
if is_up nginx; then
	hwm=0
	for p in ${NGINX_PIDS//,/ }; do
		v=$(vmhwm_kb "$p")
		[ "${v:-0}" -gt "$hwm" ] && hwm=$v
	done
	printf 'I\tnginx_vmhwm_kb\t%s\n' "$hwm" >>"$RES"
fi
targets
progress "done; stopping the servers"
stop_pid "$NGINX_PID" 10
NGINX_PID=
stop_pid "$CAIRND_PID" 15
rc=$?
CAIRND_PID=
[ $rc = 0 ] || note "cairnd exited with status $rc on SIGTERM"
printf 'I\tseconds\t%s\nI\tloadavg_end\t%s\n' $((($(date +%s%N) - START_NS) / 1000000000)) \
	"$(cut -d' ' -f1 /proc/loadavg)" >>"$RES"
awk -F'\t' -v mode=table -f bench/s3report.awk "$RES" | tee "$TXT"
awk -F'\t' -v mode=json -f bench/s3report.awk "$RES" >"$JSON" || exit 1
echo "(also in $TXT and $JSON)"
# Missed targets are results; runs that failed (or a server that died) fail the bench.
! grep -q '^F' "$RES"
