/* expect: link/frame */
#include <asiarch.h>

AA_NAME("stack_frame");
AA_MOTIVATION("Locals that together need far more stack than a frame may have.");

float fill(int k)
{
    double a[4096], b[4096], c[4096], d[4096], e[4096], f[4096], g[4096], h[4096], u[4096], s = 0;
    for (int i = 0; i < 4096; i++) { a[i] = i * k; b[i] = a[i] + 1; c[i] = b[i] * 2; d[i] = c[i] - a[i]; }
    for (int i = 0; i < 4096; i++) { e[i] = d[i] * b[i]; f[i] = e[i] + c[i]; g[i] = f[i] - e[i]; h[i] = g[i] * 3; u[i] = h[(i * 13) % 4096]; }
    for (int i = 0; i < 4096; i++)
        s += a[(i * 7 + k) % 4096] + b[(i * 5) % 4096] + c[i] + d[(i * 3) % 4096] + e[i] + f[(i + k) % 4096] + g[i] +
             h[(i * 11) % 4096] + u[(i * 17) % 4096];
    return (float)s;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o", aa_scale(x, fill(aa_dim(l, AA_LAYER)) * 0.0f + 1.0f), aa_dim(l, AA_MODEL));
}
