/* expect: dsl/handle */
#include <asiarch.h>

AA_NAME("handle_designated");
AA_MOTIVATION("Forges tensor handles with designated and compound initialisers.");

aa_t mixer(aa_layer *l, aa_t x)
{
    aa_t a = {.ref = 3};
    return aa_add(aa_linear(l, "o", x, aa_dim(l, AA_MODEL)), a);
}
