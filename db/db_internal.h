/*
 * db_internal.h — what the files of db/ share and nobody else sees: the
 * connection struct, error reporting, the write-transaction wrapper that
 * makes every mutating call atomic, and small statement helpers.
 */
#ifndef ASIARCH_DB_INTERNAL_H
#define ASIARCH_DB_INTERNAL_H

#include <sqlite3.h>

#include "db.h"

/* SQL for "now" as the API's timestamps: UTC, ISO 8601, milliseconds. */
#define DB_NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

struct aa_db {
    sqlite3 *sql;
    char *path;
    int readonly;
    int in_tx;          /* inside db_begin .. db_commit/db_rollback */
    int tx_broken;      /* SQLite rolled that transaction back after an error */
    char broken_why[512];
    char err[1024];
};

/* Record "<what>: <SQLite's message> (<code name>: <hint>)"; returns -1. */
int db_fail_sql(aa_db *db, const char *what);
/* Record a message of our own (printf-style); returns -1. */
int db_fail(aa_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same message for a code and text without a connection (db_open). */
void db_format_sql_error(char *buf, size_t len, const char *what, int code, const char *msg);

/* Every mutating call: db_write_begin, the statements, db_write_end(rc).
 * Outside an explicit transaction this is BEGIN IMMEDIATE .. COMMIT (taking
 * the write lock first, so a concurrent writer waits instead of failing
 * later); inside one, a savepoint. db_write_end rolls back when rc != 0 and
 * returns rc, or -1 when the commit itself fails. */
int db_write_begin(aa_db *db, const char *what);
int db_write_end(aa_db *db, int rc, const char *what);
/* Multi-statement reads see one snapshot: BEGIN .. COMMIT, unless a
 * transaction is already open (*began says which). */
int db_read_begin(aa_db *db, const char *what, int *began);
void db_read_end(aa_db *db, int began);

/* Prepare, or record the error and return NULL. */
sqlite3_stmt *db_prepare(aa_db *db, const char *sql, const char *what);
/* Step a statement that returns no rows and finalize it; 0 or -1. */
int db_exec_stmt(aa_db *db, sqlite3_stmt *st, const char *what);

/* Binding: NULL strings, 0 ids and NAN reals become SQL NULL. */
int db_bind_text(sqlite3_stmt *st, int i, const char *s);
int db_bind_id(sqlite3_stmt *st, int i, int64_t id);
int db_bind_real_or_null(sqlite3_stmt *st, int i, double v);

/* Reading columns: a malloc'd copy (NULL for SQL NULL; sets *oom on failure). */
char *db_col_strdup(sqlite3_stmt *st, int i, int *oom);
void db_col_time(sqlite3_stmt *st, int i, char out[DB_TIME_LEN]);

/* Room for one more element in a growable array: the (possibly moved)
 * array, or NULL when out of memory (the old one is still valid). */
void *db_grow(void *items, int n, int *cap, size_t elem);

/* Hex SHA-256 of s into out[65]; -1 if the digest fails. */
int db_sha256_hex(const char *s, char out[65]);

/* JSON text checks, for clear errors before SQLite's CHECK constraints. */
int db_json_is(const char *text, int want_array);

/* Insert an event inside the caller's write transaction; run_id 0: the
 * candidate's run. */
int db_insert_event(aa_db *db, int64_t run_id, int64_t candidate_id, const char *kind, const char *message);

#endif /* ASIARCH_DB_INTERNAL_H */
