/*
 * device.c — a CUDA kernel file on the GPU (gpu.h): its buffers mirrored
 * in device memory, its module compiled by NVRTC on first launch (through
 * the GPU layer's module cache, under a name unique to its text), and its
 * launch with the parameters packed as the CUDA ABI lays them out.
 *
 * For a C program every function here does nothing: its buffers are the
 * host buffers exec.c made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "jit.h"
#include "proto_internal.h"

static int is_cuda(const instance *in) { return in->prog->spec->lang == KP_CUDA; }

static int gpu_failed(const instance *in, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, gpu_error(in->prog->gpu));
    return -1;
}

/* Canary bytes on each side of a device buffer in checked mode: a write
 * up to this far outside it is found after the call. */
#define CANARY_BYTES ((size_t)64 << 10)
#define CANARY 0xa5

static int fill_canaries(instance *in, int i, char *err, size_t errlen)
{
    static unsigned char pattern[CANARY_BYTES];
    memset(pattern, CANARY, sizeof pattern);
    gpu_dev *d = in->prog->gpu;
    if (gpu_upload(d, in->dev_base[i], pattern, CANARY_BYTES) < 0 ||
        gpu_upload(d, in->dev[i] + in->bufs[i].bytes, pattern, CANARY_BYTES) < 0)
        return gpu_failed(in, "writing the canaries", err, errlen);
    return 0;
}

int kp_device_check_canaries(instance *in, char *err, size_t errlen)
{
    static unsigned char seen[CANARY_BYTES];
    const kp_spec *s = in->prog->spec;
    for (int i = 0; i < s->n_bufs; i++) {
        long long elem = (long long)kp_type_size(s->bufs[i].type), count = (long long)in->bufs[i].bytes / elem;
        for (int side = 0; side < 2; side++) {
            uint64_t at = side ? in->dev[i] + in->bufs[i].bytes : in->dev_base[i];
            if (gpu_download(in->prog->gpu, seen, at, CANARY_BYTES) < 0 || gpu_sync(in->prog->gpu) < 0)
                return gpu_failed(in, "reading the canaries", err, errlen);
            /* the written byte nearest the buffer */
            long long hit = -1;
            for (size_t b = 0; b < CANARY_BYTES; b++) {
                size_t k = side ? b : CANARY_BYTES - 1 - b;
                if (seen[k] != CANARY) { hit = (long long)k; break; }
            }
            if (hit < 0) continue;
            long long index = side ? count + hit / elem : -((long long)CANARY_BYTES - hit + elem - 1) / elem;
            snprintf(err, errlen, "the %s wrote %s[%lld], %lld element%s %s %s (%lld elements): found in the canary "
                     "bytes around the buffer after the call", s->entry, s->bufs[i].name,
                     index, side ? index - count + 1 : -index, (side ? index - count + 1 : -index) == 1 ? "" : "s",
                     side ? "past the end of" : "before the start of", s->bufs[i].name, count);
            return -1;
        }
    }
    return 0;
}

int kp_device_prepare(instance *in, char *err, size_t errlen)
{
    if (!is_cuda(in)) return 0;
    if (!in->prog->gpu) {
        snprintf(err, errlen, "a CUDA kernel needs a GPU (run with --device cuda on a machine with one)");
        return -1;
    }
    const kp_spec *s = in->prog->spec;
    size_t pad = in->canaries ? CANARY_BYTES : 0;
    for (int i = 0; i < s->n_bufs; i++) {
        in->dev_base[i] = gpu_alloc(in->prog->gpu, in->bufs[i].bytes + 2 * pad);
        if (!in->dev_base[i]) return gpu_failed(in, "allocating device memory", err, errlen);
        in->dev[i] = in->dev_base[i] + pad;
        if (pad && fill_canaries(in, i, err, errlen) < 0) return -1;
        if (gpu_upload(in->prog->gpu, in->dev[i], in->bufs[i].data, in->bufs[i].bytes) < 0)
            return gpu_failed(in, "copying the inputs to the GPU", err, errlen);
    }
    return 0;
}

/* The parameters in the entry's order, each at its natural alignment. */
static size_t pack(const instance *in, unsigned char *buf, size_t cap)
{
    const kp_spec *s = in->prog->spec;
    size_t off = 0;
    for (int a = 0; a < s->n_args; a++) {
        const kp_arg *g = &s->args[a];
        size_t w = g->buffer ? 8 : (size_t)g->width;
        off = (off + w - 1) / w * w;
        if (off + w > cap) return 0;
        if (g->buffer) {
            uint64_t p = in->dev[g->index];
            memcpy(buf + off, &p, 8);
        } else if (w == 4) {
            int32_t v = (int32_t)in->values[g->index];
            memcpy(buf + off, &v, 4);
        } else {
            int64_t v = in->values[g->index];
            memcpy(buf + off, &v, 8);
        }
        off += w;
    }
    return off;
}

int kp_device_call(instance *in, char *err, size_t errlen)
{
    const kp_sizes *z = &in->sizes;
    unsigned char args[KP_MAX_ARGS * 8];
    size_t n = pack(in, args, sizeof args);
    gpu_kernel k = {in->prog->file, in->prog->spec->entry, in->prog->source};
    gpu_grid g = {.blocks_x = z->grid[0], .blocks_y = z->grid[1], .blocks_z = z->grid[2], .threads = z->block[0],
                  .threads_y = z->block[1], .threads_z = z->block[2], .shared_bytes = z->shared};
    if (gpu_launch(in->prog->gpu, &k, g, n ? args : NULL, n) < 0) return gpu_failed(in, "launch", err, errlen);
    return 0;
}

int kp_device_sync(instance *in, char *err, size_t errlen)
{
    if (!is_cuda(in)) return 0;
    return gpu_sync(in->prog->gpu) < 0 ? gpu_failed(in, "the kernel failed on the GPU", err, errlen) : 0;
}

int kp_device_download(instance *in, int i, char *err, size_t errlen)
{
    if (gpu_download(in->prog->gpu, in->bufs[i].data, in->dev[i], in->bufs[i].bytes) < 0 ||
        gpu_sync(in->prog->gpu) < 0)
        return gpu_failed(in, "copying the outputs back", err, errlen);
    return 0;
}

void kp_device_release(instance *in)
{
    if (!is_cuda(in) || !in->prog->gpu) return;
    for (int i = 0; i < in->prog->spec->n_bufs; i++)
        if (in->dev_base[i]) gpu_free(in->prog->gpu, in->dev_base[i]);
    memset(in->dev, 0, sizeof in->dev);
    memset(in->dev_base, 0, sizeof in->dev_base);
}

char *kp_cuda_source(const char *file, const char *text)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    fprintf(f, "#include \"asiarch_kernel.h\"\n#line 1 \"");
    for (const char *p = file; *p; p++) fputc(*p == '"' || *p == '\\' || *p == '\n' ? '_' : *p, f);
    fprintf(f, "\"\n%s", text);
    if (fclose(f) != 0) { free(out); return NULL; }
    return out;
}

/* NVRTC includes the kernel header itself (--pre-include), so the text it
 * compiles is the file's own, line for line, and its reports need no
 * remapping. */
static const char *const cuda_options[] = {"--pre-include=asiarch_kernel.h"};

const char *const *kp_cuda_options(int *n)
{
    *n = 1;
    return cuda_options;
}

int kp_cuda_compile(const jit_source *src, int arch, int cubin, jit_device_code *out, aa_reports *reps)
{
    jit_nvrtc_opts o;
    jit_nvrtc_defaults(&o);
    o.arch = arch;
    o.cubin = cubin;
    o.extra = kp_cuda_options(&o.n_extra);
    jit_nvrtc_headers h;
    gpu_kernel_headers(&h);
    return jit_nvrtc_compile(src->path, src->text, &h, &o, out, reps);
}
