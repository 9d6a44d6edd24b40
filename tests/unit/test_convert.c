/*
 * test_convert: the numeric, boolean, text, blob and NULL column kinds of cdc_convert.h,
 * accepted values and misfits, and cdc_buf. Time kinds: test_convert_time.c; JSON:
 * test_convert_json.c; shared helpers: test_convert_util.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_buf.h"
#include "cdc_convert.h"
#include "test_convert_util.h"
#include "test_values.h"

/* DECIMAL: checks the unscaled bytes and their text form. */
static void assert_decimal(cdc_column_t c, cdc_value_t v, const char *hex, const char *text)
{
    cdc_mapped_t m;
    char got[256] = "";
    cdc_buf_t t = CDC_BUF_INIT;

    if (conv(c, v, &m) != CDC_CONVERT_OK)
        fail_msg("misfit: %s", g_err);
    for (size_t k = 0; k < m.len && 2 * k + 3 < sizeof got; k++)
        snprintf(got + 2 * k, 3, "%02X", m.p[k]);
    assert_string_equal(got, hex);
    assert_int_equal(cdc_convert_decimal_text(m.p, m.len, c.type.scale, &t), 0);
    assert_string_equal(cdc_buf_cstr(&t), text);
    cdc_buf_free(&t);
}

static void test_long(void **state)
{
    cdc_column_t c = test_column("qty", CDC_COL_LONG, 0, 0, 0);
    (void)state;

    assert_true(ok_long(c, v_int(42)) == 42);
    assert_true(ok_long(c, v_int(INT64_MIN)) == INT64_MIN);
    assert_true(ok_long(c, v_int(INT64_MAX)) == INT64_MAX);
    assert_true(ok_long(c, v_real(3.0)) == 3);
    assert_true(ok_long(c, v_real(-9223372036854775808.0)) == INT64_MIN);
    assert_misfit(c, v_real(3.5), "column qty: real 3.5 in a LONG column: not an integer");
    assert_misfit(c, v_real(9223372036854775808.0), "not an integer");
    assert_misfit(c, v_real(1.0 / 0.0), "not an integer");
    assert_misfit(c, v_text("abc"), "column qty: text 'abc' in a LONG column");
    assert_misfit(c, v_text("12"), "text '12'");
    assert_misfit(c, v_blob("\x01", 1), "blob of 1 bytes");
}

static void test_double(void **state)
{
    cdc_column_t c = test_column("price", CDC_COL_DOUBLE, 0, 0, 0);
    cdc_mapped_t m;
    (void)state;

    assert_int_equal(conv(c, v_real(0.1), &m), CDC_CONVERT_OK);
    assert_true(m.d == 0.1);
    assert_int_equal(conv(c, v_int(9007199254740992LL), &m), CDC_CONVERT_OK);
    assert_true(m.d == 9007199254740992.0);
    assert_int_equal(conv(c, v_int(-7), &m), CDC_CONVERT_OK);
    assert_true(m.d == -7.0);
    assert_misfit(c, v_int(9007199254740993LL), "not exactly representable");
    assert_misfit(c, v_int(INT64_MAX), "not exactly representable");
    assert_misfit(c, v_text("1.5"), "text '1.5' in a DOUBLE column");
}

static void test_decimal(void **state)
{
    cdc_column_t c = test_column("estimated_value", CDC_COL_DECIMAL, 14, 2, 0);
    cdc_column_t c38 = test_column("big", CDC_COL_DECIMAL, 38, 0, 0);
    cdc_column_t c5 = test_column("small", CDC_COL_DECIMAL, 5, 0, 0);
    cdc_mapped_t m;
    (void)state;

    assert_int_equal(conv(c, v_text("abc"), &m), CDC_CONVERT_MISFIT);
    assert_string_equal(g_err, "column estimated_value: text 'abc' in a DECIMAL(14,2) column: "
                               "not a decimal number");
    assert_decimal(c, v_int(5), "01F4", "5.00");
    assert_decimal(c, v_real(0.3), "1E", "0.30");
    assert_decimal(c, v_real(1234.5), "01E23A", "1234.50");
    assert_decimal(c, v_real(125000.0), "00BEBC20", "125000.00");
    assert_decimal(c, v_text("-12.50"), "FB1E", "-12.50");
    assert_decimal(c, v_text("1.500"), "0096", "1.50");
    assert_decimal(c, v_text("1e2"), "2710", "100.00");
    assert_decimal(c, v_text("+.5"), "32", "0.50");
    assert_decimal(c, v_text("-0.00"), "00", "0.00");
    assert_decimal(c, v_real(-0.05), "FB", "-0.05");
    assert_decimal(c, v_text("999999999999.99"), "5AF3107A3FFF", "999999999999.99");
    assert_decimal(c, v_text("-999999999999.99"), "A50CEF85C001", "-999999999999.99");
    /* 0.1 + 0.2 is 0.30000000000000004 as a double: never rounded to 0.30. */
    assert_misfit(c, v_real(0.1 + 0.2),
                  "real 0.30000000000000004 in a DECIMAL(14,2) column: 17 "
                  "decimals, the column keeps 2 (never rounded)");
    assert_misfit(c, v_text("1.005"), "3 decimals");
    assert_misfit(c, v_text("1000000000000"), "needs 15 digits, the column holds 14");
    assert_misfit(c, v_real(1e300), "digits, the column holds 14");
    assert_misfit(c, v_text(" 1"), "not a decimal number");
    assert_misfit(c, v_text("1e"), "not a decimal number");
    assert_misfit(c, v_text("."), "not a decimal number");
    assert_misfit(c, v_text("1.2.3"), "not a decimal number");
    assert_misfit(c, v_real(1.0 / 0.0), "not a finite number");
    assert_misfit(c, v_blob("1", 1), "a blob is not a number");
    /* Two's complement boundaries and minimal length. */
    assert_decimal(c5, v_int(127), "7F", "127");
    assert_decimal(c5, v_int(128), "0080", "128");
    assert_decimal(c5, v_int(-128), "80", "-128");
    assert_decimal(c5, v_int(-129), "FF7F", "-129");
    assert_decimal(c5, v_int(-256), "FF00", "-256");
    assert_decimal(c5, v_int(256), "0100", "256");
    assert_decimal(c38, v_text("99999999999999999999999999999999999999"),
                   "4B3B4CA85A86C47A098A223FFFFFFFFF", "99999999999999999999999999999999999999");
    assert_decimal(c38, v_text("-99999999999999999999999999999999999999"),
                   "B4C4B357A5793B85F675DDC000000001", "-99999999999999999999999999999999999999");
    assert_decimal(c38, v_int(INT64_MIN), "8000000000000000", "-9223372036854775808");
    assert_misfit(c38, v_text("999999999999999999999999999999999999999"), "needs 39 digits");
}

static void test_decimal_text(void **state)
{
    cdc_buf_t t = CDC_BUF_INIT;
    (void)state;

    assert_int_equal(cdc_convert_decimal_text((const unsigned char *)"\x05", 1, 3, &t), 0);
    assert_string_equal(cdc_buf_cstr(&t), "0.005");
    cdc_buf_reset(&t);
    assert_int_equal(cdc_convert_decimal_text((const unsigned char *)"\xff", 1, 0, &t), 0);
    assert_string_equal(cdc_buf_cstr(&t), "-1");
    cdc_buf_reset(&t);
    assert_int_equal(cdc_convert_decimal_text((const unsigned char *)"\x00\x00\x01", 3, 1, &t), 0);
    assert_string_equal(cdc_buf_cstr(&t), "0.1");
    assert_int_equal(cdc_convert_decimal_text((const unsigned char *)"", 0, 1, &t), -1);
    cdc_buf_free(&t);
}

static void test_numeric(void **state)
{
    cdc_column_t c = test_column("amount", CDC_COL_NUMERIC, 0, 0, 0);
    (void)state;

    assert_ok_text(c, v_int(42), "42");
    assert_ok_text(c, v_int(INT64_MIN), "-9223372036854775808");
    assert_ok_text(c, v_real(0.1), "0.1");
    assert_ok_text(c, v_real(0.1 + 0.2), "0.30000000000000004");
    assert_ok_text(c, v_real(1e20), "100000000000000000000");
    assert_ok_text(c, v_real(1.5e-7), "0.00000015");
    assert_ok_text(c, v_real(-0.0), "0");
    assert_ok_text(c, v_real(-2.5), "-2.5");
    assert_ok_text(c, v_text("1.50"), "1.50");
    assert_ok_text(c, v_text("+007.10"), "7.10");
    assert_ok_text(c, v_text("1.5e3"), "1500");
    assert_ok_text(c, v_text("1.50e1"), "15.0");
    assert_ok_text(c, v_text(".5"), "0.5");
    assert_ok_text(c, v_text("5."), "5");
    assert_ok_text(c, v_text("-0.00"), "0.00");
    assert_ok_text(c, v_text("-000.0012"), "-0.0012");
    assert_ok_text(c, v_text("12345678901234567890123456789.123456789"),
                   "12345678901234567890123456789.123456789");
    assert_misfit(c, v_text("abc"), "column amount: text 'abc' in a NUMERIC column");
    assert_misfit(c, v_text("NaN"), "not a decimal number");
    assert_misfit(c, v_real(-1.0 / 0.0), "real -inf in a NUMERIC column: not a finite number");
    assert_misfit(c, v_text("1e999999"), "outside PostgreSQL's numeric range");
    assert_misfit(c, v_text("1e-99999"), "outside PostgreSQL's numeric range");
}

static void test_boolean(void **state)
{
    cdc_column_t c = test_column("active", CDC_COL_BOOLEAN, 0, 0, 0);
    (void)state;

    assert_true(ok_long(c, v_int(0)) == 0);
    assert_true(ok_long(c, v_int(1)) == 1);
    assert_misfit(c, v_int(2), "integer 2 in a BOOLEAN column: a boolean is integer 0 or 1");
    assert_misfit(c, v_int(-1), "integer -1");
    assert_misfit(c, v_text("true"), "text 'true'");
    assert_misfit(c, v_real(1.0), "real 1 in a BOOLEAN column");
}

static void test_text(void **state)
{
    cdc_column_t c = test_column("name", CDC_COL_TEXT, 0, 0, 0);
    cdc_column_t vc = test_column("code", CDC_COL_TEXT, 0, 0, 3);
    cdc_value_t v = v_text("h\xc3\xa9llo \xf0\x9f\x98\x80");
    cdc_mapped_t m;
    (void)state;

    assert_int_equal(conv(c, v, &m), CDC_CONVERT_OK);
    assert_ptr_equal(m.p, v.p); /* borrowed, not copied */
    assert_int_equal(m.len, v.len);
    assert_ok_text(c, v_text(""), "");
    assert_ok_text(c, v_textn(NULL, 0), ""); /* how an empty value may arrive */
    assert_misfit(c, v_text("\xc0\xaf"), "invalid UTF-8 at byte 0");       /* overlong '/' */
    assert_misfit(c, v_text("ab\xe0\x80\xaf"), "invalid UTF-8 at byte 2"); /* overlong */
    assert_misfit(c, v_text("\xf0\x80\x80\xaf"), "invalid UTF-8");         /* overlong */
    assert_misfit(c, v_text("\xed\xa0\x80"), "invalid UTF-8");             /* surrogate */
    assert_misfit(c, v_text("\xf4\x90\x80\x80"), "invalid UTF-8");         /* > U+10FFFF */
    assert_misfit(c, v_text("\xf5\x80\x80\x80"), "invalid UTF-8");
    assert_misfit(c, v_text("x\xe2\x82"), "invalid UTF-8 at byte 1"); /* truncated */
    assert_misfit(c, v_text("\x80"), "invalid UTF-8");
    assert_misfit(c, v_text("\xe2\x28\xa1"), "invalid UTF-8");
    assert_misfit(c, v_text("\xff"), "text '\\xff' in a TEXT column");
    assert_misfit(c, v_textn("a\0b", 3), "NUL character at byte 1");
    assert_ok_text(c, v_text("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    assert_ok_text(c, v_text("\xef\xbf\xbf"), "\xef\xbf\xbf");         /* U+FFFF */
    assert_ok_text(c, v_int(-42), "-42");
    assert_ok_text(c, v_real(1.0), "1.0");
    assert_ok_text(c, v_real(0.1), "0.1");
    assert_ok_text(c, v_real(1e20), "1e+20");
    assert_ok_text(c, v_real(100.0), "100.0");
    assert_misfit(c, v_blob("ab", 2), "blob of 2 bytes in a TEXT column: a blob is not text");
    assert_ok_text(vc, v_text("abc"), "abc");
    assert_ok_text(vc, v_text("h\xc3\xa9\xc3\xa9"), "h\xc3\xa9\xc3\xa9"); /* 3 chars, 5 bytes */
    assert_misfit(vc, v_text("abcd"), "in a VARCHAR(3) column: 4 characters, at most 3");
    assert_misfit(vc, v_int(1234), "4 characters, at most 3");
    c.pk_index = 1;
    assert_ok_text(c, v_text("1"), "1");
    assert_misfit(c, v_int(1), "integer 1 in a TEXT column: a number in a text key column");
    assert_misfit(c, v_real(1.5), "a number in a text key column");
    /* A long value is cut in the message. */
    assert_misfit(c,
                  v_text("\xff"
                         "0123456789012345678901234567890123456789xyz"),
                  "...'");
}

static void test_blob(void **state)
{
    cdc_column_t c = test_column("data", CDC_COL_BLOB, 0, 0, 0);
    cdc_mapped_t m;
    (void)state;

    assert_int_equal(conv(c, v_blob("\x00\xff\x01", 3), &m), CDC_CONVERT_OK);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.p, "\x00\xff\x01", 3);
    assert_ok_text(c, v_blob(NULL, 0), "");
    assert_ok_text(c, v_text("abc"), "abc");
    assert_misfit(c, v_int(1), "integer 1 in a BLOB column");
    assert_misfit(c, v_real(1.5), "real 1.5 in a BLOB column");
}

static void test_null(void **state)
{
    cdc_column_t c = test_column("note", CDC_COL_DECIMAL, 10, 2, 0);
    cdc_mapped_t m;
    (void)state;

    assert_int_equal(conv(c, v_null(), &m), CDC_CONVERT_OK);
    assert_true(m.is_null);
    assert_int_equal(m.kind, CDC_COL_DECIMAL);
    c.not_null = 1;
    assert_misfit(c, v_null(),
                  "column note: NULL in a DECIMAL(10,2) column: the column is NOT NULL");
    c.not_null = 0;
    c.pk_index = 1;
    assert_misfit(c, v_null(), "a key column cannot be null");
}

static void test_real_text(void **state)
{
    char t[CDC_REAL_TEXT_MAX];
    (void)state;

#define RT(r, want)                                                                                \
    do {                                                                                           \
        cdc_convert_real_text((r), t);                                                             \
        assert_string_equal(t, (want));                                                            \
    } while (0)
    RT(0.1, "0.1");
    RT(0.1 + 0.2, "0.30000000000000004");
    RT(1e20, "1e+20");
    RT(100.0, "100");
    RT(1234567.0, "1234567");
    RT(1e16, "10000000000000000");
    RT(1e17, "1e+17");
    RT(0.0001, "0.0001");
    RT(0.00001, "1e-05");
    RT(123456789012345680.0, "1.2345678901234568e+17");
    RT(-2.5, "-2.5");
    RT(5e-324, "5e-324");
    RT(1.7976931348623157e308, "1.7976931348623157e+308");
    RT(1.0 / 0.0, "inf");
    RT(__builtin_nan(""), "nan");
}

static void test_buf(void **state)
{
    cdc_buf_t b = CDC_BUF_INIT;
    static const struct {
        int64_t v;
        const char *hex;
    } cases[] = {{0, "00"},
                 {-1, "01"},
                 {1, "02"},
                 {-64, "7F"},
                 {64, "8001"},
                 {8192, "808001"},
                 {INT64_MAX, "FEFFFFFFFFFFFFFFFF01"},
                 {INT64_MIN, "FFFFFFFFFFFFFFFFFF01"}};
    unsigned char *before;
    (void)state;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char hex[32] = "";
        cdc_buf_reset(&b);
        cdc_buf_put_varint_zigzag(&b, cases[k].v);
        for (size_t i = 0; i < b.len; i++)
            snprintf(hex + 2 * i, 3, "%02X", b.data[i]);
        assert_string_equal(hex, cases[k].hex);
    }
    /* Reset keeps the storage: no allocation for the next row. */
    for (int i = 0; i < 1000; i++)
        cdc_buf_put_byte(&b, (unsigned char)i);
    before = b.data;
    cdc_buf_reset(&b);
    assert_int_equal(b.len, 0);
    for (int i = 0; i < 1000; i++)
        cdc_buf_put_byte(&b, (unsigned char)i);
    assert_ptr_equal(b.data, before);
    cdc_buf_reset(&b);
    cdc_buf_printf(&b, "%s-%d", "abc", 42);
    cdc_buf_put_le64(&b, 0x0102030405060708ULL);
    cdc_buf_put_be32(&b, 0x0A0B0C0D);
    assert_int_equal(b.len, 6 + 8 + 4);
    assert_memory_equal(b.data, "abc-42\x08\x07\x06\x05\x04\x03\x02\x01\x0a\x0b\x0c\x0d", 18);
    cdc_buf_reset(&b);
    for (int i = 0; i < 300; i++)
        cdc_buf_printf(&b, "%d,", i % 10);
    assert_int_equal(b.len, 600);
    assert_int_equal(strlen(cdc_buf_cstr(&b)), 600);
    cdc_buf_free(&b);
    assert_null(b.data);
    cdc_buf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),          cmocka_unit_test(test_long),
        cmocka_unit_test(test_double),       cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_decimal_text), cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_boolean),      cmocka_unit_test(test_text),
        cmocka_unit_test(test_blob),         cmocka_unit_test(test_null),
        cmocka_unit_test(test_real_text),
    };
    return cmocka_run_group_tests(tests, NULL, test_convert_teardown);
}
