/*
 * channel.c — length-prefixed messages between supervisor and runner.
 *
 * A message is a sb_msg_header {type, len} followed by len bytes. Only
 * read(2) and write(2) are used: the runner sends after lock-down, when
 * the filter allows nothing else on its channel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb_internal.h"

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) errno = EPIPE;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int sb_send2(int fd, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen + blen > SB_MAX_MESSAGE) {
        errno = EMSGSIZE;
        return -1;
    }
    sb_msg_header h = {type, (uint32_t)(alen + blen)};
    if (write_all(fd, &h, sizeof h) < 0) return -1;
    if (alen && write_all(fd, a, alen) < 0) return -1;
    if (blen && write_all(fd, b, blen) < 0) return -1;
    return 0;
}

int sb_send(int fd, uint32_t type, const void *body, size_t len) { return sb_send2(fd, type, body, len, NULL, 0); }

int sb_recv(int fd, uint32_t *type, void **body, size_t *len, size_t max)
{
    sb_msg_header h;
    *body = NULL;
    *len = 0;
    if (read_all(fd, &h, sizeof h) < 0) return -1;
    if (h.len > max) {
        errno = EPROTO;
        return -1;
    }
    char *buf = malloc(h.len + 1u);
    if (!buf) return -1;
    if (read_all(fd, buf, h.len) < 0) {
        free(buf);
        return -1;
    }
    buf[h.len] = 0;
    *type = h.type;
    *body = buf;
    *len = h.len;
    return 0;
}
