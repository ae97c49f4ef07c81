#!/usr/bin/env bash
# Disk full: cairnd's data dir on a small tmpfs, mounted in a private mount namespace
# (unshare -m, so nothing leaks into the host's mounts and it vanishes with the test). Needs
# root; skipped (exit 0, with a note) otherwise. The S3 side is tests/it/disk_full_body.py.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "t41: skipped: needs root for a tmpfs mount"
	exit 0
fi
if [ -z "${CAIRN_T41_IN_NS:-}" ]; then
	if ! unshare -m --propagation private true 2>/dev/null; then
		echo "t41: skipped: unshare -m is not permitted here"
		exit 0
	fi
	exec unshare -m --propagation private env CAIRN_T41_IN_NS=1 "$0" "$@"
fi
mnt=$(mktemp -d /tmp/cairn-t41-XXXXXX)
cleanup() {
	umount "$mnt" 2>/dev/null
	rmdir "$mnt" 2>/dev/null
}
trap cleanup EXIT
mount -t tmpfs -o size=48m,mode=0700 tmpfs "$mnt" || { echo "t41: cannot mount tmpfs"; exit 1; }
python3 "$here/disk_full_body.py" "$mnt"
