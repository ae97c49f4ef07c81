#!/usr/bin/env bash
# Runs every end-to-end test tests/it/t[0-9][0-9]_* (numbered by layer: t0x the tools over the
# engine, t1x+ the daemon through real S3 clients). Each test is an executable that starts what
# it needs (a real cairnd on a free 127.0.0.1 port, a fresh temp data dir), tears it down also on
# failure, and exits non-zero when anything failed. Tests share nothing, so CAIRN_IT_JOBS of them
# (default 3) run at once; each one's output is printed whole when it ends.
# Environment given to each test: CAIRN_BUILD (absolute path of the build dir).
# Closing line: "it: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
jobs=${CAIRN_IT_JOBS:-3}
export CAIRN_BUILD="$build"
# Client tools the tests drive (aws-cli, s3cmd, rclone, the JS SDK) are installed on demand.
if [ -x "$here/setup.sh" ]; then
	"$here/setup.sh" || { echo "it: setup failed"; echo "it: 0 passed, 1 failed"; exit 1; }
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs one test into its log and records its status and duration.
run_one() {
	local t=$1 name start rc
	name=$(basename "$t")
	start=$(date +%s)
	"$t" >"$logs/$name.log" 2>&1
	rc=$?
	echo "$rc $(($(date +%s) - start))" >"$logs/$name.rc"
}

tests=()
for t in "$here"/t[0-9][0-9]_*; do
	[ -x "$t" ] && tests+=("$t")
done
running=0
for t in "${tests[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$t" &
	running=$((running + 1))
done
wait

pass=0
fail=0
failed=()
for t in "${tests[@]}"; do
	name=$(basename "$t")
	read -r rc secs <"$logs/$name.rc"
	echo "=== $name"
	cat "$logs/$name.log"
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		echo "=== $name ok ($secs s)"
	else
		fail=$((fail + 1))
		failed+=("$name")
		echo "=== $name FAILED (exit $rc, $secs s)"
	fi
done
[ "$fail" -gt 0 ] && echo "failed: ${failed[*]}"
echo "it: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
