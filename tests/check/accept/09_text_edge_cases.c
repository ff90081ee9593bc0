#include <asiarch.h>

/* Text that looks dangerous but is fine: comments mentioning #define,
 * __builtin_trap, goto and pointers; a motivation with '#' and '%' in it;
 * question marks in strings (no trigraph); a line splice in a comment. \
   still the same comment */
AA_NAME("text_edge_cases");
AA_MOTIVATION("Accept-corpus file: #define? %s -> *p & goto ?! (no trigraphs): tricky text in comments and "
              "strings, multi-line string concatenation, unicode \u00e9 and escapes \t \" \\.");

// A line comment with a pointer: int *p = &x; and asm("nop"); volatile.

aa_t mixer(aa_layer *l, aa_t x)
{
    int d = aa_dim(l, AA_MODEL);
    /* '#' at the start of a line inside a comment:
#pragma not a directive here
    */
    aa_t y = aa_linear(l, "proj.with#odd%chars?", x, d);
    int bits = (d << 1) >> 1 & 0xff | 0x1 ^ 0x2;
    bits = ~bits + !bits;
    int rem = d % 3, div = d / 2;
    y = aa_scale(y, (float)(bits * 0 + 1) + (float)(rem * 0 + div * 0));
    return aa_linear(l, "o_proj", y, d);
}
