#!/bin/bash
# run.sh [BUILD] — `make bench`: how fast tg trains the lecture MLP
# (784-512-512-10, ReLU, Adam lr 1e-3, one epoch of the 60,000 FashionMNIST
# training images) at batch 16, 64 and 256 on 1 thread and on every core,
# against PyTorch doing the same in the same invocation when Debian's
# python3-torch is installed. Before that, bench (bench/bench.c) measures
# the machine's GEMM peak, the products of one step, and evaluation. Then
# the same for the CNN (`--model cnn`, Adam lr 1e-3, batch 64): one epoch of
# training, the 10,000-image evaluation and peak memory, against
# bench/torch_cnn.py. With build/tg-mpi (make mpi), one process on every
# core against one rank a core under mpirun.
#
# Run it on a quiet machine, one benchmark at a time: the numbers are
# wall-clock rates. Every configuration runs BENCH_REPEAT times (2), and
# each side is reported at its best run: a shared machine's memory
# bandwidth varies from minute to minute.
set -euo pipefail
repeat=${BENCH_REPEAT:-2}
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
conv_share=$(awk '/^CONV_SHARE/ { print $2 }' "$out/kernels.txt")
tg_eval=$(awk '/^EVAL_MS/ { print $2 }' "$out/kernels.txt")

have_torch=0
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then have_torch=1; fi
# the BLAS PyTorch's Linear layers call: Debian's alternative for libblas.so.3
if [ $have_torch = 1 ]; then
    blas=$(readlink -e /etc/alternatives/libblas.so.3-* 2>/dev/null | head -n 1 || true)
    echo "PyTorch's BLAS: ${blas:-not found}"
    case "$blas" in
    *openblas*) ;;
    *) echo "bench: PyTorch is not calling OpenBLAS, so its MLP numbers below are far from its best and the" \
            "ratios flatter tg; install libopenblas0-pthread (make bench does as root) and run again" >&2 ;;
    esac
fi

echo
echo "training: one epoch, $flops FLOP a sample (samples/s, best of $repeat; t = threads)"
for rep in $(seq "$repeat"); do
for bs in 16 64 256; do
    for t in 1 "$cores"; do
        "$TG" train --optimizer adam --lr 0.001 --batch-size "$bs" --epochs 1 --seed 0 --threads "$t" \
            --metrics "$out/tg_${bs}_$t.json" > /dev/null
        echo "tg $bs $t $(json "$out/tg_${bs}_$t.json" train_samples_per_s) - $(json "$out/tg_${bs}_$t.json" max_rss_mb)" \
            >> "$out/rates"
        # PyTorch's threads, and those of the BLAS it calls (OpenBLAS, when
        # Debian's libopenblas0 provides libblas.so.3): every combination,
        # and the best counts
        for blas in 1 "$cores"; do
            if [ $have_torch = 1 ]; then
                OPENBLAS_NUM_THREADS=$blas /usr/bin/python3 bench/torch_mlp.py "$bs" "$t" |
                    sed "s/^torch $bs $t /torch $bs $t\/$blas /" >> "$out/rates"
            fi
        done
    done
done
done

cat "$out/rates" > "${BENCH_RATES:-/dev/null}" # every run, for docs/PERFORMANCE.md
awk -v flops="$flops" -v peak="$peak" -v cores="$cores" -v torch=$have_torch -v tg_eval="$tg_eval" '
    $1 == "tg" && $4 > rate[$2, $3] { rate[$2, $3] = $4 }
    $1 == "torch" && $4 > best[$2] { best[$2] = $4; setting[$2] = $3 }
    $1 == "torch" && (!($2 in eval_ms) || $5 < eval_ms[$2]) { eval_ms[$2] = $5 }
    { rss[$1] = $6 > rss[$1] ? $6 : rss[$1] }
    END {
        printf "  %5s %10s %10s", "batch", "tg t1", "tg t" cores
        if (torch) printf " %11s %8s %11s", "torch best", "(t/blas)", "tg / torch"
        printf " %9s %8s\n", "GFLOP/s", "of peak"
        split("16 64 256", sizes, " ")
        for (i = 1; i <= 3; i++) {
            bs = sizes[i]
            tg1 = rate[bs, 1]; tgn = rate[bs, cores]
            tgbest = tg1 > tgn ? tg1 : tgn
            printf "  %5d %10.0f %10.0f", bs, tg1, tgn
            if (torch) printf " %11.0f %8s %10.2fx", best[bs], "(" setting[bs] ")", tgbest / best[bs]
            printf " %9.1f %7.1f%%\n", tgbest * flops / 1e9, 100 * tgbest * flops / 1e9 / peak
        }
        printf "  tg: samples/s on 1 and %d threads; PyTorch: the best of %d and 1 threads for itself and\n", cores, cores
        printf "  for its BLAS (t/blas); GFLOP/s and share of the peak measured above (%.1f) for tg at its best\n", peak
        printf "peak RSS of tg train: %.1f MB", rss["tg"]
        if (torch) printf "; of the PyTorch script: %.1f MB", rss["torch"]
        printf "\nevaluating the 10,000 test images: tg %.1f ms", tg_eval
        if (torch) {
            e = 1e30
            for (b in eval_ms) if (eval_ms[b] < e) e = eval_ms[b]
            printf ", PyTorch %.1f ms (its best)", e
        }
        printf "\n"
        if (!torch) print "(install python3-torch to compare with PyTorch)"
    }' "$out/rates"

# ---- the lectures' recipe with plain SGD (lr 1e-3, batch 64) ----
echo
echo "SGD (lr 1e-3, no momentum), batch 64: one epoch (samples/s, best of $repeat)"
for rep in $(seq "$repeat"); do
    for t in 1 "$cores"; do
        "$TG" train --optimizer sgd --lr 0.001 --batch-size 64 --epochs 1 --seed 0 --threads "$t" \
            --metrics "$out/sgd_$t.json" > /dev/null
        echo "tg $t $(json "$out/sgd_$t.json" train_samples_per_s)" >> "$out/sgd"
        for blas in 1 "$cores"; do
            if [ $have_torch = 1 ]; then
                OPENBLAS_NUM_THREADS=$blas /usr/bin/python3 bench/torch_mlp.py 64 "$t" 1 sgd |
                    awk -v t="$t/$blas" '{ print "torch", t, $4 }' >> "$out/sgd"
            fi
        done
    done
done
awk -v cores="$cores" -v torch=$have_torch '
    $1 == "tg" && $3 > tg[$2] { tg[$2] = $3 }
    $1 == "torch" && $3 > best { best = $3; setting = $2 }
    END {
        top = tg[1] > tg[cores] ? tg[1] : tg[cores]
        printf "  tg %.0f samples/s on 1 thread, %.0f on %d", tg[1], tg[cores], cores
        if (torch) printf "; PyTorch best %.0f (t/blas %s): %.2fx", best, setting, top / best
        printf "\n"
    }' "$out/sgd"

# ---- the CNN ----
cnn_flops=$(( 2 * (32 * 784 * 9 * 2 + 64 * 196 * 288 * 3 + 3136 * 128 * 3 + 128 * 10 * 3) ))
echo
echo "CNN (--model cnn, Adam lr 1e-3, batch 64): one epoch, $cnn_flops FLOP a sample (best of $repeat)"
for rep in $(seq "$repeat"); do
    for t in 1 "$cores"; do
        "$TG" train --model cnn --optimizer adam --lr 0.001 --batch-size 64 --epochs 1 --seed 0 --threads "$t" \
            --save "$out/cnn.ckpt" --metrics "$out/cnn_$t.json" > /dev/null
        echo "tg $t $(json "$out/cnn_$t.json" train_samples_per_s) $(json "$out/cnn_$t.json" max_rss_mb)" >> "$out/cnn"
        "$TG" eval "$out/cnn.ckpt" --threads "$t" --metrics "$out/cnn_eval.json" > /dev/null
        echo "tg_eval $t $(json "$out/cnn_eval.json" seconds)" >> "$out/cnn"
        for blas in 1 "$cores"; do
            if [ $have_torch = 1 ]; then
                OPENBLAS_NUM_THREADS=$blas /usr/bin/python3 bench/torch_cnn.py cnn "$t" 1 |
                    awk -v t="$t/$blas" '{ print "torch", t, $8; print "torch_eval", t, $10 }' >> "$out/cnn"
            fi
        done
    done
done
cat "$out/cnn" > "${BENCH_CNN:-/dev/null}" # every run, for docs/PERFORMANCE.md
awk -v flops="$cnn_flops" -v peak="$peak" -v cores="$cores" -v torch=$have_torch -v share="$conv_share" '
    function best(key, v) { if (!(key in top) || v > top[key]) top[key] = v }
    function least(key, v) { if (!(key in low) || v < low[key]) low[key] = v }
    $1 == "tg" { best("tg" $2, $3); rss = $4 > rss ? $4 : rss }
    $1 == "torch" { if ($3 > top["torch"]) { top["torch"] = $3; setting = $2 } }
    $1 == "tg_eval" { least("tg_eval" $2, $3) }
    $1 == "torch_eval" { least("torch_eval", $3) }
    END {
        tg = top["tg1"] > top["tg" cores] ? top["tg1"] : top["tg" cores]
        printf "  training: tg %.0f samples/s on 1 thread, %.0f on %d", top["tg1"], top["tg" cores], cores
        if (torch) printf "; PyTorch best %.0f (t/blas %s): %.2fx", top["torch"], setting, tg / top["torch"]
        printf "\n  tg at its best: %.1f GFLOP/s, %.1f%% of the peak (%.1f)\n", tg * flops / 1e9, 100 * tg * flops / 1e9 / peak, peak
        e = low["tg_eval1"] < low["tg_eval" cores] ? low["tg_eval1"] : low["tg_eval" cores]
        printf "  evaluating the 10,000 test images: tg %.3f s (1 thread %.3f)", e, low["tg_eval1"]
        if (torch) printf ", PyTorch %.2f s (batches of 1,000, its best)", low["torch_eval"]
        printf "\n  peak RSS of tg train --model cnn: %.1f MB\n", rss
        printf "  its convolution layers (forward and backward, on every core): %.1f%% of the GEMM peak\n", share
    }' "$out/cnn"

# ---- more than one process (docs/SCALING.md) ----
# One process on every core against one rank a core (make mpi builds
# build/tg-mpi): the same global batch of 64, the MLP and the CNN.
if [ -x "$BUILD/tg-mpi" ] && command -v mpirun > /dev/null; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    echo
    echo "one process of $cores threads against $cores ranks of 1 thread (mpirun), Adam, batch 64: one epoch (samples/s, best of $repeat)"
    for rep in $(seq "$repeat"); do
        for model in mlp cnn; do
            "$TG" train --model "$model" --optimizer adam --lr 0.001 --batch-size 64 --epochs 1 --seed 0 \
                --threads "$cores" --metrics "$out/p_$model.json" > /dev/null
            echo "$model process $(json "$out/p_$model.json" train_samples_per_s)" >> "$out/mpi"
            mpirun --oversubscribe -np "$cores" "$BUILD/tg-mpi" train --model "$model" --optimizer adam --lr 0.001 \
                --batch-size 64 --epochs 1 --seed 0 --threads 1 --metrics "$out/r_$model.json" > /dev/null
            echo "$model ranks $(json "$out/r_$model.json" train_samples_per_s)" >> "$out/mpi"
        done
    done
    # the gradients of the MLP (669,706 floats) and of the CNN (421,642)
    mpirun --oversubscribe -np "$cores" "$BUILD/bench/allreduce" 669706 421642 | sed 's/^ALLREDUCE/  all-reduce:/'
    awk -v cores="$cores" '
        $3 > top[$1 " " $2] { top[$1 " " $2] = $3 }
        END {
            for (m = 1; m <= 2; m++) {
                model = m == 1 ? "mlp" : "cnn"
                printf "  %s: 1 x %d threads %.0f samples/s, %d ranks x 1 thread %.0f (%.2fx)\n", model, cores,
                       top[model " process"], cores, top[model " ranks"], top[model " ranks"] / top[model " process"]
            }
        }' "$out/mpi"
fi
