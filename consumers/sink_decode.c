#include "sink_decode.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdc_alloc.h"
#include "cdc_avro_schema.h"
#include "cdc_convert.h"
#include "cdc_framing.h"

struct cdc_sink_decoder_s {
    cdc_sink_schemas_t *schemas;
    cdc_decoded_value_t *after, *key_vals;
    size_t cap; /* entries of after and key_vals */
    cdc_buf_t key_json, source, table;
};

cdc_sink_decoder_t *cdc_sink_decoder_new(cdc_sink_schemas_t *s)
{
    cdc_sink_decoder_t *d = cdc_calloc(1, sizeof(*d));
    d->schemas = s;
    return d;
}

void cdc_sink_decoder_destroy(cdc_sink_decoder_t *d)
{
    if (!d)
        return;
    free(d->after);
    free(d->key_vals);
    cdc_buf_free(&d->key_json);
    cdc_buf_free(&d->source);
    cdc_buf_free(&d->table);
    free(d);
}

static void reserve(cdc_sink_decoder_t *d, size_t n)
{
    if (n <= d->cap)
        return;
    d->cap = n;
    d->after = cdc_realloc(d->after, n * sizeof(*d->after));
    d->key_vals = cdc_realloc(d->key_vals, n * sizeof(*d->key_vals));
}

static void hex_string(cdc_buf_t *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cdc_buf_put_str(b, "x'");
    for (size_t i = 0; i < n; i++) {
        cdc_buf_put_byte(b, (unsigned char)hex[p[i] >> 4]);
        cdc_buf_put_byte(b, (unsigned char)hex[p[i] & 15]);
    }
    cdc_buf_put_byte(b, '\'');
}

static json_t *value_json(const cdc_column_t *col, const cdc_decoded_value_t *v)
{
    cdc_buf_t b = CDC_BUF_INIT;
    json_t *j = NULL;

    if (v->is_null)
        return json_null();
    switch (col->type.kind) {
    case CDC_COL_LONG:
        return json_integer((json_int_t)v->l);
    case CDC_COL_BOOLEAN:
        return json_boolean(v->l);
    case CDC_COL_DOUBLE:
        return json_real(v->d);
    case CDC_COL_TIMESTAMP:
        cdc_convert_format_timestamp(v->l, &b);
        break;
    case CDC_COL_DATE:
        cdc_convert_format_date(v->l, &b);
        break;
    case CDC_COL_DECIMAL:
        if (cdc_convert_decimal_text(v->p, v->len, col->type.scale, &b) < 0)
            hex_string(&b, v->p, v->len);
        break;
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
    case CDC_COL_NUMERIC:
        j = json_stringn((const char *)v->p, v->len);
        if (j)
            return j;
        hex_string(&b, v->p, v->len); /* not UTF-8: still name the row */
        break;
    case CDC_COL_BLOB:
        hex_string(&b, v->p, v->len);
        break;
    }
    j = json_stringn((const char *)(b.data ? b.data : (unsigned char *)""), b.len);
    cdc_buf_free(&b);
    return j;
}

void cdc_sink_key_json(const cdc_sink_schema_t *schema, const cdc_decoded_value_t *key_vals,
                       cdc_buf_t *out)
{
    json_t *o = json_object();
    for (size_t k = 1; k <= schema->nkey; k++)
        for (size_t i = 0; i < schema->ncols; i++)
            if (schema->cols[i].pk_index == (int)k)
                json_object_set_new(o, schema->cols[i].name,
                                    value_json(&schema->cols[i], &key_vals[k - 1]));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    cdc_buf_put_str(out, text ? text : "{}");
    free(text);
    json_decref(o);
}

static void dead(cdc_sink_rec_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dead(cdc_sink_rec_t *out, const char *fmt, ...)
{
    va_list ap;
    out->kind = CDC_SINK_REC_DEAD;
    va_start(ap, fmt);
    vsnprintf(out->dead.reason, sizeof(out->dead.reason), fmt, ap);
    va_end(ap);
}

static const char *copy_str(cdc_buf_t *b, const char *p, size_t len)
{
    cdc_buf_reset(b);
    cdc_buf_put(b, p, len);
    return cdc_buf_cstr(b);
}

static int str_eq(cdc_avro_str_t s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

static const char *kind_name(cdc_sink_schema_kind_t k)
{
    switch (k) {
    case CDC_SINK_SCHEMA_ENVELOPE:
        return "an envelope";
    case CDC_SINK_SCHEMA_KEY:
        return "a key";
    case CDC_SINK_SCHEMA_CONTROL:
        return "the control";
    case CDC_SINK_SCHEMA_CONTROL_KEY:
        return "the control key";
    case CDC_SINK_SCHEMA_OTHER:
        break;
    }
    return "an unknown kind of";
}

/* The envelope's key: framing, decoding, consistency with the envelope. */
static void decode_row_key(cdc_sink_decoder_t *d, const cdc_sink_schema_t *sc,
                           const unsigned char *key, size_t key_len, cdc_sink_rec_t *out, char *why,
                           size_t why_size)
{
    size_t body = 0;
    cdc_avro_str_t ksrc, ktbl;

    /* Either framing: the body is the canonical key whatever the header (a topic switching
     * to the registry keeps its partitions), and it is decoded with the envelope's columns. */
    if (!key || cdc_framing_detect(key, key_len, NULL, NULL, &body) == CDC_FRAMING_GARBAGE) {
        dead(out,
             "%s.%s: the record key is %s, expected a single-object or Confluent framed key "
             "record",
             sc->source, sc->table, key ? "neither single-object nor Confluent framed" : "missing");
        return;
    }
    out->row.key = key + body;
    out->row.key_len = key_len - body;
    if (cdc_avro_decode_key(out->row.key, out->row.key_len, sc->cols, sc->ncols, &ksrc, &ktbl,
                            d->key_vals, why, why_size) != CDC_AVRO_OK) {
        dead(out,
             "%s.%s: the record key does not decode with the key columns of schema %016" PRIx64
             ": %s",
             sc->source, sc->table, sc->fingerprint, why);
        return;
    }
    out->row.key_vals = d->key_vals;
    if (!str_eq(ksrc, sc->source) || !str_eq(ktbl, sc->table)) {
        dead(out, "%s.%s: the record key names %.*s.%.*s", sc->source, sc->table, (int)ksrc.len,
             ksrc.p, (int)ktbl.len, ktbl.p);
        return;
    }
}

static void decode_envelope(cdc_sink_decoder_t *d, const cdc_sink_schema_t *sc,
                            const unsigned char *key, size_t key_len, const unsigned char *body,
                            size_t body_len, cdc_sink_rec_t *out)
{
    cdc_avro_envelope_t env;
    int has_after = 0;
    char why[256];

    reserve(d, sc->ncols);
    out->dead.source = sc->source;
    out->dead.table = sc->table;
    decode_row_key(d, sc, key, key_len, out, why, sizeof(why));
    if (out->kind == CDC_SINK_REC_DEAD)
        goto key_known;
    if (cdc_avro_decode_envelope(body, body_len, sc->cols, sc->ncols, &env, &has_after, d->after,
                                 why, sizeof(why)) != CDC_AVRO_OK) {
        dead(out, "%s.%s: the envelope does not decode with schema %016" PRIx64 ": %s", sc->source,
             sc->table, sc->fingerprint, why);
        goto key_known;
    }
    out->dead.has_pos = 1;
    out->dead.pos = (cdc_pos_t){env.epoch, env.position};
    if (!str_eq(env.source_name, sc->source) || !str_eq(env.table, sc->table)) {
        dead(out, "%s.%s: the envelope's source block names %.*s.%.*s", sc->source, sc->table,
             (int)env.source_name.len, env.source_name.p, (int)env.table.len, env.table.p);
        goto key_known;
    }
    out->kind = CDC_SINK_REC_ROW;
    out->row.schema = sc;
    out->row.op = env.op;
    out->row.pos = out->dead.pos;
    out->row.after = has_after ? d->after : NULL;
    out->row.row_hash = env.row_hash;
    out->row.row_hash_len = env.row_hash ? env.row_hash_len : 0;
    return;
key_known:
    /* The framed key's body is the canonical key even when it did not decode: the dead
     * letter then still lands on the partition the producer chose for it. */
    out->dead.key = out->row.key;
    out->dead.key_len = out->row.key_len;
    if (out->row.key_vals) {
        cdc_buf_reset(&d->key_json);
        cdc_sink_key_json(sc, out->row.key_vals, &d->key_json);
        out->dead.key_json = cdc_buf_cstr(&d->key_json);
    }
}

static void decode_control(cdc_sink_decoder_t *d, const unsigned char *body, size_t body_len,
                           cdc_sink_rec_t *out)
{
    char why[256];

    if (cdc_avro_decode_control(body, body_len, &out->ctl, why, sizeof(why)) != CDC_AVRO_OK) {
        dead(out, "control record does not decode: %s", why);
        return;
    }
    out->dead.source = copy_str(&d->source, out->ctl.source.p, out->ctl.source.len);
    if (out->ctl.op == 'h') {
        out->kind = CDC_SINK_REC_HEARTBEAT;
    } else if (out->ctl.op == 'm') {
        out->kind = CDC_SINK_REC_MARKER;
        out->dead.table = copy_str(&d->table, out->ctl.table.p, out->ctl.table.len);
    } else {
        dead(out, "control record with op '%c'", out->ctl.op);
    }
}

void cdc_sink_decode(cdc_sink_decoder_t *d, const void *key, size_t key_len, const void *value,
                     size_t value_len, int schema_timeout_ms, cdc_sink_rec_t *out, char *errstr,
                     size_t errstr_size)
{
    const unsigned char *v = value;
    uint64_t fp = 0;
    uint32_t id = 0;
    size_t body = 0;
    const cdc_sink_schema_t *sc = NULL;

    memset(out, 0, sizeof(*out));
    if (!v || value_len == 0) {
        dead(out, "the record has no value");
        return;
    }
    cdc_framing_kind_t framing = cdc_framing_detect(v, value_len, &fp, &id, &body);
    switch (framing) {
    case CDC_FRAMING_GARBAGE:
        dead(out,
             "the value (%zu bytes, first bytes %02x %02x) is neither Avro single-object nor "
             "Confluent framed",
             value_len, v[0], value_len > 1 ? v[1] : 0);
        return;
    case CDC_FRAMING_CONFLUENT:
    case CDC_FRAMING_SINGLE_OBJECT:
        break;
    }
    int found;
    if (framing == CDC_FRAMING_CONFLUENT) {
        /* Confluent: the schema is the registry's under that id. */
        char why[sizeof(out->dead.reason)];
        found = cdc_sink_schemas_lookup_id(d->schemas, id, &sc, why, sizeof(why));
        if (found < 0) {
            snprintf(errstr, errstr_size, "%s", why);
            out->kind = CDC_SINK_REC_RETRY;
            return;
        }
        if (found == 0) {
            dead(out, "%s", why);
            return;
        }
    } else {
        found =
            cdc_sink_schemas_lookup(d->schemas, fp, schema_timeout_ms, &sc, errstr, errstr_size);
        if (found < 0) {
            out->kind = CDC_SINK_REC_RETRY;
            return;
        }
        if (found == 0) {
            dead(out, "unknown schema fingerprint %016" PRIx64 " (not on the schemas topic)", fp);
            return;
        }
    }
    switch (sc->kind) {
    case CDC_SINK_SCHEMA_ENVELOPE:
        decode_envelope(d, sc, key, key_len, v + body, value_len - body, out);
        return;
    case CDC_SINK_SCHEMA_CONTROL:
        decode_control(d, v + body, value_len - body, out);
        return;
    case CDC_SINK_SCHEMA_KEY:
    case CDC_SINK_SCHEMA_CONTROL_KEY:
    case CDC_SINK_SCHEMA_OTHER:
        break;
    }
    dead(out, "schema %016" PRIx64 " is %s schema, not an envelope or a control record", fp,
         kind_name(sc->kind));
}
