/*
 * cdc_canon: the canonical form of a row, the bytes both parity hashes are computed over
 * (DESIGN.md invariant 8; docs/parity-hash.md). The producer builds it from the mapped
 * values of the source row (cdc_convert.h); the sink builds it from the text PostgreSQL
 * returns for the stored row (cdc_pgtext.h). The same logical value gives the same bytes
 * on both sides; values a person would call different give different bytes (NULL, ''
 * and 'NULL'; the LONG 0 and the TEXT '0'; 'a' and 'a ').
 *
 * Layout, version 1 (all integers big-endian):
 *
 *   u8      0x01                   format version
 *   u32     n                      number of columns
 *   n times, in the schema's column order (the row record's field order):
 *     u8    tag                    0x00 for NULL, otherwise the column kind's tag
 *     u32   L                      (not for NULL) length of the value bytes
 *     L     value bytes            (not for NULL)
 *
 *   tag   kind        value bytes
 *   0x00  NULL        none (no length either)
 *   0x01  LONG        8: int64, two's complement
 *   0x02  DOUBLE      8: IEEE-754 binary64 bit pattern; every NaN as 7ff8000000000000;
 *                     -0.0 stays 8000000000000000 (PostgreSQL keeps it distinct too)
 *   0x03  DECIMAL     ASCII: [-]digits.digits with exactly s decimals, as numeric(p,s)
 *                     prints it ("1.50", "0.00", "-3.00"; no point when s = 0)
 *   0x04  NUMERIC     ASCII: PostgreSQL's numeric output form (cdc_json_canon_numeric):
 *                     "1.50" stays "1.50", "1e2" is "100", "-0" is "0"
 *   0x05  BOOLEAN     1: 0x00 false, 0x01 true
 *   0x06  TIMESTAMP   8: int64 microseconds since 1970-01-01 00:00 UTC
 *                     (PostgreSQL's infinity / -infinity: INT64_MAX / INT64_MIN)
 *   0x07  DATE        8: int64 days since 1970-01-01 (infinity: INT64_MAX / INT64_MIN)
 *   0x08  TEXT        the UTF-8 bytes, unchanged (trailing blanks and case matter)
 *   0x09  JSON        canonical JSON (cdc_json_canon.h)
 *   0x0a  BLOB        the bytes, unchanged
 *
 * Column names are not part of the form: both sides hash the columns of one schema in
 * its field order. The tags are fixed numbers, not the cdc_col_kind_t values, so that
 * reordering that enum cannot change a hash.
 */
#ifndef CDC_CANON_H
#define CDC_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_buf.h"
#include "cdc_convert.h"
#include "cdc_types.h"

#define CDC_CANON_VERSION 0x01

#define CDC_CANON_TAG_NULL      0x00
#define CDC_CANON_TAG_LONG      0x01
#define CDC_CANON_TAG_DOUBLE    0x02
#define CDC_CANON_TAG_DECIMAL   0x03
#define CDC_CANON_TAG_NUMERIC   0x04
#define CDC_CANON_TAG_BOOLEAN   0x05
#define CDC_CANON_TAG_TIMESTAMP 0x06
#define CDC_CANON_TAG_DATE      0x07
#define CDC_CANON_TAG_TEXT      0x08
#define CDC_CANON_TAG_JSON      0x09
#define CDC_CANON_TAG_BLOB      0x0a

/* Resets out and writes the header of a row of ncols columns; then call cdc_canon_add()
 * once per column, in column order. */
void cdc_canon_begin(cdc_buf_t *out, size_t ncols);

/*
 * Appends one column: its tag, length and canonical bytes. type is the column's type
 * (kind; scale for DECIMAL); v->kind must equal type->kind unless v->is_null. Returns 0,
 * or -1 with the reason in errstr (kind mismatch, empty DECIMAL bytes, NUMERIC text that
 * is not a number, JSON that jsonb would refuse, a value of 4 GiB or more); on failure
 * out is left as it was. v is only read.
 */
int cdc_canon_add(cdc_buf_t *out, const cdc_col_type_t *type, const cdc_mapped_t *v, char *errstr,
                  size_t errstr_size);

/*
 * The canonical row of ncols mapped values, vals[i] being column cols[i], into out
 * (reset first). Returns 0, or -1 with "column NAME: reason" in errstr.
 */
int cdc_canon_row(const cdc_column_t *cols, const cdc_mapped_t *vals, size_t ncols, cdc_buf_t *out,
                  char *errstr, size_t errstr_size);

/*
 * Appends a readable rendering of a canonical row to out, for parity reports and test
 * failures: "[LONG 42, TEXT \"a \", NULL, BLOB x'00ff', ...]" (text and JSON quoted
 * with C escapes; at most max_value bytes of each value shown, then "..."). Malformed
 * input is rendered up to the damage followed by "<malformed at byte N>".
 */
void cdc_canon_describe(const unsigned char *canon, size_t len, size_t max_value, cdc_buf_t *out);

#endif
