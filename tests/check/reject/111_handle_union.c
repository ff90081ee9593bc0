/* expect: dsl/handle 6 */
#include <asiarch.h>

AA_NAME("reject");
union pun {
    aa_t t;
    int i;
};

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
