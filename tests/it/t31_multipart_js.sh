#!/usr/bin/env bash
# Runs t31_multipart_js.mjs (multipart uploads through the AWS SDK for JavaScript v3 and
# @aws-sdk/lib-storage, via node's test runner) against a fresh cairnd. Installs the pinned SDK
# first when missing (setup.sh).
. "$(dirname "$0")/cairn_it.sh"
step "setup (npm packages)"
"$IT_DIR/setup.sh"
it_start
step "node t31_multipart_js.mjs"
node --test-reporter=spec "$IT_DIR/t31_multipart_js.mjs"
echo "t31: ok"
