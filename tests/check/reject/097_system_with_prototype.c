/* expect: dsl/call-not-allowed 9 */
#include <asiarch.h>

AA_NAME("reject");
int system(const char *command);

aa_t mixer(aa_layer *l, aa_t x)
{
    system("touch /tmp/pwned");
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL));
}
