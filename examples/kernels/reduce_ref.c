/*
 * The reference for reduce.cu: block b's sum is over the elements i with
 * (i / threads) % blocks == b, the slice its grid-strided loop visits.
 *
 * @kernel  block_sum_ref
 * @param   n = 1048576
 * @param   blocks = 256
 * @param   threads = 256
 * @in      x: f32[n]
 * @out     partial: f32[blocks]
 */
void block_sum_ref(const float *x, float *partial, int n, int blocks, int threads)
{
    double acc[4096] = {0};
    for (long i = 0; i < n; i++) acc[(i / threads) % blocks] += x[i];
    for (int b = 0; b < blocks; b++) partial[b] = (float)acc[b];
}
