/*
 * ops.c — launchers of the elementwise kernels (kernels/cuda/elementwise.cu).
 */
#include "gpu.h"
#include "gpu_internal.h"
#include "elementwise.h"

static const gpu_kernel unary_fwd = {"elementwise.cu", "aak_unary_fwd", NULL};
static const gpu_kernel unary_bwd = {"elementwise.cu", "aak_unary_bwd", NULL};

int gpu_unary_fwd(gpu_dev *d, int op, float a, float b, size_t n, gpu_ptr x, gpu_ptr y)
{
    aak_unary_args p = {.op = op, .a = a, .b = b, .n = (long long)n, .x = GPU_CF(x), .out = GPU_F(y)};
    return n ? gpu_launch(d, &unary_fwd, gpu_grid_for(n), &p, sizeof p) : 0;
}

int gpu_unary_bwd(gpu_dev *d, int op, float a, float b, size_t n, gpu_ptr x, gpu_ptr y, gpu_ptr dy, gpu_ptr dx)
{
    if (!dx || !n) return 0;
    aak_unary_args p = {.op = op, .a = a, .b = b, .n = (long long)n, .x = GPU_CF(x), .y = GPU_CF(y),
                        .dy = GPU_CF(dy), .out = GPU_F(dx)};
    return gpu_launch(d, &unary_bwd, gpu_grid_for(n), &p, sizeof p);
}
