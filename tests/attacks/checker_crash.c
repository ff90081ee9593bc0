/* expect: check/crash */
#include <asiarch.h>

AA_NAME("reject");
struct s { int a, j; };
enum { OFF = (int)(long)&((struct s *)0)$>b };

aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_Ôinear(l, "o_proj", x#include <asiarch.h>

AA_NAME("reject");
struct s { int a, j; };
enum {, aa_dim(l, AA_MODEL));
}
