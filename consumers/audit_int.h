/*
 * audit_int: what the audit's files share (audit.h is the public API; docs/audit.md the
 * method). Internal to consumers/audit*.c.
 *
 *   audit_source.c   the SQLite side: captured tables, codecs, key-ordered chunked scan,
 *                    single-row and change-log lookups for the re-check
 *   audit_target.c   the PostgreSQL side: pinned session, cursor scan, single-row lookups
 *   audit_keys.c     the common key order, key rendering, key conversions
 *   audit_compare.c  the merge of both streams, digests, differing keys, the re-check
 *   audit_checks.c   the config's business checks
 *   audit_report.c   human and JSON reports
 *   audit.c          cdc_audit_run: domains, sources, tables
 */
#ifndef CDC_AUDIT_INT_H
#define CDC_AUDIT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "audit.h"
#include "cdc_buf.h"
#include "cdc_config.h"
#include "cdc_convert.h"
#include "cdc_hash.h"
#include "cdc_pos.h"
#include "../producer/record.h" /* cdcproducer: see docs/audit.md "Build" */
#include "../producer/table_info.h"

/* One captured (source, table) and how both sides read it. */
typedef struct audit_table_s {
    const cdc_source_t *src;  /* borrowed from the config */
    char *table;              /* SQLite name as capture registered it */
    cdc_table_info_t *ti;     /* the table as SQLite describes it */
    cdc_table_codec_t *codec; /* the producer's typing of its columns */
    const cdc_column_t *cols; /* codec columns (rowid-keyed: plus the rowid), borrowed */
    size_t ncols;
    size_t nkeys;
    size_t *key_col; /* codec column index of key part k */
    int rowid_extra; /* 1: cols[ncols - 1] is the rowid, not a table column */
    char *target;    /* target table name as PostgreSQL stores it */
    char *target_q;  /* quoted */
} audit_table_t;

/* The current row of one side of the merge; values stay valid until the next fetch. */
typedef struct audit_row_s {
    cdc_mapped_t *vals; /* one per column */
    cdc_buf_t *scratch; /* one per column, backing vals */
    cdc_value_t *raw;   /* source side: the SQLite values (borrowed from the statement) */
    cdc_buf_t canon;    /* canonical row (valid unless misfit) */
    uint64_t hash;      /* XXH64 of canon, seed 0 */
    cdc_pos_t pos;      /* target side: (_cdc_epoch, _cdc_pos) */
    int misfit;         /* source side: a value does not fit its column */
    char why[512];      /* the misfit's reason */
} audit_row_t;

void audit_row_init(audit_row_t *r, size_t ncols);
void audit_row_free(audit_row_t *r, size_t ncols);

/* Builds the canonical row and hash of r from r->vals; -1 with errstr on failure. */
int audit_row_finish(const audit_table_t *t, audit_row_t *r, char *errstr, size_t errstr_size);

/* ---- audit_source.c ---- */

/* Opens a source file read-only with a 1 s busy timeout. */
int audit_src_open(const cdc_source_t *src, sqlite3 **db, char *errstr, size_t errstr_size);

/* Captured tables (capture's _cdc_tables), name order; only `only` when non-NULL. */
int audit_src_tables(sqlite3 *db, const cdc_source_t *src, const char *only, char ***names,
                     size_t *n, char *errstr, size_t errstr_size);

/* Describes table `name` and builds its codec exactly as the producer does. */
int audit_table_new(sqlite3 *db, const cdc_source_t *src, const char *name, audit_table_t **out,
                    char *errstr, size_t errstr_size);
void audit_table_free(audit_table_t *t);

typedef struct audit_src_scan_s audit_src_scan_t;

/* A key-ordered scan of t in chunks of chunk_rows rows, one read transaction each. */
audit_src_scan_t *audit_src_scan_new(sqlite3 *db, const audit_table_t *t, int chunk_rows,
                                     char *errstr, size_t errstr_size);
/* Next row into r: 1 a row, 0 the end, -1 error (errstr). A misfit row is a row with
 * r->misfit set (no canonical form). */
int audit_src_scan_next(audit_src_scan_t *s, audit_row_t *r, char *errstr, size_t errstr_size);
/* The capture positions seen by the first and the last chunk. */
void audit_src_scan_positions(const audit_src_scan_t *s, cdc_pos_t *first, cdc_pos_t *last);
void audit_src_scan_free(audit_src_scan_t *s);

/* Re-reads the row of key kv (typed as SQLite stores keys) in a fresh read transaction:
 * *found, its canonical row into canon (misfit: *found = 2), the capture epoch, and the
 * newest change-log seq of the key (0: none) into *log_seq. */
int audit_src_lookup(sqlite3 *db, const audit_table_t *t, const cdc_value_t *kv, int *found,
                     cdc_buf_t *canon, int64_t *epoch, int64_t *log_seq, char *errstr,
                     size_t errstr_size);

/* ---- audit_target.c ---- */

/* Connects to conninfo and pins the session (cdc_pgtext_pin_session). */
PGconn *audit_tgt_connect(const char *conninfo, char *errstr, size_t errstr_size);

/* 1 when t's target table exists, 0 when not, -1 on error. */
int audit_tgt_exists(PGconn *conn, const audit_table_t *t, char *errstr, size_t errstr_size);

typedef struct audit_tgt_scan_s audit_tgt_scan_t;

/* A key-ordered scan of t's target table through a cursor in one REPEATABLE READ READ ONLY
 * transaction (ended by audit_tgt_scan_free). */
audit_tgt_scan_t *audit_tgt_scan_new(PGconn *conn, const audit_table_t *t, char *errstr,
                                     size_t errstr_size);
int audit_tgt_scan_next(audit_tgt_scan_t *s, audit_row_t *r, char *errstr, size_t errstr_size);
void audit_tgt_scan_free(audit_tgt_scan_t *s);

/* Re-reads the target row of key (texts as PostgreSQL reads them): *found, canonical row,
 * its position; else the tombstone's position (*found 0, pos (0,0) without tombstone). */
int audit_tgt_lookup(PGconn *conn, const audit_table_t *t, const char *const *key_text,
                     const unsigned char *key_bytes, size_t key_len, int *found, cdc_buf_t *canon,
                     cdc_pos_t *pos, char *errstr, size_t errstr_size);

/* ---- audit_keys.c ---- */

/* Compares the key parts of two rows in the common order (docs/audit.md). */
int audit_key_cmp(const audit_table_t *t, const cdc_mapped_t *a, const cdc_mapped_t *b);

/* 0 when both sides can stream t's key in that order; else -1 naming the column. */
int audit_key_orderable(const audit_table_t *t, char *errstr, size_t errstr_size);

/* Appends key part k of mapped row vals as PostgreSQL input text. */
void audit_key_pgtext(const audit_table_t *t, size_t k, const cdc_mapped_t *vals, cdc_buf_t *out);

/* Appends the key as a JSON object {"col": value, ...} from mapped values. */
void audit_key_json_mapped(const audit_table_t *t, const cdc_mapped_t *vals, cdc_buf_t *out);

/* A kept key: owned copies of everything the report and the re-check need. */
typedef struct audit_key_s {
    char kind;       /* 'm' missing, 'x' extra, 'd' different, 'f' misfit */
    char *json;      /* {"col": value, ...} */
    char *why;       /* misfit reason, or NULL */
    cdc_value_t *kv; /* typed key values as SQLite keys them (bytes owned below) */
    char **pgtext;   /* key parts as PostgreSQL input text */
    unsigned char *bytes;
    int in_flight; /* re-check: 1 in flight (pending change), 2 settled (now equal) */
} audit_key_t;

/* Fills k from a mapped row (raw: the SQLite values of the same row, or NULL for a
 * target-only row, whose SQLite key is derived from the mapped values). */
void audit_key_keep(const audit_table_t *t, const cdc_mapped_t *vals, const cdc_value_t *raw,
                    char kind, audit_key_t *k);
void audit_key_free(audit_key_t *k, size_t nkeys);

/* ---- audit_compare.c ---- */

typedef struct audit_side_s {
    uint64_t rows;
    uint64_t sum; /* order-independent checksum */
    unsigned char sha[CDC_SHA256_SIZE];
} audit_side_t;

typedef enum {
    AUDIT_T_MATCH,
    AUDIT_T_IN_FLIGHT, /* differences, all explained by changes still in flight */
    AUDIT_T_DIFFER,
    AUDIT_T_ERROR,
} audit_tstatus_t;

typedef struct audit_tres_s {
    char *domain, *source, *table, *target;
    int target_absent;
    audit_side_t s, g; /* source, target ("got") */
    cdc_pos_t pos_first, pos_last;
    uint64_t missing, extra, different, misfit;
    uint64_t in_flight, settled, unchecked; /* re-check outcomes of the kept keys */
    audit_key_t *keys;
    size_t nkeys_kept, keys_cap, nkey_parts;
    int unordered; /* key kind without a common order: counts and checksums only */
    char *note;    /* why (unordered), or NULL */
    audit_tstatus_t status;
    char *error;
} audit_tres_t;

/* Compares t on both sides into res (zeroed by the caller); the re-check uses db and conn
 * again afterwards. Returns 0, or -1 for an operational error (res->error set). */
int audit_compare_table(sqlite3 *db, PGconn *conn, const audit_table_t *t,
                        const cdc_audit_opts_t *opts, audit_tres_t *res);
void audit_tres_free(audit_tres_t *res);

/* ---- audit_checks.c ---- */

typedef struct audit_cres_s {
    const cdc_check_t *check; /* borrowed */
    char *sval, *tval;        /* NULL: SQL NULL */
    int ok;                   /* 1 equal as text */
    char *error;              /* an operational error, or NULL */
} audit_cres_t;

/* Runs one check on its source file and the domain's target connection. */
void audit_check_run(const cdc_config_t *conf, const cdc_check_t *c, PGconn *conn,
                     audit_cres_t *out);
void audit_cres_free(audit_cres_t *c);

/* ---- audit_report.c ---- */

typedef struct audit_report_s {
    audit_tres_t *tables;
    size_t ntables;
    audit_cres_t *checks;
    size_t nchecks;
    char **errors; /* operational errors outside a table (a source, a connection) */
    size_t nerrors;
} audit_report_t;

const char *audit_tstatus_name(audit_tstatus_t st);
void audit_report_human(const audit_report_t *r, int result, FILE *out);
void audit_report_json(const audit_report_t *r, int result, FILE *out);

#endif
