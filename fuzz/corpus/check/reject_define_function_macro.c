/* expect: dsl/preprocessor 5 */
#include <asiarch.h>

AA_NAME("reject");
#define SQ(v) aa_mul((v), (v))

aa_t mixer(aa_layer *l, aa_t x)
{
    x = SQ(x);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
