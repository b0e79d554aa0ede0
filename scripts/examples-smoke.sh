#!/usr/bin/env bash
# Runs every example on a tiny limit (tiny networks too: these are debug builds, where Burn's
# CPU kernels are slow) with the debug build `cargo test` already made, and checks the JSON each
# one writes. Used by .ci/run; runs anywhere with cargo and perl.
set -euo pipefail
cd "$(dirname "$0")/.."
# Build with the same features as the test run before it, so nothing is rebuilt.
features=${GM_SMOKE_FEATURES:-train}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A JSON number field, checked to lie in [lo, hi].
check_field() { # file field lo hi
    local value
    value=$(sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -1)
    if [ -z "$value" ]; then
        echo "FAIL: $1 has no field $2"; cat "$1"; exit 1
    fi
    if ! awk -v v="$value" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v >= lo && v <= hi) }'; then
        echo "FAIL: $1: $2 = $value, outside [$3, $4]"; exit 1
    fi
    echo "ok: $1: $2 = $value"
}

echo "== mnist, GM head, 2-D features with the picture"
cargo run --quiet --features "$features" --example mnist -- --limit 64 --epochs 1 --width 2 --batch-size 32 \
    --feat-dim 2 --plot "$tmp/features.png" --out "$tmp/gm"
check_field "$tmp/gm/summary.json" test_accuracy 0 1
test -s "$tmp/features.png" && test -s "$tmp/gm/model.bpk" && test -s "$tmp/gm/config.json"

echo "== mnist, softmax head, ndarray backend"
cargo run --quiet --features "$features" --example mnist -- --loss ce --device ndarray --limit 64 --epochs 1 --width 2 \
    --batch-size 32 --out "$tmp/ce"
check_field "$tmp/ce/summary.json" test_accuracy 0 1

echo "== adversarial, loading both models saved above"
cargo run --quiet --features "$features" --example adversarial -- --gm-model "$tmp/gm" --ce-model "$tmp/ce" \
    --limit 64 --attack-images 16 --epsilons 0.1 --pgd-steps 1 --out "$tmp/adv.json"
check_field "$tmp/adv.json" attacked_images 16 16

echo "== cifar on synthetic files in the CIFAR-10 and CIFAR-100 binary formats"
for set in 10 100; do
    dir="$tmp/cifar$set"; mkdir -p "$dir"
    if [ "$set" = 10 ]; then files="data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch"
    else files="train test"; fi
    for f in $files; do
        SET=$set perl -e 'srand(7); for my $i (0..39) {
            print chr(int($i / 4)) if $ENV{SET} == 100;   # coarse label
            print chr($i % ($ENV{SET} == 10 ? 10 : 100));  # (fine) label
            print join("", map { chr(int(rand(256))) } 1..3072) }' > "$dir/$f.bin"
    done
    cargo run --quiet --features "$features" --example cifar -- --dataset "cifar$set" --data "$dir" --limit 32 \
        --epochs 1 --batch-size 16 --blocks 1 --width 2 --out "$tmp/cifar$set-out"
    check_field "$tmp/cifar$set-out/summary.json" test_accuracy 0 1
done

echo "== cifar without data: a clear error naming the file"
if cargo run --quiet --features "$features" --example cifar -- --data "$tmp/nowhere" 2> "$tmp/err.txt"; then
    echo "FAIL: cifar ran without data"; exit 1
fi
grep -q "data_batch_1.bin: file not found" "$tmp/err.txt" && cat "$tmp/err.txt"
echo "examples: all ok"
