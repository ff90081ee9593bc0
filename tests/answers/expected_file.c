#include <asiarch.h>

AA_NAME("fir_gated_delta");
AA_MOTIVATION("A delta-rule memory for recall plus a gated short FIR path for local patterns.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t q = aa_l2norm(aa_split_heads(aa_silu(aa_short_conv(l, "q_conv", aa_linear(l, "q_proj", x, d), 4)), h));
    aa_t k = aa_l2norm(aa_split_heads(aa_silu(aa_short_conv(l, "k_conv", aa_linear(l, "k_proj", x, d), 4)), h));
    aa_t v = aa_split_heads(aa_silu(aa_short_conv(l, "v_conv", aa_linear(l, "v_proj", x, d), 4)), h);
    aa_t beta = aa_sigmoid(aa_split_heads(aa_linear(l, "b_proj", x, h), h));
    aa_t o = aa_merge_heads(aa_delta_rule(q, k, v, beta, AA_NONE));
    aa_t fir = aa_short_conv(l, "fir", x, 16);
    aa_t gate = aa_sigmoid(aa_linear(l, "g_proj", x, d));
    return aa_linear(l, "o_proj", aa_add(o, aa_mul(gate, fir)), d);
}
