#!/usr/bin/env bash
# bench/run.sh BUILD — what `make bench` runs after building BUILD/cairnd, BUILD/cairn and
# BUILD/bench/*. See bench/README.md for what each row means.
#
# Steps: hash and pack throughput (bench_hash, bench_pack), engine ingest of unique and duplicate
# data (bench_ingest, in memory), `cairn import` of a file (when the tool has it), generated
# ML-like corpora (gen_corpus) stored by cairn, restic, borg and casync (compare.sh), and a chunk
# size sweep. Prints one table on stdout (progress goes to stderr), writes BUILD/bench.json and
# BUILD/bench.txt.
#
# Environment:
#   CAIRN_BENCH_DIR    where the work dir goes (default /var/tmp; must be a real disk, not tmpfs)
#   CAIRN_BENCH_QUICK  1 = small sizes, for a smoke run (numbers are not comparable)
#   CAIRN_BENCH_KEEP   1 = keep the work dir (corpora, repositories, logs) for inspection
#   CAIRN_BENCH_NO_INSTALL 1 = never apt-get install restic/borgbackup/casync/lmdb-utils
# Every process this script starts is stopped when it ends, also on failure or interruption.
set -u

BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
BASE=${CAIRN_BENCH_DIR:-/var/tmp}
QUICK=${CAIRN_BENCH_QUICK:-0}
KEEP=${CAIRN_BENCH_KEEP:-0}
JSON=$BUILD/bench.json
TXT=$BUILD/bench.txt
CHILD=
START_NS=$(date +%s%N)
LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)

if [ "$QUICK" = 1 ]; then
	INGEST_SIZE=$((128 << 20))
	INGEST_REPS=1
	IMPORT_SIZE=$((128 << 20))
	CKPT_ARGS=(--versions 3 --scale 2)
	LOGS_ARGS=(--versions 3 --scale 1)
	SHARD_ARGS=(--versions 2 --scale 2)
else
	INGEST_SIZE=$((1 << 30))
	INGEST_REPS=3
	IMPORT_SIZE=$((512 << 20))
	CKPT_ARGS=(--versions 8 --scale 4)
	LOGS_ARGS=(--versions 8 --scale 2)
	SHARD_ARGS=(--versions 4 --scale 8)
fi
SWEEP_AVGS=(16384 32768 65536)
TOOLS=(cairn cairn-import restic borg casync)
CORPORA=(checkpoints logs shards)
SWEEP_CORPORA=(checkpoints shards)

mkdir -p "$BASE" "$BUILD" || exit 1
WORK=$(mktemp -d "$BASE/cairn-bench.XXXXXX") || exit 1
RES=$WORK/results.tsv
: >"$RES"

cleanup() {
	if [ -n "$CHILD" ]; then
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	if [ "$KEEP" = 1 ]; then
		echo "bench: work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

progress() {
	local s=$((($(date +%s%N) - START_NS) / 1000000000))
	printf '[%02d:%02d] %s\n' $((s / 60)) $((s % 60)) "$*" >&2
}
note() {
	progress "note: $*"
	printf 'N\t%s\n' "$*" >>"$RES"
}

# Runs a command in the background (so a signal reaches the traps at once) under a timeout, with
# stdout to $1 and stderr appended to $WORK/stderr.log. Returns its exit status.
run_to() {
	local out=$1
	shift
	timeout "${CAIRN_BENCH_TIMEOUT:-300}" "$@" >"$out" 2>>"$WORK/stderr.log" &
	CHILD=$!
	wait "$CHILD"
	local rc=$?
	CHILD=
	return $rc
}

# Prints the value of "key: value unit" in file.
kv() { awk -v k="$2:" '$1 == k {print $2; exit}' "$1"; }

# Adds every "name: number unit" line of file as a metric from source.
add_metrics() {
	awk -v src="$2" -F'[: ]+' 'NF >= 2 && $2 ~ /^[0-9.eE+-]+$/ {
		printf "M\t%s\t%s\t%s\t%s\n", $1, $2, (NF >= 3 ? $3 : ""), src }' "$1" >>"$RES"
}

fs_type() { stat -f -c %T "$1" 2>/dev/null || echo unknown; }

ensure_tools() {
	local missing=() t pkg
	for t in restic borg casync mdb_stat; do
		command -v "$t" >/dev/null && continue
		pkg=$t
		[ "$t" = borg ] && pkg=borgbackup
		[ "$t" = mdb_stat ] && pkg=lmdb-utils
		missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return
	if [ "${CAIRN_BENCH_NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ] ||
		! command -v apt-get >/dev/null; then
		note "not installed (and not installing): ${missing[*]}; their rows are skipped"
		return
	fi
	progress "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq "${missing[@]}" >"$WORK/apt.log" 2>&1; then
		apt-get update -qq >>"$WORK/apt.log" 2>&1
		apt-get install -y -qq "${missing[@]}" >>"$WORK/apt.log" 2>&1 ||
			note "apt-get install ${missing[*]} failed; rows of missing tools are skipped"
	fi
}

micro_benches() {
	local b
	for b in bench_hash bench_pack; do
		if [ ! -x "$BUILD/bench/$b" ]; then
			note "$BUILD/bench/$b not built; its rows are missing"
			continue
		fi
		progress "$b"
		if run_to "$WORK/$b.out" "$BUILD/bench/$b" --json "$WORK/$b.json"; then
			add_metrics "$WORK/$b.out" "$b"
		else
			note "$b failed (see stderr.log)"
		fi
	done
}

# The disk alone writing what a durable ingest of unique data must: INGEST_SIZE bytes written to a
# file and fdatasync'ed, INGEST_REPS times (the baseline of ingest_unique on a shared disk).
disk_alone() {
	local i v vals=()
	[ -x "$BUILD/bench/loadgen" ] || return
	for ((i = 1; i <= INGEST_REPS; i++)); do
		sync -f "$WORK" 2>/dev/null
		run_to "$WORK/disk.out" "$BUILD/bench/loadgen" disk --out "$WORK/disk.bin" \
			--size "$INGEST_SIZE" --seed "$i" --start "$i" || { rm -f "$WORK/disk.bin"; return; }
		rm -f "$WORK/disk.bin"
		vals+=("$(kv "$WORK/disk.out" MB_per_s)")
	done
	v=$(printf '%s\n' "${vals[@]}" | sort -g | awk '{a[NR] = $1} END {
		printf "%s\t%s\t%s", a[int((NR + 1) / 2)], a[1], a[NR]}')
	printf 'M\tdisk_alone\t%s\tMB/s\tloadgen disk: the same size written + fdatasync, median of %s (%s..%s)\n' \
		"$(cut -f1 <<<"$v")" "$INGEST_REPS" "$(cut -f2 <<<"$v")" "$(cut -f3 <<<"$v")" >>"$RES"
}

ingest_engine() {
	local out=$WORK/ingest.out m
	disk_alone
	if [ ! -x "$BUILD/bench/bench_ingest" ]; then
		note "$BUILD/bench/bench_ingest not built: engine rows are missing"
		return
	fi
	progress "engine ingest: $((INGEST_SIZE >> 20)) MiB unique, then the same bytes again; x$INGEST_REPS"
	if run_to "$out" "$BUILD/bench/bench_ingest" "$WORK/ingest-data" stream \
		--size "$INGEST_SIZE" --reps "$INGEST_REPS"; then
		for m in ingest_unique ingest_dup; do
			printf 'M\t%s\t%s\tMB/s\tbench_ingest, median of %s (%s..%s)\n' "$m" \
				"$(kv "$out" $m)" "$INGEST_REPS" "$(kv "$out" ${m}_worst)" \
				"$(kv "$out" ${m}_best)" >>"$RES"
		done
		DEFAULT_AVG=$(kv "$out" chunk_avg)
		DEFAULT_MIN=$(kv "$out" chunk_min)
		DEFAULT_MAX=$(kv "$out" chunk_max)
		DEFAULT_ZSTD=$(kv "$out" zstd_level)
	else
		note "bench_ingest stream failed (see stderr.log)"
	fi
	rm -rf "$WORK/ingest-data"
}

# Times one `cairn import` of file into datadir; prints MB/s.
import_once() {
	local t0 t1
	t0=$(date +%s%N)
	run_to "$WORK/import.out" "$BUILD/cairn" import "$1" bench "$2" || return 1
	t1=$(date +%s%N)
	awk -v n="$IMPORT_SIZE" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", n / 1e6 / ((b - a) / 1e9)}'
}

has_import() { "$BUILD/cairn" import 2>&1 | grep -qi usage; }

ingest_import() {
	local u d
	if ! has_import; then
		note "cairn import not available in $BUILD/cairn: its rows are skipped"
		return
	fi
	progress "cairn import: $((IMPORT_SIZE >> 20)) MiB file, twice"
	run_to /dev/null "$BUILD/bench/gen_corpus" random "$WORK/rand" --size "$IMPORT_SIZE" ||
		{ note "gen_corpus random failed"; return; }
	if u=$(import_once "$WORK/import-data" "$WORK/rand/random.bin") &&
		d=$(import_once "$WORK/import-data" "$WORK/rand/random.bin"); then
		printf 'M\timport_unique\t%s\tMB/s\tcairn import\n' "$u" >>"$RES"
		printf 'M\timport_dup\t%s\tMB/s\tcairn import\n' "$d" >>"$RES"
	else
		note "cairn import failed (see stderr.log)"
	fi
	rm -rf "$WORK/rand" "$WORK/import-data"
}

gen_corpora() {
	local c args
	mkdir -p "$WORK/corpus" || exit 1
	for c in "${CORPORA[@]}"; do
		case $c in
		checkpoints) args=("${CKPT_ARGS[@]}") ;;
		logs) args=("${LOGS_ARGS[@]}") ;;
		shards) args=("${SHARD_ARGS[@]}") ;;
		esac
		progress "generating corpus $c (${args[*]})"
		run_to /dev/null "$BUILD/bench/gen_corpus" "$c" "$WORK/corpus/$c" "${args[@]}" ||
			{ echo "bench: gen_corpus $c failed" >&2; exit 1; }
	done
}

# Runs compare.sh tool corpus [avg]; appends a D (dedup) or S (sweep) row.
compare_one() {
	local kind=$1 tool=$2 corpus=$3 avg=${4:-} dir out
	dir=$WORK/cmp-$tool-$corpus-${avg:-default}
	out=$dir.out
	if ! CAIRN_BUILD=$BUILD run_to "$out" bench/compare.sh "$tool" "$WORK/corpus/$corpus" \
		"$dir" $avg; then
		note "$tool on $corpus${avg:+ (avg $avg)} failed: $(tail -1 "$WORK/stderr.log")"
		rm -rf "$dir"
		return
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$corpus" \
		"$([ "$kind" = S ] && kv "$out" chunk_avg || echo "$tool")" \
		"$(kv "$out" logical_bytes)" "$(kv "$out" stored_bytes)" "$(kv "$out" index_bytes)" \
		"$(kv "$out" time)" "$(kv "$out" chunks)" \
		"$(sed -n 's/^settings: //p' "$out")" "$(kv "$out" index_live_bytes)" >>"$RES"
	rm -rf "$dir"
}

dedup() {
	local c t
	for c in "${CORPORA[@]}"; do
		for t in "${TOOLS[@]}"; do
			if [ "$t" = cairn-import ] && ! has_import; then
				continue
			fi
			if [ "${t#cairn}" = "$t" ] && ! command -v "$t" >/dev/null; then
				note "$t not installed: skipped on $c"
				continue
			fi
			progress "dedup: $t on $c"
			compare_one D "$t" "$c"
		done
	done
}

# True when the store's default chunking is avg with min avg/4 and max avg*4 (then the dedup run
# of cairn on a corpus is that point of the sweep and is not run twice).
is_default_chunking() {
	[ "$1" = "$DEFAULT_AVG" ] && [ "$DEFAULT_MIN" = $(($1 / 4)) ] &&
		[ "$DEFAULT_MAX" = $(($1 * 4)) ]
}

sweep() {
	local c a row
	for c in "${SWEEP_CORPORA[@]}"; do
		for a in "${SWEEP_AVGS[@]}"; do
			if is_default_chunking "$a"; then
				row=$(awk -F'\t' -v c="$c" -v a="$a" 'BEGIN {OFS = "\t"}
					$1 == "D" && $2 == c && $3 == "cairn" {$1 = "S"; $3 = a; print}' "$RES")
				[ -n "$row" ] && { echo "$row" >>"$RES"; continue; }
			fi
			progress "sweep: cairn on $c, avg $((a / 1024)) KiB"
			compare_one S cairn "$c" "$a"
		done
	done
}

progress "work dir $WORK ($(fs_type "$BASE"))"
case $(fs_type "$BASE") in
tmpfs | ramfs) note "$BASE is $(fs_type "$BASE"): disk costs (fdatasync) are not measured" ;;
esac
DEFAULT_AVG=
DEFAULT_MIN=
DEFAULT_MAX=
DEFAULT_ZSTD=
ensure_tools
micro_benches
ingest_engine
ingest_import
gen_corpora
dedup
sweep
progress "done"
printf 'I\tdefault_avg\t%s\nI\tzstd_level\t%s\nI\tquick\t%s\nI\tfs\t%s\nI\tcores\t%s\nI\tseconds\t%s\n' \
	"${DEFAULT_AVG:-0}" "${DEFAULT_ZSTD:-3}" "$QUICK" "$(fs_type "$BASE")" "$(nproc)" \
	$((($(date +%s%N) - START_NS) / 1000000000)) >>"$RES"
# The 1-minute load average before the run and after it (the bench itself keeps one or two cores
# busy): other work on the machine makes the throughput rows meaningless; the byte counts are not
# affected.
printf 'I\tload_start\t%s\nI\tload_end\t%s\n' "$LOAD_START" \
	"$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)" >>"$RES"
awk -F'\t' -f bench/targets.awk "$RES" >>"$RES"
awk -F'\t' -f bench/report.awk "$RES" | tee "$TXT"
awk -F'\t' -f bench/json.awk "$RES" >"$JSON"
echo "(also in $TXT and $JSON)"

# S3 over HTTP, cairnd against nginx in the same run: its own table on stdout,
# BUILD/bench-s3.txt and BUILD/bench-s3.json (see bench/s3bench.sh).
echo
bench/s3bench.sh "$BUILD" || { echo "bench: bench/s3bench.sh failed" >&2; exit 1; }
