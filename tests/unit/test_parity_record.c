/*
 * cdc.Parity records (consumers/parity_record.h): the schema is valid Avro with a stable
 * fingerprint, records round-trip with and without entries, and the decoder refuses
 * another framing, another fingerprint, truncation, trailing bytes and counts that do
 * not add up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc_avro_canonical.h"
#include "cdc_buf.h"
#include "cdc_framing.h"
#include "parity_record.h"

static cdc_parity_rec_t sample(cdc_parity_entry_t *entries, size_t n)
{
    cdc_parity_rec_t r;
    memset(&r, 0, sizeof r);
    r.domain = cdc_avro_str("crm");
    r.source = cdc_avro_str("epic7");
    r.table = cdc_avro_str("crm_contacts");
    r.batch_id = 123456789;
    r.matches = 4990;
    r.superseded = 7;
    r.mismatches = 2;
    r.dead_letters = 1;
    r.rows = 5000;
    r.has_last = 1;
    r.last_epoch = 3;
    r.last_pos = 9000000000LL;
    r.ts_ms = 1700000000123LL;
    r.entries = entries;
    r.nentries = n;
    return r;
}

static void test_schema(void **state)
{
    char err[256];
    uint64_t fp = 0;
    char *canon;

    (void)state;
    canon = cdc_avro_canonical_form(cdc_parity_schema_json(), strlen(cdc_parity_schema_json()), err,
                                    sizeof err);
    assert_non_null(canon);
    assert_non_null(strstr(canon, "\"name\":\"cdc.Parity\""));
    free(canon);
    assert_int_equal(cdc_avro_fingerprint(cdc_parity_schema_json(),
                                          strlen(cdc_parity_schema_json()), &fp, err, sizeof err),
                     0);
    assert_true(fp == cdc_parity_fingerprint());
}

static void test_round_trip(void **state)
{
    static const unsigned char key1[] = {0x0a, 'e', 'p', 'i', 'c', '7', 0x02, 't', 0x0e};
    static const unsigned char h1[8] = {1, 2, 3, 4, 5, 6, 7, 8}, h2[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    cdc_parity_entry_t e[3];
    cdc_buf_t b = CDC_BUF_INIT, k = CDC_BUF_INIT;
    cdc_parity_rec_t in, out;
    char err[256];

    (void)state;
    memset(e, 0, sizeof e);
    e[0].status = cdc_avro_str("mismatch");
    e[0].op = 'u';
    e[0].key = key1;
    e[0].key_len = sizeof key1;
    e[0].key_json = cdc_avro_str("{\"id\":7}");
    e[0].has_pos = 1;
    e[0].epoch = 3;
    e[0].pos = 3000007;
    e[0].source_hash = h1;
    e[0].source_hash_len = 8;
    e[0].stored_hash = h2;
    e[0].stored_hash_len = 8;
    e[1] = e[0];
    e[1].key_json.p = NULL; /* unknown */
    e[1].key_json.len = 0;
    e[2].status = cdc_avro_str("dead_letter");
    e[2].key = key1;
    e[2].key_len = sizeof key1; /* no op, no position, no hashes */
    in = sample(e, 3);
    cdc_parity_encode(&b, &in);
    assert_int_equal(cdc_framing_detect(b.data, b.len, NULL, NULL, NULL),
                     CDC_FRAMING_SINGLE_OBJECT);
    assert_int_equal(cdc_parity_decode(b.data, b.len, &out, err, sizeof err), 0);
    assert_int_equal(out.domain.len, 3);
    assert_memory_equal(out.domain.p, "crm", 3);
    assert_memory_equal(out.table.p, "crm_contacts", 12);
    assert_true(out.batch_id == 123456789 && out.rows == 5000 && out.matches == 4990);
    assert_true(out.superseded == 7 && out.mismatches == 2 && out.dead_letters == 1);
    assert_true(out.has_last && out.last_epoch == 3 && out.last_pos == 9000000000LL);
    assert_true(out.ts_ms == 1700000000123LL);
    assert_int_equal(out.nentries, 3);
    assert_int_equal(out.entries[0].op, 'u');
    assert_memory_equal(out.entries[0].key, key1, sizeof key1);
    assert_int_equal(out.entries[0].key_json.len, 8);
    assert_memory_equal(out.entries[0].key_json.p, "{\"id\":7}", 8);
    assert_memory_equal(out.entries[0].source_hash, h1, 8);
    assert_memory_equal(out.entries[0].stored_hash, h2, 8);
    assert_null(out.entries[1].key_json.p);
    assert_int_equal(out.entries[2].status.len, 11);
    assert_int_equal(out.entries[2].op, 0);
    assert_false(out.entries[2].has_pos);
    assert_null(out.entries[2].source_hash);
    assert_null(out.entries[2].stored_hash);
    cdc_parity_rec_clear(&out);

    cdc_parity_key(&k, &in);
    assert_int_equal(k.len, strlen("crm/epic7/crm_contacts"));
    assert_memory_equal(k.data, "crm/epic7/crm_contacts", k.len);
    cdc_buf_free(&b);
    cdc_buf_free(&k);
}

/* The common case is tiny: counts only. A batch of 5000 matches fits in a few dozen bytes. */
static void test_counts_only_is_small(void **state)
{
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_parity_rec_t in = sample(NULL, 0), out;
    char err[256];

    (void)state;
    in.matches = 5000;
    in.superseded = in.mismatches = in.dead_letters = 0;
    cdc_parity_encode(&b, &in);
    assert_true(b.len < 64);
    assert_int_equal(cdc_parity_decode(b.data, b.len, &out, err, sizeof err), 0);
    assert_int_equal(out.nentries, 0);
    assert_null(out.entries);
    cdc_parity_rec_clear(&out);
    cdc_buf_free(&b);
}

static void test_refused(void **state)
{
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_parity_rec_t in = sample(NULL, 0), out;
    char err[256];
    unsigned char copy[256];

    (void)state;
    cdc_parity_encode(&b, &in);
    assert_true(b.len < sizeof copy);
    /* every truncation */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(cdc_parity_decode(b.data, n, &out, err, sizeof err), -1);
    /* trailing byte */
    memcpy(copy, b.data, b.len);
    copy[b.len] = 0;
    assert_int_equal(cdc_parity_decode(copy, b.len + 1, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "trailing"));
    /* another fingerprint */
    memcpy(copy, b.data, b.len);
    copy[2] ^= 1;
    assert_int_equal(cdc_parity_decode(copy, b.len, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "fingerprint"));
    /* Confluent framing */
    copy[0] = 0;
    assert_int_equal(cdc_parity_decode(copy, b.len, &out, err, sizeof err), -1);
    /* counts that do not add up */
    cdc_buf_reset(&b);
    in.rows = 1;
    cdc_parity_encode(&b, &in);
    assert_int_equal(cdc_parity_decode(b.data, b.len, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "rows 1 is not"));
    assert_null(out.entries);
    cdc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_counts_only_is_small),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
