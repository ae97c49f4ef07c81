#!/usr/bin/env bash
# t02: crash safety of the write path. Repeatedly starts `cairn import` of several files, kills
# it with SIGKILL at a random moment, and checks that the data dir is consistent (`cairn fsck`
# clean) and that every object whose "stored KEY ..." line was printed reads back byte-exact.
# One key is overwritten every round with alternating content: it must read back as the version
# the round's printed line names or, without a line (killed between commit and print), as that
# version or the one before. Bounded: ROUNDS rounds of a few tens of MiB.
set -u
C="$CAIRN_BUILD/cairn"
ROUNDS=${ROUNDS:-20}
T=$(mktemp -d /tmp/cairn-t02.XXXXXX)
BG=
cleanup() {
	if [ -n "$BG" ]; then
		kill -9 -- "-$BG" 2>/dev/null || kill -9 "$BG" 2>/dev/null
		wait "$BG" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: round ${round:-0}: $*" >&2
	exit 1
}

cd "$T" || exit 1
D="$T/data"
for i in 0 1 2 3; do
	head -c $(((i + 1) * 3 * 1024 * 1024 + i * 777)) /dev/urandom >"f$i"
done
{ head -c 4000000 f3; seq 1 100000; } >alt0
{ seq 1 100000; head -c 4000000 f2; } >alt1
declare -A want # key -> file whose bytes the key must hold
killed=0
for round in $(seq 1 "$ROUNDS"); do
	mkdir "r$round"
	for i in 0 1 2 3; do
		ln -s "../f$i" "r$round/f$i"
	done
	rm -f same
	ln -s "alt$((round % 2))" same
	timeout 60 "$C" import "$D" crash "r$round/f0" same "r$round/f1" "r$round/f2" \
		"r$round/f3" >"$T/out" 2>"$T/err" &
	BG=$!
	sleep "0.$(printf %03d $((RANDOM % 400)))"
	# timeout runs in a process group of its own with the import: SIGKILL to timeout alone
	# would leave the import running on (and writing into the next round's output file)
	if kill -9 -- "-$BG" 2>/dev/null || kill -9 "$BG" 2>/dev/null; then
		killed=$((killed + 1))
	fi
	wait "$BG" 2>/dev/null
	BG=
	printed_same=0
	while read -r word key size etag; do
		[ "$word" = stored ] || fail "unexpected output line: $word $key"
		if [ "$key" = same ]; then
			want[same]="alt$((round % 2))"
			printed_same=1
		else
			want[$key]="f${key##*/f}"
		fi
		[ "$(stat -L -c %s "$key")" = "$size" ] || fail "$key: size $size"
	done <"$T/out"
	timeout 60 "$C" fsck "$D" >"$T/fsck" 2>&1
	rc=$?
	if [ "$rc" = 2 ] && [ "${#want[@]}" = 0 ] && grep -q "no such data dir" "$T/fsck"; then
		continue # killed before the data dir was set up, and nothing stored yet
	fi
	[ "$rc" = 0 ] || fail "fsck: $(cat "$T/fsck")"
	for key in "${!want[@]}"; do
		timeout 60 "$C" cat "$D" crash "$key" >"$T/got" 2>"$T/err" ||
			fail "cat $key: $(cat "$T/err")"
		cmp -s "$T/got" "${want[$key]}" && continue
		if [ "$key" = same ] && [ "$printed_same" = 0 ] && cmp -s "$T/got" "alt$((round % 2))"
		then
			want[same]="alt$((round % 2))" # committed, killed before the line
			continue
		fi
		fail "$key does not read back as ${want[$key]}"
	done
done
"$C" stats "$D" >"$T/stats" || fail "stats"
echo "t02: $ROUNDS rounds, $killed imports killed mid-way, ${#want[@]} objects verified"
grep -E "^(objects|dead bytes|packs) " "$T/stats"
