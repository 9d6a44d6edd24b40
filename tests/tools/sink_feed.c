/*
 * sink_feed: publishes deterministic test records for cdc-sink into a running broker, the
 * way the producer does (producer/record.h table codecs + producer/publisher.h: schemas
 * on <prefix>.schemas first, rows on murmur2(canonical key), control records on every
 * partition), for tests/integration/sink_*.test.sh.
 *
 *   sink_feed rows CONFIG SOURCE TABLE FIRST COUNT VERSION OP
 *       Rows id = FIRST .. FIRST+COUNT-1 of TABLE (accounts | notes | blobs) of SOURCE, op
 *       OP (c, u, r or d), position (1, VERSION * 1000000 + id). Values (VERSION = v):
 *         accounts(id INTEGER PK, name TEXT NOT NULL, balance DECIMAL(14,2), born DATE,
 *                  active BOOLEAN): name 'acct-<id>-v<v>', balance '<id>.<v % 100, 2 digits>',
 *                  born 2020-01-(1 + id % 28), active id % 2
 *         notes(region TEXT, n INTEGER, body TEXT, data BLOB, PRIMARY KEY(region, n)):
 *                  region 'r<id % 3>', n id, body 'note <id> v<v>', data x'00 ff <id % 256>'
 *         blobs(id INTEGER PK, payload TEXT): 100 KiB of incompressible letters per row
 *       with the row hash of the row-hash module (cdc_canon + cdc_hash_row).
 *   sink_feed control CONFIG SOURCE TABLE H0 ROWS
 *       A heartbeat and a snapshot end marker (epoch 1, start position H0) on every
 *       partition of SOURCE's domain.
 *   sink_feed raw CONFIG TOPIC PARTITION KIND
 *       One record that is not ours: KIND garbage (text bytes), unknownfp (single-object
 *       framing with a fingerprint nobody published) or confluent (Confluent framing).
 * Exit codes: 0 done, 1 failure (message on stderr), 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "ack_tracker.h"
#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_canon.h"
#include "cdc_config.h"
#include "cdc_convert.h"
#include "cdc_hash.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "publisher.h"
#include "record.h"

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, "sink_feed: " __VA_ARGS__);                                                \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define BLOB_BYTES (100 * 1024)
#define MAXCOLS    5

static cdc_column_t accounts_cols[] = {
    {"id", NULL, "INTEGER", {0, 0, 0, 0}, 1, 1},
    {"name", NULL, "TEXT", {0, 0, 0, 0}, 1, 0},
    {"balance", NULL, "DECIMAL(14,2)", {0, 0, 0, 0}, 0, 0},
    {"born", NULL, "DATE", {0, 0, 0, 0}, 0, 0},
    {"active", NULL, "BOOLEAN", {0, 0, 0, 0}, 0, 0},
};
static cdc_column_t notes_cols[] = {
    {"region", NULL, "TEXT", {0, 0, 0, 0}, 1, 1},
    {"n", NULL, "INTEGER", {0, 0, 0, 0}, 1, 2},
    {"body", NULL, "TEXT", {0, 0, 0, 0}, 0, 0},
    {"data", NULL, "BLOB", {0, 0, 0, 0}, 0, 0},
};
static cdc_column_t blobs_cols[] = {
    {"id", NULL, "INTEGER", {0, 0, 0, 0}, 1, 1},
    {"payload", NULL, "TEXT", {0, 0, 0, 0}, 0, 0},
};

static cdc_value_t v_int(int64_t i)
{
    cdc_value_t v = {CDC_VAL_INTEGER, i, 0, NULL, 0};
    return v;
}

static cdc_value_t v_text(const char *s, size_t len, cdc_val_type_t t)
{
    cdc_value_t v = {t, 0, 0, (const unsigned char *)s, len};
    return v;
}

/* The row values of table for (id, version); text lives in bufs. */
static size_t row_values(const char *table, int64_t id, int version, cdc_value_t *vals,
                         char bufs[MAXCOLS][128], char *blob)
{
    if (strcmp(table, "accounts") == 0) {
        snprintf(bufs[1], 128, "acct-%" PRId64 "-v%d", id, version);
        snprintf(bufs[2], 128, "%" PRId64 ".%02d", id, version % 100);
        snprintf(bufs[3], 128, "2020-01-%02d", (int)(1 + id % 28));
        vals[0] = v_int(id);
        vals[1] = v_text(bufs[1], strlen(bufs[1]), CDC_VAL_TEXT);
        vals[2] = v_text(bufs[2], strlen(bufs[2]), CDC_VAL_TEXT);
        vals[3] = v_text(bufs[3], strlen(bufs[3]), CDC_VAL_TEXT);
        vals[4] = v_int(id % 2);
        return 5;
    }
    if (strcmp(table, "notes") == 0) {
        snprintf(bufs[0], 128, "r%d", (int)(id % 3));
        snprintf(bufs[2], 128, "note %" PRId64 " v%d", id, version);
        bufs[3][0] = 0;
        bufs[3][1] = (char)0xff;
        bufs[3][2] = (char)(id % 256);
        vals[0] = v_text(bufs[0], strlen(bufs[0]), CDC_VAL_TEXT);
        vals[1] = v_int(id);
        vals[2] = v_text(bufs[2], strlen(bufs[2]), CDC_VAL_TEXT);
        vals[3] = v_text(bufs[3], 3, CDC_VAL_BLOB);
        return 4;
    }
    /* blobs: xorshift letters, so lz4 cannot shrink them below the devbroker's cap */
    uint64_t x = 0x9e3779b97f4a7c15ULL ^ (uint64_t)id ^ ((uint64_t)version << 32);
    for (size_t i = 0; i < BLOB_BYTES; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        blob[i] = (char)('a' + x % 26);
    }
    vals[0] = v_int(id);
    vals[1] = v_text(blob, BLOB_BYTES, CDC_VAL_TEXT);
    return 2;
}

/* The row-hash module's hash of a row (as the producer computes it). */
static void row_hash(const cdc_table_codec_t *codec, const cdc_value_t *vals,
                     unsigned char out[CDC_HASH_ROW_SIZE])
{
    size_t n;
    const cdc_column_t *cols = cdc_table_codec_columns(codec, &n);
    cdc_mapped_t mapped[MAXCOLS];
    cdc_buf_t scratch[MAXCOLS], canon = CDC_BUF_INIT;
    char err[512];

    for (size_t i = 0; i < n; i++) {
        cdc_buf_init(&scratch[i]);
        if (cdc_convert_value(&cols[i], &vals[i], &mapped[i], &scratch[i], err, sizeof(err)) !=
            CDC_CONVERT_OK)
            DIE("convert: %s", err);
    }
    if (cdc_canon_row(cols, mapped, n, &canon, err, sizeof(err)) < 0)
        DIE("canon: %s", err);
    cdc_hash_row(canon.data, canon.len, out);
    for (size_t i = 0; i < n; i++)
        cdc_buf_free(&scratch[i]);
    cdc_buf_free(&canon);
}

static cdc_config_t *load(const char *path)
{
    char err[1024];
    cdc_config_t *c = cdc_config_load(path, err, sizeof(err));
    if (!c)
        DIE("%s", err);
    return c;
}

static void ensure(cdc_publisher_t *pub, const char *json, uint64_t fp)
{
    if (cdc_publisher_ensure_schema(pub, json, strlen(json), fp) != CDC_PUB_OK)
        DIE("ensure_schema: %s", cdc_publisher_error(pub));
}

static int cmd_rows(int argc, char **argv)
{
    if (argc != 9)
        return 2;
    cdc_config_t *c = load(argv[2]);
    const char *source = argv[3], *table = argv[4];
    int64_t first = strtoll(argv[5], NULL, 10), count = strtoll(argv[6], NULL, 10);
    int version = atoi(argv[7]);
    char op = argv[8][0];
    const cdc_source_t *src = cdc_config_source(c, source);
    cdc_column_t *cols = strcmp(table, "accounts") == 0 ? accounts_cols
                         : strcmp(table, "notes") == 0  ? notes_cols
                                                        : blobs_cols;
    size_t ncols = strcmp(table, "accounts") == 0 ? 5 : strcmp(table, "notes") == 0 ? 4 : 2;
    char err[1024], bufs[MAXCOLS][128];
    char *blob = cdc_malloc(BLOB_BYTES);
    cdc_value_t vals[MAXCOLS], key_vals[2];
    unsigned char hash[CDC_HASH_ROW_SIZE];

    if (!src)
        DIE("source %s is not in %s", source, argv[2]);
    cdc_table_codec_t *codec =
        cdc_table_codec_new(source, table, cols, ncols, &src->columns, err, sizeof(err));
    if (!codec)
        DIE("codec: %s", err);
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    cdc_publisher_t *pub = cdc_publisher_new(c, t, NULL, err, sizeof(err));
    if (!pub)
        DIE("publisher: %s", err);
    ensure(pub, cdc_table_codec_envelope_schema(codec),
           cdc_table_codec_envelope_fingerprint(codec));
    ensure(pub, cdc_table_codec_key_schema(codec), cdc_table_codec_key_fingerprint(codec));
    for (int64_t id = first; id < first + count; id++) {
        cdc_record_meta_t meta = {{1, (int64_t)version * 1000000 + id}, -1, NULL, 0, 0};
        cdc_record_t rec;
        cdc_record_status_t st;
        row_values(table, id, version, vals, bufs, blob);
        meta.ts_ms = (int64_t)time(NULL) * 1000;
        if (op == 'd') {
            for (size_t k = 0; k < cdc_table_codec_key_count(codec); k++)
                key_vals[k] = vals[cdc_table_codec_key_column(codec, k)];
            st =
                cdc_table_codec_encode_delete(codec, key_vals, &meta, &rec, NULL, err, sizeof(err));
        } else {
            meta.stmt_time_us = op == 'r' ? -1 : meta.ts_ms * 1000;
            row_hash(codec, vals, hash);
            meta.row_hash = hash;
            meta.row_hash_len = sizeof(hash);
            st = cdc_table_codec_encode(codec, op, vals, &meta, &rec, NULL, err, sizeof(err));
        }
        if (st != CDC_RECORD_OK)
            DIE("encode %s id %" PRId64 ": %s", table, id, err);
        uint64_t batch = cdc_ack_tracker_open(t, meta.pos, NULL);
        cdc_publisher_row_t row = {
            .domain = src->domain,
            .source = source,
            .table = table,
            .op = op,
            .position = meta.pos,
            .key = rec.key,
            .key_len = rec.key_len,
            .key_framing = rec.framed_key,
            .key_framing_len = rec.framed_key_len - rec.key_len,
            .value = rec.framed_value,
            .value_len = rec.framed_value_len,
            .batch = batch,
        };
        if (cdc_publisher_send_row(pub, &row) != CDC_PUB_OK)
            DIE("send: %s", cdc_publisher_error(pub));
        cdc_ack_tracker_close(t, batch);
        cdc_publisher_poll(pub, 0);
    }
    if (cdc_publisher_flush(pub, 60000) != CDC_PUB_OK)
        DIE("flush: %s", cdc_publisher_error(pub));
    cdc_publisher_destroy(pub);
    cdc_ack_tracker_destroy(t);
    cdc_table_codec_destroy(codec);
    cdc_config_destroy(c);
    free(blob);
    return 0;
}

static int cmd_control(int argc, char **argv)
{
    if (argc != 7)
        return 2;
    cdc_config_t *c = load(argv[2]);
    char err[1024];
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    cdc_publisher_t *pub = cdc_publisher_new(c, t, NULL, err, sizeof(err));
    if (!pub)
        DIE("publisher: %s", err);
    if (cdc_publisher_heartbeat(pub, argv[3], 1, 42, 7, 1500) != CDC_PUB_OK)
        DIE("heartbeat: %s", cdc_publisher_error(pub));
    uint64_t batch = cdc_ack_tracker_open(t, (cdc_pos_t){1, strtoll(argv[5], NULL, 10)}, NULL);
    if (cdc_publisher_snapshot_end(pub, argv[3], argv[4], 1, strtoll(argv[5], NULL, 10),
                                   strtoll(argv[6], NULL, 10), batch) != CDC_PUB_OK)
        DIE("marker: %s", cdc_publisher_error(pub));
    cdc_ack_tracker_close(t, batch);
    if (cdc_publisher_flush(pub, 60000) != CDC_PUB_OK)
        DIE("flush: %s", cdc_publisher_error(pub));
    cdc_publisher_destroy(pub);
    cdc_ack_tracker_destroy(t);
    cdc_config_destroy(c);
    return 0;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        DIE("raw record not delivered: %s", rd_kafka_err2str(m->err));
}

static int cmd_raw(int argc, char **argv)
{
    if (argc != 6)
        return 2;
    cdc_config_t *c = load(argv[2]);
    const char *kind = argv[5];
    unsigned char v[64];
    size_t len;
    char err[512];

    if (strcmp(kind, "garbage") == 0) {
        len = (size_t)snprintf((char *)v, sizeof(v), "this is not avro");
    } else if (strcmp(kind, "unknownfp") == 0) {
        static const unsigned char so[] = {0xc3, 0x01, 0xde, 0xad, 0xbe, 0xef,
                                           0x01, 0x02, 0x03, 0x04, 0x02, 0x63};
        memcpy(v, so, sizeof(so));
        len = sizeof(so);
    } else if (strcmp(kind, "confluent") == 0) {
        static const unsigned char cf[] = {0x00, 0x00, 0x00, 0x00, 0x07, 0x02, 0x63};
        memcpy(v, cf, sizeof(cf));
        len = sizeof(cf);
    } else {
        return 2;
    }
    rd_kafka_conf_t *kc = cdc_kafka_conf_new(c, CDC_KAFKA_PRODUCER, NULL, err, sizeof(err));
    if (!kc)
        DIE("%s", err);
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    if (!rk)
        DIE("%s", err);
    if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[3]), RD_KAFKA_V_PARTITION(atoi(argv[4])),
                          RD_KAFKA_V_KEY("rawkey", 6), RD_KAFKA_V_VALUE(v, len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
        DIE("produce failed");
    if (rd_kafka_flush(rk, 30000))
        DIE("raw record not delivered within 30 s");
    rd_kafka_destroy(rk);
    cdc_config_destroy(c);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    cdc_log_set_component("sink_feed");
    cdc_log_set_level(CDC_LOG_WARN);
    if (argc >= 2 && strcmp(argv[1], "rows") == 0)
        rc = cmd_rows(argc, argv);
    else if (argc >= 2 && strcmp(argv[1], "control") == 0)
        rc = cmd_control(argc, argv);
    else if (argc >= 2 && strcmp(argv[1], "raw") == 0)
        rc = cmd_raw(argc, argv);
    if (rc == 2)
        fprintf(stderr, "usage: see the comment at the top of tests/tools/sink_feed.c\n");
    return rc;
}
