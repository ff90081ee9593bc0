/*
 * checkpoint.c — parameters to and from disk.
 *
 * Layout (little-endian), the record format of tests/golden (golden_io.h)
 * under its own magic:
 *   "AACKPT01", int32 count, then per tensor: int32 name_len, name,
 *   int32 dtype (0 = float32), int32 rank, int32 dims[rank], data.
 * Written to PATH.tmp, fsynced and renamed, so a crash or a full disk never
 * leaves a truncated checkpoint under the real name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

#define CKPT_MAGIC "AACKPT01"

static int put_i32(FILE *f, int32_t v) { return fwrite(&v, sizeof v, 1, f) == 1 ? 0 : -1; }

static int write_param(FILE *f, const rt_model *m, int p)
{
    const ir_param *par = &m->g->params[p];
    const ir_node *n = &m->g->nodes[par->node];
    int32_t len = (int32_t)strlen(par->name);
    if (put_i32(f, len) || fwrite(par->name, 1, (size_t)len, f) != (size_t)len || put_i32(f, 0) ||
        put_i32(f, n->rank))
        return -1;
    for (int i = 0; i < n->rank; i++)
        if (put_i32(f, n->shape[i])) return -1;
    size_t k = ir_numel(n);
    return fwrite(m->params + m->param_off[p], sizeof(float), k, f) == k ? 0 : -1;
}

int rt_write_params(const rt_model *m, FILE *f)
{
    rt_params_to_host((rt_model *)m);   /* a GPU's training updated its own copy */
    int bad = fwrite(CKPT_MAGIC, 1, 8, f) != 8 || put_i32(f, m->g->n_params);
    for (int p = 0; p < m->g->n_params && !bad; p++) bad = write_param(f, m, p) < 0;
    bad |= fflush(f) != 0;
    return bad ? -1 : 0;
}

int rt_save_params(const rt_model *m, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    int bad = rt_write_params(m, f) < 0 || fsync(fileno(f)) != 0;
    int saved_errno = errno;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: write failed: %s (nothing was written under this name)", path,
                 strerror(bad ? saved_errno : errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int get_i32(FILE *f, int32_t *v) { return fread(v, sizeof *v, 1, f) == 1 ? 0 : -1; }

/* Read one record and copy it into the parameter of the same name. */
static int load_record(FILE *f, rt_model *m, const char *path, int index, char *err, size_t errlen)
{
    int32_t len, dtype, rank, dims[IR_MAX_RANK];
    char name[IR_NAME_MAX];
    if (get_i32(f, &len) || len <= 0 || len >= (int32_t)sizeof name || fread(name, 1, (size_t)len, f) != (size_t)len ||
        get_i32(f, &dtype) || get_i32(f, &rank) || dtype != 0 || rank < 1 || rank > IR_MAX_RANK) {
        snprintf(err, errlen, "%s: record %d is malformed or truncated", path, index);
        return -1;
    }
    name[len] = 0;
    size_t k = 1;
    for (int i = 0; i < rank; i++) {
        if (get_i32(f, &dims[i]) || dims[i] <= 0) {
            snprintf(err, errlen, "%s: record %d (%s) has a bad shape", path, index, name);
            return -1;
        }
        k *= (size_t)dims[i];
    }
    size_t have;
    float *dst = rt_param(m, name, &have);
    if (!dst || have != k) {
        snprintf(err, errlen, "%s: parameter '%s' (%zu values) %s in this model", path, name, k,
                 dst ? "has another size" : "does not exist");
        return -1;
    }
    if (fread(dst, sizeof(float), k, f) != k) {
        snprintf(err, errlen, "%s: record %d (%s) is truncated", path, index, name);
        return -1;
    }
    return 0;
}

int rt_read_params(rt_model *m, FILE *f, const char *path, char *err, size_t errlen)
{
    char magic[8];
    int32_t count;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CKPT_MAGIC, 8) != 0 || get_i32(f, &count)) {
        snprintf(err, errlen, "%s: not an asiarch checkpoint (expected magic %s)", path, CKPT_MAGIC);
        return -1;
    }
    if (count != m->g->n_params) {
        snprintf(err, errlen, "%s: holds %d tensors, this model has %d: was it saved from another mixer or scale?",
                 path, count, m->g->n_params);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) rc = load_record(f, m, path, i, err, errlen);
    return rc;
}

int rt_load_params(rt_model *m, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int rc = rt_read_params(m, f, path, err, errlen);
    fclose(f);
    return rc;
}
