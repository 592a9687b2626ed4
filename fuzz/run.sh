#!/usr/bin/env bash
# Fuzzes each target (all by default) for RUNS inputs (default 10,000,000) with libFuzzer's
# limits set to the trust rules: no input may take more than 1 s or allocate more than 1 GiB.
# New inputs go to a scratch corpus (FUZZ_WORK, default /tmp/sfnlite-fuzz); `merge` keeps the
# ones that add coverage in fuzz/corpus/. Crash reproducers land in fuzz/artifacts/TARGET/.
#   fuzz/run.sh [RUNS] [TARGET...]     fuzz/run.sh merge [TARGET...]
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"
all=(definition path intrinsic template jsonata choice state mock_config config ddl api table)
work=${FUZZ_WORK:-/tmp/sfnlite-fuzz}
cargo +nightly fuzz build -s none -a -O >&2
bin=target/x86_64-unknown-linux-gnu/release
if [ "${1:-}" = merge ]; then
    shift
    for t in "${@:-${all[@]}}"; do
        "$bin/$t" -set_cover_merge=1 "corpus/$t" "$work/$t" 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files' >&2 || true
    done
    exit 0
fi
runs=${1:-10000000}
shift || true
for t in "${@:-${all[@]}}"; do
    mkdir -p "$work/$t" "artifacts/$t"
    start=$(date +%s)
    if "$bin/$t" "$work/$t" "corpus/$t" -runs="$runs" -timeout=1 -rss_limit_mb=1024 -malloc_limit_mb=1024 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$work/$t.log" 2>&1; then
        echo "$t: $(grep -E '^Done [0-9]+ runs' "$work/$t.log") ($(($(date +%s) - start)) s, no failure)"
    else
        echo "$t: FAILED after $(($(date +%s) - start)) s: $(grep -E '^==[0-9]+== ERROR|panicked at|deadly signal|timeout' "$work/$t.log" | head -1)"
        ls -t "artifacts/$t" | head -1
    fi
done
