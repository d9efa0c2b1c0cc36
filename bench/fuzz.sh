#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of the parsers a user's files reach: configs,
# IDX data files, safetensors, trainer.json — each target for SECONDS (default 60),
# starting from the committed corpus in Tests/Fuzz/corpus/<target>/.
#   bench/fuzz.sh [SECONDS] [target…]          (targets: config idx safetensors trainer)
# Prints each target's executions and crashes; a crash leaves its input in
# $FUZZ_OUT/<target>-crash-* (default a temporary directory) and fails the script.
# launch/test runs it for a few seconds per target.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config idx safetensors trainer)
swift build -c release --product phalanx-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >/dev/null \
    || { echo "bench/fuzz.sh: the fuzz build failed" >&2; exit 1; }
out=${FUZZ_OUT:-$(mktemp -d)}
mkdir -p "$out"
echo "command: bench/fuzz.sh $SECONDS_PER_TARGET ${TARGETS[*]}   ($(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%F))"
failed=0 total=0
for t in "${TARGETS[@]}"; do
    work="$out/$t-corpus"
    mkdir -p "$work"
    log="$out/$t.log"
    PHALANX_FUZZ=$t timeout $((SECONDS_PER_TARGET + 60)) .build-fuzz/release/phalanx-fuzz "$work" "Tests/Fuzz/corpus/$t" \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -timeout=10 -artifact_prefix="$out/$t-" >"$log" 2>&1
    rc=$?
    runs=$(grep -o "Done [0-9]* runs" "$log" | grep -o "[0-9]*" || echo 0)
    crashes=$(ls "$out/$t-"{crash,leak,timeout,oom}-* 2>/dev/null | wc -l)
    [ -z "$runs" ] && runs=0
    total=$((total + runs))
    printf "%-12s %10d executions in %3d s, %d crashes%s\n" "$t" "$runs" "$SECONDS_PER_TARGET" "$crashes" \
        "$([ $rc -ne 0 ] && echo " (exit $rc; see $log)")"
    if [ "$crashes" -gt 0 ] || [ $rc -ne 0 ]; then failed=1; fi
done
echo "total: $total executions, $([ $failed -eq 0 ] && echo "0 crashes" || echo "FINDINGS in $out")"
[ -z "${FUZZ_OUT:-}" ] && [ $failed -eq 0 ] && rm -rf "$out"
exit $failed
