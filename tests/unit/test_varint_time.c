/*
 * Unit tests of the small shared helpers the clean-up moved into libcdc: the zigzag
 * varint reader (cdc_buf.h), the inverse of the writer every Avro encoder uses, and the
 * backoff and clock of cdc_time.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cdc_buf.h"
#include "cdc_time.h"

/* Every value written by cdc_buf_put_varint_zigzag reads back, using all its bytes. */
static void test_varint_round_trip(void **state)
{
    static const int64_t values[] = {0,         1,         -1,        63,        -64,
                                     64,        -65,       300,       -300,      INT32_MAX,
                                     INT32_MIN, INT64_MAX, INT64_MIN, 1LL << 40, -(1LL << 40)};
    (void)state;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        cdc_buf_t b;
        size_t off = 0;
        int64_t v = 12345;
        cdc_buf_init(&b);
        cdc_buf_put_varint_zigzag(&b, values[i]);
        assert_int_equal(cdc_buf_get_varint_zigzag(b.data, b.len, &off, &v), 0);
        assert_true(v == values[i]);
        assert_int_equal(off, b.len);
        cdc_buf_free(&b);
    }
}

/* Bytes that end inside a varint: -1, *off at the end, *v untouched. */
static void test_varint_truncated(void **state)
{
    const unsigned char p[] = {0x80, 0x80};
    size_t off = 0;
    int64_t v = 7;
    (void)state;
    assert_int_equal(cdc_buf_get_varint_zigzag(p, sizeof p, &off, &v), -1);
    assert_int_equal(off, 2);
    assert_int_equal(v, 7);
    off = 0;
    assert_int_equal(cdc_buf_get_varint_zigzag(p, 0, &off, &v), -1);
    assert_int_equal(off, 0);
}

/* A tenth byte with more than the 64th bit, or an eleventh byte: -2. */
static void test_varint_too_long(void **state)
{
    unsigned char p[11];
    size_t off = 0;
    int64_t v = 7;
    (void)state;
    for (int i = 0; i < 9; i++)
        p[i] = 0xff;
    p[9] = 0x02;
    assert_int_equal(cdc_buf_get_varint_zigzag(p, 10, &off, &v), -2);
    assert_int_equal(off, 10);
    assert_int_equal(v, 7);
    p[9] = 0x01; /* the largest tenth byte: INT64_MIN zigzagged */
    off = 0;
    assert_int_equal(cdc_buf_get_varint_zigzag(p, 10, &off, &v), 0);
    assert_true(v == INT64_MIN);
    p[9] = 0x81; /* continuation on the tenth byte */
    p[10] = 0x00;
    off = 0;
    assert_int_equal(cdc_buf_get_varint_zigzag(p, 11, &off, &v), -2);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(cdc_time_backoff(100, 5000), 200);
    assert_int_equal(cdc_time_backoff(2500, 5000), 5000);
    assert_int_equal(cdc_time_backoff(4000, 5000), 5000);
    assert_int_equal(cdc_time_backoff(5000, 5000), 5000);
}

/* The clock does not go back and a sleep takes at least about its time. */
static void test_clock_and_sleep(void **state)
{
    (void)state;
    int64_t t0 = cdc_time_now_ms();
    cdc_time_sleep_ms(20);
    int64_t t1 = cdc_time_now_ms();
    assert_true(t1 - t0 >= 19);
    assert_true(t1 - t0 < 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_round_trip), cmocka_unit_test(test_varint_truncated),
        cmocka_unit_test(test_varint_too_long),   cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_clock_and_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
