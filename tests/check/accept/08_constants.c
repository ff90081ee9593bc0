#include <asiarch.h>

/* Compile-time constants: enums, const scalars and tables, sizeof of arrays,
 * _Static_assert, math functions on constants, casts between numbers. */
AA_NAME("constants");
AA_MOTIVATION("Accept-corpus file: RetNet-style per-head decays computed from a const table.");

enum { MAX_HEADS = 8 };
static const float base_decay[MAX_HEADS] = {0.9f, 0.95f, 0.97f, 0.98f, 0.99f, 0.995f, 0.997f, 0.999f};
static const double scale = 0.5;
_Static_assert(sizeof base_decay / sizeof base_decay[0] == MAX_HEADS, "one decay per head");

static float log_decay(int head)
{
    int i = head < MAX_HEADS ? head : MAX_HEADS - 1;
    return logf(fmaxf(fminf(base_decay[i], 0.9999f), 1e-4f));
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS), dk = aa_dim(l, AA_HEAD_DIM);
    float acc = 0.0f;
    for (int i = 0; i < h && i < MAX_HEADS; i++) acc += log_decay(i);
    float norm = 1.0f / sqrtf((float)dk) * (float)scale;
    float p = powf(2.0f, -5.0f) + fabsf(acc) * 0.0f + floorf(1.5f) + ceilf(0.5f) + expf(0.0f);
    aa_t q = aa_scale(aa_split_heads(aa_linear(l, "q_proj", x, d), h), norm);
    aa_t k = aa_split_heads(aa_linear(l, "k_proj", x, d), h);
    aa_t v = aa_split_heads(aa_linear(l, "v_proj", x, d), h);
    aa_t o = aa_linattn(q, k, v, AA_NONE, AA_NONE, 1.0f - 1.0f / (p + 30.0f), 0);
    unsigned char flag = (unsigned char)(p > 1.0f);
    short s = (short)flag;
    o = s ? aa_gelu(o) : o;
    return aa_linear(l, "o_proj", aa_merge_heads(o), d);
}
