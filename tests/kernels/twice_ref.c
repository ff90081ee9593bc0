/*
 * The reference of twice.c, off by 1e-3 at element 7.
 *
 * @kernel twice_ref
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
void twice_ref(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++) y[i] = 2 * x[i] + (i == 7 ? 1e-3f : 0.0f);
}
