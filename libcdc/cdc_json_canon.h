/*
 * cdc_json_canon: one canonical text for every JSON document that PostgreSQL's jsonb
 * considers the same value, so that the producer's hash of a JSON column (over the
 * source text) equals the hash of what the target stored (over jsonb::text).
 *
 * jsonb normalizes on input: whitespace is dropped, object keys are deduplicated (the
 * last occurrence wins) and reordered, string escapes are decoded, and numbers are
 * stored as numeric (1e2 -> 100, -0 -> 0, 1.50 keeps its two decimals). Both sides
 * therefore parse their text into the same tree and print it in this form:
 *
 *   - no whitespace at all; separators are "," and ":";
 *   - object members sorted by key, bytewise over the key's UTF-8 (= code point order),
 *     keys compared after unescaping; of duplicate keys only the last one is kept
 *     (exactly jsonb's rule, at every nesting level); array order kept;
 *   - strings: escapes decoded to UTF-8, then written with the minimal escapes, the same
 *     ones PostgreSQL's own output uses: \" \\ \b \f \n \r \t, other characters below
 *     U+0020 as \u00xx (lowercase hex), everything else (also "/", DEL, non-ASCII) raw;
 *   - numbers: PostgreSQL's numeric output of the number (cdc_json_canon_numeric);
 *   - true, false, null as they are.
 *
 * jsonb's own output differs only in layout (", " and ": " separators, keys ordered by
 * length first): the canonical form is not jsonb::text, it is what both texts map to.
 * Input is what jsonb accepts: RFC 8259 with valid UTF-8; \u0000 and unpaired surrogate
 * escapes are refused, as jsonb refuses them.
 */
#ifndef CDC_JSON_CANON_H
#define CDC_JSON_CANON_H

#include <stddef.h>

#include "cdc_buf.h"

/*
 * Appends the canonical form of the one JSON value in p[0..len) (surrounding whitespace
 * allowed) to out. Returns 0, or -1 with "invalid JSON at byte N: why" in errstr; on
 * failure out is left as it was. Allocates only temporary memory (freed before return).
 */
int cdc_json_canon(const unsigned char *p, size_t len, cdc_buf_t *out, char *errstr,
                   size_t errstr_size);

/*
 * Appends PostgreSQL's numeric output form of the decimal number text p[0..len):
 * [+-]digits[.digits] or .digits, optional e[+-]digits exponent. The result has no
 * exponent, no '+', no leading zeros, "-" only for a non-zero value, and exactly
 * max(0, fraction digits - exponent) decimals, as numeric_in/numeric_out give it
 * ("1.50" -> "1.50", "1e2" -> "100", "-0.0" -> "0.0", "1.50e1" -> "15.0"). The texts
 * "NaN", "Infinity" and "-Infinity" (PostgreSQL's spellings) are appended unchanged.
 * Returns 0, or -1 with the reason in errstr (not a number, or outside numeric's range:
 * more than 131072 digits before the point or 16383 after it, or an exponent of
 * magnitude INT_MAX / 2 or more even on zero, all of which numeric_in refuses with
 * "value overflows numeric format"); out is left as it was.
 */
int cdc_json_canon_numeric(const unsigned char *p, size_t len, cdc_buf_t *out, char *errstr,
                           size_t errstr_size);

/*
 * Checks, without writing or allocating anything, that cdc_json_canon_numeric would
 * accept p[0..len): returns 0, or -1 with "not a decimal number" or "number outside
 * PostgreSQL's numeric range" in errstr. Borrows p only for the call.
 */
int cdc_json_canon_numeric_check(const unsigned char *p, size_t len, char *errstr,
                                 size_t errstr_size);

#endif
