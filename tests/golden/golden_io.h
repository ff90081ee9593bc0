/* golden_io.h: header-only reader for asiarch golden fixture files (AAGOLD01).
 *
 * Format (little-endian, written by tests/golden/make_golden.py):
 *   char   magic[8] = "AAGOLD01"
 *   int32  count
 *   count x record:
 *     int32 name_len; char name[name_len] (no NUL);
 *     int32 dtype (0 = float32, 1 = int32); int32 rank; int32 dims[rank];
 *     data: prod(dims) elements of dtype (4 bytes each)
 *
 * Usage:
 *   golden_file g;
 *   char err[256];
 *   if (golden_load(path, &g, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); ... }
 *   const golden_record *r = golden_find(&g, "logits");
 *   const float *x = golden_f32(r);           // NULL unless r is a float32 record
 *   golden_free(&g);
 *
 * Values are decoded byte by byte, so the reader works on any host byte order.
 * C17, no dependencies beyond the C library; every function is static inline
 * (no unused-function warnings in files that use only part of the API).
 */
#ifndef ASIARCH_GOLDEN_IO_H
#define ASIARCH_GOLDEN_IO_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_MAGIC "AAGOLD01"
#define GOLDEN_MAX_RANK 8
#define GOLDEN_MAX_NAME 4096
#define GOLDEN_MAX_COUNT 1000000

enum { GOLDEN_F32 = 0, GOLDEN_I32 = 1 };

typedef struct golden_record {
    char *name;                    /* NUL-terminated copy of the name */
    int dtype;                     /* GOLDEN_F32 or GOLDEN_I32 */
    int rank;                      /* 0 .. GOLDEN_MAX_RANK */
    int64_t dims[GOLDEN_MAX_RANK];
    int64_t numel;                 /* product of dims (1 for rank 0) */
    void *data;                    /* float[numel] or int32_t[numel], host order */
} golden_record;

typedef struct golden_file {
    golden_record *recs;
    int count;
} golden_file;

static inline void golden_errf_(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static inline uint32_t golden_u32_(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline int32_t golden_i32_(const unsigned char *p)
{
    uint32_t u = golden_u32_(p);
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline void golden_free(golden_file *g)
{
    if (!g) return;
    if (g->recs) {
        for (int i = 0; i < g->count; i++) {
            free(g->recs[i].name);
            free(g->recs[i].data);
        }
        free(g->recs);
    }
    g->recs = NULL;
    g->count = 0;
}

/* Reads the whole file into memory.  Returns 0 on success, -1 on error. */
static inline int golden_read_all_(const char *path, unsigned char **buf, size_t *len, char *err,
                            size_t errlen)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        golden_errf_(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 20, n = 0;
    unsigned char *b = malloc(cap);
    if (!b) {
        fclose(f);
        golden_errf_(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap > SIZE_MAX / 2) {
                free(b);
                fclose(f);
                golden_errf_(err, errlen, "%s: file too large", path);
                return -1;
            }
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                fclose(f);
                golden_errf_(err, errlen, "%s: out of memory", path);
                return -1;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        golden_errf_(err, errlen, "%s: read error", path);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* Loads and validates a golden file.  On success returns 0 and fills *g (release
 * it with golden_free).  On failure returns -1, leaves *g empty and writes a
 * message naming the file, the byte offset and the record into err. */
static inline int golden_load(const char *path, golden_file *g, char *err, size_t errlen)
{
    g->recs = NULL;
    g->count = 0;
    if (err && errlen) err[0] = '\0';

    unsigned char *buf;
    size_t len;
    if (golden_read_all_(path, &buf, &len, err, errlen) != 0) return -1;

    size_t off = 0;
    if (len < 12 || memcmp(buf, GOLDEN_MAGIC, 8) != 0) {
        golden_errf_(err, errlen, "%s: not a golden file (expected magic \"%s\")", path,
                     GOLDEN_MAGIC);
        free(buf);
        return -1;
    }
    int32_t count = golden_i32_(buf + 8);
    off = 12;
    if (count < 0 || count > GOLDEN_MAX_COUNT) {
        golden_errf_(err, errlen, "%s: bad record count %d", path, (int)count);
        free(buf);
        return -1;
    }
    g->recs = calloc(count > 0 ? (size_t)count : 1, sizeof *g->recs);
    if (!g->recs) {
        golden_errf_(err, errlen, "%s: out of memory", path);
        free(buf);
        return -1;
    }

#define GOLDEN_NEED_(nbytes, what)                                                        \
    do {                                                                                  \
        if ((size_t)(nbytes) > len - off) {                                               \
            golden_errf_(err, errlen, "%s: record %d: truncated at byte %zu reading %s",   \
                         path, i, off, what);                                             \
            goto fail;                                                                    \
        }                                                                                 \
    } while (0)

    for (int i = 0; i < count; i++) {
        golden_record *r = &g->recs[i];
        GOLDEN_NEED_(4, "name length");
        int32_t nlen = golden_i32_(buf + off);
        off += 4;
        if (nlen <= 0 || nlen > GOLDEN_MAX_NAME) {
            golden_errf_(err, errlen, "%s: record %d: bad name length %d at byte %zu", path, i,
                         (int)nlen, off - 4);
            goto fail;
        }
        GOLDEN_NEED_(nlen, "name");
        r->name = malloc((size_t)nlen + 1);
        if (!r->name) {
            golden_errf_(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        memcpy(r->name, buf + off, (size_t)nlen);
        r->name[nlen] = '\0';
        if (strlen(r->name) != (size_t)nlen) {
            golden_errf_(err, errlen, "%s: record %d: name contains a NUL byte", path, i);
            goto fail;
        }
        off += (size_t)nlen;
        g->count = i + 1; /* from here golden_free releases this record */

        GOLDEN_NEED_(8, "dtype and rank");
        int32_t dtype = golden_i32_(buf + off);
        int32_t rank = golden_i32_(buf + off + 4);
        off += 8;
        if (dtype != GOLDEN_F32 && dtype != GOLDEN_I32) {
            golden_errf_(err, errlen, "%s: record '%s': unknown dtype %d", path, r->name,
                         (int)dtype);
            goto fail;
        }
        if (rank < 0 || rank > GOLDEN_MAX_RANK) {
            golden_errf_(err, errlen, "%s: record '%s': bad rank %d (max %d)", path, r->name,
                         (int)rank, GOLDEN_MAX_RANK);
            goto fail;
        }
        r->dtype = dtype;
        r->rank = rank;
        GOLDEN_NEED_((size_t)rank * 4, "dims");
        int64_t numel = 1;
        for (int j = 0; j < rank; j++) {
            int32_t dj = golden_i32_(buf + off + 4 * (size_t)j);
            if (dj < 0) {
                golden_errf_(err, errlen, "%s: record '%s': negative dim %d", path, r->name,
                             (int)dj);
                goto fail;
            }
            r->dims[j] = dj;
            if (dj != 0 && numel > INT64_MAX / 4 / dj) {
                golden_errf_(err, errlen, "%s: record '%s': size overflow", path, r->name);
                goto fail;
            }
            numel *= dj;
        }
        off += (size_t)rank * 4;
        r->numel = numel;
        if ((uint64_t)numel > (uint64_t)(len - off) / 4) {
            golden_errf_(err, errlen,
                         "%s: record '%s': data truncated (%lld elements need %lld bytes, "
                         "%zu left)",
                         path, r->name, (long long)numel, (long long)numel * 4, len - off);
            goto fail;
        }
        r->data = malloc(numel > 0 ? (size_t)numel * 4 : 1);
        if (!r->data) {
            golden_errf_(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        for (int64_t e = 0; e < numel; e++) {
            uint32_t u = golden_u32_(buf + off + 4 * (size_t)e);
            memcpy((unsigned char *)r->data + 4 * (size_t)e, &u, 4);
        }
        off += (size_t)numel * 4;
    }
#undef GOLDEN_NEED_

    if (off != len) {
        golden_errf_(err, errlen, "%s: %zu trailing bytes after %d records", path, len - off,
                     (int)count);
        goto fail;
    }
    free(buf);
    return 0;

fail:
    free(buf);
    golden_free(g);
    return -1;
}

/* The record called name, or NULL. */
static inline const golden_record *golden_find(const golden_file *g, const char *name)
{
    for (int i = 0; i < g->count; i++)
        if (strcmp(g->recs[i].name, name) == 0) return &g->recs[i];
    return NULL;
}

/* Typed views: NULL when r is NULL or of the other dtype. */
static inline const float *golden_f32(const golden_record *r)
{
    return (r && r->dtype == GOLDEN_F32) ? (const float *)r->data : NULL;
}

static inline const int32_t *golden_i32(const golden_record *r)
{
    return (r && r->dtype == GOLDEN_I32) ? (const int32_t *)r->data : NULL;
}

/* The record called name if it has the given dtype and numel elements, else NULL
 * with a message in err (missing, wrong dtype, or wrong size). */
static inline const golden_record *golden_expect(const golden_file *g, const char *name, int dtype,
                                          int64_t numel, char *err, size_t errlen)
{
    const golden_record *r = golden_find(g, name);
    if (!r) {
        golden_errf_(err, errlen, "golden record '%s' not found", name);
        return NULL;
    }
    if (r->dtype != dtype) {
        golden_errf_(err, errlen, "golden record '%s': dtype %d, expected %d", name, r->dtype,
                     dtype);
        return NULL;
    }
    if (r->numel != numel) {
        golden_errf_(err, errlen, "golden record '%s': %lld elements, expected %lld", name,
                     (long long)r->numel, (long long)numel);
        return NULL;
    }
    return r;
}

#endif /* ASIARCH_GOLDEN_IO_H */
