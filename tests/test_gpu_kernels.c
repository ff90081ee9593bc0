/*
 * test_gpu_kernels.c — every CUDA kernel of kernels/cuda against the CPU
 * kernel it mirrors, forward and backward, on the emulated device
 * (gpu_emu.h): the same launchers and kernel sources the GPU runs.
 *
 * Tolerances: the two sides evaluate the same formulas in float; they
 * differ by libm's expf against the CPU's polynomial (1.4 ulp) and by
 * contraction into FMAs, a few ulps through each op, so 1e-5 relative.
 * Reductions and GEMMs sum in different orders and get gamma_n bounds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "asiarch.h"
#include "gpu_emu.h"
#include "kernels.h"
#include "test.h"

static gpu_dev *dev;

/* Device result within tol of the CPU's, with the op's name when not. */
#define CHECK_CLOSE(ptr, ref, n, tol, ...)                                                \
    do {                                                                                  \
        size_t at_ = 0;                                                                   \
        double e_ = gpu_emu_max_err(dev, (ptr), (ref), (n), &at_);                        \
        if (!(e_ <= (tol))) fprintf(stderr, "error %.3g at element %zu > %.3g\n", e_, at_, (double)(tol)); \
        CHECK_MSG(e_ <= (tol), __VA_ARGS__);                                              \
    } while (0)

/* ---- elementwise ----------------------------------------------------------------- */

/* Inputs inside each op's domain (log, sqrt, rsqrt need x > 0). */
static int positive_only(int op) { return op == AA_OP_SQRT || op == AA_OP_RSQRT || op == AA_OP_LOG; }

TEST(unary_forward_and_backward_match_the_cpu)
{
    const size_t n = 3000;   /* not a multiple of the block: the tail runs too */
    for (int op = AA_OP_SCALE; op < AA_OP_UNARY_END; op++) {
        float a = op == AA_OP_CLAMP ? -0.5f : 1.7f, b = op == AA_OP_CLAMP ? 0.8f : 0.0f;
        float *x = gpu_test_randoms(n, positive_only(op) ? 0.05f : -4.0f, 4.0f, 100 + op);
        float *dy = gpu_test_randoms(n, -1, 1, 200 + op), *dx = gpu_test_randoms(n, -1, 1, 300 + op);
        float *y = malloc(n * sizeof *y);
        k_unary_fwd(op, a, b, n, x, y);
        gpu_ptr gx = gpu_emu_put(dev, x, n), gy = gpu_alloc(dev, n * sizeof(float));
        CHECK(gpu_unary_fwd(dev, op, a, b, n, gx, gy) == 0);
        CHECK_CLOSE(gy, y, n, 1e-5, "unary op %d forward", op);

        gpu_ptr gdy = gpu_emu_put(dev, dy, n), gdx = gpu_emu_put(dev, dx, n);
        gpu_ptr gyc = gpu_emu_put(dev, y, n);   /* the backward reads the CPU's y: one op at a time */
        k_unary_bwd(op, a, b, n, x, y, dy, dx);
        CHECK(gpu_unary_bwd(dev, op, a, b, n, gx, gyc, gdy, gdx) == 0);
        CHECK_CLOSE(gdx, dx, n, 1e-5, "unary op %d backward", op);
        gpu_free(dev, gx); gpu_free(dev, gy); gpu_free(dev, gdy); gpu_free(dev, gdx); gpu_free(dev, gyc);
        free(x); free(y); free(dy); free(dx);
    }
}

int main(void)
{
    dev = gpu_test_open();
    RUN(unary_forward_and_backward_match_the_cpu);
    gpu_close(dev);
    return test_summary();
}
