/*
 * device.c — what every backend shares: the device object, the caching
 * allocator, the checks in front of launches and GEMMs, the embedded
 * kernel sources.
 *
 * The allocator keeps freed blocks in per-size lists. Sizes are rounded up
 * (to 512 bytes, to a power of two up to 1 MiB, to 2 MiB above), so that a
 * training step, which frees and allocates the same sizes every time, is
 * served from the cache after the first step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "gpu_internal.h"
#include "jit.h"

/* ---- names ---------------------------------------------------------------------- */

const char *gpu_precision_name(gpu_precision p)
{
    return p == GPU_TF32 ? "tf32" : p == GPU_BF16 ? "bf16" : "fp32";
}

int gpu_precision_parse(const char *s, gpu_precision *out)
{
    static const char *const names[] = {"fp32", "tf32", "bf16"};
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (gpu_precision)i;
            return 0;
        }
    return -1;
}

/* ---- the device ------------------------------------------------------------------ */

gpu_dev *gpu_open_backend(const gpu_backend *be, void *impl, char *error, const gpu_open_opts *o)
{
    gpu_dev *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->be = be;
    d->impl = impl;
    d->error = error;
    if (o) d->opts = *o;
    snprintf(d->name, sizeof d->name, "%s", be->name);
    return d;
}

void gpu_close(gpu_dev *d)
{
    if (!d) return;
    gpu_trim(d);
    for (gpu_block *b = d->live; b;) {   /* whatever the caller did not free */
        gpu_block *next = b->next;
        d->be->release(d->impl, b->ptr);
        free(b);
        b = next;
    }
    d->be->close(d->impl);
    free(d);
}

const char *gpu_error(const gpu_dev *d) { return d && d->error ? d->error : ""; }
const char *gpu_name(const gpu_dev *d) { return d->name; }
int gpu_arch(const gpu_dev *d) { return d->arch; }
gpu_precision gpu_dev_precision(const gpu_dev *d) { return d->opts.precision; }
int gpu_deterministic(const gpu_dev *d) { return d->opts.deterministic; }

void gpu_fail(gpu_dev *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, GPU_ERROR_LEN, fmt, ap);
    va_end(ap);
}

/* ---- the caching allocator ---------------------------------------------------------- */

static size_t round_size(size_t bytes)
{
    if (bytes <= 512) return 512;
    if (bytes >= ((size_t)1 << 20)) return (bytes + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
    size_t s = 1024;
    while (s < bytes) s *= 2;
    return s;
}

gpu_ptr gpu_alloc(gpu_dev *d, size_t bytes)
{
    size_t size = round_size(bytes ? bytes : 1);
    d->stats.allocs++;
    gpu_block **pp = &d->cached, *b = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->size == size) {
            b = *pp;
            *pp = b->next;
            d->stats.cached -= size;
            d->stats.reuses++;
            break;
        }
    if (!b) {
        gpu_ptr p = 0;
        if (d->be->alloc(d->impl, size, &p) < 0) {
            gpu_trim(d);   /* the cache may hold what the driver needs; try once more */
            if (d->be->alloc(d->impl, size, &p) < 0) {
                char why[GPU_ERROR_LEN];
                snprintf(why, sizeof why, "%s", d->error);
                gpu_fail(d, "cannot allocate %zu bytes of device memory (%zu in use): %s", size, d->stats.in_use, why);
                return 0;
            }
        }
        b = malloc(sizeof *b);
        if (!b) {
            d->be->release(d->impl, p);
            gpu_fail(d, "out of host memory");
            return 0;
        }
        b->ptr = p;
        b->size = size;
    }
    b->next = d->live;
    d->live = b;
    d->stats.in_use += size;
    if (d->stats.in_use > d->stats.peak) d->stats.peak = d->stats.in_use;
    return b->ptr;
}

void gpu_free(gpu_dev *d, gpu_ptr p)
{
    if (!p) return;
    for (gpu_block **pp = &d->live; *pp; pp = &(*pp)->next) {
        gpu_block *b = *pp;
        if (b->ptr != p) continue;
        *pp = b->next;
        d->stats.in_use -= b->size;
        d->stats.cached += b->size;
        b->next = d->cached;
        d->cached = b;
        return;
    }
}

void gpu_trim(gpu_dev *d)
{
    while (d->cached) {
        gpu_block *b = d->cached;
        d->cached = b->next;
        d->be->release(d->impl, b->ptr);
        free(b);
    }
    d->stats.cached = 0;
}

void gpu_mem_stats_get(const gpu_dev *d, gpu_mem_stats *out) { *out = d->stats; }

/* ---- copies, launches, GEMMs ------------------------------------------------------------ */

int gpu_upload(gpu_dev *d, gpu_ptr dst, const void *src, size_t bytes)
{
    return bytes ? d->be->upload(d->impl, dst, src, bytes) : 0;
}
int gpu_download(gpu_dev *d, void *dst, gpu_ptr src, size_t bytes)
{
    return bytes ? d->be->download(d->impl, dst, src, bytes) : 0;
}
int gpu_copy(gpu_dev *d, gpu_ptr dst, gpu_ptr src, size_t bytes)
{
    return bytes && dst != src ? d->be->copy(d->impl, dst, src, bytes) : 0;
}
int gpu_zero(gpu_dev *d, gpu_ptr dst, size_t floats) { return floats ? d->be->fill32(d->impl, dst, 0, floats) : 0; }
int gpu_sync(gpu_dev *d) { return d->be->sync(d->impl); }

gpu_grid gpu_grid_for(size_t n)
{
    /* Enough blocks to fill any current GPU several times over; the
     * grid-stride loops cover the rest. */
    size_t blocks = (n + GPU_BLOCK - 1) / GPU_BLOCK;
    if (blocks > 65536) blocks = 65536;
    if (blocks == 0) blocks = 1;
    return (gpu_grid){.blocks_x = (unsigned)blocks, .blocks_y = 1, .threads = GPU_BLOCK};
}

int gpu_launch(gpu_dev *d, const gpu_kernel *k, gpu_grid grid, const void *args, size_t args_size)
{
    if (grid.blocks_y == 0) grid.blocks_y = 1;
    if (grid.blocks_z == 0) grid.blocks_z = 1;
    if (grid.threads_y == 0) grid.threads_y = 1;
    if (grid.threads_z == 0) grid.threads_z = 1;
    if (grid.blocks_x == 0 || grid.threads == 0 || (unsigned long long)grid.threads * grid.threads_y * grid.threads_z > 1024) {
        gpu_fail(d, "%s: bad launch (%u x %u x %u blocks of %u x %u x %u threads)", k->name, grid.blocks_x,
                 grid.blocks_y, grid.blocks_z, grid.threads, grid.threads_y, grid.threads_z);
        return -1;
    }
    return d->be->launch(d->impl, k, grid, args, args_size);
}

int gpu_gemm_run(gpu_dev *d, const gpu_gemm *g)
{
    if (g->m <= 0 || g->n <= 0 || g->k <= 0 || g->batch <= 0) return 0;
    return d->be->gemm(d->impl, g);
}

int gpu_preload(gpu_dev *d)
{
    char why[512];
    if (jit_nvrtc_warm(why, sizeof why) < 0) {
        gpu_fail(d, "%s", why);
        return -1;
    }
    for (const gpu_source *s = gpu_sources; s->name && d->be->prepare; s++) {
        size_t len = strlen(s->name);
        if (len > 3 && strcmp(s->name + len - 3, ".cu") == 0 && d->be->prepare(d->impl, s->name) < 0) return -1;
    }
    return 0;
}

/* ---- the embedded sources ------------------------------------------------------------ */

const char *gpu_source_text(const char *name)
{
    for (const gpu_source *s = gpu_sources; s->name; s++)
        if (strcmp(s->name, name) == 0) return s->text;
    return NULL;
}

void gpu_kernel_headers(struct jit_nvrtc_headers *h)
{
    h->n = 0;
    for (const gpu_source *s = gpu_sources; s->name && h->n < JIT_NVRTC_MAX_HEADERS; s++) {
        size_t len = strlen(s->name);
        if (len < 2 || strcmp(s->name + len - 2, ".h") != 0) continue;
        h->names[h->n] = s->name;
        h->texts[h->n] = s->text;
        h->n++;
    }
}
