#include <asiarch.h>

/* Helper functions, forward declarations, const tables and bounded loops. */
AA_NAME("helpers_and_tables");
AA_MOTIVATION("Accept-corpus file: a multi-scale FIR bank built by a helper in a bounded loop, "
              "with widths from a const table.");

enum { N_SCALES = 4 };
static const int widths[N_SCALES] = {2, 4, 8, 16};
static const float gains[2][N_SCALES] = {{1.0f, 0.5f, 0.25f, 0.125f}, {0.9f, 0.8f, 0.7f, 0.6f}};

static aa_t branch(aa_layer *l, aa_t x, int which);

/* A struct returns two handles from one helper. */
struct pair {
    aa_t gate, value;
};

static struct pair split_gate(aa_layer *l, aa_t x, int d)
{
    struct pair p;
    p.gate = aa_sigmoid(aa_linear(l, "g_proj", x, d));
    p.value = aa_linear(l, "v_proj", x, d);
    return p;
}

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    struct pair p = split_gate(l, x, d);
    aa_t sum = AA_NONE;
    for (int i = 0; i < N_SCALES; i++) {
        aa_t y = aa_scale(branch(l, p.value, i), gains[0][i] * gains[1][i]);
        sum = i == 0 ? y : aa_add(sum, y);
    }
    return aa_linear(l, "o_proj", aa_mul(sum, p.gate), d);
}

static aa_t branch(aa_layer *l, aa_t x, int which)
{
    /* names must be literals passed straight to the op: choose them here */
    switch (which) {
    case 0:
        return aa_short_conv(l, "fir0", x, widths[0]);
    case 1:
        return aa_short_conv(l, "fir1", x, widths[1]);
    case 2:
        return aa_short_conv(l, "fir2", x, widths[2]);
    default:
        return aa_short_conv(l, "fir3", x, widths[3]);
    }
}
