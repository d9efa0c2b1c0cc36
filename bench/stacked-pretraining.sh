#!/usr/bin/env bash
# Greedy layer-wise pretraining against random initialisation, fine-tuned with few labels
# and with all of them, over several seeds: the stacked-autoencoder experiment of the course.
#   bench/stacked-pretraining.sh [seeds] [runs-dir]      (default 3 seeds, runs/stacked)
# Stage 1 (configs/fashion-stacked-1.yaml) and stage 2 (fashion-stacked-2.yaml) pretrain the
# two encoders once on the 55 000 unlabelled training images; the classifier
# (fashion-stacked-classifier.yaml) is then fine-tuned from them or from random weights, on
# 100 labels per class (seed-drawn) and on all 55 000, and its test accuracy reported.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-3}
RUNS=${2:-runs/stacked}
source launch/blas-env
B=.build/release/phalanx
[ -x "$B" ] || swift build -c release
echo "# $0 $*"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(date -u +%F)"
common=(--set checkpoint.directory="$RUNS")
"$B" train --config configs/fashion-stacked-1.yaml "${common[@]}" | tail -1
"$B" train --config configs/fashion-stacked-2.yaml "${common[@]}" \
    --set init_from.checkpoint="$RUNS/fashion-stacked-1/checkpoints/latest" | tail -1
accuracy() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['test_accuracy'])" "$RUNS/$1/summary.json"; }
declare -A results
for labels in 100 0; do
  for start in pretrained random; do
    for seed in $(seq 1 "$SEEDS"); do
      name="finetune-$start-$labels-s$seed"
      args=(--set name="$name" --set seed="$seed" --set data.labels_per_class="$labels")
      if [ "$start" = pretrained ]; then
        args+=(--set init_from.checkpoint="$RUNS/fashion-stacked-2/checkpoints/latest")
      else
        args+=(--set init_from=null)
      fi
      # All labels: 10 epochs of 128 (4 290 steps); 100 per class: 50 epochs of 50 (1 000 steps).
      [ "$labels" = 0 ] && args+=(--set train.epochs=10 --set train.batch_size=128)
      "$B" train --config configs/fashion-stacked-classifier.yaml "${common[@]}" "${args[@]}" > "$RUNS/$name.log"
      results["$start-$labels"]+="$(accuracy "$name") "
    done
  done
done
echo
echo "| labels | initialisation | test accuracy per seed | mean ± std |"
echo "| --- | --- | --- | ---: |"
for labels in 100 0; do
  for start in pretrained random; do
    python3 - "$labels" "$start" ${results["$start-$labels"]} <<'PY'
import statistics, sys
labels, start, values = sys.argv[1], sys.argv[2], [float(v) for v in sys.argv[3:]]
std = statistics.stdev(values) if len(values) > 1 else 0.0
shown = "100 per class (1 000)" if labels == "100" else "all (55 000)"
print(f"| {shown} | {start} | {' '.join(f'{v:.4f}' for v in values)} | {statistics.mean(values):.4f} ± {std:.4f} |")
PY
  done
done
