/*
 * cdc_json_scan: the lexical pieces of RFC 8259 JSON that both JSON readers of libcdc share,
 * the validating one (cdc_convert_json_check, on the producer's hot path: no allocation)
 * and the canonicalizing one (cdc_json_canon): a cursor over borrowed bytes, whitespace,
 * \u escapes with jsonb's surrogate and U+0000 rules, the number grammar and the literal
 * words. Structure (objects, arrays, depth) and what is done with the pieces stay with
 * each reader. Nothing here allocates.
 */
#ifndef CDC_JSON_SCAN_H
#define CDC_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* A cursor: p[0..len) is borrowed, i the current byte, why the first failure's reason
 * (a static string; NULL while nothing failed). */
typedef struct cdc_json_scan_s {
    const unsigned char *p;
    size_t len;
    size_t i;
    const char *why;
} cdc_json_scan_t;

/* Records why (unless an earlier failure is already recorded, which stays) and returns -1,
 * so callers can write `return cdc_json_scan_fail(s, "...")`. */
int cdc_json_scan_fail(cdc_json_scan_t *s, const char *why);

/* Skips JSON whitespace (space, tab, LF, CR). */
void cdc_json_scan_ws(cdc_json_scan_t *s);

/* With s->i just after "\u": reads the escape, and its low-surrogate partner when it is a
 * high surrogate, into the code point *cp. Returns 0, or -1 (reason recorded) for bad hex,
 * \u0000 or an unpaired surrogate, all of which jsonb refuses. */
int cdc_json_scan_escape_u(cdc_json_scan_t *s, uint32_t *cp);

/* With s->i on '-' or a digit: moves past one number of the RFC 8259 grammar (stricter
 * than numeric_in's). Returns 0, or -1 (reason recorded); the range is the caller's check,
 * over the bytes from where it started to s->i. */
int cdc_json_scan_number(cdc_json_scan_t *s);

/* Moves past word ("true", "false", "null") when the input has it at s->i; else -1
 * ("unexpected character"). */
int cdc_json_scan_literal(cdc_json_scan_t *s, const char *word);

#endif
