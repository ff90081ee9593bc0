/* expect: dsl/recursion 10 */
#include <asiarch.h>

AA_NAME("reject");
static int g(int n);
static int h(int n);
static int f(int n)
{
    int k = n + 1;
    return g(k);
}
static int g(int n) { return h(n); }
static int h(int n) { return n > 9 ? n : f(n); }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_scale(x, (float)f(3));
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
