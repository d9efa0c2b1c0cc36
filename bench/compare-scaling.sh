#!/usr/bin/env bash
# Data-parallel scaling on one machine, side by side in one run: LeNet training images/s
# with 1 rank × 1 thread and with N ranks × 1 thread each, for Phalanx (mpirun) and for
# PyTorch DDP (gloo); and Phalanx's step time with and without overlapping the gradient
# allreduce with backward.   bench/compare-scaling.sh [ranks] [epochs]
# LeNet's 62k parameters fill one 4 MB bucket, leaving nothing to overlap; the overlap
# rows therefore also run with 50 KB buckets (6 buckets), which PyTorch DDP's 1 MB first
# bucket resembles for a model this small.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/blas-env
source launch/mpi-env
NP=${1:-2}
EPOCHS=${2:-1}
CONFIG=configs/fashion-lenet.yaml
swift build -c release --product phalanx >/dev/null
echo "command: bench/compare-scaling.sh $NP $EPOCHS   ($(nproc) cores, $(date -u +%F))"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {  # name ranks [extra --set ...]
    local name=$1 ranks=$2; shift 2
    local cmd=(.build/release/phalanx train --config $CONFIG --plain --set name="$name" --set checkpoint.directory="$out"
               --set train.epochs="$EPOCHS" --set train.threads=1 --set data.validation=0 "$@")
    if [ "$ranks" -gt 1 ]; then "${MPIRUN[@]}" -np "$ranks" "${cmd[@]}" >/dev/null; else "${cmd[@]}" >/dev/null; fi
    python3 -c "import json;s=json.load(open('$out/$name/summary.json'));print('%.0f' % s['train_samples_per_sec'])"
}
p1=$(run one 1)
pn=$(run many "$NP")
pn_no=$(run many-no-overlap "$NP" --set distributed.overlap=false)
ps_on=$(run small-on "$NP" --set distributed.bucket_mb=0.05)
ps_off=$(run small-off "$NP" --set distributed.bucket_mb=0.05 --set distributed.overlap=false)
steps=$(( 200 * EPOCHS ))
t1=$(cd bench/pytorch && python3 ddp_reference.py --config ../../$CONFIG --world 1 --threads 1 --steps $steps | python3 -c "import json,sys;print('%.0f' % json.load(sys.stdin)['images_per_sec'])")
tn=$(cd bench/pytorch && python3 ddp_reference.py --config ../../$CONFIG --world "$NP" --threads 1 --steps $steps | python3 -c "import json,sys;print('%.0f' % json.load(sys.stdin)['images_per_sec'])")
printf "%-34s %10s %10s %12s\n" "LeNet-5, global batch 128" "1 rank" "$NP ranks" "efficiency"
printf "%-34s %10s %10s %11.0f%%\n" "phalanx (overlap on)" "$p1" "$pn" "$(python3 -c "print(100*$pn/($NP*$p1))")"
printf "%-34s %10s %10s %11.0f%%\n" "phalanx (overlap off)" "$p1" "$pn_no" "$(python3 -c "print(100*$pn_no/($NP*$p1))")"
printf "%-34s %10s %10s %11.0f%%\n" "phalanx 50 KB buckets, overlap on" "$p1" "$ps_on" "$(python3 -c "print(100*$ps_on/($NP*$p1))")"
printf "%-34s %10s %10s %11.0f%%\n" "phalanx 50 KB buckets, overlap off" "$p1" "$ps_off" "$(python3 -c "print(100*$ps_off/($NP*$p1))")"
printf "%-34s %10s %10s %11.0f%%\n" "pytorch DDP gloo" "$t1" "$tn" "$(python3 -c "print(100*$tn/($NP*$t1))")"
python3 -c "print('step time, %d ranks: 4 MB buckets overlap on %.2f ms, off %.2f ms; 50 KB buckets on %.2f ms, off %.2f ms' % ($NP, 128e3/$pn, 128e3/$pn_no, 128e3/$ps_on, 128e3/$ps_off))"
