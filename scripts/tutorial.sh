#!/bin/sh
# tutorial.sh BUILD OUT — runs every program of docs/TUTORIAL.md and every
# lecture example in examples/, in its short mode where the full one is
# long, and draws their pictures into OUT: the graph of the tutorial's
# network (Graphviz) and each example's plot (gnuplot, examples/plots/).
# Stops at the first program that fails.
set -eu
build=$1
out=$2
repo=$(pwd)
mkdir -p "$out"

run() {
    printf '\n===== %s\n' "$*"
    "$@"
}

# docs/TUTORIAL.md, sections 3, 4 and 6
run "$build/tg" trace --dot "$out/tutorial_mlp.dot"
run "$build/examples/tiny_mlp" "$out/tiny_mlp.dot"
for graph in tutorial_mlp tiny_mlp; do
    dot -Tpng "$out/$graph.dot" -o "$out/$graph.png"
done
run "$build/tg" trace 'n = x1*w1 + x2*w2 + b; o = tanh(n)' x1=2 x2=0 w1=-3 w2=1 b=6.8813735870195432
run "$build/examples/fashion_mnist" 1

# the lectures' examples (docs/TUTORIAL.md, section 7); each writes its
# plot's data into OUT
for example in gradient_check random_search linear_regression poly_fit linear_classifier svrg; do
    run "$build/examples/$example" "$out"
done
for plot in "$repo"/examples/plots/*.gp; do
    (cd "$out" && gnuplot "$plot")
done

printf '\ntutorial: every program ran; pictures in %s:\n' "$out"
ls "$out"/*.png
