/*
 * Hostile: writes one element past the end of y (checked mode traps it).
 *
 * @kernel oob_write
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
void oob_write(const float *x, float *y, int n)
{
    for (int i = 0; i <= n; i++) y[i] = x[i < n ? i : 0];
}
