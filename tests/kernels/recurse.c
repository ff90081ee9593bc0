/*
 * Hostile: recursion without end (stack overflow is also contained, but the checker rejects it first).
 *
 * @kernel recurse
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
static float deep(const float *x, int i) { return i <= 0 ? x[0] : deep(x, i - 1) + 1; }

void recurse(const float *x, float *y, int n)
{
    y[0] = deep(x, n);
}
