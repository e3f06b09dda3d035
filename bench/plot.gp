# bench/plot.gp: S1a latency (and server CPU per delivery) vs offered load, from compare.py's s1a.dat.
#
#   gnuplot -e "datafile='DIR/s1a.dat'; outfile='DIR/latency_vs_load.png'; cpufile='DIR/cpu_vs_load.png'" bench/plot.gp
#
# s1a.dat columns: 1 rate (msg/s), 2-3 bp-none p50/p99, 4-5 ref p50/p99, 6-7 bp-group p50/p99 (ms),
#                  8 bp-none, 9 ref, 10 bp-group server CPU µs per delivered message. NaN = no data.
if (!exists("datafile")) datafile = 's1a.dat'
if (!exists("outfile")) outfile = 'latency_vs_load.png'
if (!exists("s1desc")) s1desc = '100 channels x 10 users, 1 KiB'

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1000,650 enhanced font "sans,11"
} else {
    set terminal png size 1000,650
}
set datafile missing "NaN"
set key top left box opaque
set grid xtics ytics mytics
set logscale y 10
set logscale x 2
set xlabel "offered load (messages/s sent; each is delivered to every other user of its channel)"
set format y "%g"
set xtics nomirror
set offsets graph 0.05, graph 0.05, 0, 0

set output outfile
set title "S1a fan-out (".s1desc."): end-to-end latency vs load, medians (log y)"
set ylabel "end-to-end latency (ms)"
plot datafile using 1:2:xtic(1) with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "blindpad (fsync none) p50", \
     ''       using 1:3 with linespoints lw 2 pt 5 dt 2 lc rgb "#1f77b4" title "blindpad (fsync none) p99", \
     ''       using 1:6 with linespoints lw 1 pt 6 lc rgb "#2ca02c" title "blindpad (fsync group) p50", \
     ''       using 1:7 with linespoints lw 1 pt 4 dt 2 lc rgb "#2ca02c" title "blindpad (fsync group) p99", \
     ''       using 1:4 with linespoints lw 2 pt 7 lc rgb "#d62728" title "reference (CryptPad) p50", \
     ''       using 1:5 with linespoints lw 2 pt 5 dt 2 lc rgb "#d62728" title "reference (CryptPad) p99"
set output

if (exists("cpufile")) {
    set output cpufile
    set title "S1a fan-out (".s1desc."): server CPU per delivered message vs load, medians (log y)"
    set ylabel "server CPU (µs) per delivered message"
    plot datafile using 1:8:xtic(1) with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "blindpad (fsync none)", \
         ''       using 1:10 with linespoints lw 1 pt 6 lc rgb "#2ca02c" title "blindpad (fsync group)", \
         ''       using 1:9 with linespoints lw 2 pt 7 lc rgb "#d62728" title "reference (CryptPad)"
    set output
}
