/*
 * sink_apply_table_int: what the files applying one target table share (sink_apply_table.c
 * runs the statements, sink_apply_sql.c writes their SQL pieces, sink_apply_positions.c
 * reads stored positions first). Internal to the sink.
 */
#ifndef CDC_SINK_APPLY_TABLE_INT_H
#define CDC_SINK_APPLY_TABLE_INT_H

#include <stddef.h>

#include <libpq-fe.h>

#include "cdc_buf.h"
#include "cdc_hash.h"
#include "sink_apply_int.h"
#include "sink_pg.h"
#include "sink_schema.h"

typedef enum {
    ROW_PENDING,      /* staged; not applied (yet): superseded at the end */
    ROW_APPLIED,      /* upserted; stored hash computed */
    ROW_DELETED,      /* delete applied */
    ROW_REFUSED,      /* dead letter (already recorded) */
    ROW_STORED_NEWER, /* not staged: the target holds it at an equal or newer position */
} row_state_t;

typedef struct {
    row_state_t state;
    int has_stored;
    unsigned char stored[CDC_HASH_ROW_SIZE];
} row_out_t;

typedef struct {
    cdc_sink_apply_ctx_t *c;
    const cdc_sink_table_t *t;
    const cdc_sink_entry_t *const *rows;
    size_t n;
    row_out_t *out;
    char *stage;
    char *sql_d, *sql_t, *sql_u, *sql_c;
    PGresult *err_res; /* the last failed result, for its diagnostic fields */
    cdc_buf_t canon;
} tctx_t;

/*
 * Runs sql (np text parameters p; none: simple protocol, several statements allowed).
 * On OK stores the result in *res_out (caller PQclears) or clears it; otherwise keeps
 * the failed result in x->err_res and its message in the context's errstr.
 */
cdc_sink_pg_class_t cdc_sink_table_exec(tctx_t *x, const char *sql, int np, const char *const *p,
                                        PGresult **res_out);

/* The staged text of column i (alias.c<i>) as the target column's type. */
void cdc_sink_sql_put_expr(cdc_buf_t *b, const cdc_sink_table_t *t, size_t i, const char *alias);

/* "row.k1 = <stage's k1> AND ..." over the key columns. */
void cdc_sink_sql_put_key_match(cdc_buf_t *b, const cdc_sink_table_t *t, const char *row,
                                const char *stage);

/* The (epoch, position) pair of a target row, NULLs as the smallest position. */
void cdc_sink_sql_put_pos(cdc_buf_t *b, const char *alias);

/*
 * Reads the stored positions of the batch's upserted keys before anything is staged and
 * marks ROW_STORED_NEWER the rows whose target row is at an equal or newer position (a
 * replay, redelivery): they are superseded without staging or locking them. Only a speed
 * step: the upsert's own guard stays, and a key the server cannot read back (a value its
 * type refuses) is simply left to the normal path. Returns OK or the failure's status.
 */
cdc_sink_status_t cdc_sink_apply_read_positions(tctx_t *x);

#endif
