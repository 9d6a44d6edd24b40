/*
 * Unit tests of cdc_kafka: owned properties always win, bounded defaults apply only where
 * the user set nothing, and the topic check names missing and mismatched topics (against
 * an in-process mock cluster).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cdc_config.h"
#include "cdc_kafka.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *yaml = "kafka: {bootstrap.servers: 'b:1', client.id: x}\n"
                          "kafka_producer: {linger.ms: '50'}\n"
                          "kafka_consumer: {fetch.max.bytes: '2000000'}\n"
                          "domains: [{name: crm, target: t, partitions: 4}]\n"
                          "sources: []\n";

static void expect_prop(rd_kafka_conf_t *kc, const char *name, const char *value)
{
    char buf[256];
    size_t sz = sizeof(buf);
    assert_int_equal(rd_kafka_conf_get(kc, name, buf, &sz), RD_KAFKA_CONF_OK);
    if (strcmp(buf, value) != 0)
        fail_msg("%s is \"%s\", expected \"%s\"", name, buf, value);
}

static void test_producer_conf(void **state)
{
    (void)state;
    char err[512];
    cdc_config_t *c = cdc_config_load_string(yaml, "/", err, sizeof(err));
    assert_non_null(c);
    rd_kafka_conf_t *kc = cdc_kafka_conf_new(c, CDC_KAFKA_PRODUCER, NULL, err, sizeof(err));
    assert_non_null(kc);
    expect_prop(kc, "enable.idempotence", "true");
    expect_prop(kc, "acks", "-1");                          /* librdkafka spells "all" as -1 */
    expect_prop(kc, "linger.ms", "50");                     /* the user's value */
    expect_prop(kc, "queue.buffering.max.kbytes", "16384"); /* bounded default */
    expect_prop(kc, "client.id", "x");
    expect_prop(kc, "allow.auto.create.topics", "false");
    rd_kafka_conf_destroy(kc);
    cdc_config_destroy(c);
}

static void test_consumer_conf(void **state)
{
    (void)state;
    char err[512];
    cdc_config_t *c = cdc_config_load_string(yaml, "/", err, sizeof(err));
    char *group = cdc_kafka_sink_group(c, "crm");
    assert_string_equal(group, "cdc.crm.sink");
    rd_kafka_conf_t *kc = cdc_kafka_conf_new(c, CDC_KAFKA_CONSUMER, group, err, sizeof(err));
    assert_non_null(kc);
    expect_prop(kc, "group.id", "cdc.crm.sink");
    expect_prop(kc, "enable.auto.commit", "false");
    expect_prop(kc, "auto.offset.reset", "error");
    expect_prop(kc, "fetch.max.bytes", "2000000");
    expect_prop(kc, "queued.max.messages.kbytes", "8192");
    rd_kafka_conf_destroy(kc);
    assert_null(cdc_kafka_conf_new(c, CDC_KAFKA_CONSUMER, NULL, err, sizeof(err)));
    free(group);
    cdc_config_destroy(c);
}

static void test_bad_property_named(void **state)
{
    (void)state;
    char err[512];
    cdc_config_t *c = cdc_config_load_string("kafka: {no.such.property: 1}\n"
                                             "domains: [{name: crm, target: t}]\nsources: []\n",
                                             "/", err, sizeof(err));
    assert_non_null(c);
    assert_null(cdc_kafka_conf_new(c, CDC_KAFKA_PRODUCER, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "no.such.property"));
    cdc_config_destroy(c);
}

static void test_check_topics_against_mock(void **state)
{
    (void)state;
    char err[1024];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof(err));
    assert_non_null(mrk);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "cdc.crm", 4, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "cdc.crm.dlq", 2, 1), 0);

    char *y = NULL;
    size_t ylen = 0;
    FILE *f = open_memstream(&y, &ylen);
    fprintf(f,
            "kafka: {bootstrap.servers: '%s'}\ndomains: [{name: crm, target: t, "
            "partitions: 4}]\nsources: []\n",
            rd_kafka_mock_cluster_bootstraps(mc));
    fclose(f);
    cdc_config_t *c = cdc_config_load_string(y, "/", err, sizeof(err));
    assert_non_null(c);
    rd_kafka_conf_t *kc = cdc_kafka_conf_new(c, CDC_KAFKA_PRODUCER, NULL, err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    assert_non_null(rk);
    cdc_topic_spec_t *t;
    size_t n = cdc_config_topics(c, &t);
    assert_int_equal(cdc_kafka_check_topics(rk, t, n, 5000, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "topic cdc.crm.dlq has 2 partitions, the config says 4"));
    assert_non_null(strstr(err, "topic cdc.validation is missing"));
    assert_null(strstr(err, "topic cdc.crm "));
    cdc_config_topics_free(t, n);
    rd_kafka_destroy(rk);
    cdc_config_destroy(c);
    free(y);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_conf),
        cmocka_unit_test(test_consumer_conf),
        cmocka_unit_test(test_bad_property_named),
        cmocka_unit_test(test_check_topics_against_mock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
