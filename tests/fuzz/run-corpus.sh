#!/usr/bin/env bash
# Runs libFuzzer targets (build/fuzz/fuzz_<name>) against their seed corpora in
# tests/fuzz/corpus/<name>/.
#
#   run-corpus.sh BIN...                  regression: each target runs every file of its corpus
#                                         once; prints "fuzz: N passed, N failed" (targets)
#   run-corpus.sh -t SECS -w DIR BIN...   fuzzing: each target in turn for SECS seconds (one
#                                         process, one job) on DIR/corpus/<name>, a copy of its
#                                         seed corpus; new inputs and crash artifacts stay in DIR
# Exits non-zero when a target crashes, fails an invariant or has no corpus.
set -u
here=$(cd "$(dirname "$0")" && pwd)
secs=""
work=""
while getopts "t:w:" opt; do
	case $opt in
	t) secs=$OPTARG ;;
	w) work=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ -n "$secs" ] && [ -z "$work" ]; then
	echo "run-corpus.sh: -t needs -w DIR" >&2
	exit 2
fi

pass=0
fail=0
log=""
trap 'rm -f "$log"' EXIT
for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	seeds="$here/corpus/$name"
	log=$(mktemp)
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		echo "FAILED: $bin: no seed corpus in $seeds"
		fail=$((fail + 1))
		rm -f "$log"
		continue
	fi
	if [ -z "$secs" ]; then
		# Each corpus file is executed once; no mutation.
		"$bin" -rss_limit_mb=2048 -timeout=10 "$seeds"/* >"$log" 2>&1
		rc=$?
		n=$(grep -c '^Executed ' "$log")
		summary="$n inputs"
	else
		mkdir -p "$work/corpus/$name" "$work/artifacts"
		cp -n "$seeds"/* "$work/corpus/$name"/
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$work/artifacts/$name-" "$work/corpus/$name" >"$log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		size=$(ls "$work/corpus/$name" | wc -l)
		summary="${secs}s, ${execs:-?} execs, ${speed:-?}/s, $cov, corpus $size"
	fi
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		echo "fuzz_$name: ok ($summary)"
	else
		fail=$((fail + 1))
		grep '^Running: ' "$log" | tail -1 # the input that failed (regression mode)
		grep -E "ERROR|SUMMARY|runtime error|invariant failed|Test unit written|^    #[0-9]" \
			"$log" | head -40
		echo "FAILED: $bin (exit $rc, $summary)"
	fi
	rm -f "$log"
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
