#!/usr/bin/env bash
# ONNX export of the model zoo, checked with onnxruntime: each config trained briefly
# (EPOCHS epochs on LIMIT training images, 500 of them held out, no LR warm-up), exported with
# `phalanx export --format onnx`, then bench/onnx_check.py compares onnxruntime's logits
# with Phalanx's on the first 1000 test images.
#   bench/onnx-export.sh [EPOCHS] [LIMIT]     (default 1 10500: 10 000 to train on; needs: pip install onnx onnxruntime numpy)
# The LSTM also runs with peepholes and as a 2-layer bidirectional LSTM (--set overrides), and
# bench/onnx-coverage.yaml adds the layer kinds the zoo lacks (PReLU, transposed convolution,
# upsampling, leaky ReLU, sigmoid, tanh, a bidirectional RNN over every step, per-step linear).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-1}
LIMIT=${2:-10500}
echo "command: bench/onnx-export.sh $*"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
source launch/blas-env
swift build -c release --product phalanx >/dev/null
B=.build/release/phalanx

runs=()
train() {  # train LABEL CONFIG-FILE [--set …]
    local label=$1 config=$2
    shift 2
    rm -rf "runs/onnx-$label"
    "$B" train --config "$config" --plain --set name="onnx-$label" --set train.epochs="$EPOCHS" \
        --set data.limit="$LIMIT" --set data.validation=500 --set train.schedule.warmup_steps=0 "$@" | grep "^test accuracy" | sed "s/^/$label: /"
    runs+=("$label=runs/onnx-$label/checkpoints/latest")
}

for m in lenet mlp alexnet vgg nin googlenet resnet lstm; do
    train "$m" "configs/fashion-$m.yaml"
done
train lstm-peephole configs/fashion-lstm.yaml --set model.layers.0.peephole=true
train lstm-bidirectional-2 configs/fashion-lstm.yaml --set model.layers.0.bidirectional=true --set model.layers.0.num_layers=2
train coverage bench/onnx-coverage.yaml

python3 bench/onnx_check.py --phalanx "$B" --out runs/onnx-check "${runs[@]}"
