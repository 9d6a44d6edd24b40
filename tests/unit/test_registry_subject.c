/*
 * Schema registry naming (libcdc/cdc_registry_subject.c): subject name strategies as
 * Confluent's serializers apply them, the full name of a schema's top record, strategy and
 * level names, error classification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_registry.h"

static void expect_subject(cdc_registry_strategy_t st, const char *topic, const char *record,
                           int is_key, const char *want)
{
    char *got = cdc_registry_subject(st, topic, record, is_key);

    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_topic_record_name(void **state)
{
    (void)state;
    /* Both key and value subjects carry the record's full name; the key/value
     * distinction comes from the record names themselves. */
    expect_subject(CDC_REGISTRY_TOPIC_RECORD_NAME, "cdc.crm", "cdc.epic7.deals_envelope", 0,
                   "cdc.crm-cdc.epic7.deals_envelope");
    expect_subject(CDC_REGISTRY_TOPIC_RECORD_NAME, "cdc.crm", "cdc.epic7.deals_key", 1,
                   "cdc.crm-cdc.epic7.deals_key");
    expect_subject(CDC_REGISTRY_TOPIC_RECORD_NAME, "cdc.crm", "cdc.epic7.deals_key", 0,
                   "cdc.crm-cdc.epic7.deals_key");
    expect_subject(CDC_REGISTRY_TOPIC_RECORD_NAME, "cdc.crm", NULL, 0, NULL);
    expect_subject(CDC_REGISTRY_TOPIC_RECORD_NAME, "", "x.Y", 0, NULL);
}

static void test_topic_name(void **state)
{
    (void)state;
    expect_subject(CDC_REGISTRY_TOPIC_NAME, "cdc.crm", "cdc.epic7.deals_envelope", 0,
                   "cdc.crm-value");
    expect_subject(CDC_REGISTRY_TOPIC_NAME, "cdc.crm", "cdc.epic7.deals_key", 1, "cdc.crm-key");
    expect_subject(CDC_REGISTRY_TOPIC_NAME, "cdc.crm", NULL, 1, "cdc.crm-key");
    expect_subject(CDC_REGISTRY_TOPIC_NAME, NULL, "x.Y", 1, NULL);
}

static void test_record_name(void **state)
{
    (void)state;
    expect_subject(CDC_REGISTRY_RECORD_NAME, "cdc.crm", "cdc.Control", 0, "cdc.Control");
    expect_subject(CDC_REGISTRY_RECORD_NAME, NULL, "cdc.ControlKey", 1, "cdc.ControlKey");
    expect_subject(CDC_REGISTRY_RECORD_NAME, "cdc.crm", "", 1, NULL);
}

static void test_strategy_names(void **state)
{
    cdc_registry_strategy_t s = CDC_REGISTRY_TOPIC_NAME;

    (void)state;
    assert_int_equal(cdc_registry_strategy_parse("topic-record-name", &s), 0);
    assert_int_equal(s, CDC_REGISTRY_TOPIC_RECORD_NAME);
    assert_int_equal(cdc_registry_strategy_parse("TopicNameStrategy", &s), 0);
    assert_int_equal(s, CDC_REGISTRY_TOPIC_NAME);
    assert_int_equal(cdc_registry_strategy_parse(
                         "io.confluent.kafka.serializers.subject.RecordNameStrategy", &s),
                     0);
    assert_int_equal(s, CDC_REGISTRY_RECORD_NAME);
    assert_int_equal(cdc_registry_strategy_parse("topic", &s), -1);
    assert_int_equal(cdc_registry_strategy_parse("io.confluent.kafka.serializers.subject.", &s),
                     -1);
    assert_int_equal(cdc_registry_strategy_parse(NULL, &s), -1);
    assert_string_equal(cdc_registry_strategy_name(CDC_REGISTRY_TOPIC_RECORD_NAME),
                        "topic-record-name");
    assert_string_equal(cdc_registry_strategy_name(CDC_REGISTRY_TOPIC_NAME), "topic-name");
    assert_string_equal(cdc_registry_strategy_name(CDC_REGISTRY_RECORD_NAME), "record-name");
}

static void expect_fullname(const char *json, const char *want)
{
    char out[128], err[256];
    int n = cdc_registry_schema_fullname(json, out, sizeof(out), err, sizeof(err));

    if (want == NULL) {
        assert_int_equal(n, -1);
        assert_true(err[0] != '\0');
        return;
    }
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_fullname(void **state)
{
    (void)state;
    expect_fullname("{\"type\":\"record\",\"name\":\"deals_envelope\",\"namespace\":\"cdc.epic7\","
                    "\"fields\":[]}",
                    "cdc.epic7.deals_envelope");
    /* A dotted name is already full: the namespace is ignored (Avro specification). */
    expect_fullname("{\"type\":\"record\",\"name\":\"a.b.C\",\"namespace\":\"x\",\"fields\":[]}",
                    "a.b.C");
    expect_fullname("{\"type\":\"record\",\"name\":\"C\",\"fields\":[]}", "C");
    expect_fullname("{\"type\":\"record\",\"name\":\"C\",\"namespace\":\"\",\"fields\":[]}", "C");
    expect_fullname("{\"type\":\"enum\",\"name\":\"E\",\"namespace\":\"n\",\"symbols\":[\"A\"]}",
                    "n.E");
    expect_fullname("\"string\"", NULL);
    expect_fullname("[\"null\",\"long\"]", NULL);
    expect_fullname("{\"type\":\"record\",\"fields\":[]}", NULL);
    expect_fullname("{\"type\":\"array\",\"items\":\"long\"}", NULL);
    expect_fullname("{not json", NULL);
}

static void test_levels_and_errors(void **state)
{
    (void)state;
    assert_true(cdc_registry_level_valid("BACKWARD"));
    assert_true(cdc_registry_level_valid("FULL_TRANSITIVE"));
    assert_true(cdc_registry_level_valid("NONE"));
    assert_false(cdc_registry_level_valid("backward"));
    assert_false(cdc_registry_level_valid("BACKWARDS"));
    assert_false(cdc_registry_level_valid(NULL));
    assert_string_equal(cdc_registry_err_name(CDC_REGISTRY_INCOMPATIBLE), "incompatible");
    assert_string_equal(cdc_registry_err_name(CDC_REGISTRY_NOT_FOUND), "not-found");
    assert_true(cdc_registry_err_retriable(CDC_REGISTRY_UNAVAILABLE));
    assert_false(cdc_registry_err_retriable(CDC_REGISTRY_INCOMPATIBLE));
    assert_false(cdc_registry_err_retriable(CDC_REGISTRY_AUTH));
}

static void test_new_refuses(void **state)
{
    cdc_registry_opts_t opts;
    char err[256];

    (void)state;
    cdc_registry_opts_init(&opts);
    assert_int_equal(opts.max_attempts, 5);
    assert_int_equal(opts.backoff_ms, 100);
    assert_int_equal(opts.tls_verify, 1);
    assert_null(cdc_registry_new(&opts, err, sizeof(err)));
    assert_non_null(strstr(err, "schema_registry.url"));
    opts.url = "ftp://user:s3cret@host/";
    assert_null(cdc_registry_new(&opts, err, sizeof(err)));
    assert_non_null(strstr(err, "not an http"));
    assert_null(strstr(err, "s3cret")); /* never show a password */
}

static void test_url_masked(void **state)
{
    cdc_registry_opts_t opts;
    cdc_registry_t *r;
    char err[256];

    (void)state;
    cdc_registry_opts_init(&opts);
    opts.url = "https://alice:s3cret@registry.example:8081/";
    r = cdc_registry_new(&opts, err, sizeof(err));
    assert_non_null(r);
    assert_null(strstr(cdc_registry_url(r), "s3cret"));
    assert_non_null(strstr(cdc_registry_url(r), "registry.example:8081"));
    assert_true(cdc_registry_url(r)[strlen(cdc_registry_url(r)) - 1] != '/');
    cdc_registry_destroy(r);
    cdc_registry_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_record_name), cmocka_unit_test(test_topic_name),
        cmocka_unit_test(test_record_name),       cmocka_unit_test(test_strategy_names),
        cmocka_unit_test(test_fullname),          cmocka_unit_test(test_levels_and_errors),
        cmocka_unit_test(test_new_refuses),       cmocka_unit_test(test_url_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
