/*
 * sink_decode: one Kafka record of a domain topic -> what the apply step's batch takes
 * (sink_apply.h: cdc_sink_batch_add_row / _marker / _heartbeat / _dead_letter).
 *
 * Steps (DESIGN.md "Records", invariant 7):
 *   1. framing of the value (cdc_framing_detect): single-object -> its fingerprint;
 *      Confluent -> its schema id, whose schema comes from the schema registry
 *      (cdc_sink_schemas_lookup_id; registry unreachable -> RETRY; no registry configured or
 *      an unknown id -> dead letter); anything else is garbage -> dead letter. Each record
 *      is recognised by its own first bytes, so a topic may carry both framings;
 *   2. (single-object) the fingerprint's schema from the cache of <prefix>.schemas
 *      (sink_schemas.h), re-read once when unknown; still unknown -> dead letter;
 *   3. control schema -> heartbeat or snapshot end marker (cdc_avro_decode_control);
 *      envelope schema -> cdc_avro_decode_envelope with the schema's columns, and the key:
 *      its framing (either kind) stripped gives the CANONICAL KEY BYTES (invariant 4),
 *      decoded with the same columns (cdc_avro_decode_key) and checked against the
 *      envelope's source and table; any other schema, malformed bytes, a key that does
 *      not decode -> dead letter.
 *
 * Decoding allocates nothing per record: decoded strings and values point into the
 * message (borrowed) or into the decoder's reusable arrays, valid until the next call.
 */
#ifndef CDC_SINK_DECODE_H
#define CDC_SINK_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_avro_value.h"
#include "cdc_buf.h"
#include "cdc_pos.h"
#include "sink_schemas.h"

typedef enum {
    CDC_SINK_REC_ROW = 0,       /* a row change: fields under "row" */
    CDC_SINK_REC_HEARTBEAT = 1, /* control op 'h': fields under "ctl" */
    CDC_SINK_REC_MARKER = 2,    /* control op 'm': fields under "ctl" */
    CDC_SINK_REC_DEAD = 3,      /* cannot be decoded: fields under "dead" */
    CDC_SINK_REC_RETRY = 4,     /* the schemas topic could not be read: try again later */
} cdc_sink_rec_kind_t;

/* One decoded record; every pointer is borrowed (the message, the schema cache, or the
 * decoder), valid until the next cdc_sink_decode() call or until the message is freed. */
typedef struct cdc_sink_rec_s {
    cdc_sink_rec_kind_t kind;
    struct {
        const cdc_sink_schema_t *schema; /* the envelope's schema: source, table, columns */
        char op;                         /* 'c', 'u', 'r', 'd' */
        cdc_pos_t pos;
        const unsigned char *key; /* canonical key bytes */
        size_t key_len;
        const cdc_decoded_value_t *key_vals; /* schema->nkey values, key order */
        const cdc_decoded_value_t *after;    /* schema->ncols values; NULL for 'd' */
        const unsigned char *row_hash;       /* NULL when null */
        size_t row_hash_len;
    } row;
    cdc_avro_control_t ctl;
    struct {
        char reason[512];
        const char *source; /* NUL-terminated copies in the decoder, NULL when unknown */
        const char *table;
        const char *key_json;     /* NULL when unknown */
        const unsigned char *key; /* canonical key bytes when known, else NULL */
        size_t key_len;
        int has_pos;
        cdc_pos_t pos;
    } dead;
} cdc_sink_rec_t;

typedef struct cdc_sink_decoder_s cdc_sink_decoder_t;

/* A decoder reading schemas from s (borrowed; must outlive the decoder). Caller frees with
 * cdc_sink_decoder_destroy(). */
cdc_sink_decoder_t *cdc_sink_decoder_new(cdc_sink_schemas_t *s);

/* Frees the decoder; NULL is a no-op. */
void cdc_sink_decoder_destroy(cdc_sink_decoder_t *d);

/*
 * Decodes one record (key and value as on the wire; either may be NULL/0). Always fills
 * *out; its kind says which fields are meaningful. RETRY carries the reason in errstr.
 * schema_timeout_ms bounds a re-read of <prefix>.schemas for an unknown fingerprint.
 */
void cdc_sink_decode(cdc_sink_decoder_t *d, const void *key, size_t key_len, const void *value,
                     size_t value_len, int schema_timeout_ms, cdc_sink_rec_t *out, char *errstr,
                     size_t errstr_size);

/*
 * Appends the key values as a JSON object text {"<SQLite column>": value, ...} in key
 * order (numbers as numbers, booleans, text as strings, bytes as "x'<hex>'", timestamps and
 * dates as text) — how dead letters name a row.
 */
void cdc_sink_key_json(const cdc_sink_schema_t *schema, const cdc_decoded_value_t *key_vals,
                       cdc_buf_t *out);

#endif
