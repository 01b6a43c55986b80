#!/usr/bin/env bash
# Bounded fuzz smoke run of the payment-code parsers and image decoding (issue 4) and of the
# Alipay+ API's HTTP intake against a real in-process sandbox (issue 9).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The toolchain here is stable only;
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the unstable flags it needs. The sanitizer is off to keep
# the build short: the targets look for panics and round-trip failures, not memory errors (the
# code under test forbids unsafe).
#
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-5}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --help >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 1
fi
start=$(date +%s)
cargo fuzz build -O --sanitizer none
echo "fuzz build: $(( $(date +%s) - start )) s"
for target in payment_code gpld emv image_decode http_intake; do
    mkdir -p "corpus/$target"
    cargo fuzz run -O --sanitizer none "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
        | grep -E "^(stat::number_of_executed_runs|stat::new_units_added|==|ERROR|SUMMARY|thread)" || true
    # cargo fuzz exits non-zero on a crash; re-check so the smoke run fails loudly.
    if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
        echo "fuzz target $target crashed: see fuzz/artifacts/$target" >&2
        exit 1
    fi
done
echo "fuzz smoke: 5 targets × ${seconds} s, $(( $(date +%s) - start )) s in all"
