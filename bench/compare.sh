#!/usr/bin/env bash
# bench/compare.sh TOOL CORPUSDIR WORKDIR [AVG_CHUNK]
#
# Stores each snapshot CORPUSDIR/v00, v01 … in order, one backup/archive per snapshot, into a fresh
# repository WORKDIR/repo with TOOL, so that dedup across snapshots is what gets measured. Prints
# "name: value unit" lines on stdout:
#   logical_bytes  sum of the sizes of every file of every snapshot
#   stored_bytes   chunk data on disk (cairn: pack bytes; restic, borg: repo/data; casync: store)
#   index_bytes    everything else the tool keeps (cairn: LMDB file; restic, borg: the rest of the
#                  repo; casync: the .caidx files)
#   index_live_bytes  cairn only, with mdb_stat: LMDB pages in use (the file less its free pages)
#   time           wall seconds for all the snapshots (repository creation not included)
#   settings       what the tool ran with
#
# TOOL: cairn (the engine through build/bench/bench_ingest; AVG_CHUNK sets the average chunk size,
# min = avg/4, max = avg*4), cairn-import (the `cairn import` tool), restic, borg, casync.
# Environment: CAIRN_BUILD (default build), CAIRN_BENCH_TIMEOUT (seconds per command, default 300).
# No network, no passwords: local repositories only. Exit status 0, or 1 with a message on stderr.
set -u

TOOL=${1:?usage: compare.sh TOOL CORPUSDIR WORKDIR [AVG_CHUNK]}
CORPUS=${2:?corpus dir}
WORK=${3:?work dir}
AVG=${4:-}
BUILD=${CAIRN_BUILD:-build}
TMO=${CAIRN_BENCH_TIMEOUT:-300}
REPO=$WORK/repo
CHILD=

die() {
	echo "compare.sh $TOOL: $*" >&2
	exit 1
}

# Stops the command that is running (by its pid) when this script is interrupted.
on_signal() {
	[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
	exit 130
}
trap on_signal INT TERM

# Runs a command under a timeout in the background and waits, so that a signal reaches the trap
# at once; its output goes to $WORK/log.
run() {
	timeout "$TMO" "$@" >>"$WORK/log" 2>&1 &
	CHILD=$!
	wait "$CHILD"
	local rc=$?
	CHILD=
	[ $rc -eq 0 ] || { tail -5 "$WORK/log" >&2; die "failed ($rc): $*"; }
}

now_ns() { date +%s%N; }
bytes_of() { du -sb "$@" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
file_bytes() { find "$@" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

versions() {
	local v
	for v in "$CORPUS"/v[0-9]*; do
		[ -d "$v" ] && echo "$v"
	done
}

cairn_engine() {
	local args=() v t0 t1
	[ -n "$AVG" ] && args=(--avg "$AVG")
	[ -x "$BUILD/bench/bench_ingest" ] || die "$BUILD/bench/bench_ingest missing"
	t0=$(now_ns)
	run "$BUILD/bench/bench_ingest" "$REPO" corpus "$CORPUS" "${args[@]}"
	t1=$(now_ns)
	# bench_ingest prints the store's own statistics.
	awk '/^(pack_bytes|index_bytes|chunks|avg_chunk|chunk_avg|chunk_min|chunk_max|zstd_level|ingest_rate):/' \
		"$WORK/log" | sed -e 's/^pack_bytes:/stored_bytes:/'
	echo "time: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') s"
	index_live "$REPO/index"
	awk '/^chunk_avg:/ {a = $2} /^zstd_level:/ {z = $2}
		END {printf "settings: engine via bench_ingest, avg %d KiB (min avg/4, max avg*4), zstd %d\n", a / 1024, z}' \
		"$WORK/log"
}

# Prints index_live_bytes: the LMDB pages in use (file pages less free-list pages), when mdb_stat
# (lmdb-utils) is there. The index_bytes figure is the file's size, which also holds free pages
# that later transactions reuse.
index_live() {
	command -v mdb_stat >/dev/null || return 0
	mdb_stat -ef "$1" 2>/dev/null | awk '
		/Page size:/ {ps = $3}
		/Number of pages used:/ {used = $5}
		/Free pages:/ {free = $3}
		END {if (ps > 0) printf "index_live_bytes: %d B\n", (used - free) * ps}'
}

# Prints "name: value B" for a field of `cairn stats DATADIR --json`.
cairn_stat() {
	grep -o "\"$2\":[0-9]*" "$1" | head -1 | awk -F: -v n="$3" '{print n ": " $2 " B"}'
}

cairn_import() {
	local v t0 t1 cli repo
	cli=$(realpath "$BUILD/cairn")
	repo=$(realpath -m "$REPO")
	[ -x "$cli" ] || die "$cli missing"
	"$cli" import 2>&1 | grep -qi usage || die "cairn import is not available"
	# keys are the paths as given: vNN/NAME (no subshell: the signal trap must see the child)
	cd "$CORPUS" || die "cd $CORPUS"
	t0=$(now_ns)
	for v in $(versions); do
		v=$(basename "$v")
		run "$cli" import "$repo" bench "$v"/*
	done
	t1=$(now_ns)
	run "$cli" stats "$repo" --json
	cairn_stat "$WORK/log" pack_bytes stored_bytes
	cairn_stat "$WORK/log" index_bytes index_bytes
	cairn_stat "$WORK/log" chunks chunks | sed 's/ B$//'
	echo "time: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') s"
	index_live "$REPO/index"
	echo "settings: cairn import (one process per snapshot, keys vNN/NAME), store defaults"
}

restic_run() {
	local v t0 t1
	export RESTIC_PASSWORD=cairn-bench-dummy
	run restic -r "$REPO" --cache-dir "$WORK/cache" init
	t0=$(now_ns)
	for v in $(versions); do
		run restic -r "$REPO" --cache-dir "$WORK/cache" backup -q --host bench "$v"
	done
	t1=$(now_ns)
	local data total
	data=$(bytes_of "$REPO/data")
	total=$(bytes_of "$REPO")
	echo "stored_bytes: $data B"
	echo "index_bytes: $((total - data)) B"
	echo "time: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') s"
	local fmt
	fmt=$(restic -r "$REPO" --cache-dir "$WORK/cache" cat config 2>/dev/null |
		awk -F'[:,]' '/"version"/ {gsub(/ /, "", $2); print $2}')
	echo "settings: restic $(restic version | awk '{print $2}') defaults: repo format v$fmt (v2: zstd compression auto), AES-256-CTR+Poly1305, rabin CDC ~1 MiB avg (512 KiB..8 MiB)"
}

borg_run() {
	local v t0 t1
	export BORG_BASE_DIR=$WORK/borgbase
	export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
	export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
	run borg init --encryption=none "$REPO"
	t0=$(now_ns)
	for v in $(versions); do
		run borg create "$REPO::$(basename "$v")" "$v"
	done
	t1=$(now_ns)
	local data total
	data=$(bytes_of "$REPO/data")
	total=$(bytes_of "$REPO")
	echo "stored_bytes: $data B"
	echo "index_bytes: $((total - data)) B"
	echo "time: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') s"
	echo "settings: borg $(borg --version | awk '{print $2}') defaults: buzhash 2 MiB avg (512 KiB..8 MiB), lz4, --encryption=none"
}

casync_run() {
	local v t0 t1
	mkdir -p "$REPO"
	t0=$(now_ns)
	for v in $(versions); do
		run casync make --store="$REPO/store" "$REPO/$(basename "$v").caidx" "$v"
	done
	t1=$(now_ns)
	echo "stored_bytes: $(bytes_of "$REPO/store") B"
	echo "index_bytes: $(bytes_of "$REPO"/*.caidx) B"
	echo "time: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') s"
	echo "settings: casync defaults: buzhash 64 KiB avg (16..256 KiB), zstd, sha512-256; one .caidx per snapshot"
}

[ -d "$CORPUS" ] || die "no corpus dir $CORPUS"
CORPUS=$(realpath "$CORPUS")
[ -n "$(versions)" ] || die "no snapshots $CORPUS/vNN"
mkdir -p "$WORK" || die "cannot make $WORK"
WORK=$(realpath "$WORK")
REPO=$WORK/repo
[ -e "$REPO" ] && die "$REPO exists (use a fresh work dir)"
: >"$WORK/log"
echo "logical_bytes: $(file_bytes "$CORPUS"/v[0-9]*) B"
echo "snapshots: $(versions | wc -l)"
case "$TOOL" in
cairn) cairn_engine ;;
cairn-import) cairn_import ;;
restic) command -v restic >/dev/null || die "restic not installed"; restic_run ;;
borg) command -v borg >/dev/null || die "borg not installed"; borg_run ;;
casync) command -v casync >/dev/null || die "casync not installed"; casync_run ;;
*) die "unknown tool (cairn, cairn-import, restic, borg, casync)" ;;
esac
