/* expect: dsl/vla 9 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int n = aa_dim(l, AA_HEADS);
    typedef float row[n];
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
