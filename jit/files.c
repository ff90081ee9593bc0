/*
 * files.c — the small file and hashing helpers of jit/'s on-disk caches
 * (clang's bitcode, NVRTC's device code): atomic writes, whole-file reads,
 * SHA-256 keys, and where the cache lives.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jit.h"
#include "jit_internal.h"

/* ---- small file helpers ---------------------------------------------------------- */

int jit_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) { errno = ENAMETOOLONG; return -1; }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Write a file so that readers see either the old content or the whole new
 * one: write a temporary name in the same directory, then rename over. */
int jit_write_file_atomic(const char *path, const void *data, size_t len)
{
    static unsigned counter;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED)) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (write_all(fd, data, len) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        close(fd);   /* harmless EBADF when already closed */
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* The whole file, malloc'd (NUL-terminated for convenience), or NULL. */
unsigned char *jit_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < ((off_t)1 << 30)) {
        size_t n = (size_t)st.st_size, got = 0;
        buf = malloc(n + 1);
        while (buf && got < n) {
            ssize_t r = read(fd, buf + got, n - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) { free(buf); buf = NULL; break; }
            got += (size_t)r;
        }
        if (buf) { buf[n] = 0; *len = n; }
    }
    close(fd);
    return buf;
}

/* ---- hashing ---------------------------------------------------------------------- */

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = 0;
}

/* Hex SHA-256 of n fields. With `framed`, each field is preceded by its
 * length, so that ("ab", "c") and ("a", "bc") hash differently (the cache
 * key); without, it is the plain hash of the concatenation (what sha256sum
 * prints for a file). */
int jit_sha256_hex(const char *const *fields, const size_t *lens, int n, int framed, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) return -1;
    int ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (int i = 0; ok && i < n; i++) {
        uint64_t len = lens[i];
        if (framed) ok = EVP_DigestUpdate(c, &len, sizeof len);
        ok = ok && EVP_DigestUpdate(c, fields[i], lens[i]);
    }
    ok = ok && EVP_DigestFinal_ex(c, md, &mdlen) && mdlen == 32;
    EVP_MD_CTX_free(c);
    if (!ok) return -1;
    hex(md, 32, out);
    return 0;
}

/* $XDG_CACHE_HOME/asiarch, else ~/.cache/asiarch. -1 if there is no home. */
int jit_cache_root(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') return snprintf(buf, len, "%s/asiarch", xdg) < (int)len ? 0 : -1;
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !*home) return -1;
    return snprintf(buf, len, "%s/.cache/asiarch", home) < (int)len ? 0 : -1;
}

