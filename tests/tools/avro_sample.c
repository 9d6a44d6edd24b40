/*
 * avro_sample OUTDIR: writes sample records encoded by cdc_avro_value (rows, keys,
 * envelopes, control records) with the schema texts of cdc_avro_schema, and
 * OUTDIR/manifest.json listing each sample with the values it must decode to. An
 * independent decoder (python3-avro, tests/integration/avro_python_decode.test.sh) reads
 * them back, proving the bytes are standard Avro for those schemas.
 *
 * Expected values in the manifest: long/int/timestamp/date as integers (µs, days),
 * booleans, strings, null, {"double":"<shortest text>"}, {"decimal":"<text>"},
 * {"hex":"<bytes>"}, records as objects keyed by Avro field name.
 * Exit codes: 0 written, 1 a write or encoding failed, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdc_alloc.h"
#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"

/* Relative: the tools share the unit tests' literal values (no cmocka in there). */
#include "../unit/test_values.h"

/* Table 1: every kind; key (id, region) in a different order than the columns. */
#define DEALS_NCOLS 11
static cdc_column_t deals_cols[DEALS_NCOLS] = TEST_EVERY_KIND_COLUMNS;
static const cdc_value_t deals_rows[][DEALS_NCOLS] = {
    {VT("emea"), VI(1), VT("Acme GmbH"), VR(125000.0), VR(0.1), VI(1), VT("2024-03-05 12:34:56.5"),
     VT("2024-03-05"), VT("{\"tier\":\"platinum\"}"), VB("\x00\x01\xff"), VR(0.1)},
    {VT("apac"), VI(-9223372036854775807LL - 1), VT(""), VN, VN, VN, VN, VN, VN, VN, VN},
    {VT("\xc3\xa9t\xc3\xa9"), VI(9223372036854775807LL), VT("Z\xc3\xbcrich \xf0\x9f\x98\x80 \"q\""),
     VT("-999999999999.99"), VR(-1e300), VI(0), VR(2415020.5), VT("1899-12-31"), VT("[1,2]"),
     VB(""), VT("-12345678901234567890.5")},
    {VT("amer"), VI(42), VT("x"), VT("0.05"), VR(-0.0), VI(1), VT("1969-12-31T23:59:59.999999Z"),
     VT("0001-01-01"), VT("null"), VB("\x80"), VI(-7)},
};

/* Table 2: names Avro cannot hold (mangled by the schema module), a composite key. */
#define ITEMS_NCOLS 4
static cdc_column_t items_cols[ITEMS_NCOLS] = {
    {"order id", NULL, "INTEGER", {CDC_COL_LONG, 0, 0, 0}, 1, 1},
    {"2nd", NULL, "TEXT", {CDC_COL_TEXT, 0, 0, 0}, 0, 2},
    {"unit price", NULL, "DECIMAL(10,4)", {CDC_COL_DECIMAL, 10, 4, 0}, 0, 0},
    {"when", NULL, "DATE", {CDC_COL_DATE, 0, 0, 0}, 0, 0},
};
static const cdc_value_t items_rows[][ITEMS_NCOLS] = {
    {VI(7), VT("b"), VR(19.99), VT("2000-02-29")},
    {VI(8), VT("c"), VT("-0.0001"), VN},
};

typedef struct sample_ctx_s {
    const char *dir;
    json_t *manifest;
    cdc_buf_t out;
    cdc_buf_t scratch;
    int n;
    char err[512];
} sample_ctx_t;

static int write_file(const char *dir, const char *name, const void *p, size_t len)
{
    char *path = cdc_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "avro_sample: cannot write %s\n", path);
        goto out;
    }
    if (fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "avro_sample: short write to %s\n", path);
        f = NULL;
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    free(path);
    return rc;
}

static json_t *hex_json(const unsigned char *p, size_t len)
{
    char *hex = cdc_malloc(2 * len + 1);
    json_t *j;

    for (size_t k = 0; k < len; k++)
        snprintf(hex + 2 * k, 3, "%02x", p[k]);
    hex[2 * len] = '\0';
    j = json_pack("{s:s}", "hex", hex);
    free(hex);
    return j;
}

static json_t *value_json(const cdc_column_t *col, const cdc_mapped_t *m)
{
    char real[CDC_REAL_TEXT_MAX];
    cdc_buf_t t = CDC_BUF_INIT;
    json_t *j;

    if (m->is_null)
        return json_null();
    switch (col->type.kind) {
    case CDC_COL_LONG:
    case CDC_COL_TIMESTAMP:
    case CDC_COL_DATE:
        return json_integer(m->l);
    case CDC_COL_BOOLEAN:
        return json_boolean(m->l);
    case CDC_COL_DOUBLE:
        cdc_convert_real_text(m->d, real);
        return json_pack("{s:s}", "double", real);
    case CDC_COL_DECIMAL:
        cdc_convert_decimal_text(m->p, m->len, col->type.scale, &t);
        j = json_pack("{s:s}", "decimal", cdc_buf_cstr(&t));
        cdc_buf_free(&t);
        return j;
    case CDC_COL_BLOB:
        return hex_json(m->p, m->len);
    case CDC_COL_NUMERIC:
    case CDC_COL_TEXT:
    case CDC_COL_JSON:
        return json_stringn((const char *)m->p, m->len);
    }
    return NULL;
}

/* The row as the manifest states it; NULL (reason in ctx->err) on a misfit. */
static json_t *row_json(sample_ctx_t *c, const cdc_column_t *cols, size_t ncols,
                        const cdc_value_t *vals)
{
    json_t *o = json_object();

    for (size_t i = 0; i < ncols; i++) {
        cdc_mapped_t m;
        if (cdc_convert_value(&cols[i], &vals[i], &m, &c->scratch, c->err, sizeof c->err) !=
            CDC_CONVERT_OK) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, cols[i].avro_name, value_json(&cols[i], &m));
    }
    return o;
}

static int add_sample(sample_ctx_t *c, const char *kind, const char *schema_file, json_t *expect)
{
    char name[64];

    snprintf(name, sizeof name, "%02d_%s.bin", c->n++, kind);
    if (write_file(c->dir, name, c->out.data, c->out.len) < 0) {
        json_decref(expect);
        return -1;
    }
    json_array_append_new(c->manifest, json_pack("{s:s,s:s,s:o}", "data", name, "schema",
                                                 schema_file, "expected", expect));
    cdc_buf_reset(&c->out);
    return 0;
}

static int write_schema(sample_ctx_t *c, const char *file, char *json)
{
    int rc;

    if (json == NULL) {
        fprintf(stderr, "avro_sample: schema %s: %s\n", file, c->err);
        return -1;
    }
    rc = write_file(c->dir, file, json, strlen(json));
    free(json);
    return rc;
}

/* Row, key and envelope samples of one table. */
static int table_samples(sample_ctx_t *c, const char *source, const char *table, const char *prefix,
                         cdc_column_t *cols, size_t ncols, const cdc_value_t *rows, size_t nrows)
{
    static const unsigned char hash[8] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3};
    static const char ops[] = "crud";
    char row_f[64], key_f[64], env_f[64];
    cdc_column_t *parsed = NULL;
    size_t nparsed = 0, bad = 0;
    int rc = -1;

    snprintf(row_f, sizeof row_f, "%s_row.avsc", prefix);
    snprintf(key_f, sizeof key_f, "%s_key.avsc", prefix);
    snprintf(env_f, sizeof env_f, "%s_envelope.avsc", prefix);
    if (write_schema(c, row_f,
                     cdc_avro_schema_row_json(source, table, cols, ncols, c->err, sizeof c->err)) <
            0 ||
        write_schema(c, key_f,
                     cdc_avro_schema_key_json(source, table, cols, ncols, c->err, sizeof c->err)) <
            0)
        goto out;
    /* The field names as a sink learns them: from the schema text. */
    {
        char *json =
            cdc_avro_schema_envelope_json(source, table, cols, ncols, c->err, sizeof c->err);
        if (json == NULL ||
            cdc_avro_schema_parse_columns(json, &parsed, &nparsed, c->err, sizeof c->err) < 0 ||
            nparsed != ncols) {
            fprintf(stderr, "avro_sample: %s: %s\n", table, c->err);
            free(json);
            goto out;
        }
        if (write_schema(c, env_f, json) < 0)
            goto out;
    }
    for (size_t r = 0; r < nrows; r++) {
        const cdc_value_t *vals = rows + r * ncols;
        char op = ops[r % 4 == 3 ? 0 : r % 4];
        cdc_avro_envelope_t env = {op,
                                   cdc_avro_str(source),
                                   cdc_avro_str(table),
                                   2,
                                   1000 + (int64_t)r,
                                   op == 'r',
                                   op != 'r',
                                   1709642096000000LL + (int64_t)r,
                                   hash,
                                   sizeof hash,
                                   1709642096789LL};
        json_t *after = row_json(c, parsed, nparsed, vals), *key, *src;

        if (after == NULL)
            goto misfit;
        if (cdc_avro_encode_row(&c->out, cols, ncols, vals, &c->scratch, &bad, c->err,
                                sizeof c->err) != CDC_AVRO_OK ||
            add_sample(c, "row", row_f, json_deep_copy(after)) < 0)
            goto misfit_after;
        key = json_object();
        for (int k = 1; k <= (int)ncols; k++)
            for (size_t i = 0; i < ncols; i++)
                if (parsed[i].pk_index == k)
                    json_object_set(key, parsed[i].avro_name,
                                    json_object_get(after, parsed[i].avro_name));
        if (cdc_avro_encode_key_from_row(&c->out, source, table, cols, ncols, vals, &c->scratch,
                                         &bad, c->err, sizeof c->err) != CDC_AVRO_OK) {
            json_decref(key);
            goto misfit_after;
        }
        if (add_sample(c, "key", key_f,
                       json_pack("{s:s,s:s,s:o}", "source", source, "table", table, "pk", key)) < 0)
            goto misfit_after;
        src = json_pack("{s:s,s:s,s:I,s:I,s:b,s:o}", "name", source, "table", table, "epoch",
                        (json_int_t)env.epoch, "position", (json_int_t)env.position, "snapshot",
                        env.snapshot, "stmt_time_us",
                        env.has_stmt_time ? json_integer(env.stmt_time_us) : json_null());
        if (cdc_avro_encode_envelope(&c->out, &env, cols, ncols, vals, &c->scratch, &bad, c->err,
                                     sizeof c->err) != CDC_AVRO_OK) {
            json_decref(src);
            goto misfit_after;
        }
        if (add_sample(c, "envelope", env_f,
                       json_pack("{s:s#,s:o,s:o,s:o,s:I}", "op", &env.op, (size_t)1, "after", after,
                                 "source", src, "row_hash", hex_json(hash, sizeof hash), "ts_ms",
                                 (json_int_t)env.ts_ms)) < 0)
            goto out;
        if (r == nrows - 1) { /* and a delete of the last row */
            env.op = 'd';
            env.row_hash = NULL;
            env.snapshot = 0;
            env.has_stmt_time = 1;
            if (cdc_avro_encode_envelope(&c->out, &env, cols, ncols, NULL, &c->scratch, &bad,
                                         c->err, sizeof c->err) != CDC_AVRO_OK)
                goto misfit;
            src = json_pack("{s:s,s:s,s:I,s:I,s:b,s:I}", "name", source, "table", table, "epoch",
                            (json_int_t)env.epoch, "position", (json_int_t)env.position, "snapshot",
                            0, "stmt_time_us", (json_int_t)env.stmt_time_us);
            if (add_sample(c, "envelope", env_f,
                           json_pack("{s:s,s:n,s:o,s:n,s:I}", "op", "d", "after", "source", src,
                                     "row_hash", "ts_ms", (json_int_t)env.ts_ms)) < 0)
                goto out;
        }
        continue;
    misfit_after:
        json_decref(after);
    misfit:
        fprintf(stderr, "avro_sample: %s row %zu: %s\n", table, r, c->err);
        goto out;
    }
    rc = 0;
out:
    cdc_avro_schema_columns_free(parsed, nparsed);
    return rc;
}

static int control_samples(sample_ctx_t *c)
{
    cdc_avro_control_t hb = {'h',  cdc_avro_str("epic7"), 5, 2, 1700000000123LL, 987654, 42,
                             1500, cdc_avro_str(""),      0, 0};
    cdc_avro_control_t mk = {'m', cdc_avro_str("epic7"),        0,   2, 1700000000999LL, 0, 0,
                             0,   cdc_avro_str("crm_contacts"), 777, 16};

    if (write_file(c->dir, "control.avsc", cdc_avro_schema_control_json(),
                   strlen(cdc_avro_schema_control_json())) < 0 ||
        write_file(c->dir, "control_key.avsc", cdc_avro_schema_control_key_json(),
                   strlen(cdc_avro_schema_control_key_json())) < 0)
        return -1;
    if (cdc_avro_encode_control(&c->out, &hb, c->err, sizeof c->err) != CDC_AVRO_OK ||
        add_sample(c, "control", "control.avsc",
                   json_pack("{s:s,s:s,s:i,s:I,s:I,s:{s:I,s:I,s:I},s:n}", "op", "h", "source",
                             "epic7", "partition", 5, "epoch", (json_int_t)2, "ts_ms",
                             (json_int_t)1700000000123LL, "heartbeat", "acked_position",
                             (json_int_t)987654, "backlog_entries", (json_int_t)42,
                             "oldest_unacked_age_ms", (json_int_t)1500, "snapshot_end")) < 0)
        return -1;
    if (cdc_avro_encode_control(&c->out, &mk, c->err, sizeof c->err) != CDC_AVRO_OK ||
        add_sample(c, "control", "control.avsc",
                   json_pack("{s:s,s:s,s:i,s:I,s:I,s:n,s:{s:s,s:I,s:I}}", "op", "m", "source",
                             "epic7", "partition", 0, "epoch", (json_int_t)2, "ts_ms",
                             (json_int_t)1700000000999LL, "heartbeat", "snapshot_end", "table",
                             "crm_contacts", "start_position", (json_int_t)777, "rows",
                             (json_int_t)16)) < 0)
        return -1;
    cdc_avro_encode_control_key(&c->out, "epic7", 5);
    return add_sample(c, "control_key", "control_key.avsc",
                      json_pack("{s:s,s:i}", "source", "epic7", "partition", 5));
}

int main(int argc, char **argv)
{
    sample_ctx_t c;
    char *text = NULL;
    int rc = 1;

    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(stderr, "usage: avro_sample OUTDIR\n"
                        "Writes sample Avro records, their schemas (*.avsc) and manifest.json\n"
                        "into the existing directory OUTDIR.\n"
                        "Exit codes: 0 written, 1 failure, 2 usage.\n");
        return argc == 2 ? 0 : 2;
    }
    memset(&c, 0, sizeof c);
    c.dir = argv[1];
    c.manifest = json_array();
    if (table_samples(&c, "crm one", "deals", "deals", deals_cols, DEALS_NCOLS, &deals_rows[0][0],
                      sizeof deals_rows / sizeof deals_rows[0]) < 0 ||
        table_samples(&c, "shop", "order items", "items", items_cols, ITEMS_NCOLS,
                      &items_rows[0][0], sizeof items_rows / sizeof items_rows[0]) < 0 ||
        control_samples(&c) < 0)
        goto out;
    text = json_dumps(c.manifest, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (text == NULL || write_file(c.dir, "manifest.json", text, strlen(text)) < 0)
        goto out;
    printf("%d samples in %s\n", c.n, c.dir);
    rc = 0;
out:
    free(text);
    json_decref(c.manifest);
    cdc_buf_free(&c.out);
    cdc_buf_free(&c.scratch);
    return rc;
}
