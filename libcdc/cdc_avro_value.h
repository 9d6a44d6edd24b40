/*
 * cdc_avro_value: Avro binary of the pipeline's records, both ways, exactly in the
 * layouts of cdc_avro_schema.h (row, key, envelope, control, control key).
 *
 * Encoders are pure: they append to a cdc_buf_t and do no I/O. Row values are converted
 * with cdc_convert.h; a value that does not fit its column stops the encoding with
 * CDC_AVRO_MISFIT, the column index in *bad_col and the reason in errstr, and the output
 * buffer is put back to its length at entry, so the caller can turn it into a dead letter.
 *
 * Decoders read from a borrowed buffer into caller-provided structures: strings and
 * bytes point into the input (not NUL-terminated), so decoding a row allocates nothing.
 * They check what the binary itself can prove wrong (truncation, varints longer than
 * 10 bytes, union indexes, booleans other than 0/1, ints out of range, bad op codes,
 * trailing bytes) and answer CDC_AVRO_MALFORMED with the field in errstr; they do not
 * re-validate UTF-8 (the encoder did; PostgreSQL checks again on insert).
 */
#ifndef CDC_AVRO_VALUE_H
#define CDC_AVRO_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_buf.h"
#include "cdc_convert.h"
#include "cdc_types.h"

typedef enum {
    CDC_AVRO_OK = 0,
    CDC_AVRO_MISFIT = 1,    /* encoder: a value does not fit its column (dead letter) */
    CDC_AVRO_MALFORMED = 2, /* decoder: the bytes are not a record of the schema */
    CDC_AVRO_INVALID = 3,   /* caller error: inconsistent arguments (e.g. after on a "d") */
} cdc_avro_status_t;

/* Stable name of a status ("ok", "misfit", "malformed", "invalid"). */
const char *cdc_avro_status_name(cdc_avro_status_t st);

/* A length-delimited string, borrowed (not NUL-terminated when decoded). */
typedef struct cdc_avro_str_s {
    const char *p;
    size_t len;
} cdc_avro_str_t;

/* Wraps a NUL-terminated string (NULL gives the empty string). */
cdc_avro_str_t cdc_avro_str(const char *s);

/* A decoded value: the same representation the encoder writes (cdc_convert.h). */
typedef cdc_mapped_t cdc_decoded_value_t;

/* Envelope fields besides "after" (layout in cdc_avro_schema.h). */
typedef struct cdc_avro_envelope_s {
    char op; /* 'c', 'u', 'd' or 'r' */
    cdc_avro_str_t source_name;
    cdc_avro_str_t table;
    int64_t epoch;
    int64_t position;
    int snapshot;
    int has_stmt_time; /* 0: stmt_time_us is null */
    int64_t stmt_time_us;
    const unsigned char *row_hash; /* NULL: null (always for "d") */
    size_t row_hash_len;
    int64_t ts_ms;
} cdc_avro_envelope_t;

/* Control record (heartbeat 'h' or snapshot end marker 'm'). */
typedef struct cdc_avro_control_s {
    char op; /* 'h' or 'm' */
    cdc_avro_str_t source;
    int32_t partition;
    int64_t epoch;
    int64_t ts_ms;
    /* op 'h' */
    int64_t acked_position;
    int64_t backlog_entries;
    int64_t oldest_unacked_age_ms;
    /* op 'm' */
    cdc_avro_str_t table;
    int64_t start_position;
    int64_t rows;
} cdc_avro_control_t;

/* ---- encoders (append to out; scratch is a reusable work buffer) ---- */

/* Appends one mapped value of column col, preceded by its union branch when the column
 * is nullable (neither NOT NULL nor a key column, cdc_avro_schema.h). Returns OK, or
 * INVALID for a null in a column that is not nullable. */
cdc_avro_status_t cdc_avro_put_value(cdc_buf_t *out, const cdc_column_t *col,
                                     const cdc_mapped_t *v);

/* Whether a column's Avro type is a union with null. */
int cdc_avro_column_nullable(const cdc_column_t *col);

/* The row record: vals[i] is the SQLite value of cols[i]. */
cdc_avro_status_t cdc_avro_encode_row(cdc_buf_t *out, const cdc_column_t *cols, size_t ncols,
                                      const cdc_value_t *vals, cdc_buf_t *scratch, size_t *bad_col,
                                      char *errstr, size_t errstr_size);

/* The key record: key_vals[k] is the value of the column with pk_index k + 1 (as the
 * change log stores them); *bad_col is an index into cols. INVALID when the key positions
 * are not exactly 1..n. */
cdc_avro_status_t cdc_avro_encode_key(cdc_buf_t *out, const char *source, const char *table,
                                      const cdc_column_t *cols, size_t ncols,
                                      const cdc_value_t *key_vals, cdc_buf_t *scratch,
                                      size_t *bad_col, char *errstr, size_t errstr_size);

/* The key record from a full row (vals[i] of cols[i]): picks the key columns. */
cdc_avro_status_t cdc_avro_encode_key_from_row(cdc_buf_t *out, const char *source,
                                               const char *table, const cdc_column_t *cols,
                                               size_t ncols, const cdc_value_t *vals,
                                               cdc_buf_t *scratch, size_t *bad_col, char *errstr,
                                               size_t errstr_size);

/* The envelope: after is the row (vals of cols) and must be NULL exactly when op is 'd';
 * INVALID otherwise, or for an unknown op. */
cdc_avro_status_t cdc_avro_encode_envelope(cdc_buf_t *out, const cdc_avro_envelope_t *env,
                                           const cdc_column_t *cols, size_t ncols,
                                           const cdc_value_t *after, cdc_buf_t *scratch,
                                           size_t *bad_col, char *errstr, size_t errstr_size);

/* The control record; INVALID for an op other than 'h'/'m'. */
cdc_avro_status_t cdc_avro_encode_control(cdc_buf_t *out, const cdc_avro_control_t *ctl,
                                          char *errstr, size_t errstr_size);

/* The control key {source, partition}. */
void cdc_avro_encode_control_key(cdc_buf_t *out, const char *source, int32_t partition);

/* ---- decoders (borrow from p; fill caller memory; consume exactly len bytes) ---- */

/* A row record into vals[0..ncols). */
cdc_avro_status_t cdc_avro_decode_row(const unsigned char *p, size_t len, const cdc_column_t *cols,
                                      size_t ncols, cdc_decoded_value_t *vals, char *errstr,
                                      size_t errstr_size);

/* A key record: source, table, and key_vals[k] for the column with pk_index k + 1
 * (key_vals has room for as many entries as there are key columns). */
cdc_avro_status_t cdc_avro_decode_key(const unsigned char *p, size_t len, const cdc_column_t *cols,
                                      size_t ncols, cdc_avro_str_t *source, cdc_avro_str_t *table,
                                      cdc_decoded_value_t *key_vals, char *errstr,
                                      size_t errstr_size);

/* An envelope: *env, and after[0..ncols) unless op is 'd' (*has_after says which). */
cdc_avro_status_t cdc_avro_decode_envelope(const unsigned char *p, size_t len,
                                           const cdc_column_t *cols, size_t ncols,
                                           cdc_avro_envelope_t *env, int *has_after,
                                           cdc_decoded_value_t *after, char *errstr,
                                           size_t errstr_size);

/* A control record (unset op-specific fields are zero/empty). */
cdc_avro_status_t cdc_avro_decode_control(const unsigned char *p, size_t len,
                                          cdc_avro_control_t *ctl, char *errstr,
                                          size_t errstr_size);

/* A control key. */
cdc_avro_status_t cdc_avro_decode_control_key(const unsigned char *p, size_t len,
                                              cdc_avro_str_t *source, int32_t *partition,
                                              char *errstr, size_t errstr_size);

#endif
