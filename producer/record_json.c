/*
 * record_json: the key of a row as JSON text (dead letters, logs) and the two SQLite value
 * helpers of record.h. The key JSON renders values as SQLite stores them, not as their
 * column maps them, because it must also name rows whose key value does not fit.
 */
#include "record.h"

#include <math.h>
#include <string.h>

#include "cdc_convert.h"
#include "sqlite_util.h"

static const char hex_digits[] = "0123456789abcdef";

/* Appends the valid UTF-8 bytes p[0..len) JSON-escaped (no quotes). */
static void put_escaped_utf8(cdc_buf_t *out, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') {
            cdc_buf_put_byte(out, '\\');
            cdc_buf_put_byte(out, ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            cdc_buf_printf(out, "\\u%04x", ch);
        } else {
            cdc_buf_put_byte(out, ch);
        }
    }
}

/* Appends p[0..len) as a JSON string: valid stretches escaped, every byte that is not part
 * of valid UTF-8 as the six characters \\xNN (a literal backslash, then x and two hex
 * digits), so the output is valid JSON whatever the input. */
static void put_json_string(cdc_buf_t *out, const unsigned char *p, size_t len)
{
    size_t off = 0;

    cdc_buf_put_byte(out, '"');
    while (off < len) {
        size_t bad = 0;
        if (cdc_convert_utf8_check(p + off, len - off, NULL, &bad) == 0) {
            put_escaped_utf8(out, p + off, len - off);
            break;
        }
        put_escaped_utf8(out, p + off, bad);
        cdc_buf_put_str(out, "\\\\x");
        cdc_buf_put_byte(out, (unsigned char)hex_digits[p[off + bad] >> 4]);
        cdc_buf_put_byte(out, (unsigned char)hex_digits[p[off + bad] & 15]);
        off += bad + 1;
    }
    cdc_buf_put_byte(out, '"');
}

/* Appends one stored value as JSON (rules in record.h). */
static void put_json_value(cdc_buf_t *out, const cdc_value_t *v)
{
    char num[CDC_REAL_TEXT_MAX];

    switch (v->type) {
    case CDC_VAL_NULL:
        cdc_buf_put_str(out, "null");
        break;
    case CDC_VAL_INTEGER:
        cdc_buf_printf(out, "%lld", (long long)v->i);
        break;
    case CDC_VAL_REAL:
        cdc_convert_real_text(v->r, num);
        if (isfinite(v->r)) {
            cdc_buf_put_str(out, num);
        } else {
            put_json_string(out, (const unsigned char *)num, strlen(num));
        }
        break;
    case CDC_VAL_TEXT:
        put_json_string(out, v->p, v->len);
        break;
    case CDC_VAL_BLOB:
        cdc_buf_put_str(out, "\"x'");
        for (size_t i = 0; i < v->len; i++) {
            cdc_buf_put_byte(out, (unsigned char)hex_digits[v->p[i] >> 4]);
            cdc_buf_put_byte(out, (unsigned char)hex_digits[v->p[i] & 15]);
        }
        cdc_buf_put_str(out, "'\"");
        break;
    }
}

/* row != NULL: values by column index; else key_vals by key position. */
static void put_key_json(const cdc_table_codec_t *c, const cdc_value_t *row,
                         const cdc_value_t *key_vals, cdc_buf_t *out)
{
    size_t ncols, nkeys = cdc_table_codec_key_count(c);
    const cdc_column_t *cols = cdc_table_codec_columns(c, &ncols);

    cdc_buf_put_byte(out, '{');
    for (size_t k = 0; k < nkeys; k++) {
        size_t ci = cdc_table_codec_key_column(c, k);
        if (k > 0)
            cdc_buf_put_byte(out, ',');
        put_json_string(out, (const unsigned char *)cols[ci].name, strlen(cols[ci].name));
        cdc_buf_put_byte(out, ':');
        put_json_value(out, row != NULL ? &row[ci] : &key_vals[k]);
    }
    cdc_buf_put_byte(out, '}');
}

void cdc_table_codec_row_key_json(const cdc_table_codec_t *c, const cdc_value_t *vals,
                                  cdc_buf_t *out)
{
    put_key_json(c, vals, NULL, out);
}

void cdc_table_codec_key_json(const cdc_table_codec_t *c, const cdc_value_t *key_vals,
                              cdc_buf_t *out)
{
    put_key_json(c, NULL, key_vals, out);
}

void cdc_record_values_from_stmt(sqlite3_stmt *stmt, int first_col, size_t n, cdc_value_t *out)
{
    cdc_sqlite_column_values(stmt, first_col, n, out);
}

int cdc_record_bind_values(sqlite3_stmt *stmt, int first_param, const cdc_value_t *vals, size_t n)
{
    int rc = SQLITE_OK;

    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        int param = first_param + (int)i;
        const cdc_value_t *v = &vals[i];

        switch (v->type) {
        case CDC_VAL_NULL:
            rc = sqlite3_bind_null(stmt, param);
            break;
        case CDC_VAL_INTEGER:
            rc = sqlite3_bind_int64(stmt, param, v->i);
            break;
        case CDC_VAL_REAL:
            rc = sqlite3_bind_double(stmt, param, v->r);
            break;
        case CDC_VAL_TEXT:
            /* A NULL pointer would bind SQL NULL: empty text stays text. */
            rc = sqlite3_bind_text64(stmt, param, v->p ? (const char *)v->p : "", v->len,
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
            break;
        case CDC_VAL_BLOB:
            if (v->len == 0)
                rc = sqlite3_bind_zeroblob(stmt, param, 0);
            else
                rc = sqlite3_bind_blob64(stmt, param, v->p, v->len, SQLITE_TRANSIENT);
            break;
        }
    }
    return rc;
}
