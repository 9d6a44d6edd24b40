/*
 * cdc_json_canon: canonical JSON (cdc_json_canon.h). A recursive-descent parser that
 * writes canonical output as it goes; only objects need buffering, because their members
 * must be sorted and deduplicated before they can be written.
 */
#include "cdc_json_canon.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_json_scan.h"

/* Same bound as cdc_convert_json_check: hostile nesting cannot exhaust the stack. */
#define JSON_MAX_DEPTH 1000

/* PostgreSQL's numeric limits (numeric.c: NUMERIC_WEIGHT_MAX, NUMERIC_DSCALE_MAX). */
#define PG_NUMERIC_MAX_INT_DIGITS  131072
#define PG_NUMERIC_MAX_FRAC_DIGITS 16383
/* numeric_in refuses an exponent at or beyond +-(INT_MAX / 2), whatever the mantissa. */
#define PG_NUMERIC_EXP_LIMIT ((int64_t)(INT_MAX / 2))

typedef struct jc_s {
    cdc_json_scan_t s;
    cdc_buf_t str; /* decoded string value being written */
} jc_t;

/* One object member: key (decoded UTF-8) and canonical value, both inside the object's
 * member buffer; idx is the position in the input, so the last duplicate can win. */
typedef struct member_s {
    size_t key_off, key_len, val_off, val_len, idx;
    const unsigned char *base;
} member_t;

static void put_utf8(cdc_buf_t *b, uint32_t cp)
{
    if (cp < 0x80) {
        cdc_buf_put_byte(b, (unsigned char)cp);
    } else if (cp < 0x800) {
        cdc_buf_put_byte(b, (unsigned char)(0xc0 | cp >> 6));
        cdc_buf_put_byte(b, (unsigned char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        cdc_buf_put_byte(b, (unsigned char)(0xe0 | cp >> 12));
        cdc_buf_put_byte(b, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        cdc_buf_put_byte(b, (unsigned char)(0x80 | (cp & 0x3f)));
    } else {
        cdc_buf_put_byte(b, (unsigned char)(0xf0 | cp >> 18));
        cdc_buf_put_byte(b, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
        cdc_buf_put_byte(b, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        cdc_buf_put_byte(b, (unsigned char)(0x80 | (cp & 0x3f)));
    }
}

/* Decodes the string at c->s.i (on its opening quote) and appends its UTF-8 to dst. Raw
 * bytes are copied as they are: the caller's text is valid UTF-8 (cdc_convert checked
 * it on the source side; PostgreSQL only returns valid UTF-8). */
static int decode_string(jc_t *c, cdc_buf_t *dst)
{
    c->s.i++;
    while (c->s.i < c->s.len) {
        unsigned char ch = c->s.p[c->s.i];
        size_t run = c->s.i;
        if (ch == '"') {
            c->s.i++;
            return 0;
        }
        if (ch < 0x20)
            return cdc_json_scan_fail(&c->s, "control character in string");
        if (ch != '\\') {
            while (c->s.i < c->s.len && c->s.p[c->s.i] != '"' && c->s.p[c->s.i] != '\\' &&
                   c->s.p[c->s.i] >= 0x20)
                c->s.i++;
            cdc_buf_put(dst, c->s.p + run, c->s.i - run);
            continue;
        }
        if (++c->s.i >= c->s.len)
            break;
        ch = c->s.p[c->s.i++];
        switch (ch) {
        case '"':
        case '\\':
        case '/':
            cdc_buf_put_byte(dst, ch);
            break;
        case 'b':
            cdc_buf_put_byte(dst, '\b');
            break;
        case 'f':
            cdc_buf_put_byte(dst, '\f');
            break;
        case 'n':
            cdc_buf_put_byte(dst, '\n');
            break;
        case 'r':
            cdc_buf_put_byte(dst, '\r');
            break;
        case 't':
            cdc_buf_put_byte(dst, '\t');
            break;
        case 'u': {
            uint32_t u;
            if (cdc_json_scan_escape_u(&c->s, &u) < 0)
                return -1;
            put_utf8(dst, u);
            break;
        }
        default:
            return cdc_json_scan_fail(&c->s, "bad escape in string");
        }
    }
    return cdc_json_scan_fail(&c->s, "unterminated string");
}

/* Writes decoded UTF-8 as a canonical JSON string (minimal escapes, see the header). */
static void encode_string(cdc_buf_t *out, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    cdc_buf_put_byte(out, '"');
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = s[k];
        const char *esc = NULL;
        char u[7];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        cdc_buf_put(out, s + run, k - run);
        run = k + 1;
        switch (ch) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            memcpy(u, "\\u00", 4);
            u[4] = hex[ch >> 4];
            u[5] = hex[ch & 0x0f];
            u[6] = '\0';
            esc = u;
        }
        cdc_buf_put_str(out, esc);
    }
    cdc_buf_put(out, s + run, n - run);
    cdc_buf_put_byte(out, '"');
}

/* A JSON number (RFC 8259 grammar, stricter than numeric's), written normalized. */
static int number(jc_t *c, cdc_buf_t *out)
{
    size_t start = c->s.i;
    char why[128];

    if (cdc_json_scan_number(&c->s) < 0)
        return -1;
    if (cdc_json_canon_numeric(c->s.p + start, c->s.i - start, out, why, sizeof why) < 0)
        return cdc_json_scan_fail(&c->s, "number outside PostgreSQL's numeric range");
    return 0;
}

/* true, false or null, written as they are. */
static int literal(jc_t *c, const char *word, cdc_buf_t *out)
{
    if (cdc_json_scan_literal(&c->s, word) < 0)
        return -1;
    cdc_buf_put_str(out, word);
    return 0;
}

static int member_cmp(const void *a, const void *b)
{
    const member_t *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int r = n > 0 ? memcmp(x->base + x->key_off, y->base + y->key_off, n) : 0;

    if (r != 0)
        return r;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx; /* duplicates: input order */
}

static int value(jc_t *c, cdc_buf_t *out, int depth);

/* An object: members into a local buffer, then sorted, deduplicated and written. */
static int object(jc_t *c, cdc_buf_t *out, int depth)
{
    cdc_buf_t mem = CDC_BUF_INIT;
    member_t *m = NULL;
    size_t n = 0, cap = 0;
    int rc = -1, first = 1;

    c->s.i++;
    cdc_json_scan_ws(&c->s);
    if (c->s.i < c->s.len && c->s.p[c->s.i] == '}') {
        c->s.i++;
        cdc_buf_put_str(out, "{}");
        return 0;
    }
    for (;;) {
        cdc_json_scan_ws(&c->s);
        if (c->s.i >= c->s.len || c->s.p[c->s.i] != '"') {
            cdc_json_scan_fail(&c->s, "expected a member name");
            goto out;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            m = cdc_realloc(m, cap * sizeof *m);
        }
        m[n].idx = n;
        m[n].key_off = mem.len;
        if (decode_string(c, &mem) < 0)
            goto out;
        m[n].key_len = mem.len - m[n].key_off;
        cdc_json_scan_ws(&c->s);
        if (c->s.i >= c->s.len || c->s.p[c->s.i] != ':') {
            cdc_json_scan_fail(&c->s, "expected ':'");
            goto out;
        }
        c->s.i++;
        m[n].val_off = mem.len;
        if (value(c, &mem, depth + 1) < 0)
            goto out;
        m[n].val_len = mem.len - m[n].val_off;
        n++;
        cdc_json_scan_ws(&c->s);
        if (c->s.i < c->s.len && c->s.p[c->s.i] == '}') {
            c->s.i++;
            break;
        }
        if (c->s.i >= c->s.len || c->s.p[c->s.i] != ',') {
            cdc_json_scan_fail(&c->s, "expected ',' or '}'");
            goto out;
        }
        c->s.i++;
    }
    for (size_t k = 0; k < n; k++)
        m[k].base = mem.data;
    qsort(m, n, sizeof *m, member_cmp);
    cdc_buf_put_byte(out, '{');
    for (size_t k = 0; k < n; k++) {
        /* Of equal keys (adjacent after sorting) only the last in input order is kept. */
        if (k + 1 < n && m[k].key_len == m[k + 1].key_len &&
            (m[k].key_len == 0 ||
             memcmp(mem.data + m[k].key_off, mem.data + m[k + 1].key_off, m[k].key_len) == 0))
            continue;
        if (!first)
            cdc_buf_put_byte(out, ',');
        first = 0;
        encode_string(out, mem.data + m[k].key_off, m[k].key_len);
        cdc_buf_put_byte(out, ':');
        cdc_buf_put(out, mem.data + m[k].val_off, m[k].val_len);
    }
    cdc_buf_put_byte(out, '}');
    rc = 0;
out:
    free(m);
    cdc_buf_free(&mem);
    return rc;
}

static int array(jc_t *c, cdc_buf_t *out, int depth)
{
    c->s.i++;
    cdc_buf_put_byte(out, '[');
    cdc_json_scan_ws(&c->s);
    if (c->s.i < c->s.len && c->s.p[c->s.i] == ']') {
        c->s.i++;
        cdc_buf_put_byte(out, ']');
        return 0;
    }
    for (;;) {
        if (value(c, out, depth + 1) < 0)
            return -1;
        cdc_json_scan_ws(&c->s);
        if (c->s.i < c->s.len && c->s.p[c->s.i] == ']') {
            c->s.i++;
            cdc_buf_put_byte(out, ']');
            return 0;
        }
        if (c->s.i >= c->s.len || c->s.p[c->s.i] != ',')
            return cdc_json_scan_fail(&c->s, "expected ',' or ']'");
        c->s.i++;
        cdc_buf_put_byte(out, ',');
    }
}

static int value(jc_t *c, cdc_buf_t *out, int depth)
{
    unsigned char ch;

    cdc_json_scan_ws(&c->s);
    if (c->s.i >= c->s.len)
        return cdc_json_scan_fail(&c->s, "unexpected end of input");
    ch = c->s.p[c->s.i];
    if ((ch == '{' || ch == '[') && depth >= JSON_MAX_DEPTH)
        return cdc_json_scan_fail(&c->s, "nesting too deep");
    if (ch == '{')
        return object(c, out, depth);
    if (ch == '[')
        return array(c, out, depth);
    if (ch == '"') {
        cdc_buf_reset(&c->str);
        if (decode_string(c, &c->str) < 0)
            return -1;
        encode_string(out, c->str.data, c->str.len);
        return 0;
    }
    if (ch == '-' || (ch >= '0' && ch <= '9'))
        return number(c, out);
    if (ch == 't')
        return literal(c, "true", out);
    if (ch == 'f')
        return literal(c, "false", out);
    if (ch == 'n')
        return literal(c, "null", out);
    return cdc_json_scan_fail(&c->s, "unexpected character");
}

int cdc_json_canon(const unsigned char *p, size_t len, cdc_buf_t *out, char *errstr,
                   size_t errstr_size)
{
    jc_t c = {{p, len, 0, NULL}, CDC_BUF_INIT};
    size_t start = out->len;
    int rc = -1;

    if (value(&c, out, 0) == 0) {
        cdc_json_scan_ws(&c.s);
        if (c.s.i == c.s.len)
            rc = 0;
        else
            c.s.why = "text after the JSON value";
    }
    if (rc < 0) {
        out->len = start;
        snprintf(errstr, errstr_size, "invalid JSON at byte %zu: %s", c.s.i, c.s.why);
    }
    cdc_buf_free(&c.str);
    return rc;
}

/* The k-th mantissa digit of a number whose integer digits are at s[ip..ip+ni) and
 * fraction digits at s[fp..). */
static unsigned char mant_digit(const unsigned char *s, size_t ip, size_t ni, size_t fp, size_t k)
{
    return k < ni ? s[ip + k] : s[fp + (k - ni)];
}

/* A decimal number text taken apart: value = mantissa digits * 10^exp10, the mantissa's
 * digits being s[ip..ip+ni) then s[fp..fp+nf); first is the index of its first non-zero
 * digit (nd if the value is zero), nint the count of significant digits before the
 * point and dscale the decimals numeric keeps. */
typedef struct num_s {
    size_t ip, ni, fp, nf, nd, first;
    int64_t exp10, nint, dscale;
    int neg;
} num_t;

enum { NUM_OK = 0, NUM_BAD = -1, NUM_RANGE = -2 };

/* Parses s[0..len) into n without allocating; NUM_BAD if it is not a decimal number,
 * NUM_RANGE if numeric_in would refuse it with "value overflows numeric format". */
static int num_parse(const unsigned char *s, size_t len, num_t *n)
{
    size_t i = 0;
    int64_t e = 0;

    memset(n, 0, sizeof *n);
    if (i < len && (s[i] == '+' || s[i] == '-'))
        n->neg = s[i++] == '-';
    n->ip = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    n->ni = i - n->ip;
    if (i < len && s[i] == '.') {
        n->fp = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        n->nf = i - n->fp;
    }
    if (n->ni + n->nf == 0)
        return NUM_BAD;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        size_t estart;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        estart = i;
        /* Saturates above PG_NUMERIC_EXP_LIMIT: once there, only "too large" matters. */
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (e <= PG_NUMERIC_EXP_LIMIT)
                e = e * 10 + (s[i] - '0');
        if (i == estart)
            return NUM_BAD;
        if (eneg)
            e = -e;
    }
    if (i != len)
        return NUM_BAD;

    n->exp10 = e - (int64_t)n->nf;
    n->dscale = n->exp10 < 0 ? -n->exp10 : 0;
    n->nd = n->ni + n->nf;
    for (n->first = 0; n->first < n->nd && mant_digit(s, n->ip, n->ni, n->fp, n->first) == '0';
         n->first++)
        ;
    n->nint = (int64_t)(n->nd - n->first) + n->exp10;
    /* numeric_in refuses such an exponent even on a zero mantissa ("0e1073741823"). */
    if (e >= PG_NUMERIC_EXP_LIMIT || e <= -PG_NUMERIC_EXP_LIMIT)
        return NUM_RANGE;
    if (n->dscale > PG_NUMERIC_MAX_FRAC_DIGITS ||
        (n->first < n->nd && n->nint > PG_NUMERIC_MAX_INT_DIGITS))
        return NUM_RANGE;
    return NUM_OK;
}

static int is_special(const unsigned char *s, size_t len)
{
    static const char *const special[] = {"NaN", "Infinity", "-Infinity"};

    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++)
        if (len == strlen(special[k]) && memcmp(s, special[k], len) == 0)
            return 1;
    return 0;
}

static int num_fail(int rc, char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "%s",
             rc == NUM_RANGE ? "number outside PostgreSQL's numeric range"
                             : "not a decimal number");
    return -1;
}

int cdc_json_canon_numeric_check(const unsigned char *s, size_t len, char *errstr,
                                 size_t errstr_size)
{
    num_t n;
    int rc;

    if (is_special(s, len))
        return 0;
    rc = num_parse(s, len, &n);
    return rc == NUM_OK ? 0 : num_fail(rc, errstr, errstr_size);
}

int cdc_json_canon_numeric(const unsigned char *s, size_t len, cdc_buf_t *out, char *errstr,
                           size_t errstr_size)
{
    num_t n;
    int rc;

    if (is_special(s, len)) {
        cdc_buf_put(out, s, len);
        return 0;
    }
    rc = num_parse(s, len, &n);
    if (rc != NUM_OK)
        return num_fail(rc, errstr, errstr_size);
    if (n.first == n.nd) { /* zero: no sign, but its decimals */
        cdc_buf_put_byte(out, '0');
        if (n.dscale > 0)
            cdc_buf_put_byte(out, '.');
        for (int64_t k = 0; k < n.dscale; k++)
            cdc_buf_put_byte(out, '0');
        return 0;
    }
    if (n.neg)
        cdc_buf_put_byte(out, '-');
    if (n.nint <= 0) {
        cdc_buf_put_str(out, "0.");
        for (int64_t k = 0; k < -n.nint; k++)
            cdc_buf_put_byte(out, '0');
        for (size_t k = n.first; k < n.nd; k++)
            cdc_buf_put_byte(out, mant_digit(s, n.ip, n.ni, n.fp, k));
        return 0;
    }
    for (int64_t k = 0; k < n.nint; k++)
        cdc_buf_put_byte(out, n.first + (size_t)k < n.nd
                                  ? mant_digit(s, n.ip, n.ni, n.fp, n.first + (size_t)k)
                                  : (unsigned char)'0');
    if ((int64_t)(n.nd - n.first) > n.nint) {
        cdc_buf_put_byte(out, '.');
        for (size_t k = n.first + (size_t)n.nint; k < n.nd; k++)
            cdc_buf_put_byte(out, mant_digit(s, n.ip, n.ni, n.fp, k));
    }
    return 0;
}
