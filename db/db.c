/*
 * db.c — opening the lineage database (pragmas, schema version, migration),
 * transactions, error messages and the statement helpers the other files of
 * db/ use.
 */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_internal.h"

/* ---- errors -------------------------------------------------------------------- */

/* Name and advice for the primary result codes a user can meet. */
static const char *code_hint(int primary, const char **name)
{
    switch (primary) {
    case SQLITE_FULL:
        *name = "SQLITE_FULL";
        return "the disk is full or the file hit its size limit; nothing of this call was written";
    case SQLITE_READONLY:
        *name = "SQLITE_READONLY";
        return "the database file or its directory is not writable";
    case SQLITE_BUSY:
        *name = "SQLITE_BUSY";
        return "another process held the write lock for longer than the busy timeout";
    case SQLITE_LOCKED: *name = "SQLITE_LOCKED"; return "a conflicting statement on this connection";
    case SQLITE_IOERR: *name = "SQLITE_IOERR"; return "the operating system reported an I/O error";
    case SQLITE_CORRUPT: *name = "SQLITE_CORRUPT"; return "the file is damaged";
    case SQLITE_NOTADB: *name = "SQLITE_NOTADB"; return "the file is not an SQLite database";
    case SQLITE_CANTOPEN: *name = "SQLITE_CANTOPEN"; return "the file or its directory cannot be opened";
    case SQLITE_PERM: *name = "SQLITE_PERM"; return "permission denied";
    case SQLITE_NOMEM: *name = "SQLITE_NOMEM"; return "out of memory";
    case SQLITE_CONSTRAINT: *name = "SQLITE_CONSTRAINT"; return "a value broke a rule of the schema";
    case SQLITE_PROTOCOL: *name = "SQLITE_PROTOCOL"; return "WAL locking failed (a network file system?)";
    default: *name = "SQLITE_ERROR"; return NULL;
    }
}

void db_format_sql_error(char *buf, size_t len, const char *what, int code, const char *msg)
{
    const char *name;
    const char *hint = code_hint(code & 0xff, &name);
    /* A failed write or fsync is most often a full disk or a file-size limit. */
    if (code == SQLITE_IOERR_WRITE || code == SQLITE_IOERR_FSYNC || code == SQLITE_IOERR_TRUNCATE)
        hint = "writing to the file failed (a full disk, a file-size limit or a device error); nothing of this "
               "call was written";
    if (hint) snprintf(buf, len, "%s: %s (%s: %s)", what, msg, name, hint);
    else snprintf(buf, len, "%s: %s", what, msg);
}

int db_fail_sql(aa_db *db, const char *what)
{
    db_format_sql_error(db->err, sizeof db->err, what, sqlite3_extended_errcode(db->sql), sqlite3_errmsg(db->sql));
    return -1;
}

int db_fail(aa_db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof db->err, fmt, ap);
    va_end(ap);
    return -1;
}

const char *db_error(const aa_db *db) { return db ? db->err : "no database"; }
const char *db_path(const aa_db *db) { return db->path; }

/* ---- statements ---------------------------------------------------------------- */

sqlite3_stmt *db_prepare(aa_db *db, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail_sql(db, what);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int db_exec_stmt(aa_db *db, sqlite3_stmt *st, const char *what)
{
    if (!st) return -1;
    int rc = sqlite3_step(st);
    int ok = rc == SQLITE_DONE || rc == SQLITE_ROW;
    if (!ok) db_fail_sql(db, what);
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

int db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

int db_bind_id(sqlite3_stmt *st, int i, int64_t id)
{
    return id ? sqlite3_bind_int64(st, i, id) : sqlite3_bind_null(st, i);
}

int db_bind_real_or_null(sqlite3_stmt *st, int i, double v)
{
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

char *db_col_strdup(sqlite3_stmt *st, int i, int *oom)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    if (!s) return NULL;
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    char *copy = malloc(n + 1);
    if (!copy) {
        *oom = 1;
        return NULL;
    }
    memcpy(copy, s, n);
    copy[n] = 0;
    return copy;
}

void db_col_time(sqlite3_stmt *st, int i, char out[DB_TIME_LEN])
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(out, DB_TIME_LEN, "%s", s ? (const char *)s : "");
}

void *db_grow(void *items, int n, int *cap, size_t elem)
{
    if (n < *cap) return items;
    int grown = *cap ? 2 * *cap : 16;
    void *p = realloc(items, (size_t)grown * elem);
    if (p) *cap = grown;
    return p;
}

int db_sha256_hex(const char *s, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) || n != 32) return -1;
    for (unsigned i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int db_json_is(const char *text, int want_array)
{
    cJSON *j = cJSON_Parse(text);
    int ok = j && (want_array ? cJSON_IsArray(j) : cJSON_IsObject(j));
    cJSON_Delete(j);
    return ok;
}

/* ---- transactions -------------------------------------------------------------- */

static int exec_sql(aa_db *db, const char *sql, const char *what)
{
    if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK) return db_fail_sql(db, what);
    return 0;
}

/* SQLite rolls a transaction back by itself after some errors (disk full,
 * I/O): remember that the caller's transaction is gone. */
static void note_if_tx_lost(aa_db *db)
{
    if (db->in_tx && !db->tx_broken && sqlite3_get_autocommit(db->sql)) {
        db->tx_broken = 1;
        snprintf(db->broken_why, sizeof db->broken_why, "%.500s", db->err);   /* the start says enough */
    }
}

static int refuse_broken_tx(aa_db *db, const char *what)
{
    return db_fail(db, "%s: the transaction was already rolled back by SQLite after an earlier error (%s); "
                       "call db_rollback", what, db->broken_why);
}

int db_write_begin(aa_db *db, const char *what)
{
    if (db->readonly) return db_fail(db, "%s: the database %s was opened read-only", what, db->path);
    if (db->tx_broken) return refuse_broken_tx(db, what);
    return exec_sql(db, db->in_tx ? "SAVEPOINT aa_call" : "BEGIN IMMEDIATE", what);
}

int db_write_end(aa_db *db, int rc, const char *what)
{
    if (db->in_tx) {
        if (rc == 0) {
            if (exec_sql(db, "RELEASE aa_call", what) == 0) return 0;
            rc = -1;
        }
        char keep[sizeof db->err];
        memcpy(keep, db->err, sizeof keep);   /* the error that made us roll back */
        note_if_tx_lost(db);
        if (!db->tx_broken) sqlite3_exec(db->sql, "ROLLBACK TO aa_call; RELEASE aa_call", NULL, NULL, NULL);
        memcpy(db->err, keep, sizeof keep);
        return rc;
    }
    if (rc == 0 && exec_sql(db, "COMMIT", what) == 0) return 0;
    if (!sqlite3_get_autocommit(db->sql)) sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int db_read_begin(aa_db *db, const char *what, int *began)
{
    *began = 0;
    if (db->tx_broken) return refuse_broken_tx(db, what);
    if (!sqlite3_get_autocommit(db->sql)) return 0;
    if (exec_sql(db, "BEGIN", what) < 0) return -1;
    *began = 1;
    return 0;
}

void db_read_end(aa_db *db, int began)
{
    if (began) sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
}

int db_begin(aa_db *db)
{
    if (db->in_tx) return db_fail(db, "beginning a transaction: one is already open (transactions do not nest)");
    if (db->readonly) return db_fail(db, "beginning a transaction: the database %s was opened read-only", db->path);
    if (exec_sql(db, "BEGIN IMMEDIATE", "beginning a transaction") < 0) return -1;
    db->in_tx = 1;
    db->tx_broken = 0;
    return 0;
}

int db_commit(aa_db *db)
{
    if (!db->in_tx) return db_fail(db, "committing: no transaction is open");
    if (db->tx_broken) {
        refuse_broken_tx(db, "committing");
        db->in_tx = db->tx_broken = 0;
        return -1;
    }
    int rc = exec_sql(db, "COMMIT", "committing the transaction");
    if (rc < 0 && !sqlite3_get_autocommit(db->sql)) sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    db->in_tx = 0;
    return rc;
}

int db_rollback(aa_db *db)
{
    if (!db->in_tx) return db_fail(db, "rolling back: no transaction is open");
    int rc = 0;
    if (!sqlite3_get_autocommit(db->sql)) rc = exec_sql(db, "ROLLBACK", "rolling back the transaction");
    db->in_tx = db->tx_broken = 0;
    return rc;
}

/* ---- schema --------------------------------------------------------------------- */

/* migrations[v] takes a database from schema version v to v + 1. Version 0
 * is an empty file. Add a step (never edit a released one) and bump
 * DB_SCHEMA_VERSION to change the schema. */
#define JSON_OBJECT_OR_NULL(col) "(" col " IS NULL OR (json_valid(" col ") AND json_type(" col ") = 'object'))"
#define JSON_ARRAY(col) "(json_valid(" col ") AND json_type(" col ") = 'array')"
#define FINAL_STATUSES "('scored','failed','rejected','duplicate')"

static const char *const migrations[DB_SCHEMA_VERSION] = {
    /* 0 -> 1: the first schema. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  created_at TEXT NOT NULL DEFAULT (" DB_NOW_SQL "),"
    "  updated_at TEXT NOT NULL DEFAULT (" DB_NOW_SQL "),"
    "  config_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config_json) AND json_type(config_json) = 'object'),"
    "  seed INTEGER NOT NULL DEFAULT 0,"
    "  scale TEXT,"
    "  proposer TEXT,"
    "  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','stopped','finished','failed')));"
    "CREATE TABLE candidates ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  parent_id INTEGER REFERENCES candidates(id),"
    "  refs_json TEXT NOT NULL DEFAULT '[]' CHECK " JSON_ARRAY("refs_json") ","
    "  name TEXT NOT NULL CHECK (name <> ''),"
    "  motivation TEXT,"
    "  source TEXT,"
    "  source_sha256 TEXT CHECK ((source IS NULL) = (source_sha256 IS NULL)),"
    "  graph_hash TEXT,"
    "  is_baseline INTEGER NOT NULL DEFAULT 0 CHECK (is_baseline IN (0, 1)),"
    "  status TEXT NOT NULL DEFAULT 'proposed' CHECK (status IN"
    "    ('proposed','running','scored','failed','rejected','duplicate','interrupted')),"
    "  status_reason TEXT,"
    "  retries INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),"
    "  metrics_json TEXT CHECK " JSON_OBJECT_OR_NULL("metrics_json") ","
    "  score REAL,"
    "  scores_json TEXT CHECK " JSON_OBJECT_OR_NULL("scores_json") ","
    "  analysis TEXT,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  cost_usd REAL NOT NULL DEFAULT 0,"
    "  cpu_seconds REAL NOT NULL DEFAULT 0,"
    "  gpu_seconds REAL NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL DEFAULT (" DB_NOW_SQL "),"
    "  started_at TEXT,"
    "  finished_at TEXT,"
    /* A final status and a finish time come together, and a scored row is
     * complete: the schema itself refuses a half-written result. */
    "  CHECK ((status IN " FINAL_STATUSES ") = (finished_at IS NOT NULL)),"
    "  CHECK (status <> 'scored' OR (score IS NOT NULL AND metrics_json IS NOT NULL)));"
    "CREATE INDEX candidates_run_status ON candidates(run_id, status);"
    "CREATE INDEX candidates_score ON candidates(score);"
    "CREATE INDEX candidates_graph_hash ON candidates(graph_hash);"
    "CREATE INDEX candidates_parent ON candidates(parent_id);"
    "CREATE TABLE attempts ("
    "  id INTEGER PRIMARY KEY,"
    "  candidate_id INTEGER NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,"
    "  n INTEGER NOT NULL CHECK (n >= 1),"
    "  stage TEXT NOT NULL CHECK (stage <> ''),"
    "  ok INTEGER NOT NULL CHECK (ok IN (0, 1)),"
    "  reports_json TEXT NOT NULL DEFAULT '[]' CHECK " JSON_ARRAY("reports_json") ","
    "  source TEXT,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL DEFAULT (" DB_NOW_SQL "),"
    "  UNIQUE (candidate_id, n));"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  candidate_id INTEGER REFERENCES candidates(id),"
    "  ts TEXT NOT NULL DEFAULT (" DB_NOW_SQL "),"
    "  kind TEXT NOT NULL CHECK (kind <> ''),"
    "  message TEXT NOT NULL);"
    "CREATE INDEX events_run_candidate ON events(run_id, candidate_id);"
    /* A run's updated_at follows its candidates. */
    "CREATE TRIGGER candidates_touch_run_insert AFTER INSERT ON candidates BEGIN"
    "  UPDATE runs SET updated_at = " DB_NOW_SQL " WHERE id = NEW.run_id; END;"
    "CREATE TRIGGER candidates_touch_run_update AFTER UPDATE ON candidates BEGIN"
    "  UPDATE runs SET updated_at = " DB_NOW_SQL " WHERE id = NEW.run_id; END;"
    "INSERT INTO meta (key, value) VALUES ('application', 'asiarch');",
    /* 1 -> 2: per-seed results (wins that hold: mean and interval over seeds). */
    "CREATE TABLE seed_results ("
    "  id INTEGER PRIMARY KEY,"
    "  candidate_id INTEGER NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,"
    "  seed INTEGER NOT NULL,"
    "  scale TEXT NOT NULL CHECK (scale <> ''),"
    "  steps INTEGER NOT NULL CHECK (steps > 0),"
    "  metrics_json TEXT NOT NULL CHECK (json_valid(metrics_json) AND json_type(metrics_json) = 'object'),"
    "  created_at TEXT NOT NULL DEFAULT (" DB_NOW_SQL "),"
    "  UNIQUE (candidate_id, seed, scale, steps));"
    "CREATE INDEX seed_results_candidate ON seed_results(candidate_id);",
};

/* Schema version of the open file: 0 for an empty file; -1 (with a message)
 * for an SQLite file that some other program wrote. */
static int read_version(aa_db *db, int *version)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT (SELECT count(*) FROM sqlite_schema),"
                                      " (SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta')",
                                  "reading the schema");
    if (!st) return -1;
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_fail_sql(db, "reading the schema");
        sqlite3_finalize(st);
        return -1;
    }
    int objects = sqlite3_column_int(st, 0), has_meta = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    if (!has_meta) {
        *version = 0;
        if (objects) return db_fail(db, "%s is an SQLite database but not asiarch's (it has no meta table)", db->path);
        return 0;
    }
    st = db_prepare(db, "SELECT value FROM meta WHERE key = 'schema_version'", "reading the schema version");
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int(st, 0);
    else if (rc == SQLITE_DONE) db_fail(db, "%s has no schema_version in its meta table: not asiarch's database", db->path);
    else db_fail_sql(db, "reading the schema version");
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int refuse_newer(aa_db *db, int version)
{
    return db_fail(db, "%s has schema version %d, newer than this asiarch's %d: use a newer asiarch (or a copy of "
                       "the database it can write)",
                   db->path, version, DB_SCHEMA_VERSION);
}

static int set_version(aa_db *db, int version)
{
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)"
                                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                  "recording the schema version");
    if (!st) return -1;
    sqlite3_bind_int(st, 1, version);
    return db_exec_stmt(db, st, "recording the schema version");
}

/* Bring the schema to DB_SCHEMA_VERSION in one transaction. */
static int migrate(aa_db *db)
{
    if (exec_sql(db, "BEGIN IMMEDIATE", "opening the database") < 0) return -1;
    int version = 0, rc = read_version(db, &version);
    if (rc == 0 && version > DB_SCHEMA_VERSION) rc = refuse_newer(db, version);
    for (int v = version; rc == 0 && v < DB_SCHEMA_VERSION; v++) {
        char what[64];
        snprintf(what, sizeof what, "migrating the schema from version %d to %d", v, v + 1);
        rc = exec_sql(db, migrations[v], what);
        if (rc == 0) rc = set_version(db, v + 1);
    }
    if (rc == 0) return exec_sql(db, "COMMIT", "storing the schema");
    sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int check_version_readonly(aa_db *db)
{
    int version = 0;
    if (read_version(db, &version) < 0) return -1;
    if (version > DB_SCHEMA_VERSION) return refuse_newer(db, version);
    if (version < DB_SCHEMA_VERSION)
        return db_fail(db, "%s has schema version %d; open it for writing once (asiarch discover) to migrate it to %d",
                       db->path, version, DB_SCHEMA_VERSION);
    return 0;
}

/* ---- opening --------------------------------------------------------------------- */

/* PRAGMA that returns one text value; 0 and the value in out. */
static int pragma_text(aa_db *db, const char *sql, char *out, size_t len)
{
    sqlite3_stmt *st = db_prepare(db, sql, "setting up the connection");
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    else if (rc == SQLITE_DONE) out[0] = 0;
    else db_fail_sql(db, "setting up the connection");
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL at
 * each commit, so a commit survives a kill and a power loss. */
static int configure_writer(aa_db *db)
{
    char mode[32];
    if (sqlite3_db_readonly(db->sql, "main") == 1)
        return db_fail(db, "%s is read-only (file or directory not writable); `asiarch db` commands can still read it",
                       db->path);
    if (pragma_text(db, "PRAGMA journal_mode = WAL", mode, sizeof mode) < 0) return -1;
    if (strcmp(mode, "wal") != 0)
        return db_fail(db, "%s: could not switch to WAL mode (journal mode is '%s'); is it on a network file system?",
                       db->path, mode);
    return exec_sql(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "setting up the connection");
}

static int open_connection(const char *path, int flags, aa_db **out, char *err, size_t errlen)
{
    *out = NULL;
    aa_db *db = calloc(1, sizeof *db);
    if (db) db->path = strdup(path);
    if (!db || !db->path) {
        free(db);
        snprintf(err, errlen, "opening %s: out of memory", path);
        return -1;
    }
    int rc = sqlite3_open_v2(path, &db->sql, flags, NULL);
    if (rc != SQLITE_OK) {
        char what[512];
        snprintf(what, sizeof what, "opening %s", path);
        db_format_sql_error(err, errlen, what, db->sql ? sqlite3_extended_errcode(db->sql) : rc,
                            db->sql ? sqlite3_errmsg(db->sql) : sqlite3_errstr(rc));
        db_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db->sql, 1);
    sqlite3_busy_timeout(db->sql, DB_BUSY_TIMEOUT_MS);
    *out = db;
    return 0;
}

static int open_failed(aa_db *db, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", db->err);
    db_close(db);
    return -1;
}

int db_open(const char *path, aa_db **out, char *err, size_t errlen)
{
    aa_db *db;
    *out = NULL;
    if (open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, &db, err, errlen) < 0)
        return -1;
    if (configure_writer(db) < 0 || migrate(db) < 0) return open_failed(db, err, errlen);
    *out = db;
    return 0;
}

int db_open_readonly(const char *path, aa_db **out, char *err, size_t errlen)
{
    struct stat sb;
    *out = NULL;
    if (stat(path, &sb) != 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "cannot open %s: not a regular file", path);
        return -1;
    }
    aa_db *db;
    if (open_connection(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, &db, err, errlen) < 0) return -1;
    db->readonly = 1;
    if (check_version_readonly(db) < 0) return open_failed(db, err, errlen);
    *out = db;
    return 0;
}

void db_close(aa_db *db)
{
    if (!db) return;
    if (db->in_tx && !sqlite3_get_autocommit(db->sql)) sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close_v2(db->sql);
    free(db->path);
    free(db);
}

/* Append the problems a check PRAGMA reports (rows other than "ok"); the
 * number of problems, or -1. foreign_key_check rows are (table, rowid,
 * parent table, key). */
static int run_check(aa_db *db, const char *sql, int foreign_keys, char *problems, size_t len)
{
    sqlite3_stmt *st = db_prepare(db, sql, "checking integrity");
    if (!st) return -1;
    int rc, bad = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *first = (const char *)sqlite3_column_text(st, 0);
        if (!foreign_keys && first && !strcmp(first, "ok")) continue;
        size_t used = strlen(problems);
        if (bad++ == 8 || used + 8 >= len) continue;   /* the first few say enough */
        if (foreign_keys)
            snprintf(problems + used, len - used, "%s%s row %lld references a missing %s row", used ? "; " : "",
                     first ? first : "?", (long long)sqlite3_column_int64(st, 1),
                     sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "?");
        else
            snprintf(problems + used, len - used, "%s%s", used ? "; " : "", first ? first : "?");
    }
    if (rc != SQLITE_DONE) db_fail_sql(db, "checking integrity");
    sqlite3_finalize(st);
    return rc != SQLITE_DONE ? -1 : bad;
}

int db_check_integrity(aa_db *db)
{
    char problems[768] = "";
    int a = run_check(db, "PRAGMA integrity_check", 0, problems, sizeof problems);
    if (a < 0) return -1;
    int b = run_check(db, "PRAGMA foreign_key_check", 1, problems, sizeof problems);
    if (b < 0) return -1;
    if (a + b) return db_fail(db, "%s failed its integrity check: %s", db->path, problems);
    return 0;
}
