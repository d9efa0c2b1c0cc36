#!/usr/bin/env bash
# The gradient reducer's allreduce bandwidth beside a plain C MPI_Allreduce, one job after
# the other in one run, 4 KB to 64 MB:  bench/compare-allreduce.sh [ranks]
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/mpi-env
NP=${1:-2}
swift build -c release --product phalanx >/dev/null
mpicc -O2 -o .build/allreduce-reference bench/mpi/allreduce.c
echo "command: bench/compare-allreduce.sh $NP   ($(nproc) cores, $(date -u +%F))"
"${MPIRUN[@]}" -np "$NP" .build/allreduce-reference
"${MPIRUN[@]}" -np "$NP" .build/release/phalanx bench allreduce
