/* expect: dsl/pointer 6 */
#include <asiarch.h>

AA_NAME("reject");
struct ctx {
    aa_layer *layer;
    int d;
};

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
