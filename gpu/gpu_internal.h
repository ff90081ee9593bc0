/* gpu_internal.h — private to gpu/: the device object the backends and the
 * launchers share. */
#ifndef ASIARCH_GPU_INTERNAL_H
#define ASIARCH_GPU_INTERNAL_H

#include <stdarg.h>

#include "gpu.h"

#define GPU_ERROR_LEN 512
#define GPU_BLOCK 256   /* = AAK_BLOCK of kernels/cuda/aak.h */

typedef struct gpu_block {
    gpu_ptr ptr;
    size_t size;
    struct gpu_block *next;
} gpu_block;

struct gpu_dev {
    const gpu_backend *be;
    void *impl;
    char *error;                /* GPU_ERROR_LEN bytes, the backend's */
    gpu_open_opts opts;
    char name[128];
    int arch;
    gpu_block *live, *cached;   /* allocated blocks, and freed ones kept for reuse */
    gpu_mem_stats stats;
};

void gpu_fail(gpu_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A device pointer as the pointer type of a kernel's argument struct. */
#define GPU_F(p) ((float *)(uintptr_t)(p))
#define GPU_CF(p) ((const float *)(uintptr_t)(p))
#define GPU_I(p) ((const int *)(uintptr_t)(p))

#endif
