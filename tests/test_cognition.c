/*
 * test_cognition.c — the cognition base: every built-in entry loads and is
 * complete, its DSL text names only identifiers the DSL header really has,
 * BM25 scores match a hand computation, realistic analyst texts retrieve the
 * right entries, malformed entries are refused with a message naming the
 * file, and rankings are deterministic.
 */
#include <ctype.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cognition.h"
#include "test.h"

static char tmpdir[] = "/tmp/asiarch-test-cognition-XXXXXX";

static cog_base load_builtin(void)
{
    cog_base base = {0};
    char err[1024] = "";
    int n = cog_base_load_embedded(&base, err, sizeof err);
    CHECK_MSG(n == base.n && n > 0, "cog_base_load_embedded: %d (%s)", n, err);
    return base;
}

/* ---- the built-in entries -------------------------------------------------------- */

TEST(builtin_entries_load_complete_and_unique)
{
    cog_base base = load_builtin();
    CHECK_MSG(base.n >= 40, "only %d entries", base.n);
    for (int i = 0; i < base.n; i++) {
        const cog_entry *e = &base.entries[i];
        const char *fields[] = {e->id, e->title, e->source, e->problem, e->insight, e->dsl};
        for (int f = 0; f < 6; f++) CHECK_MSG(fields[f] && fields[f][0], "%s: field %d is empty", e->id, f);
        CHECK_MSG(e->n_topics >= 1, "%s has no topics", e->id);
        for (int t = 0; t < e->n_topics; t++) CHECK(e->topics[t][0] != '\0');
        CHECK_MSG(!e->pitfalls || e->pitfalls[0], "%s: empty pitfalls", e->id);
        /* One file per entry, named after its id. */
        char origin[300];
        snprintf(origin, sizeof origin, "embedded:%s.json", e->id);
        CHECK_MSG(strcmp(e->origin, origin) == 0, "%s comes from %s", e->id, e->origin);
        CHECK(e->length > 0 && e->n_terms > 0);
        for (int j = 0; j < i; j++) CHECK_MSG(strcmp(e->id, base.entries[j].id) != 0, "duplicate id %s", e->id);
        CHECK(cog_base_find(&base, e->id) == e);
    }
    CHECK(cog_base_find(&base, "no-such-entry") == NULL);
    cog_base_free(&base);
    CHECK(base.n == 0 && base.entries == NULL);
}

/* The topics the issue asks the base to cover, each by a word some entry's
 * title or topics must contain. */
TEST(builtin_entries_cover_the_literature)
{
    const char *needed[] = {"delta", "gated delta", "gla", "retnet", "mamba", "rwkv", "based", "hyena", "h3", "fir",
                            "router", "temperature", "floor", "entropy", "memories", "norm", "gate", "beta",
                            "initialis", "chunkwise", "feature map", "stop-gradient", "auxiliary", "identity",
                            "head", "mqar", "nan", "log space", "budget"};
    cog_base base = load_builtin();
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        int found = 0;
        for (int j = 0; j < base.n && !found; j++) {
            const cog_entry *e = &base.entries[j];
            char text[2048] = "";
            snprintf(text, sizeof text, "%s %s", e->id, e->title);
            for (int t = 0; t < e->n_topics; t++) strncat(text, e->topics[t], sizeof text - strlen(text) - 1);
            for (char *p = text; *p; p++) *p = (char)tolower((unsigned char)*p);
            found = strstr(text, needed[i]) != NULL;
        }
        CHECK_MSG(found, "no entry is about '%s'", needed[i]);
    }
    cog_base_free(&base);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (buf) buf[got] = '\0';
    return buf;
}

static int is_ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Does text contain ident as a whole identifier? */
static int has_identifier(const char *text, const char *ident, size_t len)
{
    for (const char *p = text; (p = strstr(p, ident)) != NULL; p++) {
        if ((p == text || !is_ident_char(p[-1])) && !is_ident_char(p[len])) return 1;
    }
    return 0;
}

/* Count the aa_... / AA_... identifiers in text (*seen) and those the header
 * lacks (returned; the first one into first_unknown). */
static int unknown_identifiers(const char *header, const char *text, int *seen, char *first_unknown, size_t len)
{
    int unknown = 0;
    *seen = 0;
    for (const char *p = text; *p; p++) {
        int lower = strncmp(p, "aa_", 3) == 0, upper = strncmp(p, "AA_", 3) == 0;
        if (!(lower || upper) || (p > text && is_ident_char(p[-1]))) continue;
        size_t n = 3;
        while (lower ? (islower((unsigned char)p[n]) || isdigit((unsigned char)p[n]) || p[n] == '_')
                     : (isupper((unsigned char)p[n]) || isdigit((unsigned char)p[n]) || p[n] == '_'))
            n++;
        char ident[128];
        snprintf(ident, sizeof ident, "%.*s", (int)(n < sizeof ident ? n : sizeof ident - 1), p);
        if (!has_identifier(header, ident, strlen(ident)) && unknown++ == 0) snprintf(first_unknown, len, "%s", ident);
        (*seen)++;
        p += n - 1;
    }
    return unknown;
}

TEST(dsl_identifiers_exist_in_the_header)
{
    char *header = read_text(ASIARCH_SOURCE_DIR "/include/asiarch.h");
    CHECK(header != NULL);
    if (!header) return;
    cog_base base = load_builtin();
    char bad[128];
    int seen;
    for (int i = 0; i < base.n; i++) {
        const cog_entry *e = &base.entries[i];
        const char *names[] = {"title", "source", "problem", "insight", "pitfalls", "dsl"};
        const char *texts[] = {e->title, e->source, e->problem, e->insight, e->pitfalls ? e->pitfalls : "", e->dsl};
        for (int f = 0; f < 6; f++)
            CHECK_MSG(unknown_identifiers(header, texts[f], &seen, bad, sizeof bad) == 0,
                      "%s.%s names %s, which include/asiarch.h lacks", e->id, names[f], bad);
        for (int t = 0; t < e->n_topics; t++)
            CHECK_MSG(unknown_identifiers(header, e->topics[t], &seen, bad, sizeof bad) == 0,
                      "%s.topics names %s, which include/asiarch.h lacks", e->id, bad);
        /* The dsl field is the bridge to code: it must name real ops. */
        unknown_identifiers(header, e->dsl, &seen, bad, sizeof bad);
        CHECK_MSG(seen > 0, "%s: dsl names no aa_ op", e->id);
    }
    /* The scan itself catches a made-up name and accepts real ones. */
    CHECK(unknown_identifiers(header, "aa_linattn(q, k, v, AA_NONE, g, 0.0f, AA_DELTA) + aa_no_such_op(x)", &seen,
                              bad, sizeof bad) == 1);
    CHECK(seen == 4 && strcmp(bad, "aa_no_such_op") == 0);
    cog_base_free(&base);
    free(header);
}

/* ---- text analysis ----------------------------------------------------------------- */

/* The terms of text joined by spaces, into out. */
static void terms_of(const char *text, char *out, size_t len)
{
    char **terms;
    int n = cog_tokenize(text, &terms);
    CHECK(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(out, i ? " " : "", len - strlen(out) - 1);
        strncat(out, terms[i], len - strlen(out) - 1);
    }
    cog_terms_free(terms, n);
}

TEST(tokenizer_unites_word_forms)
{
    const char *families[][5] = {
        {"gate", "gates", "gated", "gating", "Gate"},
        {"forget", "forgets", "forgetting", "FORGET", "forget"},
        {"normalise", "normalised", "normalization", "normalisation", "normalize"},
        {"filter", "filters", "filtering", "filtered", "filter"},
        {"memory", "memories", "memory", "Memories", "memory"},
        {"route", "routes", "routing", "router", "routers"},
        {"decay", "decays", "decayed", "decaying", "decay"},
        {"slow", "slowly", "slower", "slow", "slows"},
        {"embed", "embedding", "embeddings", "embedded", "embeds"},
    };
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        char first[64], other[64];
        terms_of(families[f][0], first, sizeof first);
        CHECK_MSG(first[0] != '\0', "%s vanished", families[f][0]);
        for (int i = 1; i < 5; i++) {
            terms_of(families[f][i], other, sizeof other);
            CHECK_MSG(strcmp(first, other) == 0, "%s -> '%s' but %s -> '%s'", families[f][0], first, families[f][i],
                      other);
        }
    }
    char out[256];
    /* Stop words, single characters and the DSL prefix go; identifiers split. */
    terms_of("The state of a head, and x + y; about your yet with aa_delta_rule(q, k)", out, sizeof out);
    CHECK_MSG(strcmp(out, "stat head delta rul") == 0, "got '%s'", out);
    terms_of("", out, sizeof out);
    CHECK(out[0] == '\0');
    terms_of("L2-norm 64 taps", out, sizeof out);
    CHECK_MSG(strcmp(out, "l2 norm 64 tap") == 0, "got '%s'", out);
}

/* ---- BM25 ---------------------------------------------------------------------------- */

static void add_entry(cog_base *base, const char *json)
{
    char err[512] = "";
    int rc = cog_base_add_json(base, "test", json, strlen(json), err, sizeof err);
    CHECK_MSG(rc == 1, "cog_base_add_json: %s", err);
}

/* Three documents of words the stemmer leaves alone. With title and topics
 * counted twice (COG_KEYWORD_WEIGHT):
 *   A: alpha x3, beta x2, gamma x2, delta            |A| = 8
 *   B: gamma x2, epsilon x2, alpha, zeta x3, eta     |B| = 9
 *   C: theta x3, iota x2, kappa x2, lambda, mu       |C| = 9
 * N = 3, avgdl = 26/3. Query "alpha zeta":
 *   idf(alpha) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6
 *   idf(zeta)  = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(8/3)
 *   K(D) = 1.2 * (0.25 + 0.75 * |D| / avgdl)
 *   A = ln 1.6 * 3 * 2.2 / (3 + K(A))                           = 0.750955519353522
 *   B = ln 1.6 * 1 * 2.2 / (1 + K(B)) + ln(8/3) * 3 * 2.2 / (3 + K(B)) = 1.991426926128843
 *   C does not match. */
static cog_base hand_corpus(void)
{
    cog_base base = {0};
    add_entry(&base, "{\"id\": \"doc-a\", \"title\": \"alpha\", \"source\": \"s\", \"topics\": [\"beta\"], "
                     "\"problem\": \"gamma gamma\", \"insight\": \"delta\", \"dsl\": \"alpha\"}");
    add_entry(&base, "{\"id\": \"doc-b\", \"title\": \"gamma\", \"source\": \"s\", \"topics\": [\"epsilon\"], "
                     "\"problem\": \"alpha\", \"insight\": \"zeta zeta zeta\", \"dsl\": \"eta\"}");
    add_entry(&base, "{\"id\": \"doc-c\", \"title\": \"theta\", \"source\": \"s\", \"topics\": [\"iota\", \"kappa\"], "
                     "\"problem\": \"theta\", \"insight\": \"lambda\", \"dsl\": \"mu\"}");
    return base;
}

TEST(bm25_matches_a_hand_computation)
{
    cog_base base = hand_corpus();
    CHECK(base.n == 3);
    CHECK(base.entries[0].length == 8 && base.entries[1].length == 9 && base.entries[2].length == 9);
    cog_hit hits[3];
    int n = cog_search(&base, "alpha zeta", 3, hits);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(strcmp(hits[0].entry->id, "doc-b") == 0 && strcmp(hits[1].entry->id, "doc-a") == 0);
        CHECK_NEAR(hits[0].score, 1.991426926128843, 1e-9);
        CHECK_NEAR(hits[1].score, 0.750955519353522, 1e-9);
    }
    /* Repeated query words count again. */
    double single = 0;
    if (cog_search(&base, "zeta", 3, hits) == 1) single = hits[0].score;
    CHECK(cog_search(&base, "zeta zeta", 3, hits) == 1);
    CHECK_NEAR(hits[0].score, 2 * single, 1e-12);
    /* No match, nothing to search, nothing asked for. */
    CHECK(cog_search(&base, "omega", 3, hits) == 0);
    CHECK(cog_search(&base, "the and of", 3, hits) == 0);
    CHECK(cog_search(&base, "", 3, hits) == 0);
    CHECK(cog_search(&base, "alpha", 0, hits) == 0);
    CHECK(cog_search(&base, "alpha", 1, hits) == 1);
    cog_base empty = {0};
    CHECK(cog_search(&empty, "alpha", 3, hits) == 0);
    cog_base_free(&base);

    /* An entry of stop words only has no terms; it loads and never matches. */
    add_entry(&empty, "{\"id\": \"hollow\", \"title\": \"the\", \"source\": \"s\", \"topics\": [\"of\"], "
                      "\"problem\": \"a\", \"insight\": \"and\", \"dsl\": \"it\"}");
    CHECK(empty.n == 1 && empty.entries[0].length == 0 && empty.entries[0].n_terms == 0);
    CHECK(cog_search(&empty, "the hollow", 3, hits) == 0);
    cog_base_free(&empty);
}

TEST(equal_scores_are_ordered_by_id_and_searches_repeat)
{
    cog_base base = {0};
    const char *body = "\"title\": \"twin\", \"source\": \"s\", \"topics\": [\"pair\"], \"problem\": \"same words\", "
                       "\"insight\": \"same words\", \"dsl\": \"aa_add\"}";
    char json[512];
    const char *ids[] = {"zz-last", "aa-first", "mm-middle"};
    for (int i = 0; i < 3; i++) {
        snprintf(json, sizeof json, "{\"id\": \"%s\", %s", ids[i], body);
        add_entry(&base, json);
    }
    add_entry(&base, "{\"id\": \"other\", \"title\": \"other\", \"source\": \"s\", \"topics\": [\"x1\"], "
                     "\"problem\": \"p\", \"insight\": \"i\", \"dsl\": \"d\"}");
    cog_hit hits[4];
    CHECK(cog_search(&base, "twin words", 4, hits) == 3);
    CHECK(strcmp(hits[0].entry->id, "aa-first") == 0);
    CHECK(strcmp(hits[1].entry->id, "mm-middle") == 0);
    CHECK(strcmp(hits[2].entry->id, "zz-last") == 0);
    CHECK(hits[0].score == hits[1].score && hits[1].score == hits[2].score);
    cog_base_free(&base);

    /* The built-in base: the same query twice gives the same ranking. */
    base = load_builtin();
    const char *q = "router collapse: one path takes all the weight; add a temperature and an entropy bonus";
    cog_hit a[10], b[10];
    int na = cog_search(&base, q, 10, a), nb = cog_search(&base, q, 10, b);
    CHECK(na == 10 && na == nb);
    for (int i = 0; i < na && i < nb; i++) CHECK(a[i].entry == b[i].entry && a[i].score == b[i].score);
    for (int i = 1; i < na; i++) CHECK(a[i - 1].score >= a[i].score);
    cog_base_free(&base);
}

/* ---- retrieval for what an analyst writes ----------------------------------------------- */

/* Is any of the ids (NULL-terminated) among the top k hits for query? */
static int retrieves(const cog_base *base, const char *query, int k, const char *const *ids)
{
    cog_hit hits[10];
    int n = cog_search(base, query, k, hits);
    for (int i = 0; i < n; i++)
        for (const char *const *id = ids; *id; id++)
            if (strcmp(hits[i].entry->id, *id) == 0) return 1;
    fprintf(stderr, "query \"%s\" got:", query);
    for (int i = 0; i < n; i++) fprintf(stderr, " %s", hits[i].entry->id);
    fputc('\n', stderr);
    return 0;
}

TEST(analyst_texts_retrieve_the_right_entries)
{
    static const struct {
        const char *query;
        int k;
        const char *ids[4];
    } cases[] = {
        {"The model forgets too slowly; recall is poor on long sequences; a decay gate might help.", 3,
         {"gated-delta-rule", "gla-data-dependent-gate", "selective-state-space-decay", NULL}},
        {"Compared with its parent, the router collapses onto one path early in training and the other paths get "
         "no gradient.", 3, {"router-probability-floor", "router-entropy-load-balancing", "router-temperature", NULL}},
        {"Training diverged: the loss went NaN after 200 steps; the gate is computed with exp and the state explodes.",
         1, {"nan-sources-stability", NULL}},
        {"Validation loss matches the baseline but MQAR accuracy is near chance: associative recall is weak.", 1,
         {"mqar-associative-recall", NULL}},
        {"Local n-gram patterns are missed; short convolutions of several lengths could capture them.", 3,
         {"multi-scale-fir-paths", "short-causal-conv-qkv", NULL}},
        {"Verification failed on causality: an output at an earlier position moved.", 1, {"causality-leaks", NULL}},
        {"The candidate exceeds the parameter budget because every path has its own projection.", 1,
         {"parameter-budget", NULL}},
        {"The mixer cannot track parity or other state-tracking patterns.", 1,
         {"negative-eigenvalue-state-tracking", NULL}},
        {"Throughput is three times below the baseline; the design is too slow.", 2, {"throughput-cost-drivers", NULL}},
        {"Per-head outputs vary widely in scale; normalise each head before the output projection.", 1,
         {"output-norm-per-head", NULL}},
    };
    cog_base base = load_builtin();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(retrieves(&base, cases[i].query, cases[i].k, cases[i].ids), "case %zu: expected %s in the top %d",
                  i, cases[i].ids[0], cases[i].k);
    cog_base_free(&base);
}

/* ---- loading user entries --------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const char good_entry[] =
    "{\n  \"id\": \"%s\",\n  \"title\": \"A user entry\",\n  \"source\": \"me\",\n  \"topics\": [\"custom\"],\n"
    "  \"problem\": \"p\",\n  \"insight\": \"i\",\n  \"dsl\": \"aa_add\"\n}\n";

/* Load dir (one file in it, text) into base; the error, or "" when it loaded. */
static void load_one(const char *name, const char *text, cog_base *base, char *err, size_t len)
{
    char dir[300];
    static int serial;
    snprintf(dir, sizeof dir, "%s/case%d", tmpdir, ++serial);
    mkdir(dir, 0700);
    write_file(dir, name, text);
    err[0] = '\0';
    int before = base->n;
    if (cog_base_load_dir(base, dir, err, len) < 0)
        CHECK_MSG(base->n == before, "a failed load changed the base (%d -> %d)", before, base->n);
    else
        err[0] = '\0';
}

TEST(malformed_entries_name_the_file)
{
    cog_base base = {0};
    char err[1024];

    load_one("broken.json", "{\n  \"id\": \"x\",\n  \"title\" \"no colon\"\n}\n", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "/broken.json:3:");
    CHECK_STR_CONTAINS(err, "malformed JSON");

    load_one("trailing.json", "{\"id\": \"x\"} {}", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "trailing.json:1:");

    load_one("empty.json", "  \n", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "empty.json: empty file");

    load_one("array.json", "[1, 2]", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "array.json: an entry must be a JSON object");

    load_one("missing.json",
             "{\"id\": \"m\", \"title\": \"t\", \"source\": \"s\", \"topics\": [\"a\"], \"problem\": \"p\", "
             "\"dsl\": \"d\"}", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "missing.json: \"insight\" is missing");

    load_one("blank.json",
             "{\"id\": \"m\", \"title\": \"\", \"source\": \"s\", \"topics\": [\"a\"], \"problem\": \"p\", "
             "\"insight\": \"i\", \"dsl\": \"d\"}", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "blank.json: \"title\"");

    load_one("typo.json",
             "{\"id\": \"m\", \"title\": \"t\", \"source\": \"s\", \"topics\": [\"a\"], \"problem\": \"p\", "
             "\"insight\": \"i\", \"dsl\": \"d\", \"pitfals\": \"x\"}", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "typo.json: unknown field \"pitfals\"");

    load_one("topics.json",
             "{\"id\": \"m\", \"title\": \"t\", \"source\": \"s\", \"topics\": [], \"problem\": \"p\", "
             "\"insight\": \"i\", \"dsl\": \"d\"}", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "topics.json: \"topics\" must be a non-empty array");

    load_one("badid.json",
             "{\"id\": \"Bad Id\", \"title\": \"t\", \"source\": \"s\", \"topics\": [\"a\"], \"problem\": \"p\", "
             "\"insight\": \"i\", \"dsl\": \"d\"}", &base, err, sizeof err);
    CHECK_STR_CONTAINS(err, "badid.json: id \"Bad Id\"");

    CHECK(base.n == 0);
    cog_base_load_dir(&base, "/nonexistent/cognition", err, sizeof err);
    CHECK_STR_CONTAINS(err, "/nonexistent/cognition: cannot open directory");
    cog_base_free(&base);
}

TEST(user_directories_add_entries)
{
    char dir[300], text[512], err[1024] = "";
    snprintf(dir, sizeof dir, "%s/user", tmpdir);
    mkdir(dir, 0700);
    snprintf(text, sizeof text, good_entry, "user-two");
    write_file(dir, "b.json", text);
    snprintf(text, sizeof text, good_entry, "user-one");
    write_file(dir, "a.json", text);
    write_file(dir, "notes.txt", "not an entry");

    cog_base base = load_builtin();
    int builtin = base.n;
    char empty[300];
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    mkdir(empty, 0700);
    CHECK(cog_base_load_dir(&base, empty, err, sizeof err) == 0 && base.n == builtin);
    CHECK(cog_base_load_dir(&base, dir, err, sizeof err) == 2);
    CHECK(base.n == builtin + 2);
    /* Name order, whatever the directory's order. */
    CHECK(strcmp(base.entries[builtin].id, "user-one") == 0);
    CHECK_STR_CONTAINS(base.entries[builtin].origin, "/a.json");
    cog_hit hits[3];
    CHECK(cog_search(&base, "a user entry", 3, hits) >= 2);

    /* Loading the same directory again clashes with itself; nothing is added. */
    CHECK(cog_base_load_dir(&base, dir, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "duplicate id \"user-one\" (also in ");
    CHECK(base.n == builtin + 2);

    /* An id that clashes with a built-in entry names both. */
    snprintf(dir, sizeof dir, "%s/clash", tmpdir);
    mkdir(dir, 0700);
    snprintf(text, sizeof text, good_entry, "gated-delta-rule");
    write_file(dir, "mine.json", text);
    CHECK(cog_base_load_dir(&base, dir, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "mine.json: duplicate id \"gated-delta-rule\" (also in embedded:gated-delta-rule.json)");
    cog_base_free(&base);
}

/* ---- presentation ----------------------------------------------------------------------- */

TEST(format_entry_renders_every_field)
{
    cog_base base = load_builtin();
    const cog_entry *e = cog_base_find(&base, "delta-rule-error-correction");
    CHECK(e != NULL);
    if (!e) return;
    size_t need = cog_format_entry(e, NULL, 0);
    char *text = malloc(need + 1);
    CHECK(cog_format_entry(e, text, need + 1) == need);
    CHECK(strlen(text) == need);
    CHECK(strncmp(text, "[delta-rule-error-correction] Delta rule", 40) == 0);
    const char *labels[] = {"\nSource: ", "\nTopics: memory, delta-rule", "\nProblem: ", "\nInsight: ",
                            "\nIn the DSL: aa_delta_rule(", "\nPitfalls: "};
    for (int i = 0; i < 6; i++) CHECK_STR_CONTAINS(text, labels[i]);
    /* A short buffer is cut, terminated, and the full length still reported. */
    char small[16];
    CHECK(cog_format_entry(e, small, sizeof small) == need);
    CHECK(strlen(small) == sizeof small - 1 && strncmp(small, text, sizeof small - 1) == 0);
    free(text);
    cog_base_free(&base);

    /* No pitfalls, no Pitfalls line. */
    base = hand_corpus();
    char out[512];
    cog_format_entry(&base.entries[0], out, sizeof out);
    CHECK(strstr(out, "Pitfalls") == NULL);
    CHECK_STR_CONTAINS(out, "[doc-a] alpha\nSource: s\nTopics: beta\n");
    cog_base_free(&base);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(builtin_entries_load_complete_and_unique);
    RUN(builtin_entries_cover_the_literature);
    RUN(dsl_identifiers_exist_in_the_header);
    RUN(tokenizer_unites_word_forms);
    RUN(bm25_matches_a_hand_computation);
    RUN(equal_scores_are_ordered_by_id_and_searches_repeat);
    RUN(analyst_texts_retrieve_the_right_entries);
    RUN(malformed_entries_name_the_file);
    RUN(user_directories_add_entries);
    RUN(format_entry_renders_every_field);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary();
}
