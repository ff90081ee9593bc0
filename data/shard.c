/*
 * shard.c — llm.c token shards on disk.
 *
 * Layout (llm.c, dev/data/data_common.py): a header of 256 little-endian
 * int32 — magic 20240520, version 1, token count, then zeros — followed by
 * the tokens as little-endian uint16. Version 2 (uint32 tokens, for Llama 3)
 * is not supported.
 *
 * Reading validates everything the header claims against the file itself,
 * so a truncated download or a file of the wrong kind fails with a message
 * instead of training on garbage. Writing is atomic: the data goes to
 * PATH.tmp, is fsync'd, then renamed over PATH, so a crash or a full disk
 * never leaves a half-written shard where a reader would find it.
 */
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shard.c reads and writes the little-endian llm.c format in host order"
#endif

#define HEADER_BYTES (DT_SHARD_HEADER_INTS * sizeof(int32_t))

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Read up to n bytes, retrying short reads and EINTR. Returns the number of
 * bytes read (less than n only at end of file), or -1 with errno set. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (char *)buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Write all n bytes, retrying short writes and EINTR. Returns 0, or -1 with
 * errno set and *written telling how far it got. */
static int write_full(int fd, const void *buf, size_t n, size_t *written)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;    /* no progress and no reason: don't spin */
            *written += done;
            return -1;
        }
        done += (size_t)w;
    }
    *written += done;
    return 0;
}

void dt_tokens_free(dt_tokens *t)
{
    if (!t)
        return;
    free(t->tok);
    t->tok = NULL;
    t->n = 0;
    t->vocab = 0;
}

/* Check the header against what we support and against the file's size
 * (when it has one: a pipe or FIFO is checked while reading instead). */
static int check_header(const char *path, const int32_t *h, const struct stat *st, char *err,
                        size_t errlen)
{
    if (h[0] != DT_SHARD_MAGIC)
        return fail(err, errlen, "%s: bad magic %d (expected %d): not an llm.c token shard", path,
                    h[0], DT_SHARD_MAGIC);
    if (h[1] != DT_SHARD_VERSION)
        return fail(err, errlen,
                    "%s: unsupported shard version %d (expected %d, uint16 tokens): "
                    "re-export it with llm.c's GPT-2 tokenizer scripts",
                    path, h[1], DT_SHARD_VERSION);
    if (h[2] < 0)
        return fail(err, errlen, "%s: corrupt header: negative token count %d", path, h[2]);
    long long expect = (long long)HEADER_BYTES + 2LL * h[2];
    if (S_ISREG(st->st_mode) && (long long)st->st_size != expect)
        return fail(err, errlen,
                    "%s: file is %lld bytes but its header promises %d tokens (%lld bytes): "
                    "truncated or corrupt shard; prepare or download it again",
                    path, (long long)st->st_size, h[2], expect);
    return 0;
}

static int read_tokens(int fd, const char *path, dt_tokens *out, size_t n, char *err,
                       size_t errlen)
{
    out->tok = malloc(n ? n * sizeof(uint16_t) : 1);
    if (!out->tok)
        return fail(err, errlen, "%s: out of memory for %zu tokens", path, n);
    ssize_t got = read_full(fd, out->tok, n * sizeof(uint16_t));
    if (got < 0)
        return fail(err, errlen, "%s: read failed: %s", path, strerror(errno));
    if ((size_t)got != n * sizeof(uint16_t))
        return fail(err, errlen, "%s: truncated: %zd of %zu token bytes present", path, got,
                    n * sizeof(uint16_t));
    out->n = n;
    int max = -1;
    for (size_t i = 0; i < n; i++)
        if (out->tok[i] > max)
            max = out->tok[i];
    out->vocab = max + 1;
    return 0;
}

int dt_shard_read_fd(int fd, const char *path, dt_tokens *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    int32_t header[DT_SHARD_HEADER_INTS];
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        fail(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        fail(err, errlen, "%s: is a directory, not a token shard (pass train.bin or val.bin)",
             path);
    } else {
        ssize_t got = read_full(fd, header, HEADER_BYTES);
        if (got < 0)
            fail(err, errlen, "%s: read failed: %s", path, strerror(errno));
        else if ((size_t)got < HEADER_BYTES)
            fail(err, errlen,
                 "%s: only %zd bytes, too short for the %zu-byte llm.c shard header: "
                 "not a token shard, or truncated",
                 path, got, HEADER_BYTES);
        else if (check_header(path, header, &st, err, errlen) == 0)
            rc = read_tokens(fd, path, out, (size_t)header[2], err, errlen);
    }
    if (rc != 0)
        dt_tokens_free(out);
    return rc;
}

int dt_shard_read(const char *path, dt_tokens *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, "%s: cannot open: %s%s", path, strerror(errno),
                    errno == ENOENT ? " (run `asiarch data prepare`, or check the path)" : "");
    int rc = dt_shard_read_fd(fd, path, out, err, errlen);
    close(fd);
    return rc;
}

/* Best effort: make the rename itself durable by syncing the directory. */
static void sync_parent_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int write_failed(const char *path, size_t written, size_t total, char *err, size_t errlen)
{
    int e = errno;
    if (e == ENOSPC || e == EDQUOT)
        return fail(err, errlen,
                    "%s: disk full (%s) after %zu of %zu bytes: free some space or write "
                    "elsewhere; no file was left behind",
                    path, strerror(e), written, total);
    return fail(err, errlen, "%s: write failed after %zu of %zu bytes: %s; no file was left behind",
                path, written, total, strerror(e));
}

/* Header, tokens, fsync, close: everything that can fail before the rename. */
static int write_contents(int fd, const char *path, const uint16_t *tok, size_t n, char *err,
                          size_t errlen)
{
    int32_t header[DT_SHARD_HEADER_INTS] = {DT_SHARD_MAGIC, DT_SHARD_VERSION, (int32_t)n};
    size_t total = HEADER_BYTES + n * sizeof(uint16_t), written = 0;
    if (write_full(fd, header, HEADER_BYTES, &written) != 0 ||
        write_full(fd, tok, n * sizeof(uint16_t), &written) != 0)
        return write_failed(path, written, total, err, errlen);
    if (fsync(fd) != 0)     /* delayed allocation can report ENOSPC only here */
        return write_failed(path, written, total, err, errlen);
    return 0;
}

int dt_shard_write(const char *path, const uint16_t *tok, size_t n, char *err, size_t errlen)
{
    if (n > INT32_MAX)
        return fail(err, errlen,
                    "%s: %zu tokens do not fit one shard (the header counts at most %d): "
                    "split the data into several shards",
                    path, n, INT32_MAX);
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return fail(err, errlen, "%s: path too long", path);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(err, errlen, "%s: cannot create: %s (is the directory there and writable?)",
                    tmp, strerror(errno));
    int rc = write_contents(fd, path, tok, n, err, errlen);
    size_t total = HEADER_BYTES + n * sizeof(uint16_t);
    if (close(fd) != 0 && rc == 0)      /* NFS reports write errors at close */
        rc = write_failed(path, total, total, err, errlen);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = fail(err, errlen, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        return -1;
    }
    sync_parent_dir(path);
    return 0;
}
