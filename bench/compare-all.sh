#!/usr/bin/env bash
# Every config in configs/ trained briefly by Phalanx and its PyTorch twin, one table
# (training throughput, ratio, inference at batch 1 and 256). See bench/compare_all.py.
#   bench/compare-all.sh [config …]     (needs: pip install torch numpy pyyaml safetensors)
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/blas-env
swift build -c release --product phalanx >/dev/null
exec python3 bench/compare_all.py "$@"
