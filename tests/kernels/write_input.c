/*
 * Hostile: writes to its input x, declared @in (read-only while the kernel runs).
 *
 * @kernel write_input
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
void write_input(float *x, float *y, int n)
{
    for (int i = 0; i < n; i++) {
        x[i] = 0;
        y[i] = 1;
    }
}
