/*
 * Hostile: never returns (the sandbox's wall-clock limit ends it).
 *
 * @kernel spin_forever
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
void spin_forever(const float *x, float *y, int n)
{
    float acc = 0;
    for (int i = 0; i >= 0; i = (i + 1) % n) acc += x[i];
    y[0] = acc;
}
