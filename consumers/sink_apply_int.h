/*
 * sink_apply_int: the state of one cdc_sink_apply() call, shared by sink_apply.c (the
 * transaction: fencing, reduction, markers, heartbeats, outbox) and sink_apply_table.c
 * (one target table: staging, guarded statements, bisection). Internal to the sink.
 */
#ifndef CDC_SINK_APPLY_INT_H
#define CDC_SINK_APPLY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc_buf.h"
#include "sink_apply.h"
#include "sink_batch.h"
#include "sink_db.h"

/* Parity statuses written to _cdc_parity_outbox. */
#define CDC_SINK_MATCH       "match"
#define CDC_SINK_MISMATCH    "mismatch"
#define CDC_SINK_SUPERSEDED  "superseded"
#define CDC_SINK_DEAD_LETTER "dead_letter"

/* Matches (or superseded versions) of one (source, table) in the batch: counted, written
 * as one outbox row (docs/parity.md "Outbox layout"). Strings borrowed from the batch. */
typedef struct cdc_sink_outbox_agg_s {
    const char *source, *table;
    int superseded; /* 0: matches */
    long count;
    int has_pos;
    cdc_pos_t last; /* newest position among them */
} cdc_sink_outbox_agg_t;

typedef struct cdc_sink_apply_ctx_s {
    cdc_sink_db_t *db;
    const char *topic;
    int32_t partition;
    cdc_sink_dead_letter_cb dl_cb;
    void *dl_opaque;
    cdc_sink_stats_t *stats;
    cdc_buf_t outbox;            /* COPY text of _cdc_parity_outbox rows */
    cdc_sink_outbox_agg_t *aggs; /* counted results, written at the end of the batch */
    size_t naggs, aggs_cap;
    cdc_buf_t scratch; /* work buffers */
    cdc_buf_t scratch2;
    char *errstr;
    size_t errstr_size;
} cdc_sink_apply_ctx_t;

/* Records one parity result: a match or superseded version is counted into its (source,
 * table, status) outbox row, a mismatch or dead letter appends a row of its own (the key
 * and hashes a person needs). key/src_hash/stored_hash may be NULL; pos NULL: unknown. */
void cdc_sink_apply_outbox(cdc_sink_apply_ctx_t *c, const char *source, const char *table,
                           const unsigned char *key, size_t key_len, const cdc_pos_t *pos, char op,
                           const unsigned char *src_hash, size_t src_hash_len,
                           const unsigned char *stored_hash, size_t stored_hash_len,
                           const char *status);

/*
 * Hands a refused row to the dead-letter callback, then records it (_cdc_dead_letters, an
 * outbox row, stats). column may be NULL. Returns OK, or RETRIABLE when the callback
 * failed (or there is none), or the class of a failed bookkeeping statement.
 */
cdc_sink_status_t cdc_sink_apply_dead_letter(cdc_sink_apply_ctx_t *c, const cdc_sink_entry_t *e,
                                             const char *column, const char *reason);

/* Applies the winning versions rows[0..n) (all of table t, one per key) inside the open
 * transaction. Returns OK, RETRIABLE or FATAL (refused rows became dead letters). */
cdc_sink_status_t cdc_sink_apply_table(cdc_sink_apply_ctx_t *c, const cdc_sink_table_t *t,
                                       const cdc_sink_entry_t *const *rows, size_t n);

#endif
