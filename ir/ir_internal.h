/* ir_internal.h — private to ir/: shape inference shared by the builder and
 * the verifier, so a graph is checked by the same rules however it was made. */
#ifndef ASIARCH_IR_INTERNAL_H
#define ASIARCH_IR_INTERNAL_H

#include "ir.h"

/* Fill n->shape/rank/dtype from its inputs and attributes; on a violation
 * write "what is wrong, what was expected" into msg and return -1. */
int ir_infer_shape(const ir_graph *g, ir_node *n, char *msg, size_t len);
/* Zero the dimensions past the rank, so shapes compare with memcmp. */
static inline void ir_normalize_shape(ir_node *n)
{
    for (int i = n->rank; i < IR_MAX_RANK; i++) n->shape[i] = 0;
}

#endif
