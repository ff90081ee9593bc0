/*
 * The reference of half_types.c, in double precision.
 *
 * @kernel half_types_ref
 * @param n = 4096
 * @in x: f16[n]
 * @in idx: i32[n]
 * @out y: bf16[n]
 * @out k: i32[n]
 */
void half_types_ref(const uint16_t *x, const int *idx, uint16_t *y, int *k, int n)
{
    for (int i = 0; i < n; i++) {
        double v = ak_f16_to_f32(x[i]);
        y[i] = ak_f32_to_bf16((float)(v / 2 + 1));
        k[i] = idx[i] + idx[i] + (v > 0 ? 1 : 0);
    }
}
