/*
 * Unit tests of the sink's decoding step (consumers/sink_decode.c, sink_schemas.c):
 * records built by the producer's table codec decode back to the values, the canonical
 * key and the position; control records become heartbeats and markers; garbage, a
 * Confluent id, a malformed envelope, a key of another table and a schema that is not an
 * envelope are dead letters with their reason; an unknown fingerprint whose schemas topic
 * cannot be read asks for a retry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"
#include "cdc_buf.h"
#include "cdc_config.h"
#include "cdc_framing.h"
#include "record.h"
#include "sink_decode.h"
#include "sink_schemas.h"

/* Nothing listens on port 1: a reload of the schemas topic fails fast. */
static const char *yaml = "kafka:\n"
                          "  bootstrap.servers: 127.0.0.1:1\n"
                          "topic_prefix: ut\n"
                          "sources:\n"
                          "  - {name: s1, path: s1.db, domain: crm}\n"
                          "domains:\n"
                          "  - {name: crm, partitions: 3, target: \"dbname=x\"}\n";

static cdc_column_t cols[] = {
    {"id", NULL, "INTEGER", {0, 0, 0, 0}, 1, 2},
    {"region", NULL, "TEXT", {0, 0, 0, 0}, 1, 1},
    {"amount", NULL, "DECIMAL(10,2)", {0, 0, 0, 0}, 0, 0},
};

typedef struct fixture_s {
    cdc_config_t *conf;
    cdc_sink_schemas_t *schemas;
    cdc_sink_decoder_t *dec;
    cdc_table_codec_t *codec;
} fixture_t;

static int setup(void **state)
{
    static fixture_t f;
    char err[512];
    f.conf = cdc_config_load_string(yaml, NULL, err, sizeof(err));
    assert_non_null(f.conf);
    f.schemas = cdc_sink_schemas_new(f.conf, "crm", err, sizeof(err));
    assert_non_null(f.schemas);
    f.dec = cdc_sink_decoder_new(f.schemas);
    f.codec = cdc_table_codec_new("s1", "orders", cols, 3, NULL, err, sizeof(err));
    assert_non_null(f.codec);
    const char *env = cdc_table_codec_envelope_schema(f.codec);
    const char *key = cdc_table_codec_key_schema(f.codec);
    const char *ctl = cdc_avro_schema_control_json();
    assert_int_equal(cdc_sink_schemas_add(f.schemas, env, strlen(env), err, sizeof(err)),
                     CDC_SINK_SCHEMA_ENVELOPE);
    assert_int_equal(cdc_sink_schemas_add(f.schemas, key, strlen(key), err, sizeof(err)),
                     CDC_SINK_SCHEMA_KEY);
    assert_int_equal(cdc_sink_schemas_add(f.schemas, ctl, strlen(ctl), err, sizeof(err)),
                     CDC_SINK_SCHEMA_CONTROL);
    assert_int_equal(cdc_sink_schemas_count(f.schemas), 3);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cdc_table_codec_destroy(f->codec);
    cdc_sink_decoder_destroy(f->dec);
    cdc_sink_schemas_destroy(f->schemas);
    cdc_config_destroy(f->conf);
    return 0;
}

static cdc_value_t txt(const char *s)
{
    return (cdc_value_t){CDC_VAL_TEXT, 0, 0, (const unsigned char *)s, strlen(s)};
}

static void decode(fixture_t *f, const void *k, size_t kl, const void *v, size_t vl,
                   cdc_sink_rec_t *rec)
{
    char err[512];
    cdc_sink_decode(f->dec, k, kl, v, vl, 200, rec, err, sizeof(err));
}

static void test_row_and_delete(void **state)
{
    fixture_t *f = *state;
    cdc_value_t vals[3] = {{CDC_VAL_INTEGER, 42, 0, NULL, 0}, txt("north"), txt("12.50")};
    unsigned char hash[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cdc_record_meta_t meta = {{3, 77}, 1000, hash, 8, 5};
    cdc_record_t r;
    cdc_sink_rec_t rec;
    char err[512];

    assert_int_equal(cdc_table_codec_encode(f->codec, 'u', vals, &meta, &r, NULL, err, sizeof(err)),
                     CDC_RECORD_OK);
    decode(f, r.framed_key, r.framed_key_len, r.framed_value, r.framed_value_len, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_ROW);
    assert_int_equal(rec.row.op, 'u');
    assert_int_equal(rec.row.pos.epoch, 3);
    assert_int_equal(rec.row.pos.h, 77);
    assert_string_equal(rec.row.schema->source, "s1");
    assert_string_equal(rec.row.schema->table, "orders");
    assert_int_equal(rec.row.key_len, r.key_len); /* the canonical key, framing stripped */
    assert_memory_equal(rec.row.key, r.key, r.key_len);
    assert_int_equal(rec.row.after[0].l, 42);
    assert_int_equal(rec.row.after[1].len, 5);
    assert_memory_equal(rec.row.after[1].p, "north", 5);
    assert_int_equal(rec.row.key_vals[0].len, 5); /* key order: region, then id */
    assert_int_equal(rec.row.key_vals[1].l, 42);
    assert_int_equal(rec.row.row_hash_len, 8);
    assert_memory_equal(rec.row.row_hash, hash, 8);

    cdc_buf_t kj = CDC_BUF_INIT;
    cdc_sink_key_json(rec.row.schema, rec.row.key_vals, &kj);
    assert_string_equal(cdc_buf_cstr(&kj), "{\"region\":\"north\",\"id\":42}");
    cdc_buf_free(&kj);

    cdc_value_t keyv[2] = {txt("north"), {CDC_VAL_INTEGER, 42, 0, NULL, 0}};
    cdc_record_meta_t dmeta = {{3, 78}, 1000, NULL, 0, 5};
    assert_int_equal(
        cdc_table_codec_encode_delete(f->codec, keyv, &dmeta, &r, NULL, err, sizeof(err)),
        CDC_RECORD_OK);
    decode(f, r.framed_key, r.framed_key_len, r.framed_value, r.framed_value_len, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_ROW);
    assert_int_equal(rec.row.op, 'd');
    assert_null(rec.row.after);
    assert_int_equal(rec.row.pos.h, 78);
    assert_int_equal(rec.row.key_vals[1].l, 42);

    /* The same row's key with a truncated envelope: a dead letter that still knows the
     * table, the key and where it should land. */
    assert_int_equal(cdc_table_codec_encode(f->codec, 'c', vals, &meta, &r, NULL, err, sizeof(err)),
                     CDC_RECORD_OK);
    decode(f, r.framed_key, r.framed_key_len, r.framed_value, r.framed_value_len - 3, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_DEAD);
    assert_non_null(strstr(rec.dead.reason, "the envelope does not decode"));
    assert_string_equal(rec.dead.table, "orders");
    assert_string_equal(rec.dead.key_json, "{\"region\":\"north\",\"id\":42}");
    assert_int_equal(rec.dead.key_len, r.key_len);

    /* No key at all. */
    decode(f, NULL, 0, r.framed_value, r.framed_value_len, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_DEAD);
    assert_non_null(strstr(rec.dead.reason, "the record key is missing"));
}

static void test_control(void **state)
{
    fixture_t *f = *state;
    cdc_buf_t b = CDC_BUF_INIT;
    unsigned char hdr[CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE];
    cdc_sink_rec_t rec;
    char err[512];
    const char *ctl_json = cdc_avro_schema_control_json();
    const cdc_sink_schema_t *sc = NULL;

    uint64_t cfp;
    assert_int_equal(cdc_avro_fingerprint(ctl_json, strlen(ctl_json), &cfp, err, sizeof(err)), 0);
    sc = cdc_sink_schemas_get(f->schemas, cfp);
    assert_non_null(sc);

    cdc_avro_control_t c = {0};
    c.op = 'm';
    c.source = cdc_avro_str("s1");
    c.partition = 2;
    c.epoch = 4;
    c.table = cdc_avro_str("orders");
    c.start_position = 900;
    c.rows = 12;
    cdc_buf_put(&b, hdr, cdc_framing_single_object_encode(cfp, hdr));
    assert_int_equal(cdc_avro_encode_control(&b, &c, err, sizeof(err)), CDC_AVRO_OK);
    decode(f, NULL, 0, b.data, b.len, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_MARKER);
    assert_int_equal(rec.ctl.start_position, 900);
    assert_int_equal(rec.ctl.epoch, 4);
    assert_int_equal(rec.ctl.table.len, 6);

    cdc_buf_reset(&b);
    memset(&c, 0, sizeof(c));
    c.op = 'h';
    c.source = cdc_avro_str("s1");
    c.acked_position = 55;
    c.backlog_entries = 3;
    cdc_buf_put(&b, hdr, cdc_framing_single_object_encode(cfp, hdr));
    assert_int_equal(cdc_avro_encode_control(&b, &c, err, sizeof(err)), CDC_AVRO_OK);
    decode(f, NULL, 0, b.data, b.len, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_HEARTBEAT);
    assert_int_equal(rec.ctl.acked_position, 55);
    assert_int_equal(rec.ctl.backlog_entries, 3);
    cdc_buf_free(&b);
}

static void test_dead_letters(void **state)
{
    fixture_t *f = *state;
    cdc_sink_rec_t rec;
    char err[512];
    unsigned char buf[32];

    decode(f, NULL, 0, "hello world", 11, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_DEAD);
    assert_non_null(strstr(rec.dead.reason, "neither Avro single-object nor Confluent"));
    assert_null(rec.dead.source);

    decode(f, NULL, 0, NULL, 0, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_DEAD);
    assert_non_null(strstr(rec.dead.reason, "no value"));

    size_t n = cdc_framing_confluent_encode(9, buf);
    buf[n++] = 0;
    decode(f, NULL, 0, buf, n, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_DEAD);
    assert_non_null(strstr(rec.dead.reason, "Confluent framed (schema id 9)"));

    /* The key schema used as a value. */
    n = cdc_framing_single_object_encode(cdc_table_codec_key_fingerprint(f->codec), buf);
    decode(f, NULL, 0, buf, n, &rec);
    assert_int_equal(rec.kind, CDC_SINK_REC_DEAD);
    assert_non_null(strstr(rec.dead.reason, "is a key schema"));

    /* Unknown fingerprint: the schemas topic cannot be read (nothing on port 1): retry. */
    n = cdc_framing_single_object_encode(0x0123456789abcdefULL, buf);
    cdc_sink_decode(f->dec, NULL, 0, buf, n, 200, &rec, err, sizeof(err));
    assert_int_equal(rec.kind, CDC_SINK_REC_RETRY);
    assert_non_null(strstr(err, "ut.schemas"));
}

static void test_schema_cache(void **state)
{
    fixture_t *f = *state;
    char err[512];
    assert_int_equal(cdc_sink_schemas_add(f->schemas, "{\"type\":", 8, err, sizeof(err)), -1);
    assert_int_equal(cdc_sink_schemas_add(f->schemas, "\"string\"", 8, err, sizeof(err)),
                     CDC_SINK_SCHEMA_OTHER);
    const cdc_sink_schema_t *sc =
        cdc_sink_schemas_get(f->schemas, cdc_table_codec_envelope_fingerprint(f->codec));
    assert_non_null(sc);
    assert_int_equal(sc->ncols, 3);
    assert_int_equal(sc->nkey, 2);
    assert_string_equal(sc->json, cdc_table_codec_envelope_schema(f->codec));
    assert_null(cdc_sink_schemas_get(f->schemas, 12345));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_and_delete),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_dead_letters),
        cmocka_unit_test(test_schema_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
