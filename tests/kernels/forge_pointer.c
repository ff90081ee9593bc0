/*
 * Hostile: makes a pointer from a number, and a number from a pointer.
 *
 * @kernel forge_pointer
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
void forge_pointer(const float *x, float *y, int n)
{
    const float *p = (const float *)0x400000;
    long address = (long)x;
    y[0] = p[0] + (float)address + (float)n;
}
