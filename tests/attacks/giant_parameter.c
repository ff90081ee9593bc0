/* expect: build/aa_param */
#include <asiarch.h>

AA_NAME("giant_parameter");
AA_MOTIVATION("A parameter of 2^31 elements.");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t p = aa_param2(l, "p", 65536, 32768, AA_INIT_DEFAULT);
    return aa_add(aa_linear(l, "o", x, aa_dim(l, AA_MODEL)), aa_slice(aa_slice(p, 0, 0, 1), 1, 0, aa_dim(l, AA_MODEL)));
}
