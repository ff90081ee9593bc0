/* expect: dsl/preprocessor 5 */
#include <asiarch.h>

#pragma "
#define A0 !
#pragma "
#define A1 A0 A0
#pragma "
#define A2 A1 A1
#pragma "
#define A3 A2 A2
#pragma "
#define A4 A3 A3
#pragma "
#define A5 A4 A4
#pragma "
#define A6 A5 A5
#pragma "
#define A7 A6 A6
#pragma "
#define A8 A7 A7
#pragma "
#define A9 A8 A8
#pragma "
#define A10 A9 A9
#pragma "
#define A11 A10 A10
#pragma "
#define A12 A11 A11
#pragma "
#define A13 A12 A12
#pragma "
#define A14 A13 A13
#pragma "
#define A15 A14 A14
#pragma "
#define A16 A15 A15
#pragma "
#define A17 A16 A16
aa_t mixer(aa_layer *l, aa_t x)
{
    return aa_linear(l, "o_proj", x, aa_dim(l, AA_MODEL) + (A17 0));
}
