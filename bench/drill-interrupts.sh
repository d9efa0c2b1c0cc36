#!/usr/bin/env bash
# Interrupt drill: a LeNet run killed N times with kill -9 and stopped N times with
# SIGTERM at random moments, each time continued with --resume, until it finishes; then
# its weights are compared with an uninterrupted run's.
#   bench/drill-interrupts.sh [N] [config]        (default N=10, configs/fashion-lenet.yaml)
# Prints: how many kills landed inside a checkpoint write (a .tmp- directory left), how
# many times `latest` failed to evaluate afterwards, how many SIGTERMs lost steps (the
# checkpoint they saved is not the step they stopped at), and whether the final weights
# are bit-identical.
set -uo pipefail
cd "$(dirname "$0")/.."
source launch/blas-env
N=${1:-10}
CONFIG=${2:-configs/fashion-lenet.yaml}
swift build -c release --product phalanx >/dev/null || exit 1
B=.build/release/phalanx
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
args=(--config "$CONFIG" --plain --set checkpoint.directory="$d" --set data.limit=15000 --set train.epochs=12
      --set train.threads=1 --set checkpoint.keep=2)
echo "command: bench/drill-interrupts.sh $*   ($(lscpu | sed -n 's/^Model name: *//p'), ${OPENBLAS_CORETYPE:+OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, }$(date -u +%F))"
$B train "${args[@]}" --set name=reference >"$d/reference.log" 2>&1 || { echo "reference run failed"; exit 1; }
kills=0 terms=0 inside=0 corrupt=0 lost=0 runs=0
resume=()
while [ ! -f "$d/drill/summary.json" ]; do
    runs=$((runs + 1))
    $B train "${args[@]}" --set name=drill "${resume[@]}" >"$d/run.log" 2>&1 &
    pid=$!
    resume=(--resume)
    if [ $kills -lt "$N" ] || [ $terms -lt "$N" ]; then
        sleep "$(python3 -c "import random; print(round(random.uniform(0.3, 1.5), 2))")"
        if ! kill -0 $pid 2>/dev/null; then wait $pid; continue; fi
        if [ $terms -ge "$N" ] || { [ $kills -lt "$N" ] && [ $((RANDOM % 2)) -eq 0 ]; }; then
            kill -9 $pid; wait $pid 2>/dev/null; kills=$((kills + 1))
            ls -d "$d"/drill/checkpoints/.tmp-* >/dev/null 2>&1 && inside=$((inside + 1))
        else
            kill -TERM $pid; wait $pid; rc=$?; terms=$((terms + 1))
            saved=$(grep -o "SIGTERM: saved [^ ]*step-[0-9]*" "$d/run.log" | grep -o "[0-9]*$" | sed 's/^0*//')
            latest=$(readlink "$d/drill/checkpoints/latest" | grep -o "[0-9]*$" | sed 's/^0*//')
            if [ $rc -ne 143 ] || [ -z "$saved" ] || [ "$saved" != "$latest" ]; then
                if grep -q "^test accuracy" "$d/run.log"; then terms=$((terms - 1)); else lost=$((lost + 1)); fi
            fi
        fi
        if [ -e "$d/drill/checkpoints/latest" ] && ! $B evaluate --checkpoint "$d/drill/checkpoints/latest" >/dev/null 2>&1; then
            corrupt=$((corrupt + 1))
        fi
    else
        wait $pid
    fi
done
same=no
cmp -s "$d/reference/checkpoints/latest/model.safetensors" "$d/drill/checkpoints/latest/model.safetensors" && same=yes
printf "%d kill -9 (%d inside a checkpoint write), %d SIGTERM, %d starts: corrupt latest %d, SIGTERMs that lost steps %d; final weights bit-identical to the uninterrupted run: %s\n" \
    "$kills" "$inside" "$terms" "$runs" "$corrupt" "$lost" "$same"
[ "$same" = yes ] && [ $corrupt -eq 0 ] && [ $lost -eq 0 ]
