/* ops_norm.h — declarations of gpu/ops_norm.c (folded into gpu.h when the
 * family is complete). Included by gpu.h only. Shapes and conventions as
 * the k_ functions of kernels.h: backward launchers accumulate, a 0
 * gradient is skipped; each returns 0, or -1 with gpu_error(d). */
#ifndef ASIARCH_GPU_OPS_NORM_H
#define ASIARCH_GPU_OPS_NORM_H

/* y = op(x) along axis, op an aa_reduce_op (k_reduce_fwd). */
int gpu_reduce_fwd(gpu_dev *d, int op, const k_shape *sx, int axis, gpu_ptr x, gpu_ptr y);
/* dx += the gradient of op along axis; x is read by VAR and ENTROPY, y by SOFTMAX only (k_reduce_bwd). */
int gpu_reduce_bwd(gpu_dev *d, int op, const k_shape *sx, int axis, gpu_ptr x, gpu_ptr y, gpu_ptr dy, gpu_ptr dx);

/* y = rmsnorm(x) w over rows of D; rstd[rows] saved (0: not kept) (k_rmsnorm_fwd). */
int gpu_rmsnorm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr y, gpu_ptr rstd);
/* dx, dw += the gradients of rmsnorm(x) w (k_rmsnorm_bwd). */
int gpu_rmsnorm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr rstd, gpu_ptr dy, gpu_ptr dx,
                    gpu_ptr dw);
/* y = layernorm(x) w (+ b, 0: none); stats[2 rows] = mean, rstd (0: not kept) (k_layernorm_fwd). */
int gpu_layernorm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr b, gpu_ptr y, gpu_ptr stats);
/* dx, dw, db += the gradients of layernorm(x) w + b (k_layernorm_bwd). */
int gpu_layernorm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr w, gpu_ptr stats, gpu_ptr dy, gpu_ptr dx,
                      gpu_ptr dw, gpu_ptr db);
/* y = x / sqrt(sum x^2 + eps); rnorm[rows] saved (0: not kept) (k_l2norm_fwd). */
int gpu_l2norm_fwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr y, gpu_ptr rnorm);
/* dx += rnorm (dy - y (dy . y)) (k_l2norm_bwd). */
int gpu_l2norm_bwd(gpu_dev *d, size_t rows, int D, gpu_ptr x, gpu_ptr y, gpu_ptr rnorm, gpu_ptr dy, gpu_ptr dx);
/* mode 0: y = rmsnorm(x) w silu(g); mode 1: y = rmsnorm(x silu(g)) w; rstd saved (k_gated_rmsnorm_fwd). */
int gpu_gated_rmsnorm_fwd(gpu_dev *d, int mode, size_t rows, int D, gpu_ptr x, gpu_ptr g, gpu_ptr w, gpu_ptr y,
                          gpu_ptr rstd);
/* dx, dg, dw += the gradients of the gated RMSNorm (k_gated_rmsnorm_bwd). */
int gpu_gated_rmsnorm_bwd(gpu_dev *d, int mode, size_t rows, int D, gpu_ptr x, gpu_ptr g, gpu_ptr w, gpu_ptr rstd,
                          gpu_ptr dy, gpu_ptr dx, gpu_ptr dg, gpu_ptr dw);

#endif
