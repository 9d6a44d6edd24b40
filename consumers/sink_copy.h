/*
 * sink_copy: mapped values (cdc_convert.h, as cdc_avro_value decodes them) → the text
 * PostgreSQL's COPY ... FROM STDIN (text format) reads, and the checks that keep a bad
 * value from failing a whole COPY. Pure: no I/O.
 *
 * The text is what the column's input function accepts on a session pinned with
 * cdc_pgtext_pin_session (TimeZone UTC, so timestamps need no offset); COPY's own escapes
 * (backslash, newline, carriage return, tab) are applied on top, and NULL is \N.
 */
#ifndef CDC_SINK_COPY_H
#define CDC_SINK_COPY_H

#include <stddef.h>

#include "cdc_buf.h"
#include "cdc_convert.h"
#include "cdc_types.h"

/* Appends bytes with COPY text escapes. */
void cdc_sink_copy_put_escaped(cdc_buf_t *out, const void *p, size_t len);

/* Appends bytes as a bytea hex literal for COPY ("\\x0a1b": the backslash escaped). */
void cdc_sink_copy_put_bytea(cdc_buf_t *out, const void *p, size_t len);

/*
 * Appends the COPY text of value v of a column of type t (v->kind must be t->kind unless
 * v->is_null): \N, or the value's input text escaped. scratch is a work buffer. Returns 0,
 * or -1 with the reason in errstr (empty DECIMAL bytes).
 */
int cdc_sink_copy_put_value(cdc_buf_t *out, const cdc_col_type_t *t, const cdc_mapped_t *v,
                            cdc_buf_t *scratch, char *errstr, size_t errstr_size);

/*
 * Checks what PostgreSQL would refuse in a whole COPY rather than in one row: text,
 * JSON and NUMERIC values must be valid UTF-8 without NUL, and v->kind must match the
 * column. Returns 0, or -1 with "<reason>" in errstr.
 */
int cdc_sink_copy_check_value(const cdc_col_type_t *t, const cdc_mapped_t *v, char *errstr,
                              size_t errstr_size);

/*
 * Appends the JSON text of a value for dead-letter keys ({"id":"c-001"}): LONG and
 * DOUBLE as numbers, BOOLEAN as true/false, NULL as null, everything else as a string
 * (decimal text, "YYYY-MM-DD HH:MM:SS" UTC, "YYYY-MM-DD", text, JSON text, BLOB as
 * "x'hex'").
 */
void cdc_sink_copy_put_json_value(cdc_buf_t *out, const cdc_col_type_t *t, const cdc_mapped_t *v,
                                  cdc_buf_t *scratch);

/* Appends s (len bytes) as a JSON string with escapes. */
void cdc_sink_copy_put_json_string(cdc_buf_t *out, const void *s, size_t len);

#endif
