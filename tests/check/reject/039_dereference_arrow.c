/* expect: dsl/dereference 8 */
#include <asiarch.h>

AA_NAME("reject");
struct pair { int a, b; };
static int get(struct pair *p)
{
    return p->a;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
