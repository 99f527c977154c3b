#!/bin/bash
# experiments.sh [--quick] [TG] [OUT] — the lectures' experiments: the
# FashionMNIST demo grid of COMP4551, the learning-rate sweep of 10-701, AdamW
# with warmup + cosine and Lasso of CS498 lecture 21, the Rosenbrock
# comparison of lesson 63, and the lectures' MLP against two CNNs (issue 15)
# with the first convolution's filters. Every training run is one `tg train
# ... --log`, the command users already know; `tg report` turns the runs into
# summary.csv, plots.gp and REPORT.md, and gnuplot draws the figures.
#
#   --quick   a 6,000-image subset, 1 epoch (half a minute instead of ten)
#   TG        the tg binary (build/tg); OUT the results directory (results)
#   $JOBS     how many runs at a time (2)
set -euo pipefail

quick=0
if [ "${1:-}" = --quick ]; then quick=1; shift; fi
TG=$(realpath "${1:-build/tg}")
OUT=${2:-results}
EXAMPLES=$(dirname "$TG")/examples
mkdir -p "$OUT/runs" "$OUT/figures"
rm -f "$OUT"/runs/*.csv "$OUT"/runs/*.json "$OUT"/runs/*.out "$OUT"/runs/*.row "$OUT"/runs/*.ckpt \
    "$OUT"/runs/*.safetensors "$OUT"/figures/*.png

if [ $quick = 1 ]; then
    echo quick > "$OUT/mode"
    DATA="--train-samples 6000"
    GRID_EPOCHS=1 SWEEP_EPOCHS=1 WARMUP_EPOCHS=1 LASSO_EPOCHS=100 # Lasso is tiny: always in full
else
    echo full > "$OUT/mode"
    DATA=""
    GRID_EPOCHS=10 SWEEP_EPOCHS=2 WARMUP_EPOCHS=5 LASSO_EPOCHS=100
fi
TRAIN_SAMPLES=$([ $quick = 1 ] && echo 6000 || echo 60000)

# Two runs at a time (two cores; $JOBS to change it), each on one thread;
# results do not depend on the order in which they finish.
JOBS=${JOBS:-2}
jobs_running() { jobs -rp | wc -l; }

# train NAME GROUP OPTIMIZER LR MOMENTUM BATCH EPOCHS [more tg train flags]
launched=0
train() {
    launched=$((launched + 1))
    local row=$(printf '%02d' $launched)
    local name=$1 group=$2 opt=$3 lr=$4 mt=$5 bs=$6 epochs=$7
    shift 7
    local flags=(--optimizer "$opt" --lr "$lr" --batch-size "$bs" --epochs "$epochs" --seed 0 --threads 1
                 --log "$OUT/runs/$name.csv" --metrics "$OUT/runs/$name.json")
    [ "$opt" = sgd ] && flags+=(--momentum "$mt")
    while [ "$(jobs_running)" -ge "$JOBS" ]; do wait -n || true; done
    (
        start=$(date +%s.%N)
        code=0
        "$TG" train "${flags[@]}" $DATA "$@" > "$OUT/runs/$name.out" 2>&1 || code=$?
        seconds=$(echo "$(date +%s.%N) - $start" | bc)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\n' "$name" "$group" "$opt" "$lr" "$mt" "$bs" "$epochs" \
            "$code" "$seconds" > "$OUT/runs/$row.row"
        echo "  $name: $(tail -n 1 "$OUT/runs/$name.out")"
    ) &
}

G=$GRID_EPOCHS
# Launched first: they are the longest runs, so the rest fill the other slot.
echo "The MLP against two CNNs (Adam lr 0.001, batch 64; the MLP is the grid's adam_lr0.001_bs64)"
train cnn cnn adam 0.001 0 64 $G --model cnn --save "$OUT/runs/cnn.ckpt"
train cnn-bn cnn adam 0.001 0 64 $G --model cnn-bn

echo "The demo grid (SGD and Adam, one hyperparameter at a time)"
train sgd_lr0.001_mt0_bs64 grid sgd 0.001 0 64 $G
train sgd_lr0.001_mt0_bs16 grid sgd 0.001 0 16 $G
train sgd_lr0.001_mt0_bs256 grid sgd 0.001 0 256 $G
train sgd_lr10_mt0_bs64 grid sgd 10 0 64 $G
train sgd_lr0.1_mt0_bs64 grid sgd 0.1 0 64 $G
train sgd_lr0.001_mt0.5_bs64 grid sgd 0.001 0.5 64 $G
train sgd_lr0.001_mt0.9_bs64 grid sgd 0.001 0.9 64 $G
train adam_lr0.001_bs64 grid adam 0.001 0 64 $G
train adam_lr0.001_bs16 grid adam 0.001 0 16 $G
train adam_lr0.001_bs256 grid adam 0.001 0 256 $G
train adam_lr0.1_bs64 grid adam 0.1 0 64 $G
train adam_lr0.01_bs64 grid adam 0.01 0 64 $G
train adam_lr1e-05_bs64 grid adam 0.00001 0 64 $G

echo "The learning-rate sweep (SGD, momentum 0.9)"
for lr in 0.0001 0.001 0.01 0.1 1 10; do
    train sweep_lr$lr sweep sgd $lr 0.9 64 $SWEEP_EPOCHS
done

echo "AdamW: constant lr against linear warmup + cosine decay (warmup: 5% of the steps)"
steps=$(( (TRAIN_SAMPLES + 63) / 64 * WARMUP_EPOCHS ))
train warmup_constant warmup adamw 0.001 0 64 $WARMUP_EPOCHS
train warmup_cosine warmup adamw 0.001 0 64 $WARMUP_EPOCHS --schedule warmup_cosine \
    --warmup $(( steps / 20 )) --total $steps
wait

# the CNN's weights under torch's keys, for the report's picture of its first layer
if [ -f "$OUT/runs/cnn.ckpt" ]; then "$TG" export "$OUT/runs/cnn.ckpt" "$OUT/runs/cnn.safetensors"; fi

echo "Lasso with Adam, and the Rosenbrock comparison"
"$EXAMPLES/lasso" $LASSO_EPOCHS > "$OUT/lasso.csv"
"$TG" optimize rosenbrock --compare --paths "$OUT/runs" > "$OUT/rosenbrock.txt"

{
    printf 'name\tgroup\toptimizer\tlr\tmomentum\tbatch_size\tepochs\texit\tseconds\n'
    cat "$OUT"/runs/*.row   # in launch order
} > "$OUT/manifest.tsv"
"$TG" report "$OUT"
(cd "$OUT" && gnuplot plots.gp)
echo "$(ls "$OUT"/figures/*.png | wc -l) figures in $OUT/figures; read $OUT/REPORT.md"
