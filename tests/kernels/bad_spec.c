/*
 * Declaration errors, one per line, each reported at its line and column.
 *
 * @kernel bad_spec
 * @param n = 1000
 * @param m = n / 0
 * @in x: f64[n]
 * @in z: f32[q * 2]
 * @out y: f32[n] = uniform(0, 1)
 * @frobnicate 3
 */
void bad_spec(const float *x, float *y, int n)
{
    y[0] = x[0] + (float)n;
}
