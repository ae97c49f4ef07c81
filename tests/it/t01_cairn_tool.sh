#!/usr/bin/env bash
# t01: the `cairn` tool over a real data dir: import, cat (byte-exact), stats, fsck (clean, then
# a flipped pack byte), bad arguments and missing data dirs (exit status 2, one line, nothing
# created), the progress line on a terminal, the data dir lock (a second import, gc and fsck
# --repair are refused with one line while one runs; cat, stats, fsck, uploads list and user
# management work beside it), users.
set -u
C="$CAIRN_BUILD/cairn"
T=$(mktemp -d /tmp/cairn-t01.XXXXXX)
BG=
cleanup() {
	exec 3>&- 2>/dev/null
	if [ -n "$BG" ]; then
		kill "$BG" 2>/dev/null
		wait "$BG" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
# expect_rc WANT CMD...: runs CMD with stdout in $T/out and stderr in $T/err.
expect_rc() {
	local want=$1 rc
	shift
	timeout 60 "$@" >"$T/out" 2>"$T/err" 3>&-
	rc=$?
	[ "$rc" = "$want" ] || fail "$*: exit $rc, wanted $want; stderr: $(cat "$T/err")"
}
one_line_err() {
	[ "$(wc -l <"$T/err")" = 1 ] || fail "wanted one line on stderr, got: $(cat "$T/err")"
	grep -q "$1" "$T/err" || fail "stderr lacks '$1': $(cat "$T/err")"
}

cd "$T" || exit 1
D="$T/data"
echo "--- import"
head -c 3000000 /dev/urandom >f1.bin
{ printf 'a few bytes in front'; cat f1.bin; } >f2.bin
: >empty.txt
seq 1 20000 >numbers.txt
expect_rc 0 "$C" import "$D" photos f1.bin f2.bin empty.txt numbers.txt
[ "$(wc -l <"$T/out")" = 4 ] || fail "import printed: $(cat "$T/out")"
[ -s "$T/err" ] && fail "import wrote to stderr (not a terminal): $(cat "$T/err")"
for f in f1.bin f2.bin empty.txt numbers.txt; do
	size=$(stat -c %s "$f")
	md5=$(md5sum "$f" | cut -d' ' -f1)
	grep -qx "stored $f $size \"$md5\"" "$T/out" || fail "no line 'stored $f $size \"$md5\"'"
done

echo "--- cat"
for f in f1.bin f2.bin empty.txt numbers.txt; do
	"$C" cat "$D" photos "$f" >"$T/got" || fail "cat $f"
	cmp -s "$T/got" "$f" || fail "cat $f: bytes differ"
done
expect_rc 1 "$C" cat "$D" photos nope.bin
one_line_err "not found"
expect_rc 1 "$C" cat "$D" nobucket f1.bin

echo "--- stats"
expect_rc 0 "$C" stats "$D"
grep -q "^objects  *4$" "$T/out" || fail "stats: $(cat "$T/out")"
expect_rc 0 "$C" stats "$D" --json
python3 - "$T/out" <<'PY' || fail "stats --json: $(cat "$T/out")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["objects"] == 4 and s["buckets"] == 1, s
assert s["logical_bytes"] == 3000000 + 3000020 + 0 + 108894, s
assert s["dedup_ratio"] > 1.7, s          # f2 is f1 shifted: most chunks shared
assert s["raw_bytes"] < 3300000, s
assert s["pack_bytes"] == s["stored_bytes"] + s["dead_bytes"], s
assert s["chunk_refs"] >= s["chunks"] > 0 and s["packs"] >= 1 and s["index_bytes"] > 0, s
PY

echo "--- fsck"
expect_rc 0 "$C" fsck "$D"
grep -q "^fsck: 4 objects, .* 0 problems$" "$T/out" || fail "fsck: $(cat "$T/out")"

echo "--- bad arguments"
expect_rc 2 "$C"
one_line_err "usage: cairn COMMAND"
expect_rc 0 "$C" --help
grep -q "usage: cairn" "$T/out" || fail "--help"
expect_rc 2 "$C" frobnicate
one_line_err "unknown command"
expect_rc 2 "$C" import "$D" photos
expect_rc 2 "$C" cat "$D" photos
expect_rc 2 "$C" cat "$T/missing" photos f1.bin
one_line_err "no such data dir"
expect_rc 2 "$C" stats "$T/missing"
one_line_err "no such data dir"
expect_rc 2 "$C" fsck "$T/missing"
expect_rc 2 "$C" stats "$D" --yaml
expect_rc 2 "$C" user add "$T/missing" bob
expect_rc 2 "$C" user add "$D" "bad name"
expect_rc 2 "$C" user frob "$D"
expect_rc 1 "$C" import "$D" photos does-not-exist.bin
one_line_err "does-not-exist.bin"
expect_rc 2 "$C" import "$D" Bad_Bucket f1.bin
one_line_err "Bad_Bucket: not a valid bucket name"
expect_rc 2 "$C" gc "$T/missing"
one_line_err "no such data dir"
expect_rc 2 "$C" fsck "$T/missing" --repair
one_line_err "no such data dir"
expect_rc 2 "$C" uploads list "$T/missing"
one_line_err "no such data dir"
[ -e "$T/missing" ] && fail "a command created the missing data dir"

echo "--- progress line on a terminal"
# script(1) gives the import a pseudo-terminal: the progress line goes to it, then is erased.
script -qec "'$C' import '$T/tty-data' progress f1.bin" /dev/null </dev/null >"$T/tty" 2>&1 ||
	fail "import under script: $(cat "$T/tty")"
grep -q "importing f1.bin: [0-9.]* MiB" "$T/tty" || fail "no progress line: $(cat -A "$T/tty")"
grep -q "stored f1.bin 3000000 " "$T/tty" || fail "import under script: $(cat "$T/tty")"

echo "--- lock"
mkfifo fifo
exec 3<>fifo # a writer stays attached: the import blocks reading, holding the lock
"$C" import "$D" photos fifo >"$T/bg.out" 2>"$T/bg.err" 3>&- &
BG=$!
for _ in $(seq 100); do
	ls -l "/proc/$BG/fd" 2>/dev/null | grep -q "$T/fifo" && break
	sleep 0.05
done
ls -l "/proc/$BG/fd" 2>/dev/null | grep -q "$T/fifo" || fail "import never opened the fifo"
expect_rc 2 "$C" import "$D" photos numbers.txt
one_line_err "$D is in use by another process (lock held)"
"$C" cat "$D" photos f1.bin | cmp -s - f1.bin || fail "cat beside a running import"
expect_rc 0 "$C" stats "$D"
expect_rc 0 "$C" fsck "$D"
expect_rc 0 "$C" uploads list "$D"
expect_rc 2 "$C" gc "$D"
one_line_err "$D is in use by another process (lock held): gc"
expect_rc 2 "$C" fsck "$D" --repair
one_line_err "$D is in use by another process (lock held): fsck --repair"
expect_rc 0 "$C" user add "$D" alice
grep -Eq '^access_key_id: [A-Z0-9]{20}$' "$T/out" || fail "user add: $(cat "$T/out")"
grep -Eq '^secret_access_key: [A-Za-z0-9+/]{40}$' "$T/out" || fail "user add: $(cat "$T/out")"
ak=$(sed -n 's/^access_key_id: //p' "$T/out")
sk=$(sed -n 's/^secret_access_key: //p' "$T/out")
printf 'streamed through a fifo' >&3
exec 3>&-
wait "$BG" || fail "the fifo import failed: $(cat "$T/bg.err")"
BG=
grep -qx 'stored fifo 23 "[0-9a-f]*"' "$T/bg.out" || fail "fifo import: $(cat "$T/bg.out")"
[ "$("$C" cat "$D" photos fifo)" = "streamed through a fifo" ] || fail "cat fifo"

echo "--- users"
expect_rc 0 "$C" user list "$D"
grep -qx "alice $ak" "$T/out" || fail "user list: $(cat "$T/out")"
grep -q "$sk" "$T/out" && fail "user list shows a secret"
expect_rc 1 "$C" user add "$D" alice
one_line_err "already exists"
expect_rc 0 "$C" user add "$D" bob
expect_rc 0 "$C" user remove "$D" alice
expect_rc 0 "$C" user list "$D"
[ "$(cut -d' ' -f1 "$T/out")" = bob ] || fail "after remove: $(cat "$T/out")"
expect_rc 1 "$C" user remove "$D" alice

echo "--- a flipped pack byte"
pack=$(ls "$D"/packs/pack-* | head -n 1)
printf '\x5a' | dd of="$pack" bs=1 seek=100000 conv=notrunc status=none
expect_rc 1 "$C" fsck "$D"
grep -q "^problem: chunk " "$T/out" || fail "fsck output: $(cat "$T/out")"
grep -q "^fsck: .* 1 problems$" "$T/out" || fail "fsck summary: $(cat "$T/out")"
expect_rc 1 "$C" cat "$D" photos f1.bin
expect_rc 0 "$C" cat "$D" photos numbers.txt
cmp -s "$T/out" numbers.txt || fail "numbers.txt after the flip"
echo "t01 ok"
