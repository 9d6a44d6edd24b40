/*
 * Wire framings: single-object (C3 01 + little-endian fingerprint) and Confluent
 * (00 + big-endian schema id), and the detector that tells them from garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_framing.h"

static void test_single_object_bytes(void **state)
{
    unsigned char buf[16];
    static const unsigned char expected[10] = {0xC3, 0x01, 0x08, 0x07, 0x06,
                                               0x05, 0x04, 0x03, 0x02, 0x01};

    (void)state;
    assert_int_equal(cdc_framing_single_object_encode(0x0102030405060708ULL, buf), 10);
    assert_memory_equal(buf, expected, sizeof(expected));
}

static void test_confluent_bytes(void **state)
{
    unsigned char buf[8];
    static const unsigned char expected[5] = {0x00, 0x01, 0x02, 0x03, 0x04};

    (void)state;
    assert_int_equal(cdc_framing_confluent_encode(0x01020304u, buf), 5);
    assert_memory_equal(buf, expected, sizeof(expected));
}

static void test_round_trips(void **state)
{
    unsigned char buf[32];
    uint64_t fp = 0;
    uint32_t id = 0;
    size_t off = 0;
    size_t n;

    (void)state;
    n = cdc_framing_single_object_encode(0xc15d213aa4d7a795ULL, buf);
    buf[n] = 0x02; /* one byte of body */
    assert_int_equal(cdc_framing_detect(buf, n + 1, &fp, &id, &off), CDC_FRAMING_SINGLE_OBJECT);
    assert_true(fp == 0xc15d213aa4d7a795ULL);
    assert_int_equal(off, 10);

    n = cdc_framing_confluent_encode(0xfffffffeu, buf);
    assert_int_equal(cdc_framing_detect(buf, n, &fp, &id, &off), CDC_FRAMING_CONFLUENT);
    assert_int_equal(id, 0xfffffffeu);
    assert_int_equal(off, 5);

    /* out pointers are optional */
    assert_int_equal(cdc_framing_detect(buf, n, NULL, NULL, NULL), CDC_FRAMING_CONFLUENT);
}

static void test_garbage(void **state)
{
    static const unsigned char short_so[9] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7};
    static const unsigned char short_cf[4] = {0x00, 0, 0, 1};
    static const unsigned char wrong_version[12] = {0xC3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9};
    static const unsigned char text[6] = "hello";
    uint64_t fp = 42;

    (void)state;
    assert_int_equal(cdc_framing_detect(short_so, sizeof(short_so), &fp, NULL, NULL),
                     CDC_FRAMING_GARBAGE);
    assert_true(fp == 42); /* untouched on garbage */
    assert_int_equal(cdc_framing_detect(short_cf, sizeof(short_cf), NULL, NULL, NULL),
                     CDC_FRAMING_GARBAGE);
    assert_int_equal(cdc_framing_detect(wrong_version, sizeof(wrong_version), NULL, NULL, NULL),
                     CDC_FRAMING_GARBAGE);
    assert_int_equal(cdc_framing_detect(text, 5, NULL, NULL, NULL), CDC_FRAMING_GARBAGE);
    assert_int_equal(cdc_framing_detect(NULL, 0, NULL, NULL, NULL), CDC_FRAMING_GARBAGE);
    assert_int_equal(cdc_framing_detect("", 0, NULL, NULL, NULL), CDC_FRAMING_GARBAGE);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(cdc_framing_kind_name(CDC_FRAMING_SINGLE_OBJECT), "single-object");
    assert_string_equal(cdc_framing_kind_name(CDC_FRAMING_CONFLUENT), "confluent");
    assert_string_equal(cdc_framing_kind_name(CDC_FRAMING_GARBAGE), "garbage");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_object_bytes), cmocka_unit_test(test_confluent_bytes),
        cmocka_unit_test(test_round_trips),         cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_kind_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
