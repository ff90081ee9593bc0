/* ops_linattn.h — declarations of gpu/ops_linattn.c (folded into gpu.h when the
 * family is complete). Included by gpu.h only.
 *
 * The generalised linear attention of kernels.h (k_linattn_fwd/bwd) on the
 * GPU: shapes, conventions and the saved states as the CPU's. c->lambda (a
 * host pointer) is not read: the per-head decays come as the device array
 * lambda [H] (0: none). Dk, Dv <= 128 and c->chunk <= 64; the recurrent form
 * (c->chunk == 0) runs chunkwise with chunks of 64 (same results to rounding,
 * same saved states). */
#ifndef ASIARCH_GPU_OPS_LINATTN_H
#define ASIARCH_GPU_OPS_LINATTN_H

/* Floats the forward saves for the backward (= k_linattn_saved_floats). */
size_t gpu_linattn_saved_floats(const k_linattn_cfg *c);
/* o = linear attention of q, k, v (beta, g, s0, s_final, saved as k_linattn_fwd; saved may be 0). */
int gpu_linattn_fwd(gpu_dev *d, const k_linattn_cfg *c, gpu_ptr lambda, gpu_ptr q, gpu_ptr k, gpu_ptr v,
                    gpu_ptr beta, gpu_ptr g, gpu_ptr s0, gpu_ptr o, gpu_ptr s_final, gpu_ptr saved);
/* Accumulates dq, dk, dv, dbeta, dg, ds0 (each may be 0) from d_o and ds_final (may be 0). */
int gpu_linattn_bwd(gpu_dev *d, const k_linattn_cfg *c, gpu_ptr lambda, gpu_ptr q, gpu_ptr k, gpu_ptr v,
                    gpu_ptr beta, gpu_ptr g, gpu_ptr s0, gpu_ptr saved, gpu_ptr d_o, gpu_ptr ds_final, gpu_ptr dq,
                    gpu_ptr dk, gpu_ptr dv, gpu_ptr dbeta, gpu_ptr dg, gpu_ptr ds0);

#endif
