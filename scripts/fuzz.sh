#!/usr/bin/env bash
# Fuzzes the parsers of untrusted files (Sources/FuzzTargets) with libFuzzer and the address sanitizer.
#   scripts/fuzz.sh [SECONDS]   each target for SECONDS (default 60; FUZZ_SECONDS), or FUZZ_RUNS inputs when set
#   FUZZ_TARGETS="png jpeg"     only these targets
# The harness is built into .build-fuzz (never the normal .build). Each target first replays its committed
# regression inputs (Tests/Fuzz/regressions/<target>), then fuzzes from the seed corpus (Tests/Fuzz/corpus/<target>)
# with its dictionary (Tests/Fuzz/dictionaries), new inputs kept in .build-fuzz/corpus/<target>. A crash, trap,
# timeout or out-of-memory (one allocation above 2 GB included) stops the script with the input in
# .build-fuzz/crashes/<target>/: commit it under Tests/Fuzz/regressions/<target>/ with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${FUZZ_SECONDS:-60}}
targets=${FUZZ_TARGETS:-"safetensors safetensors-index torch clip-bpe tokenizer-json spiece config png jpeg embedding-cache"}
scratch=.build-fuzz

start=$(date +%s)
# -sanitize=fuzzer instruments the Swift code and links libFuzzer; the C glue around libpng and libjpeg is
# instrumented too. --export-dynamic lets the harness's main find libFuzzer's driver (Sources/DanceGRPOFuzz/main.swift).
swift build --scratch-path "$scratch" -c release --product dancegrpo-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address -Xlinker --export-dynamic \
    2>&1 | grep -v "Cannot export local symbol" | tail -3
echo "fuzz build: $(($(date +%s) - start)) s"
harness=$scratch/release/dancegrpo-fuzz

# Swift's backtracer would spend seconds on every crash; libFuzzer prints its own stack.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
for target in $targets; do
    export DANCEGRPO_FUZZ_TARGET=$target
    regressions=(Tests/Fuzz/regressions/"$target"/*)
    if [ -e "${regressions[0]}" ]; then
        echo "== $target: replaying ${#regressions[@]} regression input(s)"
        # A regression that crashes again fails the pipeline (and the script); each input passed prints "Executed".
        executed=$("$harness" "${regressions[@]}" 2>&1 | grep -c "^Executed")
        echo "   $executed executed without a crash"
    fi
    mkdir -p "$scratch/corpus/$target" "$scratch/crashes/$target"
    if [ -n "${FUZZ_RUNS:-}" ]; then budget=(-runs="$FUZZ_RUNS"); else budget=(-max_total_time="$seconds"); fi
    dictionary=Tests/Fuzz/dictionaries/$target.dict
    [ -e "$dictionary" ] && budget+=(-dict="$dictionary")
    echo "== $target: fuzzing (${budget[*]})"
    "$harness" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$scratch/crashes/$target/" "$scratch/corpus/$target" "Tests/Fuzz/corpus/$target" \
        2>&1 | grep -E "^(stat::number_of_executed_units|Done|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit)|Fatal error|deadly signal|out-of-memory|timeout" || true
    if [ -n "$(ls -A "$scratch/crashes/$target")" ]; then
        echo "$target: crash inputs in $scratch/crashes/$target/" >&2
        exit 1
    fi
done
echo "fuzz total: $(($(date +%s) - start)) s"
