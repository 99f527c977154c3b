# linear_classifier.gp — the training loss of the linear classifier, hinge and
# softmax, each with and without the L2 penalty (examples/linear_classifier.c).
# Run in the directory holding linear_classifier.dat:
#   build/examples/linear_classifier [--full] DIR && cd DIR && gnuplot .../examples/plots/linear_classifier.gp
set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output 'linear_classifier.png'
set title "Linear classifier s = Wx + b on FashionMNIST: training loss L = 1/N {/Symbol S}_i L_i + {/Symbol l} R(W)"
set xlabel 'epoch'
set ylabel 'training loss (mean over a tenth of an epoch)'
set key top right
set grid
set yrange [0:*]
plot 'linear_classifier.dat' using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'hinge (multiclass SVM), {/Symbol l} = 0', \
     ''                      using 1:3 with lines lw 2 dt 2 lc rgb '#1f77b4' title 'hinge, {/Symbol l} = 0.01', \
     ''                      using 1:4 with lines lw 2 lc rgb '#d62728' title 'softmax cross-entropy, {/Symbol l} = 0', \
     ''                      using 1:5 with lines lw 2 dt 2 lc rgb '#d62728' title 'softmax, {/Symbol l} = 0.01'
