#!/usr/bin/env bash
# Trains the same ensemble config alone and under mpirun -np N (members in rank groups),
# then compares the members' weights and the ensemble's figures. Prints both wall times.
#   bench/compare-ensemble.sh [N] [config] [extra --set arguments…]
#   bench/compare-ensemble.sh 2 configs/fashion-lenet-bagged.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2}; CONFIG=${2:-configs/fashion-lenet-bagged.yaml}; shift $(( $# > 2 ? 2 : $# ))
source launch/blas-env
source launch/mpi-env
swift build -c release --product phalanx >/dev/null
B=.build/release/phalanx
OUT=$(mktemp -d)
NAME=$(sed -n 's/^name: *//p' "$CONFIG" | head -1)
echo "== alone: $B ensemble --config $CONFIG $*"
s=$(date +%s); $B ensemble --config "$CONFIG" --plain --set checkpoint.directory="$OUT/alone" "$@" | grep -v '^epoch'; t1=$(( $(date +%s) - s ))
echo "== mpirun -np $N $B ensemble --config $CONFIG $*"
s=$(date +%s); "${MPIRUN[@]}" -np "$N" $B ensemble --config "$CONFIG" --plain --set checkpoint.directory="$OUT/np$N" "$@" | grep -v '^epoch'; t2=$(( $(date +%s) - s ))
echo "== comparison"
python3 bench/compare_members.py "$OUT/alone/$NAME" "$OUT/np$N/$NAME"
echo "wall time: alone ${t1}s, mpirun -np $N ${t2}s"
