/*
 * One sub-step of linear attention on the GPU: the causal recurrence in its
 * plain (non-chunked) form, per head,
 *     S_t = S_{t-1} + k_t v_t^T,    o_t = S_t^T q_t,
 * with one block per head and one thread per column j of the D x D state,
 * which lives in that thread's registers. q_t and k_t are shared by the
 * block through shared memory. linattn_ref.c is the same recurrence in C.
 *
 * @kernel  linattn_recurrent
 * @param   heads = 8
 * @param   T = 512
 * @param   D = 64
 * @in      q: f32[heads * T * D] = normal(0, 0.125)
 * @in      k: f32[heads * T * D] = normal(0, 0.125)
 * @in      v: f32[heads * T * D] = normal(0, 1)
 * @out     o: f32[heads * T * D]
 * @grid    heads
 * @block   D
 * @shared  8 * D
 * @flops   4 * heads * T * D * D
 * @bytes   16 * heads * T * D
 * @ref     linattn_ref.c
 */
enum { D_MAX = 128 };

AK_KERNEL void linattn_recurrent(const float *q, const float *k, const float *v, float *o, int heads, int T, int D)
{
    extern __shared__ float qk[];   /* q_t in [0, D), k_t in [D, 2D) */
    float s[D_MAX];                 /* column j of S */
    int j = threadIdx.x;
    long long base = (long long)blockIdx.x * T * D;
    for (int i = 0; i < D_MAX; i++) s[i] = 0;
    for (int t = 0; t < T; t++) {
        qk[j] = q[base + (long long)t * D + j];
        qk[D + j] = k[base + (long long)t * D + j];
        __syncthreads();
        float vj = v[base + (long long)t * D + j], out = 0;
        for (int i = 0; i < D && i < D_MAX; i++) {
            s[i] += qk[D + i] * vj;
            out += s[i] * qk[i];
        }
        o[base + (long long)t * D + j] = out;
        __syncthreads();
    }
}
