#!/bin/bash
# run.sh [BUILD] — `make bench`: how fast tg trains the lecture MLP
# (784-512-512-10, ReLU, Adam lr 1e-3, one epoch of the 60,000 FashionMNIST
# training images) at batch 16, 64 and 256 on 1 thread and on every core,
# against PyTorch doing the same in the same invocation when Debian's
# python3-torch is installed. Before that, bench (bench/bench.c) measures
# the machine's GEMM peak, the products of one step, and evaluation.
#
# Run it on a quiet machine, one benchmark at a time: the numbers are
# wall-clock rates.
set -euo pipefail
BUILD=${1:-build}
TG=$BUILD/tg
cores=$(nproc)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# floating-point operations per training sample: forward, dW for all three
# layers, dx for the two that are not the input (2 per multiply-add)
flops=$((2 * (784 * 512 + 512 * 512 + 512 * 10) * 2 + 2 * (512 * 512 + 512 * 10)))

json() { sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$1"; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores; $(uname -sr)"
echo
"$BUILD/bench/bench" | tee "$out/kernels.txt"
peak=$(awk '/^PEAK/ { print $2 }' "$out/kernels.txt")
tg_eval=$(awk '/^EVAL_MS/ { print $2 }' "$out/kernels.txt")

have_torch=0
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then have_torch=1; fi

echo
echo "training: one epoch, $flops FLOP a sample (samples/s; t = threads)"
for bs in 16 64 256; do
    for t in 1 "$cores"; do
        "$TG" train --optimizer adam --lr 0.001 --batch-size "$bs" --epochs 1 --seed 0 --threads "$t" \
            --metrics "$out/tg_${bs}_$t.json" > /dev/null
        echo "tg $bs $t $(json "$out/tg_${bs}_$t.json" train_samples_per_s) - $(json "$out/tg_${bs}_$t.json" max_rss_mb)" \
            >> "$out/rates"
        if [ $have_torch = 1 ]; then
            /usr/bin/python3 bench/torch_mlp.py "$bs" "$t" >> "$out/rates"
        fi
    done
done

awk -v flops="$flops" -v peak="$peak" -v cores="$cores" -v torch=$have_torch -v tg_eval="$tg_eval" '
    { rate[$1, $2, $3] = $4; if ($1 == "torch") eval_ms[$3] = $5; rss[$1] = $6 > rss[$1] ? $6 : rss[$1] }
    END {
        printf "  %5s %10s %10s", "batch", "tg t1", "tg t" cores
        if (torch) printf " %10s %10s %12s", "torch t1", "torch t" cores, "tg / torch"
        printf " %9s %8s\n", "GFLOP/s", "of peak"
        split("16 64 256", sizes, " ")
        for (i = 1; i <= 3; i++) {
            bs = sizes[i]
            tg1 = rate["tg", bs, 1]; tgn = rate["tg", bs, cores]
            best = tg1 > tgn ? tg1 : tgn
            printf "  %5d %10.0f %10.0f", bs, tg1, tgn
            if (torch) {
                t1 = rate["torch", bs, 1]; tn = rate["torch", bs, cores]
                tbest = t1 > tn ? t1 : tn
                printf " %10.0f %10.0f %11.2fx", t1, tn, best / tbest
            }
            printf " %9.1f %7.1f%%\n", best * flops / 1e9, 100 * best * flops / 1e9 / peak
        }
        printf "  (tg / torch: each at its best thread count; peak: %.1f GFLOP/s, measured above)\n", peak
        printf "peak RSS of tg train: %.1f MB", rss["tg"]
        if (torch) printf "; of the PyTorch script: %.1f MB", rss["torch"]
        printf "\nevaluating the 10,000 test images: tg %.1f ms", tg_eval
        if (torch) {
            best = 1e30
            for (t in eval_ms) if (eval_ms[t] < best) best = eval_ms[t]
            printf ", PyTorch %.1f ms (its best)", best
        }
        printf "\n"
        if (!torch) print "(install python3-torch to compare with PyTorch)"
    }' "$out/rates"
