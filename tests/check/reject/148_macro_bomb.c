/* expect: dsl/preprocessor 5 */
#include <asiarch.h>

AA_NAME("reject");
#define A0 !
#define A1 A0 A0
#define A2 A1 A1
#define A3 A2 A2

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
