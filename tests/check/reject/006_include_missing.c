/* expect: dsl/include 1 */
/* no #include at all */
typedef struct aa_t { int id; } aa_t;
typedef struct aa_layer aa_layer;
aa_t mixer(aa_layer *l, aa_t x) { return x; }
