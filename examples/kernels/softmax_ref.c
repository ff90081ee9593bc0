/*
 * The reference for softmax.c: the textbook definition, accumulated in
 * double precision, one element at a time.
 *
 * @kernel  softmax_ref
 * @param   rows = 256
 * @param   cols = 1024
 * @in      x: f32[rows * cols]
 * @out     y: f32[rows * cols]
 */
void softmax_ref(const float *x, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double m = x[(long)r * cols];
        for (int c = 1; c < cols; c++) m = fmax(m, x[(long)r * cols + c]);
        double sum = 0;
        for (int c = 0; c < cols; c++) sum += exp(x[(long)r * cols + c] - m);
        for (int c = 0; c < cols; c++) y[(long)r * cols + c] = (float)(exp(x[(long)r * cols + c] - m) / sum);
    }
}
