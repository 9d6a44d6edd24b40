/*
 * test_convert_time: the TIMESTAMP and DATE column kinds of cdc_convert.h (accepted texts and
 * numbers, misfits), their text form, and the calendar math cross-checked against SQLite's
 * own date functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "cdc_convert.h"
#include "test_convert_util.h"
#include "test_values.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_calendar_vs_sqlite),
    };
    return cmocka_run_group_tests(tests, NULL, test_convert_teardown);
}
