/*
 * Hostile: declares and calls the write system call wrapper.
 *
 * @kernel syscall_write
 * @param n = 1000
 * @in x: f32[n]
 * @out y: f32[n]
 */
long write(int fd, const void *buf, unsigned long len);

void syscall_write(const float *x, float *y, int n)
{
    write(1, x, (unsigned long)n * 4);
    y[0] = 0;
}
