/* expect: dsl/handle */
#include <asiarch.h>

AA_NAME("handle_brace_elision");
AA_MOTIVATION("Forges a tensor handle by brace elision inside a struct.");

struct pair { aa_t a; int n; };

aa_t mixer(aa_layer *l, aa_t x)
{
    struct pair p = {2, 1};
    return aa_add(aa_linear(l, "o", x, aa_dim(l, AA_MODEL)), p.a);
}
