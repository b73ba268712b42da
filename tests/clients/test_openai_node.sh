#!/usr/bin/env bash
# tests/clients/openai_sdk.mjs with the official OpenAI SDK for Node (npm package `openai`,
# installed into tests/clients/node_modules by scripts/install-deps).
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null; then
    echo "FAIL: node is not installed (scripts/install-deps installs nodejs and npm)"
    exit 1
fi
if [ ! -d "$DIR/node_modules/openai" ]; then
    echo "FAIL: the openai SDK is missing: run 'npm ci --prefix tests/clients' (scripts/install-deps does)"
    exit 1
fi
exec node "$DIR/openai_sdk.mjs"
