/*
 * test_json_canon: canonical JSON (cdc_json_canon.h) and PostgreSQL's numeric output
 * form. The expected texts for numbers and for jsonb's own output were taken from
 * PostgreSQL 15 (SELECT 'x'::jsonb, 'x'::numeric); tests/integration/canon_postgres
 * checks the same equalities against a live server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_buf.h"
#include "cdc_json_canon.h"

static char g_err[256];

/* Canonical form of s as a NUL-terminated string in b (NULL when refused). */
static const char *canon(cdc_buf_t *b, const char *s)
{
    cdc_buf_reset(b);
    g_err[0] = '\0';
    if (cdc_json_canon((const unsigned char *)s, strlen(s), b, g_err, sizeof g_err) < 0)
        return NULL;
    return cdc_buf_cstr(b);
}

static const char *numeric(cdc_buf_t *b, const char *s)
{
    cdc_buf_reset(b);
    g_err[0] = '\0';
    if (cdc_json_canon_numeric((const unsigned char *)s, strlen(s), b, g_err, sizeof g_err) < 0)
        return NULL;
    return cdc_buf_cstr(b);
}

static void test_canonical_forms(void **state)
{
    static const char *const cases[][2] = {
        /* layout: no whitespace */
        {" { \"a\" : [ 1 , 2 ] } ", "{\"a\":[1,2]}"},
        {"[]", "[]"},
        {"{}", "{}"},
        {" [ { } , [ ] ] ", "[{},[]]"},
        /* keys sorted bytewise (jsonb itself puts shorter keys first: "z" before "ab") */
        {"{\"b\":1,\"a\":2,\"aa\":3}", "{\"a\":2,\"aa\":3,\"b\":1}"},
        {"{\"z\":1,\"ab\":2,\"\":0,\"\xc3\xa9\":3}", "{\"\":0,\"ab\":2,\"z\":1,\"\xc3\xa9\":3}"},
        /* duplicates: the last one wins, at every level, keys compared unescaped */
        {"{\"a\":1,\"a\":2}", "{\"a\":2}"},
        {"{\"a\":1,\"b\":0,\"a\":{\"k\":1,\"k\":[2]}}", "{\"a\":{\"k\":[2]},\"b\":0}"},
        {"{\"\\u0061\":1,\"a\":2}", "{\"a\":2}"},
        {"{\"a\":2,\"\\u0061\":1}", "{\"a\":1}"},
        {"[{\"y\":1,\"y\":{\"k\":2}}]", "[{\"y\":{\"k\":2}}]"},
        /* arrays keep order and duplicates */
        {"[3,1,3]", "[3,1,3]"},
        /* numbers as numeric prints them */
        {"[1.0,1e2,-0,1E-3,0.00,-0.0,1.50e1,-1E+02,0e-5,-0.0e5]",
         "[1.0,100,0,0.001,0.00,0.0,15.0,-100,0.00000,0]"},
        {"12345678901234567890e-5", "123456789012345.67890"},
        {"1.0e+25", "10000000000000000000000000"},
        {"1e-10", "0.0000000001"},
        {"-12.5", "-12.5"},
        /* strings: escapes decoded, minimal escapes written (as PostgreSQL writes them) */
        {"\"\\u00e9\\/\\t\\u001f\\u007f\\ud83d\\ude00 \\\"\"",
         "\"\xc3\xa9/\\t\\u001f\x7f\xf0\x9f\x98\x80 \\\"\""},
        {"\"\\b\\f\\n\\r\\u000b\\\\\"", "\"\\b\\f\\n\\r\\u000b\\\\\""},
        {"\"\\u00E9\"", "\"\xc3\xa9\""},
        {"\"\xc3\xa9\"", "\"\xc3\xa9\""},
        {"\"a \"", "\"a \""},
        /* scalars at the top */
        {" true ", "true"},
        {"false", "false"},
        {"null", "null"},
        {"\"\"", "\"\""},
    };
    cdc_buf_t b = CDC_BUF_INIT;
    (void)state;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *got = canon(&b, cases[k][0]);
        if (got == NULL)
            fail_msg("%s refused: %s", cases[k][0], g_err);
        if (strcmp(got, cases[k][1]) != 0)
            fail_msg("canon(%s) = %s, want %s", cases[k][0], got, cases[k][1]);
    }
    cdc_buf_free(&b);
}

/* The source text and what PostgreSQL 15 printed for it as jsonb give the same form. */
static void test_source_equals_jsonb_output(void **state)
{
    static const char *const pairs[][2] = {
        {"{\"b\":1,\"a\":2,\"aa\":3,\"a\":4, \"n\": [1.0, 1e2, -0, 1E-3, 0.00, -0.0, 1.50e1, "
         "12345678901234567890e-5, 1e-10, 1.0e+25]}",
         "{\"a\": 4, \"b\": 1, \"n\": [1.0, 100, 0, 0.001, 0.00, 0.0, 15.0, "
         "123456789012345.67890, 0.0000000001, 10000000000000000000000000], \"aa\": 3}"},
        {"{\"\\u0061\":1,\"a\":2, \"\":0, \"\xc3\xa9\":1, \"z\":1, "
         "\"ab\":[{\"y\":1,\"y\":{\"k\":2}}]}",
         "{\"\": 0, \"a\": 2, \"z\": 1, \"ab\": [{\"y\": {\"k\": 2}}], \"\xc3\xa9\": 1}"},
        {"\"\\u00e9\\/\\t\\u001f\\u007f\\ud83d\\ude00 \\\"\"",
         "\"\xc3\xa9/\\t\\u001f\x7f\xf0\x9f\x98\x80 \\\"\""},
    };
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    (void)state;

    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        const char *x = canon(&a, pairs[k][0]), *y = canon(&b, pairs[k][1]);
        assert_non_null(x);
        assert_non_null(y);
        assert_string_equal(x, y);
    }
    cdc_buf_free(&a);
    cdc_buf_free(&b);
}

/* Documents a person calls different stay different. */
static void test_different_values_differ(void **state)
{
    static const char *const pairs[][2] = {
        {"{\"a\":1}", "{\"a\":\"1\"}"},
        {"[1,2]", "[2,1]"},
        {"\"a\"", "\"a \""},
        {"null", "\"null\""},
        {"1.5", "1.50"},
        {"{\"a\":null}", "{}"},
        {"[]", "{}"},
        {"\"\"", "null"},
        {"0", "false"},
        {"{\"a\":1,\"b\":2}", "{\"ab\":12}"},
    };
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    (void)state;

    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        const char *x = canon(&a, pairs[k][0]), *y = canon(&b, pairs[k][1]);
        assert_non_null(x);
        assert_non_null(y);
        if (strcmp(x, y) == 0)
            fail_msg("%s and %s both give %s", pairs[k][0], pairs[k][1], x);
    }
    cdc_buf_free(&a);
    cdc_buf_free(&b);
}

/* Canonical text is a fixed point: canonicalizing it again changes nothing. */
static void test_idempotent(void **state)
{
    static const char *const docs[] = {
        "{\"b\":[1e2,{\"y\":\"\\u0001\",\"x\":-0.50}],\"a\":\"\\\\\\\"\"}",
        "[\"\\ud834\\udd1e\",1E+400,0.000e-3]",
    };
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    (void)state;

    for (size_t k = 0; k < sizeof docs / sizeof docs[0]; k++) {
        const char *x = canon(&a, docs[k]);
        assert_non_null(x);
        assert_string_equal(canon(&b, x), x);
    }
    cdc_buf_free(&a);
    cdc_buf_free(&b);
}

static void test_refused(void **state)
{
    static const char *const bad[][2] = {
        {"", "unexpected end"},
        {"{\"a\":1,}", "member name"},
        {"[1,]", "unexpected character"},
        {"{\"a\" 1}", "':'"},
        {"[1 2]", "','"},
        {"01", "text after"},
        {"1.", "fraction"},
        {"1e", "exponent"},
        {"+1", "unexpected character"},
        {"\"\\u0000\"", "\\u0000"},
        {"\"\\ud83d\"", "unpaired high surrogate"},
        {"\"\\ude00\"", "unpaired low surrogate"},
        {"\"\\x\"", "bad escape"},
        {"\"a\tb\"", "control character"},
        {"\"abc", "unterminated"},
        {"tru", "unexpected character"},
        {"1e131072", "numeric range"},
        {"[0e-16384]", "numeric range"},
        {"1e-16384", "numeric range"},
        {"{} x", "text after"},
    };
    cdc_buf_t b = CDC_BUF_INIT;
    (void)state;

    cdc_buf_put_str(&b, "keep");
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        g_err[0] = '\0';
        b.len = 4;
        if (cdc_json_canon((const unsigned char *)bad[k][0], strlen(bad[k][0]), &b, g_err,
                           sizeof g_err) == 0)
            fail_msg("%s accepted", bad[k][0]);
        if (strstr(g_err, bad[k][1]) == NULL)
            fail_msg("%s: error '%s' lacks '%s'", bad[k][0], g_err, bad[k][1]);
        assert_int_equal(b.len, 4); /* output left as it was */
        assert_memory_equal(b.data, "keep", 4);
    }
    cdc_buf_free(&b);
}

static void test_nesting_limit(void **state)
{
    char deep[2003];
    cdc_buf_t b = CDC_BUF_INIT;
    (void)state;

    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    assert_non_null(canon(&b, deep)); /* 1000 levels: accepted */
    memset(deep, '[', 1001);
    memset(deep + 1001, ']', 1001);
    deep[2002] = '\0';
    assert_null(canon(&b, deep));
    assert_non_null(strstr(g_err, "too deep"));
    cdc_buf_free(&b);
}

static void test_numeric_form(void **state)
{
    static const char *const cases[][2] = {
        {"1.50", "1.50"},
        {"1e2", "100"},
        {"-0", "0"},
        {"-0.00", "0.00"},
        {"+7", "7"},
        {"007.10", "7.10"},
        {".5", "0.5"},
        {"5.", "5"},
        {"1e-3", "0.001"},
        {"0.000", "0.000"},
        {"-1.5E1", "-15"},
        {"1.23e1", "12.3"},
        {"NaN", "NaN"},
        {"Infinity", "Infinity"},
        {"-Infinity", "-Infinity"},
        {"-0.0010", "-0.0010"},
        {"100e-2", "1.00"},
        {"0e3", "0"},
        {"123456789012345678901234567890", "123456789012345678901234567890"},
    };
    static const char *const bad[] = {"",   "-",   ".",   "1e",  "1.2.3", "abc",     " 1",
                                      "1 ", "nan", "inf", "1e+", "--1",   "1e200000"};
    cdc_buf_t b = CDC_BUF_INIT;
    (void)state;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *got = numeric(&b, cases[k][0]);
        if (got == NULL)
            fail_msg("%s refused: %s", cases[k][0], g_err);
        if (strcmp(got, cases[k][1]) != 0)
            fail_msg("numeric(%s) = %s, want %s", cases[k][0], got, cases[k][1]);
    }
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        if (numeric(&b, bad[k]) != NULL)
            fail_msg("'%s' accepted as %s", bad[k], cdc_buf_cstr(&b));
        assert_int_equal(b.len, 0);
    }
    /* 1e1000 is 1 and 1000 zeros (PostgreSQL accepts it). */
    assert_non_null(numeric(&b, "1e1000"));
    assert_int_equal(b.len, 1001);
    cdc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_source_equals_jsonb_output),
        cmocka_unit_test(test_different_values_differ),
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_numeric_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
