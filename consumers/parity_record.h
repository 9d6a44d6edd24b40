/*
 * parity_record: the record on <prefix>.validation (docs/parity.md), both ways.
 *
 * One record summarizes the parity results of ONE sink batch transaction for ONE
 * (domain, source, table): counts per status, the newest position seen, and entries only
 * for the results a person has to look at (mismatch, dead_letter) with their keys.
 * Matches and superseded versions are only counted: a replay of a million rows must not
 * put a million keys on the validation topic (sizing, docs/parity.md).
 *
 * Wire: Avro single-object encoding (C3 01, CRC-64-AVRO fingerprint little-endian, Avro
 * binary) of the fixed schema cdc.Parity (cdc_parity_schema_json()), whose exact text the
 * publisher puts on <prefix>.schemas like the producer does with its schemas, so any Avro
 * reader can decode the topic. Kafka key: "<domain>/<source>/<table>" (text); partition:
 * murmur2 of that key, so every record of a table goes to one validator of the group.
 *
 * Encoding is pure (appends to a cdc_buf_t); decoding borrows strings and bytes from the
 * input and allocates only the entry array.
 */
#ifndef CDC_PARITY_RECORD_H
#define CDC_PARITY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_avro_value.h"
#include "cdc_buf.h"

/* One result that is not simply counted (status "mismatch" or "dead_letter"). */
typedef struct cdc_parity_entry_s {
    cdc_avro_str_t status;    /* "mismatch" | "dead_letter" */
    char op;                  /* 'c', 'u', 'r', 'd' (0: unknown) */
    const unsigned char *key; /* canonical key bytes (Avro binary of the key record) */
    size_t key_len;
    cdc_avro_str_t key_json; /* {"col":value,...}; p NULL: unknown */
    int has_pos;
    int64_t epoch, pos;
    const unsigned char *source_hash; /* NULL: null */
    size_t source_hash_len;
    const unsigned char *stored_hash; /* NULL: null */
    size_t stored_hash_len;
} cdc_parity_entry_t;

typedef struct cdc_parity_rec_s {
    cdc_avro_str_t domain, source, table;
    int64_t batch_id; /* smallest _cdc_parity_outbox id of the record: its identity */
    int64_t rows;     /* results summarized (= matches + superseded + mismatches + dl) */
    int64_t matches, superseded, mismatches, dead_letters;
    int has_last; /* 0: no result carried a position */
    int64_t last_epoch, last_pos;
    int64_t ts_ms; /* publisher wall clock */
    cdc_parity_entry_t *entries;
    size_t nentries;
} cdc_parity_rec_t;

/* The exact JSON text of the cdc.Parity schema (static storage). */
const char *cdc_parity_schema_json(void);

/* CRC-64-AVRO fingerprint of cdc_parity_schema_json() (computed once). */
uint64_t cdc_parity_fingerprint(void);

/* Appends rec as a single-object framed cdc.Parity record to out. rec is only read. */
void cdc_parity_encode(cdc_buf_t *out, const cdc_parity_rec_t *rec);

/* Appends the Kafka key "<domain>/<source>/<table>" of rec to out. */
void cdc_parity_key(cdc_buf_t *out, const cdc_parity_rec_t *rec);

/*
 * Decodes a framed cdc.Parity record of len bytes into *rec: strings and bytes point into
 * p (which must outlive rec); rec->entries is allocated (free with cdc_parity_rec_clear()).
 * Returns 0, or -1 with the reason in errstr (another framing, another fingerprint,
 * truncated or trailing bytes, a count that does not add up); *rec is then empty.
 */
int cdc_parity_decode(const void *p, size_t len, cdc_parity_rec_t *rec, char *errstr,
                      size_t errstr_size);

/* Frees what cdc_parity_decode() allocated and empties rec; safe on a zeroed rec. */
void cdc_parity_rec_clear(cdc_parity_rec_t *rec);

#endif
