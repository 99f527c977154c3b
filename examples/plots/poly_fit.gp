# poly_fit.gp — the fits of examples/poly_fit.c (CS498 lecture 21, "A
# Concrete Problem" and "Which Model is Better?"): run in the directory the
# example wrote poly_fit_samples.dat and poly_fit_curves.dat into,
#   gnuplot examples/plots/poly_fit.gp   ->  poly_fit.png
# The y range is clipped to [-2, 2]: degree 20's swings in the gaps near the
# ends can reach far beyond it, and the clip keeps the rest readable.
set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output 'poly_fit.png'
set title "Degree 1 underfits, degree 20 overfits, L2 tames it: 80 training points of y = sin(x) + noise (lecture 21)"
set xlabel 'x'
set ylabel 'y'
set xrange [0:2*pi]
set yrange [-2:2]
set xtics ('0' 0, '{/Symbol p}/2' pi/2, '{/Symbol p}' pi, '3{/Symbol p}/2' 3*pi/2, '2{/Symbol p}' 2*pi)
set key top right box opaque font ',10'
set grid
plot 'poly_fit_samples.dat' using 1:($3 == 0 ? $2 : NaN) with points pt 7 ps 0.6 lc rgb '#555555' title 'training points (80)', \
     ''                     using 1:($3 == 1 ? $2 : NaN) with points pt 6 ps 0.8 lc rgb '#555555' title 'held-out points (20)', \
     'poly_fit_curves.dat'  using 1:2 with lines lw 3 dt 2 lc rgb 'black' title 'sin(x), the truth', \
     ''                     using 1:3 with lines lw 2 lc rgb '#1f77b4' title 'degree 1: high bias', \
     ''                     using 1:4 with lines lw 2 lc rgb '#2ca02c' title 'degree 4: about right', \
     ''                     using 1:5 with lines lw 2 lc rgb '#d62728' title 'degree 20: high variance', \
     ''                     using 1:6 with lines lw 2 lc rgb '#ff7f0e' title 'degree 20 + L2, lambda chosen by validation'
