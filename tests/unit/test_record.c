/*
 * test_record: row images and deletes of real in-memory SQLite tables through the table
 * codec (producer/record.h). Every record is decoded twice, with cdc_avro_value's decoder
 * and with avro-c's generic reader against the envelope schema text, and every value is
 * compared with what SQLite itself returns for the row (the expected representation of
 * decimals, timestamps and dates is computed by SQLite's own printf/strftime/julianday).
 * Deletes built from change-log key values must give the same canonical key bytes (and
 * partition) as the row image of that key; misfits name the column and the key.
 */
#include "test_record_util.h"

static const unsigned char HASH[] = {0xde, 0xad, 0xbe, 0xef};

/* ------------------------------------------------------------- record checks */

/* Body of a single-object framed payload, checking the fingerprint. */
static const unsigned char *body_of(const unsigned char *p, size_t len, uint64_t want_fp,
                                    size_t *body_len)
{
    uint64_t fp = 0;
    size_t off = 0;
    assert_int_equal(cdc_framing_detect(p, len, &fp, NULL, &off), CDC_FRAMING_SINGLE_OBJECT);
    assert_true(fp == want_fp);
    *body_len = len - off;
    return p + off;
}

/* Decodes a row image record both ways and compares every value with SQLite's. */
static void check_row_record(sqlite3 *db, const cdc_table_codec_t *c, const cdc_record_t *rec,
                             char op, const cdc_record_meta_t *meta, const cdc_value_t *raw)
{
    size_t ncols, blen, klen;
    const cdc_column_t *cols = cdc_table_codec_columns(c, &ncols);
    const char *table = cdc_table_codec_table(c);
    cdc_decoded_value_t after[MAXCOLS], keyv[MAXCOLS];
    cdc_avro_envelope_t env;
    cdc_avro_str_t s, t;
    int has_after = -1;
    char err[512] = "";
    const unsigned char *body = body_of(rec->framed_value, rec->framed_value_len,
                                        cdc_table_codec_envelope_fingerprint(c), &blen);
    const unsigned char *kbody =
        body_of(rec->framed_key, rec->framed_key_len, cdc_table_codec_key_fingerprint(c), &klen);
    avro_ctx_t a, k;
    avro_value_t f, row, pk;

    /* The framed key is the canonical key behind its header. */
    assert_int_equal(klen, rec->key_len);
    assert_memory_equal(kbody, rec->key, klen);

    /* Our decoder. */
    if (cdc_avro_decode_envelope(body, blen, cols, ncols, &env, &has_after, after, err,
                                 sizeof err) != CDC_AVRO_OK)
        fail_msg("decode: %s", err);
    assert_int_equal(env.op, op);
    assert_int_equal(has_after, 1);
    assert_true(env.epoch == meta->pos.epoch && env.position == meta->pos.h);
    assert_int_equal(env.snapshot, op == 'r');
    assert_int_equal(env.has_stmt_time, meta->stmt_time_us != -1);
    assert_int_equal(env.row_hash_len, meta->row_hash_len);
    assert_true(env.ts_ms == meta->ts_ms);
    for (size_t i = 0; i < ncols; i++)
        assert_matches_sqlite(db, &cols[i], &raw[i], &after[i]);
    if (cdc_avro_decode_key(rec->key, rec->key_len, cols, ncols, &s, &t, keyv, err, sizeof err) !=
        CDC_AVRO_OK)
        fail_msg("decode key: %s", err);
    assert_true(s.len == strlen(SOURCE) && memcmp(s.p, SOURCE, s.len) == 0);
    assert_true(t.len == strlen(table) && memcmp(t.p, table, t.len) == 0);
    for (size_t kk = 0; kk < cdc_table_codec_key_count(c); kk++) {
        size_t ci = cdc_table_codec_key_column(c, kk);
        assert_matches_sqlite(db, &cols[ci], &raw[ci], &keyv[kk]);
    }

    /* avro-c, against the exact schema texts. */
    avro_read_all(&a, cdc_table_codec_envelope_schema(c), body, blen);
    avro_assert_envelope(&a.value, table, op, meta);
    avro_field(&a.value, "after", &f);
    assert_int_equal(avro_unwrap(&f, 1, &row), 1);
    for (size_t i = 0; i < ncols; i++)
        avro_assert_column(&row, &cols[i], &after[i]);
    avro_done(&a);
    avro_read_all(&k, cdc_table_codec_key_schema(c), rec->key, rec->key_len);
    avro_field(&k.value, "source", &f);
    avro_assert_str(&f, SOURCE, strlen(SOURCE));
    avro_field(&k.value, "table", &f);
    avro_assert_str(&f, table, strlen(table));
    avro_field(&k.value, "pk", &pk);
    for (size_t kk = 0; kk < cdc_table_codec_key_count(c); kk++)
        avro_assert_column(&pk, &cols[cdc_table_codec_key_column(c, kk)], &keyv[kk]);
    avro_done(&k);
}

/* Decodes a delete record both ways: op "d", no image, no row hash. */
static void check_delete_record(const cdc_table_codec_t *c, const cdc_record_t *rec,
                                const cdc_record_meta_t *meta)
{
    size_t ncols, blen;
    const cdc_column_t *cols = cdc_table_codec_columns(c, &ncols);
    cdc_decoded_value_t after[MAXCOLS];
    cdc_avro_envelope_t env;
    int has_after = -1;
    char err[512] = "";
    const unsigned char *body = body_of(rec->framed_value, rec->framed_value_len,
                                        cdc_table_codec_envelope_fingerprint(c), &blen);
    avro_ctx_t a;
    avro_value_t f, v;

    if (cdc_avro_decode_envelope(body, blen, cols, ncols, &env, &has_after, after, err,
                                 sizeof err) != CDC_AVRO_OK)
        fail_msg("decode: %s", err);
    assert_int_equal(env.op, 'd');
    assert_int_equal(has_after, 0);
    assert_null(env.row_hash);
    assert_int_equal(env.snapshot, 0);
    avro_read_all(&a, cdc_table_codec_envelope_schema(c), body, blen);
    avro_assert_envelope(&a.value, cdc_table_codec_table(c), 'd', meta);
    avro_field(&a.value, "after", &f);
    assert_int_equal(avro_unwrap(&f, 1, &v), 0);
    avro_done(&a);
}

static cdc_record_meta_t meta_for(int64_t h, int with_time)
{
    cdc_record_meta_t m;
    memset(&m, 0, sizeof m);
    m.pos.epoch = 3;
    m.pos.h = h;
    m.stmt_time_us = with_time ? 1700000000123456LL + h : -1;
    m.row_hash = HASH;
    m.row_hash_len = sizeof HASH;
    m.ts_ms = 1700000000999LL;
    return m;
}

/*
 * Encodes every row of table (rowid order) as op, checks each record, and for each key
 * checks that a delete built from change-log key values yields the same canonical key
 * bytes. Rows whose misfit column is listed are expected to misfit (checked by caller via
 * the returned count). Returns the number of misfits.
 */
static size_t roundtrip_table(sqlite3 *db, cdc_table_codec_t *c, char op)
{
    char sql[256];
    size_t ncols, misfits = 0;
    int64_t h = 100;
    sqlite3_stmt *st;
    cdc_value_t vals[MAXCOLS];
    cdc_record_t rec;
    cdc_record_misfit_t mf;
    char err[512];

    cdc_table_codec_columns(c, &ncols);
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid", cdc_table_codec_table(c));
    st = prepare(db, sql);
    while (sqlite3_step(st) == SQLITE_ROW) {
        cdc_record_meta_t meta = meta_for(h++, op != 'r');
        assert_int_equal(sqlite3_column_count(st), (int)ncols);
        cdc_record_values_from_stmt(st, 0, ncols, vals);
        cdc_record_status_t rs =
            cdc_table_codec_encode(c, op, vals, &meta, &rec, &mf, err, sizeof err);
        if (rs == CDC_RECORD_MISFIT) {
            misfits++;
            continue;
        }
        if (rs != CDC_RECORD_OK)
            fail_msg("encode: %s", err);
        check_row_record(db, c, &rec, op, &meta, vals);
    }
    sqlite3_finalize(st);
    return misfits;
}

/*
 * The stream's path for every key of the table: the key values as a change log stores
 * them (a table without declared types keeps each value's storage class), a delete from
 * them, then the current row looked up by those values (cdc_record_bind_values) and its
 * image: same canonical key bytes, same partition. Keys whose row misfits are skipped.
 * Returns the number of keys compared.
 */
static size_t deletes_match_images(sqlite3 *db, cdc_table_codec_t *c)
{
    size_t ncols, nk = cdc_table_codec_key_count(c), compared = 0;
    const cdc_column_t *cols = cdc_table_codec_columns(c, &ncols);
    cdc_buf_t sel = CDC_BUF_INIT, look = CDC_BUF_INIT;
    cdc_value_t keyv[MAXCOLS], vals[MAXCOLS];
    cdc_record_t rec;
    cdc_record_misfit_t mf;
    char err[512];
    sqlite3_stmt *log, *row;

    exec(db, "DROP TABLE IF EXISTS _log; CREATE TABLE _log(k1, k2, k3)");
    cdc_buf_printf(&sel, "INSERT INTO _log(k1, k2, k3) SELECT ");
    cdc_buf_printf(&look, "SELECT * FROM \"%s\" WHERE ", cdc_table_codec_table(c));
    for (size_t k = 0; k < 3; k++) {
        if (k < nk) {
            const char *name = cols[cdc_table_codec_key_column(c, k)].name;
            cdc_buf_printf(&sel, "%s\"%s\"", k ? ", " : "", name);
            cdc_buf_printf(&look, "%s\"%s\" IS ?%zu", k ? " AND " : "", name, k + 1);
        } else {
            cdc_buf_printf(&sel, ", NULL");
        }
    }
    cdc_buf_printf(&sel, " FROM \"%s\"", cdc_table_codec_table(c));
    exec(db, cdc_buf_cstr(&sel));
    log = prepare(db, "SELECT k1, k2, k3 FROM _log ORDER BY rowid");
    row = prepare(db, cdc_buf_cstr(&look));
    while (sqlite3_step(log) == SQLITE_ROW) {
        cdc_record_meta_t dmeta = meta_for(500, 1);
        unsigned char del_key[512];
        size_t del_len;

        cdc_record_values_from_stmt(log, 0, nk, keyv);
        dmeta.row_hash = NULL;
        dmeta.row_hash_len = 0;
        if (cdc_table_codec_encode_delete(c, keyv, &dmeta, &rec, &mf, err, sizeof err) !=
            CDC_RECORD_OK)
            continue; /* a misfitting key value: covered by the misfit tests */
        check_delete_record(c, &rec, &dmeta);
        assert_true(rec.key_len <= sizeof del_key);
        memcpy(del_key, rec.key, rec.key_len);
        del_len = rec.key_len;

        sqlite3_reset(row);
        assert_int_equal(cdc_record_bind_values(row, 1, keyv, nk), SQLITE_OK);
        assert_int_equal(sqlite3_step(row), SQLITE_ROW);
        cdc_record_values_from_stmt(row, 0, ncols, vals);
        cdc_record_meta_t meta = meta_for(501, 1);
        if (cdc_table_codec_encode(c, 'u', vals, &meta, &rec, &mf, err, sizeof err) !=
            CDC_RECORD_OK) {
            /* A non-key misfit still yields the canonical key of the row. */
            assert_non_null(mf.key);
            assert_int_equal(mf.key_len, del_len);
            assert_memory_equal(mf.key, del_key, del_len);
            continue;
        }
        assert_int_equal(rec.key_len, del_len);
        assert_memory_equal(rec.key, del_key, del_len);
        assert_int_equal(cdc_murmur2_partition(rec.key, rec.key_len, PARTITIONS),
                         cdc_murmur2_partition(del_key, del_len, PARTITIONS));
        compared++;
    }
    sqlite3_finalize(log);
    sqlite3_finalize(row);
    cdc_buf_free(&sel);
    cdc_buf_free(&look);
    return compared;
}

/* Encodes the row of table with the given rowid and expects a misfit; returns it (the
 * pointers stay valid until the codec's next encoding). */
static cdc_record_misfit_t expect_misfit(sqlite3 *db, cdc_table_codec_t *c, int64_t rowid)
{
    char sql[256];
    size_t ncols;
    sqlite3_stmt *st;
    cdc_value_t vals[MAXCOLS];
    cdc_record_t rec;
    cdc_record_misfit_t mf;
    cdc_record_meta_t meta = meta_for(7, 0);
    char err[512] = "";

    cdc_table_codec_columns(c, &ncols);
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" WHERE rowid = %lld", cdc_table_codec_table(c),
             (long long)rowid);
    st = prepare(db, sql);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    cdc_record_values_from_stmt(st, 0, ncols, vals);
    assert_int_equal(cdc_table_codec_encode(c, 'r', vals, &meta, &rec, &mf, err, sizeof err),
                     CDC_RECORD_MISFIT);
    assert_null(rec.framed_value);
    /* The key JSON is valid JSON whatever the key holds. */
    json_error_t jerr;
    json_t *j = json_loads(mf.key_json, 0, &jerr);
    if (j == NULL)
        fail_msg("key JSON is not JSON: %s (%s)", mf.key_json, jerr.text);
    json_decref(j);
    sqlite3_finalize(st);
    return mf;
}

/* ------------------------------------------------------------------ tests */

static const char *t_int_sql =
    "CREATE TABLE t_int(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, note VARCHAR(10));"
    "INSERT INTO t_int VALUES (1, 'plain', 1.5, 'short');"
    "INSERT INTO t_int VALUES (2, 'Zoë ☃ 日本語', NULL, 'Zoë☃日本語ab');"
    "INSERT INTO t_int VALUES (3, '', -0.25, NULL);"
    "INSERT INTO t_int VALUES (4, 'quote \" back \\ tab\t', 1e300, '0123456789');"
    "INSERT INTO t_int VALUES (5, CAST(x'c328' AS TEXT), 2.0, 'x');"  /* invalid UTF-8 */
    "INSERT INTO t_int VALUES (6, 'long note', 2.0, 'abcdefghijk');"; /* 11 > VARCHAR(10) */

static void test_integer_key(void **state)
{
    (void)state;
    sqlite3 *db = db_open(t_int_sql);
    cdc_table_codec_t *c = codec_for(db, "t_int", NULL);
    cdc_record_misfit_t mf;

    assert_int_equal(roundtrip_table(db, c, 'r'), 2);
    assert_int_equal(roundtrip_table(db, c, 'c'), 2);
    assert_int_equal(deletes_match_images(db, c), 4);

    mf = expect_misfit(db, c, 5);
    assert_string_equal(mf.column, "name");
    assert_int_equal(mf.key_column, 0);
    assert_string_equal(mf.key_json, "{\"id\":5}");
    assert_non_null(strstr(mf.reason, "UTF-8"));
    assert_non_null(mf.key); /* the key fits: the dead letter gets its partition */
    mf = expect_misfit(db, c, 6);
    assert_string_equal(mf.column, "note");
    assert_string_equal(mf.key_json, "{\"id\":6}");
    cdc_table_codec_destroy(c);
    sqlite3_close(db);
}

static const char *t_text_sql =
    "CREATE TABLE t_text(code TEXT PRIMARY KEY, amount DECIMAL(14,2), flag BOOLEAN,"
    " created DATETIME, day DATE, doc JSON, data BLOB, n NUMERIC, big BIGINT, f FLOAT,"
    " label VARCHAR(12));"
    "INSERT INTO t_text VALUES ('a-1', 55937.5, 1, '2024-01-02 03:04:05.250', '2024-02-29',"
    " '{\"a\":[1,2]}', x'00ff10', 12.5, 9223372036854775807, 3.25, 'één');"
    "INSERT INTO t_text VALUES ('b-2', 1158000.00, 0, '2024-01-02T03:04:05Z', '1970-01-01',"
    " '\"x\"', x'', 1000, -9223372036854775808, 7, '');"
    "INSERT INTO t_text VALUES ('c-3', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL);"
    "INSERT INTO t_text VALUES ('d-4 ünï', 0.1, 1, 1700000000, 2460000.5, 12, 'text as blob',"
    " '1.50', 0, 1e300, 'Ωmega');"
    "INSERT INTO t_text VALUES ('e-5', '12.30', 1, 2460000.25, '2000-01-01 00:00:00', 'null',"
    " NULL, -0.5, 1, -2.5, 'x');"
    "INSERT INTO t_text VALUES ('z-9', 0.1 + 0.2, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL);" /* 0.30000000000000004: more decimals than the scale */
    "INSERT INTO t_text VALUES (CAST(x'ff41' AS TEXT), 1, 1, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL);"; /* a key that is not UTF-8 */

static void test_text_key_every_kind(void **state)
{
    (void)state;
    sqlite3 *db = db_open(t_text_sql);
    cdc_table_codec_t *c = codec_for(db, "t_text", NULL);
    const cdc_column_t *cols;
    size_t n;
    cdc_record_misfit_t mf;
    static const cdc_col_kind_t kinds[] = {CDC_COL_TEXT,      CDC_COL_DECIMAL, CDC_COL_BOOLEAN,
                                           CDC_COL_TIMESTAMP, CDC_COL_DATE,    CDC_COL_JSON,
                                           CDC_COL_BLOB,      CDC_COL_NUMERIC, CDC_COL_LONG,
                                           CDC_COL_DOUBLE,    CDC_COL_TEXT};

    cols = cdc_table_codec_columns(c, &n);
    assert_int_equal(n, 11);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cols[i].type.kind, kinds[i]);
    assert_int_equal(cols[1].type.precision, 14);
    assert_int_equal(cols[1].type.scale, 2);
    assert_int_equal(cols[10].type.max_length, 12);

    assert_int_equal(roundtrip_table(db, c, 'r'), 2);
    assert_int_equal(roundtrip_table(db, c, 'u'), 2);
    assert_int_equal(deletes_match_images(db, c), 5);

    mf = expect_misfit(db, c, 6);
    assert_string_equal(mf.column, "amount");
    assert_string_equal(mf.key_json, "{\"code\":\"z-9\"}");
    assert_non_null(strstr(mf.reason, "decimals"));
    mf = expect_misfit(db, c, 7);
    assert_string_equal(mf.column, "code");
    assert_int_equal(mf.key_column, 1);
    assert_null(mf.key); /* no canonical key for a key that does not fit */
    assert_string_equal(mf.key_json, "{\"code\":\"\\\\xffA\"}");
    cdc_table_codec_destroy(c);
    sqlite3_close(db);
}

static void test_composite_key(void **state)
{
    (void)state;
    /* Key order (region, year) differs from column order. */
    sqlite3 *db = db_open("CREATE TABLE t_comp(qty INTEGER, year INTEGER, region TEXT,"
                          " PRIMARY KEY(region, year));"
                          "INSERT INTO t_comp VALUES (10, 2023, 'north');"
                          "INSERT INTO t_comp VALUES (NULL, 2024, 'north');"
                          "INSERT INTO t_comp VALUES (-3, 2023, 'süd');"
                          "INSERT INTO t_comp VALUES (4, 'soon', 'east');"); /* text year */
    cdc_table_codec_t *c = codec_for(db, "t_comp", NULL);
    cdc_record_misfit_t mf;

    assert_int_equal(cdc_table_codec_key_count(c), 2);
    assert_int_equal(cdc_table_codec_key_column(c, 0), 2);
    assert_int_equal(cdc_table_codec_key_column(c, 1), 1);
    assert_int_equal(roundtrip_table(db, c, 'r'), 1);
    assert_int_equal(deletes_match_images(db, c), 3);
    mf = expect_misfit(db, c, 4);
    assert_string_equal(mf.column, "year");
    assert_int_equal(mf.key_column, 1);
    assert_string_equal(mf.key_json, "{\"region\":\"east\",\"year\":\"soon\"}");

    /* The key JSON of any row, in key order. */
    cdc_value_t row[3] = {{CDC_VAL_INTEGER, 1, 0, NULL, 0},
                          {CDC_VAL_REAL, 0, 2023.5, NULL, 0},
                          {CDC_VAL_BLOB, 0, 0, (const unsigned char *)"\x01\xab", 2}};
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_table_codec_row_key_json(c, row, &b);
    assert_string_equal(cdc_buf_cstr(&b), "{\"region\":\"x'01ab'\",\"year\":2023.5}");
    cdc_buf_free(&b);
    cdc_table_codec_destroy(c);
    sqlite3_close(db);
}

static void test_text_in_integer_column(void **state)
{
    (void)state;
    sqlite3 *db = db_open("CREATE TABLE t_num(id INTEGER PRIMARY KEY, qty INTEGER NOT NULL);"
                          "INSERT INTO t_num VALUES (1, 'abc');"
                          "INSERT INTO t_num VALUES (2, '42');"); /* affinity: integer 42 */
    cdc_table_codec_t *c = codec_for(db, "t_num", NULL);
    cdc_record_misfit_t mf;

    assert_int_equal(roundtrip_table(db, c, 'r'), 1);
    mf = expect_misfit(db, c, 1);
    assert_string_equal(mf.column, "qty");
    assert_string_equal(mf.key_json, "{\"id\":1}");
    assert_non_null(strstr(mf.reason, "qty"));
    cdc_table_codec_destroy(c);
    sqlite3_close(db);
}

static const char *override_yaml = "kafka: {bootstrap.servers: 'h:1'}\n"
                                   "domains:\n"
                                   "  - {name: crm, target: 'dbname=x'}\n"
                                   "sources:\n"
                                   "  - name: s1\n"
                                   "    domain: crm\n"
                                   "    path: a.db\n"
                                   "    columns: {crm_contacts.estimated_value: "
                                   "'decimal(14,2)'}\n";

static void test_override_real_to_decimal(void **state)
{
    (void)state;
    char err[512] = "";
    cdc_config_t *conf = cdc_config_load_string(override_yaml, "/tmp", err, sizeof err);
    sqlite3 *db = db_open("CREATE TABLE crm_contacts(id TEXT PRIMARY KEY, estimated_value REAL,"
                          " tier TEXT);"
                          "INSERT INTO crm_contacts VALUES ('c-001', 55937.5, 'platinum');"
                          "INSERT INTO crm_contacts VALUES ('c-002', 1158000, 'gold');"
                          "INSERT INTO crm_contacts VALUES ('c-003', 0.1 + 0.2, 'silver');"
                          "INSERT INTO crm_contacts VALUES ('c-004', 19.99, 'silver');");
    cdc_table_codec_t *plain, *c;
    const cdc_column_t *cols;
    cdc_record_misfit_t mf;

    if (conf == NULL)
        fail_msg("config: %s", err);
    plain = codec_for(db, "crm_contacts", NULL);
    assert_int_equal(cdc_table_codec_columns(plain, NULL)[1].type.kind, CDC_COL_DOUBLE);
    assert_int_equal(roundtrip_table(db, plain, 'r'), 0);

    c = codec_for(db, "crm_contacts", &cdc_config_source(conf, "s1")->columns);
    cols = cdc_table_codec_columns(c, NULL);
    assert_int_equal(cols[1].type.kind, CDC_COL_DECIMAL);
    assert_int_equal(cols[1].type.scale, 2);
    assert_non_null(strstr(cdc_table_codec_row_schema(c), "\"logicalType\":\"decimal\""));
    assert_true(cdc_table_codec_envelope_fingerprint(c) !=
                cdc_table_codec_envelope_fingerprint(plain));
    assert_int_equal(roundtrip_table(db, c, 'r'), 1);
    assert_int_equal(deletes_match_images(db, c), 3);
    mf = expect_misfit(db, c, 3);
    assert_string_equal(mf.column, "estimated_value");
    assert_string_equal(mf.key_json, "{\"id\":\"c-003\"}");
    assert_non_null(strstr(mf.reason, "0.30000000000000004"));

    /* Overrides are matched ignoring ASCII case, as SQLite matches names. */
    cdc_kv_t kv[2] = {{"CRM_Contacts.Estimated_Value", "decimal(14,2)"}, {"other.x", "long"}};
    cdc_kvlist_t ov = {kv, 2};
    cdc_table_codec_t *c2 = codec_for(db, "crm_contacts", &ov);
    assert_true(cdc_table_codec_envelope_fingerprint(c2) ==
                cdc_table_codec_envelope_fingerprint(c));
    cdc_table_codec_destroy(c2);

    cdc_table_codec_destroy(c);
    cdc_table_codec_destroy(plain);
    cdc_config_destroy(conf);
    sqlite3_close(db);
}

static void test_codec_refusals(void **state)
{
    (void)state;
    char err[512] = "", *twin = cdc_names_field("a b"), sql[256];
    sqlite3 *db;
    tcols_t t;

    /* Two columns whose Avro names collide: refused with both names. */
    snprintf(sql, sizeof sql,
             "CREATE TABLE clash(id INTEGER PRIMARY KEY, \"a b\" TEXT, \"%s\" TEXT);", twin);
    db = db_open(sql);
    load_cols(db, "clash", &t);
    assert_null(cdc_table_codec_new(SOURCE, "clash", t.cols, t.n, NULL, err, sizeof err));
    assert_non_null(strstr(err, "\"a b\""));
    assert_non_null(strstr(err, twin));
    free_cols(&t);

    /* Overrides: an unknown column, an unknown type, two overrides of one column. */
    exec(db, "CREATE TABLE m(id INTEGER PRIMARY KEY, v REAL)");
    load_cols(db, "m", &t);
    cdc_kv_t bad_col[1] = {{"m.nope", "long"}};
    cdc_kvlist_t ov1 = {bad_col, 1};
    assert_null(cdc_table_codec_new(SOURCE, "m", t.cols, t.n, &ov1, err, sizeof err));
    assert_non_null(strstr(err, "m.nope"));
    cdc_kv_t bad_type[1] = {{"m.v", "decimal(x)"}};
    cdc_kvlist_t ov2 = {bad_type, 1};
    assert_null(cdc_table_codec_new(SOURCE, "m", t.cols, t.n, &ov2, err, sizeof err));
    assert_non_null(strstr(err, "m.v"));
    assert_non_null(strstr(err, "decimal(x)"));
    cdc_kv_t twice[2] = {{"m.v", "long"}, {"M.V", "text"}};
    cdc_kvlist_t ov3 = {twice, 2};
    assert_null(cdc_table_codec_new(SOURCE, "m", t.cols, t.n, &ov3, err, sizeof err));
    assert_non_null(strstr(err, "both override"));
    free_cols(&t);

    /* No key at all (the caller must add the rowid column). */
    exec(db, "CREATE TABLE nokey(a TEXT, b TEXT)");
    load_cols(db, "nokey", &t);
    assert_null(cdc_table_codec_new(SOURCE, "nokey", t.cols, t.n, NULL, err, sizeof err));
    free_cols(&t);
    free(twin);
    sqlite3_close(db);
}

/* Canonical key bytes are pinned, independent of the framing, and partition stably. */
static void test_key_bytes_and_framing(void **state)
{
    (void)state;
    static const unsigned char want[] = {0x04, 's', '1', 0x0a, 't', '_', 'i', 'n', 't', 0x02};
    sqlite3 *db = db_open(t_int_sql);
    cdc_table_codec_t *c = codec_for(db, "t_int", NULL);
    cdc_value_t vals[4], key = {CDC_VAL_INTEGER, 1, 0, NULL, 0};
    cdc_record_t rec;
    cdc_record_meta_t meta = meta_for(1, 0);
    unsigned char first[64];
    char err[512] = "";
    uint64_t fp = 0;
    uint32_t id = 0;
    size_t off = 0;
    int32_t part;
    sqlite3_stmt *st = prepare(db, "SELECT * FROM t_int WHERE id = 1");

    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    cdc_record_values_from_stmt(st, 0, 4, vals);
    assert_int_equal(cdc_table_codec_encode(c, 'r', vals, &meta, &rec, NULL, err, sizeof err),
                     CDC_RECORD_OK);
    assert_int_equal(rec.key_len, sizeof want);
    assert_memory_equal(rec.key, want, sizeof want);
    part = cdc_murmur2_partition(want, sizeof want, PARTITIONS);
    assert_int_equal(cdc_murmur2_partition(rec.key, rec.key_len, PARTITIONS), part);
    memcpy(first, rec.framed_value, rec.framed_value_len);

    /* The fingerprints are those of the exact schema texts. */
    assert_int_equal(cdc_avro_fingerprint(cdc_table_codec_envelope_schema(c),
                                          strlen(cdc_table_codec_envelope_schema(c)), &fp, err,
                                          sizeof err),
                     0);
    assert_true(fp == cdc_table_codec_envelope_fingerprint(c));
    assert_int_equal(cdc_avro_fingerprint(cdc_table_codec_row_schema(c),
                                          strlen(cdc_table_codec_row_schema(c)), &fp, err,
                                          sizeof err),
                     0);
    assert_true(fp == cdc_table_codec_row_fingerprint(c));

    /* Confluent framing: other headers, the same canonical key and body. */
    cdc_table_codec_set_schema_ids(c, 7, 8);
    assert_int_equal(cdc_table_codec_encode(c, 'r', vals, &meta, &rec, NULL, err, sizeof err),
                     CDC_RECORD_OK);
    assert_memory_equal(rec.key, want, sizeof want);
    assert_int_equal(cdc_framing_detect(rec.framed_key, rec.framed_key_len, NULL, &id, &off),
                     CDC_FRAMING_CONFLUENT);
    assert_int_equal(id, 7);
    assert_int_equal(rec.framed_key_len - off, sizeof want);
    assert_memory_equal(rec.framed_key + off, want, sizeof want);
    assert_int_equal(cdc_framing_detect(rec.framed_value, rec.framed_value_len, NULL, &id, &off),
                     CDC_FRAMING_CONFLUENT);
    assert_int_equal(id, 8);
    assert_int_equal(rec.framed_value_len - off,
                     rec.framed_value_len - CDC_FRAMING_CONFLUENT_HEADER_SIZE);
    assert_memory_equal(rec.framed_value + off, first + CDC_FRAMING_SINGLE_OBJECT_HEADER_SIZE,
                        rec.framed_value_len - off);

    /* A delete of integer key 1: the same bytes and partition. */
    meta.row_hash = NULL;
    assert_int_equal(cdc_table_codec_encode_delete(c, &key, &meta, &rec, NULL, err, sizeof err),
                     CDC_RECORD_OK);
    assert_memory_equal(rec.key, want, sizeof want);
    assert_int_equal(cdc_murmur2_partition(rec.key, rec.key_len, PARTITIONS), part);

    /* Text '1' is another key to SQLite, and a misfit in an INTEGER key column. */
    cdc_value_t tkey = {CDC_VAL_TEXT, 0, 0, (const unsigned char *)"1", 1};
    cdc_record_misfit_t mf;
    assert_int_equal(cdc_table_codec_encode_delete(c, &tkey, &meta, &rec, &mf, err, sizeof err),
                     CDC_RECORD_MISFIT);
    assert_string_equal(mf.column, "id");
    assert_string_equal(mf.key_json, "{\"id\":\"1\"}");

    /* Caller errors. */
    assert_int_equal(cdc_table_codec_encode(c, 'd', vals, &meta, &rec, NULL, err, sizeof err),
                     CDC_RECORD_INVALID);
    meta.row_hash = HASH;
    assert_int_equal(cdc_table_codec_encode_delete(c, &key, &meta, &rec, NULL, err, sizeof err),
                     CDC_RECORD_INVALID);
    sqlite3_finalize(st);
    cdc_table_codec_destroy(c);
    sqlite3_close(db);
}

/* Output buffers are reused: after the first row, encoding allocates nothing new. */
static void test_buffers_reused(void **state)
{
    (void)state;
    sqlite3 *db = db_open(t_int_sql);
    cdc_table_codec_t *c = codec_for(db, "t_int", NULL);
    cdc_value_t vals[4];
    cdc_record_t rec;
    cdc_record_meta_t meta = meta_for(1, 1);
    const unsigned char *k0 = NULL, *v0 = NULL;
    char err[512];
    sqlite3_stmt *st = prepare(db, "SELECT * FROM t_int WHERE id = 4");

    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    cdc_record_values_from_stmt(st, 0, 4, vals);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(cdc_table_codec_encode(c, 'u', vals, &meta, &rec, NULL, err, sizeof err),
                         CDC_RECORD_OK);
        if (i == 0) {
            k0 = rec.framed_key;
            v0 = rec.framed_value;
        }
        assert_ptr_equal(rec.framed_key, k0);
        assert_ptr_equal(rec.framed_value, v0);
    }
    sqlite3_finalize(st);
    cdc_table_codec_destroy(c);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_key),
        cmocka_unit_test(test_text_key_every_kind),
        cmocka_unit_test(test_composite_key),
        cmocka_unit_test(test_text_in_integer_column),
        cmocka_unit_test(test_override_real_to_decimal),
        cmocka_unit_test(test_codec_refusals),
        cmocka_unit_test(test_key_bytes_and_framing),
        cmocka_unit_test(test_buffers_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
