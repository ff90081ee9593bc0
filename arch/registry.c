/* registry.c — the table of reference mixers (see arch.h). */
#include <string.h>

#include "arch.h"

#define REF(id)                                                                                    \
    extern aa_t aa_ref_##id##_mixer(aa_layer *, aa_t);                                            \
    extern const char aa_ref_##id##_name[], aa_ref_##id##_motivation[], aa_ref_##id##_source[];
REF(delta_net)
REF(gated_delta_net)
REF(gla)
REF(retnet)
REF(mamba2)
REF(conv_only)
REF(stat_router_fusion)
REF(sigmoid_gate_fir)
REF(dual_memory_fir)
#undef REF

#define ENTRY(id) {aa_ref_##id##_name, "arch/" #id ".c", aa_ref_##id##_mixer, aa_ref_##id##_motivation, aa_ref_##id##_source}
static const arch_ref refs[] = {
    ENTRY(delta_net), ENTRY(gated_delta_net), ENTRY(gla), ENTRY(retnet), ENTRY(mamba2), ENTRY(conv_only),
    ENTRY(stat_router_fusion), ENTRY(sigmoid_gate_fir), ENTRY(dual_memory_fir),
};

const arch_ref *arch_all(int *n)
{
    *n = (int)(sizeof refs / sizeof refs[0]);
    return refs;
}

const arch_ref *arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (strcmp(refs[i].name, name) == 0) return &refs[i];
    return NULL;
}
