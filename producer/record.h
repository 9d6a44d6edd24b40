/*
 * record: the pure step between a SQLite row and the bytes the publisher sends
 * (DESIGN.md "Records", invariants 3, 4 and 7). No Kafka and no I/O besides reading the
 * caller's sqlite3_stmt columns.
 *
 * A table codec is built once per (source, table) from the table's columns: it maps
 * every column (declared type, or the source's override "table.column" from the config),
 * mangles the Avro names, keeps the exact JSON text of the row, key and envelope schemas
 * and their CRC-64-AVRO fingerprints, and refuses tables whose column names collide once
 * mangled. Encoding a row image or a delete then fills a cdc_record_t:
 *
 *   key           CANONICAL KEY BYTES: Avro binary of the key record, unframed. The
 *                 partition is cdc_murmur2_partition(key, key_len, partitions) (invariant
 *                 4); a delete built from the change log's key values yields the same bytes
 *                 as a row image of that key.
 *   framed_key    the Kafka record key: the key binary behind its wire header.
 *   framed_value  the Kafka record value: the envelope binary behind its wire header.
 *
 * Wire header: Avro single-object encoding (C3 01 + 8-byte little-endian fingerprint of
 * the key / envelope schema) unless cdc_table_codec_set_schema_ids() gave registry ids,
 * then the Confluent format (00 + 4-byte big-endian id). The canonical key bytes do not
 * depend on it.
 *
 * A value that does not fit its column is never altered: encoding answers
 * CDC_RECORD_MISFIT with the column, the reason and the key as JSON text, which is what
 * a dead letter (cdc_dlq.h) needs.
 *
 * Output memory belongs to the codec and is reused from row to row (no allocation per
 * row once the buffers reached their working size): what a call returns stays valid
 * until the next encoding call on the same codec. A codec is not thread-safe.
 *
 * Tables keyed by their rowid: pass one extra column for the rowid (name "rowid",
 * decl_type "INTEGER", not_null 1, pk_index 1) and read the rowid into its value.
 */
#ifndef CDC_RECORD_H
#define CDC_RECORD_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc_buf.h"
#include "cdc_config.h"
#include "cdc_pos.h"
#include "cdc_types.h"

typedef enum {
    CDC_RECORD_OK = 0,
    CDC_RECORD_MISFIT = 1,  /* a value does not fit its column: a dead letter, see misfit */
    CDC_RECORD_INVALID = 2, /* caller error (bad op, row hash on a delete, ...): errstr */
} cdc_record_status_t;

/* Stable name of a status ("ok", "misfit", "invalid"). */
const char *cdc_record_status_name(cdc_record_status_t st);

typedef struct cdc_table_codec_s cdc_table_codec_t;

/* What an encoding produced; every pointer is owned by the codec and valid until its next
 * encoding call. */
typedef struct cdc_record_s {
    const unsigned char *key; /* canonical key bytes (unframed) */
    size_t key_len;
    const unsigned char *framed_key;
    size_t framed_key_len;
    const unsigned char *framed_value;
    size_t framed_value_len;
} cdc_record_t;

/* Why a record could not be built (CDC_RECORD_MISFIT). Pointers are owned by the codec and
 * valid until its next encoding call. */
typedef struct cdc_record_misfit_s {
    const char *column;   /* SQLite name of the column whose value does not fit */
    int key_column;       /* 1 when that column is part of the key */
    char reason[512];     /* from cdc_convert: "column NAME: <storage> <value> in a ..." */
    const char *key_json; /* the key as a JSON object text (cdc_table_codec_key_json) */
    /* The canonical key bytes when the key itself fits (the dead letter's Kafka key, so it
     * lands on its row's partition); NULL when a key value is the misfit. */
    const unsigned char *key;
    size_t key_len;
} cdc_record_misfit_t;

/* Everything of an envelope besides op and the row image; the envelope's snapshot flag is
 * op == 'r', so it is not given separately. */
typedef struct cdc_record_meta_s {
    cdc_pos_t pos;        /* (epoch, H) of the read that produced the image (invariant 3) */
    int64_t stmt_time_us; /* statement time of the logged change (unix µs, UTC); -1: null */
    const unsigned char *row_hash; /* the row-hash module's hash; NULL: null (always for "d") */
    size_t row_hash_len;
    int64_t ts_ms; /* producer wall clock when the record was built */
} cdc_record_meta_t;

/*
 * Builds the codec of table `table` of source `source` (original names). cols[0..n) carry
 * name, decl_type, not_null and pk_index (key positions exactly 1..k); their type and
 * avro_name are ignored and recomputed: the type from overrides ("table.column" ->
 * type text, the source's `columns:` map; NULL for none; names matched ignoring ASCII
 * case, as SQLite does) or else from the declared type, the Avro name by cdc_names.
 * Returns NULL with the reason in errstr for: an invalid override (naming the setting),
 * an override naming a column the table does not have, two columns whose Avro names
 * collide (both names given), no usable key. The codec copies what it keeps (cols and
 * the strings are only borrowed for the call); caller frees it with
 * cdc_table_codec_destroy().
 */
cdc_table_codec_t *cdc_table_codec_new(const char *source, const char *table,
                                       const cdc_column_t *cols, size_t n,
                                       const cdc_kvlist_t *overrides, char *errstr,
                                       size_t errstr_size);

/* Frees the codec and everything it returned; NULL is a no-op. */
void cdc_table_codec_destroy(cdc_table_codec_t *codec);

/*
 * Renames the row record inside the envelope to T + suffix ([A-Za-z0-9_]; the envelope's
 * and the key's names stay, so do subjects and key bytes) and recomputes the row and
 * envelope texts and fingerprints: how a text that shares its fingerprint with another
 * gets its own (schema_files.h, cdc_schema_codec_new_unique). Texts and fingerprints
 * returned before are invalid afterwards. Returns 0, or -1 with the reason in errstr
 * (the codec unchanged).
 */
int cdc_table_codec_rename_row(cdc_table_codec_t *codec, const char *suffix, char *errstr,
                               size_t errstr_size);

/* Switches the wire header to the Confluent format with these registry ids (of the key
 * schema and of the envelope schema). The canonical key bytes do not change. */
void cdc_table_codec_set_schema_ids(cdc_table_codec_t *codec, uint32_t key_schema_id,
                                    uint32_t value_schema_id);

/* ---- accessors: borrowed, valid for the life of the codec ---- */

const char *cdc_table_codec_source(const cdc_table_codec_t *codec);
const char *cdc_table_codec_table(const cdc_table_codec_t *codec);

/* The mapped columns (type and avro_name filled), in table order. */
const cdc_column_t *cdc_table_codec_columns(const cdc_table_codec_t *codec, size_t *n);

/* Number of key columns, and the column index of key position k (0-based). */
size_t cdc_table_codec_key_count(const cdc_table_codec_t *codec);
size_t cdc_table_codec_key_column(const cdc_table_codec_t *codec, size_t k);

/* Exact schema JSON texts (what is published to <prefix>.schemas and fingerprinted). */
const char *cdc_table_codec_row_schema(const cdc_table_codec_t *codec);
const char *cdc_table_codec_key_schema(const cdc_table_codec_t *codec);
const char *cdc_table_codec_envelope_schema(const cdc_table_codec_t *codec);

/* CRC-64-AVRO fingerprints of the Parsing Canonical Form of those texts. */
uint64_t cdc_table_codec_row_fingerprint(const cdc_table_codec_t *codec);
uint64_t cdc_table_codec_key_fingerprint(const cdc_table_codec_t *codec);
uint64_t cdc_table_codec_envelope_fingerprint(const cdc_table_codec_t *codec);

/* ---- encoding ---- */

/*
 * Encodes a row image: op is 'c' (insert), 'u' (update) or 'r' (snapshot read); vals[i] is
 * the value of column i (cdc_record_values_from_stmt). On CDC_RECORD_OK fills *out. On
 * CDC_RECORD_MISFIT fills *misfit (may be NULL), leaves *out empty and also writes the
 * reason, prefixed with "source.table: ", to errstr. On CDC_RECORD_INVALID writes the
 * reason to errstr. Outputs are valid until the next
 * encoding call on this codec.
 */
cdc_record_status_t cdc_table_codec_encode(cdc_table_codec_t *codec, char op,
                                           const cdc_value_t *vals, const cdc_record_meta_t *meta,
                                           cdc_record_t *out, cdc_record_misfit_t *misfit,
                                           char *errstr, size_t errstr_size);

/*
 * Encodes a delete (op "d", after null) from the key values alone, key_vals[k] being key
 * position k + 1 with its stored type, as the change log keeps it. meta->row_hash must be
 * NULL (INVALID otherwise).
 * Same outputs and lifetimes as cdc_table_codec_encode(); a delete's canonical key bytes
 * equal those of a row image of the same key.
 */
cdc_record_status_t cdc_table_codec_encode_delete(cdc_table_codec_t *codec,
                                                  const cdc_value_t *key_vals,
                                                  const cdc_record_meta_t *meta, cdc_record_t *out,
                                                  cdc_record_misfit_t *misfit, char *errstr,
                                                  size_t errstr_size);

/*
 * Appends the key as a JSON object text, {"<SQLite column name>": value, ...} in key order,
 * rendering the values as SQLite stores them, so an operator can find the row: INTEGER and
 * finite REAL as numbers, NULL as null, TEXT as a string (bytes that are not UTF-8 are
 * written as the text \xNN), BLOB as the string "x'<hex>'", non-finite REAL as a string.
 * Never fails, whatever the values (it is how misfitting keys are named).
 * From a full row (vals[i] of column i):
 */
void cdc_table_codec_row_key_json(const cdc_table_codec_t *codec, const cdc_value_t *vals,
                                  cdc_buf_t *out);
/* From the key values (key_vals[k] of key position k + 1): */
void cdc_table_codec_key_json(const cdc_table_codec_t *codec, const cdc_value_t *key_vals,
                              cdc_buf_t *out);

/* ---- SQLite helpers ---- */

/*
 * Reads columns first_col .. first_col + n - 1 of the current row of stmt into out[0..n):
 * borrowed views (text and blob bytes point into the statement's row, valid until it is
 * stepped, reset or finalized). Serves row images and the change log's key columns alike.
 */
void cdc_record_values_from_stmt(sqlite3_stmt *stmt, int first_col, size_t n, cdc_value_t *out);

/* Binds vals[0..n) to parameters first_param .. first_param + n - 1 with their own storage
 * classes (text 1 stays text, integer 1 stays integer: two keys to SQLite), e.g. to look
 * up the current row of a logged key. SQLite copies the bytes. Returns SQLITE_OK or the
 * first bind error. */
int cdc_record_bind_values(sqlite3_stmt *stmt, int first_param, const cdc_value_t *vals, size_t n);

#endif
