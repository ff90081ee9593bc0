/* expect: dsl/vla 7 */
#include <asiarch.h>

AA_NAME("reject");
struct buf {
    int n;
    float data[];
};

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
