#!/usr/bin/env bash
# t10_smoke: a quick end-to-end check of cairnd. Starts $CAIRN_BUILD/cairnd on a free loopback
# port with a temp data dir and root credentials from the environment, then drives it with
# aws-cli (mb, cp up and down, ls, rm, rb) and curl --aws-sigv4 (put, get, a bad signature),
# comparing bytes. cairnd is stopped by PID with SIGTERM (and must exit 0) in a trap.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${CAIRN_BUILD:-$here/../../build}
tmp=$(mktemp -d /tmp/cairn-t10.XXXXXX)
pid=""

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "t10_smoke: FAIL: $*" >&2
	echo "--- cairnd log:" >&2
	tail -n 30 "$tmp/cairnd.log" >&2 || true
	exit 1
}

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
export CAIRN_ROOT_ACCESS_KEY="AKT10SMOKE$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
export CAIRN_ROOT_SECRET_KEY="$(head -c 30 /dev/urandom | base64 | tr -d '\n')"

"$build/cairnd" --data "$tmp/data" --listen "127.0.0.1:$port" 2>"$tmp/cairnd.log" &
pid=$!
for _ in $(seq 1 100); do
	curl -fsS "$endpoint/_cairn/health" >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || fail "cairnd exited during start"
	sleep 0.1
done
[ "$(curl -fsS "$endpoint/_cairn/health")" = "ok" ] || fail "health check"

# aws-cli with nothing from the user's own configuration.
export AWS_ACCESS_KEY_ID="$CAIRN_ROOT_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$CAIRN_ROOT_SECRET_KEY"
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE="$tmp/nonexistent" AWS_SHARED_CREDENTIALS_FILE="$tmp/nonexistent"
aws() { command aws --endpoint-url "$endpoint" "$@"; }

head -c 3000000 /dev/urandom >"$tmp/big"
printf 'hello, cairn\n' >"$tmp/small"

aws s3 mb s3://smoke >/dev/null || fail "aws s3 mb"
aws s3 cp "$tmp/big" s3://smoke/dir/big.bin >/dev/null || fail "aws s3 cp up"
aws s3 cp s3://smoke/dir/big.bin "$tmp/big.down" >/dev/null || fail "aws s3 cp down"
cmp -s "$tmp/big" "$tmp/big.down" || fail "downloaded bytes differ"
aws s3 ls s3://smoke/dir/ | grep -q ' 3000000 big.bin$' || fail "aws s3 ls"

sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$CAIRN_ROOT_ACCESS_KEY:$CAIRN_ROOT_SECRET_KEY")
code=$(curl -sS -o /dev/null -w '%{http_code}' "${sig[@]}" -T "$tmp/small" "$endpoint/smoke/small.txt")
[ "$code" = 200 ] || fail "curl put: $code"
curl -fsS "${sig[@]}" -o "$tmp/small.down" "$endpoint/smoke/small.txt" || fail "curl get"
cmp -s "$tmp/small" "$tmp/small.down" || fail "curl bytes differ"
code=$(curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
	--user "$CAIRN_ROOT_ACCESS_KEY:wrong" "$endpoint/smoke/small.txt")
[ "$code" = 403 ] || fail "bad signature gave $code, not 403"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$endpoint/smoke/small.txt")
[ "$code" = 403 ] || fail "anonymous get gave $code, not 403"

aws s3 rm s3://smoke/dir/big.bin >/dev/null || fail "aws s3 rm"
aws s3 rm s3://smoke/small.txt >/dev/null || fail "aws s3 rm small"
[ -z "$(aws s3 ls s3://smoke/)" ] || fail "bucket not empty after rm"
aws s3 rb s3://smoke >/dev/null || fail "aws s3 rb"
aws s3 ls >/dev/null || fail "aws s3 ls (ListBuckets)"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || fail "cairnd exited with $rc after SIGTERM"
grep -q 'shutting down' "$tmp/cairnd.log" || fail "no shutdown line in the log"
# one access-log line per request, naming the resource as S3 does
grep -q ' GET / ListBuckets 200 ' "$tmp/cairnd.log" || fail "no access-log line for ListBuckets"
grep -q ' PUT /smoke/ CreateBucket 200 ' "$tmp/cairnd.log" || fail "no access-log line for CreateBucket"
grep -q ' PUT /smoke/dir/big.bin PutObject 200 ' "$tmp/cairnd.log" || fail "no access-log line for PutObject"
grep -q ' GET /smoke/small.txt GetObject 403 ' "$tmp/cairnd.log" || fail "no access-log line for the refused GET"
echo "t10_smoke: ok"
