#!/usr/bin/env bash
# The README's results table: GM against softmax (same LeNet++, budget and seeds) on the bundled
# MNIST digits and on full Fashion-MNIST, 3 seeds each, with the 2-D feature pictures.
#
#   scripts/mnist-results.sh [OUT_DIR]       (default: results/)
#
# Needs `cargo build --release --examples` and, for Fashion-MNIST, Debian's
# dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). Each run leaves its summary.json
# under OUT_DIR/<set>-<loss>-seed<N>/; the table is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results}
mkdir -p "$out"
bin=target/release/examples/mnist
fashion=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
# The same budget on full Fashion-MNIST (60,000 images, 3 epochs: ≈ 9 min a run on 2 cores).
# FASHION_EPOCHS changes it; FASHION_LIMIT=N trains on the first N training images (and tests
# on the first N/4 test images); 0 = all. MNIST_ONLY=1 skips Fashion-MNIST (its rows stay empty).
mnist_only=${MNIST_ONLY:-0}
fashion_epochs=${FASHION_EPOCHS:-3}
fashion_limit=${FASHION_LIMIT:-0}

run() { # name args...
    local name=$1; shift
    if [ -s "$out/$name/summary.json" ]; then echo "$name: done already"; return; fi
    echo "== $name: $bin $*"
    /usr/bin/time -f "wall %e s, peak RSS %M kB" "$bin" "$@" --out "$out/$name" > "$out/$name.log" 2>&1
    grep -E "test accuracy|wall" "$out/$name.log"
}

for seed in 1 2 3; do
    for loss in gm ce; do
        run "mnist-$loss-seed$seed" --loss "$loss" --seed "$seed"
    done
done
for loss in gm ce; do
    if [ -s "$out/features-2d-$loss.png" ]; then echo "features-2d-$loss.png: done already"; continue; fi
    "$bin" --loss "$loss" --feat-dim 2 --plot "$out/features-2d-$loss.png" > "$out/plot-$loss.log" 2>&1
    tail -2 "$out/plot-$loss.log"
done
# The adversarial table with default settings: it trains its own GM and softmax models (the
# same settings and seed as mnist-{gm,ce}-seed1), then attacks them.
if [ ! -s "$out/adversarial.json" ]; then
    echo "== adversarial, default settings"
    /usr/bin/time -f "wall %e s, peak RSS %M kB" target/release/examples/adversarial \
        --out "$out/adversarial.json" > "$out/adversarial.log" 2>&1
fi
sed -n '/^| model/,$p' "$out/adversarial.log"

for seed in 1 2 3; do
    [ "$mnist_only" = 1 ] && break
    for loss in gm ce; do
        run "fashion-$loss-seed$seed" --loss "$loss" --seed "$seed" --data "$fashion" \
            --epochs "$fashion_epochs" --limit "$fashion_limit"
    done
done

accuracy() { sed -n 's/.*"test_accuracy": *\([0-9.eE+-]*\).*/\1/p' "$1"; }
echo
echo "| data | loss | test accuracy, seeds 1 / 2 / 3 | mean ± half-range |"
echo "|---|---|---|---|"
for set in mnist fashion; do
    [ "$set" = fashion ] && [ "$mnist_only" = 1 ] && continue
    for loss in gm ce; do
        values=$(for s in 1 2 3; do accuracy "$out/$set-$loss-seed$s/summary.json"; done)
        echo "$values" | awk -v set="$set" -v loss="$loss" '
            { v[NR] = 100 * $1; sum += v[NR]; if (NR == 1 || v[NR] < lo) lo = v[NR]; if (NR == 1 || v[NR] > hi) hi = v[NR] }
            END { printf "| %s | %s | %.2f / %.2f / %.2f | %.2f ± %.2f |\n", set, loss, v[1], v[2], v[3], sum / NR, (hi - lo) / 2 }'
    done
done
