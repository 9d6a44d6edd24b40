/*
 * test_avro_value: Avro binary of rows, keys, envelopes and control records, both ways,
 * and proof that the bytes are standard Avro: each encoding is read back with avro-c's
 * generic reader against the schema text cdc_avro_schema.h builds, field by field.
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

#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"
#include "test_avro_util.h"
#include "test_values.h"

#define NCOLS 11

static char g_err[512];

/* region is key position 2 but comes first, to prove keys follow key order. */
static cdc_column_t g_cols[NCOLS] = TEST_EVERY_KIND_COLUMNS;

static const cdc_value_t g_rows[][NCOLS] = {
    {VT("emea"), VI(1), VT("Acme GmbH"), VR(125000.0), VR(0.1), VI(1), VT("2024-03-05 12:34:56.5"),
     VT("2024-03-05"), VT("{\"tier\":\"platinum\"}"), VB("\x00\x01\xff"), VR(0.1)},
    {VT("apac"), VI(-9223372036854775807LL - 1), VT(""), VN, VN, VN, VN, VN, VN, VN, VN},
    {VT("\xc3\xa9t\xc3\xa9"), VI(9223372036854775807LL), VT("Z\xc3\xbcrich \xf0\x9f\x98\x80"),
     VT("-999999999999.99"), VR(-1e300), VI(0), VR(2415020.5), VT("1899-12-31"), VT("[1,2]"),
     VB(""), VT("-12345678901234567890.5")},
};
#define NROWS (sizeof g_rows / sizeof g_rows[0])

/* Expected mapped values, by converting each input (cdc_convert is tested on its own). */
static void expected(const cdc_value_t *row, cdc_mapped_t *out, cdc_buf_t *scratch)
{
    for (size_t i = 0; i < NCOLS; i++) {
        assert_int_equal(
            cdc_convert_value(&g_cols[i], &row[i], &out[i], &scratch[i], g_err, sizeof g_err),
            CDC_CONVERT_OK);
    }
}

static void assert_same_value(const cdc_mapped_t *want, const cdc_decoded_value_t *got)
{
    assert_int_equal(got->kind, want->kind);
    assert_int_equal(got->is_null, want->is_null);
    if (want->is_null)
        return;
    switch (want->kind) {
    case CDC_COL_DOUBLE:
        assert_memory_equal(&got->d, &want->d, sizeof want->d);
        break;
    case CDC_COL_LONG:
    case CDC_COL_BOOLEAN:
    case CDC_COL_TIMESTAMP:
    case CDC_COL_DATE:
        assert_true(got->l == want->l);
        break;
    default:
        assert_int_equal(got->len, want->len);
        if (want->len > 0)
            assert_memory_equal(got->p, want->p, want->len);
    }
}

/* ---- tests ---- */

static void test_golden_bytes(void **state)
{
    cdc_column_t cols[2] = {{"id", "id", "INTEGER", {CDC_COL_LONG, 0, 0, 0}, 0, 1},
                            {"name", "name", "TEXT", {CDC_COL_TEXT, 0, 0, 0}, 0, 0}};
    cdc_value_t row1[2] = {VI(1), VT("a")}, row2[2] = {VI(-65), VN};
    cdc_buf_t out = CDC_BUF_INIT, scratch = CDC_BUF_INIT;
    size_t bad = 99;
    (void)state;

    assert_int_equal(cdc_avro_encode_row(&out, cols, 2, row1, &scratch, &bad, g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "\x02\x02\x02\x61", 4);
    cdc_buf_reset(&out);
    assert_int_equal(cdc_avro_encode_row(&out, cols, 2, row2, &scratch, &bad, g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "\x81\x01\x00", 3);
    cdc_buf_reset(&out);
    assert_int_equal(
        cdc_avro_encode_key(&out, "s", "t", cols, 2, row1, &scratch, &bad, g_err, sizeof g_err),
        CDC_AVRO_OK);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "\x02s\x02t\x02", 5);
    cdc_buf_free(&out);
    cdc_buf_free(&scratch);
}

static void test_row_round_trip_and_avro_c(void **state)
{
    char *schema = cdc_avro_schema_row_json("crm one", "deals", g_cols, NCOLS, g_err, sizeof g_err);
    cdc_buf_t out = CDC_BUF_INIT, scratch = CDC_BUF_INIT, exp_scratch[NCOLS];
    (void)state;

    if (schema == NULL)
        fail_msg("row schema: %s", g_err);
    for (size_t i = 0; i < NCOLS; i++)
        cdc_buf_init(&exp_scratch[i]);
    for (size_t r = 0; r < NROWS; r++) {
        cdc_mapped_t want[NCOLS];
        cdc_decoded_value_t got[NCOLS];
        avro_ctx_t ac;
        size_t bad = 99;

        expected(g_rows[r], want, exp_scratch);
        cdc_buf_reset(&out);
        if (cdc_avro_encode_row(&out, g_cols, NCOLS, g_rows[r], &scratch, &bad, g_err,
                                sizeof g_err) != CDC_AVRO_OK)
            fail_msg("row %zu: %s", r, g_err);
        assert_int_equal(
            cdc_avro_decode_row(out.data, out.len, g_cols, NCOLS, got, g_err, sizeof g_err),
            CDC_AVRO_OK);
        for (size_t i = 0; i < NCOLS; i++)
            assert_same_value(&want[i], &got[i]);
        /* Strings are borrowed from the input, not copied. */
        assert_true(got[2].p >= out.data && got[2].p <= out.data + out.len);

        avro_read_all(&ac, schema, out.data, out.len);
        for (size_t i = 0; i < NCOLS; i++)
            avro_assert_column(&ac.value, &g_cols[i], &want[i]);
        avro_done(&ac);
    }
    for (size_t i = 0; i < NCOLS; i++)
        cdc_buf_free(&exp_scratch[i]);
    cdc_buf_free(&out);
    cdc_buf_free(&scratch);
    free(schema);
}

static void test_row_misfit(void **state)
{
    cdc_value_t row[NCOLS];
    cdc_buf_t out = CDC_BUF_INIT, scratch = CDC_BUF_INIT;
    size_t bad = 99;
    (void)state;

    memcpy(row, g_rows[0], sizeof row);
    row[3] = (cdc_value_t)VT("abc");
    cdc_buf_put(&out, "prefix", 6);
    assert_int_equal(
        cdc_avro_encode_row(&out, g_cols, NCOLS, row, &scratch, &bad, g_err, sizeof g_err),
        CDC_AVRO_MISFIT);
    assert_int_equal(bad, 3);
    assert_string_equal(g_err, "column amount: text 'abc' in a DECIMAL(14,2) column: not a "
                               "decimal number");
    assert_int_equal(out.len, 6); /* put back to its length at entry */

    memcpy(row, g_rows[0], sizeof row);
    row[2] = (cdc_value_t)VN;
    assert_int_equal(
        cdc_avro_encode_row(&out, g_cols, NCOLS, row, &scratch, &bad, g_err, sizeof g_err),
        CDC_AVRO_MISFIT);
    assert_int_equal(bad, 2);
    assert_non_null(strstr(g_err, "NOT NULL"));

    memcpy(row, g_rows[0], sizeof row);
    row[0] = (cdc_value_t)VT("toolongregion");
    assert_int_equal(cdc_avro_encode_key_from_row(&out, "s", "t", g_cols, NCOLS, row, &scratch,
                                                  &bad, g_err, sizeof g_err),
                     CDC_AVRO_MISFIT);
    assert_int_equal(bad, 0);
    assert_int_equal(out.len, 6);
    cdc_buf_free(&out);
    cdc_buf_free(&scratch);
}

static void test_key(void **state)
{
    char *schema = cdc_avro_schema_key_json("crm one", "deals", g_cols, NCOLS, g_err, sizeof g_err);
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT, scratch = CDC_BUF_INIT;
    cdc_value_t key_vals[2] = {g_rows[2][1], g_rows[2][0]}; /* key order: id, region */
    cdc_decoded_value_t got[2];
    cdc_avro_str_t src, tab;
    avro_ctx_t ac;
    avro_value_t pk, f;
    size_t bad;
    cdc_column_t broken[2] = {{"a", "a", "", {CDC_COL_LONG, 0, 0, 0}, 0, 1},
                              {"b", "b", "", {CDC_COL_LONG, 0, 0, 0}, 0, 3}};
    (void)state;

    if (schema == NULL)
        fail_msg("key schema: %s", g_err);
    assert_int_equal(cdc_avro_encode_key(&a, "crm one", "deals", g_cols, NCOLS, key_vals, &scratch,
                                         &bad, g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(cdc_avro_encode_key_from_row(&b, "crm one", "deals", g_cols, NCOLS, g_rows[2],
                                                  &scratch, &bad, g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_int_equal(
        cdc_avro_decode_key(a.data, a.len, g_cols, NCOLS, &src, &tab, got, g_err, sizeof g_err),
        CDC_AVRO_OK);
    assert_int_equal(src.len, 7);
    assert_memory_equal(src.p, "crm one", 7);
    assert_int_equal(tab.len, 5);
    assert_true(got[0].l == INT64_MAX);
    assert_int_equal(got[1].len, 5);
    assert_memory_equal(got[1].p, "\xc3\xa9t\xc3\xa9", 5);

    avro_read_all(&ac, schema, a.data, a.len);
    avro_field(&ac.value, "source", &f);
    avro_assert_str(&f, "crm one", 7);
    avro_field(&ac.value, "table", &f);
    avro_assert_str(&f, "deals", 5);
    avro_field(&ac.value, "pk", &pk);
    assert_true(avro_long(&pk, "id") == INT64_MAX);
    avro_field(&pk, "region", &f);
    avro_assert_str(&f, "\xc3\xa9t\xc3\xa9", 5);
    avro_done(&ac);

    assert_int_equal(
        cdc_avro_encode_key(&a, "s", "t", broken, 2, key_vals, &scratch, &bad, g_err, sizeof g_err),
        CDC_AVRO_INVALID);
    free(schema);
    cdc_buf_free(&a);
    cdc_buf_free(&b);
    cdc_buf_free(&scratch);
}

static void test_envelope(void **state)
{
    char *schema =
        cdc_avro_schema_envelope_json("crm one", "deals", g_cols, NCOLS, g_err, sizeof g_err);
    cdc_buf_t out = CDC_BUF_INIT, scratch = CDC_BUF_INIT, exp_scratch[NCOLS];
    static const unsigned char hash[32] = {1, 2, 3, 0xff};
    cdc_avro_envelope_t env = {'u',
                               cdc_avro_str("crm one"),
                               cdc_avro_str("deals"),
                               3,
                               1234567,
                               0,
                               1,
                               1709642096000000LL,
                               hash,
                               sizeof hash,
                               1709642096789LL};
    cdc_avro_envelope_t got;
    cdc_decoded_value_t after[NCOLS];
    cdc_mapped_t want[NCOLS];
    avro_ctx_t ac;
    avro_value_t f, v, srcrec;
    const void *bp;
    size_t bsize, bad;
    int has_after = -1, disc = -1, bval = -1;
    (void)state;

    if (schema == NULL)
        fail_msg("envelope schema: %s", g_err);
    for (size_t i = 0; i < NCOLS; i++)
        cdc_buf_init(&exp_scratch[i]);
    expected(g_rows[0], want, exp_scratch);
    assert_int_equal(cdc_avro_encode_envelope(&out, &env, g_cols, NCOLS, g_rows[0], &scratch, &bad,
                                              g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(cdc_avro_decode_envelope(out.data, out.len, g_cols, NCOLS, &got, &has_after,
                                              after, g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(got.op, 'u');
    assert_int_equal(has_after, 1);
    for (size_t i = 0; i < NCOLS; i++)
        assert_same_value(&want[i], &after[i]);
    assert_int_equal(got.source_name.len, 7);
    assert_memory_equal(got.table.p, "deals", 5);
    assert_true(got.epoch == 3 && got.position == 1234567 && got.snapshot == 0);
    assert_true(got.has_stmt_time && got.stmt_time_us == 1709642096000000LL);
    assert_int_equal(got.row_hash_len, 32);
    assert_memory_equal(got.row_hash, hash, 32);
    assert_true(got.ts_ms == 1709642096789LL);

    avro_read_all(&ac, schema, out.data, out.len);
    avro_field(&ac.value, "op", &f);
    avro_assert_str(&f, "u", 1);
    avro_field(&ac.value, "after", &f);
    assert_int_equal(avro_value_get_discriminant(&f, &disc), 0);
    assert_int_equal(disc, 1);
    assert_int_equal(avro_value_get_current_branch(&f, &v), 0);
    for (size_t i = 0; i < NCOLS; i++)
        avro_assert_column(&v, &g_cols[i], &want[i]);
    avro_field(&ac.value, "source", &srcrec);
    avro_field(&srcrec, "name", &f);
    avro_assert_str(&f, "crm one", 7);
    assert_true(avro_long(&srcrec, "epoch") == 3);
    assert_true(avro_long(&srcrec, "position") == 1234567);
    avro_field(&srcrec, "snapshot", &f);
    assert_int_equal(avro_value_get_boolean(&f, &bval), 0);
    assert_int_equal(bval, 0);
    avro_field(&srcrec, "stmt_time_us", &f);
    assert_int_equal(avro_value_get_current_branch(&f, &v), 0);
    assert_int_equal(avro_value_get_long(&v, &(int64_t){0}), 0);
    avro_field(&ac.value, "row_hash", &f);
    assert_int_equal(avro_value_get_current_branch(&f, &v), 0);
    assert_int_equal(avro_value_get_bytes(&v, &bp, &bsize), 0);
    assert_int_equal(bsize, 32);
    assert_true(avro_long(&ac.value, "ts_ms") == 1709642096789LL);
    avro_done(&ac);

    /* A delete: no row image, no hash, no statement time. */
    env.op = 'd';
    env.row_hash = NULL;
    env.has_stmt_time = 0;
    cdc_buf_reset(&out);
    assert_int_equal(cdc_avro_encode_envelope(&out, &env, g_cols, NCOLS, g_rows[0], &scratch, &bad,
                                              g_err, sizeof g_err),
                     CDC_AVRO_INVALID);
    assert_int_equal(out.len, 0);
    assert_int_equal(cdc_avro_encode_envelope(&out, &env, g_cols, NCOLS, NULL, &scratch, &bad,
                                              g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(cdc_avro_decode_envelope(out.data, out.len, g_cols, NCOLS, &got, &has_after,
                                              after, g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(got.op, 'd');
    assert_int_equal(has_after, 0);
    assert_null(got.row_hash);
    assert_int_equal(got.has_stmt_time, 0);
    avro_read_all(&ac, schema, out.data, out.len);
    avro_field(&ac.value, "after", &f);
    assert_int_equal(avro_value_get_discriminant(&f, &disc), 0);
    assert_int_equal(disc, 0);
    avro_done(&ac);

    env.op = 'x';
    assert_int_equal(cdc_avro_encode_envelope(&out, &env, g_cols, NCOLS, g_rows[0], &scratch, &bad,
                                              g_err, sizeof g_err),
                     CDC_AVRO_INVALID);
    env.op = 'c';
    assert_int_equal(cdc_avro_encode_envelope(&out, &env, g_cols, NCOLS, NULL, &scratch, &bad,
                                              g_err, sizeof g_err),
                     CDC_AVRO_INVALID);
    for (size_t i = 0; i < NCOLS; i++)
        cdc_buf_free(&exp_scratch[i]);
    free(schema);
    cdc_buf_free(&out);
    cdc_buf_free(&scratch);
}

static void test_control(void **state)
{
    cdc_avro_control_t hb = {'h',  cdc_avro_str("epic7"), 5, 2, 1700000000123LL, 987654, 42,
                             1500, cdc_avro_str(""),      0, 0};
    cdc_avro_control_t mk = {'m', cdc_avro_str("epic7"),        0,   2, 1700000000999LL, 0, 0,
                             0,   cdc_avro_str("crm_contacts"), 777, 16};
    cdc_avro_control_t got;
    cdc_buf_t out = CDC_BUF_INIT;
    avro_ctx_t ac;
    avro_value_t f, v;
    cdc_avro_str_t src;
    int32_t part = -1, i32 = -1;
    int disc = -1;
    (void)state;

    assert_int_equal(cdc_avro_encode_control(&out, &hb, g_err, sizeof g_err), CDC_AVRO_OK);
    assert_int_equal(cdc_avro_decode_control(out.data, out.len, &got, g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(got.op, 'h');
    assert_int_equal(got.partition, 5);
    assert_true(got.acked_position == 987654 && got.backlog_entries == 42 &&
                got.oldest_unacked_age_ms == 1500 && got.ts_ms == 1700000000123LL);
    avro_read_all(&ac, cdc_avro_schema_control_json(), out.data, out.len);
    avro_field(&ac.value, "partition", &f);
    assert_int_equal(avro_value_get_int(&f, &i32), 0);
    assert_int_equal(i32, 5);
    avro_field(&ac.value, "heartbeat", &f);
    assert_int_equal(avro_value_get_current_branch(&f, &v), 0);
    assert_true(avro_long(&v, "backlog_entries") == 42);
    avro_field(&ac.value, "snapshot_end", &f);
    assert_int_equal(avro_value_get_discriminant(&f, &disc), 0);
    assert_int_equal(disc, 0);
    avro_done(&ac);

    cdc_buf_reset(&out);
    assert_int_equal(cdc_avro_encode_control(&out, &mk, g_err, sizeof g_err), CDC_AVRO_OK);
    assert_int_equal(cdc_avro_decode_control(out.data, out.len, &got, g_err, sizeof g_err),
                     CDC_AVRO_OK);
    assert_int_equal(got.op, 'm');
    assert_int_equal(got.table.len, 12);
    assert_true(got.start_position == 777 && got.rows == 16);
    avro_read_all(&ac, cdc_avro_schema_control_json(), out.data, out.len);
    avro_field(&ac.value, "snapshot_end", &f);
    assert_int_equal(avro_value_get_current_branch(&f, &v), 0);
    assert_true(avro_long(&v, "start_position") == 777);
    avro_field(&v, "table", &f);
    avro_assert_str(&f, "crm_contacts", 12);
    avro_done(&ac);

    cdc_buf_reset(&out);
    cdc_avro_encode_control_key(&out, "epic7", 5);
    assert_int_equal(
        cdc_avro_decode_control_key(out.data, out.len, &src, &part, g_err, sizeof g_err),
        CDC_AVRO_OK);
    assert_int_equal(part, 5);
    assert_int_equal(src.len, 5);
    avro_read_all(&ac, cdc_avro_schema_control_key_json(), out.data, out.len);
    avro_field(&ac.value, "source", &f);
    avro_assert_str(&f, "epic7", 5);
    avro_done(&ac);

    hb.op = 'x';
    assert_int_equal(cdc_avro_encode_control(&out, &hb, g_err, sizeof g_err), CDC_AVRO_INVALID);
    cdc_buf_free(&out);
}

/* Every truncation and trailing garbage is MALFORMED; random corruption never crashes. */
static void test_malformed(void **state)
{
    cdc_buf_t out = CDC_BUF_INIT, scratch = CDC_BUF_INIT, ctl = CDC_BUF_INIT;
    static const cdc_avro_envelope_t env = {'c', {"s", 1}, {"t", 1}, 1, 2, 0, 1, 3, NULL, 0, 4};
    cdc_avro_control_t hb = {'h', {"s", 1}, 1, 1, 1, 1, 1, 1, {"", 0}, 0, 0}, gotc;
    cdc_decoded_value_t vals[NCOLS];
    cdc_avro_envelope_t got;
    size_t bad;
    int has_after;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    unsigned char *copy;
    (void)state;

    assert_int_equal(cdc_avro_encode_envelope(&out, &env, g_cols, NCOLS, g_rows[0], &scratch, &bad,
                                              g_err, sizeof g_err),
                     CDC_AVRO_OK);
    for (size_t n = 0; n < out.len; n++) {
        copy = malloc(n + 1); /* exact-size copy so ASan sees any over-read */
        memcpy(copy, out.data, n);
        if (cdc_avro_decode_envelope(copy, n, g_cols, NCOLS, &got, &has_after, vals, g_err,
                                     sizeof g_err) != CDC_AVRO_MALFORMED)
            fail_msg("truncated at %zu of %zu: not malformed", n, out.len);
        free(copy);
    }
    cdc_buf_put_byte(&out, 0);
    assert_int_equal(cdc_avro_decode_envelope(out.data, out.len, g_cols, NCOLS, &got, &has_after,
                                              vals, g_err, sizeof g_err),
                     CDC_AVRO_MALFORMED);
    assert_non_null(strstr(g_err, "1 bytes after the record"));
    out.len--;
    for (int iter = 0; iter < 20000; iter++) {
        copy = malloc(out.len);
        memcpy(copy, out.data, out.len);
        for (int k = 0; k < 3; k++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            copy[seed % out.len] = (unsigned char)(seed >> 32);
        }
        (void)cdc_avro_decode_envelope(copy, out.len, g_cols, NCOLS, &got, &has_after, vals, g_err,
                                       sizeof g_err);
        free(copy);
    }
    /* Specific shapes: op not c/u/d/r, a union index 2, an 11-byte varint, a bad boolean. */
    assert_int_equal(cdc_avro_decode_envelope((const unsigned char *)"\x02x", 2, g_cols, NCOLS,
                                              &got, &has_after, vals, g_err, sizeof g_err),
                     CDC_AVRO_MALFORMED);
    assert_non_null(strstr(g_err, "not c/u/d/r"));
    assert_int_equal(cdc_avro_decode_envelope((const unsigned char *)"\x02\x63\x04", 3, g_cols,
                                              NCOLS, &got, &has_after, vals, g_err, sizeof g_err),
                     CDC_AVRO_MALFORMED);
    assert_non_null(strstr(g_err, "union branch 2 of after"));
    assert_int_equal(cdc_avro_decode_envelope((const unsigned char *)"\x02\x64\x00", 3, g_cols,
                                              NCOLS, &got, &has_after, vals, g_err, sizeof g_err),
                     CDC_AVRO_MALFORMED); /* "d" but then truncated */
    assert_int_equal(cdc_avro_decode_envelope((const unsigned char *)"\x02\x64\x02", 3, g_cols,
                                              NCOLS, &got, &has_after, vals, g_err, sizeof g_err),
                     CDC_AVRO_MALFORMED);
    assert_non_null(strstr(g_err, "op 'd' with row image"));
    assert_int_equal(
        cdc_avro_decode_control_key((const unsigned char *)"\x02s\xff\xff\xff\xff\xff\xff\xff\xff"
                                                           "\xff\xff\x01",
                                    13, &(cdc_avro_str_t){0}, &(int32_t){0}, g_err, sizeof g_err),
        CDC_AVRO_MALFORMED);
    assert_non_null(strstr(g_err, "longer than 64 bits"));
    assert_int_equal(cdc_avro_decode_control_key((const unsigned char *)"\x02s\x80\x80\x80\x80\x10",
                                                 7, &(cdc_avro_str_t){0}, &(int32_t){0}, g_err,
                                                 sizeof g_err),
                     CDC_AVRO_MALFORMED);
    assert_non_null(strstr(g_err, "outside Avro int"));
    assert_int_equal(cdc_avro_encode_control(&ctl, &hb, g_err, sizeof g_err), CDC_AVRO_OK);
    ctl.data[ctl.len - 1] = 2; /* snapshot_end branch 1 on a heartbeat, then truncated */
    assert_int_equal(cdc_avro_decode_control(ctl.data, ctl.len, &gotc, g_err, sizeof g_err),
                     CDC_AVRO_MALFORMED);
    {
        cdc_column_t bcol = {"b", "b", "", {CDC_COL_BOOLEAN, 0, 0, 0}, 1, 0};
        cdc_decoded_value_t bv;
        assert_int_equal(cdc_avro_decode_row((const unsigned char *)"\x02", 1, &bcol, 1, &bv, g_err,
                                             sizeof g_err),
                         CDC_AVRO_MALFORMED);
        assert_non_null(strstr(g_err, "boolean b is 2"));
    }
    assert_string_equal(cdc_avro_status_name(CDC_AVRO_MALFORMED), "malformed");
    cdc_buf_free(&out);
    cdc_buf_free(&scratch);
    cdc_buf_free(&ctl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_bytes), cmocka_unit_test(test_row_round_trip_and_avro_c),
        cmocka_unit_test(test_row_misfit),   cmocka_unit_test(test_key),
        cmocka_unit_test(test_envelope),     cmocka_unit_test(test_control),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
