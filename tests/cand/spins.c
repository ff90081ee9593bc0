#include <asiarch.h>

AA_NAME("spins");
AA_MOTIVATION("A test candidate whose custom op runs bounded but enormous nested loops: the supervisor's "
              "wall-clock limit must stop the runner and report sandbox/timeout.");

AA_SCALAR float slow(float x)
{
    float s = x;
    for (int i = 0; i < 1000000; i++)
        for (int j = 0; j < 1000000; j++) s = s * 0.999999f + 0.000001f * x;
    return s;
}
AA_SCALAR float slow_d0(float x) { return 1.0f + 0.0f * x; }

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    return aa_linear(l, "o_proj", aa_pointwise1("slow", aa_linear(l, "in_proj", x, d)), d);
}
