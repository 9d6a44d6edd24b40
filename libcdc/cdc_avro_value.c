/*
 * cdc_avro_value: Avro binary encoders and decoders of the pipeline's records
 * (cdc_avro_value.h; layouts in cdc_avro_schema.h). Avro binary, briefly: int and long are
 * zigzag varints, double is 8 bytes little-endian, boolean one byte, string and bytes a
 * long length then the bytes, a union the long branch index then the value, a record its
 * fields in order.
 */
#include "cdc_avro_value.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cdc_avro_schema.h"

const char *cdc_avro_status_name(cdc_avro_status_t st)
{
    switch (st) {
    case CDC_AVRO_OK:
        return "ok";
    case CDC_AVRO_MISFIT:
        return "misfit";
    case CDC_AVRO_MALFORMED:
        return "malformed";
    case CDC_AVRO_INVALID:
        return "invalid";
    }
    return "unknown";
}

cdc_avro_str_t cdc_avro_str(const char *s)
{
    cdc_avro_str_t r = {s ? s : "", s ? strlen(s) : 0};
    return r;
}

int cdc_avro_column_nullable(const cdc_column_t *col)
{
    return !col->not_null && col->pk_index == 0;
}

/* ---------------------------------------------------------------- encoding */

static void put_bytes(cdc_buf_t *out, const void *p, size_t len)
{
    cdc_buf_put_varint_zigzag(out, (int64_t)len);
    cdc_buf_put(out, p, len);
}

static void put_str(cdc_buf_t *out, cdc_avro_str_t s)
{
    put_bytes(out, s.p, s.len);
}

static void put_double(cdc_buf_t *out, double d)
{
    uint64_t bits;

    memcpy(&bits, &d, sizeof bits);
    cdc_buf_put_le64(out, bits);
}

cdc_avro_status_t cdc_avro_put_value(cdc_buf_t *out, const cdc_column_t *col, const cdc_mapped_t *v)
{
    if (cdc_avro_column_nullable(col)) {
        cdc_buf_put_varint_zigzag(out, v->is_null ? 0 : 1);
        if (v->is_null)
            return CDC_AVRO_OK;
    } else if (v->is_null) {
        return CDC_AVRO_INVALID;
    }
    switch (col->type.kind) {
    case CDC_COL_LONG:
    case CDC_COL_TIMESTAMP:
    case CDC_COL_DATE: /* int and long share the varint encoding */
        cdc_buf_put_varint_zigzag(out, v->l);
        break;
    case CDC_COL_BOOLEAN:
        cdc_buf_put_byte(out, v->l ? 1 : 0);
        break;
    case CDC_COL_DOUBLE:
        put_double(out, v->d);
        break;
    case CDC_COL_DECIMAL:
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
    case CDC_COL_BLOB:
        put_bytes(out, v->p, v->len);
        break;
    }
    return CDC_AVRO_OK;
}

/* Converts and appends one column value; on a misfit names the column in errstr. */
static cdc_avro_status_t put_column(cdc_buf_t *out, const cdc_column_t *col, const cdc_value_t *val,
                                    cdc_buf_t *scratch, char *errstr, size_t errstr_size)
{
    cdc_mapped_t m;

    if (cdc_convert_value(col, val, &m, scratch, errstr, errstr_size) != CDC_CONVERT_OK)
        return CDC_AVRO_MISFIT;
    /* Nulls in non-nullable columns were refused by cdc_convert_value as misfits. */
    return cdc_avro_put_value(out, col, &m);
}

static cdc_avro_status_t put_row(cdc_buf_t *out, const cdc_column_t *cols, size_t ncols,
                                 const cdc_value_t *vals, cdc_buf_t *scratch, size_t *bad_col,
                                 char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < ncols; i++) {
        cdc_avro_status_t st = put_column(out, &cols[i], &vals[i], scratch, errstr, errstr_size);
        if (st != CDC_AVRO_OK) {
            if (bad_col != NULL)
                *bad_col = i;
            return st;
        }
    }
    return CDC_AVRO_OK;
}

cdc_avro_status_t cdc_avro_encode_row(cdc_buf_t *out, const cdc_column_t *cols, size_t ncols,
                                      const cdc_value_t *vals, cdc_buf_t *scratch, size_t *bad_col,
                                      char *errstr, size_t errstr_size)
{
    size_t mark = out->len;
    cdc_avro_status_t st = put_row(out, cols, ncols, vals, scratch, bad_col, errstr, errstr_size);

    if (st != CDC_AVRO_OK)
        out->len = mark;
    return st;
}

/* Index of the column with key position k (1-based), or ncols when there is none. */
static size_t key_column(const cdc_column_t *cols, size_t ncols, int k)
{
    size_t found = ncols;

    for (size_t i = 0; i < ncols; i++) {
        if (cols[i].pk_index == k) {
            if (found != ncols)
                return ncols; /* two columns claim one position */
            found = i;
        }
    }
    return found;
}

/* Number of key columns, or 0 when the positions are not exactly 1..n. */
static size_t key_count(const cdc_column_t *cols, size_t ncols)
{
    size_t n = 0;

    for (size_t i = 0; i < ncols; i++)
        if (cols[i].pk_index > 0)
            n++;
    for (size_t k = 1; k <= n; k++)
        if (key_column(cols, ncols, (int)k) == ncols)
            return 0;
    return n;
}

/* key_vals[k] is the value of key position k + 1; stride lets the row variant index a
 * full row instead (key_vals = NULL, row = vals). */
static cdc_avro_status_t put_key(cdc_buf_t *out, const char *source, const char *table,
                                 const cdc_column_t *cols, size_t ncols,
                                 const cdc_value_t *key_vals, const cdc_value_t *row,
                                 cdc_buf_t *scratch, size_t *bad_col, char *errstr,
                                 size_t errstr_size)
{
    size_t mark = out->len, nkey = key_count(cols, ncols);
    cdc_avro_status_t st = CDC_AVRO_OK;

    if (nkey == 0) {
        snprintf(errstr, errstr_size,
                 "table %s: key positions are not exactly 1..n (no usable key)", table);
        st = CDC_AVRO_INVALID;
        goto out;
    }
    put_str(out, cdc_avro_str(source));
    put_str(out, cdc_avro_str(table));
    for (size_t k = 0; k < nkey; k++) {
        size_t ci = key_column(cols, ncols, (int)k + 1);
        st =
            put_column(out, &cols[ci], row ? &row[ci] : &key_vals[k], scratch, errstr, errstr_size);
        if (st != CDC_AVRO_OK) {
            if (bad_col != NULL)
                *bad_col = ci;
            goto out;
        }
    }
out:
    if (st != CDC_AVRO_OK)
        out->len = mark;
    return st;
}

cdc_avro_status_t cdc_avro_encode_key(cdc_buf_t *out, const char *source, const char *table,
                                      const cdc_column_t *cols, size_t ncols,
                                      const cdc_value_t *key_vals, cdc_buf_t *scratch,
                                      size_t *bad_col, char *errstr, size_t errstr_size)
{
    return put_key(out, source, table, cols, ncols, key_vals, NULL, scratch, bad_col, errstr,
                   errstr_size);
}

cdc_avro_status_t cdc_avro_encode_key_from_row(cdc_buf_t *out, const char *source,
                                               const char *table, const cdc_column_t *cols,
                                               size_t ncols, const cdc_value_t *vals,
                                               cdc_buf_t *scratch, size_t *bad_col, char *errstr,
                                               size_t errstr_size)
{
    return put_key(out, source, table, cols, ncols, NULL, vals, scratch, bad_col, errstr,
                   errstr_size);
}

cdc_avro_status_t cdc_avro_encode_envelope(cdc_buf_t *out, const cdc_avro_envelope_t *env,
                                           const cdc_column_t *cols, size_t ncols,
                                           const cdc_value_t *after, cdc_buf_t *scratch,
                                           size_t *bad_col, char *errstr, size_t errstr_size)
{
    size_t mark = out->len;
    cdc_avro_status_t st = CDC_AVRO_OK;

    if (strchr("cudr", env->op) == NULL || env->op == '\0' || (env->op == 'd') != (after == NULL)) {
        snprintf(errstr, errstr_size,
                 "table %.*s: envelope op '%c' with%s row image (after is null exactly for 'd')",
                 (int)env->table.len, env->table.p, env->op ? env->op : '?', after ? "" : "out");
        st = CDC_AVRO_INVALID;
        goto out;
    }
    put_bytes(out, &env->op, 1);
    if (after == NULL) {
        cdc_buf_put_varint_zigzag(out, 0);
    } else {
        cdc_buf_put_varint_zigzag(out, 1);
        st = put_row(out, cols, ncols, after, scratch, bad_col, errstr, errstr_size);
        if (st != CDC_AVRO_OK)
            goto out;
    }
    put_str(out, env->source_name);
    put_str(out, env->table);
    cdc_buf_put_varint_zigzag(out, env->epoch);
    cdc_buf_put_varint_zigzag(out, env->position);
    cdc_buf_put_byte(out, env->snapshot ? 1 : 0);
    cdc_buf_put_varint_zigzag(out, env->has_stmt_time ? 1 : 0);
    if (env->has_stmt_time)
        cdc_buf_put_varint_zigzag(out, env->stmt_time_us);
    cdc_buf_put_varint_zigzag(out, env->row_hash ? 1 : 0);
    if (env->row_hash)
        put_bytes(out, env->row_hash, env->row_hash_len);
    cdc_buf_put_varint_zigzag(out, env->ts_ms);
out:
    if (st != CDC_AVRO_OK)
        out->len = mark;
    return st;
}

cdc_avro_status_t cdc_avro_encode_control(cdc_buf_t *out, const cdc_avro_control_t *ctl,
                                          char *errstr, size_t errstr_size)
{
    if (ctl->op != 'h' && ctl->op != 'm') {
        snprintf(errstr, errstr_size, "control record op '%c' is neither 'h' nor 'm'",
                 ctl->op ? ctl->op : '?');
        return CDC_AVRO_INVALID;
    }
    put_bytes(out, &ctl->op, 1);
    put_str(out, ctl->source);
    cdc_buf_put_varint_zigzag(out, ctl->partition);
    cdc_buf_put_varint_zigzag(out, ctl->epoch);
    cdc_buf_put_varint_zigzag(out, ctl->ts_ms);
    cdc_buf_put_varint_zigzag(out, ctl->op == 'h' ? 1 : 0);
    if (ctl->op == 'h') {
        cdc_buf_put_varint_zigzag(out, ctl->acked_position);
        cdc_buf_put_varint_zigzag(out, ctl->backlog_entries);
        cdc_buf_put_varint_zigzag(out, ctl->oldest_unacked_age_ms);
    }
    cdc_buf_put_varint_zigzag(out, ctl->op == 'm' ? 1 : 0);
    if (ctl->op == 'm') {
        put_str(out, ctl->table);
        cdc_buf_put_varint_zigzag(out, ctl->start_position);
        cdc_buf_put_varint_zigzag(out, ctl->rows);
    }
    return CDC_AVRO_OK;
}

void cdc_avro_encode_control_key(cdc_buf_t *out, const char *source, int32_t partition)
{
    put_str(out, cdc_avro_str(source));
    cdc_buf_put_varint_zigzag(out, partition);
}

/* ---------------------------------------------------------------- decoding */

typedef struct rd_s {
    const unsigned char *p;
    size_t len;
    size_t off;
    char *errstr;
    size_t errstr_size;
    int failed;
} rd_t;

__attribute__((format(printf, 2, 3))) static int rd_fail(rd_t *r, const char *fmt, ...)
{
    char why[200];
    va_list ap;

    if (r->failed)
        return -1;
    r->failed = 1;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(r->errstr, r->errstr_size, "malformed Avro at byte %zu of %zu: %s", r->off, r->len,
             why);
    return -1;
}

static int rd_long(rd_t *r, const char *field, int64_t *v)
{
    char why[200]; /* rd_fail's own limit */

    if (cdc_buf_get_varint_field(r->p, r->len, &r->off, field, v, why, sizeof why) == 0)
        return 0;
    return rd_fail(r, "%s", why);
}

static int rd_int(rd_t *r, const char *field, int32_t *v)
{
    int64_t l = 0;

    if (rd_long(r, field, &l) < 0)
        return -1;
    if (l < INT32_MIN || l > INT32_MAX)
        return rd_fail(r, "%s %" PRId64 " outside Avro int", field, l);
    *v = (int32_t)l;
    return 0;
}

static int rd_bytes(rd_t *r, const char *field, const unsigned char **p, size_t *len)
{
    int64_t l = 0;

    if (rd_long(r, field, &l) < 0)
        return -1;
    if (l < 0 || (uint64_t)l > r->len - r->off)
        return rd_fail(r, "length %" PRId64 " of %s exceeds the record", l, field);
    *p = r->p + r->off;
    *len = (size_t)l;
    r->off += (size_t)l;
    return 0;
}

static int rd_str(rd_t *r, const char *field, cdc_avro_str_t *s)
{
    const unsigned char *p = NULL;

    if (rd_bytes(r, field, &p, &s->len) < 0)
        return -1;
    s->p = (const char *)p;
    return 0;
}

static int rd_bool(rd_t *r, const char *field, int *v)
{
    if (r->off >= r->len)
        return rd_fail(r, "truncated %s", field);
    if (r->p[r->off] > 1)
        return rd_fail(r, "boolean %s is %u, not 0 or 1", field, r->p[r->off]);
    *v = r->p[r->off++];
    return 0;
}

/* Reads a ["null", X] branch index: 0 or 1. */
static int rd_union(rd_t *r, const char *field, int *branch)
{
    int64_t b = 0;

    if (rd_long(r, field, &b) < 0)
        return -1;
    if (b != 0 && b != 1)
        return rd_fail(r, "union branch %" PRId64 " of %s", b, field);
    *branch = (int)b;
    return 0;
}

static int rd_value(rd_t *r, const cdc_column_t *col, cdc_decoded_value_t *v)
{
    const char *f = col->name;

    memset(v, 0, sizeof *v);
    v->kind = col->type.kind;
    if (cdc_avro_column_nullable(col)) {
        int branch = 0;
        if (rd_union(r, f, &branch) < 0)
            return -1;
        if (branch == 0) {
            v->is_null = 1;
            return 0;
        }
    }
    switch (col->type.kind) {
    case CDC_COL_LONG:
    case CDC_COL_TIMESTAMP:
        return rd_long(r, f, &v->l);
    case CDC_COL_DATE: {
        int32_t d = 0;
        if (rd_int(r, f, &d) < 0)
            return -1;
        v->l = d;
        return 0;
    }
    case CDC_COL_BOOLEAN: {
        int b = 0;
        if (rd_bool(r, f, &b) < 0)
            return -1;
        v->l = b;
        return 0;
    }
    case CDC_COL_DOUBLE: {
        uint64_t bits = 0;
        if (r->len - r->off < 8)
            return rd_fail(r, "truncated double %s", f);
        for (int k = 7; k >= 0; k--)
            bits = (bits << 8) | r->p[r->off + (size_t)k];
        r->off += 8;
        memcpy(&v->d, &bits, sizeof v->d);
        return 0;
    }
    case CDC_COL_DECIMAL:
        if (rd_bytes(r, f, &v->p, &v->len) < 0)
            return -1;
        if (v->len == 0)
            return rd_fail(r, "empty decimal %s", f);
        return 0;
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
    case CDC_COL_BLOB:
        return rd_bytes(r, f, &v->p, &v->len);
    }
    return rd_fail(r, "column %s has unknown kind %d", f, (int)col->type.kind);
}

static int rd_row(rd_t *r, const cdc_column_t *cols, size_t ncols, cdc_decoded_value_t *vals)
{
    for (size_t i = 0; i < ncols; i++)
        if (rd_value(r, &cols[i], &vals[i]) < 0)
            return -1;
    return 0;
}

static cdc_avro_status_t rd_finish(rd_t *r)
{
    if (!r->failed && r->off != r->len)
        rd_fail(r, "%zu bytes after the record", r->len - r->off);
    return r->failed ? CDC_AVRO_MALFORMED : CDC_AVRO_OK;
}

#define RD_INIT(p, len, errstr, errstr_size)                                                       \
    {                                                                                              \
        (p), (len), 0, (errstr), (errstr_size), 0                                                  \
    }

cdc_avro_status_t cdc_avro_decode_row(const unsigned char *p, size_t len, const cdc_column_t *cols,
                                      size_t ncols, cdc_decoded_value_t *vals, char *errstr,
                                      size_t errstr_size)
{
    rd_t r = RD_INIT(p, len, errstr, errstr_size);

    rd_row(&r, cols, ncols, vals);
    return rd_finish(&r);
}

cdc_avro_status_t cdc_avro_decode_key(const unsigned char *p, size_t len, const cdc_column_t *cols,
                                      size_t ncols, cdc_avro_str_t *source, cdc_avro_str_t *table,
                                      cdc_decoded_value_t *key_vals, char *errstr,
                                      size_t errstr_size)
{
    rd_t r = RD_INIT(p, len, errstr, errstr_size);
    size_t nkey = key_count(cols, ncols);

    if (nkey == 0) {
        snprintf(errstr, errstr_size, "key positions are not exactly 1..n (no usable key)");
        return CDC_AVRO_INVALID;
    }
    if (rd_str(&r, "source", source) < 0 || rd_str(&r, "table", table) < 0)
        goto out;
    for (size_t k = 0; k < nkey; k++)
        if (rd_value(&r, &cols[key_column(cols, ncols, (int)k + 1)], &key_vals[k]) < 0)
            goto out;
out:
    return rd_finish(&r);
}

cdc_avro_status_t cdc_avro_decode_envelope(const unsigned char *p, size_t len,
                                           const cdc_column_t *cols, size_t ncols,
                                           cdc_avro_envelope_t *env, int *has_after,
                                           cdc_decoded_value_t *after, char *errstr,
                                           size_t errstr_size)
{
    rd_t r = RD_INIT(p, len, errstr, errstr_size);
    cdc_avro_str_t op;
    int branch = 0;

    memset(env, 0, sizeof *env);
    *has_after = 0;
    if (rd_str(&r, "op", &op) < 0)
        goto out;
    if (op.len != 1 || strchr("cudr", op.p[0]) == NULL || op.p[0] == '\0') {
        rd_fail(&r, "envelope op \"%.*s\" is not c/u/d/r", (int)(op.len > 8 ? 8 : op.len), op.p);
        goto out;
    }
    env->op = op.p[0];
    if (rd_union(&r, "after", &branch) < 0)
        goto out;
    if (branch != (env->op != 'd')) {
        rd_fail(&r, "op '%c' with%s row image", env->op, branch ? "" : "out");
        goto out;
    }
    if (branch) {
        if (rd_row(&r, cols, ncols, after) < 0)
            goto out;
        *has_after = 1;
    }
    if (rd_str(&r, "source.name", &env->source_name) < 0 ||
        rd_str(&r, "source.table", &env->table) < 0 ||
        rd_long(&r, "source.epoch", &env->epoch) < 0 ||
        rd_long(&r, "source.position", &env->position) < 0 ||
        rd_bool(&r, "source.snapshot", &env->snapshot) < 0 ||
        rd_union(&r, "source.stmt_time_us", &env->has_stmt_time) < 0)
        goto out;
    if (env->has_stmt_time && rd_long(&r, "source.stmt_time_us", &env->stmt_time_us) < 0)
        goto out;
    if (rd_union(&r, "row_hash", &branch) < 0)
        goto out;
    if (branch && rd_bytes(&r, "row_hash", &env->row_hash, &env->row_hash_len) < 0)
        goto out;
    rd_long(&r, "ts_ms", &env->ts_ms);
out:
    return rd_finish(&r);
}

cdc_avro_status_t cdc_avro_decode_control(const unsigned char *p, size_t len,
                                          cdc_avro_control_t *ctl, char *errstr, size_t errstr_size)
{
    rd_t r = RD_INIT(p, len, errstr, errstr_size);
    cdc_avro_str_t op;
    int hb = 0, se = 0;

    memset(ctl, 0, sizeof *ctl);
    ctl->table = cdc_avro_str("");
    if (rd_str(&r, "op", &op) < 0)
        goto out;
    if (op.len != 1 || (op.p[0] != 'h' && op.p[0] != 'm')) {
        rd_fail(&r, "control op \"%.*s\" is not h/m", (int)(op.len > 8 ? 8 : op.len), op.p);
        goto out;
    }
    ctl->op = op.p[0];
    if (rd_str(&r, "source", &ctl->source) < 0 || rd_int(&r, "partition", &ctl->partition) < 0 ||
        rd_long(&r, "epoch", &ctl->epoch) < 0 || rd_long(&r, "ts_ms", &ctl->ts_ms) < 0 ||
        rd_union(&r, "heartbeat", &hb) < 0)
        goto out;
    if (hb && (rd_long(&r, "heartbeat.acked_position", &ctl->acked_position) < 0 ||
               rd_long(&r, "heartbeat.backlog_entries", &ctl->backlog_entries) < 0 ||
               rd_long(&r, "heartbeat.oldest_unacked_age_ms", &ctl->oldest_unacked_age_ms) < 0))
        goto out;
    if (rd_union(&r, "snapshot_end", &se) < 0)
        goto out;
    if (se && (rd_str(&r, "snapshot_end.table", &ctl->table) < 0 ||
               rd_long(&r, "snapshot_end.start_position", &ctl->start_position) < 0 ||
               rd_long(&r, "snapshot_end.rows", &ctl->rows) < 0))
        goto out;
    if (hb != (ctl->op == 'h') || se != (ctl->op == 'm'))
        rd_fail(&r, "control op '%c' with heartbeat %s and snapshot_end %s", ctl->op,
                hb ? "set" : "null", se ? "set" : "null");
out:
    return rd_finish(&r);
}

cdc_avro_status_t cdc_avro_decode_control_key(const unsigned char *p, size_t len,
                                              cdc_avro_str_t *source, int32_t *partition,
                                              char *errstr, size_t errstr_size)
{
    rd_t r = RD_INIT(p, len, errstr, errstr_size);

    if (rd_str(&r, "source", source) == 0)
        rd_int(&r, "partition", partition);
    return rd_finish(&r);
}
