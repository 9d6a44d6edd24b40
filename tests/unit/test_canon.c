/*
 * test_canon: the canonical row form (cdc_canon.h) and its hashes (cdc_hash.h).
 *  - the hash test vectors (xxhsum's sanity buffer, NIST's SHA-256 examples);
 *  - the exact byte layout of a row;
 *  - for every kind, a SQLite value (through cdc_convert_value, as the producer does) and
 *    the text PostgreSQL 15 printed for the stored value (through cdc_pgtext, as the sink
 *    does) give equal canonical bytes and equal hashes;
 *  - values a person calls different give different bytes (NULL / '' / 'NULL', LONG 0 /
 *    TEXT '0', 'a' / 'a ', ...);
 *  - PostgreSQL text that a pinned session never produces is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_buf.h"
#include "cdc_canon.h"
#include "cdc_convert.h"
#include "cdc_hash.h"
#include "cdc_pgtext.h"
#include "test_values.h"

static char g_err[512];

/* ---------------------------------------------------------------------------------------
 * Hash vectors */

static uint64_t xxh(const char *s, uint64_t seed)
{
    return cdc_hash_xxh64(s, strlen(s), seed);
}

static void test_xxh64_vectors(void **state)
{
    /* xxhsum's sanity buffer (xxhsum.c, BMK_sanityCheck): byte i is the top byte of
     * PRIME32 * PRIME64^i. */
    unsigned char buf[222];
    uint64_t gen = 2654435761U;
    unsigned char row[CDC_HASH_ROW_SIZE];
    (void)state;

    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)(gen >> 56);
        gen *= 11400714785074694797ULL;
    }
    assert_true(cdc_hash_xxh64(NULL, 0, 0) == 0xEF46DB3751D8E999ULL);
    assert_true(cdc_hash_xxh64(NULL, 0, 2654435761U) == 0xAC75FDA2929B17EFULL);
    assert_true(cdc_hash_xxh64(buf, 1, 0) == 0xE934A84ADB052768ULL);
    assert_true(cdc_hash_xxh64(buf, 1, 2654435761U) == 0x5014607643A9B4C3ULL);
    assert_true(cdc_hash_xxh64(buf, 14, 0) == 0x8282DCC4994E35C8ULL);
    assert_true(cdc_hash_xxh64(buf, 14, 2654435761U) == 0xC3BD6BF63DEB6DF0ULL);
    assert_true(cdc_hash_xxh64(buf, 222, 0) == 0xB641AE8CB691C174ULL);
    assert_true(cdc_hash_xxh64(buf, 222, 2654435761U) == 0x20CB8AB7AE10C14AULL);
    /* Strings (xxHash's README and python-xxhash's documentation). */
    assert_true(xxh("a", 0) == 0xD24EC4F1A98C6E5BULL);
    assert_true(xxh("abc", 0) == 0x44BC2CF5AD770999ULL);
    assert_true(xxh("Nobody inspects the spammish repetition", 0) == 0xFBCEA83C8A378BF1ULL);
    /* The row hash is XXH64 seed 0, big-endian. */
    cdc_hash_row("abc", 3, row);
    assert_memory_equal(row, "\x44\xbc\x2c\xf5\xad\x77\x09\x99", 8);
}

static void sha_hex(const void *p, size_t len, char *hex)
{
    unsigned char d[CDC_SHA256_SIZE];
    cdc_sha256(p, len, d);
    cdc_hash_hex(d, sizeof d, hex);
}

static void test_sha256_vectors(void **state)
{
    /* FIPS 180-4 examples (NIST CSRC "Examples with Intermediate Values", SHA-256). */
    static const char *const abc56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const char *const abc112 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                                      "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    char hex[2 * CDC_SHA256_SIZE + 1];
    unsigned char d[CDC_SHA256_SIZE];
    cdc_sha256_t s;
    static char million[1000000];
    (void)state;

    sha_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha_hex(abc56, strlen(abc56), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha_hex(abc112, strlen(abc112), hex);
    assert_string_equal(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    memset(million, 'a', sizeof million);
    sha_hex(million, sizeof million, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* Incremental, in uneven pieces that straddle block boundaries. */
    cdc_sha256_init(&s);
    for (size_t off = 0, step = 1; off < sizeof million; off += step, step = step * 3 % 997 + 1)
        cdc_sha256_update(&s, million + off,
                          off + step > sizeof million ? sizeof million - off : step);
    cdc_sha256_update(&s, NULL, 0);
    cdc_sha256_final(&s, d);
    cdc_hash_hex(d, sizeof d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* Lengths around the padding boundary (55, 56, 63, 64 bytes) against two-piece input. */
    for (size_t n = 54; n <= 65; n++) {
        unsigned char one[CDC_SHA256_SIZE];
        cdc_sha256(million, n, one);
        cdc_sha256_init(&s);
        cdc_sha256_update(&s, million, n / 2);
        cdc_sha256_update(&s, million + n / 2, n - n / 2);
        cdc_sha256_final(&s, d);
        assert_memory_equal(one, d, sizeof d);
    }
    sha_hex(million, 55, hex);
    assert_string_equal(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    sha_hex(million, 64, hex);
    assert_string_equal(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

/* ---------------------------------------------------------------------------------------
 * Layout */

static void test_layout(void **state)
{
    cdc_column_t cols[4] = {
        test_column("c", CDC_COL_LONG, 0, 0, 0), test_column("c", CDC_COL_TEXT, 0, 0, 0),
        test_column("c", CDC_COL_TEXT, 0, 0, 0), test_column("c", CDC_COL_DECIMAL, 14, 2, 0)};
    cdc_mapped_t v[4];
    cdc_buf_t out = CDC_BUF_INIT, txt = CDC_BUF_INIT;
    static const unsigned char want[] = {
        0x01, 0, 0, 0, 4,                                         /* version, 4 columns */
        0x01, 0, 0, 0, 8, 0,   0,   0,   0,   0,   0, 0x01, 0x02, /* LONG 258 */
        0x00,                                                     /* NULL */
        0x08, 0, 0, 0, 2, 'a', ' ',                               /* TEXT "a " */
        0x03, 0, 0, 0, 5, '-', '1', '.', '5', '0',                /* DECIMAL -1.50 */
    };
    (void)state;

    memset(v, 0, sizeof v);
    v[0].kind = CDC_COL_LONG, v[0].l = 258;
    v[1].kind = CDC_COL_TEXT, v[1].is_null = 1;
    v[2].kind = CDC_COL_TEXT, v[2].p = (const unsigned char *)"a ", v[2].len = 2;
    v[3].kind = CDC_COL_DECIMAL, v[3].p = (const unsigned char *)"\xff\x6a", v[3].len = 2;
    assert_int_equal(cdc_canon_row(cols, v, 4, &out, g_err, sizeof g_err), 0);
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);
    cdc_canon_describe(out.data, out.len, 64, &txt);
    assert_string_equal(cdc_buf_cstr(&txt), "[LONG 258, NULL, TEXT \"a \", DECIMAL \"-1.50\"]");
    /* Truncated input is named, not read past. */
    cdc_buf_reset(&txt);
    cdc_canon_describe(out.data, out.len - 1, 64, &txt);
    assert_non_null(strstr(cdc_buf_cstr(&txt), "<malformed at byte"));
    cdc_buf_free(&out);
    cdc_buf_free(&txt);
}

/* ---------------------------------------------------------------------------------------
 * Source side vs PostgreSQL side */

typedef struct pair_s {
    cdc_col_kind_t kind;
    int p, s, maxlen;
    cdc_value_t src; /* the SQLite value */
    const char *pg;  /* what PostgreSQL 15 printed for it (NULL: SQL NULL) */
    size_t pglen;    /* 0: strlen */
} pair_t;

static const pair_t g_pairs[] = {
    {CDC_COL_LONG, 0, 0, 0, VI(0), "0", 0},
    {CDC_COL_LONG, 0, 0, 0, VI(42), "42", 0},
    {CDC_COL_LONG, 0, 0, 0, VI(INT64_MIN), "-9223372036854775808", 0},
    {CDC_COL_LONG, 0, 0, 0, VI(INT64_MAX), "9223372036854775807", 0},
    {CDC_COL_LONG, 0, 0, 0, VN, NULL, 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VR(0.1), "0.1", 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VR(1e300), "1e+300", 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VR(-0.0), "-0", 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VR(0.0), "0", 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VR(5e-324), "5e-324", 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VR(1.7976931348623157e308), "1.7976931348623157e+308", 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VR(123456789012345680000.0), "1.2345678901234568e+20", 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VR(1e-5), "1e-05", 0},
    {CDC_COL_DOUBLE, 0, 0, 0, VI(3), "3", 0},
    {CDC_COL_DECIMAL, 14, 2, 0, VT("1.5"), "1.50", 0},
    {CDC_COL_DECIMAL, 14, 2, 0, VR(19.99), "19.99", 0},
    {CDC_COL_DECIMAL, 14, 2, 0, VI(-3), "-3.00", 0},
    {CDC_COL_DECIMAL, 14, 2, 0, VT("-0.00"), "0.00", 0},
    {CDC_COL_DECIMAL, 14, 2, 0, VT("-1e-2"), "-0.01", 0},
    {CDC_COL_DECIMAL, 14, 2, 0, VT("123456789012.34"), "123456789012.34", 0},
    {CDC_COL_DECIMAL, 14, 2, 0, VT("-128"), "-128.00", 0},
    {CDC_COL_DECIMAL, 3, 0, 0, VI(-128), "-128", 0},
    {CDC_COL_DECIMAL, 3, 0, 0, VI(255), "255", 0},
    {CDC_COL_DECIMAL, 40, 10, 0, VT("-123456789012345678901234567890.0123456789"),
     "-123456789012345678901234567890.0123456789", 0},
    {CDC_COL_NUMERIC, 0, 0, 0, VT("1.50"), "1.50", 0},
    {CDC_COL_NUMERIC, 0, 0, 0, VT("1e2"), "100", 0},
    {CDC_COL_NUMERIC, 0, 0, 0, VT("-0"), "0", 0},
    {CDC_COL_NUMERIC, 0, 0, 0, VT("-0.0e5"), "0", 0},
    {CDC_COL_NUMERIC, 0, 0, 0, VR(0.1), "0.1", 0},
    {CDC_COL_NUMERIC, 0, 0, 0, VI(-7), "-7", 0},
    {CDC_COL_BOOLEAN, 0, 0, 0, VI(1), "t", 0},
    {CDC_COL_BOOLEAN, 0, 0, 0, VI(0), "f", 0},
    {CDC_COL_TIMESTAMP, 0, 0, 0, VT("2024-01-15 10:30:00+02:00"), "2024-01-15 08:30:00+00", 0},
    {CDC_COL_TIMESTAMP, 0, 0, 0, VT("2024-01-15T10:30:00.123456+05:30"),
     "2024-01-15 05:00:00.123456+00", 0},
    {CDC_COL_TIMESTAMP, 0, 0, 0, VT("1969-12-31 23:59:59.5"), "1969-12-31 23:59:59.5+00", 0},
    {CDC_COL_TIMESTAMP, 0, 0, 0, VT("1900-01-01"), "1900-01-01 00:00:00+00", 0},
    {CDC_COL_TIMESTAMP, 0, 0, 0, VT("0000-06-01 12:00"), "0001-06-01 12:00:00+00 BC", 0},
    {CDC_COL_TIMESTAMP, 0, 0, 0, VI(0), "1970-01-01 00:00:00+00", 0},
    {CDC_COL_TIMESTAMP, 0, 0, 0, VT("9999-12-31 23:59:59.999999Z"), "9999-12-31 23:59:59.999999+00",
     0},
    {CDC_COL_DATE, 0, 0, 0, VT("2024-02-29"), "2024-02-29", 0},
    {CDC_COL_DATE, 0, 0, 0, VT("1900-01-01"), "1900-01-01", 0},
    {CDC_COL_DATE, 0, 0, 0, VT("0000-12-31"), "0001-12-31 BC", 0},
    {CDC_COL_TEXT, 0, 0, 0, VT("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
     "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 0},
    {CDC_COL_TEXT, 0, 0, 0, VT(""), "", 0},
    {CDC_COL_TEXT, 0, 0, 0, VT("a "), "a ", 0},
    {CDC_COL_TEXT, 0, 0, 0, VT("NULL"), "NULL", 0},
    {CDC_COL_TEXT, 0, 0, 0, VI(12), "12", 0},
    {CDC_COL_TEXT, 0, 0, 0, VN, NULL, 0},
    {CDC_COL_TEXT, 0, 0, 10, VT("abc"), "abc", 0},
    {CDC_COL_JSON, 0, 0, 0, VT("{\"b\":1, \"a\":[1.0,1e2,-0], \"a\":2}"), "{\"a\": 2, \"b\": 1}",
     0},
    {CDC_COL_JSON, 0, 0, 0, VT("{\"b\":1, \"a\":[1.0,1e2,-0]}"), "{\"a\": [1.0, 100, 0], \"b\": 1}",
     0},
    {CDC_COL_JSON, 0, 0, 0, VT("\"\\u00e9\\/\""), "\"\xc3\xa9/\"", 0},
    {CDC_COL_JSON, 0, 0, 0, VI(12), "12", 0},
    {CDC_COL_BLOB, 0, 0, 0, VB("\x00\xff\x00"), "\\x00ff00", 0},
    {CDC_COL_BLOB, 0, 0, 0, VB(""), "\\x", 0},
    {CDC_COL_BLOB, 0, 0, 0, VT("abc"), "\\x616263", 0},
    {CDC_COL_BLOB, 0, 0, 0, VN, NULL, 0},
};

/* Canonical single-column row of a SQLite value, the producer's way. */
static void canon_src(const pair_t *c, cdc_buf_t *out)
{
    cdc_column_t col = test_column("c", c->kind, c->p, c->s, c->maxlen);
    cdc_buf_t scratch = CDC_BUF_INIT;
    cdc_mapped_t m;

    if (cdc_convert_value(&col, &c->src, &m, &scratch, g_err, sizeof g_err) != CDC_CONVERT_OK)
        fail_msg("convert %s: %s", c->pg ? c->pg : "NULL", g_err);
    if (cdc_canon_row(&col, &m, 1, out, g_err, sizeof g_err) < 0)
        fail_msg("canon %s: %s", c->pg ? c->pg : "NULL", g_err);
    cdc_buf_free(&scratch);
}

/* Canonical single-column row of PostgreSQL's text, the sink's way. */
static void canon_pg(const pair_t *c, cdc_buf_t *out)
{
    cdc_column_t col = test_column("c", c->kind, c->p, c->s, c->maxlen);
    size_t len = c->pg == NULL ? 0 : c->pglen ? c->pglen : strlen(c->pg);

    if (cdc_pgtext_canon_row(&col, 1, &c->pg, &len, out, g_err, sizeof g_err) < 0)
        fail_msg("pgtext %s: %s", c->pg ? c->pg : "NULL", g_err);
}

static void test_source_equals_target(void **state)
{
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT, da = CDC_BUF_INIT, db = CDC_BUF_INIT;
    (void)state;

    for (size_t k = 0; k < sizeof g_pairs / sizeof g_pairs[0]; k++) {
        unsigned char ha[CDC_HASH_ROW_SIZE], hb[CDC_HASH_ROW_SIZE];
        canon_src(&g_pairs[k], &a);
        canon_pg(&g_pairs[k], &b);
        cdc_hash_row(a.data, a.len, ha);
        cdc_hash_row(b.data, b.len, hb);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0 || memcmp(ha, hb, sizeof ha)) {
            cdc_buf_reset(&da);
            cdc_buf_reset(&db);
            cdc_canon_describe(a.data, a.len, 200, &da);
            cdc_canon_describe(b.data, b.len, 200, &db);
            fail_msg("pair %zu (%s): source %s != target %s", k, g_pairs[k].pg, cdc_buf_cstr(&da),
                     cdc_buf_cstr(&db));
        }
    }
    cdc_buf_free(&a);
    cdc_buf_free(&b);
    cdc_buf_free(&da);
    cdc_buf_free(&db);
}

/* All pairs of distinct source values give pairwise distinct canonical rows. */
static void test_different_values_differ(void **state)
{
    static const pair_t vals[] = {
        {CDC_COL_TEXT, 0, 0, 0, VN, NULL, 0},
        {CDC_COL_TEXT, 0, 0, 0, VT(""), NULL, 0},
        {CDC_COL_TEXT, 0, 0, 0, VT("NULL"), NULL, 0},
        {CDC_COL_TEXT, 0, 0, 0, VT("0"), NULL, 0},
        {CDC_COL_TEXT, 0, 0, 0, VT("a"), NULL, 0},
        {CDC_COL_TEXT, 0, 0, 0, VT("a "), NULL, 0},
        {CDC_COL_TEXT, 0, 0, 0, VT("A"), NULL, 0},
        {CDC_COL_LONG, 0, 0, 0, VI(0), NULL, 0},
        {CDC_COL_LONG, 0, 0, 0, VI(1), NULL, 0},
        {CDC_COL_BOOLEAN, 0, 0, 0, VI(0), NULL, 0},
        {CDC_COL_BOOLEAN, 0, 0, 0, VI(1), NULL, 0},
        {CDC_COL_DOUBLE, 0, 0, 0, VR(0.0), NULL, 0},
        {CDC_COL_DOUBLE, 0, 0, 0, VR(-0.0), NULL, 0},
        {CDC_COL_NUMERIC, 0, 0, 0, VT("0"), NULL, 0},
        {CDC_COL_NUMERIC, 0, 0, 0, VT("1.5"), NULL, 0},
        {CDC_COL_NUMERIC, 0, 0, 0, VT("1.50"), NULL, 0},
        {CDC_COL_DECIMAL, 14, 2, 0, VT("0"), NULL, 0},
        {CDC_COL_TIMESTAMP, 0, 0, 0, VI(0), NULL, 0},
        {CDC_COL_DATE, 0, 0, 0, VT("1970-01-01"), NULL, 0},
        {CDC_COL_JSON, 0, 0, 0, VT("0"), NULL, 0},
        {CDC_COL_JSON, 0, 0, 0, VT("\"0\""), NULL, 0},
        {CDC_COL_JSON, 0, 0, 0, VT("null"), NULL, 0},
        {CDC_COL_BLOB, 0, 0, 0, VT("0"), NULL, 0},
        {CDC_COL_BLOB, 0, 0, 0, VB(""), NULL, 0},
    };
    enum { N = sizeof vals / sizeof vals[0] };
    cdc_buf_t rows[N];
    (void)state;

    for (size_t i = 0; i < N; i++) {
        cdc_buf_init(&rows[i]);
        canon_src(&vals[i], &rows[i]);
    }
    /* NULL is NULL whatever the column's kind; every other pair must differ. */
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            if (rows[i].len == rows[j].len && memcmp(rows[i].data, rows[j].data, rows[i].len) == 0)
                fail_msg("values %zu and %zu have the same canonical form", i, j);
    for (size_t i = 0; i < N; i++)
        cdc_buf_free(&rows[i]);
}

/* Lengths delimit values: moving a byte from one column to the next changes the row. */
static void test_rows_are_delimited(void **state)
{
    cdc_column_t cols[2] = {test_column("c", CDC_COL_TEXT, 0, 0, 0),
                            test_column("c", CDC_COL_TEXT, 0, 0, 0)};
    const char *r1[2] = {"ab", ""}, *r2[2] = {"a", "b"}, *r3[2] = {"", NULL}, *r4[2] = {NULL, ""};
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    unsigned char ha[8], hb[8];
    (void)state;

    assert_int_equal(cdc_pgtext_canon_row(cols, 2, r1, NULL, &a, g_err, sizeof g_err), 0);
    assert_int_equal(cdc_pgtext_canon_row(cols, 2, r2, NULL, &b, g_err, sizeof g_err), 0);
    cdc_hash_row(a.data, a.len, ha);
    cdc_hash_row(b.data, b.len, hb);
    assert_memory_not_equal(ha, hb, 8);
    assert_int_equal(cdc_pgtext_canon_row(cols, 2, r3, NULL, &a, g_err, sizeof g_err), 0);
    assert_int_equal(cdc_pgtext_canon_row(cols, 2, r4, NULL, &b, g_err, sizeof g_err), 0);
    assert_true(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
    /* One column fewer is another row. */
    assert_int_equal(cdc_pgtext_canon_row(cols, 1, r3, NULL, &b, g_err, sizeof g_err), 0);
    assert_true(a.len != b.len);
    cdc_buf_free(&a);
    cdc_buf_free(&b);
}

/* NaN has one form; infinities and the pgtext special words map as documented. */
static void test_double_specials(void **state)
{
    cdc_column_t col = test_column("c", CDC_COL_DOUBLE, 0, 0, 0);
    cdc_mapped_t m = {CDC_COL_DOUBLE, 0, 0, 0, NULL, 0};
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    const char *t;
    uint64_t bits = 0x7ff0000000000123ULL; /* a signalling-looking NaN payload */
    (void)state;

    memcpy(&m.d, &bits, sizeof m.d);
    assert_int_equal(cdc_canon_row(&col, &m, 1, &a, g_err, sizeof g_err), 0);
    t = "NaN";
    assert_int_equal(cdc_pgtext_canon_row(&col, 1, &t, NULL, &b, g_err, sizeof g_err), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_memory_equal(a.data + 10, "\x7f\xf8\0\0\0\0\0\0", 8);
    m.d = -HUGE_VAL;
    assert_int_equal(cdc_canon_row(&col, &m, 1, &a, g_err, sizeof g_err), 0);
    t = "-Infinity";
    assert_int_equal(cdc_pgtext_canon_row(&col, 1, &t, NULL, &b, g_err, sizeof g_err), 0);
    assert_memory_equal(a.data, b.data, a.len);
    cdc_buf_free(&a);
    cdc_buf_free(&b);
}

static void test_pgtext_specials(void **state)
{
    cdc_col_type_t ts = {CDC_COL_TIMESTAMP, 0, 0, 0}, date = {CDC_COL_DATE, 0, 0, 0};
    cdc_col_type_t dec = {CDC_COL_DECIMAL, 5, 2, 0};
    cdc_buf_t scratch = CDC_BUF_INIT;
    cdc_mapped_t m;
    (void)state;

    assert_int_equal(cdc_pgtext_value(&ts, "infinity", 8, &m, &scratch, g_err, sizeof g_err), 0);
    assert_true(m.l == INT64_MAX);
    assert_int_equal(cdc_pgtext_value(&ts, "-infinity", 9, &m, &scratch, g_err, sizeof g_err), 0);
    assert_true(m.l == INT64_MIN);
    assert_int_equal(cdc_pgtext_value(&date, "infinity", 8, &m, &scratch, g_err, sizeof g_err), 0);
    assert_true(m.l == INT64_MAX);
    /* Offsets other than +00 (a session not pinned to UTC) still give the instant. */
    assert_int_equal(cdc_pgtext_value(&ts, "1900-01-01 00:19:32+00:19:32", 28, &m, &scratch, g_err,
                                      sizeof g_err),
                     0);
    assert_true(m.l == -2208988800LL * 1000000);
    /* 5874897 AD dates and the far end of timestamptz. */
    assert_int_equal(
        cdc_pgtext_value(&date, "5874897-12-31", 13, &m, &scratch, g_err, sizeof g_err), 0);
    assert_int_equal(cdc_pgtext_value(&ts, "294276-12-31 23:59:59.999999+00", 31, &m, &scratch,
                                      g_err, sizeof g_err),
                     -1);
    assert_non_null(strstr(g_err, "outside int64"));
    assert_int_equal(
        cdc_pgtext_value(&ts, "4714-11-24 00:00:00+00 BC", 25, &m, &scratch, g_err, sizeof g_err),
        0);
    assert_true(m.l == -210866803200LL * 1000000);
    /* Decimal bytes: minimal two's complement. */
    assert_int_equal(cdc_pgtext_value(&dec, "-1.28", 5, &m, &scratch, g_err, sizeof g_err), 0);
    assert_int_equal(m.len, 1);
    assert_int_equal(m.p[0], 0x80);
    assert_int_equal(cdc_pgtext_value(&dec, "1.28", 4, &m, &scratch, g_err, sizeof g_err), 0);
    assert_int_equal(m.len, 2);
    assert_memory_equal(m.p, "\x00\x80", 2);
    assert_int_equal(cdc_pgtext_value(&dec, "0.00", 4, &m, &scratch, g_err, sizeof g_err), 0);
    assert_int_equal(m.len, 1);
    assert_int_equal(m.p[0], 0);
    cdc_buf_free(&scratch);
}

/* Text a pinned session never prints is refused, naming the column. */
static void test_pgtext_refused(void **state)
{
    static const struct {
        cdc_col_kind_t kind;
        int s;
        const char *text;
    } bad[] = {
        {CDC_COL_LONG, 0, "1.0"},
        {CDC_COL_LONG, 0, "abc"},
        {CDC_COL_LONG, 0, ""},
        {CDC_COL_LONG, 0, "9223372036854775808"},
        {CDC_COL_LONG, 0, "-9223372036854775809"},
        {CDC_COL_DOUBLE, 0, "inf"},
        {CDC_COL_DOUBLE, 0, " 1"},
        {CDC_COL_DOUBLE, 0, "0x10"},
        {CDC_COL_DOUBLE, 0, "1e"},
        {CDC_COL_BOOLEAN, 0, "true"},
        {CDC_COL_BOOLEAN, 0, "1"},
        {CDC_COL_TIMESTAMP, 0, "2024-01-15 10:30:00"},     /* no offset: a timestamp, not tz */
        {CDC_COL_TIMESTAMP, 0, "01/15/2024 10:30:00 UTC"}, /* DateStyle not ISO */
        {CDC_COL_TIMESTAMP, 0, "2024-01-15 10:30:00.1234567+00"},
        {CDC_COL_TIMESTAMP, 0, "2024-13-15 10:30:00+00"},
        {CDC_COL_DATE, 0, "2024-01-15 00:00:00"},
        {CDC_COL_DATE, 0, "0000-01-01"},
        {CDC_COL_DATE, 0, "15.01.2024"},
        {CDC_COL_BLOB, 0, "abc"}, /* escape format, not hex */
        {CDC_COL_BLOB, 0, "\\x0"},
        {CDC_COL_BLOB, 0, "\\xzz"},
        {CDC_COL_DECIMAL, 2, "1.234"},
        {CDC_COL_DECIMAL, 2, "NaN"},
        {CDC_COL_DECIMAL, 2, "1e2"},
        {CDC_COL_NUMERIC, 0, "abc"}, /* refused by the canonical form */
        {CDC_COL_JSON, 0, "{\"a\":}"},
    };
    cdc_buf_t out = CDC_BUF_INIT;
    (void)state;

    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        cdc_column_t col = test_column("c", bad[k].kind, 14, bad[k].s, 0);
        col.name = (char *)"amount";
        g_err[0] = '\0';
        if (cdc_pgtext_canon_row(&col, 1, &bad[k].text, NULL, &out, g_err, sizeof g_err) == 0)
            fail_msg("'%s' accepted for a %s column", bad[k].text,
                     cdc_types_kind_name(bad[k].kind));
        if (strncmp(g_err, "column amount: ", 15) != 0)
            fail_msg("error does not name the column: %s", g_err);
    }
    cdc_buf_free(&out);
}

/* The canonical form refuses what it cannot represent, leaving the row as it was. */
static void test_canon_refused(void **state)
{
    cdc_col_type_t text = {CDC_COL_TEXT, 0, 0, 0}, dec = {CDC_COL_DECIMAL, 5, 2, 0};
    cdc_col_type_t boolean = {CDC_COL_BOOLEAN, 0, 0, 0};
    cdc_mapped_t m = {CDC_COL_LONG, 0, 1, 0, NULL, 0};
    cdc_buf_t out = CDC_BUF_INIT;
    (void)state;

    cdc_canon_begin(&out, 1);
    assert_int_equal(cdc_canon_add(&out, &text, &m, g_err, sizeof g_err), -1);
    assert_non_null(strstr(g_err, "a long value in a text column"));
    m.kind = CDC_COL_DECIMAL;
    assert_int_equal(cdc_canon_add(&out, &dec, &m, g_err, sizeof g_err), -1);
    m.kind = CDC_COL_BOOLEAN;
    m.l = 2;
    assert_int_equal(cdc_canon_add(&out, &boolean, &m, g_err, sizeof g_err), -1);
    assert_int_equal(out.len, 5);
    cdc_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh64_vectors),
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_source_equals_target),
        cmocka_unit_test(test_different_values_differ),
        cmocka_unit_test(test_rows_are_delimited),
        cmocka_unit_test(test_double_specials),
        cmocka_unit_test(test_pgtext_specials),
        cmocka_unit_test(test_pgtext_refused),
        cmocka_unit_test(test_canon_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
