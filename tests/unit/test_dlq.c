/*
 * Unit tests of the dead-letter format: the JSON value and the headers carry what
 * docs/dead-letters.md promises, and omit what is unknown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cdc_dlq.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void test_producer_dead_letter(void **state)
{
    (void)state;
    cdc_dlq_info_t in = {.stage = "producer",
                         .source = "epic7",
                         .table = "crm_contacts",
                         .key_json = "{\"id\":\"c-001\"}",
                         .column = "estimated_value",
                         .reason = "text 'abc' in a DECIMAL(14,2) column",
                         .has_position = 1,
                         .position = {2, 42}};
    char *v = cdc_dlq_value_json(&in);
    json_t *o = json_loads(v, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "source")), "epic7");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "key"), "id")),
                        "c-001");
    assert_string_equal(json_string_value(json_object_get(o, "column")), "estimated_value");
    json_t *pos = json_object_get(o, "position");
    assert_int_equal(json_integer_value(json_object_get(pos, "epoch")), 2);
    assert_int_equal(json_integer_value(json_object_get(pos, "h")), 42);
    assert_null(json_object_get(o, "origin"));
    assert_null(json_object_get(o, "payload_base64"));
    json_decref(o);
    free(v);

    rd_kafka_headers_t *h = cdc_dlq_headers(&in);
    const void *val;
    size_t sz;
    assert_int_equal(rd_kafka_header_get_last(h, "cdc.position", &val, &sz), 0);
    assert_int_equal(sz, 4);
    assert_memory_equal(val, "2:42", 4);
    assert_int_equal(rd_kafka_header_get_last(h, "cdc.table", &val, &sz), 0);
    assert_memory_equal(val, "crm_contacts", sz);
    rd_kafka_headers_destroy(h);
}

static void test_undecodable_sink_record(void **state)
{
    (void)state;
    const unsigned char garbage[] = {0xde, 0xad, 0xbe, 0xef, 0x00};
    cdc_dlq_info_t in = {.stage = "sink",
                         .reason = "not a single-object or Confluent-framed Avro record",
                         .origin_topic = "cdc.crm",
                         .origin_partition = 3,
                         .origin_offset = 17,
                         .payload = garbage,
                         .payload_len = sizeof(garbage)};
    char *v = cdc_dlq_value_json(&in);
    json_t *o = json_loads(v, 0, NULL);
    assert_null(json_object_get(o, "source"));
    assert_null(json_object_get(o, "position"));
    json_t *origin = json_object_get(o, "origin");
    assert_int_equal(json_integer_value(json_object_get(origin, "offset")), 17);
    assert_string_equal(json_string_value(json_object_get(o, "payload_base64")), "3q2+7wA=");
    json_decref(o);
    free(v);
    rd_kafka_headers_t *h = cdc_dlq_headers(&in);
    const void *val;
    size_t sz;
    assert_int_equal(rd_kafka_header_get_last(h, "cdc.source", &val, &sz),
                     RD_KAFKA_RESP_ERR__NOENT);
    rd_kafka_headers_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_dead_letter),
        cmocka_unit_test(test_undecodable_sink_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
