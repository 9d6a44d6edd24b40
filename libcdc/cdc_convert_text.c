/*
 * cdc_convert_text: strict UTF-8 and JSON validation for TEXT and JSON columns
 * (cdc_convert.h). Both run over borrowed bytes without allocating: they sit on the
 * producer's hot path for every text value. JSON numbers are range-checked with
 * cdc_json_canon_numeric_check, the same rule the canonical JSON form uses; the lexical
 * pieces (escapes, the number grammar) are cdc_json_scan's, shared with cdc_json_canon.
 */
#include "cdc_convert.h"

#include <stdio.h>
#include <string.h>

#include "cdc_json_canon.h"
#include "cdc_json_scan.h"

int cdc_convert_utf8_check(const unsigned char *p, size_t len, size_t *ncp, size_t *bad_off)
{
    size_t i = 0, n = 0;

    while (i < len) {
        unsigned char c = p[i];
        size_t need;
        uint32_t cp, min;

        /* ASCII runs 8 bytes at a time: most text is ASCII, and this check runs on every
         * text value of every row on both sides. */
        if (c < 0x80) {
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
                n += 8;
            }
            while (i < len && p[i] < 0x80) {
                i++;
                n++;
            }
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            goto bad; /* continuation byte, C0/C1 (always overlong) or F5..FF */
        }
        if (len - i <= need)
            goto bad; /* truncated sequence */
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                goto bad;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* Overlong forms, UTF-16 surrogates and anything beyond U+10FFFF are not UTF-8. */
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            goto bad;
        i += need + 1;
        n++;
    }
    if (ncp != NULL)
        *ncp = n;
    return 0;
bad:
    if (bad_off != NULL)
        *bad_off = i;
    return -1;
}

/* Recursive-descent JSON checker; depth is bounded so hostile input cannot exhaust the
 * stack (PostgreSQL's own limit is of the same order). */
#define JSON_MAX_DEPTH 1000

typedef struct json_chk_s {
    cdc_json_scan_t s;
    int out_of_range; /* valid JSON, but a number numeric_in refuses (s.i is its start) */
} json_chk_t;

static int json_string(json_chk_t *c)
{
    c->s.i++; /* opening quote */
    while (c->s.i < c->s.len) {
        unsigned char ch = c->s.p[c->s.i];
        if (ch == '"') {
            c->s.i++;
            return 0;
        }
        if (ch < 0x20)
            return cdc_json_scan_fail(&c->s, "control character in string");
        if (ch != '\\') {
            c->s.i++;
            continue;
        }
        c->s.i++;
        if (c->s.i >= c->s.len)
            break;
        ch = c->s.p[c->s.i++];
        if (ch == 'u') {
            uint32_t cp;
            if (cdc_json_scan_escape_u(&c->s, &cp) < 0)
                return -1;
        } else if (strchr("\"\\/bfnrt", ch) == NULL || ch == '\0') {
            return cdc_json_scan_fail(&c->s, "bad escape in string");
        }
    }
    return cdc_json_scan_fail(&c->s, "unterminated string");
}

static int json_number(json_chk_t *c)
{
    size_t start = c->s.i;
    char why[64];

    if (cdc_json_scan_number(&c->s) < 0)
        return -1;
    /* jsonb stores numbers as numeric, so its range limits are part of "valid": the
     * grammar above is stricter than numeric_in's, so only the range can fail here. */
    if (cdc_json_canon_numeric_check(c->s.p + start, c->s.i - start, why, sizeof why) < 0) {
        c->s.i = start;
        c->out_of_range = 1;
        return cdc_json_scan_fail(&c->s, "number outside PostgreSQL's numeric range");
    }
    return 0;
}

static int json_value(json_chk_t *c, int depth)
{
    unsigned char ch;

    cdc_json_scan_ws(&c->s);
    if (c->s.i >= c->s.len)
        return cdc_json_scan_fail(&c->s, "unexpected end of input");
    ch = c->s.p[c->s.i];
    if (ch == '{' || ch == '[') {
        unsigned char close = ch == '{' ? '}' : ']';
        if (depth >= JSON_MAX_DEPTH)
            return cdc_json_scan_fail(&c->s, "nesting too deep");
        c->s.i++;
        cdc_json_scan_ws(&c->s);
        if (c->s.i < c->s.len && c->s.p[c->s.i] == close) {
            c->s.i++;
            return 0;
        }
        for (;;) {
            if (ch == '{') {
                cdc_json_scan_ws(&c->s);
                if (c->s.i >= c->s.len || c->s.p[c->s.i] != '"')
                    return cdc_json_scan_fail(&c->s, "expected a member name");
                if (json_string(c) < 0)
                    return -1;
                cdc_json_scan_ws(&c->s);
                if (c->s.i >= c->s.len || c->s.p[c->s.i] != ':')
                    return cdc_json_scan_fail(&c->s, "expected ':'");
                c->s.i++;
            }
            if (json_value(c, depth + 1) < 0)
                return -1;
            cdc_json_scan_ws(&c->s);
            if (c->s.i >= c->s.len)
                return cdc_json_scan_fail(&c->s, "unexpected end of input");
            if (c->s.p[c->s.i] == close) {
                c->s.i++;
                return 0;
            }
            if (c->s.p[c->s.i] != ',')
                return cdc_json_scan_fail(&c->s, "expected ',' or a closing bracket");
            c->s.i++;
        }
    }
    if (ch == '"')
        return json_string(c);
    if (ch == '-' || (ch >= '0' && ch <= '9'))
        return json_number(c);
    if (ch == 't')
        return cdc_json_scan_literal(&c->s, "true");
    if (ch == 'f')
        return cdc_json_scan_literal(&c->s, "false");
    if (ch == 'n')
        return cdc_json_scan_literal(&c->s, "null");
    return cdc_json_scan_fail(&c->s, "unexpected character");
}

int cdc_convert_json_check(const unsigned char *p, size_t len, char *errstr, size_t errstr_size)
{
    json_chk_t c = {{p, len, 0, NULL}, 0};

    if (json_value(&c, 0) == 0) {
        cdc_json_scan_ws(&c.s);
        if (c.s.i == c.s.len)
            return 0;
        c.s.why = "text after the JSON value";
    }
    if (c.out_of_range)
        snprintf(errstr, errstr_size,
                 "JSON number at byte %zu is outside PostgreSQL numeric's range (jsonb would "
                 "refuse it)",
                 c.s.i);
    else
        snprintf(errstr, errstr_size, "invalid JSON at byte %zu: %s", c.s.i, c.s.why);
    return -1;
}
