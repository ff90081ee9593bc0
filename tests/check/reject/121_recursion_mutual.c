/* expect: dsl/recursion 8 */
#include <asiarch.h>

AA_NAME("reject");
static int pong(int n);
static int ping(int n)
{
    return n > 0 ? pong(n - 1) : 0;
}
static int pong(int n) { return ping(n); }

aa_t mixer(aa_layer *l, aa_t x)
{
    x = aa_scale(x, (float)ping(3));
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
