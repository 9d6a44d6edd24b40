/*
 * publisher_check: drives producer/publisher against a running broker, for
 * tests/integration/publisher_devbroker.test.sh.
 *
 *   publisher_check start CONFIG TIMEOUT_MS
 *       cdc_publisher_new() only. Exit 0 if it succeeds; else prints its message as
 *       "start failed: ..." and "elapsed_ms=N" on stderr and exits 1.
 *   publisher_check publish CONFIG OUTDIR KEYS
 *       Publishes KEYS rows x 3 versions of table accounts of source s1 (domain crm), two
 *       dead letters, a snapshot end marker and a heartbeat; checks in C that a row is
 *       refused before its schema is ensured, that the ack tracker yields the last
 *       position after the flush; writes OUTDIR/manifest.json (fingerprints, schema texts,
 *       each key's canonical bytes and partition) for the Python checks on the topics.
 *   publisher_check ackdown CONFIG DOWN_CMD UP_CMD
 *       Brokers up at start; DOWN_CMD (a shell command) takes every broker down; records
 *       sent then stay in flight and the tracker yields nothing, a new schema times out
 *       within its bound; UP_CMD brings them back; then everything is delivered and the
 *       position becomes ackable.
 *   publisher_check backpressure CONFIG DOWN_CMD UP_CMD
 *       CONFIG has a tiny producer queue; with brokers down a send blocks on the full
 *       queue (not dropped, not counted) until the stop flag (raised by SIGALRM) makes it
 *       return "stopped"; after UP_CMD every queued record is delivered.
 * Exit codes: 0 all checks passed, 1 a check failed (message on stderr), 2 usage.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ack_tracker.h"
#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"
#include "cdc_buf.h"
#include "cdc_config.h"
#include "cdc_framing.h"
#include "cdc_log.h"
#include "cdc_murmur2.h"
#include "publisher.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "publisher_check: FAILED %s (line %d): ", #cond, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define NCOLS 4

/* Pops every ackable batch; returns 1 with the newest position if there was any. */
static int take_newest(cdc_ack_tracker_t *t, cdc_pos_t *pos)
{
    int took = 0;
    while (cdc_ack_tracker_take(t, pos, NULL))
        took = 1;
    return took;
}

static cdc_column_t cols[NCOLS] = {
    {"id", "id", "INTEGER", {CDC_COL_LONG, 0, 0, 0}, 1, 1},
    {"region", "region", "TEXT", {CDC_COL_TEXT, 0, 0, 0}, 1, 2},
    {"name", "name", "TEXT", {CDC_COL_TEXT, 0, 0, 0}, 0, 0},
    {"amount", "amount", "DECIMAL(14,2)", {CDC_COL_DECIMAL, 14, 2, 0}, 0, 0},
};
static const char *const regions[] = {"emea", "apac", "amer", "\xc3\xa9t\xc3\xa9"};

/* A table's schemas, framing headers and reusable buffers. */
typedef struct table_s {
    char *env_json, *key_json;
    uint64_t env_fp, key_fp;
    unsigned char env_hdr[CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE];
    unsigned char key_hdr[CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE];
    cdc_buf_t key, value, scratch;
} table_t;

static cdc_config_t *load(const char *path)
{
    char err[512];
    cdc_config_t *c = cdc_config_load(path, err, sizeof(err));
    CHECK(c != NULL, "%s", err);
    return c;
}

static cdc_publisher_t *start(const cdc_config_t *c, cdc_ack_tracker_t *t,
                              const cdc_publisher_opts_t *opts)
{
    char err[1024];
    cdc_publisher_t *pub = cdc_publisher_new(c, t, opts, err, sizeof(err));
    CHECK(pub != NULL, "cdc_publisher_new: %s", err);
    return pub;
}

static void table_init(table_t *tb)
{
    char err[256];
    memset(tb, 0, sizeof(*tb));
    tb->env_json = cdc_avro_schema_envelope_json("s1", "accounts", cols, NCOLS, err, sizeof(err));
    CHECK(tb->env_json != NULL, "%s", err);
    tb->key_json = cdc_avro_schema_key_json("s1", "accounts", cols, NCOLS, err, sizeof(err));
    CHECK(tb->key_json != NULL, "%s", err);
    CHECK(cdc_avro_fingerprint(tb->env_json, strlen(tb->env_json), &tb->env_fp, err, sizeof(err)) ==
              0,
          "%s", err);
    CHECK(cdc_avro_fingerprint(tb->key_json, strlen(tb->key_json), &tb->key_fp, err, sizeof(err)) ==
              0,
          "%s", err);
    cdc_framing_single_object_encode(tb->env_fp, tb->env_hdr);
    cdc_framing_single_object_encode(tb->key_fp, tb->key_hdr);
}

static void table_free(table_t *tb)
{
    free(tb->env_json);
    free(tb->key_json);
    cdc_buf_free(&tb->key);
    cdc_buf_free(&tb->value);
    cdc_buf_free(&tb->scratch);
}

/* Encodes version v (0-based) of row i into tb->key (canonical) and tb->value (framed);
 * fills *row. Version 2 of every fifth row is a delete. */
static void build_row(table_t *tb, int i, int v, cdc_pos_t pos, uint64_t batch,
                      cdc_publisher_row_t *row)
{
    char name[64], amount[32], err[256];
    size_t bad;
    const char *region = regions[i % 4];
    snprintf(name, sizeof(name), "account %d v%d", i, v);
    snprintf(amount, sizeof(amount), "%d.%02d", i * 7 + v, i % 100);
    cdc_value_t vals[NCOLS] = {
        {CDC_VAL_INTEGER, i * 7919LL - 500000, 0, NULL, 0},
        {CDC_VAL_TEXT, 0, 0, (const unsigned char *)region, strlen(region)},
        {CDC_VAL_TEXT, 0, 0, (const unsigned char *)name, strlen(name)},
        {CDC_VAL_TEXT, 0, 0, (const unsigned char *)amount, strlen(amount)},
    };
    char op = v == 0 ? 'c' : (v == 2 && i % 5 == 0) ? 'd' : 'u';
    cdc_buf_reset(&tb->key);
    CHECK(cdc_avro_encode_key_from_row(&tb->key, "s1", "accounts", cols, NCOLS, vals, &tb->scratch,
                                       &bad, err, sizeof(err)) == CDC_AVRO_OK,
          "%s", err);
    cdc_avro_envelope_t env = {0};
    env.op = op;
    env.source_name = cdc_avro_str("s1");
    env.table = cdc_avro_str("accounts");
    env.epoch = pos.epoch;
    env.position = pos.h;
    env.has_stmt_time = 1;
    env.stmt_time_us = 1700000000000000LL + i;
    static const unsigned char hash[4] = {1, 2, 3, 4};
    env.row_hash = op == 'd' ? NULL : hash;
    env.row_hash_len = op == 'd' ? 0 : sizeof(hash);
    env.ts_ms = 1700000000000LL;
    cdc_buf_reset(&tb->value);
    cdc_buf_put(&tb->value, tb->env_hdr, sizeof(tb->env_hdr));
    CHECK(cdc_avro_encode_envelope(&tb->value, &env, cols, NCOLS, op == 'd' ? NULL : vals,
                                   &tb->scratch, &bad, err, sizeof(err)) == CDC_AVRO_OK,
          "%s", err);
    *row = (cdc_publisher_row_t){.domain = "crm",
                                 .source = "s1",
                                 .table = "accounts",
                                 .op = op,
                                 .position = pos,
                                 .key = tb->key.data,
                                 .key_len = tb->key.len,
                                 .key_framing = tb->key_hdr,
                                 .key_framing_len = sizeof(tb->key_hdr),
                                 .value = tb->value.data,
                                 .value_len = tb->value.len,
                                 .batch = batch};
}

static char *hex(const void *p, size_t n)
{
    char *s = cdc_malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + 2 * i, "%02x", ((const unsigned char *)p)[i]);
    s[n * 2] = '\0';
    return s;
}

static json_t *fp_json(uint64_t fp)
{
    char s[17];
    snprintf(s, sizeof(s), "%016" PRIx64, fp);
    return json_string(s);
}

static int cmd_start(const char *config, int timeout_ms)
{
    cdc_config_t *c = load(config);
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    cdc_publisher_opts_t opts = {.start_timeout_ms = timeout_ms};
    char err[1024];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cdc_publisher_t *pub = cdc_publisher_new(c, t, &opts, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    int rc = 0;
    if (!pub) {
        fprintf(stderr, "start failed: %s\nelapsed_ms=%ld\n", err, ms);
        rc = 1;
    }
    cdc_publisher_destroy(pub);
    cdc_ack_tracker_destroy(t);
    cdc_config_destroy(c);
    return rc;
}

static int cmd_publish(const char *config, const char *outdir, int nkeys)
{
    cdc_config_t *c = load(config);
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    cdc_publisher_t *pub = start(c, t, NULL);
    table_t tb;
    table_init(&tb);
    json_t *keys = json_array();
    cdc_publisher_row_t row;
    cdc_pos_t pos = {3, 100};

    /* A record whose schema is not on <prefix>.schemas yet is refused, nothing counted. */
    uint64_t b0 = cdc_ack_tracker_open(t, pos, NULL);
    build_row(&tb, 0, 0, pos, b0, &row);
    cdc_publisher_status_t st = cdc_publisher_send_row(pub, &row);
    CHECK(st == CDC_PUB_INVALID, "send before ensure_schema gave %s",
          cdc_publisher_status_name(st));
    CHECK(strstr(cdc_publisher_error(pub), "not confirmed") != NULL, "%s",
          cdc_publisher_error(pub));
    CHECK(cdc_ack_tracker_in_flight(t) == 0, "a refused record was counted");
    /* A fingerprint that is not the text's is refused too. */
    st = cdc_publisher_ensure_schema(pub, tb.env_json, strlen(tb.env_json), tb.env_fp ^ 1);
    CHECK(st == CDC_PUB_INVALID, "wrong fingerprint gave %s", cdc_publisher_status_name(st));

    st = cdc_publisher_ensure_schema(pub, tb.env_json, strlen(tb.env_json), tb.env_fp);
    CHECK(st == CDC_PUB_OK, "ensure envelope: %s", cdc_publisher_error(pub));
    st = cdc_publisher_ensure_schema(pub, tb.key_json, strlen(tb.key_json), tb.key_fp);
    CHECK(st == CDC_PUB_OK, "ensure key: %s", cdc_publisher_error(pub));
    /* Once per process: a second call is answered from memory (no second record). */
    CHECK(cdc_publisher_ensure_schema(pub, tb.env_json, strlen(tb.env_json), tb.env_fp) ==
              CDC_PUB_OK,
          "second ensure");

    int sent = 0;
    for (int v = 0; v < 3; v++) {
        uint64_t b = v == 0 ? b0 : cdc_ack_tracker_open(t, pos, NULL);
        for (int i = 0; i < nkeys; i++) {
            build_row(&tb, i, v, pos, b, &row);
            st = cdc_publisher_send_row(pub, &row);
            CHECK(st == CDC_PUB_OK, "send row %d v%d: %s", i, v, cdc_publisher_error(pub));
            sent++;
            if (v == 0) {
                int32_t p = cdc_publisher_partition(pub, "crm", tb.key.data, tb.key.len);
                CHECK(p == cdc_murmur2_partition(tb.key.data, tb.key.len, 6), "partition");
                char *h = hex(tb.key.data, tb.key.len);
                json_array_append_new(keys, json_pack("{s:s,s:i}", "key", h, "partition", p));
                free(h);
            }
        }
        if (v == 2) {
            /* Dead letters belong to the batch of the read that found them. */
            cdc_dlq_info_t info = {.stage = "producer",
                                   .source = "s1",
                                   .table = "accounts",
                                   .key_json = "{\"id\":-500000,\"region\":\"emea\"}",
                                   .column = "amount",
                                   .reason = "value 1e99 does not fit DECIMAL(14,2)",
                                   .has_position = 1,
                                   .position = pos};
            build_row(&tb, 0, 0, pos, b, &row);
            st = cdc_publisher_send_dead_letter(pub, "crm", &info, tb.key.data, tb.key.len, b);
            CHECK(st == CDC_PUB_OK, "dead letter: %s", cdc_publisher_error(pub));
            info.key_json = NULL;
            info.column = NULL;
            info.reason = "key column id holds text 'x'";
            st = cdc_publisher_send_dead_letter(pub, "crm", &info, NULL, 0, b);
            CHECK(st == CDC_PUB_OK, "unkeyed dead letter: %s", cdc_publisher_error(pub));
            st = cdc_publisher_snapshot_end(pub, "s1", "accounts", pos.epoch, 100, nkeys, b);
            CHECK(st == CDC_PUB_OK, "snapshot end: %s", cdc_publisher_error(pub));
        }
        cdc_ack_tracker_close(t, b);
        pos.h += 10;
    }
    st = cdc_publisher_heartbeat(pub, "s1", 3, 120, 7, 1500);
    CHECK(st == CDC_PUB_OK, "heartbeat: %s", cdc_publisher_error(pub));
    CHECK(cdc_publisher_send_row(pub, &(cdc_publisher_row_t){.domain = "nope"}) == CDC_PUB_INVALID,
          "unknown domain accepted");
    CHECK(cdc_publisher_heartbeat(pub, "nobody", 1, 0, 0, 0) == CDC_PUB_INVALID,
          "unknown source accepted");

    st = cdc_publisher_flush(pub, 30000);
    CHECK(st == CDC_PUB_OK, "flush: %s", cdc_publisher_error(pub));
    cdc_pos_t acked = {0, 0};
    CHECK(take_newest(t, &acked), "nothing ackable after the flush");
    CHECK(acked.epoch == 3 && acked.h == 120, "acked %" PRId64 ":%" PRId64, acked.epoch, acked.h);
    CHECK(cdc_ack_tracker_in_flight(t) == 0, "records in flight after the flush");
    CHECK(!cdc_publisher_failed(pub), "failed: %s", cdc_publisher_error(pub));

    uint64_t cfp, ckfp;
    char err[256];
    const char *cj = cdc_avro_schema_control_json(), *ckj = cdc_avro_schema_control_key_json();
    CHECK(cdc_avro_fingerprint(cj, strlen(cj), &cfp, err, sizeof(err)) == 0, "%s", err);
    CHECK(cdc_avro_fingerprint(ckj, strlen(ckj), &ckfp, err, sizeof(err)) == 0, "%s", err);
    json_t *m = json_pack("{s:o,s:o,s:o,s:o,s:o,s:{s:s,s:s,s:s,s:s},s:i,s:i}", "keys", keys,
                          "envelope_fp", fp_json(tb.env_fp), "key_fp", fp_json(tb.key_fp),
                          "control_fp", fp_json(cfp), "control_key_fp", fp_json(ckfp), "schemas",
                          "envelope", tb.env_json, "key", tb.key_json, "control", cj, "control_key",
                          ckj, "rows_sent", sent, "partitions", 6);
    CHECK(m != NULL, "json_pack");
    char *path = cdc_asprintf("%s/manifest.json", outdir);
    CHECK(json_dump_file(m, path, JSON_INDENT(1)) == 0, "cannot write %s", path);
    free(path);
    json_decref(m);

    table_free(&tb);
    cdc_publisher_destroy(pub);
    cdc_ack_tracker_destroy(t);
    cdc_config_destroy(c);
    printf("published %d rows for %d keys\n", sent, nkeys);
    return 0;
}

/* Polls for ms milliseconds in small steps. */
static void poll_for(cdc_publisher_t *pub, int ms)
{
    for (int waited = 0; waited < ms; waited += 100)
        cdc_publisher_poll(pub, 100);
}

static void run(const char *cmd)
{
    int rc = system(cmd);
    CHECK(rc == 0, "command `%s` exited %d", cmd, rc);
}

static int cmd_ackdown(const char *config, const char *down, const char *up)
{
    cdc_config_t *c = load(config);
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    cdc_publisher_opts_t opts = {.schema_timeout_ms = 2000};
    cdc_publisher_t *pub = start(c, t, &opts);
    table_t tb;
    table_init(&tb);
    cdc_publisher_row_t row;
    CHECK(cdc_publisher_ensure_schema(pub, tb.env_json, strlen(tb.env_json), tb.env_fp) ==
              CDC_PUB_OK,
          "ensure: %s", cdc_publisher_error(pub));
    CHECK(cdc_publisher_ensure_schema(pub, tb.key_json, strlen(tb.key_json), tb.key_fp) ==
              CDC_PUB_OK,
          "ensure: %s", cdc_publisher_error(pub));
    /* A first batch delivered while the brokers are up. */
    cdc_pos_t pos = {1, 10};
    uint64_t b = cdc_ack_tracker_open(t, pos, NULL);
    build_row(&tb, 1, 0, pos, b, &row);
    CHECK(cdc_publisher_send_row(pub, &row) == CDC_PUB_OK, "%s", cdc_publisher_error(pub));
    cdc_ack_tracker_close(t, b);
    CHECK(cdc_publisher_flush(pub, 10000) == CDC_PUB_OK, "%s", cdc_publisher_error(pub));
    cdc_pos_t acked;
    CHECK(cdc_ack_tracker_take(t, &acked, NULL) == 1 && acked.h == 10, "first batch not acked");

    run(down);
    int n = 50;
    pos.h = 20;
    b = cdc_ack_tracker_open(t, pos, NULL);
    for (int i = 0; i < n; i++) {
        build_row(&tb, i, 1, pos, b, &row);
        CHECK(cdc_publisher_send_row(pub, &row) == CDC_PUB_OK, "%s", cdc_publisher_error(pub));
    }
    cdc_ack_tracker_close(t, b);
    poll_for(pub, 3000);
    CHECK(cdc_ack_tracker_take(t, &acked, NULL) == 0,
          "position %" PRId64 ":%" PRId64 " ackable while every broker is down", acked.epoch,
          acked.h);
    CHECK(cdc_ack_tracker_in_flight(t) == (size_t)n, "in flight %zu, expected %d",
          cdc_ack_tracker_in_flight(t), n);
    CHECK(cdc_publisher_flush(pub, 500) == CDC_PUB_TIMEOUT, "flush did not time out");
    CHECK(!cdc_publisher_failed(pub), "failed while brokers down: %s", cdc_publisher_error(pub));
    /* A new schema cannot be confirmed: TIMEOUT within its bound, not a hang. */
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cdc_publisher_status_t st = cdc_publisher_heartbeat(pub, "s1", 1, 10, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &z);
    long ms = (z.tv_sec - a.tv_sec) * 1000 + (z.tv_nsec - a.tv_nsec) / 1000000;
    CHECK(st == CDC_PUB_TIMEOUT, "heartbeat with new control schema gave %s",
          cdc_publisher_status_name(st));
    CHECK(ms >= 1900 && ms < 4000, "schema wait took %ld ms (bound 2000)", ms);
    fprintf(stderr,
            "publisher_check: brokers down: %zu in flight, nothing ackable, schema "
            "wait timed out after %ld ms\n",
            cdc_ack_tracker_in_flight(t), ms);

    run(up);
    int took = 0;
    for (int waited = 0; waited < 60000 && !took; waited += 100) {
        cdc_publisher_poll(pub, 100);
        took = take_newest(t, &acked) || took;
    }
    CHECK(took && acked.epoch == 1 && acked.h == 20, "position 1:20 never became ackable");
    CHECK(cdc_ack_tracker_in_flight(t) == 0, "still in flight");
    /* The schema record queued while down was delivered too: the same call succeeds now,
     * without producing it again. */
    st = cdc_publisher_heartbeat(pub, "s1", 1, 20, 0, 0);
    CHECK(st == CDC_PUB_OK, "heartbeat after up: %s", cdc_publisher_error(pub));
    CHECK(cdc_publisher_flush(pub, 10000) == CDC_PUB_OK, "%s", cdc_publisher_error(pub));
    CHECK(!cdc_publisher_failed(pub), "%s", cdc_publisher_error(pub));
    table_free(&tb);
    cdc_publisher_destroy(pub);
    cdc_ack_tracker_destroy(t);
    cdc_config_destroy(c);
    printf("ackdown ok\n");
    return 0;
}

static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int cmd_backpressure(const char *config, const char *down, const char *up)
{
    cdc_config_t *c = load(config);
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    cdc_publisher_opts_t opts = {.stop = &stop_flag};
    cdc_publisher_t *pub = start(c, t, &opts);
    table_t tb;
    table_init(&tb);
    cdc_publisher_row_t row;
    CHECK(cdc_publisher_ensure_schema(pub, tb.env_json, strlen(tb.env_json), tb.env_fp) ==
                  CDC_PUB_OK &&
              cdc_publisher_ensure_schema(pub, tb.key_json, strlen(tb.key_json), tb.key_fp) ==
                  CDC_PUB_OK,
          "ensure: %s", cdc_publisher_error(pub));
    run(down);
    cdc_pos_t pos = {1, 5};
    uint64_t b = cdc_ack_tracker_open(t, pos, NULL);
    signal(SIGALRM, on_alarm);
    alarm(2);
    int sent = 0;
    cdc_publisher_status_t st = CDC_PUB_OK;
    for (int i = 0; i < 1000 && st == CDC_PUB_OK; i++) {
        build_row(&tb, i, 0, pos, b, &row);
        st = cdc_publisher_send_row(pub, &row);
        if (st == CDC_PUB_OK)
            sent++;
    }
    CHECK(st == CDC_PUB_STOPPED, "send gave %s, expected stopped", cdc_publisher_status_name(st));
    CHECK(sent > 0 && sent < 1000, "sent %d", sent);
    CHECK(cdc_ack_tracker_in_flight(t) == (size_t)sent, "in flight %zu, sent %d",
          cdc_ack_tracker_in_flight(t), sent);
    fprintf(stderr,
            "publisher_check: queue full after %d records; the next send waited, then "
            "stopped\n",
            sent);
    run(up);
    cdc_ack_tracker_close(t, b);
    CHECK(cdc_publisher_flush(pub, 60000) == CDC_PUB_OK, "%s", cdc_publisher_error(pub));
    cdc_pos_t acked;
    CHECK(cdc_ack_tracker_take(t, &acked, NULL) == 1 && acked.h == 5, "not ackable after up");
    table_free(&tb);
    cdc_publisher_destroy(pub);
    cdc_ack_tracker_destroy(t);
    cdc_config_destroy(c);
    printf("backpressure ok: %d queued records delivered\n", sent);
    return 0;
}

int main(int argc, char **argv)
{
    cdc_log_set_component("publisher_check");
    cdc_log_set_level(CDC_LOG_WARN);
    if (argc == 4 && strcmp(argv[1], "start") == 0)
        return cmd_start(argv[2], atoi(argv[3]));
    if (argc == 5 && strcmp(argv[1], "publish") == 0)
        return cmd_publish(argv[2], argv[3], atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "ackdown") == 0)
        return cmd_ackdown(argv[2], argv[3], argv[4]);
    if (argc == 5 && strcmp(argv[1], "backpressure") == 0)
        return cmd_backpressure(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: publisher_check start CONFIG TIMEOUT_MS\n"
                    "       publisher_check publish CONFIG OUTDIR KEYS\n"
                    "       publisher_check ackdown|backpressure CONFIG DOWN_CMD UP_CMD\n");
    return 2;
}
