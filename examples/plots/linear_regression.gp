# linear_regression.gp — the loss curves of examples/linear_regression.c
# (10-701 lecture 6, "How does it end? Three common endings"): run in the
# directory the example wrote linear_regression.dat into,
#   gnuplot examples/plots/linear_regression.gp   ->  linear_regression.png
set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output 'linear_regression.png'
set title "Linear regression, one objective, six optimizers (lecture 6)"
set xlabel 'epoch (passes over the N = 500 examples)'
set ylabel 'training loss minus the optimum, L(w) - L(w*)'
set logscale y
set format y '10^{%L}'
set key bottom left
set grid
plot 'linear_regression.dat' using 1:2 with lines lw 2 title 'GD, fixed step 1/L (1 update per epoch)', \
     ''                      using 1:3 with lines lw 1 title 'SGD, B = 1, constant step: noise floor', \
     ''                      using 1:4 with lines lw 2 title 'SGD, B = 1, decaying step', \
     ''                      using 1:5 with lines lw 2 title 'mini-batch SGD, B = 32, decaying step', \
     ''                      using 1:6 with lines lw 2 title 'SGD + momentum 0.9, B = 32, decaying step', \
     ''                      using 1:7 with lines lw 2 title 'Adam, B = 32, decaying step'
