/* ops_layout.h — declarations of gpu/ops_layout.c (folded into gpu.h when the
 * family is complete). Included by gpu.h only.
 *
 * Broadcasting binary ops and data movement on the GPU: shapes, arguments
 * and conventions as their CPU kernels in kernels.h (k_binary_*, k_permute,
 * k_slice_*, k_expand_*, k_mask). Gradients accumulate; a 0 gradient is
 * skipped. Every tensor has fewer than 2^31 elements. Reductions (a
 * broadcast operand's gradient) are deterministic: fixed order, no atomics. */
#ifndef ASIARCH_GPU_OPS_LAYOUT_H
#define ASIARCH_GPU_OPS_LAYOUT_H

/* y = a op b (op an aa_binary_op), sa and sb broadcast to sy (same rank); y may be an operand of shape sy. */
int gpu_binary_fwd(gpu_dev *d, int op, const k_shape *sa, gpu_ptr a, const k_shape *sb, gpu_ptr b, const k_shape *sy,
                   gpu_ptr y);
/* da, db += the gradients (each may be 0; ADD and SUB read neither a nor b, which may then be 0). */
int gpu_binary_bwd(gpu_dev *d, int op, const k_shape *sa, gpu_ptr a, const k_shape *sb, gpu_ptr b,
                   const k_shape *sy, gpu_ptr dy, gpu_ptr da, gpu_ptr db);
/* y = (or += with accumulate) x permuted, y.d[i] = x.d[perm[i]]; perm is a host array. */
int gpu_permute(gpu_dev *d, const k_shape *sx, const int *perm, gpu_ptr x, gpu_ptr y, int accumulate);
/* y = the window [start, start + len) along axis (negative: from the end) of x. */
int gpu_slice_fwd(gpu_dev *d, const k_shape *sx, int axis, int start, int len, gpu_ptr x, gpu_ptr y);
/* dx's window += dy (dx of shape sx; 0: skipped). */
int gpu_slice_bwd(gpu_dev *d, const k_shape *sx, int axis, int start, int len, gpu_ptr dy, gpu_ptr dx);
/* y = x broadcast to sy (same rank, x's extents 1 or sy's). */
int gpu_expand_fwd(gpu_dev *d, const k_shape *sx, gpu_ptr x, const k_shape *sy, gpu_ptr y);
/* dx += dy summed over the broadcast axes (0: skipped). */
int gpu_expand_bwd(gpu_dev *d, const k_shape *sx, const k_shape *sy, gpu_ptr dy, gpu_ptr dx);
/* y = tril (upper 0) or triu (upper 1) of x over the last two axes, or y += that with accumulate; x may be y. */
int gpu_mask(gpu_dev *d, int upper, int diagonal, const k_shape *s, gpu_ptr x, gpu_ptr y, int accumulate);
/* dst[i] += src[i], i < n. */
int gpu_add_into(gpu_dev *d, size_t n, gpu_ptr src, gpu_ptr dst);

#endif
