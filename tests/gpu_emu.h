/*
 * gpu_emu.h — the kernels of kernels/cuda/ on the CPU, for tests on
 * machines without a GPU.
 *
 * Each kernel source is compiled as C17 with this header first (see
 * tests/CMakeLists.txt). A launch runs the grid's blocks one after another;
 * a block's threads run as fibers (ucontext) that switch at every
 * AAK_SYNC(), so __syncthreads, shared memory (static storage: one block
 * runs at a time) and per-thread locals behave as on the GPU. GEMMs go to
 * OpenBLAS. The device behind it is a gpu_backend like the CUDA one, so
 * the launchers, the allocator and the executor above it are the real ones.
 *
 * It proves that the kernels compute what the CPU kernels compute, in the
 * order their barriers allow. It cannot prove speed, the warp-level
 * behaviour of code that relies on it without a barrier, or anything of the
 * driver: those need tests/gpu/run.sh on a GPU.
 */
#ifndef ASIARCH_GPU_EMU_H
#define ASIARCH_GPU_EMU_H

#define AAK_EMULATION 1
#include <math.h>
#include <stddef.h>
#include <stdint.h>

typedef struct aak_dim3 { unsigned x, y, z; } aak_dim3;
extern aak_dim3 threadIdx, blockIdx, blockDim, gridDim;

void aak_emu_sync(void);
void aak_emu_register(const char *name, void (*entry)(const void *), size_t args_size);

#define AAK_KERNEL(name, T)                                                                   \
    static void name(const T p);                                                              \
    static void name##_entry(const void *a) { name(*(const T *)a); }                          \
    __attribute__((constructor)) static void name##_register(void)                            \
    {                                                                                         \
        aak_emu_register(#name, name##_entry, sizeof(T));                                     \
    }                                                                                         \
    static void name(const T p)
#define AAK_SHARED static
#define AAK_SYNC() aak_emu_sync()
#define AAK_ATOMIC_ADD(ptr, v) (*(ptr) += (v))
#define AAK_INF INFINITY

#ifndef GPU_EMU_KERNEL_SOURCE   /* the tests, not the kernel sources compiled against this header */
#include "gpu.h"
/* An emulated device (precision and determinism as o; NULL: defaults). */
gpu_dev *gpu_emu_open(const gpu_open_opts *o);
/* The device the GPU tests run on: the emulated one, or with
 * ASIARCH_TEST_DEVICE=cuda the real GPU (tests/gpu/run.sh), so that one
 * test source checks both. Exits 77 (skip) when cuda is asked for and
 * cannot be opened, 1 when ASIARCH_TEST_DEVICE=cuda-required. */
gpu_dev *gpu_test_open(void);
int gpu_test_is_real(void);
/* Launches run so far (tests check that work went through the kernels). */
long gpu_emu_launches(void);

/* Test helpers: a device copy of n host floats (0 when it fails), and the
 * largest |device - ref| / (1 + |ref|) over n floats (a relative error that
 * is absolute near zero); where names the worst index. */
gpu_ptr gpu_emu_put(gpu_dev *d, const float *host, size_t n);
/* n floats uniform in [lo, hi), a fixed stream per seed (xorshift64); malloc'd. */
float *gpu_test_randoms(size_t n, float lo, float hi, uint64_t seed);
double gpu_emu_max_err(gpu_dev *d, gpu_ptr dev, const float *ref, size_t n, size_t *where);
#endif

#endif
