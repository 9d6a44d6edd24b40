/*
 * Parsing Canonical Form and CRC-64-AVRO against the Avro project's own test vectors
 * (apache/avro share/test/data/schema-tests.txt, cases 000-033, copied verbatim as data:
 * input schema, canonical form, and the Java-computed fingerprint where the file has one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_avro_canonical.h"

typedef struct {
    const char *input;
    const char *canonical;
    int has_fingerprint;
    int64_t fingerprint; /* as Java prints it: a signed long */
} vector_t;

static const vector_t vectors[] = {
    /* 000 */ {"\"null\"", "\"null\"", 1, INT64_C(7195948357588979594)},
    /* 001 */ {"{\"type\":\"null\"}", "\"null\"", 0, 0},
    /* 002 */ {"\"boolean\"", "\"boolean\"", 1, INT64_C(-6970731678124411036)},
    /* 003 */ {"{\"type\":\"boolean\"}", "\"boolean\"", 0, 0},
    /* 004 */ {"\"int\"", "\"int\"", 1, INT64_C(8247732601305521295)},
    /* 005 */ {"{\"type\":\"int\"}", "\"int\"", 0, 0},
    /* 006 */ {"\"long\"", "\"long\"", 1, INT64_C(-3434872931120570953)},
    /* 007 */ {"{\"type\":\"long\"}", "\"long\"", 0, 0},
    /* 008 */ {"\"float\"", "\"float\"", 1, INT64_C(5583340709985441680)},
    /* 009 */ {"{\"type\":\"float\"}", "\"float\"", 0, 0},
    /* 010 */ {"\"double\"", "\"double\"", 1, INT64_C(-8181574048448539266)},
    /* 011 */ {"{\"type\":\"double\"}", "\"double\"", 0, 0},
    /* 012 */ {"\"bytes\"", "\"bytes\"", 1, INT64_C(5746618253357095269)},
    /* 013 */ {"{\"type\":\"bytes\"}", "\"bytes\"", 0, 0},
    /* 014 */ {"\"string\"", "\"string\"", 1, INT64_C(-8142146995180207161)},
    /* 015 */ {"{\"type\":\"string\"}", "\"string\"", 0, 0},
    /* 016 */ {"[  ]", "[]", 1, INT64_C(-1241056759729112623)},
    /* 017 */ {"[ \"int\"  ]", "[\"int\"]", 1, INT64_C(-5232228896498058493)},
    /* 018 */
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 1,
     INT64_C(5392556393470105090)},
    /* 019 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", 1, INT64_C(-4824392279771201922)},
    /* 020 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 1, INT64_C(5916914534497305771)},
    /* 021 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", 1, INT64_C(-4616218487480524110)},
    /* 022 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", 1, INT64_C(-4824392279771201922)},
    /* 023 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", 1, INT64_C(-4824392279771201922)},
    /* 024 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
     "\"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", 1, INT64_C(-4824392279771201922)},
    /* 025 */
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", "
     "\"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}",
     1, INT64_C(7843277075252814651)},
    /* 026 */
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
     "\"default\":\"true\"},\n            "
     "{\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n  "
     "\"type\":\"record\", \"name\":\"foo\"\n}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},{"
     "\"name\":\"f2\",\"type\":\"int\"}]}",
     1, INT64_C(-4860222112080293046)},
    /* 027 */
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}", 1, INT64_C(-6342190197741309591)},
    /* 028 */
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}", 1,
     INT64_C(-4448647247586288245)},
    /* 029 */
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", 1, INT64_C(1756455273707447556)},
    /* 030 */
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", 1, INT64_C(-3064184465700546786)},
    /* 031 */
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", 1, INT64_C(-589620603366471059)},
    /* 032 */
    {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}", 1,
     INT64_C(-8732877298790414990)},
    /* 033 */
    {"  {\"name\":\"PigValue\",\"type\":\"record\",\n   \"fields\":[{\"name\":\"value\", "
     "\"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":["
     "\"null\",\"int\",\"long\",\"PigValue\"]}]}",
     1, INT64_C(-1759257747318642341)},
};

static void test_avro_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char err[256] = "";
        char *canon =
            cdc_avro_canonical_form(vectors[i].input, strlen(vectors[i].input), err, sizeof(err));
        uint64_t fp = 0;

        if (!canon || strcmp(canon, vectors[i].canonical) != 0)
            fail_msg("case %03zu: input %s\n  expected %s\n  got      %s (%s)", i, vectors[i].input,
                     vectors[i].canonical, canon ? canon : "NULL", err);
        /* Every case is checked against the CRC of its expected canonical form too, so
         * the cases without a published fingerprint still exercise the whole path. */
        assert_int_equal(
            cdc_avro_fingerprint(vectors[i].input, strlen(vectors[i].input), &fp, err, sizeof(err)),
            0);
        assert_true(fp == cdc_avro_crc64(vectors[i].canonical, strlen(vectors[i].canonical)));
        if (vectors[i].has_fingerprint && (int64_t)fp != vectors[i].fingerprint)
            fail_msg("case %03zu: fingerprint %lld, expected %lld", i, (long long)(int64_t)fp,
                     (long long)vectors[i].fingerprint);
        free(canon);
    }
}

static void test_crc64_empty(void **state)
{
    (void)state;
    /* The specification's EMPTY constant is the fingerprint of zero bytes. */
    assert_true(cdc_avro_crc64("", 0) == 0xc15d213aa4d7a795ULL);
}

static void expect_canonical(const char *input, const char *expected)
{
    char err[256] = "";
    char *canon = cdc_avro_canonical_form(input, strlen(input), err, sizeof(err));

    if (!canon || strcmp(canon, expected) != 0)
        fail_msg("input %s\n  expected %s\n  got      %s (%s)", input, expected,
                 canon ? canon : "NULL", err);
    free(canon);
}

static void test_strip_logical_and_properties(void **state)
{
    (void)state;
    /* [STRIP]: logical types, defaults and custom properties do not change parsing. */
    expect_canonical("{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", "\"long\"");
    expect_canonical("{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,"
                     "\"scale\":2}",
                     "\"bytes\"");
    expect_canonical("{\"type\":\"record\",\"name\":\"t\",\"namespace\":\"cdc.s\","
                     "\"cdc.table\":\"t\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
                     "{\"type\":\"string\",\"cdc.type\":\"json\"}],\"default\":null,"
                     "\"cdc.name\":\"a\"}]}",
                     "{\"name\":\"cdc.s.t\",\"type\":\"record\",\"fields\":[{\"name\":\"a\","
                     "\"type\":[\"null\",\"string\"]}]}");
}

static void test_nested_namespaces(void **state)
{
    (void)state;
    /* [FULLNAMES]: nested types inherit the enclosing namespace; references are written
     * as full names; a dotted name ignores "namespace"; "" resets to the null namespace. */
    expect_canonical(
        "{\"type\":\"record\",\"name\":\"Env\",\"namespace\":\"a.b\",\"fields\":["
        "{\"name\":\"x\",\"type\":{\"type\":\"record\",\"name\":\"Row\",\"fields\":[]}},"
        "{\"name\":\"y\",\"type\":\"Row\"},"
        "{\"name\":\"z\",\"type\":{\"type\":\"record\",\"name\":\"S\",\"namespace\":\"cdc\","
        "\"fields\":[{\"name\":\"r\",\"type\":\"a.b.Row\"}]}},"
        "{\"name\":\"w\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"namespace\":\"\","
        "\"symbols\":[\"A\"]}},"
        "{\"name\":\"v\",\"type\":{\"type\":\"array\",\"items\":\"E\"}},"
        "{\"name\":\"u\",\"type\":{\"type\":\"fixed\",\"name\":\"q.F\",\"size\":16}}]}",
        "{\"name\":\"a.b.Env\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"x\",\"type\":{\"name\":\"a.b.Row\",\"type\":\"record\",\"fields\":[]}},"
        "{\"name\":\"y\",\"type\":\"a.b.Row\"},"
        "{\"name\":\"z\",\"type\":{\"name\":\"cdc.S\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"r\",\"type\":\"a.b.Row\"}]}},"
        "{\"name\":\"w\",\"type\":{\"name\":\"E\",\"type\":\"enum\",\"symbols\":[\"A\"]}},"
        "{\"name\":\"v\",\"type\":{\"type\":\"array\",\"items\":\"E\"}},"
        "{\"name\":\"u\",\"type\":{\"name\":\"q.F\",\"type\":\"fixed\",\"size\":16}}]}");
}

static void test_strings_unescaped(void **state)
{
    (void)state;
    /* [STRINGS]: \u escapes of printable characters become the characters themselves. */
    expect_canonical("{\"type\":\"enum\",\"name\":\"\\u0066oo\",\"symbols\":[\"\\u00e9\"]}",
                     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"\xc3\xa9\"]}");
}

static void expect_error(const char *input)
{
    char err[256] = "";
    char *canon = cdc_avro_canonical_form(input, strlen(input), err, sizeof(err));

    if (canon)
        fail_msg("input %s was accepted as %s", input, canon);
    assert_true(err[0] != '\0');
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{");
    expect_error("42");
    expect_error("\"nosuchtype\"");
    expect_error("{\"type\":\"record\",\"name\":\"r\"}");
    expect_error("{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":"
                 "\"Other\"}]}");
    expect_error("{\"type\":\"fixed\",\"name\":\"f\"}");
    expect_error("[{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[]},"
                 "{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[]}]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_vectors),
        cmocka_unit_test(test_crc64_empty),
        cmocka_unit_test(test_strip_logical_and_properties),
        cmocka_unit_test(test_nested_namespaces),
        cmocka_unit_test(test_strings_unescaped),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
