/*
 * cdc_pgtext: the text PostgreSQL returns for a stored value → the mapped representation
 * of its column's kind (cdc_convert.h), so that the stored row can be hashed by the same
 * canonical form as the source row (cdc_canon.h, DESIGN.md invariant 8).
 *
 * The text forms depend on session settings; the session that reads the row back must
 * have run CDC_PGTEXT_SESSION_SQL (cdc_pgtext_pin_session() does). Accepted text, per
 * kind of the column (the PostgreSQL type the sink creates, docs/type-mapping.md):
 *
 *   LONG      bigint            [-]digits
 *   DOUBLE    double precision  shortest-exact text (PostgreSQL >= 12 with
 *                               extra_float_digits > 0), which strtod reads back as the
 *                               identical double; "Infinity", "-Infinity", "NaN"
 *   DECIMAL   numeric(p,s)      [-]digits[.digits], at most s decimals (PostgreSQL
 *                               prints exactly s) → unscaled big-endian two's complement;
 *                               NaN/Infinity cannot be an Avro decimal: an error
 *   NUMERIC   numeric           the text unchanged (cdc_canon normalizes it)
 *   BOOLEAN   boolean           "t" or "f"
 *   TIMESTAMP timestamptz       YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]][ BC] (years of 4
 *                               or more digits) → µs since the epoch; "infinity" /
 *                               "-infinity" → INT64_MAX / INT64_MIN
 *   DATE      date              YYYY-MM-DD[ BC] → days since the epoch; infinities as above
 *   TEXT      text, varchar(n)  the bytes unchanged
 *   JSON      jsonb             the text unchanged (cdc_canon canonicalizes it)
 *   BLOB      bytea             \x followed by hex digit pairs → the bytes
 */
#ifndef CDC_PGTEXT_H
#define CDC_PGTEXT_H

#include <stddef.h>

#include <libpq-fe.h>

#include "cdc_buf.h"
#include "cdc_convert.h"
#include "cdc_types.h"

/* The settings the accepted text forms rely on (client_encoding too: text and JSON are
 * compared as UTF-8 bytes). */
#define CDC_PGTEXT_SESSION_SQL                                                                     \
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3; "                    \
    "SET bytea_output = 'hex'; SET client_encoding = 'UTF8'"

/* Runs CDC_PGTEXT_SESSION_SQL on conn. Returns 0, or -1 with PostgreSQL's message in
 * errstr. Does not take ownership of conn. */
int cdc_pgtext_pin_session(PGconn *conn, char *errstr, size_t errstr_size);

/*
 * Converts the text of one value of a column of type t (text NULL: SQL NULL; len bytes,
 * no terminator needed) into *out. out->p points into text or into scratch (reset by
 * this call), so it is valid while both are unchanged. Returns 0, or -1 with the reason
 * in errstr.
 */
int cdc_pgtext_value(const cdc_col_type_t *t, const char *text, size_t len, cdc_mapped_t *out,
                     cdc_buf_t *scratch, char *errstr, size_t errstr_size);

/*
 * The canonical row (cdc_canon.h) of a stored row given as the text of each column:
 * texts[i] (NULL: SQL NULL) with lens[i] bytes (lens NULL: the texts are NUL-terminated)
 * is column cols[i]. out is reset first. Returns 0, or -1 with "column NAME: reason".
 */
int cdc_pgtext_canon_row(const cdc_column_t *cols, size_t ncols, const char *const *texts,
                         const size_t *lens, cdc_buf_t *out, char *errstr, size_t errstr_size);

/*
 * The same for row `row` of a text-format result whose columns first_field ..
 * first_field + ncols - 1 are cols[0..ncols) (e.g. the RETURNING list of an upsert).
 * res is only read.
 */
int cdc_pgtext_canon_result(const cdc_column_t *cols, size_t ncols, const PGresult *res, int row,
                            int first_field, cdc_buf_t *out, char *errstr, size_t errstr_size);

#endif
