#!/usr/bin/env bash
# Benchmarks the companion app's release build: cold start to interactive, idle RSS and binary
# size (src-tauri/e2e/bench.mjs). Needs the same system packages and tauri-driver as the app's
# end-to-end test (scripts/test.sh installs them). Not part of scripts/test.sh: the release
# build alone takes longer than the CI budget allows.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
cargo build --release --locked -p plusbox-app
command -v tauri-driver >/dev/null 2>&1 || cargo install --locked tauri-driver --version '^2'
PLUSBOX_APP_BIN=target/release/plusbox-app node src-tauri/e2e/bench.mjs
