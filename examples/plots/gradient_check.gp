# gradient_check.gp — the error of the numerical gradient against the step h,
# forward and central differences, in float32 (examples/gradient_check.c,
# EECS 498 chapter 4, "Numerical Gradient"). Run in the directory holding
# gradient_check.dat:
#   build/examples/gradient_check DIR && cd DIR && gnuplot .../examples/plots/gradient_check.gp
set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output 'gradient_check.png'
set title "Numerical vs analytic gradient of a softmax classifier (500 parameters, float32)"
set xlabel 'finite-difference step h'
set ylabel 'relative error  max|a - n| / max|a|'
set logscale xy
set format x '10^{%T}'
set format y '10^{%T}'
set xrange [2e-7:5]
set grid
set key top center
set label 'truncation error' at 0.7, 2e-4 center
set label 'rounding error, about {/Symbol e} |L| / h' at 1.5e-5, 2e-4 center
set label "the slide's {/Symbol D} = 10^{-5}" at 1.3e-5, 0.22 left
plot 'gradient_check.dat' using 1:2 with linespoints pt 7 lw 2 lc rgb '#d62728' title '(L(w+h) - L(w)) / h   (the slide, error O(h))', \
     ''                   using 1:3 with linespoints pt 5 lw 2 lc rgb '#1f77b4' title '(L(w+h) - L(w-h)) / 2h   (error O(h^2))'
