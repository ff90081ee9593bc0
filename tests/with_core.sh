#!/bin/sh
# with_core.sh CORE PROGRAM [ARGS...] — run a test with OpenBLAS's CORE kernels
# (OPENBLAS_CORETYPE), so that the suite checks every kernel family, not only
# the one this CPU gets. Exits 77 (ctest: skipped, with the reason) where the
# CPU cannot run that family's instructions.
core=$1; shift
case $core in
    SkylakeX|Cooperlake) need=avx512f ;;
    Haswell|Zen) need=avx2 ;;
    Sandybridge) need=avx ;;
    *) need= ;;
esac
if [ -n "$need" ] && ! grep -qw "$need" /proc/cpuinfo; then
    echo "skipped: this CPU has no $need, which OpenBLAS's $core kernels need"
    exit 77
fi
OPENBLAS_CORETYPE=$core exec "$@"
