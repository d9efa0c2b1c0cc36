#!/usr/bin/env bash
# The distributed checks (N ranks = 1 process: LeNet's 50 steps and the others) under each
# OpenBLAS kernel set this CPU can run, one after the other: the part of the BLAS
# self-check that needs mpirun. Prints one line per kernel set.
#   bench/blas-candidates.sh [check-name-filter]      (default: all checks)
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/mpi-env
swift build -c release >/dev/null
echo "command: bench/blas-candidates.sh $*   ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(date -u +%F))"
flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
candidates=(default)
[[ $flags == *" avx2 "* && $flags == *" fma "* ]] && candidates+=(Haswell Zen)
[[ $flags == *" avx512f "* && $flags == *" avx512bw "* && $flags == *" avx512vl "* ]] && candidates+=(SkylakeX)
[[ $flags == *" avx512_bf16 "* ]] && candidates+=(Cooperlake)
status=0
for c in "${candidates[@]}"; do
    if [ "$c" = default ]; then env_=(env -u OPENBLAS_CORETYPE); pass=(); else env_=(env OPENBLAS_CORETYPE="$c"); pass=(-x OPENBLAS_CORETYPE); fi
    start=$(date +%s)
    if out=$("${env_[@]}" timeout 900 "${MPIRUN[@]}" -np 2 "${pass[@]}" .build/release/phalanx-mpi-checks "$@" 2>&1); then
        verdict="pass"
    else
        verdict="FAIL"; status=1
    fi
    summary=$(grep -E "checks? (passed|failed)|failures?" <<<"$out" | tail -1)
    printf "%-12s %-5s %4d s  %s\n" "$c" "$verdict" $(( $(date +%s) - start )) "$summary"
done
exit $status
