/* cpu_shim.c — an LD_PRELOAD library for test_cpu: OpenBLAS reports the
 * "Prescott" kernels, as Debian's 0.3.21 does on a CPU newer than its table,
 * unless OPENBLAS_CORETYPE names a family. It stands in for a CPU this
 * machine is not; everything else is the real library. */
#include <dlfcn.h>
#include <stdlib.h>

const char *openblas_get_corename(void)
{
    const char *named = getenv("OPENBLAS_CORETYPE");
    if (!named || !*named) return "Prescott";
    const char *(*real)(void) = (const char *(*)(void))dlsym(RTLD_NEXT, "openblas_get_corename");
    return real ? real() : "unknown";
}
