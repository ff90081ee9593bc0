/*
 * exec.c — a kernel file's run, inside the sandboxed runner: buffers,
 * inputs, the correctness run against the reference, and the timing.
 *
 * The inputs are generated once per buffer name from the seed (so a
 * kernel and its reference, or two runs of one file, see the same
 * numbers), kept pristine, and copied into each program's buffers.
 *
 * Checked mode puts every buffer in its own mapping between PROT_NONE
 * guards and makes the inputs read-only while the kernel runs, then runs
 * the kernel twice: once with each buffer's end against its upper guard,
 * once with its start against its lower guard. An access outside a buffer
 * (or a write to an input) then faults on the spot, whatever its distance
 * up to the guard's size; the supervisor names the buffer and element from
 * the fault address and the regions announced before each call.
 *
 * Timing follows Triton's do_bench: warm up for warmup_ms, estimate the
 * time of one call, then time each of enough calls to fill rep_ms (within
 * min_reps..max_reps), and report quantiles rather than a mean alone.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "asiarch_kernel.h"
#include "data.h"
#include "proto.h"
#include "proto_internal.h"

#define GUARD_BYTES ((size_t)1 << 20)
#define TINY 1e-30

void kp_run_opts_default(kp_run_opts *o)
{
    *o = (kp_run_opts){.checked = 1, .bench = 0, .warmup_ms = 25, .rep_ms = 100, .min_reps = 10, .max_reps = 10000,
                       .seed = 1};
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- buffers ------------------------------------------------------------------------------- */

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/* A buffer of `bytes`, guarded when checked; at_end: its last byte
 * against the upper guard, else its first against the lower one. */
static int buf_alloc(kbuf *b, size_t bytes, int checked, int at_end)
{
    size_t pg = page_size(), span = (bytes + pg - 1) / pg * pg;
    size_t guard = checked ? GUARD_BYTES : 0;
    memset(b, 0, sizeof *b);
    b->map_len = span + 2 * guard;
    b->map = mmap(NULL, b->map_len, checked ? PROT_NONE : PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b->map == MAP_FAILED) { b->map = NULL; return -1; }
    if (checked && mprotect(b->map + guard, span, PROT_READ | PROT_WRITE) < 0) {
        munmap(b->map, b->map_len);
        b->map = NULL;
        return -1;
    }
    b->span = span;
    b->bytes = bytes;
    b->data = b->map + guard + (at_end ? span - bytes : 0);
    return 0;
}

static void buf_free(kbuf *b)
{
    if (b->map) munmap(b->map, b->map_len);
    memset(b, 0, sizeof *b);
}

static void buf_protect(kbuf *b, int checked, int writable)
{
    if (!checked || !b->map) return;
    mprotect(b->map + GUARD_BYTES, b->span, writable ? PROT_READ | PROT_WRITE : PROT_READ);
}

/* ---- inputs -------------------------------------------------------------------------------- */

/* A stream per buffer name: the same numbers in every program and run. */
static uint64_t name_seed(uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ? h : 1;
}

static double init_value(const kp_buffer *b, long long i, uint64_t *rng)
{
    switch (b->init) {
    case KP_INIT_UNIFORM:
        if (b->type == KP_I32) return floor(b->a + (b->b - b->a + 1) * dt_rand_uniform(rng));
        return b->a + (b->b - b->a) * dt_rand_uniform(rng);
    case KP_INIT_NORMAL: return b->a + b->b * dt_rand_normal(rng);
    case KP_INIT_ARANGE: return b->a + (double)i * b->b;
    case KP_INIT_CONSTANT: return b->a;
    default: return 0;
    }
}

static void store(kp_type t, void *data, long long i, double v)
{
    switch (t) {
    case KP_F32: ((float *)data)[i] = (float)v; break;
    case KP_F16: ((uint16_t *)data)[i] = ak_f32_to_f16((float)v); break;
    case KP_BF16: ((uint16_t *)data)[i] = ak_f32_to_bf16((float)v); break;
    case KP_I32: ((int32_t *)data)[i] = v > 2147483647.0 ? INT32_MAX : v < -2147483648.0 ? INT32_MIN : (int32_t)v; break;
    }
}

static double load(kp_type t, const void *data, long long i)
{
    switch (t) {
    case KP_F32: return ((const float *)data)[i];
    case KP_F16: return ak_f16_to_f32(((const uint16_t *)data)[i]);
    case KP_BF16: return ak_bf16_to_f32(((const uint16_t *)data)[i]);
    case KP_I32: return ((const int32_t *)data)[i];
    }
    return 0;
}

/* The pristine contents of every buffer of s (outputs: zero). */
static int make_inputs(const kp_spec *s, const kp_sizes *z, uint64_t seed, void **out)
{
    for (int i = 0; i < s->n_bufs; i++) {
        const kp_buffer *b = &s->bufs[i];
        out[i] = calloc((size_t)z->elems[i], kp_type_size(b->type));
        if (!out[i]) return -1;
        if (b->init == KP_INIT_ZERO) continue;
        uint64_t rng = name_seed(seed, b->name);
        for (long long e = 0; e < z->elems[i]; e++) store(b->type, out[i], e, init_value(b, e, &rng));
    }
    return 0;
}

/* ---- one program's buffers and calls ---------------------------------------------------------- */

static void instance_free(instance *in)
{
    for (int i = 0; i < in->prog->spec->n_bufs; i++) buf_free(&in->bufs[i]);
    kp_device_release(in);
}

static int instance_alloc(instance *in, const kp_program *p, const kp_sizes *z, int checked, int at_end)
{
    memset(in, 0, sizeof *in);
    in->prog = p;
    in->sizes = *z;
    in->checked = checked && p->spec->lang == KP_C;
    in->canaries = checked && p->spec->lang == KP_CUDA;
    for (int i = 0; i < p->spec->n_params; i++) in->values[i] = p->spec->params[i].value;
    for (int i = 0; i < p->spec->n_bufs; i++)
        if (buf_alloc(&in->bufs[i], (size_t)z->elems[i] * kp_type_size(p->spec->bufs[i].type), in->checked, at_end) < 0) {
            instance_free(in);
            return -1;
        }
    return 0;
}

/* Copy the pristine contents in: by index for the kernel itself, by name
 * for the reference (pristine belongs to `owner`). */
static void instance_fill(instance *in, const kp_spec *owner, void *const *pristine)
{
    const kp_spec *s = in->prog->spec;
    for (int i = 0; i < s->n_bufs; i++) {
        int j = owner == s ? i : kp_find_buffer(owner, s->bufs[i].name);
        buf_protect(&in->bufs[i], in->checked, 1);
        if (j >= 0) memcpy(in->bufs[i].data, pristine[j], in->bufs[i].bytes);
        else memset(in->bufs[i].data, 0, in->bufs[i].bytes);
    }
}

static void announce(const instance *in, const char *label, kp_announce_fn fn, void *ctx)
{
    if (!fn || !in->checked) return;
    kp_region r[KP_MAX_BUFFERS];
    const kp_spec *s = in->prog->spec;
    for (int i = 0; i < s->n_bufs; i++) {
        const kbuf *b = &in->bufs[i];
        r[i] = (kp_region){.lo = (uintptr_t)b->data, .hi = (uintptr_t)b->data + b->bytes,
                           .guard_lo = (uintptr_t)b->map, .guard_hi = (uintptr_t)b->map + b->map_len,
                           .elem_size = (int32_t)kp_type_size(s->bufs[i].type), .role = s->bufs[i].role};
        snprintf(r[i].name, sizeof r[i].name, "%s", s->bufs[i].name);
        snprintf(r[i].kernel, sizeof r[i].kernel, "%s", label);
    }
    fn(ctx, r, s->n_bufs);
}

/* One call, with the inputs read-only in checked mode. */
static int instance_call(instance *in, char *err, size_t errlen)
{
    const kp_spec *s = in->prog->spec;
    if (s->lang == KP_CUDA) return kp_device_call(in, err, errlen);
    void *b[KP_MAX_BUFFERS];
    for (int i = 0; i < s->n_bufs; i++) {
        b[i] = in->bufs[i].data;
        if (s->bufs[i].role == KP_IN) buf_protect(&in->bufs[i], in->checked, 0);
    }
    in->prog->call(b, in->values);
    for (int i = 0; i < s->n_bufs; i++) buf_protect(&in->bufs[i], in->checked, 1);
    return 0;
}

/* The host copy of buffer i after a call. */
static const void *instance_result(instance *in, int i, char *err, size_t errlen)
{
    if (in->prog->spec->lang == KP_CUDA && kp_device_download(in, i, err, errlen) < 0) return NULL;
    return in->bufs[i].data;
}

/* ---- comparing -------------------------------------------------------------------------------- */

static void compare(const kp_buffer *b, long long n, const void *got, const void *want, double tol, kp_compare *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", b->name);
    c->compared = 1;
    c->tol = tol;
    c->worst = -1;
    double worst_excess = -INFINITY;
    for (long long i = 0; i < n; i++) {
        double x = load(b->type, got, i), r = load(b->type, want, i);
        if (isnan(x) && isnan(r)) continue;
        double d = fabs(x - r), excess;
        if (!isfinite(x) && isfinite(r)) {
            c->nonfinite++;
            excess = INFINITY;
        } else if (!isfinite(r)) {
            excess = x == r ? -INFINITY : INFINITY;
            d = x == r ? 0 : INFINITY;
        } else {
            excess = d - (tol + tol * fabs(r));
            if (d > c->max_abs) c->max_abs = d;
            if (fabs(r) > tol && d / fabs(r) > c->max_rel) c->max_rel = d / fabs(r);
        }
        if (b->type == KP_I32 ? d != 0 : excess > 0) c->bad++;
        if (excess > worst_excess) {
            worst_excess = excess;
            c->worst = i;
            c->got = x;
            c->want = r;
        }
    }
    if (c->bad == 0) c->worst = -1;
}

/* ---- timing ----------------------------------------------------------------------------------- */

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench(instance *in, const kp_run_opts *o, kp_timing *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    double start = now_s(), one = 0;
    int warm = 0;
    do {
        double a = now_s();
        if (instance_call(in, err, errlen) < 0 || kp_device_sync(in, err, errlen) < 0) return -1;
        one = now_s() - a;
        warm++;
    } while (now_s() - start < o->warmup_ms * 1e-3 || warm < 2);
    long n = one > 0 ? (long)(o->rep_ms * 1e-3 / one) : o->max_reps;
    if (n < o->min_reps) n = o->min_reps;
    if (n > o->max_reps) n = o->max_reps;
    double *times = malloc(sizeof *times * (size_t)n);
    if (!times) { snprintf(err, errlen, "out of memory timing the kernel"); return -1; }
    double sum = 0;
    for (long i = 0; i < n; i++) {
        double a = now_s();
        if (instance_call(in, err, errlen) < 0 || kp_device_sync(in, err, errlen) < 0) { free(times); return -1; }
        times[i] = now_s() - a;
        sum += times[i];
    }
    qsort(times, (size_t)n, sizeof *times, by_value);
    *t = (kp_timing){.reps = (int)n, .median_s = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]),
                     .min_s = times[0], .p20_s = times[(long)(0.2 * (double)(n - 1))],
                     .p80_s = times[(long)(0.8 * (double)(n - 1))], .mean_s = sum / (double)n};
    free(times);
    return 0;
}

/* ---- the run ---------------------------------------------------------------------------------- */

/* Parameters of the reference: the kernel's values by name, else its own defaults. */
static void share_params(kp_spec *ref, const kp_spec *k)
{
    for (int i = 0; i < ref->n_params; i++) {
        int j = kp_find_param(k, ref->params[i].name);
        if (j >= 0) ref->params[i].value = k->params[j].value;
    }
}

/* The reference's buffers must line up with the kernel's by name. */
static int check_ref_shapes(const kp_spec *k, const kp_sizes *kz, const kp_spec *r, const kp_sizes *rz, char *err,
                            size_t errlen)
{
    for (int i = 0; i < r->n_bufs; i++) {
        int j = kp_find_buffer(k, r->bufs[i].name);
        if (j < 0) continue;
        if (r->bufs[i].type != k->bufs[j].type || rz->elems[i] != kz->elems[j]) {
            snprintf(err, errlen, "buffer %s is %s[%lld] in the kernel but %s[%lld] in the reference", r->bufs[i].name,
                     kp_type_name(k->bufs[j].type), kz->elems[j], kp_type_name(r->bufs[i].type), rz->elems[i]);
            return -1;
        }
    }
    return 0;
}

static void free_all(void **p, int n)
{
    for (int i = 0; i < n; i++) free(p[i]);
}

int kp_run(const kp_program *k, kp_program *ref, const kp_run_opts *o, kp_announce_fn fn, void *ctx,
           kp_outcome *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    kp_sizes kz, rz;
    if (kp_spec_sizes(k->spec, &kz, err, errlen) < 0) return -1;
    if (ref) {
        share_params((kp_spec *)ref->spec, k->spec);
        if (kp_spec_sizes(ref->spec, &rz, err, errlen) < 0 || check_ref_shapes(k->spec, &kz, ref->spec, &rz, err, errlen) < 0)
            return -1;
    }
    void *pristine[KP_MAX_BUFFERS] = {0};
    if (make_inputs(k->spec, &kz, o->seed, pristine) < 0) {
        free_all(pristine, k->spec->n_bufs);
        snprintf(err, errlen, "out of memory generating the inputs (%lld bytes)", kz.total_bytes);
        return -1;
    }
    int rc = -1;
    instance ki = {0}, ri = {0}, check = {0};
    const kp_spec *s = k->spec;
    if (instance_alloc(&ki, k, &kz, o->checked, 1) < 0) { snprintf(err, errlen, "cannot allocate the buffers: %s", strerror(errno)); goto done; }
    instance_fill(&ki, s, pristine);
    if (kp_device_prepare(&ki, err, errlen) < 0) goto done;
    announce(&ki, "kernel", fn, ctx);
    double t0 = now_s();
    if (instance_call(&ki, err, errlen) < 0 || kp_device_sync(&ki, err, errlen) < 0) goto done;
    out->first_call_s = now_s() - t0;
    if (ki.canaries && kp_device_check_canaries(&ki, err, errlen) < 0) {
        rc = KP_OUT_OF_BOUNDS;
        goto done;
    }
    if (ki.checked) {   /* the same call with every buffer against its lower guard */
        if (instance_alloc(&check, k, &kz, 1, 0) < 0) { snprintf(err, errlen, "cannot allocate the buffers: %s", strerror(errno)); goto done; }
        instance_fill(&check, s, pristine);
        announce(&check, "kernel", fn, ctx);
        instance_call(&check, err, errlen);
        instance_free(&check);
    }
    if (ref) {
        if (instance_alloc(&ri, ref, &rz, o->checked, 1) < 0) { snprintf(err, errlen, "cannot allocate the reference's buffers"); goto done; }
        instance_fill(&ri, s, pristine);
        if (kp_device_prepare(&ri, err, errlen) < 0) goto done;
        announce(&ri, "reference", fn, ctx);
        if (instance_call(&ri, err, errlen) < 0 || kp_device_sync(&ri, err, errlen) < 0) goto done;
        if (ri.canaries && kp_device_check_canaries(&ri, err, errlen) < 0) {
            rc = KP_OUT_OF_BOUNDS;
            goto done;
        }
        out->have_ref = 1;
    }
    for (int i = 0; i < s->n_bufs; i++) {
        if (s->bufs[i].role == KP_IN) continue;
        kp_compare *c = &out->outputs[out->n_outputs++];
        snprintf(c->name, sizeof c->name, "%s", s->bufs[i].name);
        int j = ref ? kp_find_buffer(ref->spec, s->bufs[i].name) : -1;
        if (j < 0 || ref->spec->bufs[j].role == KP_IN) continue;
        const void *got = instance_result(&ki, i, err, errlen), *want = got ? instance_result(&ri, j, err, errlen) : NULL;
        if (!want) goto done;
        compare(&s->bufs[i], kz.elems[i], got, want, kp_tolerance(s, s->bufs[i].type), c);
        out->mismatch |= c->bad > 0 || c->nonfinite > 0;
    }
    if (o->bench) {
        if (bench(&ki, o, &out->kernel, err, errlen) < 0) goto done;
        if (ref && bench(&ri, o, &out->ref, err, errlen) < 0) goto done;
    }
    rc = 0;
done:
    instance_free(&ki);
    if (ri.prog) instance_free(&ri);
    free_all(pristine, s->n_bufs);
    return rc;
}

int kp_describe_fault(const kp_region *r, int n, uint64_t addr, char *out, size_t len)
{
    for (int i = 0; i < n; i++) {
        if (addr < r[i].guard_lo || addr >= r[i].guard_hi || r[i].elem_size <= 0) continue;
        long long off = addr >= r[i].lo ? (long long)(addr - r[i].lo) : -(long long)(r[i].lo - addr);
        long long elem = off >= 0 ? off / r[i].elem_size : -((-off + r[i].elem_size - 1) / r[i].elem_size);
        long long count = (long long)(r[i].hi - r[i].lo) / r[i].elem_size;
        if (addr >= r[i].lo && addr < r[i].hi)
            snprintf(out, len, "%s[%lld], inside %s (%lld elements): a write to an input, which is read-only while "
                     "the %s runs (declare it @inout to modify it)", r[i].name, elem, r[i].name, count, r[i].kernel);
        else if (addr >= r[i].hi)
            snprintf(out, len, "%s[%lld] in the %s: %lld element%s past the end of %s (%lld elements)", r[i].name, elem,
                     r[i].kernel, elem - count + 1, elem - count ? "s" : "", r[i].name, count);
        else
            snprintf(out, len, "%s[%lld] in the %s: %lld element%s before the start of %s (%lld elements)", r[i].name,
                     elem, r[i].kernel, -elem, elem == -1 ? "" : "s", r[i].name, count);
        return 1;
    }
    return 0;
}
