/*
 * sink_batch: the entries of one partition's batch (sink_apply.h), each an owned copy of
 * what the Kafka side decoded. Internal to the sink.
 */
#ifndef CDC_SINK_BATCH_H
#define CDC_SINK_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_pos.h"
#include "sink_apply.h"

typedef enum {
    CDC_SINK_ENTRY_ROW,
    CDC_SINK_ENTRY_MARKER,
    CDC_SINK_ENTRY_HEARTBEAT,
    CDC_SINK_ENTRY_DEAD_LETTER,
} cdc_sink_entry_kind_t;

typedef struct cdc_sink_entry_s {
    cdc_sink_entry_kind_t kind;
    int64_t offset;
    /* ROW */
    const cdc_sink_table_t *table;
    char op;
    cdc_pos_t pos;
    int has_pos;              /* DEAD_LETTER: pos known */
    const unsigned char *key; /* canonical key bytes (ROW; DEAD_LETTER when known) */
    size_t key_len;
    const cdc_decoded_value_t *key_vals; /* nkeys values */
    const cdc_decoded_value_t *after;    /* ncols values, NULL for 'd' */
    const unsigned char *row_hash;
    size_t row_hash_len;
    /* MARKER, HEARTBEAT, DEAD_LETTER */
    const char *source; /* NUL-terminated, NULL when unknown */
    const char *table_name;
    const char *reason;
    int64_t epoch;
    int64_t start_position;
    int64_t acked_position;
    int64_t backlog_entries;
    int64_t oldest_unacked_age_ms;
    int64_t producer_ts_ms;
    void *mem; /* one block holding every copied byte of the entry */
} cdc_sink_entry_t;

struct cdc_sink_batch_s {
    cdc_sink_entry_t *entries;
    size_t count;
    size_t cap;
    size_t bytes; /* the entries' copied bytes (cdc_sink_batch_bytes) */
};

#endif
