#!/usr/bin/env bash
# Installs what the end-to-end suites (tests/it/t2x_*) drive, idempotently, on Debian 12 as root:
#   apt:  awscli (Debian's aws-cli v2, /usr/bin/aws), s3cmd, rclone, curl
#   npm:  tests/it/node_modules from package.json / package-lock.json (@aws-sdk/client-s3,
#         @aws-sdk/lib-storage, pinned)
#   python3 on PATH must import boto3; when it cannot, Debian's python3-boto3 is installed
#   (cairn_it.py then re-runs a suite under /usr/bin/python3).
# Fast path: when everything is present it only checks for files (well under 2 s).
# Not root and something missing: says what and fails.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

missing=()
for pair in awscli:/usr/bin/aws s3cmd:/usr/bin/s3cmd rclone:/usr/bin/rclone curl:/usr/bin/curl \
	nodejs:/usr/bin/node npm:/usr/bin/npm; do
	[ -x "${pair#*:}" ] || missing+=("${pair%%:*}")
done
if ! python3 -c 'import boto3' 2>/dev/null && ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
	missing+=(python3-boto3)
fi

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup: missing ${missing[*]} (run as root, or apt-get install them)" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
		apt-get update -qq >/dev/null
		apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
fi

# npm install only when the pinned SDK is absent (or package.json changed since).
stamp="$here/node_modules/.cairn-installed"
if [ ! -f "$here/node_modules/@aws-sdk/client-s3/package.json" ] ||
	[ ! -f "$here/node_modules/@aws-sdk/lib-storage/package.json" ] ||
	[ ! -f "$stamp" ] || [ "$here/package.json" -nt "$stamp" ]; then
	echo "setup: npm install in tests/it"
	(cd "$here" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
	touch "$stamp"
fi
exit 0
