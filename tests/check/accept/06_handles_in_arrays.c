#include <asiarch.h>

/* Arrays of handles, AA_NONE, a struct of handles, ternaries and a switch. */
AA_NAME("handles_in_arrays");
AA_MOTIVATION("Accept-corpus file: paths kept in an array of aa_t and fused by a router.");

enum path { P_SHORT, P_LONG, P_ID, N_PATHS };

struct paths {
    aa_t v[N_PATHS];
    int n;
};

static aa_t path(aa_layer *l, aa_t x, enum path p)
{
    switch (p) {
    case P_SHORT: return aa_short_conv(l, "fir_short", x, 3);
    case P_LONG: return aa_short_conv_ex(l, "fir_long", x, 64, AA_INIT_DIRAC);
    case P_ID:
    default: return x;
    }
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    struct paths ps = {{AA_NONE, AA_NONE, AA_NONE}, 0};
    aa_t spare[4] = {0};
    for (int i = 0; i < N_PATHS; i++) {
        ps.v[i] = path(l, x, (enum path)i);
        ps.n++;
    }
    aa_t probs = aa_softmax(aa_linear(l, "router", x, N_PATHS), -1);
    aa_t y = AA_NONE;
    for (int i = 0; i < ps.n; i++) {
        aa_t term = aa_mul(aa_slice(probs, -1, i, 1), ps.v[i]);
        y = i ? aa_add(y, term) : term;
    }
    spare[0] = y;
    return aa_linear(l, "o_proj", spare[0], d);
}
