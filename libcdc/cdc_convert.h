/*
 * cdc_convert: a SQLite value (its storage class) → the representation of its column's
 * mapping (cdc_types.h), or a misfit naming the column and the reason. Pure: no I/O,
 * no allocation beyond the caller's reusable scratch buffer. The rules, in short (the
 * full table is in docs/type-mapping.md):
 *
 *   LONG      INTEGER; a REAL only when exactly integral and within int64 (an override
 *             onto a REAL-affinity column); TEXT and BLOB are misfits (SQLite already
 *             converted integer-looking text on insert, so remaining text is not a number).
 *   DOUBLE    REAL; INTEGER when exactly representable as a double (|i| <= 2^53 or
 *             round-trips), otherwise a misfit: never rounded.
 *   DECIMAL   INTEGER, REAL (through its shortest round-trip decimal text), TEXT that is a
 *             decimal number ([+-]digits[.digits][e[+-]digits], no spaces). The value
 *             must have at most s decimals (trailing zeros do not count) and its unscaled
 *             integer at most p digits: never rounded. Carried as the Avro decimal bytes
 *             (unscaled, big-endian two's complement, minimal length).
 *   NUMERIC   the same inputs, carried as decimal text in PostgreSQL's numeric output form
 *             (no exponent, no leading zeros, no '+', "-0" → "0", trailing zeros kept as
 *             written: '1.50' stays "1.50", 1e3 → "1000"), so the text is what the target
 *             stores. Infinity/NaN are misfits.
 *   BOOLEAN   INTEGER 0 or 1 only (text 'true', 2, 1.5 are misfits: strict by design).
 *   TIMESTAMP TEXT 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS[.f]]' with ' ' or 'T', optional
 *             'Z' or ±HH:MM / ±HHMM after a time (no offset = UTC); up to 6 fraction digits
 *             (more only if the extra digits are 0); INTEGER = unix seconds; REAL = julian
 *             day number, rounded to the millisecond exactly as SQLite's date functions do.
 *             Years 0000-9999 (julian day 0 onwards). → microseconds since 1970-01-01 UTC.
 *   DATE      anything TIMESTAMP accepts whose instant is exactly midnight UTC → days
 *             since 1970-01-01.
 *   TEXT      TEXT that is valid UTF-8 (strict: no overlongs, surrogates, > U+10FFFF) and
 *             has no NUL (PostgreSQL text cannot hold U+0000); VARCHAR(n)/CHAR(n): at most n
 *             code points. INTEGER → its decimal text, REAL → shortest round-trip text
 *             ("1.0" for integral values, like SQLite's CAST), except in a key column,
 *             where 1 and '1' are different SQLite keys that would collide as text (a
 *             misfit: override the column type); a BLOB is a misfit.
 *   JSON      TEXT that is valid UTF-8 and one valid RFC 8259 value (any top-level
 *             value), carried unchanged; \u0000 and unpaired surrogate escapes are misfits
 *             (PostgreSQL jsonb refuses them). INTEGER/REAL (SQLite's NUMERIC affinity
 *             turns '12' into 12 in a JSON column) → their number text; a BLOB is a misfit.
 *   BLOB      BLOB bytes; TEXT → its bytes unchanged (SQLite's CAST(x AS BLOB));
 *             INTEGER/REAL are misfits.
 *   NULL      null when the column is nullable; a misfit in a NOT NULL or key column.
 */
#ifndef CDC_CONVERT_H
#define CDC_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_buf.h"
#include "cdc_types.h"

typedef enum {
    CDC_CONVERT_OK = 0,
    CDC_CONVERT_MISFIT = 1, /* the value does not fit the column: reason in errstr */
} cdc_convert_status_t;

/*
 * A value in its mapped representation: what the Avro encoder writes and the decoder
 * returns. Which member is meaningful depends on kind:
 *   l  LONG; BOOLEAN (0/1); TIMESTAMP (µs since epoch, UTC); DATE (days since epoch)
 *   d  DOUBLE
 *   p/len  TEXT, JSON, NUMERIC (UTF-8 text, not NUL-terminated); BLOB (bytes);
 *          DECIMAL (unscaled integer, big-endian two's complement)
 * p is borrowed: it points into the source value, a scratch buffer or a decoded record.
 */
typedef struct cdc_mapped_s {
    cdc_col_kind_t kind;
    int is_null;
    int64_t l;
    double d;
    const unsigned char *p;
    size_t len;
} cdc_mapped_t;

/* Buffer size for cdc_convert_real_text (sign, 17 digits, point, exponent, ".0", NUL). */
#define CDC_REAL_TEXT_MAX 32

/*
 * Converts one value of column col. On CDC_CONVERT_OK fills *out; out->p may point into
 * v's bytes or into scratch (which this call resets and may grow), so it is valid while
 * both are unchanged. On CDC_CONVERT_MISFIT writes "column NAME: <storage> <value> in a
 * <TYPE> column: <why>" to errstr.
 */
cdc_convert_status_t cdc_convert_value(const cdc_column_t *col, const cdc_value_t *v,
                                       cdc_mapped_t *out, cdc_buf_t *scratch, char *errstr,
                                       size_t errstr_size);

/* Writes the shortest "%.Ng" text of r that strtod reads back as exactly r (N = 1..17)
 * into out (CDC_REAL_TEXT_MAX bytes); "inf", "-inf", "nan" for non-finite values. */
void cdc_convert_real_text(double r, char *out);

/*
 * Checks strict UTF-8 (RFC 3629). Returns 0 and the number of code points in *ncp
 * (may be NULL), or -1 with the byte offset of the first bad sequence in *bad_off.
 */
int cdc_convert_utf8_check(const unsigned char *p, size_t len, size_t *ncp, size_t *bad_off);

/* Checks that p is exactly one RFC 8259 JSON value (surrounding whitespace allowed) that
 * PostgreSQL's jsonb accepts: \u0000 and unpaired surrogate escapes are refused, and so
 * are numbers outside numeric's range (more than 131072 digits before the point or 16383
 * after it, see cdc_json_canon_numeric), which jsonb refuses with "value overflows
 * numeric format". The input must already be valid UTF-8. Returns 0, or -1 with the
 * reason (and byte offset) in errstr. No allocation. */
int cdc_convert_json_check(const unsigned char *p, size_t len, char *errstr, size_t errstr_size);

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil), and
 * back. Exact for every int32 year. */
int64_t cdc_convert_days_from_civil(int64_t y, int m, int d);
void cdc_convert_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Parses timestamp text in the formats above into µs since the epoch; returns 0, or -1
 * with the reason in errstr. */
int cdc_convert_parse_timestamp(const unsigned char *s, size_t len, int64_t *micros, char *errstr,
                                size_t errstr_size);

/* Appends "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC, fraction only when non-zero, trailing
 * zeros trimmed) and, for years before 1, PostgreSQL's " BC" notation. */
void cdc_convert_format_timestamp(int64_t micros, cdc_buf_t *out);

/* Appends "YYYY-MM-DD" (" BC" for years before 1, as PostgreSQL writes them). */
void cdc_convert_format_date(int64_t days, cdc_buf_t *out);

/* Appends the decimal text of an Avro decimal (unscaled big-endian two's complement
 * bytes, scale s) with exactly s fraction digits, as PostgreSQL prints numeric(p,s).
 * Returns 0, or -1 when len is 0. */
int cdc_convert_decimal_text(const unsigned char *bytes, size_t len, int scale, cdc_buf_t *out);

/* Describes a column type for messages: "LONG", "DECIMAL(14,2)", "VARCHAR(20)", ... */
void cdc_convert_type_name(const cdc_col_type_t *t, char *out, size_t out_size);

#endif
