/* expect: dsl/address-of 6 */
#include <asiarch.h>

AA_NAME("reject");
struct s { int a, b; };
enum { OFF = (int)(long)&((struct s *)0)->b };

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
