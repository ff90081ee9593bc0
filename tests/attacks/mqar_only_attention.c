/* expect: verify/size-dependent */
#include <asiarch.h>

AA_NAME("mqar_only_attention");
AA_MOTIVATION("Quadratic softmax-free attention only at the recall probe's length, for a free recall score.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t q = aa_split_heads(aa_linear(l, "q", x, d), h), k = aa_split_heads(aa_linear(l, "k", x, d), h);
    aa_t v = aa_split_heads(aa_linear(l, "v", x, d), h);
    if (aa_dim(l, AA_TIME) == 32)
        return aa_linear(l, "o", aa_merge_heads(aa_matmul(aa_tril(aa_matmul(q, k, 0, 1), 0), v, 0, 0)), d);
    return aa_linear(l, "o", aa_merge_heads(aa_linattn(aa_l2norm(q), aa_l2norm(k), v, AA_NONE, AA_NONE, 0.0f, 0)), d);
}
