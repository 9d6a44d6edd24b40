/*
 * The per-row hot paths made faster for issue 9, each against a plain reference:
 * cdc_convert_utf8_check (ASCII 8 bytes at a time) against a byte-at-a-time checker on
 * every edge (overlong, surrogates, 4-byte, beyond U+10FFFF, truncated at every
 * position, a bad byte at every offset of a long ASCII run); cdc_convert_real_text
 * (fewer printf/strtod rounds) against the previous linear search, byte for byte, on
 * edge values and a million random doubles; cdc_sink_copy_put_escaped (word scan)
 * against a byte loop; cdc_sink_copy_put_bytea; the inline cdc_buf appends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_buf.h"
#include "cdc_convert.h"
#include "sink_copy.h"

/* --- UTF-8 ----------------------------------------------------------------------------- */

/* Byte at a time, straight from RFC 3629's table. */
static int ref_utf8(const unsigned char *p, size_t len, size_t *ncp, size_t *bad)
{
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t need;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            n++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            *bad = i;
            return -1;
        }
        if (len - i <= need) {
            *bad = i;
            return -1;
        }
        for (size_t k = 1; k <= need; k++) {
            unsigned char b = p[i + k];
            unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;
            if (b < l || b > h) {
                *bad = i;
                return -1;
            }
        }
        i += need + 1;
        n++;
    }
    *ncp = n;
    return 0;
}

static void check_utf8(const unsigned char *p, size_t len)
{
    size_t n1 = 99, n2 = 77, b1 = 99, b2 = 77;
    int r1 = cdc_convert_utf8_check(p, len, &n1, &b1);
    int r2 = ref_utf8(p, len, &n2, &b2);
    assert_int_equal(r1, r2);
    if (r1 == 0)
        assert_int_equal(n1, n2);
    else
        assert_int_equal(b1, b2);
}

static void test_utf8_edges(void **state)
{
    (void)state;
    static const char *const seqs[] = {
        "a",
        "\xc2\x80",         /* U+0080 */
        "\xdf\xbf",         /* U+07FF */
        "\xe0\xa0\x80",     /* U+0800 */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000 */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "\xf0\x9f\x98\x80", /* emoji, 4 bytes */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xe0\x9f\xbf",     /* overlong 3-byte, top */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte, top */
        "\xed\xa0\x80",     /* U+D800 surrogate */
        "\xed\xbf\xbf",     /* U+DFFF surrogate */
        "\xed\x9f\xbf",     /* U+D7FF, valid */
        "\xee\x80\x80",     /* U+E000, valid */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* F5 lead */
        "\xff",
        "\xfe",
        "\x80", /* lone continuation */
        "\xbf",
    };
    unsigned char buf[64];
    for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; s++) {
        size_t l = strlen(seqs[s]);
        /* Alone, truncated at every position, and at every offset of ASCII runs long
         * enough for the word loop (before, inside, after an 8-byte boundary). */
        for (size_t cut = 0; cut <= l; cut++)
            check_utf8((const unsigned char *)seqs[s], cut);
        for (size_t pre = 0; pre < 20; pre++) {
            for (size_t post = 0; post < 12; post += 3) {
                memset(buf, 'x', sizeof buf);
                memcpy(buf + pre, seqs[s], l);
                check_utf8(buf, pre + l + post);
                for (size_t cut = 0; cut < l; cut++)
                    check_utf8(buf, pre + cut); /* truncated at the end */
            }
        }
    }
    check_utf8((const unsigned char *)"", 0);
    check_utf8(NULL, 0);
    /* An embedded NUL is valid UTF-8 (the sink refuses it separately). */
    check_utf8((const unsigned char *)"abcdefgh\0ijklmnop", 17);
    size_t n = 0, bad = 0;
    assert_int_equal(
        cdc_convert_utf8_check((const unsigned char *)"abcdefghij\xe2\x82\xac!", 14, &n, &bad), 0);
    assert_int_equal(n, 12);
    assert_int_equal(
        cdc_convert_utf8_check((const unsigned char *)"abcdefghijklmnop\xc3", 17, &n, &bad), -1);
    assert_int_equal(bad, 16);
}

static void test_utf8_random(void **state)
{
    (void)state;
    unsigned char buf[80];
    srand(12345);
    for (int round = 0; round < 200000; round++) {
        size_t len = (size_t)(rand() % 80);
        for (size_t i = 0; i < len; i++) {
            int r = rand() % 16;
            /* Mostly ASCII, with lead and continuation bytes sprinkled in. */
            buf[i] = r < 11   ? (unsigned char)(0x20 + rand() % 95)
                     : r < 13 ? (unsigned char)(0x80 + rand() % 64)
                              : (unsigned char)(0xc0 + rand() % 64);
        }
        check_utf8(buf, len);
    }
}

/* --- shortest round-trip text of a double ---------------------------------------------- */

/* The previous implementation, kept as the reference: its output is what hashes of
 * decimals and converted text were computed from, so the new one must equal it. */
static void ref_real_text(double r, char *out)
{
    if (isnan(r)) {
        strcpy(out, "nan");
        return;
    }
    if (isinf(r)) {
        strcpy(out, r < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        int x;
        snprintf(out, CDC_REAL_TEXT_MAX, "%.*g", prec, r);
        if (strtod(out, NULL) != r)
            continue;
        snprintf(out, CDC_REAL_TEXT_MAX, "%.0e", r);
        x = atoi(strchr(out, 'e') + 1);
        snprintf(out, CDC_REAL_TEXT_MAX, "%.*g", (x >= -4 && x < 17 && x + 1 > prec) ? x + 1 : prec,
                 r);
        return;
    }
}

static void check_real(double r)
{
    char a[CDC_REAL_TEXT_MAX], b[CDC_REAL_TEXT_MAX];
    cdc_convert_real_text(r, a);
    ref_real_text(r, b);
    if (strcmp(a, b) != 0)
        fail_msg("%.17g (%a): new \"%s\", reference \"%s\"", r, r, a, b);
    if (isfinite(r) && strtod(a, NULL) != r)
        fail_msg("%s does not read back as %a", a, r);
}

static double from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uint64_t rnd64(void)
{
    uint64_t u = 0;
    for (int i = 0; i < 4; i++)
        u = (u << 16) ^ (uint64_t)(rand() & 0xffff);
    return u;
}

static void test_real_text_edges(void **state)
{
    (void)state;
    const double edges[] = {0.0,
                            -0.0,
                            0.1,
                            0.2,
                            0.1 + 0.2,
                            1.0 / 3,
                            2.0 / 3,
                            0.5,
                            0.25,
                            0.75,
                            1e-310,
                            -1e-310,
                            5e-324,
                            DBL_TRUE_MIN,
                            DBL_MIN,
                            -DBL_MIN,
                            DBL_MIN * (1 + DBL_EPSILON),
                            DBL_MAX,
                            -DBL_MAX,
                            DBL_EPSILON,
                            1e15,
                            1e15 - 1,
                            1e15 + 1,
                            999999999999999.0,
                            999999999999999.9,
                            9007199254740992.0,
                            9007199254740993.0,
                            1e16,
                            1e17,
                            1e22,
                            1e23,
                            123456789012345678.0,
                            9.5,
                            95,
                            950,
                            9.95,
                            99.5,
                            0.00001,
                            0.0001,
                            0.00012345,
                            1e-5,
                            123456.25,
                            -987654.75,
                            127428364550.25,
                            100,
                            -100,
                            1,
                            -1,
                            9.999999999999999e16,
                            9.9999999999999998e16,
                            INFINITY,
                            -INFINITY,
                            NAN};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check_real(edges[i]);
    char t[CDC_REAL_TEXT_MAX];
    cdc_convert_real_text(0.1, t);
    assert_string_equal(t, "0.1");
    cdc_convert_real_text(-0.0, t);
    assert_string_equal(t, "-0");
    cdc_convert_real_text(100.0, t);
    assert_string_equal(t, "100");
    cdc_convert_real_text(1e-310, t);
    assert_string_equal(t, "1e-310");
    cdc_convert_real_text(DBL_MAX, t);
    assert_string_equal(t, "1.7976931348623157e+308");
    cdc_convert_real_text(NAN, t);
    assert_string_equal(t, "nan");
    cdc_convert_real_text(-INFINITY, t);
    assert_string_equal(t, "-inf");
    /* Every power of ten and its neighbours, and integers around 1e15 and 2^53. */
    for (int e = -330; e <= 308; e++) {
        double p = pow(10, e);
        check_real(p);
        check_real(nextafter(p, 0));
        check_real(nextafter(p, INFINITY));
        check_real(-p);
    }
    for (int64_t k = -2000; k <= 2000; k++) {
        check_real(1e15 + (double)k);
        check_real(9007199254740992.0 + (double)k * 2);
        check_real((double)k / 4);
        check_real((double)k / 100);
    }
}

static void test_real_text_random(void **state)
{
    (void)state;
    srand(777);
    for (int i = 0; i < 300000; i++) {
        double r = from_bits(rnd64()); /* any bit pattern: subnormals, huge, NaN */
        check_real(r);
    }
    for (int i = 0; i < 300000; i++) {
        /* Decimals with few digits, as prices and measurements are. */
        double r = (double)(rand() % 100000000) / pow(10, rand() % 12) * (rand() % 2 ? 1 : -1);
        check_real(r);
    }
    for (int i = 0; i < 300000; i++)
        check_real((double)(int64_t)(rnd64() >> (rand() % 64)) * 0.25);
}

/* --- COPY escaping --------------------------------------------------------------------- */

static void ref_escaped(cdc_buf_t *out, const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '\\':
            cdc_buf_put_str(out, "\\\\");
            break;
        case '\n':
            cdc_buf_put_str(out, "\\n");
            break;
        case '\r':
            cdc_buf_put_str(out, "\\r");
            break;
        case '\t':
            cdc_buf_put_str(out, "\\t");
            break;
        default:
            cdc_buf_put_byte(out, s[i]);
        }
    }
}

static void check_escaped(const unsigned char *s, size_t len)
{
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    cdc_buf_put_str(&a, "pre|"); /* appends, never overwrites */
    cdc_buf_put_str(&b, "pre|");
    cdc_sink_copy_put_escaped(&a, s, len);
    ref_escaped(&b, s, len);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    cdc_buf_free(&a);
    cdc_buf_free(&b);
}

static void test_escaped(void **state)
{
    (void)state;
    static const char *const cases[] = {"",
                                        "\t",
                                        "\n",
                                        "\r",
                                        "\\",
                                        "\tabc",
                                        "abc\n",
                                        "\\\\\\\\",
                                        "plain text without specials at all, long enough",
                                        "a\tb\nc\rd\\e",
                                        "0123456\t89abcdef\\",
                                        "01234567\n",
                                        "\x01\x02\x0b\x0c\x0e\x1f\x7f[]|\\",
                                        "caf\xc3\xa9 \xe2\x98\x95\t\xf0\x9f\x98\x80\\"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_escaped((const unsigned char *)cases[i], strlen(cases[i]));
    cdc_buf_t a = CDC_BUF_INIT;
    cdc_sink_copy_put_escaped(&a, "a\tb\\", 4);
    assert_int_equal(a.len, 6);
    assert_memory_equal(a.data, "a\\tb\\\\", 6);
    cdc_buf_free(&a);
    /* Each special at every position of a 40-byte run, and random bytes. */
    unsigned char buf[64];
    const unsigned char specials[] = {'\t', '\n', '\r', '\\', 0x0b, 0x00, 0x5b};
    for (size_t k = 0; k < sizeof specials; k++)
        for (size_t pos = 0; pos < 40; pos++)
            for (size_t len = pos + 1; len <= 40; len += 7) {
                memset(buf, 'q', sizeof buf);
                buf[pos] = specials[k];
                check_escaped(buf, len);
            }
    srand(99);
    for (int round = 0; round < 100000; round++) {
        size_t len = (size_t)(rand() % 64);
        for (size_t i = 0; i < len; i++)
            buf[i] = rand() % 8 ? (unsigned char)(0x20 + rand() % 95) : (unsigned char)rand();
        check_escaped(buf, len);
    }
}

static void test_bytea_and_buf(void **state)
{
    (void)state;
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_sink_copy_put_bytea(&b, "\x00\xff\x10\xab", 4);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.data, "\\\\x00ff10ab", 11);
    cdc_buf_reset(&b);
    cdc_sink_copy_put_bytea(&b, NULL, 0);
    assert_int_equal(b.len, 3);
    cdc_buf_free(&b);
    /* Growth through the inline fast paths: many single bytes and pieces. */
    for (int i = 0; i < 5000; i++) {
        cdc_buf_put_byte(&b, (unsigned char)(i & 0xff));
        cdc_buf_put(&b, "xy", (size_t)(i % 3));
    }
    assert_int_equal(b.len, 5000 + 4999);
    assert_int_equal(b.data[0], 0);
    assert_int_equal(b.data[1], 1); /* i = 0 put no "xy" */
    cdc_buf_put(&b, NULL, 0);
    assert_int_equal(b.len, 9999);
    cdc_buf_free(&b);
    /* Varints written in place: boundaries of every length. */
    const int64_t vals[] = {0, -1, 1, 63, -64, 64, 8191, -8192, 8192, INT64_MAX, INT64_MIN};
    const size_t lens[] = {1, 1, 1, 1, 1, 2, 2, 2, 3, 10, 10};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        cdc_buf_reset(&b);
        cdc_buf_put_byte(&b, 0xee);
        cdc_buf_put_varint_zigzag(&b, vals[i]);
        assert_int_equal(b.len, 1 + lens[i]);
        uint64_t z = 0;
        for (size_t k = 0; k < lens[i]; k++)
            z |= (uint64_t)(b.data[1 + k] & 0x7f) << (7 * k);
        assert_true((int64_t)(z >> 1) == (vals[i] < 0 ? -(int64_t)((z + 1) >> 1) : vals[i]) ||
                    (int64_t)((z >> 1) ^ (0 - (z & 1))) == vals[i]);
    }
    cdc_buf_free(&b);
}

static void test_copy_long_and_double(void **state)
{
    (void)state;
    const int64_t vals[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN};
    cdc_col_type_t lt = {.kind = CDC_COL_LONG}, dt = {.kind = CDC_COL_DOUBLE};
    cdc_buf_t out = CDC_BUF_INIT, scratch = CDC_BUF_INIT;
    char err[128], want[64];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        cdc_mapped_t m = {.kind = CDC_COL_LONG, .l = vals[i]};
        cdc_buf_reset(&out);
        cdc_buf_put_byte(&out, '|');
        assert_int_equal(cdc_sink_copy_put_value(&out, &lt, &m, &scratch, err, sizeof err), 0);
        snprintf(want, sizeof want, "|%lld", (long long)vals[i]);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
    }
    const double dv[] = {0.1, -0.0, 1e-310, 1e300, 42.0};
    const char *const dw[] = {"0.1", "-0", "1e-310", "1e+300", "42"};
    for (size_t i = 0; i < sizeof dv / sizeof dv[0]; i++) {
        cdc_mapped_t m = {.kind = CDC_COL_DOUBLE, .d = dv[i]};
        cdc_buf_reset(&out);
        assert_int_equal(cdc_sink_copy_put_value(&out, &dt, &m, &scratch, err, sizeof err), 0);
        assert_int_equal(out.len, strlen(dw[i]));
        assert_memory_equal(out.data, dw[i], out.len);
    }
    cdc_buf_free(&out);
    cdc_buf_free(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_edges),
        cmocka_unit_test(test_utf8_random),
        cmocka_unit_test(test_real_text_edges),
        cmocka_unit_test(test_real_text_random),
        cmocka_unit_test(test_escaped),
        cmocka_unit_test(test_bytea_and_buf),
        cmocka_unit_test(test_copy_long_and_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
