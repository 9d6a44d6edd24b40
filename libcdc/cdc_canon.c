/*
 * cdc_canon: canonical rows (layout in cdc_canon.h). Values are appended straight into
 * the output buffer behind a length placeholder that is patched afterwards, so building
 * a row needs no scratch memory beyond the output buffer itself (JSON excepted, whose
 * objects are sorted in temporary memory).
 */
#include "cdc_canon.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cdc_json_canon.h"

static unsigned char kind_tag(cdc_col_kind_t kind)
{
    switch (kind) {
    case CDC_COL_LONG:
        return CDC_CANON_TAG_LONG;
    case CDC_COL_DOUBLE:
        return CDC_CANON_TAG_DOUBLE;
    case CDC_COL_DECIMAL:
        return CDC_CANON_TAG_DECIMAL;
    case CDC_COL_NUMERIC:
        return CDC_CANON_TAG_NUMERIC;
    case CDC_COL_BOOLEAN:
        return CDC_CANON_TAG_BOOLEAN;
    case CDC_COL_TIMESTAMP:
        return CDC_CANON_TAG_TIMESTAMP;
    case CDC_COL_DATE:
        return CDC_CANON_TAG_DATE;
    case CDC_COL_TEXT:
        return CDC_CANON_TAG_TEXT;
    case CDC_COL_JSON:
        return CDC_CANON_TAG_JSON;
    case CDC_COL_BLOB:
        return CDC_CANON_TAG_BLOB;
    }
    return 0xff;
}

static void put_be32_at(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_be64(cdc_buf_t *b, uint64_t v)
{
    unsigned char x[8];
    for (int k = 7; k >= 0; k--) {
        x[k] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    cdc_buf_put(b, x, sizeof x);
}

void cdc_canon_begin(cdc_buf_t *out, size_t ncols)
{
    unsigned char n[4];

    cdc_buf_reset(out);
    cdc_buf_put_byte(out, CDC_CANON_VERSION);
    put_be32_at(n, (uint32_t)ncols);
    cdc_buf_put(out, n, sizeof n);
}

/* DOUBLE: the bit pattern, with one NaN. -0.0 is kept: PostgreSQL stores and prints
 * "-0", so a source -0.0 that arrived as -0 is equal and one that arrived as 0 is not. */
static uint64_t double_bits(double d)
{
    uint64_t u;
    if (isnan(d))
        return 0x7ff8000000000000ULL;
    memcpy(&u, &d, sizeof u);
    return u;
}

int cdc_canon_add(cdc_buf_t *out, const cdc_col_type_t *type, const cdc_mapped_t *v, char *errstr,
                  size_t errstr_size)
{
    size_t start = out->len, body;
    unsigned char tag = kind_tag(type->kind);
    char why[160] = "";

    if (v->is_null) {
        cdc_buf_put_byte(out, CDC_CANON_TAG_NULL);
        return 0;
    }
    if (tag == 0xff || v->kind != type->kind) {
        snprintf(why, sizeof why, "a %s value in a %s column", cdc_types_kind_name(v->kind),
                 cdc_types_kind_name(type->kind));
        goto fail;
    }
    cdc_buf_put_byte(out, tag);
    cdc_buf_put(out, "\0\0\0\0", 4); /* length, patched below */
    body = out->len;
    switch (type->kind) {
    case CDC_COL_LONG:
    case CDC_COL_TIMESTAMP:
    case CDC_COL_DATE:
        put_be64(out, (uint64_t)v->l);
        break;
    case CDC_COL_DOUBLE:
        put_be64(out, double_bits(v->d));
        break;
    case CDC_COL_BOOLEAN:
        if (v->l != 0 && v->l != 1) {
            snprintf(why, sizeof why, "boolean value %" PRId64 " is neither 0 nor 1", v->l);
            goto fail;
        }
        cdc_buf_put_byte(out, (unsigned char)v->l);
        break;
    case CDC_COL_DECIMAL:
        if (cdc_convert_decimal_text(v->p, v->len, type->scale, out) < 0) {
            snprintf(why, sizeof why, "empty decimal bytes");
            goto fail;
        }
        break;
    case CDC_COL_NUMERIC:
        if (cdc_json_canon_numeric(v->p, v->len, out, why, sizeof why) < 0)
            goto fail;
        break;
    case CDC_COL_JSON:
        if (cdc_json_canon(v->p, v->len, out, why, sizeof why) < 0)
            goto fail;
        break;
    case CDC_COL_TEXT:
    case CDC_COL_BLOB:
        cdc_buf_put(out, v->p, v->len);
        break;
    }
    if (out->len - body > UINT32_MAX) {
        snprintf(why, sizeof why, "value of %zu bytes is too long (4 GiB at most)",
                 out->len - body);
        goto fail;
    }
    put_be32_at(out->data + body - 4, (uint32_t)(out->len - body));
    return 0;
fail:
    out->len = start;
    snprintf(errstr, errstr_size, "%s", why);
    return -1;
}

int cdc_canon_row(const cdc_column_t *cols, const cdc_mapped_t *vals, size_t ncols, cdc_buf_t *out,
                  char *errstr, size_t errstr_size)
{
    char why[200];

    cdc_canon_begin(out, ncols);
    for (size_t k = 0; k < ncols; k++) {
        if (cdc_canon_add(out, &cols[k].type, &vals[k], why, sizeof why) < 0) {
            snprintf(errstr, errstr_size, "column %s: %s", cols[k].name, why);
            return -1;
        }
    }
    return 0;
}

static const char *tag_name(unsigned char tag)
{
    static const char *const names[] = {"NULL",    "LONG",    "DOUBLE",    "DECIMAL",
                                        "NUMERIC", "BOOLEAN", "TIMESTAMP", "DATE",
                                        "TEXT",    "JSON",    "BLOB"};
    return tag < sizeof names / sizeof names[0] ? names[tag] : NULL;
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = (v << 8) | p[k];
    return v;
}

/* Quoted, C-escaped text; at most max bytes shown. */
static void describe_text(const unsigned char *p, size_t n, size_t max, cdc_buf_t *out)
{
    cdc_buf_put_byte(out, '"');
    for (size_t k = 0; k < n && k < max; k++) {
        if (p[k] == '"' || p[k] == '\\')
            cdc_buf_printf(out, "\\%c", p[k]);
        else if (p[k] < 0x20 || p[k] == 0x7f)
            cdc_buf_printf(out, "\\x%02x", p[k]);
        else
            cdc_buf_put_byte(out, p[k]);
    }
    cdc_buf_put_str(out, n > max ? "\"..." : "\"");
}

void cdc_canon_describe(const unsigned char *p, size_t len, size_t max_value, cdc_buf_t *out)
{
    size_t i = 5;
    uint32_t n;

    if (len < 5 || p[0] != CDC_CANON_VERSION) {
        cdc_buf_put_str(out, "<malformed at byte 0>");
        return;
    }
    n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    cdc_buf_put_byte(out, '[');
    for (uint32_t c = 0; c < n; c++) {
        unsigned char tag;
        const char *name;
        size_t vlen;
        const unsigned char *v;

        if (c > 0)
            cdc_buf_put_str(out, ", ");
        if (i >= len || (name = tag_name(tag = p[i])) == NULL)
            goto bad;
        i++;
        if (tag == CDC_CANON_TAG_NULL) {
            cdc_buf_put_str(out, "NULL");
            continue;
        }
        if (len - i < 4)
            goto bad;
        vlen = (size_t)p[i] << 24 | (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
        i += 4;
        if (len - i < vlen)
            goto bad;
        v = p + i;
        i += vlen;
        cdc_buf_printf(out, "%s ", name);
        switch (tag) {
        case CDC_CANON_TAG_LONG:
            if (vlen != 8)
                goto bad;
            cdc_buf_printf(out, "%" PRId64, (int64_t)be64(v));
            break;
        case CDC_CANON_TAG_TIMESTAMP:
        case CDC_CANON_TAG_DATE: {
            int64_t x;
            if (vlen != 8)
                goto bad;
            x = (int64_t)be64(v);
            if (x == INT64_MAX || x == INT64_MIN)
                cdc_buf_put_str(out, x == INT64_MAX ? "infinity" : "-infinity");
            else if (tag == CDC_CANON_TAG_DATE)
                cdc_convert_format_date(x, out);
            else
                cdc_convert_format_timestamp(x, out);
            cdc_buf_printf(out, " (%" PRId64 ")", x);
            break;
        }
        case CDC_CANON_TAG_DOUBLE: {
            uint64_t u;
            double d;
            char txt[CDC_REAL_TEXT_MAX];
            if (vlen != 8)
                goto bad;
            u = be64(v);
            memcpy(&d, &u, sizeof d);
            cdc_convert_real_text(d, txt);
            cdc_buf_printf(out, "%s (%016" PRIx64 ")", txt, u);
            break;
        }
        case CDC_CANON_TAG_BOOLEAN:
            if (vlen != 1)
                goto bad;
            cdc_buf_put_str(out, v[0] ? "true" : "false");
            break;
        case CDC_CANON_TAG_BLOB:
            cdc_buf_put_str(out, "x'");
            for (size_t k = 0; k < vlen && k < max_value; k++)
                cdc_buf_printf(out, "%02x", v[k]);
            cdc_buf_put_str(out, vlen > max_value ? "'..." : "'");
            break;
        default:
            describe_text(v, vlen, max_value, out);
        }
    }
    if (i != len)
        goto bad;
    cdc_buf_put_byte(out, ']');
    return;
bad:
    cdc_buf_printf(out, "<malformed at byte %zu>", i);
}
