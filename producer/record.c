/*
 * record: table codecs (schemas, fingerprints) and the encoding of row images and deletes
 * into the Kafka key and value bytes (record.h). The key JSON of dead letters and the
 * SQLite value helpers are in record_json.c.
 */
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"
#include "cdc_framing.h"
#include "cdc_names.h"

struct cdc_table_codec_s {
    char *source;
    char *table;
    cdc_column_t *cols;
    size_t ncols;
    size_t *key_cols; /* key position k (0-based) -> column index */
    size_t nkeys;
    char *row_json;
    char *key_json;
    char *env_json;
    uint64_t row_fp;
    uint64_t key_fp;
    uint64_t env_fp;
    int confluent; /* 1: Confluent header with the ids below; 0: single-object */
    uint32_t key_id;
    uint32_t value_id;
    /* Reused from row to row: the framed key (the canonical key follows its header), the
     * framed value, the converter's scratch and the misfit's key JSON. */
    cdc_buf_t keybuf;
    cdc_buf_t valbuf;
    cdc_buf_t scratch;
    cdc_buf_t jsonbuf;
};

const char *cdc_record_status_name(cdc_record_status_t st)
{
    switch (st) {
    case CDC_RECORD_OK:
        return "ok";
    case CDC_RECORD_MISFIT:
        return "misfit";
    case CDC_RECORD_INVALID:
        return "invalid";
    }
    return "unknown";
}

/* 1 when `key` is "<table>.<column>" for this table and column, SQLite's ASCII-case rule. */
static int override_names(const char *key, const char *table, const char *column)
{
    size_t tl = strlen(table);

    return strncasecmp(key, table, tl) == 0 && key[tl] == '.' &&
           strcasecmp(key + tl + 1, column) == 0;
}

/*
 * Sets cols[i].type from the override of the column, if any, else from its declared type.
 * An override whose key starts with "<table>." but names no column of the table is refused
 * (a typo would silently map a money column to double); a remainder that contains a dot
 * may belong to another table whose name has a dot, so it is left alone.
 */
static int apply_types(const char *source, const char *table, cdc_column_t *cols, size_t n,
                       const cdc_kvlist_t *ov, char *errstr, size_t errstr_size)
{
    size_t tl = strlen(table);
    char why[256];

    for (size_t i = 0; i < n; i++)
        cols[i].type = cdc_types_from_declared(cols[i].decl_type ? cols[i].decl_type : "");
    if (ov == NULL)
        return 0;
    for (size_t o = 0; o < ov->count; o++) {
        const char *key = ov->items[o].key;
        size_t found = n;

        if (strncasecmp(key, table, tl) != 0 || key[tl] != '.')
            continue;
        for (size_t i = 0; i < n && found == n; i++)
            if (override_names(key, table, cols[i].name))
                found = i;
        if (found == n) {
            if (strchr(key + tl + 1, '.') != NULL)
                continue;
            snprintf(errstr, errstr_size,
                     "source %s: columns: override \"%s\": table \"%s\" has no column \"%s\"",
                     source, key, table, key + tl + 1);
            return -1;
        }
        for (size_t p = 0; p < o; p++) {
            if (override_names(ov->items[p].key, table, cols[found].name)) {
                snprintf(errstr, errstr_size,
                         "source %s: columns: \"%s\" and \"%s\" both override column %s.%s", source,
                         ov->items[p].key, key, table, cols[found].name);
                return -1;
            }
        }
        if (cdc_types_parse_override(ov->items[o].value, &cols[found].type, why, sizeof why) != 0) {
            snprintf(errstr, errstr_size, "source %s: columns: override \"%s\": \"%s\": %s", source,
                     key, ov->items[o].value, why);
            return -1;
        }
    }
    return 0;
}

/* Fingerprint of one schema text, with the schema named in the error. */
static int fingerprint(const char *what, const char *json, uint64_t *fp, char *errstr,
                       size_t errstr_size)
{
    char why[256];

    if (cdc_avro_fingerprint(json, strlen(json), fp, why, sizeof why) == 0)
        return 0;
    snprintf(errstr, errstr_size, "%s schema: no canonical form: %s", what, why);
    return -1;
}

cdc_table_codec_t *cdc_table_codec_new(const char *source, const char *table,
                                       const cdc_column_t *cols, size_t n,
                                       const cdc_kvlist_t *overrides, char *errstr,
                                       size_t errstr_size)
{
    cdc_table_codec_t *c = cdc_calloc(1, sizeof(*c));
    int ok = 0;

    c->source = cdc_strdup(source);
    c->table = cdc_strdup(table);
    c->ncols = n;
    c->cols = cdc_calloc(n ? n : 1, sizeof(*c->cols));
    for (size_t i = 0; i < n; i++) {
        c->cols[i].name = cdc_strdup(cols[i].name ? cols[i].name : "");
        c->cols[i].decl_type = cdc_strdup(cols[i].decl_type ? cols[i].decl_type : "");
        c->cols[i].avro_name = cdc_names_field(c->cols[i].name);
        c->cols[i].not_null = cols[i].not_null;
        c->cols[i].pk_index = cols[i].pk_index;
    }
    if (apply_types(source, table, c->cols, n, overrides, errstr, errstr_size) != 0)
        goto out;
    /* The schema builders check names (collisions named by both columns) and key positions. */
    c->row_json = cdc_avro_schema_row_json(source, table, c->cols, n, errstr, errstr_size);
    if (c->row_json == NULL)
        goto out;
    c->key_json = cdc_avro_schema_key_json(source, table, c->cols, n, errstr, errstr_size);
    if (c->key_json == NULL)
        goto out;
    c->env_json = cdc_avro_schema_envelope_json(source, table, c->cols, n, errstr, errstr_size);
    if (c->env_json == NULL)
        goto out;
    if (fingerprint("row", c->row_json, &c->row_fp, errstr, errstr_size) != 0 ||
        fingerprint("key", c->key_json, &c->key_fp, errstr, errstr_size) != 0 ||
        fingerprint("envelope", c->env_json, &c->env_fp, errstr, errstr_size) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (c->cols[i].pk_index > 0)
            c->nkeys++;
    /* The key schema accepted the positions, so they are exactly 1..nkeys. */
    c->key_cols = cdc_calloc(c->nkeys ? c->nkeys : 1, sizeof(*c->key_cols));
    for (size_t i = 0; i < n; i++)
        if (c->cols[i].pk_index > 0)
            c->key_cols[c->cols[i].pk_index - 1] = i;
    ok = 1;
out:
    if (!ok) {
        cdc_table_codec_destroy(c);
        c = NULL;
    }
    return c;
}

int cdc_table_codec_rename_row(cdc_table_codec_t *c, const char *suffix, char *errstr,
                               size_t errstr_size)
{
    char *row = NULL, *env = NULL;
    uint64_t row_fp, env_fp;
    int rc = -1;

    row = cdc_avro_schema_row_json_suffixed(c->source, c->table, c->cols, c->ncols, suffix, errstr,
                                            errstr_size);
    if (row != NULL)
        env = cdc_avro_schema_envelope_json_suffixed(c->source, c->table, c->cols, c->ncols, suffix,
                                                     errstr, errstr_size);
    if (env == NULL || fingerprint("row", row, &row_fp, errstr, errstr_size) != 0 ||
        fingerprint("envelope", env, &env_fp, errstr, errstr_size) != 0)
        goto out;
    free(c->row_json);
    free(c->env_json);
    c->row_json = row;
    c->env_json = env;
    c->row_fp = row_fp;
    c->env_fp = env_fp;
    row = env = NULL;
    rc = 0;
out:
    free(row);
    free(env);
    return rc;
}

void cdc_table_codec_destroy(cdc_table_codec_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->ncols; i++) {
        free(c->cols[i].name);
        free(c->cols[i].decl_type);
        free(c->cols[i].avro_name);
    }
    free(c->cols);
    free(c->key_cols);
    free(c->row_json);
    free(c->key_json);
    free(c->env_json);
    free(c->source);
    free(c->table);
    cdc_buf_free(&c->keybuf);
    cdc_buf_free(&c->valbuf);
    cdc_buf_free(&c->scratch);
    cdc_buf_free(&c->jsonbuf);
    free(c);
}

void cdc_table_codec_set_schema_ids(cdc_table_codec_t *c, uint32_t key_schema_id,
                                    uint32_t value_schema_id)
{
    c->confluent = 1;
    c->key_id = key_schema_id;
    c->value_id = value_schema_id;
}

const char *cdc_table_codec_source(const cdc_table_codec_t *c)
{
    return c->source;
}

const char *cdc_table_codec_table(const cdc_table_codec_t *c)
{
    return c->table;
}

const cdc_column_t *cdc_table_codec_columns(const cdc_table_codec_t *c, size_t *n)
{
    if (n != NULL)
        *n = c->ncols;
    return c->cols;
}

size_t cdc_table_codec_key_count(const cdc_table_codec_t *c)
{
    return c->nkeys;
}

size_t cdc_table_codec_key_column(const cdc_table_codec_t *c, size_t k)
{
    return c->key_cols[k];
}

const char *cdc_table_codec_row_schema(const cdc_table_codec_t *c)
{
    return c->row_json;
}

const char *cdc_table_codec_key_schema(const cdc_table_codec_t *c)
{
    return c->key_json;
}

const char *cdc_table_codec_envelope_schema(const cdc_table_codec_t *c)
{
    return c->env_json;
}

uint64_t cdc_table_codec_row_fingerprint(const cdc_table_codec_t *c)
{
    return c->row_fp;
}

uint64_t cdc_table_codec_key_fingerprint(const cdc_table_codec_t *c)
{
    return c->key_fp;
}

uint64_t cdc_table_codec_envelope_fingerprint(const cdc_table_codec_t *c)
{
    return c->env_fp;
}

/* Empties b and writes the wire header of the key (is_key) or the envelope. */
static void put_header(const cdc_table_codec_t *c, cdc_buf_t *b, int is_key)
{
    unsigned char hdr[CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE];
    size_t n;

    cdc_buf_reset(b);
    if (c->confluent)
        n = cdc_framing_confluent_encode(is_key ? c->key_id : c->value_id, hdr);
    else
        n = cdc_framing_single_object_encode(is_key ? c->key_fp : c->env_fp, hdr);
    cdc_buf_put(b, hdr, n);
}

static size_t header_size(const cdc_table_codec_t *c)
{
    return c->confluent ? CDC_FRAMING_CONFLUENT_HEADER_SIZE : CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE;
}

/*
 * Turns an encoder's answer into the record's: a misfit gets the column, the reason, the key
 * JSON and (when the key was encoded) the canonical key; anything else is a caller error.
 * row is the full row (row images) or NULL (deletes: key_vals).
 */
static cdc_record_status_t fail(cdc_table_codec_t *c, cdc_avro_status_t st, size_t bad_col,
                                const char *why, const cdc_value_t *row,
                                const cdc_value_t *key_vals, int key_ok,
                                cdc_record_misfit_t *misfit, char *errstr, size_t errstr_size)
{
    if (st != CDC_AVRO_MISFIT) {
        snprintf(errstr, errstr_size, "%s.%s: %s", c->source, c->table, why);
        return CDC_RECORD_INVALID;
    }
    snprintf(errstr, errstr_size, "%s.%s: %s", c->source, c->table, why);
    if (misfit != NULL) {
        memset(misfit, 0, sizeof(*misfit));
        misfit->column = c->cols[bad_col].name;
        misfit->key_column = c->cols[bad_col].pk_index > 0;
        snprintf(misfit->reason, sizeof misfit->reason, "%s", why);
        cdc_buf_reset(&c->jsonbuf);
        if (row != NULL)
            cdc_table_codec_row_key_json(c, row, &c->jsonbuf);
        else
            cdc_table_codec_key_json(c, key_vals, &c->jsonbuf);
        misfit->key_json = cdc_buf_cstr(&c->jsonbuf);
        if (key_ok) {
            misfit->key = c->keybuf.data + header_size(c);
            misfit->key_len = c->keybuf.len - header_size(c);
        }
    }
    return CDC_RECORD_MISFIT;
}

static void fill_out(const cdc_table_codec_t *c, cdc_record_t *out)
{
    size_t h = header_size(c);

    out->framed_key = c->keybuf.data;
    out->framed_key_len = c->keybuf.len;
    out->key = c->keybuf.data + h;
    out->key_len = c->keybuf.len - h;
    out->framed_value = c->valbuf.data;
    out->framed_value_len = c->valbuf.len;
}

static void fill_envelope(const cdc_table_codec_t *c, char op, const cdc_record_meta_t *meta,
                          cdc_avro_envelope_t *env)
{
    memset(env, 0, sizeof(*env));
    env->op = op;
    env->source_name = cdc_avro_str(c->source);
    env->table = cdc_avro_str(c->table);
    env->epoch = meta->pos.epoch;
    env->position = meta->pos.h;
    env->snapshot = op == 'r';
    env->has_stmt_time = meta->stmt_time_us != -1;
    env->stmt_time_us = meta->stmt_time_us;
    env->row_hash = op == 'd' ? NULL : meta->row_hash;
    env->row_hash_len = op == 'd' ? 0 : meta->row_hash_len;
    env->ts_ms = meta->ts_ms;
}

cdc_record_status_t cdc_table_codec_encode(cdc_table_codec_t *c, char op, const cdc_value_t *vals,
                                           const cdc_record_meta_t *meta, cdc_record_t *out,
                                           cdc_record_misfit_t *misfit, char *errstr,
                                           size_t errstr_size)
{
    cdc_avro_envelope_t env;
    cdc_avro_status_t st;
    size_t bad = 0;
    char why[512] = "";

    memset(out, 0, sizeof(*out));
    if (op != 'c' && op != 'u' && op != 'r') {
        snprintf(errstr, errstr_size, "%s.%s: row image with op '%c' (only c, u, r carry one)",
                 c->source, c->table, op ? op : '?');
        return CDC_RECORD_INVALID;
    }
    put_header(c, &c->keybuf, 1);
    st = cdc_avro_encode_key_from_row(&c->keybuf, c->source, c->table, c->cols, c->ncols, vals,
                                      &c->scratch, &bad, why, sizeof why);
    if (st != CDC_AVRO_OK)
        return fail(c, st, bad, why, vals, NULL, 0, misfit, errstr, errstr_size);
    fill_envelope(c, op, meta, &env);
    put_header(c, &c->valbuf, 0);
    st = cdc_avro_encode_envelope(&c->valbuf, &env, c->cols, c->ncols, vals, &c->scratch, &bad, why,
                                  sizeof why);
    if (st != CDC_AVRO_OK)
        return fail(c, st, bad, why, vals, NULL, 1, misfit, errstr, errstr_size);
    fill_out(c, out);
    return CDC_RECORD_OK;
}

cdc_record_status_t cdc_table_codec_encode_delete(cdc_table_codec_t *c, const cdc_value_t *key_vals,
                                                  const cdc_record_meta_t *meta, cdc_record_t *out,
                                                  cdc_record_misfit_t *misfit, char *errstr,
                                                  size_t errstr_size)
{
    cdc_avro_envelope_t env;
    cdc_avro_status_t st;
    size_t bad = 0;
    char why[512] = "";

    memset(out, 0, sizeof(*out));
    if (meta->row_hash != NULL) {
        snprintf(errstr, errstr_size, "%s.%s: a delete carries no row hash", c->source, c->table);
        return CDC_RECORD_INVALID;
    }
    put_header(c, &c->keybuf, 1);
    st = cdc_avro_encode_key(&c->keybuf, c->source, c->table, c->cols, c->ncols, key_vals,
                             &c->scratch, &bad, why, sizeof why);
    if (st != CDC_AVRO_OK)
        return fail(c, st, bad, why, NULL, key_vals, 0, misfit, errstr, errstr_size);
    fill_envelope(c, 'd', meta, &env);
    put_header(c, &c->valbuf, 0);
    st = cdc_avro_encode_envelope(&c->valbuf, &env, c->cols, c->ncols, NULL, &c->scratch, &bad, why,
                                  sizeof why);
    if (st != CDC_AVRO_OK)
        return fail(c, st, bad, why, NULL, key_vals, 1, misfit, errstr, errstr_size);
    fill_out(c, out);
    return CDC_RECORD_OK;
}
