#!/bin/sh
# Builds every fuzz target and runs each briefly from the committed seeds; exits non-zero
# on any crash, panic, timeout or out-of-memory. For CI: works on stable Rust (through
# RUSTC_BOOTSTRAP=1, for cargo-fuzz's unstable flags) and as root on a fresh clone.
#
#   fuzz/run-smoke.sh [SECONDS_PER_TARGET]   (default 15)
#
# Set CARGO_TARGET_DIR to share a build directory. Corpora grow under fuzz/corpus/
# (ignored by git); crashes land in fuzz/artifacts/<target>/.
set -eu
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-15}

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# -s none: the code under test forbids `unsafe`, so AddressSanitizer finds nothing the
# Rust checks do not; without it every target runs several times faster. Debug
# assertions and overflow checks are on (cargo-fuzz's default).
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none

status=0
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    # Seeds, and every input that once crashed this target.
    for dir in "seeds/$target" "regressions/$target"; do
        if [ -d "$dir" ]; then cp "$dir"/* "corpus/$target/"; fi
    done
    echo "== $target (${SECONDS_PER_TARGET}s)"
    # -runs is not used: a time bound keeps the whole run predictable on any machine.
    if ! cargo fuzz run -s none "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
        -max_len=65536 -print_final_stats=1 2>"corpus/$target.log"; then
        echo "FAILED: $target (see fuzz/corpus/$target.log, fuzz/artifacts/$target/)"
        tail -n 40 "corpus/$target.log"
        status=1
    else
        grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' "corpus/$target.log" || true
    fi
done
exit $status
