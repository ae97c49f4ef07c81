#!/usr/bin/env bash
# Runs every end-to-end test tests/it/t[0-9][0-9]_* in name order (numbered by layer: t0x the
# tools over the engine, t1x+ the daemon through real S3 clients). Each test is an executable
# that starts what it needs (a real cairnd on a free 127.0.0.1 port, a fresh temp data dir),
# tears it down also on failure, and exits non-zero when anything failed.
# Environment given to each test: CAIRN_BUILD (absolute path of the build dir).
# Closing line: "it: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
export CAIRN_BUILD="$build"
# Client tools the tests drive (aws-cli, s3cmd, rclone, the JS SDK) are installed on demand.
if [ -x "$here/setup.sh" ]; then
	"$here/setup.sh" || { echo "it: setup failed"; echo "it: 0 passed, 1 failed"; exit 1; }
fi
pass=0
fail=0
failed=()
for t in "$here"/t[0-9][0-9]_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	echo "=== $name"
	start=$(date +%s)
	if "$t"; then
		pass=$((pass + 1))
		echo "=== $name ok ($(($(date +%s) - start)) s)"
	else
		fail=$((fail + 1))
		failed+=("$name")
		echo "=== $name FAILED ($(($(date +%s) - start)) s)"
	fi
done
[ "$fail" -gt 0 ] && echo "failed: ${failed[*]}"
echo "it: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
