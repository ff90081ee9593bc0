/*
 * @kernel bad_signature
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
void bad_signature(const int *x, float *y, float n, int extra)
{
    y[0] = (float)x[0] + n + (float)extra;
}
