/*
 * cdc_json_scan: lexical pieces of JSON shared by cdc_convert_text and cdc_json_canon
 * (cdc_json_scan.h).
 */
#include "cdc_json_scan.h"

#include <string.h>

int cdc_json_scan_fail(cdc_json_scan_t *s, const char *why)
{
    if (s->why == NULL)
        s->why = why;
    return -1;
}

void cdc_json_scan_ws(cdc_json_scan_t *s)
{
    while (s->i < s->len &&
           (s->p[s->i] == ' ' || s->p[s->i] == '\t' || s->p[s->i] == '\n' || s->p[s->i] == '\r'))
        s->i++;
}

static int hex4(cdc_json_scan_t *s, uint32_t *out)
{
    uint32_t v = 0;

    if (s->len - s->i < 4)
        return cdc_json_scan_fail(s, "truncated \\u escape");
    for (int k = 0; k < 4; k++) {
        unsigned char h = s->p[s->i++];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (uint32_t)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (uint32_t)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (uint32_t)(h - 'A' + 10);
        else
            return cdc_json_scan_fail(s, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

int cdc_json_scan_escape_u(cdc_json_scan_t *s, uint32_t *cp)
{
    uint32_t u, lo;

    if (hex4(s, &u) < 0)
        return -1;
    if (u == 0)
        return cdc_json_scan_fail(s, "\\u0000 escape (PostgreSQL jsonb refuses it)");
    if (u >= 0xdc00 && u <= 0xdfff)
        return cdc_json_scan_fail(s, "unpaired low surrogate escape");
    if (u >= 0xd800 && u <= 0xdbff) {
        if (s->len - s->i < 2 || s->p[s->i] != '\\' || s->p[s->i + 1] != 'u')
            return cdc_json_scan_fail(s, "unpaired high surrogate escape");
        s->i += 2;
        if (hex4(s, &lo) < 0)
            return -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return cdc_json_scan_fail(s, "unpaired high surrogate escape");
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
    }
    *cp = u;
    return 0;
}

/* Moves past a run of digits; returns how many there were. */
static size_t digits(cdc_json_scan_t *s)
{
    size_t start = s->i;
    while (s->i < s->len && s->p[s->i] >= '0' && s->p[s->i] <= '9')
        s->i++;
    return s->i - start;
}

int cdc_json_scan_number(cdc_json_scan_t *s)
{
    if (s->p[s->i] == '-')
        s->i++;
    if (s->i < s->len && s->p[s->i] == '0')
        s->i++; /* a leading zero stands alone */
    else if (digits(s) == 0)
        return cdc_json_scan_fail(s, "bad number");
    if (s->i < s->len && s->p[s->i] == '.') {
        s->i++;
        if (digits(s) == 0)
            return cdc_json_scan_fail(s, "bad number fraction");
    }
    if (s->i < s->len && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
        s->i++;
        if (s->i < s->len && (s->p[s->i] == '+' || s->p[s->i] == '-'))
            s->i++;
        if (digits(s) == 0)
            return cdc_json_scan_fail(s, "bad number exponent");
    }
    return 0;
}

int cdc_json_scan_literal(cdc_json_scan_t *s, const char *word)
{
    size_t n = strlen(word);

    if (s->len - s->i < n || memcmp(s->p + s->i, word, n) != 0)
        return cdc_json_scan_fail(s, "unexpected character");
    s->i += n;
    return 0;
}
