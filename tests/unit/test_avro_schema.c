/*
 * Schema texts (cdc_avro_schema.h): exact text for a small table, acceptance of every
 * generated schema by avro-c, distinct full names per source, the key's binary layout
 * (the canonical key bytes of invariant 4), reading columns back, and the errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>

#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"

#define T(k, p, s, n)                                                                              \
    {                                                                                              \
        k, p, s, n                                                                                 \
    }

/* A table with one column of every kind; "order id" and "Source" are key columns. */
static cdc_column_t all_kinds[] = {
    {"order id", NULL, "INTEGER", T(CDC_COL_LONG, 0, 0, 0), 0, 2},
    {"Source", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 1, 1},
    {"price", NULL, "REAL", T(CDC_COL_DOUBLE, 0, 0, 0), 0, 0},
    {"amount", NULL, "DECIMAL(14,2)", T(CDC_COL_DECIMAL, 14, 2, 0), 1, 0},
    {"total", NULL, "NUMERIC", T(CDC_COL_NUMERIC, 0, 0, 0), 0, 0},
    {"active", NULL, "BOOLEAN", T(CDC_COL_BOOLEAN, 0, 0, 0), 0, 0},
    {"created_at", NULL, "DATETIME", T(CDC_COL_TIMESTAMP, 0, 0, 0), 0, 0},
    {"due", NULL, "DATE", T(CDC_COL_DATE, 0, 0, 0), 0, 0},
    {"email", NULL, "VARCHAR(120)", T(CDC_COL_TEXT, 0, 0, 120), 0, 0},
    {"meta", NULL, "JSON", T(CDC_COL_JSON, 0, 0, 0), 0, 0},
    {"photo", NULL, "BLOB", T(CDC_COL_BLOB, 0, 0, 0), 0, 0},
    {"notes", NULL, "", T(CDC_COL_TEXT, 0, 0, 0), 0, 0},
};
#define NALL (sizeof(all_kinds) / sizeof(all_kinds[0]))

static avro_schema_t parse_with_avro_c(const char *json)
{
    avro_schema_t s = NULL;

    if (avro_schema_from_json_length(json, strlen(json), &s) != 0)
        fail_msg("avro-c refused the schema: %s\n%s", avro_strerror(), json);
    return s;
}

static void test_row_exact_text(void **state)
{
    cdc_column_t cols[] = {
        {"id", NULL, "INTEGER", T(CDC_COL_LONG, 0, 0, 0), 0, 1},
        {"name", NULL, "VARCHAR(40)", T(CDC_COL_TEXT, 0, 0, 40), 1, 0},
        {"value", NULL, "DECIMAL(14,2)", T(CDC_COL_DECIMAL, 14, 2, 0), 0, 0},
    };
    char err[256] = "";
    char *row = cdc_avro_schema_row_json("epic7", "crm_contacts", cols, 3, err, sizeof(err));
    char *canon;

    (void)state;
    assert_non_null(row);
    assert_string_equal(
        row, "{\"type\":\"record\",\"name\":\"crm_contacts\",\"namespace\":\"cdc.epic7\","
             "\"cdc.source\":\"epic7\",\"cdc.table\":\"crm_contacts\",\"fields\":["
             "{\"name\":\"id\",\"type\":\"long\",\"cdc.name\":\"id\",\"cdc.decl\":\"INTEGER\","
             "\"cdc.pk\":1},"
             "{\"name\":\"name\",\"type\":{\"type\":\"string\",\"cdc.maxLength\":40},"
             "\"cdc.name\":\"name\",\"cdc.decl\":\"VARCHAR(40)\"},"
             "{\"name\":\"value\",\"type\":[\"null\",{\"type\":\"bytes\",\"logicalType\":"
             "\"decimal\",\"precision\":14,\"scale\":2}],\"default\":null,\"cdc.name\":\"value\","
             "\"cdc.decl\":\"DECIMAL(14,2)\"}]}");
    canon = cdc_avro_canonical_form(row, strlen(row), err, sizeof(err));
    assert_string_equal(canon, "{\"name\":\"cdc.epic7.crm_contacts\",\"type\":\"record\","
                               "\"fields\":[{\"name\":\"id\",\"type\":\"long\"},"
                               "{\"name\":\"name\",\"type\":\"string\"},"
                               "{\"name\":\"value\",\"type\":[\"null\",\"bytes\"]}]}");
    free(canon);
    free(row);
}

static void test_avro_c_accepts_everything(void **state)
{
    char err[256] = "";
    char *row =
        cdc_avro_schema_row_json("src one", "order items", all_kinds, NALL, err, sizeof(err));
    char *key =
        cdc_avro_schema_key_json("src one", "order items", all_kinds, NALL, err, sizeof(err));
    char *env =
        cdc_avro_schema_envelope_json("src one", "order items", all_kinds, NALL, err, sizeof(err));
    avro_schema_t s, f, u;

    (void)state;
    assert_non_null(row);
    assert_non_null(key);
    assert_non_null(env);

    s = parse_with_avro_c(row);
    assert_int_equal(avro_schema_record_size(s), NALL);
    assert_string_equal(avro_schema_name(s), "order_items_xfb507f");
    /* key column: never a union, even without NOT NULL */
    f = avro_schema_record_field_get(s, "order_id_x0246f0");
    assert_non_null(f);
    assert_true(is_avro_int64(f));
    /* nullable column: ["null", double] */
    u = avro_schema_record_field_get(s, "price");
    assert_true(is_avro_union(u));
    assert_true(is_avro_null(avro_schema_union_branch(u, 0)));
    assert_true(is_avro_double(avro_schema_union_branch(u, 1)));
    /* NOT NULL column: the plain type */
    assert_true(is_avro_bytes(avro_schema_record_field_get(s, "amount")));
    avro_schema_decref(s);

    s = parse_with_avro_c(key);
    assert_int_equal(avro_schema_record_size(s), 3);
    f = avro_schema_record_field_get(s, "pk");
    assert_non_null(f);
    assert_int_equal(avro_schema_record_size(f), 2);
    /* key order: "Source" (pk 1) before "order id" (pk 2) */
    assert_true(is_avro_string(avro_schema_record_field_get_by_index(f, 0)));
    assert_true(is_avro_int64(avro_schema_record_field_get_by_index(f, 1)));
    avro_schema_decref(s);

    s = parse_with_avro_c(env);
    assert_int_equal(avro_schema_record_size(s), 5);
    assert_true(is_avro_record(avro_schema_record_field_get(s, "source")));
    avro_schema_decref(s);

    avro_schema_decref(parse_with_avro_c(cdc_avro_schema_control_json()));
    avro_schema_decref(parse_with_avro_c(cdc_avro_schema_control_key_json()));
    free(row);
    free(key);
    free(env);
}

static void test_sources_never_collide(void **state)
{
    char err[256];
    char *a =
        cdc_avro_schema_envelope_json("epic7", "crm_contacts", all_kinds, NALL, err, sizeof(err));
    char *b =
        cdc_avro_schema_envelope_json("week3", "crm_contacts", all_kinds, NALL, err, sizeof(err));
    char *c =
        cdc_avro_schema_envelope_json("epic7", "crm_contacts", all_kinds, NALL, err, sizeof(err));
    uint64_t fa, fb, fc;

    (void)state;
    assert_int_equal(cdc_avro_fingerprint(a, strlen(a), &fa, err, sizeof(err)), 0);
    assert_int_equal(cdc_avro_fingerprint(b, strlen(b), &fb, err, sizeof(err)), 0);
    assert_int_equal(cdc_avro_fingerprint(c, strlen(c), &fc, err, sizeof(err)), 0);
    assert_true(fa != fb);
    assert_true(fa == fc);
    assert_string_equal(a, c); /* byte-identical text for the same input */
    assert_non_null(strstr(a, "\"name\":\"crm_contacts_envelope\",\"namespace\":\"cdc.epic7\""));
    assert_non_null(strstr(b, "\"name\":\"crm_contacts_envelope\",\"namespace\":\"cdc.week3\""));
    free(a);
    free(b);
    free(c);
}

static void test_key_binary_layout(void **state)
{
    cdc_column_t cols[] = {
        {"id", NULL, "INTEGER", T(CDC_COL_LONG, 0, 0, 0), 0, 1},
        {"email", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 2},
        {"other", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 0},
    };
    /* string "s1", string "t", long 3 (zigzag 6), string "x@y" */
    static const unsigned char expected[] = {0x04, 's', '1', 0x02, 't', 0x06, 0x06, 'x', '@', 'y'};
    char err[256] = "";
    char *key = cdc_avro_schema_key_json("s1", "t", cols, 3, err, sizeof(err));
    avro_schema_t s = parse_with_avro_c(key);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t v, field, pk;
    char buf[64];
    avro_writer_t w = avro_writer_memory(buf, sizeof(buf));

    (void)state;
    assert_int_equal(avro_generic_value_new(iface, &v), 0);
    assert_int_equal(avro_value_get_by_name(&v, "source", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, "s1"), 0);
    assert_int_equal(avro_value_get_by_name(&v, "table", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, "t"), 0);
    assert_int_equal(avro_value_get_by_name(&v, "pk", &pk, NULL), 0);
    assert_int_equal(avro_value_get_by_name(&pk, "id", &field, NULL), 0);
    assert_int_equal(avro_value_set_long(&field, 3), 0);
    assert_int_equal(avro_value_get_by_name(&pk, "email", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, "x@y"), 0);
    assert_int_equal(avro_value_write(w, &v), 0);
    /* The nested pk record adds no byte: the canonical key bytes are the flat fields. */
    assert_int_equal(avro_writer_tell(w), sizeof(expected));
    assert_memory_equal(buf, expected, sizeof(expected));
    avro_writer_free(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
    free(key);
}

static void check_roundtrip(const char *json)
{
    cdc_column_t *cols = NULL;
    size_t n = 0;
    char err[256] = "";

    if (cdc_avro_schema_parse_columns(json, &cols, &n, err, sizeof(err)) != 0)
        fail_msg("parse_columns: %s", err);
    assert_int_equal(n, NALL);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(cols[i].name, all_kinds[i].name);
        assert_string_equal(cols[i].decl_type, all_kinds[i].decl_type);
        assert_int_equal(cols[i].type.kind, all_kinds[i].type.kind);
        assert_int_equal(cols[i].type.precision, all_kinds[i].type.precision);
        assert_int_equal(cols[i].type.scale, all_kinds[i].type.scale);
        assert_int_equal(cols[i].type.max_length, all_kinds[i].type.max_length);
        assert_int_equal(cols[i].pk_index, all_kinds[i].pk_index);
        /* key columns are never nullable in the schema */
        assert_int_equal(cols[i].not_null, all_kinds[i].not_null || all_kinds[i].pk_index > 0);
    }
    assert_string_equal(cols[0].avro_name, "order_id_x0246f0");
    cdc_avro_schema_columns_free(cols, n);
}

static void test_parse_columns_roundtrip(void **state)
{
    char err[256];
    char *row = cdc_avro_schema_row_json("s", "t", all_kinds, NALL, err, sizeof(err));
    char *env = cdc_avro_schema_envelope_json("s", "t", all_kinds, NALL, err, sizeof(err));
    cdc_column_t *cols = NULL;
    size_t n = 0;

    (void)state;
    check_roundtrip(row);
    check_roundtrip(env);
    assert_int_equal(cdc_avro_schema_parse_columns("{", &cols, &n, err, sizeof(err)), -1);
    assert_int_equal(cdc_avro_schema_parse_columns(cdc_avro_schema_control_key_json(), &cols, &n,
                                                   err, sizeof(err)),
                     -1); /* "partition" is an int: no column kind maps to it */
    assert_null(cols);
    free(row);
    free(env);
}

static void test_errors(void **state)
{
    cdc_column_t dup[] = {
        {"a", "same", "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 1},
        {"b", "same", "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 0},
    };
    cdc_column_t badname[] = {
        {"a", "not valid", "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 1},
    };
    cdc_column_t nokey[] = {
        {"a", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 0},
    };
    cdc_column_t gap[] = {
        {"a", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 1},
        {"b", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 3},
    };
    cdc_column_t twice[] = {
        {"a", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 1},
        {"b", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 1},
    };
    cdc_column_t utf8[] = {
        {"caf\xe9", NULL, "TEXT", T(CDC_COL_TEXT, 0, 0, 0), 0, 1},
    };
    char err[256];

    (void)state;
    assert_null(cdc_avro_schema_row_json("s", "t", dup, 2, err, sizeof(err)));
    assert_non_null(strstr(err, "\"a\" and \"b\""));
    assert_null(cdc_avro_schema_row_json("s", "t", badname, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "not valid"));
    assert_null(cdc_avro_schema_key_json("s", "t", nokey, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "s.t: no key column"));
    assert_null(cdc_avro_schema_key_json("s", "t", gap, 2, err, sizeof(err)));
    assert_non_null(strstr(err, "key position 2"));
    assert_null(cdc_avro_schema_key_json("s", "t", twice, 2, err, sizeof(err)));
    assert_null(cdc_avro_schema_row_json("s", "t", utf8, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "UTF-8"));
    assert_null(cdc_avro_schema_envelope_json("s", "t\xff", nokey, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "UTF-8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_exact_text),
        cmocka_unit_test(test_avro_c_accepts_everything),
        cmocka_unit_test(test_sources_never_collide),
        cmocka_unit_test(test_key_binary_layout),
        cmocka_unit_test(test_parse_columns_roundtrip),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
