/*
 * test_data.c — the data library: PRNG, llm.c shards, corpus preparation
 * (from a text file and from the real `bible` program), batch loader, MQAR.
 *
 * Files go to a fresh directory under $TMPDIR (or /tmp), removed at the end.
 */
#include "data.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_root[512];

/* tmp_path("x.bin") -> "<tmp_root>/x.bin" (one static buffer per call site
 * would be fragile: callers copy what they keep). */
static void tmp_path(char *buf, const char *name)
{
    snprintf(buf, PATH_MAX, "%s/%s", tmp_root, name);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Overwrite one int32 of a shard's header. */
static void poke_header(const char *path, int index, int32_t value)
{
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, &value, sizeof value, (off_t)index * 4) == (ssize_t)sizeof value);
    close(fd);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- rng --------------------------------------------------------------------- */

TEST(rng_uniform_statistics)
{
    uint64_t s = 12345;
    const int n = 200000;
    double sum = 0, sum2 = 0;
    int out_of_range = 0;
    for (int i = 0; i < n; i++) {
        double u = dt_rand_uniform(&s);
        out_of_range += !(u >= 0 && u < 1);
        sum += u;
        sum2 += u * u;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(out_of_range == 0);
    CHECK_NEAR(mean, 0.5, 0.005);
    CHECK_NEAR(var, 1.0 / 12, 0.002);
}

TEST(rng_normal_statistics)
{
    uint64_t s = 777;
    const int n = 200000;
    double sum = 0, sum2 = 0, sum4 = 0;
    int finite = 1;
    for (int i = 0; i < n; i++) {
        double z = dt_rand_normal(&s);
        finite &= isfinite(z) != 0;
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(finite);
    CHECK_NEAR(mean, 0.0, 0.015);
    CHECK_NEAR(var, 1.0, 0.02);
    CHECK_NEAR(sum4 / n, 3.0, 0.1);     /* kurtosis of a normal */
}

TEST(rng_zero_seed_and_reproducibility)
{
    uint64_t a = 0, b = 0;
    uint64_t first = dt_rand_u64(&a);
    CHECK(first != 0);
    CHECK(a != 0);                      /* left the xorshift fixed point */
    CHECK(dt_rand_u64(&a) != first);
    CHECK(dt_rand_u64(&b) == first);    /* same seed, same stream */

    uint64_t c = 42, d = 42, e = 43;
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= dt_rand_u64(&c) == dt_rand_u64(&d);
    CHECK(same);
    CHECK(dt_rand_u64(&c) != dt_rand_u64(&e));
}

/* ---- shards ------------------------------------------------------------------ */

TEST(shard_round_trip)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], err[512] = "";
    tmp_path(path, "round.bin");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    enum { N = 5000 };
    uint16_t tok[N];
    for (int i = 0; i < N; i++)
        tok[i] = (uint16_t)(i * 40503u);
    tok[17] = 65535;
    tok[18] = 0;

    CHECK_MSG(dt_shard_write(path, tok, N, err, sizeof err) == 0, "%s", err);
    CHECK(file_size(path) == 1024 + 2 * N);
    CHECK(!exists(tmp));

    dt_tokens t;
    CHECK_MSG(dt_shard_read(path, &t, err, sizeof err) == 0, "%s", err);
    CHECK(t.n == N);
    CHECK(t.vocab == 65536);
    CHECK(t.tok && memcmp(t.tok, tok, sizeof tok) == 0);
    dt_tokens_free(&t);
    CHECK(t.tok == NULL && t.n == 0);

    /* The header is exactly llm.c's. */
    int32_t h[256];
    FILE *f = fopen(path, "rb");
    CHECK(f && fread(h, 4, 256, f) == 256);
    if (f)
        fclose(f);
    CHECK(h[0] == 20240520 && h[1] == 1 && h[2] == N && h[3] == 0 && h[255] == 0);

    /* An empty shard is legal. */
    CHECK_MSG(dt_shard_write(path, tok, 0, err, sizeof err) == 0, "%s", err);
    CHECK_MSG(dt_shard_read(path, &t, err, sizeof err) == 0, "%s", err);
    CHECK(t.n == 0 && t.vocab == 0);
    dt_tokens_free(&t);
}

TEST(shard_rejects_corrupt_header)
{
    char path[PATH_MAX], err[512] = "";
    tmp_path(path, "corrupt.bin");
    uint16_t tok[100] = {1, 2, 3};
    dt_tokens t;

    CHECK(dt_shard_write(path, tok, 100, err, sizeof err) == 0);
    poke_header(path, 0, 123);
    CHECK(dt_shard_read(path, &t, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "bad magic 123 (expected 20240520): not an llm.c token shard");
    CHECK(t.tok == NULL && t.n == 0);

    CHECK(dt_shard_write(path, tok, 100, err, sizeof err) == 0);
    poke_header(path, 1, 2);
    CHECK(dt_shard_read(path, &t, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "version 2");

    CHECK(dt_shard_write(path, tok, 100, err, sizeof err) == 0);
    poke_header(path, 2, 101);      /* claims more tokens than the file holds */
    CHECK(dt_shard_read(path, &t, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "promises 101 tokens");

    /* Not a shard at all: a short text file. */
    write_file(path, "hello\n", 6);
    CHECK(dt_shard_read(path, &t, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "too short");
}

TEST(shard_rejects_truncated_file)
{
    char path[PATH_MAX], err[512] = "";
    tmp_path(path, "truncated.bin");
    uint16_t tok[1000] = {0};
    dt_tokens t;
    CHECK(dt_shard_write(path, tok, 1000, err, sizeof err) == 0);
    CHECK(truncate(path, 1024 + 2 * 1000 - 1) == 0);
    CHECK(dt_shard_read(path, &t, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "truncated");
    CHECK(t.tok == NULL);
}

TEST(shard_rejects_missing_file)
{
    char path[PATH_MAX], err[512] = "";
    tmp_path(path, "no-such-shard.bin");
    dt_tokens t;
    CHECK(dt_shard_read(path, &t, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "No such file");
    CHECK(t.tok == NULL && t.n == 0);

    char dir_path[PATH_MAX];
    tmp_path(dir_path, "no-such-dir/x.bin");
    uint16_t tok[4] = {0};
    CHECK(dt_shard_write(dir_path, tok, 4, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, dir_path);
}

/* A write that runs out of room (here: RLIMIT_FSIZE, which fails like a full
 * disk but with EFBIG, after a short write) must fail with the path in the
 * message, leave no PATH.tmp, and leave the previous PATH untouched. Runs in
 * a child so the limit does not outlive the test. */
TEST(shard_failed_write_leaves_nothing)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], err[512] = "";
    tmp_path(path, "limited.bin");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint16_t small[10] = {7, 7, 7};
    CHECK(dt_shard_write(path, small, 10, err, sizeof err) == 0);

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &lim);
        enum { N = 100000 };
        static uint16_t big[N];
        int rc = dt_shard_write(path, big, N, err, sizeof err);
        int ok = rc == -1 && strstr(err, path) && strstr(err, "no file was left behind") &&
                 !exists(tmp);
        if (!ok)
            fprintf(stderr, "child: rc %d, err \"%s\", tmp exists %d\n", rc, err, exists(tmp));
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    dt_tokens t;
    CHECK_MSG(dt_shard_read(path, &t, err, sizeof err) == 0, "%s", err);
    CHECK(t.n == 10 && t.tok && t.tok[0] == 7);
    dt_tokens_free(&t);
}

/* A full disk, simulated by pointing PATH.tmp at /dev/full (every write
 * fails with ENOSPC): a clear message, and neither file left behind. */
TEST(shard_disk_full)
{
    if (access("/dev/full", W_OK) != 0) {
        printf("note: no /dev/full: skipping the disk-full test\n");
        return;
    }
    char path[PATH_MAX], tmp[PATH_MAX + 8], err[512] = "";
    tmp_path(path, "full.bin");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(symlink("/dev/full", tmp) == 0);
    uint16_t tok[64] = {0};
    CHECK(dt_shard_write(path, tok, 64, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "disk full");
    CHECK(!exists(path));
    struct stat st;
    CHECK(lstat(tmp, &st) != 0);
}

/* ---- corpus preparation -------------------------------------------------------- */

static int read_shard_bytes(const char *path, char *buf, size_t cap, size_t *n)
{
    dt_tokens t;
    char err[512];
    if (dt_shard_read(path, &t, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int ok = t.n <= cap && t.vocab <= 256;
    for (size_t i = 0; ok && i < t.n; i++)
        buf[i] = (char)t.tok[i];
    *n = t.n;
    dt_tokens_free(&t);
    return ok ? 0 : -1;
}

TEST(prepare_from_text_file)
{
    char text_path[PATH_MAX], out_dir[PATH_MAX], train[PATH_MAX + 16], val[PATH_MAX + 16];
    char err[512] = "";
    tmp_path(text_path, "corpus.txt");
    tmp_path(out_dir, "prepared/nested/dir");
    snprintf(train, sizeof train, "%s/train.bin", out_dir);
    snprintf(val, sizeof val, "%s/val.bin", out_dir);

    enum { N = 1000 };
    char text[N];
    for (int i = 0; i < N; i++)
        text[i] = (char)(i * 7);     /* every byte value, including 0 and 255 */
    write_file(text_path, text, N);

    dt_prepare_info info;
    CHECK_MSG(dt_prepare_bytes(text_path, out_dir, 0.1, &info, err, sizeof err) == 0, "%s", err);
    CHECK(info.train_tokens == 900 && info.val_tokens == 100);
    CHECK(strcmp(info.source, text_path) == 0);
    CHECK(file_size(train) == 1024 + 2 * 900);
    CHECK(file_size(val) == 1024 + 2 * 100);

    char back[N];
    size_t n_train = 0, n_val = 0;
    CHECK(read_shard_bytes(train, back, N, &n_train) == 0);
    CHECK(read_shard_bytes(val, back + n_train, N - n_train, &n_val) == 0);
    CHECK(n_train == 900 && n_val == 100);
    CHECK(memcmp(back, text, N) == 0);  /* the split is the text, byte for byte */
}

TEST(prepare_rejects_bad_input)
{
    char text_path[PATH_MAX], out_dir[PATH_MAX], err[512] = "";
    tmp_path(text_path, "empty.txt");
    tmp_path(out_dir, "rejected");
    dt_prepare_info info;

    write_file(text_path, "", 0);
    CHECK(dt_prepare_bytes(text_path, out_dir, 0.05, &info, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, text_path);
    CHECK_STR_CONTAINS(err, "empty");

    write_file(text_path, "abc", 3);
    CHECK(dt_prepare_bytes(text_path, out_dir, 0.05, &info, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, text_path);
    CHECK_STR_CONTAINS(err, "too small");

    write_file(text_path, "abcdefghijklmnop", 16);
    CHECK(dt_prepare_bytes(text_path, out_dir, 0.0, &info, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "val_frac");
    CHECK(dt_prepare_bytes(text_path, out_dir, 1.0, &info, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "val_frac");
    CHECK(!exists(out_dir));        /* rejected input writes nothing */

    char missing[PATH_MAX];
    tmp_path(missing, "no-such-text.txt");
    CHECK(dt_prepare_bytes(missing, out_dir, 0.05, &info, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, missing);
}

TEST(prepare_from_bible)
{
    if (access("/usr/bin/bible", X_OK) != 0) {
        printf("note: /usr/bin/bible missing (Debian package bible-kjv): skipping the KJV test\n");
        return;
    }
    char out_dir[PATH_MAX], train[PATH_MAX + 16], val[PATH_MAX + 16], err[512] = "";
    tmp_path(out_dir, "kjv");
    snprintf(train, sizeof train, "%s/train.bin", out_dir);
    snprintf(val, sizeof val, "%s/val.bin", out_dir);

    dt_prepare_info info;
    CHECK_MSG(dt_prepare_bytes(NULL, out_dir, 0.05, &info, err, sizeof err) == 0, "%s", err);
    size_t total = info.train_tokens + info.val_tokens;
    CHECK_MSG(total > 3000000 && total < 5000000, "total %zu bytes", total);
    CHECK_NEAR((double)info.val_tokens / total, 0.05, 1e-6);
    CHECK(strcmp(info.source, "bible-kjv") == 0);

    dt_tokens t;
    CHECK_MSG(dt_shard_read(train, &t, err, sizeof err) == 0, "%s", err);
    CHECK(t.n == info.train_tokens && t.vocab <= 128);  /* the KJV text is pure ASCII */
    const char *genesis = "Genesis 1\nIn the beginning God created the heaven and the earth.\n"
                          "And the earth was without form, and void; and darkness was upon "
                          "the face of the deep.";
    size_t len = strlen(genesis);
    int starts_like_genesis = t.n > len;
    for (size_t i = 0; starts_like_genesis && i < len; i++)
        starts_like_genesis = t.tok[i] == (unsigned char)genesis[i];
    CHECK(starts_like_genesis);
    /* Cleaned: no blank lines, no indented verse numbers; the only lines that
     * start with a digit are headings of numbered books ("1 Samuel 1"). */
    int blank_lines = 0, indented_lines = 0, numbered_lines = 0;
    for (size_t i = 1; i + 2 < t.n; i++) {
        if (t.tok[i - 1] != '\n')
            continue;
        blank_lines += t.tok[i] == '\n';
        indented_lines += t.tok[i] == ' ';
        if (t.tok[i] >= '0' && t.tok[i] <= '9')
            numbered_lines += !(t.tok[i + 1] == ' ' && t.tok[i + 2] >= 'A' && t.tok[i + 2] <= 'Z');
    }
    CHECK(blank_lines == 0 && indented_lines == 0 && numbered_lines == 0);
    dt_tokens_free(&t);

    CHECK_MSG(dt_shard_read(val, &t, err, sizeof err) == 0, "%s", err);
    const char *amen = "Amen.\n";
    CHECK(t.n == info.val_tokens && t.n > 6);
    for (size_t i = 0; t.n > 6 && i < 6; i++)
        CHECK(t.tok[t.n - 6 + i] == (unsigned char)amen[i]);
    dt_tokens_free(&t);
}

TEST(prepare_without_bible_program)
{
    char out_dir[PATH_MAX], empty_dir[PATH_MAX], err[512] = "";
    tmp_path(out_dir, "kjv-missing");
    tmp_path(empty_dir, "empty-bin");
    CHECK(mkdir(empty_dir, 0755) == 0);
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", empty_dir, 1);
    dt_prepare_info info;
    int rc = dt_prepare_bytes(NULL, out_dir, 0.05, &info, err, sizeof err);
    if (saved) {
        setenv("PATH", saved, 1);
        free(saved);
    } else {
        unsetenv("PATH");
    }
    CHECK(rc == -1);
    CHECK_STR_CONTAINS(err, "bible: not found: install Debian package bible-kjv");
}

TEST(default_dir)
{
    const char *names[] = {"ASIARCH_DATA", "XDG_DATA_HOME", "HOME"};
    char *saved[3];
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        saved[i] = v ? strdup(v) : NULL;
    }
    char buf[PATH_MAX];
    setenv("ASIARCH_DATA", "/data/here", 1);
    dt_default_dir(buf, sizeof buf);
    CHECK(strcmp(buf, "/data/here") == 0);

    unsetenv("ASIARCH_DATA");
    setenv("XDG_DATA_HOME", "/xdg", 1);
    dt_default_dir(buf, sizeof buf);
    CHECK(strcmp(buf, "/xdg/asiarch/kjv") == 0);

    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/someone", 1);
    dt_default_dir(buf, sizeof buf);
    CHECK(strcmp(buf, "/home/someone/.local/share/asiarch/kjv") == 0);

    for (int i = 0; i < 3; i++) {
        if (saved[i])
            setenv(names[i], saved[i], 1);
        else
            unsetenv(names[i]);
        free(saved[i]);
    }
}

/* ---- loader -------------------------------------------------------------------- */

/* Token i holds i (mod 2^16), so a window's tokens name their positions. */
static dt_tokens counting_tokens(size_t n)
{
    dt_tokens t = {malloc(n * sizeof(uint16_t)), n, 0};
    for (size_t i = 0; i < n; i++)
        t.tok[i] = (uint16_t)i;
    t.vocab = n > 65536 ? 65536 : (int)n;
    return t;
}

TEST(loader_targets_are_shifted_inputs)
{
    dt_tokens data = counting_tokens(5000);
    enum { B = 4, T = 32 };
    int32_t in[B * T], tg[B * T];
    for (int random = 0; random <= 1; random++) {
        dt_loader ld;
        dt_loader_init(&ld, &data, B, T, 1, random);
        for (int step = 0; step < 20; step++) {
            CHECK(dt_loader_next(&ld, in, tg) == 0);
            int ok = 1;
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++) {
                    int32_t x = in[b * T + t], y = tg[b * T + t];
                    ok &= y == x + 1;                           /* next token */
                    ok &= t == 0 || x == in[b * T + t - 1] + 1; /* a contiguous window */
                    ok &= x >= 0 && y < 5000;
                }
            CHECK(ok);
        }
    }
    dt_tokens_free(&data);
}

TEST(loader_random_is_deterministic)
{
    dt_tokens data = counting_tokens(10000);
    enum { B = 8, T = 16 };
    int32_t in1[B * T], tg1[B * T], in2[B * T], tg2[B * T], in3[B * T], tg3[B * T];
    dt_loader a, b, c;
    dt_loader_init(&a, &data, B, T, 99, 1);
    dt_loader_init(&b, &data, B, T, 99, 1);
    dt_loader_init(&c, &data, B, T, 100, 1);
    int same = 1, differs = 0;
    size_t min_start = SIZE_MAX, max_start = 0;
    for (int step = 0; step < 200; step++) {
        dt_loader_next(&a, in1, tg1);
        dt_loader_next(&b, in2, tg2);
        dt_loader_next(&c, in3, tg3);
        same &= memcmp(in1, in2, sizeof in1) == 0 && memcmp(tg1, tg2, sizeof tg1) == 0;
        differs |= memcmp(in1, in3, sizeof in1) != 0;
        for (int r = 0; r < B; r++) {
            size_t s = (size_t)in1[r * T];
            min_start = s < min_start ? s : min_start;
            max_start = s > max_start ? s : max_start;
        }
    }
    CHECK(same);
    CHECK(differs);
    /* 1600 uniform starts over [0, 9984): both ends are reached. */
    CHECK(min_start < 100 && max_start > 9984 - 100 && max_start <= 10000 - T - 1);
    dt_tokens_free(&data);
}

/* Runs one pass of consecutive batches; every window start 0, T, 2T, ... must
 * appear, and the next pass must repeat the first batch. */
static void check_consecutive_pass(size_t n, int B, int T)
{
    dt_tokens data = counting_tokens(n);
    dt_loader ld;
    dt_loader_init(&ld, &data, B, T, 5, 0);
    size_t windows = (n - 1) / (size_t)T, batches = dt_loader_batches(&ld);
    CHECK(batches == (windows + (size_t)B - 1) / (size_t)B);

    int32_t *in = malloc(sizeof(int32_t) * (size_t)B * T), *tg = malloc(sizeof(int32_t) * (size_t)B * T);
    int32_t *first = malloc(sizeof(int32_t) * (size_t)B * T);
    char *seen = calloc(n, 1);
    for (size_t i = 0; i < batches; i++) {
        CHECK(dt_loader_next(&ld, in, tg) == 0);
        if (i == 0)
            memcpy(first, in, sizeof(int32_t) * (size_t)B * T);
        for (int j = 0; j < B * T; j++) {
            seen[in[j]] = 1;
            seen[tg[j]] = 1;
        }
    }
    size_t covered = 0;
    for (size_t i = 0; i <= windows * (size_t)T; i++)
        covered += seen[i];
    CHECK_MSG(covered == windows * (size_t)T + 1, "n %zu B %d T %d: covered %zu of %zu", n, B, T,
              covered, windows * (size_t)T + 1);
    CHECK(dt_loader_next(&ld, in, tg) == 0);
    CHECK_MSG(memcmp(in, first, sizeof(int32_t) * (size_t)B * T) == 0,
              "n %zu B %d T %d: pass 2 does not restart", n, B, T);
    free(in), free(tg), free(first), free(seen);
    dt_tokens_free(&data);
}

TEST(loader_consecutive_covers_data)
{
    check_consecutive_pass(1000, 4, 16);    /* 62 windows: last batch wraps */
    check_consecutive_pass(1025, 4, 16);    /* 64 windows: exact batches */
    check_consecutive_pass(100, 8, 16);     /* 6 windows: fewer than B */
    check_consecutive_pass(17, 1, 16);      /* one window */

    dt_tokens data = counting_tokens(16);   /* too short for one T=16 window */
    dt_loader ld;
    int32_t in[16], tg[16];
    dt_loader_init(&ld, &data, 1, 16, 0, 0);
    CHECK(dt_loader_next(&ld, in, tg) == -1);
    CHECK(dt_loader_batches(&ld) == 0);
    dt_loader_init(&ld, &data, 1, 16, 0, 1);
    CHECK(dt_loader_next(&ld, in, tg) == -1);
    dt_tokens_free(&data);
}

/* ---- MQAR ----------------------------------------------------------------------- */

/* Checks one sequence against the MQAR contract; returns 1 if it holds. */
static int mqar_sequence_ok(const dt_mqar_cfg *cfg, const int32_t *in, const int32_t *tg)
{
    int T = cfg->seq_len, k = cfg->num_kv, C = 2 * k, half = cfg->vocab / 2;
    int ok = 1, queries = 0;
    int *queried = calloc((size_t)k, sizeof(int));
    for (int i = 0; i < k; i++) {
        ok &= in[2 * i] >= 1 && in[2 * i] < half;                   /* key range */
        ok &= in[2 * i + 1] >= half && in[2 * i + 1] < cfg->vocab;  /* value range */
        for (int j = 0; j < i; j++)
            ok &= in[2 * j] != in[2 * i] && in[2 * j + 1] != in[2 * i + 1];
    }
    for (int t = 0; t < T; t++) {
        ok &= in[t] >= 0 && in[t] < cfg->vocab;
        if (tg[t] == -1)
            continue;
        ok &= t >= C && (t - C) % 2 == 0 && t + 1 < T;  /* a query slot */
        int key = -1;
        for (int i = 0; i < k; i++)
            if (in[2 * i] == in[t])
                key = i;
        ok &= key >= 0;
        if (key >= 0) {
            ok &= tg[t] == in[2 * key + 1];     /* the value paired with the key */
            ok &= in[t + 1] == tg[t];
            queried[key]++;
        }
        queries++;
    }
    for (int i = 0; i < k; i++)
        ok &= queried[i] == 1;                  /* every key asked exactly once */
    ok &= queries == k;
    free(queried);
    return ok;
}

TEST(mqar_queries_recall_their_values)
{
    dt_mqar_cfg cfgs[] = {
        {256, 64, 8, 0.01f}, {256, 128, 32, 0.01f}, {8192, 256, 16, 0.01f},
        {4, 4, 1, 0.01f},   /* the smallest legal problem */
        {256, 67, 4, 0.5f}, /* odd length */
    };
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        const dt_mqar_cfg *cfg = &cfgs[c];
        char err[256] = "";
        CHECK_MSG(dt_mqar_check(cfg, err, sizeof err) == 0, "%s", err);
        enum { B = 50 };
        int32_t *in = malloc(sizeof(int32_t) * B * cfg->seq_len);
        int32_t *tg = malloc(sizeof(int32_t) * B * cfg->seq_len);
        uint64_t rng = 3 + c;
        dt_mqar_batch(cfg, &rng, B, in, tg);
        int bad = 0;
        for (int b = 0; b < B; b++)
            bad += !mqar_sequence_ok(cfg, in + b * cfg->seq_len, tg + b * cfg->seq_len);
        CHECK_MSG(bad == 0, "cfg %zu: %d of %d sequences break the contract", c, bad, B);
        free(in);
        free(tg);
    }
}

TEST(mqar_is_reproducible)
{
    dt_mqar_cfg cfg = {256, 128, 16, 0.01f};
    enum { B = 8, T = 128 };
    int32_t in1[B * T], tg1[B * T], in2[B * T], tg2[B * T];
    uint64_t r1 = 2024, r2 = 2024;
    dt_mqar_batch(&cfg, &r1, B, in1, tg1);
    dt_mqar_batch(&cfg, &r2, B, in2, tg2);
    CHECK(memcmp(in1, in2, sizeof in1) == 0 && memcmp(tg1, tg2, sizeof tg1) == 0);
    CHECK(r1 == r2);
    dt_mqar_batch(&cfg, &r1, B, in2, tg2);     /* the state moved on: a new batch */
    CHECK(memcmp(in1, in2, sizeof in1) != 0);
}

/* Fraction of queries in the first tenth of the query slots, over many
 * sequences; slot index = (position - C) / 2. */
static double mqar_short_gap_fraction(float power_a, double *mean_slot)
{
    dt_mqar_cfg cfg = {256, 256, 4, power_a};
    enum { B = 2000, T = 256 };
    int S = (T - 2 * cfg.num_kv) / 2;
    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    uint64_t rng = 11;
    dt_mqar_batch(&cfg, &rng, B, in, tg);
    long near = 0, total = 0;
    double sum = 0;
    for (int i = 0; i < B * T; i++) {
        if (tg[i] < 0)
            continue;
        int slot = (i % T - 2 * cfg.num_kv) / 2;
        near += slot < S / 10;
        sum += slot;
        total++;
    }
    free(in);
    free(tg);
    *mean_slot = sum / (double)total;
    return (double)near / (double)total;
}

TEST(mqar_gaps_follow_power_law)
{
    /* S = 124 slots. With a = 0.01 the weights are ~1/d, so about half of the
     * queries land in the first 12 slots; with a = 1 the gaps are uniform
     * (10% there, mean slot 61.5). */
    double mean_power, mean_uniform;
    double near_power = mqar_short_gap_fraction(0.01f, &mean_power);
    double near_uniform = mqar_short_gap_fraction(1.0f, &mean_uniform);
    CHECK_MSG(near_power > 0.4, "power law: %.3f of queries in the first tenth", near_power);
    CHECK_MSG(mean_power < 35, "power law: mean slot %.1f", mean_power);
    CHECK_NEAR(near_uniform, 12.0 / 124, 0.02);
    CHECK_NEAR(mean_uniform, 61.5, 2.0);
}

TEST(mqar_rejects_bad_config)
{
    char err[256];
    dt_mqar_cfg bad_vocab = {3, 64, 1, 0.01f}, short_seq = {256, 31, 8, 0.01f},
                too_many_keys = {16, 64, 8, 0.01f}, bad_power = {256, 64, 8, 0.0f},
                no_pairs = {256, 64, 0, 0.01f};
    CHECK(dt_mqar_check(&bad_vocab, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "vocab 3");
    CHECK(dt_mqar_check(&short_seq, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "seq_len 31");
    CHECK(dt_mqar_check(&too_many_keys, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "num_kv 8");
    CHECK(dt_mqar_check(&bad_power, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "power_a");
    CHECK(dt_mqar_check(&no_pairs, err, sizeof err) == -1);

    /* An invalid cfg writes nothing and leaves the rng alone. */
    int32_t in[64], tg[64];
    for (int i = 0; i < 64; i++)
        in[i] = tg[i] = 12345;
    uint64_t rng = 1;
    dt_mqar_batch(&short_seq, &rng, 1, in, tg);
    int untouched = rng == 1;
    for (int i = 0; i < 64; i++)
        untouched &= in[i] == 12345 && tg[i] == 12345;
    CHECK(untouched);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/asiarch-test-data-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        perror(tmp_root);
        return 2;
    }
    RUN(rng_uniform_statistics);
    RUN(rng_normal_statistics);
    RUN(rng_zero_seed_and_reproducibility);
    RUN(shard_round_trip);
    RUN(shard_rejects_corrupt_header);
    RUN(shard_rejects_truncated_file);
    RUN(shard_rejects_missing_file);
    RUN(shard_failed_write_leaves_nothing);
    RUN(shard_disk_full);
    RUN(prepare_from_text_file);
    RUN(prepare_rejects_bad_input);
    RUN(prepare_from_bible);
    RUN(prepare_without_bible_program);
    RUN(default_dir);
    RUN(loader_targets_are_shifted_inputs);
    RUN(loader_random_is_deterministic);
    RUN(loader_consecutive_covers_data);
    RUN(mqar_queries_recall_their_values);
    RUN(mqar_is_reproducible);
    RUN(mqar_gaps_follow_power_law);
    RUN(mqar_rejects_bad_config);
    nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
