# Shell side of the end-to-end harness; sourced (not run) by the bash suites t22, t23, t24, t25.
#
#   . "$(dirname "$0")/cairn_it.sh"
#   it_start            # starts cairnd through `python3 cairn_it.py serve`, sets and exports
#                       # CAIRN_ENDPOINT CAIRN_PORT CAIRN_DATA CAIRN_LOG CAIRN_AK CAIRN_SK
#                       # CAIRN_REGION, and IT_TMP (a scratch dir removed at exit)
#   step "what"         # prints a progress line; the ERR trap names the failing step
#   it_fail "why"       # fails the suite with a message
#
# At exit (success, failure or signal) the EXIT trap prints cairnd's log tail when the suite
# failed, stops the launcher by PID (it stops cairnd and removes the data dir) and removes IT_TMP.
# A cairnd that crashed, or exited non-zero on SIGTERM, fails the suite too.

set -eEuo pipefail
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_TMP=$(mktemp -d /tmp/cairn-it-sh.XXXXXX)
IT_SERVE_PID=
IT_STEP="(start)"
export IT_DIR IT_TMP

step() {
	IT_STEP="$*"
	echo "--- $*"
}

it_fail() {
	echo "FAIL: $IT_STEP: $*" >&2
	exit 1
}

it_on_err() {
	echo "FAIL: $IT_STEP: line $1: $2 (exit $3)" >&2
}

it_cleanup() {
	local rc=$?
	trap - EXIT ERR
	set +e
	if [ -n "$IT_SERVE_PID" ]; then
		if [ "$rc" != 0 ] && [ -n "${CAIRN_LOG:-}" ] && [ -f "$CAIRN_LOG" ]; then
			echo "--- cairnd log tail:" >&2
			tail -n 40 "$CAIRN_LOG" >&2
		fi
		kill -TERM "$IT_SERVE_PID" 2>/dev/null
		if ! wait "$IT_SERVE_PID"; then
			echo "FAIL: cairnd did not stop cleanly (see above)" >&2
			rc=1
		fi
	fi
	rm -rf "$IT_TMP"
	exit "$rc"
}

trap 'it_on_err $LINENO "$BASH_COMMAND" $?' ERR
trap it_cleanup EXIT
trap 'exit 130' INT TERM

it_start() {
	local envf="$IT_TMP/server.env"
	python3 "$IT_DIR/cairn_it.py" serve "$envf" &
	IT_SERVE_PID=$!
	for _ in $(seq 1 600); do
		[ -f "$envf" ] && break
		if ! kill -0 "$IT_SERVE_PID" 2>/dev/null; then
			wait "$IT_SERVE_PID" || true
			IT_SERVE_PID=
			it_fail "cairnd did not start"
		fi
		sleep 0.1
	done
	[ -f "$envf" ] || it_fail "cairnd not ready after 60 s"
	# shellcheck disable=SC1090
	. "$envf"
	export CAIRN_ENDPOINT CAIRN_PORT CAIRN_DATA CAIRN_LOG CAIRN_AK CAIRN_SK CAIRN_REGION
	echo "cairnd at $CAIRN_ENDPOINT (data $CAIRN_DATA)"
}

# Adds a user beside the running daemon; sets USER_AK and USER_SK.
it_add_user() {
	local out
	out=$("${CAIRN_BUILD:-$IT_DIR/../../build}/cairn" user add "$CAIRN_DATA" "$1")
	USER_AK=$(printf '%s\n' "$out" | sed -n 's/^access_key_id: *//p')
	USER_SK=$(printf '%s\n' "$out" | sed -n 's/^secret_access_key: *//p')
	if [ -z "$USER_AK" ] || [ -z "$USER_SK" ]; then
		it_fail "cairn user add printed: $out"
	fi
}

# Writes a small tree of test files under $1: nested dirs, an empty file, names with spaces,
# binary content.
it_make_tree() {
	local d=$1
	mkdir -p "$d/sub/deeper" "$d/with space"
	printf 'hello\n' >"$d/a.txt"
	: >"$d/empty"
	head -c 70000 /dev/urandom >"$d/sub/random.bin"
	seq 1 20000 >"$d/sub/deeper/numbers.txt"
	printf 'spaced\n' >"$d/with space/file name.txt"
	printf 'plus\n' >"$d/sub/a+b=c.txt"
}
