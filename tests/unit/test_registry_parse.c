/*
 * Schema registry wire bodies (libcdc/cdc_registry_parse.c) and the client's cache
 * (libcdc/cdc_registry_cache.c): documented answers, malformed ones, the exact schema text
 * surviving the round trip through a JSON string, and cache keys that are the exact text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cdc_registry_cache.h"
#include "cdc_registry_parse.h"

#define BODY(s) (s), strlen(s)

static void test_body_schema_exact(void **state)
{
    /* Quotes, backslashes, non-ASCII and a "default" must come back byte for byte. */
    const char *schema = "{\"type\":\"record\",\"name\":\"T\",\"doc\":\"a \\\"q\\\" \\\\ "
                         "\xc3\xa9\",\"fields\":[{\"name\":\"x\",\"type\":[\"null\",\"long\"],"
                         "\"default\":null}]}";
    char err[128];
    char *body = cdc_registry_body_schema(schema, err, sizeof(err));
    json_t *root;

    (void)state;
    assert_non_null(body);
    root = json_loads(body, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_object_size(root), 1);
    assert_string_equal(json_string_value(json_object_get(root, "schema")), schema);
    json_decref(root);
    free(body);

    assert_null(cdc_registry_body_schema("{\"doc\":\"\xff\"}", err, sizeof(err)));
    assert_non_null(strstr(err, "UTF-8"));
}

static void test_body_level(void **state)
{
    char *body = cdc_registry_body_level("FULL");

    (void)state;
    assert_string_equal(body, "{\"compatibility\":\"FULL\"}");
    free(body);
}

static void test_path_escape(void **state)
{
    char *e;

    (void)state;
    e = cdc_registry_path_escape("cdc.crm-cdc.epic7.deals_envelope~");
    assert_string_equal(e, "cdc.crm-cdc.epic7.deals_envelope~");
    free(e);
    e = cdc_registry_path_escape("a/b c?d%\xc3\xa9");
    assert_string_equal(e, "a%2Fb%20c%3Fd%25%C3%A9");
    free(e);
}

static void test_parse_error(void **state)
{
    char msg[64];
    int code = -1;

    (void)state;
    cdc_registry_parse_error(BODY("{\"error_code\":40401,\"message\":\"Subject 'x' not found.\"}"),
                             &code, msg, sizeof(msg));
    assert_int_equal(code, 40401);
    assert_string_equal(msg, "Subject 'x' not found.");
    cdc_registry_parse_error(BODY("<html>\n<b>Bad Gateway</b></html>"), &code, msg, sizeof(msg));
    assert_int_equal(code, 0);
    assert_string_equal(msg, "<html> <b>Bad Gateway</b></html>");
    cdc_registry_parse_error(BODY("{}"), &code, msg, sizeof(msg));
    assert_int_equal(code, 0);
    assert_string_equal(msg, "");
    cdc_registry_parse_error(NULL, 0, &code, msg, sizeof(msg));
    assert_string_equal(msg, "");
}

static void test_parse_id(void **state)
{
    uint32_t id = 0;
    int version = -1;
    char err[128];

    (void)state;
    assert_int_equal(cdc_registry_parse_id(BODY("{\"id\":42}"), &id, &version, err, sizeof(err)),
                     0);
    assert_int_equal(id, 42);
    assert_int_equal(version, 0);
    assert_int_equal(cdc_registry_parse_id(BODY("{\"subject\":\"s\",\"id\":7,\"version\":3,"
                                                "\"schema\":\"\\\"long\\\"\"}"),
                                           &id, &version, err, sizeof(err)),
                     0);
    assert_int_equal(id, 7);
    assert_int_equal(version, 3);
    assert_int_equal(cdc_registry_parse_id(BODY("{\"id\":\"42\"}"), &id, NULL, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "\"id\""));
    assert_int_equal(cdc_registry_parse_id(BODY("{\"id\":0}"), &id, NULL, err, sizeof(err)), -1);
    assert_int_equal(
        cdc_registry_parse_id(BODY("{\"id\":4294967296}"), &id, NULL, err, sizeof(err)), -1);
    assert_int_equal(cdc_registry_parse_id(BODY("[1]"), &id, NULL, err, sizeof(err)), -1);
    assert_int_equal(cdc_registry_parse_id(BODY("{\"id\":1"), &id, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not JSON"));
}

static void test_parse_schema(void **state)
{
    char err[128];
    char *s;

    (void)state;
    s = cdc_registry_parse_schema(BODY("{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\"}"), err,
                                  sizeof(err));
    assert_non_null(s);
    assert_string_equal(s, "{\"type\":\"string\"}");
    free(s);
    s = cdc_registry_parse_schema(BODY("{\"schemaType\":\"AVRO\",\"schema\":\"\\\"long\\\"\"}"),
                                  err, sizeof(err));
    assert_non_null(s);
    assert_string_equal(s, "\"long\"");
    free(s);
    assert_null(cdc_registry_parse_schema(BODY("{\"schemaType\":\"PROTOBUF\",\"schema\":\"x\"}"),
                                          err, sizeof(err)));
    assert_non_null(strstr(err, "PROTOBUF"));
    assert_null(cdc_registry_parse_schema(BODY("{\"schema\":{}}"), err, sizeof(err)));
    assert_null(cdc_registry_parse_schema(BODY("nope"), err, sizeof(err)));
}

static void test_parse_compat(void **state)
{
    char err[128], msgs[256];
    int ok = -1;

    (void)state;
    assert_int_equal(cdc_registry_parse_compat(BODY("{\"is_compatible\":true}"), &ok, msgs,
                                               sizeof(msgs), err, sizeof(err)),
                     0);
    assert_int_equal(ok, 1);
    assert_string_equal(msgs, "");
    assert_int_equal(cdc_registry_parse_compat(BODY("{\"is_compatible\":false,\"messages\":"
                                                    "[\"field x has no default\",{\"a\":1}]}"),
                                               &ok, msgs, sizeof(msgs), err, sizeof(err)),
                     0);
    assert_int_equal(ok, 0);
    assert_string_equal(msgs, "field x has no default; {\"a\":1}");
    assert_int_equal(cdc_registry_parse_compat(BODY("{\"is_compatible\":\"yes\"}"), &ok, msgs,
                                               sizeof(msgs), err, sizeof(err)),
                     -1);
}

static void test_parse_level(void **state)
{
    char err[128], level[32];

    (void)state;
    assert_int_equal(cdc_registry_parse_level(BODY("{\"compatibilityLevel\":\"BACKWARD\"}"), level,
                                              sizeof(level), err, sizeof(err)),
                     0);
    assert_string_equal(level, "BACKWARD");
    assert_int_equal(cdc_registry_parse_level(BODY("{\"compatibility\":\"NONE\"}"), level,
                                              sizeof(level), err, sizeof(err)),
                     0);
    assert_string_equal(level, "NONE");
    assert_int_equal(cdc_registry_parse_level(BODY("{\"compatibilityLevel\":\"SIDEWAYS\"}"), level,
                                              sizeof(level), err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "SIDEWAYS"));
    assert_int_equal(cdc_registry_parse_level(BODY("{\"compatibilityLevel\":\"BACKWARD\"}"), level,
                                              4, err, sizeof(err)),
                     -1);
}

static void test_cache(void **state)
{
    static const char *a = "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"x\","
                           "\"type\":[\"null\",\"long\"],\"default\":null}]}";
    /* Same Avro fingerprint as a (canonical form drops "default"), different text. */
    static const char *b = "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"x\","
                           "\"type\":[\"null\",\"long\"]}]}";
    cdc_registry_cache_t c;
    const cdc_registry_cache_entry_t *e;
    const char *s;
    char many[32];
    uint32_t i;

    (void)state;
    memset(&c, 0, sizeof(c));
    assert_null(cdc_registry_cache_subject_get(&c, "s", a));
    cdc_registry_cache_subject_put(&c, "s", a, 5, 2);
    e = cdc_registry_cache_subject_get(&c, "s", a);
    assert_non_null(e);
    assert_int_equal(e->id, 5);
    assert_int_equal(e->version, 2);
    assert_null(cdc_registry_cache_subject_get(&c, "s", b));
    assert_null(cdc_registry_cache_subject_get(&c, "t", a));
    cdc_registry_cache_subject_put(&c, "s", a, 6, 3); /* known: left as it is */
    assert_int_equal(cdc_registry_cache_subject_get(&c, "s", a)->id, 5);
    assert_int_equal(c.n_subjects, 1);

    assert_null(cdc_registry_cache_id_get(&c, 5));
    s = cdc_registry_cache_id_put(&c, 5, a);
    assert_string_equal(s, a);
    assert_ptr_equal(cdc_registry_cache_id_put(&c, 5, b), s); /* the first text stays */
    assert_ptr_equal(cdc_registry_cache_id_get(&c, 5), s);
    /* Many ids sharing buckets. */
    for (i = 1; i <= 1000; i++) {
        snprintf(many, sizeof(many), "\"s%u\"", (unsigned)i);
        cdc_registry_cache_id_put(&c, i * 256, many);
        cdc_registry_cache_subject_put(&c, many, a, i, 1);
    }
    for (i = 1; i <= 1000; i++) {
        snprintf(many, sizeof(many), "\"s%u\"", (unsigned)i);
        assert_string_equal(cdc_registry_cache_id_get(&c, i * 256), many);
        assert_int_equal(cdc_registry_cache_subject_get(&c, many, a)->id, i);
    }
    cdc_registry_cache_free(&c);
    assert_null(cdc_registry_cache_id_get(&c, 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_schema_exact),
        cmocka_unit_test(test_body_level),
        cmocka_unit_test(test_path_escape),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_parse_id),
        cmocka_unit_test(test_parse_schema),
        cmocka_unit_test(test_parse_compat),
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
