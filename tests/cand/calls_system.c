#include <asiarch.h>

AA_NAME("calls_system");
AA_MOTIVATION("Hostile: declares and calls system(). The checker rejects it.");

int system(const char *command);

aa_t mixer(aa_layer *l, aa_t x)
{
    system("touch /tmp/pwned");
    return aa_linear(l, "o", x, aa_dim(l, AA_MODEL));
}
