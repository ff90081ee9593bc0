/* expect: dsl/attribute 9 */
#include <asiarch.h>

AA_NAME("reject");
static void drop(int *p) { (void)p; }

aa_t mixer(aa_layer *l, aa_t x)
{
    int v __attribute__((cleanup(drop))) = 0;
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
