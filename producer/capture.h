/*
 * capture: change capture inside a source SQLite file (DESIGN.md invariants 1 and 2).
 *
 * Installing capture creates, all named with the reserved prefix _cdc_:
 *   _cdc_changes(seq INTEGER PRIMARY KEY, tbl, op, ts, k1..kN)  the change log
 *   _cdc_state("key" PRIMARY KEY, value)                       epoch, seq floor, acks
 *   _cdc_tables(tbl PRIMARY KEY, sql, key_cols, ...)           one row per captured table
 *   _cdc_ins_*, _cdc_upd_*, _cdc_del_* triggers                three per captured table
 * and never touches an application table. docs/capture.md has the full design: trigger
 * bodies, the epoch rules, versioning of the log's width, and lock-hold measurements.
 */
#ifndef CDC_CAPTURE_H
#define CDC_CAPTURE_H

#include "cdc_config.h"
#include "cdc_types.h"
#include "sqlite_util.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CDC_CAPTURE_EOK = 0,
    CDC_CAPTURE_ESQLITE,    /* SQLite error (message in errstr) */
    CDC_CAPTURE_EBUSY,      /* the write lock was not obtained in time: retry later */
    CDC_CAPTURE_EREFUSED,   /* a table cannot be captured (virtual table, bad key, ...) */
    CDC_CAPTURE_ENOTFOUND,  /* a table named in the tables list does not exist */
    CDC_CAPTURE_ENOCAPTURE, /* capture is not installed in this file */
    CDC_CAPTURE_EVERSION,   /* installed by a newer capture version */
    CDC_CAPTURE_EBEHIND,    /* position ahead of the file (file replaced by an older copy?) */
} cdc_capture_err_t;

const char *cdc_capture_err2str(cdc_capture_err_t err);

/* What capture found for one table, before install acted on it. */
typedef enum {
    CDC_CAPTURE_OK = 0,           /* captured, triggers and table text as installed */
    CDC_CAPTURE_NEW_TABLE,        /* wanted but not captured yet */
    CDC_CAPTURE_TRIGGERS_MISSING, /* captured, but triggers are gone (table rebuilt by an
                                     ORM or ALTER workaround): changes were not logged */
    CDC_CAPTURE_SQL_CHANGED,      /* CREATE TABLE text differs from the captured one */
    CDC_CAPTURE_KEY_CHANGED,      /* the key columns capture would use changed */
    CDC_CAPTURE_TRIGGERS_CHANGED, /* triggers present but not the ones we would write */
    CDC_CAPTURE_TABLE_DROPPED,    /* captured or listed, but the table no longer exists */
    CDC_CAPTURE_NOT_CONFIGURED,   /* captured (or carries _cdc_ triggers) but not wanted */
    CDC_CAPTURE_REFUSED,          /* cannot be captured; detail says why */
} cdc_capture_status_t;

const char *cdc_capture_status_name(cdc_capture_status_t status);
/* 1 for statuses after which install (re)creates capture and the table must be
 * (re)snapshotted: NEW_TABLE, TRIGGERS_MISSING, SQL_CHANGED, KEY_CHANGED,
 * TRIGGERS_CHANGED. */
int cdc_capture_status_needs_install(cdc_capture_status_t status);

/* Which tables to capture and how to key them (normally straight from the source's
 * config: tables, keys). Everything is borrowed. */
typedef struct cdc_capture_spec_s {
    const char *const *tables; /* NULL / 0 entries / an entry "*" = every user table */
    size_t n_tables;
    const cdc_table_keys_t *keys; /* key columns for tables without a declared key */
    size_t n_keys;
    int64_t min_epoch;   /* a new epoch is always > this (the producer's last known epoch) */
    int lock_timeout_ms; /* how long to keep retrying for the write lock; 0 = 10000 */
} cdc_capture_spec_t;

typedef struct cdc_capture_table_s {
    char *table;                 /* canonical name */
    cdc_capture_status_t status; /* as found (before install acted) */
    char *detail;                /* why, for humans; NULL when OK */
    char *warning;               /* weak key (rowid, no UNIQUE index); NULL if none */
    int reinstalled;             /* install (re)created its capture: re-snapshot it */
} cdc_capture_table_t;

typedef struct cdc_capture_report_s {
    int capture_present; /* _cdc_state existed before */
    int64_t epoch;       /* current epoch (after install), 0 when not installed */
    int new_epoch;       /* install started a new epoch */
    int key_width;       /* number of key columns of _cdc_changes */
    int64_t schema_version;
    size_t n_tables;
    cdc_capture_table_t *tables;
    cdc_sqlite_txstats_t tx; /* install/uninstall: the write transaction's lock hold */
} cdc_capture_report_t;

void cdc_capture_report_destroy(cdc_capture_report_t *report);

/*
 * Converges the file's capture to spec in one short BEGIN IMMEDIATE transaction:
 * creates the capture tables if needed, widens the log for wider keys, (re)creates the
 * triggers of every table whose status needs it, removes capture from tables no longer
 * wanted, and starts a new epoch when anything was (re)installed (or the file had no
 * capture). All SQL is prepared before the lock is taken; if the schema changed in
 * between, the plan is redone. Nothing to do means no write at all: same epoch.
 * Refuses (CDC_CAPTURE_EREFUSED, nothing changed) when a wanted table cannot be
 * captured. *out (may be NULL) receives the report, including tx.hold_ms; caller frees
 * with cdc_capture_report_destroy().
 */
cdc_capture_err_t cdc_capture_install(sqlite3 *db, const cdc_capture_spec_t *spec,
                                      cdc_capture_report_t **out, char *errstr, size_t errstr_size);

/*
 * Reports, per table, what install would find (see cdc_capture_status_t) without
 * writing anything: the producer's schema watch calls it when PRAGMA schema_version
 * moved, then reinstalls and re-snapshots the tables that need it. Refused tables are
 * reported (status REFUSED), not an error. Caller frees *out with
 * cdc_capture_report_destroy().
 */
cdc_capture_err_t cdc_capture_check(sqlite3 *db, const cdc_capture_spec_t *spec,
                                    cdc_capture_report_t **out, char *errstr, size_t errstr_size);

/*
 * Removes every _cdc_ trigger and table (and nothing else) in one short write
 * transaction; afterwards `sqlite3 FILE .dump` is what it was before install.
 * Idempotent. stats may be NULL.
 */
cdc_capture_err_t cdc_capture_uninstall(sqlite3 *db, int lock_timeout_ms,
                                        cdc_sqlite_txstats_t *stats, char *errstr,
                                        size_t errstr_size);

/* 1 if capture is installed (the state table exists), 0 if not, -1 on error. */
int cdc_capture_installed(sqlite3 *db, char *errstr, size_t errstr_size);

/* --- reading the change log (capture_fetch.c) ---------------------------------------- */

/* One changed row: the newest log entry of one (table, key) in the batch. */
typedef struct cdc_change_s {
    const char *table; /* valid until the batch is destroyed */
    char op;           /* 'i', 'u' or 'd' of the newest entry */
    int64_t seq;       /* its sequence number */
    size_t n_keys;
    cdc_value_t *keys; /* typed key values, in key order; text/blob bytes owned by the
                          batch (text is also NUL-terminated) */
} cdc_change_t;

typedef struct cdc_change_batch_s {
    int64_t after;    /* the fetch's lower bound (exclusive) */
    int64_t upto;     /* the last seq consumed: fetch the next batch after it, and
                         acknowledge it once everything of the batch is delivered */
    size_t n_rows;    /* log rows in (after, upto] */
    size_t n_changes; /* coalesced entries, ordered by seq */
    cdc_change_t *changes;
} cdc_change_batch_t;

/*
 * Reads the log rows with seq > after (at most `limit` of them, in seq order) and
 * coalesces them to one entry per (table, key), typed keys compared by storage class.
 * Rows of tables no longer captured, or written before a table's key changed, are
 * skipped. Runs in the caller's read transaction if one is open (the caller then reads
 * the row images and the high-water mark in that same snapshot), else in its own.
 * Caller frees *out with cdc_change_batch_destroy().
 */
cdc_capture_err_t cdc_capture_fetch(sqlite3 *db, int64_t after, size_t limit,
                                    cdc_change_batch_t **out, char *errstr, size_t errstr_size);
void cdc_change_batch_destroy(cdc_change_batch_t *batch);

#endif
