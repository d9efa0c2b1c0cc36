#!/usr/bin/env bash
# Training throughput of Phalanx and PyTorch on the default LeNet-5, side by side.
#   bench/compare-lenet.sh [epochs]       (needs: pip install torch numpy pyyaml)
exec "$(dirname "$0")/compare-train.sh" configs/fashion-lenet.yaml "${1:-1}"
