/*
 * Hostile: inline assembly (a raw syscall instruction).
 *
 * @kernel inline_asm
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
void inline_asm(const float *x, float *y, int n)
{
    __asm__ volatile("syscall");
    y[0] = x[0] + (float)n;
}
