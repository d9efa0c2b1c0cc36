#!/usr/bin/env bash
# Training throughput of Phalanx and PyTorch on the same LeNet-5, batch and data,
# side by side in one run (2 cores unless THREADS says otherwise).
#   bench/compare-lenet.sh [epochs]       (needs: pip install torch numpy pyyaml)
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/blas-env
EPOCHS=${1:-1}
THREADS=${THREADS:-2}
CONFIG=configs/fashion-lenet.yaml
swift build -c release --product phalanx >/dev/null
echo "command: bench/compare-lenet.sh $EPOCHS   (THREADS=$THREADS${OPENBLAS_CORETYPE:+, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}, $(nproc) cores, $(date -u +%F))"
rm -rf /tmp/phalanx-compare
.build/release/phalanx train --config $CONFIG --plain --set name=compare --set checkpoint.directory=/tmp/phalanx-compare \
    --set train.epochs="$EPOCHS" --set train.threads="$THREADS" >/dev/null
phalanx=$(python3 -c "import json;s=json.load(open('/tmp/phalanx-compare/compare/summary.json'));print(s['train_samples_per_sec'], s['test_accuracy'])")
torch=$(cd bench/pytorch && python3 train_reference.py --config ../../$CONFIG --epochs "$EPOCHS" --threads "$THREADS" \
    | python3 -c "import json,sys;s=json.loads(sys.stdin.read());print(s['images_per_sec'], s['test_accuracy'], s['framework'])")
read -r p_ips p_acc <<<"$phalanx"
read -r t_ips t_acc t_name <<<"$torch"
printf "%-22s %12s %14s\n" "LeNet-5, batch 128" "images/s" "test accuracy"
printf "%-22s %12.0f %14.4f\n" "phalanx" "$p_ips" "$p_acc"
printf "%-22s %12.0f %14.4f\n" "$t_name" "$t_ips" "$t_acc"
python3 -c "print('ratio phalanx / pytorch: %.2f' % ($p_ips / $t_ips))"
