#!/usr/bin/env bash
# s3cmd (SigV4, then SigV2) and rclone (S3 provider "Other") against a real cairnd: each copies a
# directory tree up and back, byte-identical (diff -r), lists, and removes what it made.
. "$(dirname "$0")/cairn_it.sh"
it_start

src=$IT_TMP/src
it_make_tree "$src"
head -c $((5 << 20)) /dev/urandom >"$src/sub/five-mib.bin"
nfiles=$(find "$src" -type f | wc -l)

# ---- s3cmd ----

s3cmd_conf() { # $1: signature_v2 True|False
	cat >"$IT_TMP/s3cfg" <<-EOF
		[default]
		access_key = $CAIRN_AK
		secret_key = $CAIRN_SK
		host_base = 127.0.0.1:$CAIRN_PORT
		host_bucket = 127.0.0.1:$CAIRN_PORT
		bucket_location = $CAIRN_REGION
		use_https = False
		signature_v2 = $1
		check_ssl_certificate = False
		enable_multipart = False
		guess_mime_type = True
		progress_meter = False
	EOF
}
s3c() {
	s3cmd --config="$IT_TMP/s3cfg" --no-progress "$@"
}

for v2 in False True; do
	tag=s3cmd-v2-$v2
	b=s3cmd-$(printf '%s' "$v2" | tr '[:upper:]' '[:lower:]')-$RANDOM$RANDOM
	dst=$IT_TMP/$tag
	s3cmd_conf "$v2"

	step "$tag: mb, ls"
	s3c mb "s3://$b" >/dev/null
	s3c ls | grep "s3://$b\$" >/dev/null || it_fail "bucket not listed"

	step "$tag: put --recursive, ls --recursive"
	s3c put --recursive --quiet "$src/" "s3://$b/tree/"
	n=$(s3c ls --recursive "s3://$b/tree/" | wc -l)
	[ "$n" = "$nfiles" ] || it_fail "listed $n objects, expected $nfiles"

	step "$tag: get --recursive, diff"
	mkdir -p "$dst"
	s3c get --recursive --quiet "s3://$b/tree/" "$dst/"
	diff -r "$src" "$dst"

	step "$tag: sync up again (nothing to do), info, del --recursive, rb"
	out=$(s3c sync --no-check-md5 "$src/" "s3://$b/tree/" 2>&1)
	case $out in *upload:*) it_fail "sync re-uploaded: $out" ;; esac
	out=$(s3c info "s3://$b/tree/a.txt")
	grep -q "MD5 sum: *$(md5sum <"$src/a.txt" | cut -d' ' -f1)" <<<"$out" || it_fail "info: $out"
	s3c del --recursive --force --quiet "s3://$b/"
	s3c rb "s3://$b" >/dev/null
	if s3c ls | grep "s3://$b\$" >/dev/null; then
		it_fail "bucket still listed after rb"
	fi
done

# ---- rclone ----

unset AWS_CA_BUNDLE
export RCLONE_CONFIG_CAIRN_TYPE=s3 RCLONE_CONFIG_CAIRN_PROVIDER=Other
export RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID=$CAIRN_AK RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY=$CAIRN_SK
export RCLONE_CONFIG_CAIRN_ENDPOINT=$CAIRN_ENDPOINT RCLONE_CONFIG_CAIRN_REGION=$CAIRN_REGION
export RCLONE_CONFIG_CAIRN_FORCE_PATH_STYLE=true RCLONE_CONFIG=/dev/null
rc_() {
	rclone --retries 1 --low-level-retries 1 --contimeout 10s --timeout 60s "$@"
}

b=rclone-$RANDOM$RANDOM
dst=$IT_TMP/rclone
step "rclone: mkdir, copy up"
rc_ mkdir "cairn:$b"
rc_ copy "$src" "cairn:$b/tree"

step "rclone: lsf, check, copy back, diff"
n=$(rc_ lsf -R --files-only "cairn:$b/tree" | wc -l)
[ "$n" = "$nfiles" ] || it_fail "listed $n files, expected $nfiles"
rc_ check "$src" "cairn:$b/tree"
rc_ copy "cairn:$b/tree" "$dst"
diff -r "$src" "$dst"

step "rclone: sync a change, server-side copy, delete, rmdir"
printf 'changed by rclone\n' >"$dst/a.txt"
rc_ sync "$dst" "cairn:$b/tree"
got=$(rc_ cat "cairn:$b/tree/a.txt")
[ "$got" = "changed by rclone" ] || it_fail "cat: $got"
rc_ copyto "cairn:$b/tree/sub/random.bin" "cairn:$b/copied.bin"
rc_ cat "cairn:$b/copied.bin" | cmp - "$src/sub/random.bin"
rc_ purge "cairn:$b"
if rc_ lsd cairn: | grep " $b\$" >/dev/null; then
	it_fail "bucket still listed after purge"
fi
echo "t25: ok"
