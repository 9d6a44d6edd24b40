/*
 * test_convert: every column kind of cdc_convert.h, accepted values and misfits, plus the
 * calendar math cross-checked against SQLite's own date functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "cdc_buf.h"
#include "cdc_convert.h"
#include "cdc_json_canon.h"
#include "test_values.h"

static char g_err[512];
static cdc_buf_t g_scratch = CDC_BUF_INIT;

static cdc_value_t v_int(int64_t i)
{
    cdc_value_t v = {CDC_VAL_INTEGER, i, 0, NULL, 0};
    return v;
}

static cdc_value_t v_real(double r)
{
    cdc_value_t v = {CDC_VAL_REAL, 0, r, NULL, 0};
    return v;
}

static cdc_value_t v_textn(const char *s, size_t n)
{
    cdc_value_t v = {CDC_VAL_TEXT, 0, 0, (const unsigned char *)s, n};
    return v;
}

static cdc_value_t v_text(const char *s)
{
    return v_textn(s, strlen(s));
}

static cdc_value_t v_blob(const void *p, size_t n)
{
    cdc_value_t v = {CDC_VAL_BLOB, 0, 0, p, n};
    return v;
}

static cdc_value_t v_null(void)
{
    cdc_value_t v = {CDC_VAL_NULL, 0, 0, NULL, 0};
    return v;
}

static int conv(cdc_column_t c, cdc_value_t v, cdc_mapped_t *m)
{
    g_err[0] = '\0';
    return cdc_convert_value(&c, &v, m, &g_scratch, g_err, sizeof g_err);
}

/* Asserts a misfit whose reason contains want. */
#define assert_misfit(c, v, want)                                                                  \
    do {                                                                                           \
        cdc_mapped_t m_;                                                                           \
        assert_int_equal(conv((c), (v), &m_), CDC_CONVERT_MISFIT);                                 \
        if (strstr(g_err, (want)) == NULL)                                                         \
            fail_msg("reason \"%s\" lacks \"%s\"", g_err, (want));                                 \
    } while (0)

static void assert_text(const cdc_mapped_t *m, const char *want)
{
    if (m->len != strlen(want) || (m->len > 0 && memcmp(m->p, want, m->len) != 0))
        fail_msg("got \"%.*s\", want \"%s\"", (int)m->len, (const char *)m->p, want);
}

static void assert_ok_text(cdc_column_t c, cdc_value_t v, const char *want)
{
    cdc_mapped_t m;

    if (conv(c, v, &m) != CDC_CONVERT_OK)
        fail_msg("misfit: %s", g_err);
    assert_false(m.is_null);
    assert_text(&m, want);
}

static int64_t ok_long(cdc_column_t c, cdc_value_t v)
{
    cdc_mapped_t m;

    if (conv(c, v, &m) != CDC_CONVERT_OK)
        fail_msg("misfit: %s", g_err);
    return m.l;
}

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

#define DAY_US 86400000000LL

static void test_timestamp(void **state)
{
    cdc_column_t c = test_column("created_at", CDC_COL_TIMESTAMP, 0, 0, 0);
    int64_t d0305 = cdc_convert_days_from_civil(2024, 3, 5) * DAY_US;
    (void)state;

    assert_true(d0305 == 1709596800LL * 1000000);
    assert_true(ok_long(c, v_text("2024-03-05")) == d0305);
    assert_true(ok_long(c, v_text("2024-03-05 12:34")) ==
                d0305 + (12 * 3600 + 34 * 60) * 1000000LL);
    assert_true(ok_long(c, v_text("2024-03-05 12:34:56")) ==
                d0305 + (12 * 3600 + 34 * 60 + 56) * 1000000LL);
    assert_true(ok_long(c, v_text("2024-03-05T12:34:56.5")) ==
                d0305 + (12 * 3600 + 34 * 60 + 56) * 1000000LL + 500000);
    assert_true(ok_long(c, v_text("2024-03-05 00:00:00.123456")) == d0305 + 123456);
    assert_true(ok_long(c, v_text("2024-03-05 00:00:00.1234560")) == d0305 + 123456);
    assert_true(ok_long(c, v_text("2024-03-05 00:00:00Z")) == d0305);
    assert_true(ok_long(c, v_text("2024-03-05T02:00:00+02:00")) == d0305);
    assert_true(ok_long(c, v_text("2024-03-04T18:30:00-0530")) == d0305);
    assert_true(ok_long(c, v_text("2024-03-05 00:00+00:00")) == d0305);
    assert_true(ok_long(c, v_text("1970-01-01 00:00:00")) == 0);
    assert_true(ok_long(c, v_text("1969-12-31 23:59:59.999999")) == -1);
    assert_true(ok_long(c, v_text("1900-01-01")) == -2208988800LL * 1000000);
    assert_true(ok_long(c, v_text("2024-02-29")) ==
                cdc_convert_days_from_civil(2024, 2, 29) * DAY_US);
    assert_true(ok_long(c, v_text("0000-01-01")) == -62167219200LL * 1000000);
    assert_true(ok_long(c, v_int(0)) == 0);
    assert_true(ok_long(c, v_int(1700000000)) == 1700000000LL * 1000000);
    assert_true(ok_long(c, v_int(-86400)) == -DAY_US);
    assert_true(ok_long(c, v_real(2440587.5)) == 0);
    assert_true(ok_long(c, v_real(2451545.0)) == 946728000LL * 1000000); /* J2000 noon */
    assert_misfit(c, v_text("2024-03-05 00:00:00.1234567"), "more than 6 fraction digits");
    assert_misfit(c, v_text("2024-02-30"), "no such date");
    assert_misfit(c, v_text("2023-02-29"), "no such date");
    assert_misfit(c, v_text("2024-13-01"), "no such date");
    assert_misfit(c, v_text("2024-03-05 24:00"), "time out of range");
    assert_misfit(c, v_text("2024-03-05 12:60"), "time out of range");
    assert_misfit(c, v_text("2024-03-05 12:00:60"), "time out of range");
    assert_misfit(c, v_text("2024-03-05 12"), "expected HH:MM");
    assert_misfit(c, v_text("2024-03-05 12:00:00."), "expected fraction digits");
    assert_misfit(c, v_text("2024-03-05 12:00:00+2"), "expected an offset");
    assert_misfit(c, v_text("2024-03-05 12:00:00 UTC"), "unexpected text after");
    assert_misfit(c, v_text("2024-3-5"), "expected YYYY-MM-DD");
    assert_misfit(c, v_text("yesterday"), "column created_at: text 'yesterday' in a TIMESTAMP");
    assert_misfit(c, v_text(""), "expected YYYY-MM-DD");
    assert_misfit(c, v_real(-1.0), "julian day outside");
    assert_misfit(c, v_real(5373484.5), "julian day outside");
    assert_misfit(c, v_int(253402300800LL), "unix seconds outside");
    assert_misfit(c, v_blob("x", 1), "a blob is not a time");
}

static void test_date(void **state)
{
    cdc_column_t c = test_column("due", CDC_COL_DATE, 0, 0, 0);
    (void)state;

    assert_true(ok_long(c, v_text("1970-01-01")) == 0);
    assert_true(ok_long(c, v_text("2024-03-05")) == 19787);
    assert_true(ok_long(c, v_text("1969-12-31")) == -1);
    assert_true(ok_long(c, v_text("1900-01-01")) == -25567);
    assert_true(ok_long(c, v_text("1600-02-29")) == cdc_convert_days_from_civil(1600, 2, 29));
    assert_true(ok_long(c, v_text("2024-03-05 00:00:00")) == 19787);
    assert_true(ok_long(c, v_text("2024-03-05T01:00:00+01:00")) == 19787);
    assert_true(ok_long(c, v_int(86400)) == 1);
    assert_true(ok_long(c, v_real(2440588.5)) == 1);
    assert_misfit(c, v_text("2024-03-05 00:00:01"), "not midnight UTC");
    assert_misfit(c, v_text("2024-03-05T00:00:00+01:00"), "not midnight UTC");
    assert_misfit(c, v_int(1), "not midnight UTC");
    assert_misfit(c, v_text("05/03/2024"), "in a DATE column: expected YYYY-MM-DD");
}

static void test_time_format(void **state)
{
    cdc_buf_t b = CDC_BUF_INIT;
    (void)state;

#define FMT_TS(us, want)                                                                           \
    do {                                                                                           \
        cdc_buf_reset(&b);                                                                         \
        cdc_convert_format_timestamp((us), &b);                                                    \
        assert_string_equal(cdc_buf_cstr(&b), (want));                                             \
    } while (0)
    FMT_TS(0, "1970-01-01 00:00:00");
    FMT_TS(-1, "1969-12-31 23:59:59.999999");
    FMT_TS(1500000, "1970-01-01 00:00:01.5");
    FMT_TS(1709642096123450LL, "2024-03-05 12:34:56.12345");
    FMT_TS(-62167219200LL * 1000000, "0001-01-01 00:00:00 BC");
    cdc_buf_reset(&b);
    cdc_convert_format_date(-25567, &b);
    assert_string_equal(cdc_buf_cstr(&b), "1900-01-01");
    cdc_buf_reset(&b);
    cdc_convert_format_date(cdc_convert_days_from_civil(-1, 12, 31), &b);
    assert_string_equal(cdc_buf_cstr(&b), "0002-12-31 BC");
    cdc_buf_free(&b);
}

/* Hinnant's algorithms against SQLite's julianday() over years 0..9999, and julian-day
 * REAL conversion against SQLite's own rendering of the same instant. */
static void test_calendar_vs_sqlite(void **state)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cdc_column_t c = test_column("t", CDC_COL_TIMESTAMP, 0, 0, 0);
    uint64_t seed = 88172645463325252ULL;
    (void)state;

    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT CAST(julianday(?1) - 2440587.5 AS INTEGER), "
                                        "strftime('%Y-%m-%d %H:%M:%f', ?2)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (int n = 0; n < 20000; n++) {
        char date[16];
        int64_t y, days, us;
        int m, d;
        double jd;
        const unsigned char *txt;
        cdc_mapped_t mm;

        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        days = (int64_t)(seed % 3652059) - 719528; /* 0000-01-01 .. 9999-12-31 */
        cdc_convert_civil_from_days(days, &y, &m, &d);
        assert_true(cdc_convert_days_from_civil(y, m, d) == days);
        snprintf(date, sizeof date, "%04d-%02d-%02d", (int)y, m, d);
        jd = 1721059.5 + (double)(seed % 3652059) + (double)(seed >> 40 & 0xffff) / 65536.0;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, date, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, jd);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_int64(st, 0) != days)
            fail_msg("%s: sqlite says day %lld, we say %lld", date,
                     (long long)sqlite3_column_int64(st, 0), (long long)days);
        txt = sqlite3_column_text(st, 1);
        if (conv(c, v_text((const char *)txt), &mm) != CDC_CONVERT_OK)
            fail_msg("%s", g_err);
        us = mm.l;
        if (ok_long(c, v_real(jd)) != us)
            fail_msg("julian day %.10f: sqlite renders %s (%lld µs), we convert to %lld", jd, txt,
                     (long long)us, (long long)ok_long(c, v_real(jd)));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
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

static void test_json(void **state)
{
    cdc_column_t c = test_column("meta", CDC_COL_JSON, 0, 0, 0);
    char deep[4001];
    (void)state;

    assert_ok_text(c, v_text("{\"a\":[1,2.5e3,-0.5E-2,true,false,null,\"x\\n\\u00e9\"]}"),
                   "{\"a\":[1,2.5e3,-0.5E-2,true,false,null,\"x\\n\\u00e9\"]}");
    assert_ok_text(c, v_text(" [ ] "), " [ ] ");
    assert_ok_text(c, v_text("42"), "42");
    assert_ok_text(c, v_text("\"\\ud83d\\ude00\""), "\"\\ud83d\\ude00\"");
    assert_ok_text(c, v_text("123456789012345678901234567890"), "123456789012345678901234567890");
    assert_ok_text(c, v_text("{\"k\":\"caf\xc3\xa9\"}"), "{\"k\":\"caf\xc3\xa9\"}");
    assert_ok_text(c, v_int(12), "12");
    assert_ok_text(c, v_real(1.5), "1.5");
    assert_misfit(c, v_text("{"), "invalid JSON at byte 1: expected a member name");
    assert_misfit(c, v_text("{\"a\":1,}"), "expected a member name");
    assert_misfit(c, v_text("[1,]"), "unexpected character");
    assert_misfit(c, v_text("01"), "text after the JSON value");
    assert_misfit(c, v_text("1 2"), "text after the JSON value");
    assert_misfit(c, v_text("\"\\u0000\""), "\\u0000 escape");
    assert_misfit(c, v_text("\"\\ud83d\""), "unpaired high surrogate");
    assert_misfit(c, v_text("\"\\ude00\""), "unpaired low surrogate");
    assert_misfit(c, v_text("\"\\x\""), "bad escape");
    assert_misfit(c, v_text("\"a\tb\""), "control character");
    assert_misfit(c, v_text("\"abc"), "unterminated string");
    assert_misfit(c, v_text("nul"), "unexpected character");
    assert_misfit(c, v_text("-"), "bad number");
    assert_misfit(c, v_text("1."), "bad number fraction");
    assert_misfit(c, v_text("1e+"), "bad number exponent");
    assert_misfit(c, v_text(""), "unexpected end of input");
    assert_misfit(c, v_text("{'a':1}"), "expected a member name");
    assert_misfit(c, v_text("[\"\xc3\x28\"]"), "invalid UTF-8");
    assert_misfit(c, v_real(1.0 / 0.0), "not a JSON number");
    assert_misfit(c, v_blob("{}", 2), "a blob is not text");
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    assert_misfit(c, v_text(deep), "nesting too deep");
}

/* Room for the longest number below: 131072 integer digits, a point, 16383 decimals. */
static char g_num[131072 + 16383 + 64];

/* Builds pre, n copies of fill, mid, n2 copies of fill2, post in g_num (e.g. "0." then
 * 16382 zeros then "1", or 131071 nines, ".", 16383 nines). */
static const char *num_text(const char *pre, char fill, size_t n, const char *mid, char fill2,
                            size_t n2, const char *post)
{
    size_t k = 0;

    k += (size_t)snprintf(g_num + k, sizeof g_num - k, "%s", pre);
    memset(g_num + k, fill, n);
    k += n;
    k += (size_t)snprintf(g_num + k, sizeof g_num - k, "%s", mid);
    memset(g_num + k, fill2, n2);
    k += n2;
    snprintf(g_num + k, sizeof g_num - k, "%s", post);
    return g_num;
}

/* A JSON column value jsonb accepts: the check passes, and cdc_json_canon (whose number
 * rule the check shares) accepts it too. */
static void assert_json_in_range(cdc_column_t c, const char *json)
{
    cdc_buf_t canon = CDC_BUF_INIT;
    char why[256];

    assert_ok_text(c, v_text(json), json);
    if (cdc_json_canon((const unsigned char *)json, strlen(json), &canon, why, sizeof why) < 0)
        fail_msg("cdc_json_canon refused what the check accepted: %s", why);
    cdc_buf_free(&canon);
}

/* A JSON value jsonb refuses with "value overflows numeric format": a misfit naming the
 * number's byte offset, and cdc_json_canon refuses it too. */
static void assert_json_out_of_range(cdc_column_t c, const char *json, size_t at)
{
    cdc_buf_t canon = CDC_BUF_INIT;
    char want[128], why[256];

    snprintf(want, sizeof want,
             "JSON number at byte %zu is outside PostgreSQL numeric's range (jsonb would "
             "refuse it)",
             at);
    assert_misfit(c, v_text(json), want);
    assert_int_equal(
        cdc_json_canon((const unsigned char *)json, strlen(json), &canon, why, sizeof why), -1);
    if (strstr(why, "outside PostgreSQL's numeric range") == NULL)
        fail_msg("cdc_json_canon: \"%s\"", why);
    cdc_buf_free(&canon);
}

/*
 * Numbers at numeric's limits: 131072 digits before the point (NUMERIC_WEIGHT_MAX) and
 * 16383 after it (NUMERIC_DSCALE_MAX), the scale being the input's decimals minus its
 * exponent even for zero, and |exponent| < INT_MAX / 2 even on a zero mantissa. Every
 * case was run through '...'::jsonb on PostgreSQL 15: the "in range" ones are stored,
 * the others fail with "value overflows numeric format".
 */
static void test_json_numeric_range(void **state)
{
    cdc_column_t c = test_column("meta", CDC_COL_JSON, 0, 0, 0);
    (void)state;

    /* Integer digits: 131072 is the most. */
    assert_json_in_range(c, "1e131071");
    assert_json_out_of_range(c, "1e131072", 0);
    assert_json_in_range(c, num_text("", '9', 131072, "", '0', 0, ""));
    assert_json_out_of_range(c, num_text("", '9', 131073, "", '0', 0, ""), 0);
    assert_json_in_range(c, num_text("-", '9', 131072, ".5", '0', 0, ""));
    assert_json_in_range(c, num_text("", '9', 131072, "", '0', 0, "e0"));
    assert_json_in_range(c, "0.1e131072");
    assert_json_out_of_range(c, "0.1e131073", 0);
    assert_json_in_range(c, "10e131070");
    assert_json_out_of_range(c, "10e131071", 0);
    /* Decimals: 16383 is the most, trailing zeros and zero values included. */
    assert_json_in_range(c, num_text("0.", '0', 16382, "1", '0', 0, ""));
    assert_json_out_of_range(c, num_text("0.", '0', 16383, "1", '0', 0, ""), 0);
    assert_json_in_range(c, "1e-16383");
    assert_json_out_of_range(c, "1e-16384", 0);
    assert_json_in_range(c, "12345e-16383");
    assert_json_in_range(c, "1.5e-16382");
    assert_json_out_of_range(c, "1.50e-16382", 0);
    assert_json_out_of_range(c, "100e-16385", 0);
    assert_json_in_range(c, "0e-16383");
    assert_json_out_of_range(c, "0e-16384", 0);
    assert_json_out_of_range(c, "-0e-16384", 0);
    assert_json_in_range(c, "0.0e-16382");
    assert_json_out_of_range(c, "0.0e-16383", 0);
    /* Both limits at once. */
    assert_json_in_range(c, num_text("", '9', 131071, ".", '9', 16383, ""));
    assert_json_out_of_range(c, num_text("", '9', 131073, ".", '9', 16383, ""), 0);
    /* Zero: any exponent below INT_MAX / 2 in magnitude, however large. */
    assert_json_in_range(c, "-0");
    assert_json_in_range(c, "0e131073");
    assert_json_in_range(c, "0e1073741822");
    assert_json_in_range(c, "0e00000000000000000001");
    assert_json_out_of_range(c, "0e1073741823", 0);
    assert_json_out_of_range(c, "0e-1073741822", 0);
    assert_json_out_of_range(c, "0e10000000000", 0);
    assert_json_out_of_range(c, "1e99999999999999999999", 0);
    /* Inside documents: the offset is the number's own. */
    assert_json_out_of_range(c, "[1,1e131072]", 3);
    assert_json_out_of_range(c, " {\"a\": [true, -0e-16384]}", 14);
    assert_json_in_range(c, "{\"a\":[1e131071,-1e-16383,0e-16383]}");
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

static int teardown(void **state)
{
    (void)state;
    cdc_buf_free(&g_scratch);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_long),
        cmocka_unit_test(test_double),
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_decimal_text),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_boolean),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_calendar_vs_sqlite),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_numeric_range),
        cmocka_unit_test(test_blob),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_real_text),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
