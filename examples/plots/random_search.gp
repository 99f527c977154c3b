# random_search.gp — "Random search (bad idea!)" against "follow the slope"
# (examples/random_search.c, EECS 498 chapter 4, 4.5.3-4.5.4): the best
# training loss so far against the number of loss evaluations. Run in the
# directory holding random_search.dat:
#   build/examples/random_search [--full] DIR && cd DIR && gnuplot .../examples/plots/random_search.gp
set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output 'random_search.png'
set title "Linear softmax classifier on FashionMNIST (7850 parameters): random search vs gradient descent"
set xlabel 'loss evaluations over the training set'
set ylabel 'training loss (cross-entropy)'
set logscale x
set grid
set key bottom left
set yrange [0:2.6]
set autoscale xfix
stats 'random_search.dat' using 3 nooutput
rs_best = STATS_min
stats 'random_search.dat' using 5 nooutput
gd_best = STATS_min
n_evals = STATS_records
set label sprintf('best of %d random W: %.4f (ln 10 = %.4f)', n_evals, rs_best, log(10)) at graph 0.98, first rs_best + 0.12 right
set label sprintf('after %d steps: %.3f', n_evals - 1, gd_best) at first n_evals, first gd_best - 0.1 right
plot 'random_search.dat' using 1:3 with lines lw 2.5 lc rgb '#d62728' title 'random search (W = 0.0001 randn): best so far', \
     ''                  using 1:5 with lines lw 2.5 lc rgb '#1f77b4' title 'gradient descent (follow the slope): W {/Symbol \254} W - {/Symbol h} {/Symbol \321}L', \
     log(10) with lines dt 2 lc rgb '#555555' title 'ln 10: uniform scores (chance)'
