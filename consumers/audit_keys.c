/*
 * audit_keys: the key order both sides stream in, and the renderings of a key.
 *
 * The order is defined on mapped values (cdc_convert.h), per key part: LONG, BOOLEAN,
 * TIMESTAMP and DATE by their integer (the instant), DOUBLE numerically, TEXT and BLOB
 * bytewise (memcmp, then the shorter first). PostgreSQL gives it with ORDER BY on bigint,
 * boolean, timestamptz, date, double precision, bytea and text COLLATE "C". SQLite gives
 * it with ORDER BY ... COLLATE BINARY for the storage classes these kinds accept, and for
 * TIMESTAMP/DATE (text with offsets, unix seconds, julian days) through julianday()
 * (audit_source.c). Both scans are checked to be strictly ascending in this order, so a
 * disagreement is reported as an error, never as phantom differences. DECIMAL, NUMERIC
 * and JSON keys (SQLite may keep them as text that sorts by characters) are refused by
 * audit_key_orderable(): such tables get counts and checksums only (docs/audit.md).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "cdc_convert.h"
#include "cdc_alloc.h"

static int bytes_cmp(const cdc_mapped_t *a, const cdc_mapped_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

int audit_key_cmp(const audit_table_t *t, const cdc_mapped_t *a, const cdc_mapped_t *b)
{
    for (size_t k = 0; k < t->nkeys; k++) {
        size_t i = t->key_col[k];
        const cdc_mapped_t *x = &a[i], *y = &b[i];
        int c = 0;
        if (x->is_null || y->is_null) {
            c = x->is_null == y->is_null ? 0 : x->is_null ? -1 : 1;
        } else {
            switch (t->cols[i].type.kind) {
            case CDC_COL_DOUBLE:
                c = x->d < y->d ? -1 : x->d > y->d ? 1 : 0;
                break;
            case CDC_COL_TEXT:
            case CDC_COL_BLOB:
                c = bytes_cmp(x, y);
                break;
            default:
                c = x->l < y->l ? -1 : x->l > y->l ? 1 : 0;
                break;
            }
        }
        if (c != 0)
            return c;
    }
    return 0;
}

int audit_key_orderable(const audit_table_t *t, char *errstr, size_t errstr_size)
{
    for (size_t k = 0; k < t->nkeys; k++) {
        const cdc_column_t *c = &t->cols[t->key_col[k]];
        switch (c->type.kind) {
        case CDC_COL_LONG:
        case CDC_COL_BOOLEAN:
        case CDC_COL_DOUBLE:
        case CDC_COL_TEXT:
        case CDC_COL_BLOB:
        case CDC_COL_TIMESTAMP:
        case CDC_COL_DATE:
            break;
        default:
            snprintf(errstr, errstr_size,
                     "key column %s maps to %s, whose SQLite storage does not sort like the "
                     "target's values: rows cannot be merged by key (counts and checksums "
                     "only)",
                     c->name, cdc_types_kind_name(c->type.kind));
            return -1;
        }
    }
    return 0;
}

static void put_hex(cdc_buf_t *out, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        cdc_buf_put_byte(out, (unsigned char)hex[p[i] >> 4]);
        cdc_buf_put_byte(out, (unsigned char)hex[p[i] & 15]);
    }
}

void audit_key_pgtext(const audit_table_t *t, size_t k, const cdc_mapped_t *vals, cdc_buf_t *out)
{
    const cdc_column_t *c = &t->cols[t->key_col[k]];
    const cdc_mapped_t *v = &vals[t->key_col[k]];
    switch (c->type.kind) {
    case CDC_COL_BOOLEAN:
        cdc_buf_put_str(out, v->l ? "t" : "f");
        break;
    case CDC_COL_DOUBLE:
        cdc_buf_printf(out, "%.17g", v->d);
        break;
    case CDC_COL_TEXT:
        cdc_buf_put(out, v->p, v->len);
        break;
    case CDC_COL_BLOB:
        cdc_buf_put_str(out, "\\x");
        put_hex(out, v->p, v->len);
        break;
    case CDC_COL_TIMESTAMP: /* µs since the epoch: PostgreSQL wants timestamptz text */
        cdc_convert_format_timestamp(v->l, out);
        cdc_buf_put_str(out, "+00");
        break;
    case CDC_COL_DATE: /* days since the epoch: PostgreSQL wants date text */
        cdc_convert_format_date(v->l, out);
        break;
    default:
        cdc_buf_printf(out, "%" PRId64, v->l);
        break;
    }
}

/* Appends a JSON string of n bytes (control characters escaped; other bytes as is). */
static void put_json_str(cdc_buf_t *out, const unsigned char *p, size_t n)
{
    cdc_buf_put_byte(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') {
            cdc_buf_put_byte(out, '\\');
            cdc_buf_put_byte(out, ch);
        } else if (ch < 0x20) {
            cdc_buf_printf(out, "\\u%04x", ch);
        } else {
            cdc_buf_put_byte(out, ch);
        }
    }
    cdc_buf_put_byte(out, '"');
}

/* Same conventions as cdc_table_codec_key_json: numbers, strings, BLOBs as "x'hex'". */
void audit_key_json_mapped(const audit_table_t *t, const cdc_mapped_t *vals, cdc_buf_t *out)
{
    cdc_buf_put_byte(out, '{');
    for (size_t k = 0; k < t->nkeys; k++) {
        const cdc_column_t *c = &t->cols[t->key_col[k]];
        const cdc_mapped_t *v = &vals[t->key_col[k]];
        if (k)
            cdc_buf_put_byte(out, ',');
        put_json_str(out, (const unsigned char *)c->name, strlen(c->name));
        cdc_buf_put_byte(out, ':');
        if (v->is_null) {
            cdc_buf_put_str(out, "null");
            continue;
        }
        switch (c->type.kind) {
        case CDC_COL_DOUBLE:
            cdc_buf_printf(out, "%.17g", v->d);
            break;
        case CDC_COL_TEXT:
            put_json_str(out, v->p, v->len);
            break;
        case CDC_COL_BLOB:
            cdc_buf_put_str(out, "\"x'");
            put_hex(out, v->p, v->len);
            cdc_buf_put_str(out, "'\"");
            break;
        default:
            cdc_buf_printf(out, "%" PRId64, v->l);
            break;
        }
    }
    cdc_buf_put_byte(out, '}');
}

/* The SQLite key value of a target-only row, as the change log would hold it: the kinds
 * audit_key_orderable() accepts map back one to one. */
static cdc_value_t sqlite_key(const cdc_column_t *c, const cdc_mapped_t *v)
{
    cdc_value_t out = {CDC_VAL_INTEGER, v->l, 0, NULL, 0};
    if (c->type.kind == CDC_COL_DOUBLE) {
        out.type = CDC_VAL_REAL;
        out.r = v->d;
    } else if (c->type.kind == CDC_COL_TEXT || c->type.kind == CDC_COL_BLOB) {
        out.type = c->type.kind == CDC_COL_TEXT ? CDC_VAL_TEXT : CDC_VAL_BLOB;
        out.p = v->p;
        out.len = v->len;
    }
    return out;
}

void audit_key_keep(const audit_table_t *t, const cdc_mapped_t *vals, const cdc_value_t *raw,
                    char kind, audit_key_t *k)
{
    cdc_buf_t b = CDC_BUF_INIT;
    size_t total = 0, off = 0;

    memset(k, 0, sizeof *k);
    k->kind = kind;
    if (raw != NULL && kind != 'x')
        cdc_table_codec_row_key_json(t->codec, raw, &b);
    else
        audit_key_json_mapped(t, vals, &b);
    k->json = cdc_strdup(cdc_buf_cstr(&b));
    k->kv = cdc_calloc(t->nkeys, sizeof *k->kv);
    k->pgtext = cdc_calloc(t->nkeys, sizeof *k->pgtext);
    for (size_t p = 0; p < t->nkeys; p++) {
        size_t i = t->key_col[p];
        k->kv[p] = raw != NULL ? raw[i] : sqlite_key(&t->cols[i], &vals[i]);
        if (k->kv[p].type == CDC_VAL_TEXT || k->kv[p].type == CDC_VAL_BLOB)
            total += k->kv[p].len + 1;
        if (vals != NULL && kind != 'f') {
            cdc_buf_reset(&b);
            audit_key_pgtext(t, p, vals, &b);
            k->pgtext[p] = cdc_strdup(cdc_buf_cstr(&b));
        }
    }
    /* The key's text and blob bytes, owned (they pointed into a statement row). */
    k->bytes = cdc_malloc(total + 1);
    for (size_t p = 0; p < t->nkeys; p++) {
        if (k->kv[p].type != CDC_VAL_TEXT && k->kv[p].type != CDC_VAL_BLOB)
            continue;
        if (k->kv[p].len)
            memcpy(k->bytes + off, k->kv[p].p, k->kv[p].len);
        k->bytes[off + k->kv[p].len] = 0;
        k->kv[p].p = k->bytes + off;
        off += k->kv[p].len + 1;
    }
    cdc_buf_free(&b);
}

void audit_key_free(audit_key_t *k, size_t nkeys)
{
    if (k->pgtext != NULL)
        for (size_t p = 0; p < nkeys; p++)
            free(k->pgtext[p]);
    free(k->pgtext);
    free(k->kv);
    free(k->bytes);
    free(k->json);
    free(k->why);
    memset(k, 0, sizeof *k);
}
