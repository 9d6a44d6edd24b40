/*
 * sqlite_util: the small SQLite habits every producer module shares.
 *
 * - Text is never pasted into SQL unquoted: identifiers go through
 *   cdc_sqlite_quote_ident ("..." with doubled quotes), strings through
 *   cdc_sqlite_quote_literal ('...' with doubled quotes), values through bound parameters.
 * - The producer's own write transactions are short and never wait inside SQLite's busy
 *   handler while holding a lock: cdc_sqlite_write_tx takes the write lock with
 *   BEGIN IMMEDIATE, retries SQLITE_BUSY itself with backoff, and measures how long the
 *   lock was held (invariant 2 of DESIGN.md).
 */
#ifndef CDC_SQLITE_UTIL_H
#define CDC_SQLITE_UTIL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc_types.h"

/* Growable SQL text; `s` is always NUL-terminated (empty string after init). */
typedef struct cdc_sqlbuf_s {
    char *s;
    size_t len;
    size_t cap;
} cdc_sqlbuf_t;

void cdc_sqlbuf_init(cdc_sqlbuf_t *b);
/* Appends printf-formatted text. Never put untrusted text in `fmt` arguments: use the
 * _ident/_literal variants for names. */
void cdc_sqlbuf_printf(cdc_sqlbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cdc_sqlbuf_append(cdc_sqlbuf_t *b, const char *text);
/* Appends "name" with embedded double quotes doubled. */
void cdc_sqlbuf_ident(cdc_sqlbuf_t *b, const char *name);
/* Appends 'text' with embedded single quotes doubled. */
void cdc_sqlbuf_literal(cdc_sqlbuf_t *b, const char *text);
/* Returns the text and leaves b empty (re-initialised); caller frees with free(). */
char *cdc_sqlbuf_take(cdc_sqlbuf_t *b);
void cdc_sqlbuf_free(cdc_sqlbuf_t *b);

/* "name" with doubled double quotes; caller frees with free(). */
char *cdc_sqlite_quote_ident(const char *name);
/* 'text' with doubled single quotes; caller frees with free(). */
char *cdc_sqlite_quote_literal(const char *text);

/* 64-bit FNV-1a of the bytes of s: stable across versions and platforms (it names
 * triggers, so changing it would orphan installed triggers). */
uint64_t cdc_sqlite_name_hash(const char *s);

/* Monotonic clock in milliseconds (fractional). */
double cdc_sqlite_now_ms(void);

/* The file name of the main database of db, or ":memory:" (borrowed from SQLite). */
const char *cdc_sqlite_path(sqlite3 *db);

/* Runs one or more statements without results. Returns the SQLite result code; on error
 * writes "<path>: <what>: <sqlite message>" into errstr. */
int cdc_sqlite_exec(sqlite3 *db, const char *sql, const char *what, char *errstr,
                    size_t errstr_size);

/* Prepares sql; on error returns the code with the SQLite message in errstr. The caller
 * finalizes *out. */
int cdc_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, char *errstr,
                       size_t errstr_size);

/* Writes "<path>: <what>: <sqlite3_errmsg>" into errstr; returns rc unchanged. */
int cdc_sqlite_error(sqlite3 *db, int rc, const char *what, char *errstr, size_t errstr_size);

/* Reads PRAGMA schema_version: SQLite bumps it on every schema change in the file (ours
 * included), so it is only a cheap "look again" signal, never a verdict. */
/* 1 if the (extended) result code rc is SQLITE_BUSY or SQLITE_LOCKED: another connection
 * holds a lock and the operation may be retried; else 0. */
int cdc_sqlite_is_busy(int rc);

/* Runs sql, whose first row's first column is an integer, into *out; what names the query
 * in errstr. Returns SQLITE_OK, or the SQLite code (also when sql returns no row). */
int cdc_sqlite_query_int64(sqlite3 *db, const char *sql, const char *what, int64_t *out,
                           char *errstr, size_t errstr_size);

/* Reads n columns of st's current row, from first_col on, into out. Borrowed: text and blob
 * bytes point into st and stay valid only until st is stepped, reset or finalized. */
void cdc_sqlite_column_values(sqlite3_stmt *st, int first_col, size_t n, cdc_value_t *out);

/* Rolls back whatever transaction db still has open (the failure path of a read
 * transaction begun with a plain BEGIN); a no-op in autocommit mode. */
void cdc_sqlite_rollback_open(sqlite3 *db);

int cdc_sqlite_schema_version(sqlite3 *db, int64_t *out, char *errstr, size_t errstr_size);

/* 1 when a table (type 'table') named exactly `name` exists in main, else 0; -1 on error. */
int cdc_sqlite_table_exists(sqlite3 *db, const char *name, char *errstr, size_t errstr_size);

/* What a write transaction cost; all times in milliseconds. */
typedef struct cdc_sqlite_txstats_s {
    double hold_ms;   /* longest time the write lock was held (BEGIN IMMEDIATE → COMMIT end) */
    double wait_ms;   /* time spent waiting (backoff sleeps) before getting the lock */
    int attempts;     /* BEGIN IMMEDIATE attempts */
    int busy_retries; /* attempts that found the database busy */
} cdc_sqlite_txstats_t;

/* The body of a write transaction. Return SQLITE_OK to commit; SQLITE_BUSY or
 * SQLITE_LOCKED to have the whole transaction rolled back and retried; anything else to
 * roll back and return that code (with a message in errstr). It may run several times. */
typedef int (*cdc_sqlite_txfn_t)(sqlite3 *db, void *arg, char *errstr, size_t errstr_size);

/*
 * Runs fn inside BEGIN IMMEDIATE ... COMMIT on db, which must be in autocommit mode.
 * While it runs, db's busy timeout is set to 0 (and restored afterwards) so that SQLite
 * never sleeps while we hold a lock; busy results are retried here with exponential
 * backoff (1 ms doubling to 50 ms, with jitter) until timeout_ms has passed, then
 * SQLITE_BUSY is returned with a message naming the file. A COMMIT that finds readers
 * in the way (rollback-journal mode) is retried for at most a few milliseconds, then the
 * transaction is rolled back and retried later, so the lock is never held long.
 * stats (may be NULL) receives the measurements, accumulated over the attempts.
 */
int cdc_sqlite_write_tx(sqlite3 *db, int timeout_ms, cdc_sqlite_txfn_t fn, void *arg,
                        cdc_sqlite_txstats_t *stats, char *errstr, size_t errstr_size);

/* Begins a read transaction if db is in autocommit mode (sets *began), so several
 * statements see one snapshot; cdc_sqlite_read_end commits it if *began. */
int cdc_sqlite_read_begin(sqlite3 *db, int *began, char *errstr, size_t errstr_size);
void cdc_sqlite_read_end(sqlite3 *db, int began);

#endif
