/*
 * cdc_pgtext: PostgreSQL's text output → mapped values (cdc_pgtext.h). Parsers are strict
 * about the forms the pinned session produces: anything else means the session was not
 * pinned or the column has another type than the schema says, and is reported rather
 * than guessed at.
 */
#include "cdc_pgtext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_canon.h"

#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL

int cdc_pgtext_pin_session(PGconn *conn, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(conn, CDC_PGTEXT_SESSION_SQL);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(errstr, errstr_size, "pinning the session settings: %s", PQerrorMessage(conn));
        rc = -1;
    }
    PQclear(res);
    return rc;
}

static int is_word(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(s, word, len) == 0;
}

static int parse_long(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0, limit;

    if (i < len && s[i] == '-')
        neg = 1, i++;
    if (i == len)
        return -1;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int parse_double(const char *s, size_t len, double *out)
{
    char buf[64], *end;

    if (is_word(s, len, "Infinity") || is_word(s, len, "-Infinity")) {
        *out = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
        return 0;
    }
    if (is_word(s, len, "NaN")) {
        *out = NAN;
        return 0;
    }
    /* Only decimal notation: strtod alone would also take "inf", hex floats, blanks. */
    if (len == 0 || len >= sizeof buf)
        return -1;
    for (size_t k = 0; k < len; k++)
        if (strchr("0123456789.eE+-", s[k]) == NULL || s[k] == '\0')
            return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, &end);
    return end == buf + len ? 0 : -1;
}

/* numeric(p,s) text → unscaled integer as minimal big-endian two's complement bytes,
 * built in scratch (cdc_convert's Avro decimal representation). */
static int parse_decimal(const char *s, size_t len, int scale, cdc_mapped_t *out,
                         cdc_buf_t *scratch, char *why, size_t why_size)
{
    size_t i = 0, ip, ni, fp = 0, nf = 0, nd, n = 0, start;
    int neg = 0;

    if (i < len && s[i] == '-')
        neg = 1, i++;
    ip = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    ni = i - ip;
    if (i < len && s[i] == '.') {
        fp = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        nf = i - fp;
    }
    if (i != len || ni + nf == 0) {
        snprintf(why, why_size, "not numeric(p,s) text");
        return -1;
    }
    if (nf > (size_t)scale) {
        snprintf(why, why_size, "%zu decimals in a column of scale %d", nf, scale);
        return -1;
    }
    /* Unscaled digits: integer digits, fraction digits, zeros up to the scale. The
     * magnitude is built little-endian in base 256 at the start of scratch. */
    cdc_buf_reset(scratch);
    nd = ni + (size_t)scale;
    cdc_buf_reserve(scratch, nd / 2 + 8);
    for (size_t k = 0; k < nd; k++) {
        unsigned carry = k < ni        ? (unsigned)(s[ip + k] - '0')
                         : k - ni < nf ? (unsigned)(s[fp + (k - ni)] - '0')
                                       : 0;
        for (size_t b = 0; b < n; b++) {
            unsigned v = scratch->data[b] * 10u + carry;
            scratch->data[b] = (unsigned char)(v & 0xff);
            carry = v >> 8;
        }
        if (carry > 0) {
            cdc_buf_put_byte(scratch, (unsigned char)carry);
            n++;
        }
    }
    if (n == 0) { /* zero, whatever its sign */
        cdc_buf_put_byte(scratch, 0);
        n = 1;
        neg = 0;
    }
    if (neg) {
        unsigned c = 1;
        for (size_t b = 0; b < n; b++) {
            unsigned v = (unsigned)(unsigned char)~scratch->data[b] + c;
            scratch->data[b] = (unsigned char)v;
            c = v >> 8;
        }
    }
    start = scratch->len;
    if (neg && !(scratch->data[n - 1] & 0x80))
        cdc_buf_put_byte(scratch, 0xff);
    else if (!neg && (scratch->data[n - 1] & 0x80))
        cdc_buf_put_byte(scratch, 0x00);
    for (size_t b = n; b > 0; b--)
        cdc_buf_put_byte(scratch, scratch->data[b - 1]);
    out->p = scratch->data + start;
    out->len = scratch->len - start;
    return 0;
}

/* Reads at least min and at most max digits; -1 when fewer than min. */
static int64_t num(const char *s, size_t len, size_t *i, int min, int max)
{
    int64_t v = 0;
    int n = 0;
    while (*i < len && n < max && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    return n >= min ? v : -1;
}

static int lit(const char *s, size_t len, size_t *i, const char *word)
{
    size_t n = strlen(word);
    if (len - *i < n || memcmp(s + *i, word, n) != 0)
        return -1;
    *i += n;
    return 0;
}

/* YYYY-MM-DD (4 to 9 year digits) → astronomical year, month, day. */
static int parse_ymd(const char *s, size_t len, size_t *i, int64_t *y, int *m, int *d)
{
    int64_t mm, dd;
    if ((*y = num(s, len, i, 4, 9)) < 0 || lit(s, len, i, "-") < 0 ||
        (mm = num(s, len, i, 2, 2)) < 0 || lit(s, len, i, "-") < 0 ||
        (dd = num(s, len, i, 2, 2)) < 0 || mm < 1 || mm > 12 || dd < 1 || dd > 31)
        return -1;
    *m = (int)mm;
    *d = (int)dd;
    return 0;
}

/* A trailing " BC" turns year N (N >= 1) into the astronomical year 1 - N: PostgreSQL
 * has no year 0. */
static void bc_suffix(const char *s, size_t len, size_t *i, int64_t *y)
{
    if (lit(s, len, i, " BC") == 0)
        *y = 1 - *y;
}

static int parse_date(const char *s, size_t len, int64_t *days)
{
    size_t i = 0;
    int64_t y;
    int m, d;

    if (is_word(s, len, "infinity") || is_word(s, len, "-infinity")) {
        *days = s[0] == '-' ? INT64_MIN : INT64_MAX;
        return 0;
    }
    if (parse_ymd(s, len, &i, &y, &m, &d) < 0 || y == 0)
        return -1;
    bc_suffix(s, len, &i, &y);
    if (i != len)
        return -1;
    *days = cdc_convert_days_from_civil(y, m, d);
    return 0;
}

static int parse_timestamp(const char *s, size_t len, int64_t *micros, char *why, size_t why_size)
{
    size_t i = 0;
    int64_t y, h, mi, sec, frac = 0, oh, om = 0, os = 0, off, secs, us;
    int m, d, sign;

    if (is_word(s, len, "infinity") || is_word(s, len, "-infinity")) {
        *micros = s[0] == '-' ? INT64_MIN : INT64_MAX;
        return 0;
    }
    if (parse_ymd(s, len, &i, &y, &m, &d) < 0 || y == 0 || lit(s, len, &i, " ") < 0 ||
        (h = num(s, len, &i, 2, 2)) < 0 || lit(s, len, &i, ":") < 0 ||
        (mi = num(s, len, &i, 2, 2)) < 0 || lit(s, len, &i, ":") < 0 ||
        (sec = num(s, len, &i, 2, 2)) < 0 || h > 23 || mi > 59 || sec > 59)
        goto bad;
    if (i < len && s[i] == '.') {
        size_t f0 = ++i;
        if ((frac = num(s, len, &i, 1, 6)) < 0)
            goto bad;
        for (size_t k = i - f0; k < 6; k++)
            frac *= 10;
    }
    if (i >= len || (s[i] != '+' && s[i] != '-'))
        goto bad;
    sign = s[i++] == '-' ? -1 : 1;
    if ((oh = num(s, len, &i, 2, 2)) < 0)
        goto bad;
    if (i < len && s[i] == ':') {
        i++;
        if ((om = num(s, len, &i, 2, 2)) < 0)
            goto bad;
        if (i < len && s[i] == ':') {
            i++;
            if ((os = num(s, len, &i, 2, 2)) < 0)
                goto bad;
        }
    }
    bc_suffix(s, len, &i, &y);
    if (i != len)
        goto bad;
    off = sign * (oh * 3600 + om * 60 + os);
    secs = h * 3600 + mi * 60 + sec - off;
    /* The far end of timestamptz (294276 AD) lies beyond int64 µs since 1970. */
    if (__builtin_mul_overflow(cdc_convert_days_from_civil(y, m, d), US_PER_DAY, &us) ||
        __builtin_add_overflow(us, secs * US_PER_SEC + frac, &us)) {
        snprintf(why, why_size, "timestamp '%.*s' is outside int64 microseconds since 1970",
                 (int)len, s);
        return -1;
    }
    *micros = us;
    return 0;
bad:
    snprintf(why, why_size, "not timestamptz text in ISO style: '%.*s'", (int)(len > 80 ? 80 : len),
             s);
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_bytea(const char *s, size_t len, cdc_mapped_t *out, cdc_buf_t *scratch)
{
    if (len < 2 || s[0] != '\\' || s[1] != 'x' || len % 2 != 0)
        return -1;
    cdc_buf_reset(scratch);
    cdc_buf_reserve(scratch, (len - 2) / 2 + 1);
    for (size_t i = 2; i < len; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        cdc_buf_put_byte(scratch, (unsigned char)(hi << 4 | lo));
    }
    out->p = scratch->len > 0 ? scratch->data : (const unsigned char *)"";
    out->len = scratch->len;
    return 0;
}

int cdc_pgtext_value(const cdc_col_type_t *t, const char *s, size_t len, cdc_mapped_t *out,
                     cdc_buf_t *scratch, char *errstr, size_t errstr_size)
{
    char why[200] = "";
    const char *what = NULL;

    memset(out, 0, sizeof *out);
    out->kind = t->kind;
    if (s == NULL) {
        out->is_null = 1;
        return 0;
    }
    switch (t->kind) {
    case CDC_COL_LONG:
        if (parse_long(s, len, &out->l) < 0)
            what = "bigint";
        break;
    case CDC_COL_DOUBLE:
        if (parse_double(s, len, &out->d) < 0)
            what = "double precision";
        break;
    case CDC_COL_DECIMAL:
        if (parse_decimal(s, len, t->scale, out, scratch, why, sizeof why) < 0)
            goto fail;
        break;
    case CDC_COL_BOOLEAN:
        if (len == 1 && (s[0] == 't' || s[0] == 'f'))
            out->l = s[0] == 't';
        else
            what = "boolean";
        break;
    case CDC_COL_TIMESTAMP:
        if (parse_timestamp(s, len, &out->l, why, sizeof why) < 0)
            goto fail;
        break;
    case CDC_COL_DATE:
        if (parse_date(s, len, &out->l) < 0)
            what = "date (ISO style)";
        break;
    case CDC_COL_BLOB:
        if (parse_bytea(s, len, out, scratch) < 0)
            what = "bytea in hex format";
        break;
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
        out->p = (const unsigned char *)s;
        out->len = len;
        break;
    }
    if (what == NULL)
        return 0;
    snprintf(why, sizeof why, "not %s text: '%.*s'", what, (int)(len > 80 ? 80 : len), s);
fail:
    snprintf(errstr, errstr_size, "%s", why);
    return -1;
}

/* One column's text → its canonical bytes appended to out. */
static int canon_one(const cdc_column_t *col, const char *text, size_t len, cdc_buf_t *out,
                     cdc_buf_t *scratch, char *errstr, size_t errstr_size)
{
    cdc_mapped_t v;
    char why[240];

    if (cdc_pgtext_value(&col->type, text, len, &v, scratch, why, sizeof why) < 0 ||
        cdc_canon_add(out, &col->type, &v, why, sizeof why) < 0) {
        snprintf(errstr, errstr_size, "column %s: %s", col->name, why);
        return -1;
    }
    return 0;
}

int cdc_pgtext_canon_row(const cdc_column_t *cols, size_t ncols, const char *const *texts,
                         const size_t *lens, cdc_buf_t *out, char *errstr, size_t errstr_size)
{
    cdc_buf_t scratch = CDC_BUF_INIT;
    int rc = 0;

    cdc_canon_begin(out, ncols);
    for (size_t k = 0; k < ncols && rc == 0; k++) {
        size_t len = texts[k] == NULL ? 0 : lens != NULL ? lens[k] : strlen(texts[k]);
        rc = canon_one(&cols[k], texts[k], len, out, &scratch, errstr, errstr_size);
    }
    cdc_buf_free(&scratch);
    return rc;
}

int cdc_pgtext_canon_result(const cdc_column_t *cols, size_t ncols, const PGresult *res, int row,
                            int first_field, cdc_buf_t *out, char *errstr, size_t errstr_size)
{
    cdc_buf_t scratch = CDC_BUF_INIT;
    int rc = 0;

    if (row < 0 || row >= PQntuples(res) || first_field < 0 ||
        (size_t)first_field + ncols > (size_t)PQnfields(res)) {
        snprintf(errstr, errstr_size,
                 "result has %d rows of %d fields, row %d fields %d..%zu asked", PQntuples(res),
                 PQnfields(res), row, first_field, first_field + ncols);
        return -1;
    }
    cdc_canon_begin(out, ncols);
    for (size_t k = 0; k < ncols && rc == 0; k++) {
        int f = first_field + (int)k;
        if (PQfformat(res, f) != 0) {
            snprintf(errstr, errstr_size, "column %s: binary result format, text expected",
                     cols[k].name);
            rc = -1;
            break;
        }
        if (PQgetisnull(res, row, f))
            rc = canon_one(&cols[k], NULL, 0, out, &scratch, errstr, errstr_size);
        else
            rc = canon_one(&cols[k], PQgetvalue(res, row, f), (size_t)PQgetlength(res, row, f), out,
                           &scratch, errstr, errstr_size);
    }
    cdc_buf_free(&scratch);
    return rc;
}
