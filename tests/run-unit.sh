#!/usr/bin/env bash
# Runs every cmocka unit-test binary given (cmocka reports on stderr, hence 2>&1) and prints one
# closing line "unit: N passed, N failed" counting binaries. Exits non-zero if any failed.
set -u
pass=0
fail=0
for bin in "$@"; do
	if "$bin" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAILED: $bin"
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
