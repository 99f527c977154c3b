# svrg.gp — the curves of examples/svrg.c (lesson 63, "Variance Reduction"):
# run in the directory the example wrote svrg.dat into,
#   gnuplot examples/plots/svrg.gp   ->  svrg.png
set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output 'svrg.png'
set title "L2-regularised logistic regression: SGD's noise floor and SVRG's linear convergence (lesson 63)"
set xlabel 'per-example gradient evaluations / n  (epochs of work)'
set ylabel 'suboptimality f(w) - f*'
set logscale y
set format y '10^{%L}'
set key right center
set grid
plot 'svrg.dat' using 1:3 with lines lw 1 title 'SGD, constant step {/Symbol h}', \
     ''         using 1:4 with lines lw 2 title 'SGD, decaying step {/Symbol h} / (1 + {/Symbol l h} k)', \
     ''         using 1:5 with lines lw 2 title 'SVRG, the same constant step {/Symbol h}, snapshot every 2n steps'
