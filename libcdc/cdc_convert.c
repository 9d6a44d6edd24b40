/*
 * cdc_convert: one SQLite value → its column's mapped representation, or a misfit
 * (rules in cdc_convert.h). Numbers and decimals live here; calendar code is in
 * cdc_convert_time.c, UTF-8/JSON checks in cdc_convert_text.c.
 */
#include "cdc_convert.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"

/* PostgreSQL numeric limits: digits before and after the point. Beyond them the target
 * would refuse the value, so it is a misfit here already. */
#define PG_NUMERIC_MAX_INT_DIGITS  131072
#define PG_NUMERIC_MAX_FRAC_DIGITS 16383

#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL
/* Timestamps span julian day 0 (4714-11-24 BC) up to 10000-01-01, like SQLite's. */
#define TS_MIN_SEC (-210866760000LL)
#define TS_END_SEC 253402300800LL

/* Significant digits of a "%g" text: its digits without leading and trailing zeros. */
static int sig_digits(const char *t)
{
    int first = -1, last = -1, k = 0;
    for (; *t && *t != 'e'; t++) {
        if (*t < '0' || *t > '9')
            continue;
        if (*t != '0') {
            if (first < 0)
                first = k;
            last = k;
        }
        k++;
    }
    return first < 0 ? 1 : last - first + 1;
}

/* The smallest N in 1..17 whose "%.Ng" text reads back as r. */
static int shortest_precision(double r)
{
    char t[CDC_REAL_TEXT_MAX];
    int prec;

    /* For a normal double, when some N <= 15 reads back, "%.15g" prints that N-digit
     * decimal (the 15-digit grid is finer than the double's half ulp, ~1.1e-16 relative,
     * by a factor of 4.5), so its significant digits are the answer; if 15 does not read
     * back, no smaller N does (the finer grids contain the coarser). Subnormals have
     * fewer bits than that argument needs: they take the plain search. */
    if (fabs(r) >= DBL_MIN) {
        snprintf(t, sizeof t, "%.15g", r);
        if (strtod(t, NULL) == r)
            return sig_digits(t);
        snprintf(t, sizeof t, "%.16g", r);
        return strtod(t, NULL) == r ? 16 : 17;
    }
    for (prec = 1; prec < 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, r);
        if (strtod(t, NULL) == r)
            break;
    }
    return prec;
}

void cdc_convert_real_text(double r, char *out)
{
    int prec, x;

    if (isnan(r)) {
        strcpy(out, "nan");
        return;
    }
    if (isinf(r)) {
        strcpy(out, r < 0 ? "-inf" : "inf");
        return;
    }
    /* Integral values below 1e15 print as their integer digits whatever N is chosen
     * below ("%.Ng" with N >= the digits used picks the plain style and drops the
     * point), so they skip printf: money and counts are mostly such values. */
    if (fabs(r) < 1e15 && r == (double)(int64_t)r) {
        int64_t v = (int64_t)r;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        char digits[24];
        size_t n = 0, o = 0;
        do {
            digits[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (signbit(r))
            out[o++] = '-'; /* -0.0 prints "-0" as "%.1g" does */
        while (n)
            out[o++] = digits[--n];
        out[o] = '\0';
        return;
    }
    prec = shortest_precision(r);
    /* "%.1g" writes 100 as "1e+02": within -4 <= exponent < 17 use as many digits as
     * the integer part needs, so the text is plain; more correct digits still read back
     * as r. */
    snprintf(out, CDC_REAL_TEXT_MAX, "%.0e", r);
    x = atoi(strchr(out, 'e') + 1);
    snprintf(out, CDC_REAL_TEXT_MAX, "%.*g", (x >= -4 && x < 17 && x + 1 > prec) ? x + 1 : prec, r);
}

void cdc_convert_type_name(const cdc_col_type_t *t, char *out, size_t out_size)
{
    static const char *const names[] = {"LONG",      "DOUBLE", "DECIMAL", "NUMERIC", "BOOLEAN",
                                        "TIMESTAMP", "DATE",   "TEXT",    "JSON",    "BLOB"};
    const char *name = (unsigned)t->kind < sizeof names / sizeof names[0] ? names[t->kind] : "?";

    if (t->kind == CDC_COL_DECIMAL)
        snprintf(out, out_size, "DECIMAL(%d,%d)", t->precision, t->scale);
    else if (t->kind == CDC_COL_TEXT && t->max_length > 0)
        snprintf(out, out_size, "VARCHAR(%d)", t->max_length);
    else
        snprintf(out, out_size, "%s", name);
}

/* "text 'abc'", "integer 5", ...: the value as the misfit message shows it, cut short and
 * escaped so a log line stays one printable line. */
static void describe_value(const cdc_value_t *v, char *out, size_t out_size)
{
    char real[CDC_REAL_TEXT_MAX];
    size_t o = 0;

    switch (v->type) {
    case CDC_VAL_NULL:
        snprintf(out, out_size, "NULL");
        return;
    case CDC_VAL_INTEGER:
        snprintf(out, out_size, "integer %" PRId64, v->i);
        return;
    case CDC_VAL_REAL:
        cdc_convert_real_text(v->r, real);
        snprintf(out, out_size, "real %s", real);
        return;
    case CDC_VAL_BLOB:
        snprintf(out, out_size, "blob of %zu bytes", v->len);
        return;
    case CDC_VAL_TEXT:
        break;
    }
    o = (size_t)snprintf(out, out_size, "text '");
    for (size_t k = 0; k < v->len && o + 8 < out_size; k++) {
        unsigned char c = v->p[k];
        if (k == 40) {
            o += (size_t)snprintf(out + o, out_size - o, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", c);
    }
    snprintf(out + o, out_size - o, "'");
}

__attribute__((format(printf, 5, 6))) static cdc_convert_status_t
misfit(const cdc_column_t *col, const cdc_value_t *v, char *errstr, size_t errstr_size,
       const char *fmt, ...)
{
    char val[200], type[48], why[200];
    va_list ap;

    describe_value(v, val, sizeof val);
    cdc_convert_type_name(&col->type, type, sizeof type);
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(errstr, errstr_size, "column %s: %s in a %s column: %s", col->name, val, type, why);
    return CDC_CONVERT_MISFIT;
}

/*
 * A decimal number parsed into digits D (no leading zeros, empty for zero) and exponent
 * E (value = D * 10^E), plus the display scale PostgreSQL keeps (fraction digits as
 * written). D is stored in the scratch buffer at offset 0.
 */
typedef struct dec_s {
    int neg;
    size_t ndig;
    int64_t exp;
    int64_t dscale;
} dec_t;

static int dec_parse(const unsigned char *s, size_t len, dec_t *d, cdc_buf_t *scratch)
{
    size_t i = 0, nfrac = 0, nmant = 0;
    int64_t e = 0;

    cdc_buf_reset(scratch);
    d->neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        d->neg = s[i++] == '-';
    for (int frac = 0; i < len; i++) {
        if (s[i] == '.' && !frac) {
            frac = 1;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            break;
        nmant++;
        nfrac += (size_t)frac;
        if (s[i] != '0' || scratch->len > 0)
            cdc_buf_put_byte(scratch, s[i]);
    }
    if (nmant == 0)
        return -1;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        size_t nexp = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nexp++)
            if (e < 1000000000) /* clamp: anything this large fails the range checks */
                e = e * 10 + (s[i] - '0');
        if (nexp == 0)
            return -1;
        if (eneg)
            e = -e;
    }
    if (i != len)
        return -1;
    d->ndig = scratch->len;
    d->exp = e - (int64_t)nfrac;
    d->dscale = d->exp < 0 ? -d->exp : 0;
    return 0;
}

/* NUMERIC: appends PostgreSQL's output form of d after the digits in scratch. */
static int dec_to_numeric_text(const dec_t *d, cdc_buf_t *scratch, size_t *off, char *why,
                               size_t why_size)
{
    int64_t nint = (int64_t)d->ndig + d->exp; /* digits before the point */
    size_t start = scratch->len;

    if (d->dscale > PG_NUMERIC_MAX_FRAC_DIGITS ||
        (d->ndig > 0 && nint > PG_NUMERIC_MAX_INT_DIGITS)) {
        snprintf(why, why_size, "outside PostgreSQL's numeric range");
        return -1;
    }
    if (d->ndig == 0) {
        cdc_buf_put_byte(scratch, '0');
        if (d->dscale > 0)
            cdc_buf_put_byte(scratch, '.');
        for (int64_t k = 0; k < d->dscale; k++)
            cdc_buf_put_byte(scratch, '0');
        goto out;
    }
    if (d->neg)
        cdc_buf_put_byte(scratch, '-');
    if (nint <= 0) {
        cdc_buf_put_str(scratch, "0.");
        for (int64_t k = 0; k < -nint; k++)
            cdc_buf_put_byte(scratch, '0');
        for (size_t k = 0; k < d->ndig; k++)
            cdc_buf_put_byte(scratch, scratch->data[k]);
        goto out;
    }
    for (int64_t k = 0; k < nint; k++)
        cdc_buf_put_byte(scratch, (size_t)k < d->ndig ? scratch->data[k] : (unsigned char)'0');
    if ((int64_t)d->ndig > nint) {
        cdc_buf_put_byte(scratch, '.');
        for (size_t k = (size_t)nint; k < d->ndig; k++)
            cdc_buf_put_byte(scratch, scratch->data[k]);
    }
out:
    *off = start;
    return 0;
}

/* DECIMAL(p,s): appends the unscaled integer as minimal big-endian two's complement. */
static int dec_to_decimal_bytes(dec_t *d, int p, int s, cdc_buf_t *scratch, size_t *off, char *why,
                                size_t why_size)
{
    int64_t nunscaled;
    size_t mag_off, n, start;

    /* Trailing zeros are not decimals: 1.500 fits DECIMAL(p,2). */
    while (d->ndig > 0 && scratch->data[d->ndig - 1] == '0') {
        d->ndig--;
        d->exp++;
    }
    if (d->ndig == 0) {
        *off = scratch->len;
        cdc_buf_put_byte(scratch, 0);
        return 0;
    }
    if (d->exp < -(int64_t)s) {
        snprintf(why, why_size, "%" PRId64 " decimals, the column keeps %d (never rounded)",
                 -d->exp, s);
        return -1;
    }
    nunscaled = (int64_t)d->ndig + d->exp + s;
    if (nunscaled > p) {
        snprintf(why, why_size, "needs %" PRId64 " digits, the column holds %d", nunscaled, p);
        return -1;
    }
    /* Magnitude in base 256, little-endian, built digit by digit (p is small). */
    scratch->len = d->ndig;
    mag_off = scratch->len;
    cdc_buf_reserve(scratch, (size_t)nunscaled / 2 + 4);
    n = 0;
    for (int64_t k = 0; k < nunscaled; k++) {
        unsigned carry = (size_t)k < d->ndig ? (unsigned)(scratch->data[k] - '0') : 0;
        for (size_t b = 0; b < n; b++) {
            unsigned v = scratch->data[mag_off + b] * 10u + carry;
            scratch->data[mag_off + b] = (unsigned char)(v & 0xff);
            carry = v >> 8;
        }
        if (carry > 0) {
            cdc_buf_put_byte(scratch, (unsigned char)carry);
            n++;
        }
    }
    if (d->neg) {
        unsigned c = 1;
        for (size_t b = 0; b < n; b++) {
            unsigned v = (unsigned)(unsigned char)~scratch->data[mag_off + b] + c;
            scratch->data[mag_off + b] = (unsigned char)v;
            c = v >> 8;
        }
    }
    /* Sign byte when the top bit does not already say the right thing. */
    start = scratch->len;
    if (d->neg && !(scratch->data[mag_off + n - 1] & 0x80))
        cdc_buf_put_byte(scratch, 0xff);
    else if (!d->neg && (scratch->data[mag_off + n - 1] & 0x80))
        cdc_buf_put_byte(scratch, 0x00);
    for (size_t b = n; b > 0; b--)
        cdc_buf_put_byte(scratch, scratch->data[mag_off + b - 1]);
    *off = start;
    return 0;
}

static cdc_convert_status_t conv_decimal(const cdc_column_t *col, const cdc_value_t *v,
                                         cdc_mapped_t *out, cdc_buf_t *scratch, char *errstr,
                                         size_t errstr_size)
{
    char text[CDC_REAL_TEXT_MAX], why[160];
    const unsigned char *s;
    size_t len, off;
    dec_t d;
    int rc;

    if (v->type == CDC_VAL_INTEGER) {
        snprintf(text, sizeof text, "%" PRId64, v->i);
        s = (const unsigned char *)text;
    } else if (v->type == CDC_VAL_REAL) {
        if (!isfinite(v->r))
            return misfit(col, v, errstr, errstr_size, "not a finite number");
        cdc_convert_real_text(v->r, text);
        s = (const unsigned char *)text;
    } else if (v->type == CDC_VAL_TEXT) {
        s = v->p;
    } else {
        return misfit(col, v, errstr, errstr_size, "a blob is not a number");
    }
    len = s == v->p ? v->len : strlen(text);
    if (dec_parse(s, len, &d, scratch) < 0)
        return misfit(col, v, errstr, errstr_size, "not a decimal number");
    if (col->type.kind == CDC_COL_DECIMAL)
        rc = dec_to_decimal_bytes(&d, col->type.precision, col->type.scale, scratch, &off, why,
                                  sizeof why);
    else
        rc = dec_to_numeric_text(&d, scratch, &off, why, sizeof why);
    if (rc < 0)
        return misfit(col, v, errstr, errstr_size, "%s", why);
    out->p = scratch->data + off;
    out->len = scratch->len - off;
    return CDC_CONVERT_OK;
}

static cdc_convert_status_t conv_time(const cdc_column_t *col, const cdc_value_t *v,
                                      cdc_mapped_t *out, char *errstr, size_t errstr_size)
{
    char why[160];
    int64_t us;

    if (v->type == CDC_VAL_INTEGER) {
        if (v->i < TS_MIN_SEC || v->i >= TS_END_SEC)
            return misfit(col, v, errstr, errstr_size, "unix seconds outside years 4714 BC-9999");
        us = v->i * US_PER_SEC;
    } else if (v->type == CDC_VAL_REAL) {
        int64_t ijd;
        if (!(v->r >= 0.0 && v->r < 5373484.5))
            return misfit(col, v, errstr, errstr_size, "julian day outside 0-5373484.5");
        /* SQLite's own rounding (date.c): whole milliseconds, half up. A julian day as a
         * double resolves ~40 µs, so finer digits would be noise. */
        ijd = (int64_t)(v->r * 86400000.0 + 0.5);
        us = (ijd - 210866760000000LL) * 1000;
    } else if (v->type == CDC_VAL_TEXT) {
        if (cdc_convert_parse_timestamp(v->p, v->len, &us, why, sizeof why) < 0)
            return misfit(col, v, errstr, errstr_size, "%s", why);
    } else {
        return misfit(col, v, errstr, errstr_size, "a blob is not a time");
    }
    if (col->type.kind == CDC_COL_DATE) {
        if (us % US_PER_DAY != 0)
            return misfit(col, v, errstr, errstr_size, "not midnight UTC (a date has no time)");
        us /= US_PER_DAY;
    }
    out->l = us;
    return CDC_CONVERT_OK;
}

static cdc_convert_status_t conv_text(const cdc_column_t *col, const cdc_value_t *v,
                                      cdc_mapped_t *out, cdc_buf_t *scratch, char *errstr,
                                      size_t errstr_size)
{
    char why[160];
    size_t ncp, bad;

    if (v->type == CDC_VAL_INTEGER || v->type == CDC_VAL_REAL) {
        char text[CDC_REAL_TEXT_MAX + 2];
        /* SQLite keeps 1 and '1' apart as keys; as text they would become one key. */
        if (col->pk_index > 0)
            return misfit(col, v, errstr, errstr_size,
                          "a number in a text key column would collide with its text form "
                          "(override the column type)");
        cdc_buf_reset(scratch);
        if (v->type == CDC_VAL_INTEGER) {
            snprintf(text, sizeof text, "%" PRId64, v->i);
        } else {
            cdc_convert_real_text(v->r, text);
            if (!isfinite(v->r) && col->type.kind == CDC_COL_JSON)
                return misfit(col, v, errstr, errstr_size, "not a JSON number");
            /* Integral reals read "1.0" as SQLite's CAST(1.0 AS TEXT) writes them. */
            if (col->type.kind == CDC_COL_TEXT && isfinite(v->r) &&
                strspn(text, "-0123456789") == strlen(text))
                strcat(text, ".0");
        }
        cdc_buf_put_str(scratch, text);
        if (col->type.max_length > 0 && scratch->len > (size_t)col->type.max_length)
            return misfit(col, v, errstr, errstr_size, "%zu characters, at most %d", scratch->len,
                          col->type.max_length);
        out->p = scratch->data;
        out->len = scratch->len;
        return CDC_CONVERT_OK;
    }
    if (v->type != CDC_VAL_TEXT)
        return misfit(col, v, errstr, errstr_size, "a blob is not text");
    if (cdc_convert_utf8_check(v->p, v->len, &ncp, &bad) < 0)
        return misfit(col, v, errstr, errstr_size, "invalid UTF-8 at byte %zu", bad);
    if (col->type.kind == CDC_COL_JSON) {
        if (cdc_convert_json_check(v->p, v->len, why, sizeof why) < 0)
            return misfit(col, v, errstr, errstr_size, "%s", why);
    } else {
        const void *nul = v->len > 0 ? memchr(v->p, 0, v->len) : NULL;
        if (nul != NULL)
            return misfit(col, v, errstr, errstr_size,
                          "NUL character at byte %zu (PostgreSQL text cannot hold it)",
                          (size_t)((const unsigned char *)nul - v->p));
        if (col->type.max_length > 0 && ncp > (size_t)col->type.max_length)
            return misfit(col, v, errstr, errstr_size, "%zu characters, at most %d", ncp,
                          col->type.max_length);
    }
    out->p = v->p;
    out->len = v->len;
    return CDC_CONVERT_OK;
}

cdc_convert_status_t cdc_convert_value(const cdc_column_t *col, const cdc_value_t *v,
                                       cdc_mapped_t *out, cdc_buf_t *scratch, char *errstr,
                                       size_t errstr_size)
{
    memset(out, 0, sizeof *out);
    out->kind = col->type.kind;
    if (v->type == CDC_VAL_NULL) {
        if (col->not_null || col->pk_index > 0)
            return misfit(col, v, errstr, errstr_size,
                          col->pk_index > 0 ? "a key column cannot be null"
                                            : "the column is NOT NULL");
        out->is_null = 1;
        return CDC_CONVERT_OK;
    }
    switch (col->type.kind) {
    case CDC_COL_LONG:
        if (v->type == CDC_VAL_INTEGER) {
            out->l = v->i;
            return CDC_CONVERT_OK;
        }
        if (v->type == CDC_VAL_REAL && v->r == trunc(v->r) && v->r >= -9223372036854775808.0 &&
            v->r < 9223372036854775808.0) {
            out->l = (int64_t)v->r;
            return CDC_CONVERT_OK;
        }
        return misfit(col, v, errstr, errstr_size, "not an integer");
    case CDC_COL_DOUBLE:
        if (v->type == CDC_VAL_REAL) {
            out->d = v->r;
            return CDC_CONVERT_OK;
        }
        if (v->type == CDC_VAL_INTEGER) {
            double d = (double)v->i;
            if (d < 9223372036854775808.0 && (int64_t)d == v->i) {
                out->d = d;
                return CDC_CONVERT_OK;
            }
            return misfit(col, v, errstr, errstr_size, "not exactly representable as a double");
        }
        return misfit(col, v, errstr, errstr_size, "not a number");
    case CDC_COL_DECIMAL:
    case CDC_COL_NUMERIC:
        return conv_decimal(col, v, out, scratch, errstr, errstr_size);
    case CDC_COL_BOOLEAN:
        if (v->type == CDC_VAL_INTEGER && (v->i == 0 || v->i == 1)) {
            out->l = v->i;
            return CDC_CONVERT_OK;
        }
        return misfit(col, v, errstr, errstr_size, "a boolean is integer 0 or 1");
    case CDC_COL_TIMESTAMP:
    case CDC_COL_DATE:
        return conv_time(col, v, out, errstr, errstr_size);
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
        return conv_text(col, v, out, scratch, errstr, errstr_size);
    case CDC_COL_BLOB:
        if (v->type == CDC_VAL_BLOB || v->type == CDC_VAL_TEXT) {
            out->p = v->p;
            out->len = v->len;
            return CDC_CONVERT_OK;
        }
        return misfit(col, v, errstr, errstr_size, "a number is not a blob");
    }
    return misfit(col, v, errstr, errstr_size, "unknown column kind %d", (int)col->type.kind);
}

int cdc_convert_decimal_text(const unsigned char *bytes, size_t len, int scale, cdc_buf_t *out)
{
    unsigned char small[64], *mag = small;
    size_t start = out->len, n, nd;
    int neg;

    if (len == 0)
        return -1;
    if (len > sizeof small)
        mag = cdc_malloc(len);
    neg = (bytes[0] & 0x80) != 0;
    /* Magnitude, big-endian: negate a negative two's complement value. */
    for (size_t k = 0; k < len; k++)
        mag[k] = neg ? (unsigned char)~bytes[k] : bytes[k];
    if (neg) {
        for (size_t k = len; k > 0; k--)
            if (++mag[k - 1] != 0)
                break;
    }
    /* Digits, least significant first, by repeated division by 10. */
    n = len;
    for (;;) {
        unsigned rem = 0;
        int nonzero = 0;
        for (size_t k = 0; k < n; k++) {
            unsigned v = (rem << 8) | mag[k];
            mag[k] = (unsigned char)(v / 10);
            rem = v % 10;
            nonzero |= mag[k] != 0;
        }
        cdc_buf_put_byte(out, (unsigned char)('0' + rem));
        if (!nonzero)
            break;
    }
    nd = out->len - start;
    while (nd <= (size_t)scale) { /* at least one digit before the point */
        cdc_buf_put_byte(out, '0');
        nd++;
    }
    if (neg)
        cdc_buf_put_byte(out, '-');
    /* Reverse in place, then open a gap for the point. */
    for (size_t a = start, b = out->len - 1; a < b; a++, b--) {
        unsigned char t = out->data[a];
        out->data[a] = out->data[b];
        out->data[b] = t;
    }
    if (scale > 0) {
        cdc_buf_put_byte(out, 0);
        memmove(out->data + out->len - (size_t)scale, out->data + out->len - 1 - (size_t)scale,
                (size_t)scale);
        out->data[out->len - 1 - (size_t)scale] = '.';
    }
    if (mag != small)
        free(mag);
    return 0;
}
