/* ops_train.h — declarations of gpu/ops_train.c (folded into gpu.h when the
 * family is complete). Included by gpu.h only. Shapes and conventions as
 * the k_ functions of kernels.h: backward launchers accumulate, a 0
 * gradient is skipped; each returns 0, or -1 with gpu_error(d). */
#ifndef ASIARCH_GPU_OPS_TRAIN_H
#define ASIARCH_GPU_OPS_TRAIN_H

/* Causal depthwise convolution: x, y [B,T,C], w [C,K] (k_conv_fwd). */
int gpu_conv_fwd(gpu_dev *d, int B, int T, int C, int K, gpu_ptr x, gpu_ptr w, gpu_ptr y);
/* dx += conv^T(dy), dw += sum over (b,t) of dy x (deterministic) (k_conv_bwd). */
int gpu_conv_bwd(gpu_dev *d, int B, int T, int C, int K, gpu_ptr x, gpu_ptr w, gpu_ptr dy, gpu_ptr dx,
                 gpu_ptr dw);

/* y[M,N] = x[M,K] W[N,K]^T (+ bias[N]) (k_linear_fwd). */
int gpu_linear_fwd(gpu_dev *d, int M, int K, int N, gpu_ptr x, gpu_ptr W, gpu_ptr bias, gpu_ptr y);
/* dx += dy W, dW += dy^T x, dbias += column sums of dy (k_linear_bwd). */
int gpu_linear_bwd(gpu_dev *d, int M, int K, int N, gpu_ptr x, gpu_ptr W, gpu_ptr dy, gpu_ptr dx, gpu_ptr dW,
                   gpu_ptr dbias);
/* C[b] = op(A[b]) op(B[b]), A [batch,ar,ac], B [batch,br,bc] (k_matmul_fwd). */
int gpu_matmul_fwd(gpu_dev *d, int batch, int ar, int ac, int br, int bc, int ta, int tb, gpu_ptr A, gpu_ptr B,
                   gpu_ptr C);
/* dA, dB += the gradients of C = op(A) op(B) (k_matmul_bwd). */
int gpu_matmul_bwd(gpu_dev *d, int batch, int ar, int ac, int br, int bc, int ta, int tb, gpu_ptr A, gpu_ptr B,
                   gpu_ptr dC, gpu_ptr dA, gpu_ptr dB);
/* X = (I + strict_lower(A))^-1 B, A [batch,n,n], B/X [batch,n,m] (k_trisolve_fwd). */
int gpu_trisolve_fwd(gpu_dev *d, int batch, int n, int m, gpu_ptr A, gpu_ptr B, gpu_ptr X);
/* dB += M^-T dX, dA -= strict_lower(M^-T dX X^T) (k_trisolve_bwd). */
int gpu_trisolve_bwd(gpu_dev *d, int batch, int n, int m, gpu_ptr A, gpu_ptr X, gpu_ptr dX, gpu_ptr dA,
                     gpu_ptr dB);

/* y[r] = table[ids[r]] (int32 ids, rows of D) (k_embed_fwd). */
int gpu_embed_fwd(gpu_dev *d, size_t n, int D, gpu_ptr ids, gpu_ptr table, gpu_ptr y);
/* dtable[ids[r]] += dy[r], ids outside [0, V) skipped; bitwise the CPU's (k_embed_bwd). */
int gpu_embed_bwd(gpu_dev *d, size_t n, int D, int V, gpu_ptr ids, gpu_ptr dy, gpu_ptr dtable);
/* *loss = mean cross-entropy over rows with a target in [0, V); probs (0: not kept) = softmax (k_xent_fwd). */
int gpu_xent_fwd(gpu_dev *d, size_t n, int V, gpu_ptr logits, gpu_ptr targets, gpu_ptr probs, float *loss);
/* dlogits += dloss / count (probs - onehot(target)) on rows with a target (k_xent_bwd). */
int gpu_xent_bwd(gpu_dev *d, size_t n, int V, gpu_ptr probs, gpu_ptr targets, float dloss, gpu_ptr dlogits);

/* One AdamW step on n parameters; decay: apply weight decay (k_adamw_update). */
int gpu_adamw_update(gpu_dev *d, const k_adamw *h, size_t n, gpu_ptr p, gpu_ptr grad, gpu_ptr m, gpu_ptr v,
                     int decay);
/* *out = sum of x^2 in double, deterministic (k_sumsq). */
int gpu_sumsq(gpu_dev *d, size_t n, gpu_ptr x, double *out);
/* x *= s (k_scale_inplace). */
int gpu_scale_inplace(gpu_dev *d, size_t n, gpu_ptr x, float s);

#endif
