/*
 * The reference for linattn.cu: S_t = S_{t-1} + k_t v_t^T, o_t = S_t^T q_t,
 * per head, with the state in double precision.
 *
 * @kernel  linattn_ref
 * @param   heads = 8
 * @param   T = 512
 * @param   D = 64
 * @in      q: f32[heads * T * D]
 * @in      k: f32[heads * T * D]
 * @in      v: f32[heads * T * D]
 * @out     o: f32[heads * T * D]
 */
enum { D_MAX = 128 };

void linattn_ref(const float *q, const float *k, const float *v, float *o, int heads, int T, int D)
{
    for (int h = 0; h < heads; h++) {
        const float *qh = q + (long)h * T * D, *kh = k + (long)h * T * D, *vh = v + (long)h * T * D;
        for (int j = 0; j < D; j++) {   /* column j of the state, as the GPU's thread j holds it */
            double s[D_MAX] = {0};
            for (int t = 0; t < T; t++) {
                double out = 0;
                for (int i = 0; i < D && i < D_MAX; i++) {
                    s[i] += (double)kh[t * D + i] * vh[t * D + j];
                    out += s[i] * qh[t * D + i];
                }
                o[(long)h * T * D + t * D + j] = (float)out;
            }
        }
    }
}
