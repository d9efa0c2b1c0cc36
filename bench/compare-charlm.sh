#!/usr/bin/env bash
# Character language model throughput and learning of Phalanx and PyTorch on the same
# model, text, streams and schedule, side by side in one run (2 threads unless THREADS
# says otherwise). Defaults to one fortune file (FILE, 245 KB) for one epoch.
#   bench/compare-charlm.sh [epochs]       (needs: pip install torch numpy pyyaml safetensors)
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/blas-env
EPOCHS=${1:-1}
THREADS=${THREADS:-2}
FILE=${FILE:-/usr/share/games/fortunes/cookie}
swift build -c release --product phalanx >/dev/null
echo "command: bench/compare-charlm.sh $*   (FILE=$FILE, THREADS=$THREADS${OPENBLAS_CORETYPE:+, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}, $(nproc) cores, $(date -u +%F))"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The config with the text, epochs and threads replaced, for both sides.
python3 - "$out/config.yaml" "$FILE" "$EPOCHS" "$THREADS" <<'PY'
import sys, yaml
path, text, epochs, threads = sys.argv[1:]
c = yaml.safe_load(open("configs/fortunes-charlm.yaml"))
c["name"] = "compare"
c["data"]["text"] = [text]
c["data"]["validation"] = 20000
c["train"]["epochs"] = int(epochs)
c["train"]["threads"] = int(threads)
c["checkpoint"] = {"directory": path.rsplit("/", 1)[0], "keep": 1}
yaml.safe_dump(c, open(path, "w"))
PY
.build/release/phalanx train --config "$out/config.yaml" --plain >/dev/null
phalanx=$(python3 -c "import json;s=json.load(open('$out/compare/summary.json'));print(s['train_characters_per_sec'], s['held_out_bits_per_character'])")
torch=$(python3 bench/pytorch/charlm_reference.py train "$out/config.yaml" --threads "$THREADS" --log-every 1000000 \
    | tail -1 | python3 -c "import json,sys;s=json.loads(sys.stdin.read());print(s['chars_per_sec'], s['held_out_bits_per_character'])")
read -r p_cps p_bits <<<"$phalanx"
read -r t_cps t_bits <<<"$torch"
printf "%-30s %12s %20s\n" "fortunes-charlm, 32x64" "chars/s" "held-out bits/char"
printf "%-30s %12.0f %20.4f\n" "phalanx" "$p_cps" "$p_bits"
printf "%-30s %12.0f %20.4f\n" "pytorch $(python3 -c 'import torch;print(torch.__version__)')" "$t_cps" "$t_bits"
python3 -c "print('ratio phalanx / pytorch: %.2f' % ($p_cps / $t_cps))"
