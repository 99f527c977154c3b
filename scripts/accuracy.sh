#!/bin/sh
# accuracy.sh [tg] — trains the lectures' MLP with Adam (lr 1e-3, batch 64,
# seed 0) for 10 epochs and checks the test accuracy after epoch 2 and 10
# against the thresholds PyTorch meets (0.864 and 0.893 there): at least
# 0.86 and 0.885. Fails if either is missed.
set -eu
TG=${1:-build/tg}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$TG" train --optimizer adam --lr 0.001 --batch-size 64 --epochs 10 --seed 0 --log "$dir/log.csv" \
    --metrics "$dir/metrics.json"
acc2=$(awk -F, '$1 == 2 && $7 != "" { print $7 }' "$dir/log.csv")
acc10=$(awk -F, '$1 == 10 && $7 != "" { print $7 }' "$dir/log.csv")
echo "test accuracy after 2 epochs: $acc2 (needs >= 0.86), after 10: $acc10 (needs >= 0.885)"
awk -v a="$acc2" -v b="$acc10" 'BEGIN { exit !(a >= 0.86 && b >= 0.885) }'
