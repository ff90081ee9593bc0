#!/usr/bin/env bash
# bench/jit_overhead.sh — what `asiarch jit run` costs over a hand-written C
# program for the same kernel.
#
#   1. kernel time: the median of `jit run --bench` (the JIT-compiled kernel in
#      the strict sandbox, timed per call after a warm-up) against a
#      hand-written main() that calls the same source, compiled by the same
#      clang with the same flags (-O3 -march=native -fno-builtin), timed the
#      same way, -fno-plt (25 ms warm-up, then per-call clock_gettime over >= 100 ms);
#      alternating rounds, medians;
#   2. latency: the wall time of a whole `jit run FILE` (check, compile, the
#      runner, one correctness call against the reference), with a cold
#      bitcode cache (--no-cache) and warm; against compiling and running
#      the hand-written program (clang + run).
#
# usage: bench/jit_overhead.sh [KERNEL=examples/kernels/softmax.c] [ROUNDS=5] [SETS...]
# The hand-written driver knows softmax_rows' signature; another kernel needs
# its own driver (see make_main below).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
KERNEL=${1:-examples/kernels/softmax.c}
ROUNDS=${2:-5}
ROWS=${ROWS:-256}
COLS=${COLS:-1024}
CLANG=${ASIARCH_CLANG:-clang-14}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/main.c" <<'C'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
void softmax_rows(const float *x, float *y, int rows, int cols);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv)
{
    int rows = atoi(argv[1]), cols = atoi(argv[2]);
    float *x = malloc(sizeof *x * rows * cols), *y = malloc(sizeof *y * rows * cols);
    unsigned long long s = 1;   /* normal(0, 4), as the kernel file declares */
    for (long i = 0; i < (long)rows * cols; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u1 = ((s >> 11) + 1) * 0x1p-53;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u2 = (s >> 11) * 0x1p-53;
        x[i] = (float)(4.0 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    if (argc > 3) { softmax_rows(x, y, rows, cols); return y[0] < 0; }   /* once: the latency run */
    double t0 = now(), one = 0;
    do { double a = now(); softmax_rows(x, y, rows, cols); one = now() - a; } while (now() - t0 < 0.025);
    long n = (long)(0.1 / one); if (n < 10) n = 10; if (n > 10000) n = 10000;
    double *t = malloc(sizeof *t * n);
    for (long i = 0; i < n; i++) { double a = now(); softmax_rows(x, y, rows, cols); t[i] = now() - a; }
    qsort(t, n, sizeof *t, cmp);
    printf("%.9g\n", n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]));
    return y[0] < 0;
}
C
build_main() {
    # -fno-plt: libm called directly, as the JIT links it (absolute addresses)
    "$CLANG" -O3 -march=native -fno-builtin -fno-plt -nostdinc -Iinclude -include asiarch_kernel.h -c "$KERNEL" -o "$work/k.o"
    "$CLANG" -O2 -c "$work/main.c" -o "$work/main.o"
    "$CLANG" "$work/k.o" "$work/main.o" -lm -o "$work/hand"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
harness_median() {
    "$BUILD/asiarch" jit run "$KERNEL" --set rows=$ROWS --set cols=$COLS --bench --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["timing"]["median_s"])'
}
wall() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "machine: $cpu, $(nproc) cores; kernel: $KERNEL rows=$ROWS cols=$COLS; $CLANG -O3 -march=native"
build_main
: >"$work/h"; : >"$work/j"
for r in $(seq "$ROUNDS"); do
    "$work/hand" "$ROWS" "$COLS" >>"$work/h"
    harness_median >>"$work/j"
done
h=$(median <"$work/h"); j=$(median <"$work/j")
python3 -c "h,j=$h,$j; print(f'kernel median: hand-written main {h*1e6:.2f} us, asiarch jit run {j*1e6:.2f} us, ratio {j/h:.3f} (jit / hand)')"

: >"$work/cold"; : >"$work/warm"; : >"$work/handlat"
for r in $(seq "$ROUNDS"); do
    wall "$BUILD/asiarch" jit run "$KERNEL" --no-cache >>"$work/cold"
    wall "$BUILD/asiarch" jit run "$KERNEL" >>"$work/warm"
    wall bash -c "$(declare -f build_main); CLANG=$CLANG KERNEL=$KERNEL work=$work build_main && $work/hand $ROWS $COLS once" >>"$work/handlat"
done
printf 'latency of a whole run, one call (median of %d): jit run cold cache %s ms, warm %s ms; clang + hand-written main %s ms\n' \
    "$ROUNDS" "$(median <"$work/cold")" "$(median <"$work/warm")" "$(median <"$work/handlat")"
