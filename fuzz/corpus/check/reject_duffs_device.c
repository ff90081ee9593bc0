/* expect: dsl/switch 12 */
#include <asiarch.h>

AA_NAME("reject");

aa_t mixer(aa_layer *l, aa_t x)
{
    int n = aa_dim(l, AA_HEADS), s = 0;
    switch (n % 2) {
    case 0:
        for (int i = 0; i < 2; i++) {
        case 1:
            s++;
        }
    }
    x = aa_scale(x, (float)s);
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
