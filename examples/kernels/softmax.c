/*
 * A row softmax in C: y[r, :] = softmax(x[r, :]), two passes per row
 * (max, then the sum of exponentials) so that large inputs do not overflow.
 *
 * @kernel  softmax_rows
 * @param   rows = 256
 * @param   cols = 1024
 * @in      x: f32[rows * cols] = normal(0, 4)
 * @out     y: f32[rows * cols]
 * @bytes   8 * rows * cols
 * @flops   5 * rows * cols
 * @ref     softmax_ref.c
 */
void softmax_rows(const float *x, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *in = x + (long)r * cols;
        float *out = y + (long)r * cols;
        float m = in[0];
        for (int c = 1; c < cols; c++) m = fmaxf(m, in[c]);
        float sum = 0;
        for (int c = 0; c < cols; c++) {
            out[c] = expf(in[c] - m);
            sum += out[c];
        }
        float inv = 1.0f / sum;
        for (int c = 0; c < cols; c++) out[c] *= inv;
    }
}
