#include <asiarch.h>

/* Every accepted loop form: ++/--, += c, -= c, < <= > >=, bounds from
 * constants, variables, aa_dim and arithmetic; nested loops; break and
 * continue. */
AA_NAME("all_loop_forms");
AA_MOTIVATION("Accept-corpus file: bounded loops in all their accepted shapes.");

static const int LIMIT = 3;

static int triangle(int n)
{
    int s = 0;
    for (int i = 1; i <= n; i++)
        for (int j = 0; j < i; j++) s += j;
    return s;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    int count = 0;
    for (int i = 0; i < h; i++) count++;
    for (int i = h - 1; i >= 0; i--) count--;
    for (long i = 10; i > 0; i -= 3) count += 1;
    for (int i = 0; i < 2 * LIMIT + 1; i += 2) {
        if (i == 4) continue;
        if (count > 100) break;
        count += i;
    }
    for (int i = 0; i < aa_dim(l, AA_LAYERS); i++) count += i % 2;
    for (long long i = 0; i <= 8; i += 4) count += (int)i;
    int n = d / h;
    for (int i = 0; i < n; i++) {
        int shadow = i * 2;
        count += shadow - i - i;
    }
    aa_t y = aa_scale(x, 1.0f / (float)(1 + triangle(LIMIT) + (count > 0 ? count : -count)));
    return aa_linear(l, "o_proj", y, d);
}
