#!/usr/bin/env bash
# Runs t24_js_sdk.mjs (the AWS SDK for JavaScript v3 via node's test runner) against a fresh
# cairnd. Installs the pinned SDK first when missing (setup.sh).
. "$(dirname "$0")/cairn_it.sh"
step "setup (npm packages)"
"$IT_DIR/setup.sh"
it_start
step "node t24_js_sdk.mjs"
node --test-reporter=spec "$IT_DIR/t24_js_sdk.mjs"
echo "t24: ok"
