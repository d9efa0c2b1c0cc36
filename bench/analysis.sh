#!/usr/bin/env bash
# `phalanx analyze` against scikit-learn on the same features, side by side in one run:
# PCA, k-means, a Gaussian mixture, t-SNE, ISOMAP and LLE on the Fashion-MNIST test pixels
# and on the default LeNet's penultimate features, then k-means of all 60 000 training
# images by one process and by `mpirun -np 2`. bench/analysis_sklearn.py fits scikit-learn
# with the same settings on the arrays analyze saved and prints the table (agreement
# criteria, pass/fail, wall-time ratios), also written to runs/bench-analysis/report.md.
#   bench/analysis.sh [--quick] [--epochs N]      (needs: pip install scikit-learn numpy scipy)
# --quick: 2 000 test samples, 1 000 for the manifolds, 10 000 training images and 3
#          k-means restarts: a check of the bench itself, not its figures.
# --epochs N: train the LeNet (only when runs/fashion-lenet/checkpoints/best is missing)
#          for N epochs instead of the config's 15.
# THREADS (default 2): the cores of each side; under mpirun each rank gets THREADS / 2.
set -euo pipefail
cd "$(dirname "$0")/.."
command_line="bench/analysis.sh${*:+ $*}"
QUICK=0
EPOCHS=
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1; shift ;;
        --epochs) EPOCHS=${2:?--epochs needs a number}; shift 2 ;;
        *) echo "usage: bench/analysis.sh [--quick] [--epochs N]" >&2; exit 2 ;;
    esac
done
source launch/blas-env
source launch/mpi-env
THREADS=${THREADS:-2}
export THREADS PHALANX_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
PHALANX=.build/release/phalanx
[ -x "$PHALANX" ] || swift build -c release --product phalanx
ROOT=runs/bench-analysis
CHECKPOINT=runs/fashion-lenet/checkpoints/best

# The settings both sides use.
N_INIT=10            # k-means restarts (k-means++), ours and scikit-learn's
GMM_REDUCE=50        # the mixture is fitted on this many principal components
GMM_COVARIANCE=full
GMM_N_INIT=5          # mixture restarts: a 50-D full-covariance mixture has many local optima
NEIGHBORS=10         # ISOMAP and LLE
PERPLEXITY=30
LIMIT=()             # all 10 000 test samples for pca, kmeans, gmm, tsne
MANIFOLD_LIMIT=5000
TRAIN_LIMIT=()       # all 60 000 training images for the k-means speed runs
if [ "$QUICK" = 1 ]; then
    N_INIT=3; LIMIT=(--limit 2000); MANIFOLD_LIMIT=1000; TRAIN_LIMIT=(--limit 10000)
fi

echo "command: $command_line   (THREADS=$THREADS${OPENBLAS_CORETYPE:+, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}, $(nproc) cores, $(date -u +%F))"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p')"
python3 -c "import sklearn, numpy, scipy; print(f'scikit-learn {sklearn.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__}')"
echo "phalanx: $PHALANX ($(date -u -r "$PHALANX" '+built %F %H:%M UTC'))"

if [ ! -e "$CHECKPOINT" ]; then
    echo "training $CHECKPOINT${EPOCHS:+ for $EPOCHS epochs}"
    "$PHALANX" train --config configs/fashion-lenet.yaml --plain ${EPOCHS:+--set train.epochs=$EPOCHS} | tail -n 3
fi

# analyze DIR ARGS...: one `phalanx analyze` into $ROOT/DIR, its command kept in DIR/command.txt.
analyze() {
    local dir=$ROOT/$1; shift
    rm -rf "$dir"; mkdir -p "$dir"
    echo "$PHALANX analyze $* --output $dir" | tee "$dir/command.txt"
    "$PHALANX" analyze "$@" --output "$dir" | sed 's/^/    /'
}

for input in pixels lenet; do
    if [ "$input" = pixels ]; then source=(--features pixels); else source=(--checkpoint "$CHECKPOINT"); fi
    analyze "$input/main" "${source[@]}" "${LIMIT[@]}" --method pca,kmeans,tsne --n-init "$N_INIT" \
        --perplexity "$PERPLEXITY" --seed 0   # t-SNE starts from PCA by default, as scikit-learn's
    # pca --components R in the gmm run saves the projection --reduce R feeds the mixture.
    analyze "$input/gmm" "${source[@]}" "${LIMIT[@]}" --method pca,gmm --reduce "$GMM_REDUCE" --components "$GMM_REDUCE" \
        --covariance "$GMM_COVARIANCE" --n-init "$GMM_N_INIT" --seed 0
    analyze "$input/manifold" "${source[@]}" --limit "$MANIFOLD_LIMIT" --method isomap,lle --neighbors "$NEIGHBORS" --seed 0
done

# k-means of the training images: one process with THREADS kernel threads, then two ranks
# with THREADS / 2 each (features saved in both, so the gather happens before the timing).
analyze train/np1 --features pixels --split train "${TRAIN_LIMIT[@]}" --method kmeans --n-init "$N_INIT" --seed 0
rank_threads=$(( THREADS / 2 > 0 ? THREADS / 2 : 1 ))
dir=$ROOT/train/np2
rm -rf "$dir"; mkdir -p "$dir"
np2=("${MPIRUN[@]}" -np 2 -x PHALANX_THREADS "$PHALANX" analyze --features pixels --split train "${TRAIN_LIMIT[@]}"
     --method kmeans --n-init "$N_INIT" --seed 0 --output "$dir")
echo "PHALANX_THREADS=$rank_threads ${np2[*]}" | tee "$dir/command.txt"
PHALANX_THREADS=$rank_threads "${np2[@]}" | sed 's/^/    /'
rm -f "$dir/features.npy"   # the same 60 000 × 784 as np1's

python3 bench/analysis_sklearn.py --root "$ROOT" --n-init "$N_INIT" --gmm-covariance "$GMM_COVARIANCE" \
    --gmm-n-init "$GMM_N_INIT" --neighbors "$NEIGHBORS" --perplexity "$PERPLEXITY" --command "$command_line"
