#!/usr/bin/env bash
# data.format beside IDX: a NumPy .npz copy of Fashion-MNIST must train to the same
# bytes of model.safetensors as the IDX files; a folder of PNGs written from the same
# images must reach the same test accuracy; a CSV table (scikit-learn's wine) trains an MLP.
#   bench/data-formats.sh [work-dir]      (needs numpy, pillow, scikit-learn; a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/phalanx-data-formats}
echo "command: $0 $*"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
source launch/blas-env
swift build -c release --product phalanx >/dev/null
B=.build/release/phalanx
mkdir -p "$work"
[ -f "$work/fashion.npz" ] || python3 bench/write_data_formats.py npz "$work/fashion.npz"
[ -d "$work/png/test" ] || python3 bench/write_data_formats.py folder "$work/png" --train 10000
[ -f data/wine-train.csv ] || python3 bench/write_data_formats.py wine data

runs="$work/runs"
short=(--config configs/fashion-lenet.yaml --plain --set train.epochs=1 --set checkpoint.directory="$runs")
accuracy() { python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["test_accuracy"])' "$runs/$1/summary.json"; }

echo; echo "== IDX and .npz, LeNet-5, 1 epoch, the first 10 000 training images (5 000 held out for validation)"
$B train "${short[@]}" --set name=df-idx --set data.limit=10000 | grep -E "^test accuracy|^epoch" | tail -1
$B train "${short[@]}" --set name=df-npz --set data.limit=10000 --set data.format=npy --set data.train="$work/fashion.npz" | grep -E "^test accuracy|^epoch" | tail -1
a="$runs/df-idx/checkpoints/latest/model.safetensors" b="$runs/df-npz/checkpoints/latest/model.safetensors"
if cmp -s "$a" "$b"; then echo "model.safetensors: identical bytes ($(stat -c %s "$a") bytes)"; else echo "model.safetensors: DIFFER"; exit 1; fi

echo; echo "== image folder: the same 10 000 training images and the 10 000 test images as PNG files, 5 epochs beside IDX"
# Files come in class order, not IDX order, so the epochs' batches differ: the accuracy, not the bytes, must agree.
$B train "${short[@]}" --set train.epochs=5 --set name=df-idx5 --set data.limit=10000 | grep -E "^test accuracy|^epoch" | tail -1
$B train "${short[@]}" --set train.epochs=5 --set name=df-png --set data.format=image_folder \
    --set data.train="$work/png/train" --set data.test="$work/png/test" | grep -E "^test accuracy|^epoch" | tail -1
echo "test accuracy after 1 epoch: IDX $(accuracy df-idx), .npz $(accuracy df-npz)"
echo "test accuracy after 5 epochs: IDX $(accuracy df-idx5), image folder $(accuracy df-png)"

echo; echo "== CSV: configs/tabular-mlp.yaml (wine, 13 features, 3 classes)"
$B train --config configs/tabular-mlp.yaml --plain --set checkpoint.directory="$runs" | grep -E "^test accuracy|^epoch" | tail -1
echo "test accuracy: $(accuracy tabular-mlp)"
