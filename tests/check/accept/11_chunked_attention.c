#include <asiarch.h>

/* Explicit chunked causal attention written with matmul, masks and a
 * bounded loop over a small fixed number of chunks; helper with a switch
 * whose cases share a body. */
AA_NAME("chunked_attention");
AA_MOTIVATION("Softmax-free causal attention inside fixed windows, computed with masks and matmuls.");

static int n_windows(int layer)
{
    switch (layer % 4) {
    case 0:
    case 1:
        return 1;
    case 2:
        return 2;
    default:
        break;
    }
    return 4;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t q = aa_split_heads(aa_linear(l, "q_proj", x, d), h);
    aa_t k = aa_split_heads(aa_linear(l, "k_proj", x, d), h);
    aa_t v = aa_split_heads(aa_linear(l, "v_proj", x, d), h);
    aa_t scores = aa_tril(aa_matmul(q, k, 0, 1), 0);
    aa_t o = aa_matmul(scores, v, 0, 0);
    int w = n_windows(aa_dim(l, AA_LAYER));
    for (int i = 1; i < w; i++) o = aa_add(o, aa_scale(o, 1.0f / (float)(i + 1)));
    return aa_linear(l, "o_proj", aa_merge_heads(aa_layernorm(l, "o_norm", o)), d);
}
