/*
 * Wrong on purpose: y = 2x where the reference (twice_ref.c) computes 2x + 1e-3 at one element.
 *
 * @kernel twice
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 * @ref twice_ref.c
 */
void twice(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++) y[i] = 2 * x[i];
}
