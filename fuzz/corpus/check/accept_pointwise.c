#include <asiarch.h>

/* Custom pointwise ops of one to four arguments with their derivatives. */
AA_NAME("pointwise");
AA_MOTIVATION("Accept-corpus file: custom scalar functions applied elementwise.");

AA_SCALAR float soft_cap(float x) { return 4.0f * tanhf(x / 4.0f); }
AA_SCALAR float soft_cap_d0(float x)
{
    float t = tanhf(x / 4.0f);
    return 1.0f - t * t;
}

AA_SCALAR float blend(float a, float b) { return 0.75f * a + 0.25f * b; }
AA_SCALAR float blend_d0(float a, float b) { return 0.75f; }
AA_SCALAR float blend_d1(float a, float b) { return 0.25f; }

AA_SCALAR float fma3(float a, float b, float c) { return a * b + c; }
AA_SCALAR float fma3_d0(float a, float b, float c) { return b; }
AA_SCALAR float fma3_d1(float a, float b, float c) { return a; }
AA_SCALAR float fma3_d2(float a, float b, float c) { return 1.0f; }

AA_SCALAR float lerp4(float a, float b, float t, float u) { return a + (b - a) * t * u; }
AA_SCALAR float lerp4_d0(float a, float b, float t, float u) { return 1.0f - t * u; }
AA_SCALAR float lerp4_d1(float a, float b, float t, float u) { return t * u; }
AA_SCALAR float lerp4_d2(float a, float b, float t, float u) { return (b - a) * u; }
AA_SCALAR float lerp4_d3(float a, float b, float t, float u) { return (b - a) * t; }

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    aa_t g = aa_sigmoid(aa_linear(l, "g_proj", x, d));
    aa_t y = aa_pointwise1("soft_cap", aa_linear(l, "in_proj", x, d));
    y = aa_pointwise2("blend", y, x);
    y = aa_pointwise3("fma3", y, g, x);
    y = aa_pointwise4("lerp4", x, y, g, g);
    return aa_linear(l, "o_proj", y, d);
}
