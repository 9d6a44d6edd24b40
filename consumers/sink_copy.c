/*
 * sink_copy: COPY text encoding of mapped values (see sink_copy.h).
 */
#include "sink_copy.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

/* Nonzero when one of the 8 bytes of w is '\\' or below 0x0e (which covers \t, \n, \r):
 * the classic "has a byte less than n" and "has a zero byte" word tricks. A hit may be
 * another control byte; the byte loop then decides. */
static uint64_t maybe_special(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t bs = w ^ (ones * '\\');
    return ((w - ones * 0x0e) & ~w & highs) | ((bs - ones) & ~bs & highs);
}

void cdc_sink_copy_put_escaped(cdc_buf_t *out, const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t start = 0, i = 0;

    cdc_buf_reserve(out, len);
    while (i < len) {
        /* Runs without specials are skipped 8 bytes at a time and copied in one piece. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (maybe_special(w))
                break;
            i += 8;
        }
        size_t stop = len - i >= 8 ? i + 8 : len;
        for (; i < stop; i++) {
            char esc;
            switch (s[i]) {
            case '\\':
                esc = '\\';
                break;
            case '\n':
                esc = 'n';
                break;
            case '\r':
                esc = 'r';
                break;
            case '\t':
                esc = 't';
                break;
            default:
                continue;
            }
            cdc_buf_put(out, s + start, i - start);
            cdc_buf_reserve(out, 2);
            out->data[out->len++] = '\\';
            out->data[out->len++] = (unsigned char)esc;
            start = i + 1;
        }
    }
    cdc_buf_put(out, s + start, len - start);
}

void cdc_sink_copy_put_bytea(cdc_buf_t *out, const void *p, size_t len)
{
    const unsigned char *s = p;
    unsigned char *o;

    cdc_buf_reserve(out, 3 + 2 * len);
    cdc_buf_put_str(out, "\\\\x");
    o = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        *o++ = (unsigned char)hex_digits[s[i] >> 4];
        *o++ = (unsigned char)hex_digits[s[i] & 15];
    }
    out->len += 2 * len;
}

/* Decimal digits of v without printf: every integer column of every row comes here. */
static void put_int64(cdc_buf_t *out, int64_t v)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    unsigned char digits[20];
    size_t n = 0;

    do {
        digits[n++] = (unsigned char)('0' + u % 10);
        u /= 10;
    } while (u);
    cdc_buf_reserve(out, n + 1);
    if (v < 0)
        out->data[out->len++] = '-';
    while (n)
        out->data[out->len++] = digits[--n];
}

static void put_double_text(cdc_buf_t *out, double d)
{
    char text[CDC_REAL_TEXT_MAX];

    /* float8in reads these spellings on every supported PostgreSQL version. */
    if (isnan(d)) {
        cdc_buf_put_str(out, "NaN");
        return;
    }
    if (isinf(d)) {
        cdc_buf_put_str(out, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    cdc_convert_real_text(d, text);
    cdc_buf_put_str(out, text);
}

int cdc_sink_copy_put_value(cdc_buf_t *out, const cdc_col_type_t *t, const cdc_mapped_t *v,
                            cdc_buf_t *scratch, char *errstr, size_t errstr_size)
{
    if (v->is_null) {
        cdc_buf_put_str(out, "\\N");
        return 0;
    }
    switch (t->kind) {
    case CDC_COL_LONG:
        put_int64(out, v->l);
        break;
    case CDC_COL_BOOLEAN:
        cdc_buf_put_byte(out, v->l ? 't' : 'f');
        break;
    case CDC_COL_DOUBLE:
        put_double_text(out, v->d);
        break;
    case CDC_COL_DECIMAL:
        cdc_buf_reset(scratch);
        if (cdc_convert_decimal_text(v->p, v->len, t->scale, scratch) != 0) {
            snprintf(errstr, errstr_size, "empty decimal bytes");
            return -1;
        }
        cdc_buf_put(out, scratch->data, scratch->len);
        break;
    case CDC_COL_TIMESTAMP:
        /* No offset: the session's TimeZone is pinned to UTC. */
        cdc_buf_reset(scratch);
        cdc_convert_format_timestamp(v->l, scratch);
        cdc_buf_put(out, scratch->data, scratch->len);
        break;
    case CDC_COL_DATE:
        cdc_buf_reset(scratch);
        cdc_convert_format_date(v->l, scratch);
        cdc_buf_put(out, scratch->data, scratch->len);
        break;
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
        cdc_sink_copy_put_escaped(out, v->p, v->len);
        break;
    case CDC_COL_BLOB:
        cdc_sink_copy_put_bytea(out, v->p, v->len);
        break;
    }
    return 0;
}

int cdc_sink_copy_check_value(const cdc_col_type_t *t, const cdc_mapped_t *v, char *errstr,
                              size_t errstr_size)
{
    size_t bad = 0;

    if (v->is_null)
        return 0;
    if (v->kind != t->kind) {
        snprintf(errstr, errstr_size, "value of kind %s in a %s column",
                 cdc_types_kind_name(v->kind), cdc_types_kind_name(t->kind));
        return -1;
    }
    if (t->kind != CDC_COL_TEXT && t->kind != CDC_COL_JSON && t->kind != CDC_COL_NUMERIC)
        return 0;
    if (cdc_convert_utf8_check(v->p, v->len, NULL, &bad) != 0) {
        snprintf(errstr, errstr_size, "invalid UTF-8 at byte %zu", bad);
        return -1;
    }
    if (v->len > 0 && memchr(v->p, '\0', v->len) != NULL) {
        snprintf(errstr, errstr_size, "NUL character at byte %zu (PostgreSQL text cannot hold it)",
                 (size_t)((const unsigned char *)memchr(v->p, '\0', v->len) - v->p));
        return -1;
    }
    return 0;
}

void cdc_sink_copy_put_json_string(cdc_buf_t *out, const void *p, size_t len)
{
    const unsigned char *s = p;

    cdc_buf_put_byte(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            cdc_buf_put_byte(out, '\\');
            cdc_buf_put_byte(out, c);
        } else if (c < 0x20) {
            cdc_buf_printf(out, "\\u%04x", c);
        } else {
            cdc_buf_put_byte(out, c);
        }
    }
    cdc_buf_put_byte(out, '"');
}

void cdc_sink_copy_put_json_value(cdc_buf_t *out, const cdc_col_type_t *t, const cdc_mapped_t *v,
                                  cdc_buf_t *scratch)
{
    if (v->is_null) {
        cdc_buf_put_str(out, "null");
        return;
    }
    cdc_buf_reset(scratch);
    switch (t->kind) {
    case CDC_COL_LONG:
        put_int64(out, v->l);
        return;
    case CDC_COL_BOOLEAN:
        cdc_buf_put_str(out, v->l ? "true" : "false");
        return;
    case CDC_COL_DOUBLE:
        if (isfinite(v->d)) {
            put_double_text(out, v->d);
            return;
        }
        put_double_text(scratch, v->d);
        break;
    case CDC_COL_DECIMAL:
        if (cdc_convert_decimal_text(v->p, v->len, t->scale, scratch) != 0)
            cdc_buf_put_str(scratch, "?");
        break;
    case CDC_COL_TIMESTAMP:
        cdc_convert_format_timestamp(v->l, scratch);
        break;
    case CDC_COL_DATE:
        cdc_convert_format_date(v->l, scratch);
        break;
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
        cdc_buf_put(scratch, v->p, v->len);
        break;
    case CDC_COL_BLOB:
        cdc_buf_put_str(scratch, "x'");
        for (size_t i = 0; i < v->len; i++) {
            cdc_buf_put_byte(scratch, (unsigned char)hex_digits[v->p[i] >> 4]);
            cdc_buf_put_byte(scratch, (unsigned char)hex_digits[v->p[i] & 15]);
        }
        cdc_buf_put_byte(scratch, '\'');
        break;
    }
    cdc_sink_copy_put_json_string(out, scratch->data, scratch->len);
}
