/*
 * producer/publisher against an in-process librdkafka mock cluster (rdkafka_mock.h), for
 * what the devbroker cannot inject: permanent produce errors. The devbroker integration
 * test (tests/integration/publisher_devbroker.test.sh) covers partitioning, schemas,
 * headers, control records, brokers down and back-pressure over TCP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "ack_tracker.h"
#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"
#include "cdc_config.h"
#include "cdc_framing.h"
#include "cdc_log.h"
#include "publisher.h"

typedef struct fixture_s {
    rd_kafka_t *mock_rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    cdc_config_t *conf;
    cdc_ack_tracker_t *tracker;
    cdc_publisher_t *pub;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = cdc_calloc(1, sizeof(*f));
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "log_level", "0", NULL, 0);
    f->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    assert_non_null(f->mock_rk);
    f->mc = rd_kafka_mock_cluster_new(f->mock_rk, 1);
    assert_non_null(f->mc);
    const char *topics[][2] = {
        {"ut.crm", "3"}, {"ut.crm.dlq", "3"}, {"ut.validation", "1"}, {"ut.schemas", "1"}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(rd_kafka_mock_topic_create(f->mc, topics[i][0], atoi(topics[i][1]), 1),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    char *yaml = cdc_asprintf("kafka:\n  bootstrap.servers: \"%s\"\n"
                              "topic_prefix: ut\n"
                              "sources:\n  - {name: s1, path: s1.db, domain: crm}\n"
                              "domains:\n  - {name: crm, partitions: 3, target: \"dbname=x\"}\n"
                              "validation: {partitions: 1}\n",
                              rd_kafka_mock_cluster_bootstraps(f->mc));
    f->conf = cdc_config_load_string(yaml, "/tmp", err, sizeof(err));
    free(yaml);
    assert_non_null(f->conf);
    f->tracker = cdc_ack_tracker_new();
    cdc_publisher_opts_t opts = {
        .start_timeout_ms = 5000, .schema_timeout_ms = 5000, .close_timeout_ms = 2000};
    f->pub = cdc_publisher_new(f->conf, f->tracker, &opts, err, sizeof(err));
    if (!f->pub)
        fail_msg("cdc_publisher_new: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cdc_publisher_destroy(f->pub);
    cdc_ack_tracker_destroy(f->tracker);
    cdc_config_destroy(f->conf);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mock_rk);
    free(f);
    return 0;
}

/* An unframed row record of batch b with a 3-byte canonical key. */
static cdc_publisher_row_t row_of(uint64_t b, const char *key)
{
    return (cdc_publisher_row_t){.domain = "crm",
                                 .source = "s1",
                                 .table = "t",
                                 .op = 'c',
                                 .position = {1, 1},
                                 .key = key,
                                 .key_len = strlen(key),
                                 .value = "v",
                                 .value_len = 1,
                                 .batch = b};
}

/* A permanent produce error fails the delivery: the publisher is failed for good, the
 * tracker never acknowledges the batch, and every later call says so. */
static void test_permanent_delivery_error_fails(void **state)
{
    fixture_t *f = *state;
    uint64_t b1 = cdc_ack_tracker_open(f->tracker, (cdc_pos_t){1, 10}, NULL);
    cdc_publisher_row_t r = row_of(b1, "k1");
    assert_int_equal(cdc_publisher_send_row(f->pub, &r), CDC_PUB_OK);
    cdc_ack_tracker_close(f->tracker, b1);
    assert_int_equal(cdc_publisher_flush(f->pub, 5000), CDC_PUB_OK);
    cdc_pos_t pos;
    assert_int_equal(cdc_ack_tracker_take(f->tracker, &pos, NULL), 1);
    assert_int_equal(pos.h, 10);

    rd_kafka_mock_push_request_errors(f->mc, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    uint64_t b2 = cdc_ack_tracker_open(f->tracker, (cdc_pos_t){1, 20}, NULL);
    r = row_of(b2, "k2");
    assert_int_equal(cdc_publisher_send_row(f->pub, &r), CDC_PUB_OK);
    cdc_ack_tracker_close(f->tracker, b2);
    assert_int_equal(cdc_publisher_flush(f->pub, 5000), CDC_PUB_FAILED);
    assert_true(cdc_publisher_failed(f->pub));
    assert_non_null(strstr(cdc_publisher_error(f->pub), "delivery to ut.crm"));
    assert_int_equal(cdc_ack_tracker_take(f->tracker, &pos, NULL), 0);
    assert_true(cdc_ack_tracker_failed(f->tracker));
    r = row_of(b2, "k3");
    assert_int_equal(cdc_publisher_send_row(f->pub, &r), CDC_PUB_FAILED);
    assert_int_equal(cdc_publisher_heartbeat(f->pub, "s1", 1, 0, 0, 0), CDC_PUB_FAILED);
    assert_int_equal(cdc_publisher_poll(f->pub, 0), CDC_PUB_FAILED);
}

/* A record above message.max.bytes is refused at once (dead-letter it), not counted. */
static void test_too_large(void **state)
{
    fixture_t *f = *state;
    size_t n = 2 * 1024 * 1024;
    char *big = cdc_malloc(n);
    memset(big, 'x', n);
    uint64_t b = cdc_ack_tracker_open(f->tracker, (cdc_pos_t){1, 5}, NULL);
    cdc_publisher_row_t r = row_of(b, "k");
    r.value = big;
    r.value_len = n;
    assert_int_equal(cdc_publisher_send_row(f->pub, &r), CDC_PUB_TOO_LARGE);
    assert_int_equal(cdc_ack_tracker_in_flight(f->tracker), 0);
    assert_false(cdc_publisher_failed(f->pub));
    free(big);
}

/* Many schemas: each confirmed once (the set grows past its first capacity), a framed
 * record is accepted only once its schema is confirmed. */
static void test_many_schemas(void **state)
{
    fixture_t *f = *state;
    cdc_column_t col = {"id", "id", "INTEGER", {CDC_COL_LONG, 0, 0, 0}, 1, 1};
    char err[256];
    for (int i = 0; i < 150; i++) {
        char table[32];
        snprintf(table, sizeof(table), "t%d", i);
        char *json = cdc_avro_schema_key_json("s1", table, &col, 1, err, sizeof(err));
        assert_non_null(json);
        uint64_t fp;
        assert_int_equal(cdc_avro_fingerprint(json, strlen(json), &fp, err, sizeof(err)), 0);
        unsigned char hdr[CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE];
        cdc_framing_single_object_encode(fp, hdr);
        uint64_t b = cdc_ack_tracker_open(f->tracker, (cdc_pos_t){1, i + 1}, NULL);
        cdc_publisher_row_t r = row_of(b, "k");
        r.key_framing = hdr;
        r.key_framing_len = sizeof(hdr);
        assert_false(cdc_publisher_schema_known(f->pub, fp));
        assert_int_equal(cdc_publisher_send_row(f->pub, &r), CDC_PUB_INVALID);
        assert_int_equal(cdc_publisher_ensure_schema(f->pub, json, strlen(json), fp), CDC_PUB_OK);
        assert_true(cdc_publisher_schema_known(f->pub, fp));
        assert_int_equal(cdc_publisher_send_row(f->pub, &r), CDC_PUB_OK);
        cdc_ack_tracker_close(f->tracker, b);
        free(json);
    }
    assert_int_equal(cdc_publisher_flush(f->pub, 10000), CDC_PUB_OK);
    cdc_pos_t pos;
    for (int i = 0; i < 150; i++) {
        assert_int_equal(cdc_ack_tracker_take(f->tracker, &pos, NULL), 1);
        assert_int_equal(pos.h, i + 1);
    }
    assert_int_equal(cdc_ack_tracker_take(f->tracker, &pos, NULL), 0);
}

int main(void)
{
    cdc_log_set_level(CDC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_permanent_delivery_error_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_schemas, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
