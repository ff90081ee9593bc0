/*
 * Hostile: reads three elements before the start of x.
 *
 * @kernel underrun_read
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
void underrun_read(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++) y[i] = x[i - 3];
}
