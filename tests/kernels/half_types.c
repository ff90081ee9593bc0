/*
 * Every element type end to end: f16 in, bf16 and i32 out, an i32 input
 * from arange. half_types_ref.c computes the same in another way.
 *
 * @kernel half_types
 * @param n = 4096
 * @in x: f16[n] = normal(0, 3)
 * @in idx: i32[n] = arange(-5, 3)
 * @out y: bf16[n]
 * @out k: i32[n]
 * @ref half_types_ref.c
 */
void half_types(const ak_f16 *x, const int32_t *idx, ak_bf16 *y, int32_t *k, int n)
{
    for (int i = 0; i < n; i++) {
        float v = ak_f16_to_f32(x[i]);
        y[i] = ak_f32_to_bf16(v * 0.5f + 1.0f);
        k[i] = idx[i] * 2 + (v > 0);
    }
}
