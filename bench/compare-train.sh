#!/usr/bin/env bash
# Training throughput of Phalanx and PyTorch on the same model, batch and data, side by
# side in one run (2 threads unless THREADS says otherwise).
#   bench/compare-train.sh CONFIG [epochs] [limit]     (needs: pip install torch numpy pyyaml)
# `limit` trains on the first N training images only (data.limit), for slow models. Both
# sides read one copy of the config with epochs, threads and limit set; a warm-up longer
# than the shortened run is cut to a tenth of its steps (said on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/blas-env
CONFIG=${1:?usage: bench/compare-train.sh CONFIG [epochs] [limit]}
EPOCHS=${2:-1}
LIMIT=${3:-0}
THREADS=${THREADS:-2}
swift build -c release --product phalanx >/dev/null
echo "command: bench/compare-train.sh $*   (THREADS=$THREADS${OPENBLAS_CORETYPE:+, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}, $(nproc) cores, $(date -u +%F))"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 bench/shortened_config.py "$CONFIG" "$out" "$EPOCHS" "$THREADS" "$LIMIT"
.build/release/phalanx train --config "$out/config.yaml" --plain >/dev/null
phalanx=$(python3 -c "import json;s=json.load(open('$out/compare/summary.json'));print(s['train_samples_per_sec'], s['test_accuracy'])")
torch=$(cd bench/pytorch && python3 train_reference.py --config "$out/config.yaml" --epochs "$EPOCHS" --threads "$THREADS" --limit "$LIMIT" \
    | python3 -c "import json,sys;s=json.loads(sys.stdin.read());print(s['images_per_sec'], s['test_accuracy'], s['framework'])")
read -r p_ips p_acc <<<"$phalanx"
read -r t_ips t_acc t_name <<<"$torch"
printf "%-30s %12s %14s\n" "$(basename "$CONFIG" .yaml), batch $(python3 -c "import yaml;print(yaml.safe_load(open('$CONFIG'))['train'].get('batch_size',128))")" "images/s" "test accuracy"
printf "%-30s %12.0f %14.4f\n" "phalanx" "$p_ips" "$p_acc"
printf "%-30s %12.0f %14.4f\n" "$t_name" "$t_ips" "$t_acc"
python3 -c "print('ratio phalanx / pytorch: %.2f' % ($p_ips / $t_ips))"
