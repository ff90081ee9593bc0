#include <asiarch.h>

AA_NAME("traps_cast");
AA_MOTIVATION("A test candidate that passes every static check but converts a huge float to int at run "
              "time: the compiled-in float-cast-overflow check must trap inside the sandboxed runner.");

AA_SCALAR float quantise(float x) { return (float)(int)(x * 1e30f); }
AA_SCALAR float quantise_d0(float x) { return 0.0f * x; }

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    return aa_linear(l, "o_proj", aa_pointwise1("quantise", aa_linear(l, "in_proj", x, d)), d);
}
