/*
 * corpus.c — byte-level corpora: one text in, train.bin and val.bin out.
 *
 * The text is a file the user names, or by default the King James Bible as
 * printed by `bible` (Debian package bible-kjv): 4.3 MB of English prose that
 * every Debian machine can install, so experiments need no download.
 *
 * Each byte becomes one token (vocab 256), stored as an llm.c shard so one
 * reader serves byte corpora and GPT-2 token shards alike. The last val_frac
 * of the bytes is validation: a contiguous tail (Revelation, for the Bible)
 * rather than a random sample, so no validation text leaks into training
 * through overlapping windows.
 */
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define BIBLE_PROGRAM "bible"
#define BIBLE_RANGE "Gen1:1-Rev22:21"      /* the whole book */
#define MIN_SPLIT_TOKENS 2                  /* one input and its target */

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

/* ---- reading the text ------------------------------------------------------ */

typedef struct byte_buf {
    char *p;
    size_t n, cap;
} byte_buf;

/* Append everything readable from fd to b. Works for files and pipes alike.
 * Returns 0, or -1 with errno set. */
static int read_all(int fd, byte_buf *b)
{
    for (;;) {
        if (b->n == b->cap) {
            size_t cap = b->cap ? 2 * b->cap : 1 << 16;
            char *p = realloc(b->p, cap);
            if (!p) {
                errno = ENOMEM;
                return -1;
            }
            b->p = p;
            b->cap = cap;
        }
        ssize_t r = read(fd, b->p + b->n, b->cap - b->n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        b->n += (size_t)r;
    }
}

static int read_text_file(const char *path, byte_buf *b, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    int rc = read_all(fd, b);
    int e = errno;
    close(fd);
    if (rc != 0)
        return fail(err, errlen, "%s: read failed: %s", path, strerror(e));
    return 0;
}

/* Run `bible Gen1:1-Rev22:21` with stdout on a pipe (no shell involved) and
 * collect what it prints. stdin is /dev/null so that the program, which is
 * interactive without arguments, can never wait on the terminal. */
static int run_bible(byte_buf *b, char *err, size_t errlen)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return fail(err, errlen, BIBLE_PROGRAM ": cannot create a pipe: %s", strerror(errno));

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    char *argv[] = {BIBLE_PROGRAM, BIBLE_RANGE, NULL};
    pid_t pid;
    int spawn_rc = posix_spawnp(&pid, BIBLE_PROGRAM, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (spawn_rc != 0) {
        close(fds[0]);
        if (spawn_rc == ENOENT)
            return fail(err, errlen, BIBLE_PROGRAM ": not found: install Debian package "
                        "bible-kjv, or pass a text file");
        return fail(err, errlen, BIBLE_PROGRAM ": cannot run: %s", strerror(spawn_rc));
    }

    int read_rc = read_all(fds[0], b), read_errno = errno;
    close(fds[0]);      /* if we stopped early, the child gets SIGPIPE and exits */
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return fail(err, errlen, BIBLE_PROGRAM ": waitpid failed: %s", strerror(errno));

    if (read_rc != 0)
        return fail(err, errlen, BIBLE_PROGRAM ": reading its output failed: %s",
                    strerror(read_errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(err, errlen,
                    BIBLE_PROGRAM " " BIBLE_RANGE " failed (%s %d): check that package "
                    "bible-kjv is installed completely, or pass a text file",
                    WIFEXITED(status) ? "exit status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 0;
}

/* ---- cleaning the KJV output ------------------------------------------------ */

/* Length of a verse-number prefix like "  12 " (indent, digits, spaces), or 0
 * when the line does not start a verse. */
static size_t verse_number_len(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] == ' ')
        i++;
    if (i == 0 || i == len || line[i] < '0' || line[i] > '9')
        return 0;
    while (i < len && line[i] >= '0' && line[i] <= '9')
        i++;
    if (i == len || line[i] != ' ')
        return 0;
    while (i < len && line[i] == ' ')
        i++;
    return i;
}

/*
 * `bible` pretty-prints: a chapter heading ("Genesis 1") between blank lines,
 * then verses as "  N text" wrapped at 80 columns. We keep it English prose:
 *   - blank lines are dropped;
 *   - the verse number and its indent are dropped;
 *   - wrapped continuation lines are joined to their verse with one space,
 *     so each verse is one line;
 *   - chapter headings are kept, each on its own line;
 *   - trailing spaces are trimmed.
 * The result ("Genesis 1\nIn the beginning God created ...\n...") is never
 * longer than the input plus one byte; out must hold n + 1 bytes.
 */
static size_t kjv_clean(const char *in, size_t n, char *out)
{
    size_t o = 0;
    int after_blank = 1;
    const char *p = in, *end = in + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *line = p;
        size_t len = (size_t)(eol - p);
        p = eol < end ? eol + 1 : end;

        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
            len--;
        if (len == 0) {
            after_blank = 1;
            continue;
        }
        size_t skip = verse_number_len(line, len);
        if (skip || after_blank) {      /* a verse or a heading starts a line */
            if (o)
                out[o++] = '\n';
        } else {                        /* continuation of a wrapped verse */
            out[o++] = ' ';
        }
        memcpy(out + o, line + skip, len - skip);
        o += len - skip;
        after_blank = 0;
    }
    if (o)
        out[o++] = '\n';
    return o;
}

static int load_bible(byte_buf *b, char *err, size_t errlen)
{
    byte_buf raw = {0};
    if (run_bible(&raw, err, errlen) != 0) {
        free(raw.p);
        return -1;
    }
    b->p = malloc(raw.n + 1);
    if (!b->p) {
        free(raw.p);
        return fail(err, errlen, BIBLE_PROGRAM ": out of memory for %zu bytes", raw.n);
    }
    b->n = kjv_clean(raw.p, raw.n, b->p);
    b->cap = raw.n + 1;
    free(raw.p);
    return 0;
}

/* ---- writing the split ------------------------------------------------------ */

/* mkdir -p: create dir and any missing parents. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path)
        return fail(err, errlen, "%s: path too long", dir);
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return fail(err, errlen, "%s: cannot create directory: %s", path, strerror(errno));
        *s = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return fail(err, errlen, "%s: cannot create directory: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail(err, errlen, "%s: exists but is not a directory: choose another output "
                    "directory", path);
    return 0;
}

static int write_bytes_shard(const char *dir, const char *name, const char *bytes, size_t n,
                             char *err, size_t errlen)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return fail(err, errlen, "%s/%s: path too long", dir, name);
    uint16_t *tok = malloc(n ? n * sizeof(uint16_t) : 1);
    if (!tok)
        return fail(err, errlen, "%s: out of memory for %zu tokens", path, n);
    for (size_t i = 0; i < n; i++)
        tok[i] = (unsigned char)bytes[i];
    int rc = dt_shard_write(path, tok, n, err, errlen);
    free(tok);
    return rc;
}

/* Validation size for n bytes: the rounded tail fraction. Rejects splits
 * that leave either side without one input-target pair. */
static int plan_split(const char *source, size_t n, double val_frac, size_t *n_val, char *err,
                      size_t errlen)
{
    if (!(val_frac > 0 && val_frac < 1))
        return fail(err, errlen, "val_frac %g is outside (0, 1): pass e.g. 0.05", val_frac);
    if (n == 0)
        return fail(err, errlen, "%s: empty input: nothing to train on; pass a text with content",
                    source);
    *n_val = (size_t)((double)n * val_frac + 0.5);
    if (*n_val < MIN_SPLIT_TOKENS || n - *n_val < MIN_SPLIT_TOKENS)
        return fail(err, errlen,
                    "%s: %zu bytes is too small to split with val_frac %g (%zu train, %zu "
                    "validation; each needs at least %d): pass a longer text",
                    source, n, val_frac, n - *n_val, *n_val, MIN_SPLIT_TOKENS);
    return 0;
}

int dt_prepare_bytes(const char *text_path, const char *out_dir, double val_frac,
                     dt_prepare_info *info, char *err, size_t errlen)
{
    const char *source = text_path ? text_path : "bible-kjv";
    byte_buf text = {0};
    size_t n_val = 0;
    int rc = text_path ? read_text_file(text_path, &text, err, errlen)
                       : load_bible(&text, err, errlen);
    if (rc == 0)
        rc = plan_split(source, text.n, val_frac, &n_val, err, errlen);
    if (rc == 0)
        rc = make_dirs(out_dir, err, errlen);
    size_t n_train = text.n - n_val;
    if (rc == 0)
        rc = write_bytes_shard(out_dir, "train.bin", text.p, n_train, err, errlen);
    if (rc == 0)
        rc = write_bytes_shard(out_dir, "val.bin", text.p + n_train, n_val, err, errlen);
    free(text.p);
    if (rc != 0)
        return -1;
    if (info) {
        info->train_tokens = n_train;
        info->val_tokens = n_val;
        snprintf(info->source, sizeof info->source, "%s", source);
    }
    return 0;
}

/* ---- where the data lives ---------------------------------------------------- */

static const char *home_dir(void)
{
    const char *home = getenv("HOME");
    if (home && *home)
        return home;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

void dt_default_dir(char *buf, size_t len)
{
    const char *env = getenv("ASIARCH_DATA");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home;
    if (env && *env)
        snprintf(buf, len, "%s", env);
    else if (xdg && xdg[0] == '/')      /* the XDG spec says to ignore relative paths */
        snprintf(buf, len, "%s/asiarch/kjv", xdg);
    else if ((home = home_dir()))
        snprintf(buf, len, "%s/.local/share/asiarch/kjv", home);
    else
        snprintf(buf, len, "asiarch-data/kjv");     /* no home at all: stay local */
}
