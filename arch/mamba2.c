#include <asiarch.h>

AA_NAME("mamba2");
AA_MOTIVATION("Mamba2-style SSD layer (Dao & Gu 2024): a selective state space model is linear attention "
              "with C as query, B as key and x*dt as value under a scalar decay exp(-A dt) per head; "
              "short convolutions, a D skip connection and a gate-then-norm output.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_t xc = aa_silu(aa_short_conv(l, "x_conv", aa_linear(l, "x_proj", x, d), 4));
    aa_t bk = aa_silu(aa_short_conv(l, "b_conv", aa_linear(l, "b_proj", x, d), 4));
    aa_t cq = aa_silu(aa_short_conv(l, "c_conv", aa_linear(l, "c_proj", x, d), 4));
    aa_t z = aa_linear(l, "z_proj", x, d);
    aa_t dt = aa_softplus(aa_add(aa_linear(l, "dt_proj", x, h),
                                 aa_param1(l, "dt_bias", h, AA_INIT_INV_SOFTPLUS(0.001f, 0.1f))));
    aa_t decay = aa_exp(aa_param1(l, "A_log", h, AA_INIT_LOG_UNIFORM(1.0f, 16.0f)));
    aa_t gate = aa_split_heads(aa_neg(aa_mul(dt, decay)), h);
    aa_t xh = aa_split_heads(xc, h);
    aa_t v = aa_mul(xh, aa_split_heads(dt, h));
    aa_t y = aa_linattn(aa_l2norm(aa_split_heads(cq, h)), aa_l2norm(aa_split_heads(bk, h)), v, AA_NONE, gate,
                        0.0f, 0);
    y = aa_add(y, aa_mul(xh, aa_param3(l, "D", h, 1, 1, AA_INIT_ONES)));
    y = aa_gated_rmsnorm(l, "norm", aa_merge_heads(y), z, AA_GATE_THEN_NORM);
    return aa_linear(l, "out_proj", y, d);
}
