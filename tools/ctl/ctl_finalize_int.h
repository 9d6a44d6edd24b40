/*
 * ctl_finalize_int: what the parts of the cutover's target finalisation share
 * (ctl_finalize.c: the transaction and the tables; ctl_finalize_schema.c: columns, indexes,
 * checks; ctl_finalize_fk.c: foreign keys with their orphans, identities). Internal to
 * cdc-ctl.
 */
#ifndef CDC_CTL_FINALIZE_INT_H
#define CDC_CTL_FINALIZE_INT_H

#include <stddef.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "cdc_config.h"
#include "ctl_cutover.h"

/* One captured table: its source, SQLite name and target names. */
typedef struct fin_table_s {
    const cdc_source_t *src;
    char *tbl;      /* SQLite name */
    char *target;   /* target table as stored */
    char *target_q; /* quoted */
} fin_table_t;

/* Runs sql (n text parameters p; none: PQexec, so several statements may be given);
 * 0 with the result in *out when out is not NULL (caller frees with PQclear), or -1 with
 * PostgreSQL's first message line in err and the SQLSTATE in state (when not NULL). */
int ctl_fin_run(PGconn *conn, const char *sql, int n, const char *const *p, PGresult **out,
                char state[6], char *err, size_t err_size);

/* sql under a savepoint: 0 done, -1 refused (rolled back to the savepoint; state and err
 * say why), -2 the savepoint itself failed (err). */
int ctl_fin_try(PGconn *conn, const char *sql, char state[6], char *err, size_t err_size);

/* "<table>_<suffix>" clipped like PostgreSQL and quoted; caller frees. */
char *ctl_fin_object_name(const char *table, const char *suffix);

/* The primary key columns of a target table, quoted and comma-separated (caller frees), and
 * their number; NULL when they cannot be read. */
char *ctl_fin_pk_columns(PGconn *conn, const char *table_q, size_t *count);

/* Appends one indented line to the report of f. */
void ctl_fin_line(ctl_final_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* NOT NULL and DEFAULT of t's columns (PRAGMA table_info of its file db). 0, or -1 with
 * errstr when the transaction can no longer go on. */
int ctl_fin_add_columns(sqlite3 *db, PGconn *conn, const fin_table_t *t, ctl_final_t *f,
                        char *errstr, size_t errstr_size);

/* UNIQUE and secondary indexes of t (PRAGMA index_list / index_xinfo). 0, or -1 with
 * errstr when the transaction can no longer go on. */
int ctl_fin_add_indexes(sqlite3 *db, PGconn *conn, const fin_table_t *t, ctl_final_t *f,
                        char *errstr, size_t errstr_size);

/* CHECK constraints of t's CREATE TABLE text (NOT VALID, reported, when rows violate them).
 * 0, or -1 with errstr when the transaction can no longer go on. */
int ctl_fin_add_checks(sqlite3 *db, PGconn *conn, const fin_table_t *t, ctl_final_t *f,
                       char *errstr, size_t errstr_size);

/* The foreign keys of t (PRAGMA foreign_key_list of its file db), parents found among the
 * domain's tables ts: added NOT VALID, validated, orphans reported and kept. 0, or -1 with
 * errstr when the transaction can no longer go on. */
int ctl_fin_add_fks(sqlite3 *db, PGconn *conn, const fin_table_t *ts, size_t nts,
                    const fin_table_t *t, ctl_final_t *f, char *errstr, size_t errstr_size);

/* An integer single-column key of t gets an identity (or its sequence a value) past its
 * highest value. 0, or -1 with errstr. */
int ctl_fin_set_identity(PGconn *conn, const fin_table_t *t, ctl_final_t *f, char *errstr,
                         size_t errstr_size);

#endif
