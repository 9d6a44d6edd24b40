/*
 * cdc_convert_text: strict UTF-8 and JSON validation for TEXT and JSON columns
 * (cdc_convert.h). Both run over borrowed bytes without allocating: they sit on the
 * producer's hot path for every text value. JSON numbers are range-checked with
 * cdc_json_canon_numeric_check, the same rule the canonical JSON form uses.
 */
#include "cdc_convert.h"

#include <stdio.h>
#include <string.h>

#include "cdc_json_canon.h"

int cdc_convert_utf8_check(const unsigned char *p, size_t len, size_t *ncp, size_t *bad_off)
{
    size_t i = 0, n = 0;

    while (i < len) {
        unsigned char c = p[i];
        size_t need;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            n++;
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
    const unsigned char *p;
    size_t len;
    size_t i;
    const char *why;
    int out_of_range; /* valid JSON, but a number numeric_in refuses (c->i is its start) */
} json_chk_t;

static void json_ws(json_chk_t *c)
{
    while (c->i < c->len &&
           (c->p[c->i] == ' ' || c->p[c->i] == '\t' || c->p[c->i] == '\n' || c->p[c->i] == '\r'))
        c->i++;
}

static int json_fail(json_chk_t *c, const char *why)
{
    c->why = why;
    return -1;
}

static int json_hex4(json_chk_t *c, unsigned *out)
{
    unsigned v = 0;

    if (c->len - c->i < 4)
        return json_fail(c, "truncated \\u escape");
    for (int k = 0; k < 4; k++) {
        unsigned char h = c->p[c->i++];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
        else
            return json_fail(c, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

static int json_string(json_chk_t *c)
{
    c->i++; /* opening quote */
    while (c->i < c->len) {
        unsigned char ch = c->p[c->i];
        if (ch == '"') {
            c->i++;
            return 0;
        }
        if (ch < 0x20)
            return json_fail(c, "control character in string");
        if (ch != '\\') {
            c->i++;
            continue;
        }
        c->i++;
        if (c->i >= c->len)
            break;
        ch = c->p[c->i++];
        if (ch == 'u') {
            unsigned u, lo;
            if (json_hex4(c, &u) < 0)
                return -1;
            if (u == 0)
                return json_fail(c, "\\u0000 escape (PostgreSQL jsonb refuses it)");
            if (u >= 0xdc00 && u <= 0xdfff)
                return json_fail(c, "unpaired low surrogate escape");
            if (u >= 0xd800 && u <= 0xdbff) {
                if (c->len - c->i < 2 || c->p[c->i] != '\\' || c->p[c->i + 1] != 'u')
                    return json_fail(c, "unpaired high surrogate escape");
                c->i += 2;
                if (json_hex4(c, &lo) < 0)
                    return -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return json_fail(c, "unpaired high surrogate escape");
            }
        } else if (strchr("\"\\/bfnrt", ch) == NULL || ch == '\0') {
            return json_fail(c, "bad escape in string");
        }
    }
    return json_fail(c, "unterminated string");
}

static size_t json_digits(json_chk_t *c)
{
    size_t start = c->i;
    while (c->i < c->len && c->p[c->i] >= '0' && c->p[c->i] <= '9')
        c->i++;
    return c->i - start;
}

static int json_number(json_chk_t *c)
{
    size_t start = c->i;
    char why[64];

    if (c->p[c->i] == '-')
        c->i++;
    if (c->i < c->len && c->p[c->i] == '0') {
        c->i++; /* a leading zero stands alone */
    } else if (json_digits(c) == 0) {
        return json_fail(c, "bad number");
    }
    if (c->i < c->len && c->p[c->i] == '.') {
        c->i++;
        if (json_digits(c) == 0)
            return json_fail(c, "bad number fraction");
    }
    if (c->i < c->len && (c->p[c->i] == 'e' || c->p[c->i] == 'E')) {
        c->i++;
        if (c->i < c->len && (c->p[c->i] == '+' || c->p[c->i] == '-'))
            c->i++;
        if (json_digits(c) == 0)
            return json_fail(c, "bad number exponent");
    }
    /* jsonb stores numbers as numeric, so its range limits are part of "valid": the
     * grammar above is stricter than numeric_in's, so only the range can fail here. */
    if (cdc_json_canon_numeric_check(c->p + start, c->i - start, why, sizeof why) < 0) {
        c->i = start;
        c->out_of_range = 1;
        return json_fail(c, "number outside PostgreSQL's numeric range");
    }
    return 0;
}

static int json_literal(json_chk_t *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->i < n || memcmp(c->p + c->i, word, n) != 0)
        return json_fail(c, "unexpected character");
    c->i += n;
    return 0;
}

static int json_value(json_chk_t *c, int depth)
{
    unsigned char ch;

    json_ws(c);
    if (c->i >= c->len)
        return json_fail(c, "unexpected end of input");
    ch = c->p[c->i];
    if (ch == '{' || ch == '[') {
        unsigned char close = ch == '{' ? '}' : ']';
        if (depth >= JSON_MAX_DEPTH)
            return json_fail(c, "nesting too deep");
        c->i++;
        json_ws(c);
        if (c->i < c->len && c->p[c->i] == close) {
            c->i++;
            return 0;
        }
        for (;;) {
            if (ch == '{') {
                json_ws(c);
                if (c->i >= c->len || c->p[c->i] != '"')
                    return json_fail(c, "expected a member name");
                if (json_string(c) < 0)
                    return -1;
                json_ws(c);
                if (c->i >= c->len || c->p[c->i] != ':')
                    return json_fail(c, "expected ':'");
                c->i++;
            }
            if (json_value(c, depth + 1) < 0)
                return -1;
            json_ws(c);
            if (c->i >= c->len)
                return json_fail(c, "unexpected end of input");
            if (c->p[c->i] == close) {
                c->i++;
                return 0;
            }
            if (c->p[c->i] != ',')
                return json_fail(c, "expected ',' or a closing bracket");
            c->i++;
        }
    }
    if (ch == '"')
        return json_string(c);
    if (ch == '-' || (ch >= '0' && ch <= '9'))
        return json_number(c);
    if (ch == 't')
        return json_literal(c, "true");
    if (ch == 'f')
        return json_literal(c, "false");
    if (ch == 'n')
        return json_literal(c, "null");
    return json_fail(c, "unexpected character");
}

int cdc_convert_json_check(const unsigned char *p, size_t len, char *errstr, size_t errstr_size)
{
    json_chk_t c = {p, len, 0, NULL, 0};

    if (json_value(&c, 0) == 0) {
        json_ws(&c);
        if (c.i == c.len)
            return 0;
        c.why = "text after the JSON value";
    }
    if (c.out_of_range)
        snprintf(errstr, errstr_size,
                 "JSON number at byte %zu is outside PostgreSQL numeric's range (jsonb would "
                 "refuse it)",
                 c.i);
    else
        snprintf(errstr, errstr_size, "invalid JSON at byte %zu: %s", c.i, c.why);
    return -1;
}
