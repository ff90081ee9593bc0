#include <asiarch.h>

/* Every AA_INIT_* initialiser, passed to parameters, linear layers and
 * convolutions. */
AA_NAME("initialisers");
AA_MOTIVATION("Accept-corpus file: every parameter initialiser of the DSL.");

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL), h = aa_dim(l, AA_HEADS);
    aa_init inits[3] = {AA_INIT_DEFAULT, AA_INIT_ZEROS, AA_INIT_ONES};
    aa_t a = aa_param1(l, "a", d, AA_INIT_NORMAL(0.02f));
    aa_t b = aa_param1(l, "b", d, AA_INIT_UNIFORM(-0.5f, 0.5f));
    aa_t c = aa_param1(l, "c", d, AA_INIT_CONST(0.1f));
    aa_t z = aa_param1(l, "z", d, inits[1]);
    aa_t o = aa_param1(l, "o", d, inits[2]);
    aa_t A_log = aa_param1(l, "A_log", h, AA_INIT_LOG_UNIFORM(1.0f, 16.0f));
    aa_t dt = aa_param1(l, "dt_bias", h, AA_INIT_INV_SOFTPLUS(0.001f, 0.1f));
    aa_t conv = aa_short_conv_ex(l, "conv", x, 4, AA_INIT_DIRAC);
    aa_t lin = aa_linear_ex(l, "lin", conv, d, 0, inits[0]);
    aa_t s = aa_add(aa_add(a, b), aa_add(c, aa_add(z, o)));
    aa_t decay = aa_mean(aa_add(aa_exp(A_log), aa_softplus(dt)), -1);
    return aa_add(aa_mul(lin, s), aa_expand_as(decay, lin));
}
