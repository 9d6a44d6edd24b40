/*
 * sink_apply_check: the sink's PostgreSQL side (consumers/sink_apply.h) against a real
 * PostgreSQL, driven by tests/integration/sink_apply_postgres.test.sh.
 *
 *   sink_apply_check CONNINFO
 *
 * Records are built the way they travel: SQLite values → the producer's encoder (key,
 * envelope with the real row hash) → bytes → the decoder → cdc_sink_batch_add_row, and the
 * encoded buffers are scribbled over and freed before the batch is applied (the batch must
 * own its copies). Each scenario prints "ok: ..." on stdout; the first failed check prints
 * "FAIL line N: expression" on stderr and exits 1. Exit codes: 0 all passed, 1 a check
 * failed, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cdc_alloc.h"
#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"
#include "cdc_buf.h"
#include "cdc_canon.h"
#include "cdc_config.h"
#include "cdc_convert.h"
#include "cdc_hash.h"
#include "cdc_log.h"
#include "sink_apply.h"

#define CHECK(e)                                                                                   \
    do {                                                                                           \
        if (!(e)) {                                                                                \
            fprintf(stderr, "FAIL line %d: %s (%s)\n", __LINE__, #e, g_err);                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define MAXCOLS 16

static char g_err[8192];
static PGconn *g_pg; /* the test's own connection, for looking */
static const char *g_topic = "cdc.crm";

/* ---- SQLite values ---- */
static cdc_value_t N(void)
{
    cdc_value_t v = {CDC_VAL_NULL, 0, 0, NULL, 0};
    return v;
}
static cdc_value_t I(int64_t i)
{
    cdc_value_t v = {CDC_VAL_INTEGER, i, 0, NULL, 0};
    return v;
}
static cdc_value_t R(double r)
{
    cdc_value_t v = {CDC_VAL_REAL, 0, r, NULL, 0};
    return v;
}
static cdc_value_t T(const char *s)
{
    cdc_value_t v = {CDC_VAL_TEXT, 0, 0, (const unsigned char *)s, strlen(s)};
    return v;
}
static cdc_value_t B(const char *s, size_t n)
{
    cdc_value_t v = {CDC_VAL_BLOB, 0, 0, (const unsigned char *)s, n};
    return v;
}

/* ---- tables as the Kafka side sees them (columns parsed back from the schema) ---- */
typedef struct {
    const char *source, *table;
    cdc_column_t *cols;
    size_t ncols;
    const cdc_sink_table_t *t;
} tbl_t;

static void tbl_init(tbl_t *tb, const char *source, const char *table, const char *const *names,
                     const char *const *decls, size_t n, size_t nkeys)
{
    cdc_column_t cols[MAXCOLS];
    char *json;

    memset(cols, 0, sizeof cols);
    for (size_t i = 0; i < n; i++) {
        cols[i].name = (char *)names[i];
        cols[i].decl_type = (char *)decls[i];
        cols[i].type = cdc_types_from_declared(decls[i]);
        cols[i].pk_index = i < nkeys ? (int)i + 1 : 0;
    }
    json = cdc_avro_schema_row_json(source, table, cols, n, g_err, sizeof g_err);
    CHECK(json != NULL);
    CHECK(cdc_avro_schema_parse_columns(json, &tb->cols, &tb->ncols, g_err, sizeof g_err) == 0);
    free(json);
    tb->source = source;
    tb->table = table;
    tb->t = NULL;
}

/* Encodes a record as the producer does, decodes it as the Kafka side does, adds it. */
static void add_ex(cdc_sink_batch_t *b, tbl_t *tb, int64_t off, char op, int64_t epoch, int64_t h,
                   const cdc_value_t *vals, const char *bad_text_col)
{
    cdc_buf_t key = CDC_BUF_INIT, env = CDC_BUF_INIT, scratch = CDC_BUF_INIT, canon = CDC_BUF_INIT;
    cdc_buf_t colscr[MAXCOLS];
    cdc_mapped_t mapped[MAXCOLS];
    cdc_decoded_value_t after[MAXCOLS], key_vals[MAXCOLS];
    unsigned char hash[CDC_HASH_ROW_SIZE];
    cdc_avro_envelope_t e, d;
    cdc_avro_str_t ks, kt;
    size_t bad = 0;
    int has_after = 0;

    CHECK(cdc_avro_encode_key_from_row(&key, tb->source, tb->table, tb->cols, tb->ncols, vals,
                                       &scratch, &bad, g_err, sizeof g_err) == CDC_AVRO_OK);
    memset(&e, 0, sizeof e);
    e.op = op;
    e.source_name = cdc_avro_str(tb->source);
    e.table = cdc_avro_str(tb->table);
    e.epoch = epoch;
    e.position = h;
    e.snapshot = op == 'r';
    e.ts_ms = 1700000000000;
    if (op != 'd') {
        for (size_t i = 0; i < tb->ncols; i++) {
            cdc_buf_init(&colscr[i]);
            CHECK(cdc_convert_value(&tb->cols[i], &vals[i], &mapped[i], &colscr[i], g_err,
                                    sizeof g_err) == CDC_CONVERT_OK);
        }
        CHECK(cdc_canon_row(tb->cols, mapped, tb->ncols, &canon, g_err, sizeof g_err) == 0);
        cdc_hash_row(canon.data, canon.len, hash);
        e.row_hash = hash;
        e.row_hash_len = sizeof hash;
        for (size_t i = 0; i < tb->ncols; i++)
            cdc_buf_free(&colscr[i]);
    }
    CHECK(cdc_avro_encode_envelope(&env, &e, tb->cols, tb->ncols, op == 'd' ? NULL : vals, &scratch,
                                   &bad, g_err, sizeof g_err) == CDC_AVRO_OK);
    CHECK(cdc_avro_decode_envelope(env.data, env.len, tb->cols, tb->ncols, &d, &has_after, after,
                                   g_err, sizeof g_err) == CDC_AVRO_OK);
    CHECK(cdc_avro_decode_key(key.data, key.len, tb->cols, tb->ncols, &ks, &kt, key_vals, g_err,
                              sizeof g_err) == CDC_AVRO_OK);
    if (bad_text_col != NULL) {
        /* Bytes PostgreSQL refuses in a whole COPY, past the producer's checks. */
        for (size_t i = 0; i < tb->ncols; i++)
            if (strcmp(tb->cols[i].name, bad_text_col) == 0) {
                after[i].p = (const unsigned char *)"ab\xff";
                after[i].len = 3;
            }
    }
    cdc_sink_batch_add_row(b, tb->t, off, d.op, (cdc_pos_t){d.epoch, d.position}, key.data, key.len,
                           key_vals, has_after ? after : NULL, d.row_hash, d.row_hash_len);
    /* The batch owns its copies: scribble over the originals before freeing them. */
    memset(key.data, 0xAA, key.len);
    memset(env.data, 0xAA, env.len);
    cdc_buf_free(&key);
    cdc_buf_free(&env);
    cdc_buf_free(&scratch);
    cdc_buf_free(&canon);
}

static void add(cdc_sink_batch_t *b, tbl_t *tb, int64_t off, char op, int64_t epoch, int64_t h,
                const cdc_value_t *vals)
{
    add_ex(b, tb, off, op, epoch, h, vals, NULL);
}

/* ---- looking at the database ---- */
static char g_val[4096];

static const char *q(const char *sql)
{
    PGresult *res = PQexec(g_pg, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "FAIL query %s: %s", sql, PQerrorMessage(g_pg));
        exit(1);
    }
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        snprintf(g_val, sizeof g_val, "%s", PQgetvalue(res, 0, 0));
    else
        snprintf(g_val, sizeof g_val, "<null>");
    PQclear(res);
    return g_val;
}

static int qeq(const char *sql, const char *want)
{
    const char *got = q(sql);
    if (strcmp(got, want) != 0) {
        snprintf(g_err, sizeof g_err, "%s: got '%s', want '%s'", sql, got, want);
        return 0;
    }
    return 1;
}

static char *qdup(const char *sql)
{
    return cdc_strdup(q(sql));
}

/* ---- dead-letter callback ---- */
typedef struct {
    int calls;
    int fail;
    char table[8][64];
    char key[8][256];
    char column[8][64];
    char reason[8][512];
} dl_log_t;

static int dl_cb(const cdc_sink_dead_letter_t *dl, void *opaque)
{
    dl_log_t *log = opaque;
    int i = log->calls < 8 ? log->calls : 7;

    if (log->fail)
        return -1;
    snprintf(log->table[i], 64, "%s", dl->info.table);
    snprintf(log->key[i], 256, "%s", dl->info.key_json);
    snprintf(log->column[i], 64, "%s", dl->info.column != NULL ? dl->info.column : "");
    snprintf(log->reason[i], 512, "%s", dl->info.reason);
    if (strcmp(dl->info.stage, "sink") != 0 || dl->key == NULL || dl->key_len == 0 ||
        dl->info.origin_topic == NULL)
        return -1;
    log->calls++;
    return 0;
}

static dl_log_t g_dl;

static cdc_sink_status_t apply(cdc_sink_db_t *db, cdc_sink_batch_t *b, int32_t part, int64_t first,
                               int64_t end, cdc_sink_stats_t *st)
{
    return cdc_sink_apply(db, b, g_topic, part, first, end, dl_cb, &g_dl, st, g_err, sizeof g_err);
}

/* ---- the scenarios ---- */
static const char *const items_names[] = {"id",  "name", "price", "ratio", "active", "created",
                                          "day", "doc",  "data",  "note",  "amount"};
static const char *const items_decls[] = {"INTEGER", "TEXT",        "DECIMAL(14,2)", "REAL",
                                          "BOOLEAN", "DATETIME",    "DATE",          "JSON",
                                          "BLOB",    "VARCHAR(20)", "NUMERIC"};

static void items_row(cdc_value_t *v, int64_t id, const char *name, double price)
{
    v[0] = I(id);
    v[1] = T(name);
    v[2] = R(price);
    v[3] = R(0.1);
    v[4] = I(id % 2);
    v[5] = T("2024-01-15 10:30:00.123456+02:00");
    v[6] = T("2024-02-29");
    v[7] = T("{ \"b\" : 1, \"a\": [1.0, 1e2, \"x\"], \"a\": {\"z\":\"\xc3\xa9\", \"y\": 1.50} }");
    v[8] = B("\x00\xff\x10", 3);
    v[9] = T("tab\there\\ \"q\"");
    v[10] = T("1.50");
}

static void scenario_basic(cdc_sink_db_t *db, tbl_t *items)
{
    cdc_sink_batch_t *b = cdc_sink_batch_new();
    cdc_sink_stats_t st;
    cdc_value_t v[11];
    int64_t next = -1;
    char *before, *after;

    CHECK(cdc_sink_db_claim_partition(db, g_topic, 0, &next, g_err, sizeof g_err) == CDC_SINK_OK);
    CHECK(next == 0);
    CHECK(cdc_sink_db_table(db, "src1", "items", items->cols, items->ncols, &items->t, g_err,
                            sizeof g_err) == CDC_SINK_OK);
    CHECK(strcmp(cdc_sink_table_target(items->t), "items") == 0);
    CHECK(qeq("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', '"
              " ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'items'::regclass"
              " AND attnum > 0",
              "id bigint, name text, price numeric(14,2), ratio double precision, active boolean,"
              " created timestamp with time zone, day date, doc jsonb, data bytea,"
              " note character varying(20), amount numeric, _cdc_source text, _cdc_epoch bigint,"
              " _cdc_pos bigint, _cdc_synced_at timestamp with time zone"));
    CHECK(qeq("SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a ON"
              " a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid ="
              " 'items'::regclass AND i.indisprimary",
              "id"));

    /* offsets 0..8: 5 snapshot reads, key 2 updated twice (one batch), key 3 deleted, money */
    items_row(v, 1, "one", 10.25);
    add(b, items, 0, 'r', 1, 10, v);
    items_row(v, 2, "two", 20);
    add(b, items, 1, 'r', 1, 10, v);
    items_row(v, 3, "three", 30);
    add(b, items, 2, 'r', 1, 10, v);
    items_row(v, 4, "four", 55937.50);
    add(b, items, 3, 'r', 1, 10, v);
    items_row(v, 5, "five", 0.07);
    v[1] = N();
    add(b, items, 4, 'r', 1, 10, v);
    items_row(v, 2, "two-v2", 21);
    add(b, items, 5, 'u', 1, 12, v);
    items_row(v, 2, "two-v3", 22.5);
    add(b, items, 6, 'u', 1, 13, v);
    items_row(v, 3, "three", 30);
    add(b, items, 7, 'd', 1, 14, v);
    items_row(v, 6, "six", 1158000.00);
    add(b, items, 8, 'c', 1, 15, v);
    CHECK(apply(db, b, 0, 0, 9, &st) == CDC_SINK_OK);
    CHECK(st.applied == 5 && st.superseded == 3 && st.deleted == 1 && st.mismatches == 0 &&
          st.dead_letters == 0 && st.fenced == 0);
    CHECK(qeq("SELECT string_agg(id::text, ',' ORDER BY id) FROM items", "1,2,4,5,6"));
    CHECK(qeq("SELECT name || ' ' || price || ' ' || _cdc_epoch || ':' || _cdc_pos FROM items"
              " WHERE id = 2",
              "two-v3 22.50 1:13"));
    CHECK(qeq("SELECT price::text FROM items WHERE id = 4", "55937.50"));
    CHECK(qeq("SELECT sum(price)::text FROM items", "1213970.32"));
    CHECK(qeq("SELECT name IS NULL FROM items WHERE id = 5", "t"));
    CHECK(qeq("SELECT doc::text FROM items WHERE id = 1",
              "{\"a\": {\"y\": 1.50, \"z\": \"\xc3\xa9\"}, \"b\": 1}"));
    CHECK(qeq("SELECT note || '|' || encode(data, 'hex') || '|' || amount || '|' || ratio ||"
              " '|' || created || '|' || day FROM items WHERE id = 1",
              "tab\there\\ \"q\"|00ff10|1.50|0.1|2024-01-15 08:30:00.123456+00|2024-02-29"));
    CHECK(
        qeq("SELECT count(*) FROM _cdc_tombstones WHERE target_table = 'items' AND pos = 14", "1"));
    CHECK(qeq("SELECT next_offset FROM _cdc_offsets WHERE topic = 'cdc.crm' AND kpartition = 0",
              "9"));
    CHECK(qeq("SELECT string_agg(status || '=' || n, ',' ORDER BY status) FROM (SELECT status,"
              " sum(results) n FROM _cdc_parity_outbox GROUP BY status) s",
              "match=6,superseded=3"));
    /* Matches and superseded versions are counted: one outbox row each per batch. */
    CHECK(qeq("SELECT count(*) FROM _cdc_parity_outbox", "2"));
    CHECK(qeq("SELECT count(*) FROM _cdc_parity_outbox WHERE key IS NULL AND op IS NULL"
              " AND source_hash IS NULL AND epoch IS NOT NULL AND pos IS NOT NULL",
              "2"));
    printf("ok: table created from the schema; inserts, updates, a delete, newest per key, "
           "money exact, parity match for every kind (jsonb keys reordered)\n");

    /* Replay the same batch from the stored offset reset to 0: nothing moves. */
    before = qdup("SELECT string_agg(t::text, E'\\n' ORDER BY id) FROM items t");
    q("UPDATE _cdc_offsets SET next_offset = 0 WHERE topic = 'cdc.crm' AND kpartition = 0");
    q("SELECT setval('_cdc_parity_outbox_id_seq', (SELECT max(id) FROM _cdc_parity_outbox))");
    CHECK(qeq("SELECT max(id) FROM _cdc_parity_outbox", "2"));
    CHECK(apply(db, b, 0, 0, 9, &st) == CDC_SINK_OK);
    CHECK(st.applied == 0 && st.deleted == 0 && st.superseded == 9 && st.mismatches == 0);
    after = qdup("SELECT string_agg(t::text, E'\\n' ORDER BY id) FROM items t");
    snprintf(g_err, sizeof g_err, "before:\n%s\nafter:\n%s", before, after);
    CHECK(strcmp(before, after) == 0);
    CHECK(qeq("SELECT string_agg(DISTINCT status, ',') FROM _cdc_parity_outbox WHERE id > 2",
              "superseded"));
    CHECK(
        qeq("SELECT count(*) || ':' || sum(results) FROM _cdc_parity_outbox WHERE id > 2", "1:9"));
    free(before);
    free(after);
    printf("ok: replaying the batch leaves every row and position unchanged, 9 superseded, "
           "no mismatch\n");

    /* Older versions after newer ones: an old update of 1, an old insert of deleted 3. */
    cdc_sink_batch_reset(b);
    items_row(v, 1, "one-old", 1);
    add(b, items, 9, 'u', 1, 5, v);
    items_row(v, 3, "three-old", 3);
    add(b, items, 10, 'c', 1, 11, v);
    items_row(v, 4, "four", 55937.50);
    add(b, items, 11, 'd', 1, 9, v);
    CHECK(apply(db, b, 0, 9, 12, &st) == CDC_SINK_OK);
    CHECK(st.applied == 0 && st.deleted == 0 && st.superseded == 3);
    CHECK(qeq("SELECT string_agg(id || name, ',' ORDER BY id) FROM items",
              "1one,2two-v3,4four,6six"));
    CHECK(qeq("SELECT count(*) FROM _cdc_tombstones WHERE target_table = 'items'", "1"));
    /* and a newer insert of 3 brings it back and drops its tombstone */
    cdc_sink_batch_reset(b);
    items_row(v, 3, "three-new", 3);
    add(b, items, 12, 'c', 1, 20, v);
    CHECK(apply(db, b, 0, 12, 13, &st) == CDC_SINK_OK);
    CHECK(st.applied == 1);
    CHECK(qeq("SELECT name FROM items WHERE id = 3", "three-new"));
    CHECK(qeq("SELECT count(*) FROM _cdc_tombstones WHERE target_table = 'items'", "0"));
    printf("ok: older versions never move a row back, a tombstone keeps an older insert out, "
           "a newer insert comes back\n");

    /* Heartbeat + a record the Kafka side could not decode. */
    cdc_sink_batch_reset(b);
    cdc_sink_batch_add_heartbeat(b, 13, cdc_avro_str("src1"), 1, 20, 3, 1500, 1700000000123);
    cdc_sink_batch_add_heartbeat(b, 14, cdc_avro_str("src1"), 1, 21, 2, 900, 1700000000456);
    cdc_sink_batch_add_dead_letter(b, 15, cdc_avro_str(NULL), cdc_avro_str(NULL), NULL, 0, NULL,
                                   "garbage bytes: no single-object header");
    CHECK(apply(db, b, 0, 13, 16, &st) == CDC_SINK_OK);
    CHECK(st.heartbeats == 2 && st.dead_letters == 1);
    CHECK(qeq("SELECT acked_position || ' ' || backlog_entries || ' ' || producer_ts FROM"
              " _cdc_heartbeats WHERE source = 'src1' AND kpartition = 0",
              "21 2 2023-11-14 22:13:20.456+00"));
    CHECK(qeq("SELECT koffset || ' ' || reason FROM _cdc_dead_letters WHERE koffset = 15",
              "15 garbage bytes: no single-object header"));
    printf("ok: heartbeats upserted (newest wins), undecodable record booked as a dead letter\n");
    cdc_sink_batch_destroy(b);
}

static void scenario_fencing(const cdc_config_t *conf, cdc_sink_db_t *db1, tbl_t *items)
{
    cdc_sink_db_t *db2 = NULL;
    cdc_sink_batch_t *b = cdc_sink_batch_new();
    cdc_sink_stats_t st;
    cdc_value_t v[11];
    const cdc_sink_table_t *t2 = NULL;
    int64_t next = -1;

    CHECK(cdc_sink_db_open(conf, "crm", &db2, g_err, sizeof g_err) == CDC_SINK_OK);
    CHECK(cdc_sink_db_claim_partition(db2, g_topic, 0, &next, g_err, sizeof g_err) == CDC_SINK_OK);
    CHECK(next == 16);
    CHECK(cdc_sink_db_table(db2, "src1", "items", items->cols, items->ncols, &t2, g_err,
                            sizeof g_err) == CDC_SINK_OK);
    /* the second worker takes over and moves the offset */
    {
        tbl_t other = *items;
        other.t = t2;
        items_row(v, 7, "seven-by-db2", 7);
        add(b, &other, 16, 'c', 1, 30, v);
        CHECK(apply(db2, b, 0, 16, 17, &st) == CDC_SINK_OK);
    }
    /* the first worker's batch, built for offset 16, is fenced and commits nothing */
    cdc_sink_batch_reset(b);
    items_row(v, 8, "eight-by-db1", 8);
    add(b, items, 16, 'c', 1, 31, v);
    cdc_sink_batch_add_heartbeat(b, 17, cdc_avro_str("src1"), 1, 99, 0, 0, 1700000009999);
    CHECK(apply(db1, b, 0, 16, 18, &st) == CDC_SINK_FENCED);
    CHECK(st.fenced == 1 && st.applied == 0);
    CHECK(strstr(g_err, "fenced") != NULL);
    CHECK(qeq("SELECT count(*) FROM items WHERE id = 8", "0"));
    CHECK(qeq("SELECT acked_position FROM _cdc_heartbeats WHERE source = 'src1' AND"
              " kpartition = 0",
              "21"));
    CHECK(qeq("SELECT next_offset FROM _cdc_offsets WHERE topic = 'cdc.crm' AND kpartition = 0",
              "17"));
    /* after re-claiming, db1 continues from the stored offset */
    CHECK(cdc_sink_db_claim_partition(db1, g_topic, 0, &next, g_err, sizeof g_err) == CDC_SINK_OK);
    CHECK(next == 17);
    CHECK(apply(db1, b, 0, 17, 19, &st) == CDC_SINK_OK);
    CHECK(qeq("SELECT name FROM items WHERE id = 8", "eight-by-db1"));
    printf("ok: fencing: a second worker moved the stored offset, the first one's batch was "
           "FENCED and committed nothing\n");

    /* A lost connection is retriable, and the next call reconnects by itself. */
    {
        /* terminate every other backend of db1's and db2's (all but ours) */
        q("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <>"
          " pg_backend_pid() AND datname = current_database()");
        cdc_sink_batch_reset(b);
        items_row(v, 9, "nine", 9);
        add(b, items, 19, 'c', 1, 40, v);
        cdc_sink_status_t s = apply(db1, b, 0, 19, 20, &st);
        CHECK(s == CDC_SINK_RETRIABLE || s == CDC_SINK_OK);
        if (s == CDC_SINK_RETRIABLE)
            CHECK(apply(db1, b, 0, 19, 20, &st) == CDC_SINK_OK);
        CHECK(qeq("SELECT name FROM items WHERE id = 9", "nine"));
        printf("ok: connection terminated: %s, then applied after reconnecting\n",
               cdc_sink_status_name(s));
    }
    cdc_sink_batch_destroy(b);
    cdc_sink_db_close(db2);
}

static void scenario_snapshot(cdc_sink_db_t *db)
{
    static const char *const names[] = {"k", "v"};
    static const char *const decls[] = {"TEXT", "INTEGER"};
    cdc_sink_batch_t *b = cdc_sink_batch_new();
    cdc_sink_stats_t st;
    cdc_value_t v[2];
    tbl_t snap;
    int64_t next;

    tbl_init(&snap, "src1", "snap", names, decls, 2, 1);
    CHECK(cdc_sink_db_table(db, "src1", "snap", snap.cols, snap.ncols, &snap.t, g_err,
                            sizeof g_err) == CDC_SINK_OK);
    CHECK(cdc_sink_db_claim_partition(db, g_topic, 1, &next, g_err, sizeof g_err) == CDC_SINK_OK);
    CHECK(next == 0);
    /* epoch 1: a, b, c; then a re-snapshot at H0 = 100 sees only a and c (b's delete was
     * not captured); its markers arrive on partitions 0 and 1 */
    v[0] = T("a"), v[1] = I(1);
    add(b, &snap, 0, 'r', 1, 5, v);
    v[0] = T("b"), v[1] = I(2);
    add(b, &snap, 1, 'r', 1, 5, v);
    v[0] = T("c"), v[1] = I(3);
    add(b, &snap, 2, 'c', 1, 6, v);
    CHECK(apply(db, b, 1, 0, 3, &st) == CDC_SINK_OK);
    cdc_sink_batch_reset(b);
    v[0] = T("a"), v[1] = I(10);
    add(b, &snap, 3, 'r', 1, 101, v);
    v[0] = T("c"), v[1] = I(30);
    add(b, &snap, 4, 'r', 1, 101, v);
    cdc_sink_batch_add_marker(b, 5, cdc_avro_str("src1"), cdc_avro_str("snap"), 1, 100);
    CHECK(apply(db, b, 1, 3, 6, &st) == CDC_SINK_OK);
    CHECK(st.markers == 1);
    CHECK(qeq("SELECT string_agg(k || v, ',' ORDER BY k) FROM snap", "a10,b2,c30"));
    cdc_sink_batch_reset(b);
    cdc_sink_batch_add_marker(b, 20, cdc_avro_str("src1"), cdc_avro_str("snap"), 1, 100);
    CHECK(apply(db, b, 0, 20, 21, &st) == CDC_SINK_OK);
    CHECK(qeq("SELECT string_agg(k || v, ',' ORDER BY k) FROM snap", "a10,c30"));
    CHECK(qeq("SELECT target_table || ' ' || deleted_rows FROM _cdc_snapshot_done", "snap 1"));
    /* a replayed old insert of b stays out (older than the completed snapshot) */
    cdc_sink_batch_reset(b);
    v[0] = T("b"), v[1] = I(2);
    add(b, &snap, 6, 'r', 1, 5, v);
    CHECK(apply(db, b, 1, 6, 7, &st) == CDC_SINK_OK);
    CHECK(st.superseded == 1 && st.applied == 0);
    CHECK(qeq("SELECT string_agg(k || v, ',' ORDER BY k) FROM snap", "a10,c30"));
    printf("ok: snapshot end marker on every partition deletes the older rows, once; an older "
           "replay stays out\n");
    cdc_avro_schema_columns_free(snap.cols, snap.ncols);
    cdc_sink_batch_destroy(b);
}

static void scenario_precreated(cdc_sink_db_t *db)
{
    static const char *const names[] = {"id", "code", "amount", "extra"};
    static const char *const decls[] = {"INTEGER", "TEXT", "DECIMAL(14,2)", "TEXT"};
    cdc_sink_batch_t *b = cdc_sink_batch_new();
    cdc_sink_stats_t st;
    cdc_value_t v[4];
    tbl_t pre, wrong;
    int64_t next;

    q("CREATE TABLE precreated (id bigint PRIMARY KEY, code varchar(5),"
      " amount numeric(6,2) CONSTRAINT amount_not_negative CHECK (amount >= 0), extra text)");
    q("CREATE TABLE wrongkey (id bigint, code text PRIMARY KEY)");
    tbl_init(&pre, "src1", "precreated", names, decls, 4, 1);
    tbl_init(&wrong, "src1", "wrongkey", names, decls, 2, 1);
    CHECK(cdc_sink_db_table(db, "src1", "wrongkey", wrong.cols, wrong.ncols, &wrong.t, g_err,
                            sizeof g_err) == CDC_SINK_FATAL);
    CHECK(strstr(g_err, "primary key is (code)") != NULL && strstr(g_err, "(id)") != NULL);
    CHECK(cdc_sink_db_table(db, "src1", "precreated", pre.cols, pre.ncols, &pre.t, g_err,
                            sizeof g_err) == CDC_SINK_OK);
    CHECK(qeq("SELECT count(*) FROM pg_attribute WHERE attrelid = 'precreated'::regclass AND"
              " attname LIKE '\\_cdc\\_%'",
              "4"));
    CHECK(cdc_sink_db_claim_partition(db, g_topic, 1, &next, g_err, sizeof g_err) == CDC_SINK_OK);
    memset(&g_dl, 0, sizeof g_dl);
    v[3] = T("x");
    v[0] = I(1), v[1] = T("ok1"), v[2] = R(12.5);
    add(b, &pre, next, 'c', 1, 50, v);
    v[0] = I(2), v[1] = T("toolong"), v[2] = R(1);
    add(b, &pre, next + 1, 'c', 1, 50, v);
    v[0] = I(3), v[1] = T("ok3"), v[2] = R(12345.67);
    add(b, &pre, next + 2, 'c', 1, 50, v);
    v[0] = I(4), v[1] = T("ok4"), v[2] = R(-5);
    add(b, &pre, next + 3, 'c', 1, 50, v);
    v[0] = I(5), v[1] = T("ok5"), v[2] = R(9999.99);
    add(b, &pre, next + 4, 'c', 1, 50, v);
    v[0] = I(6), v[1] = T("ok6"), v[2] = R(0);
    add_ex(b, &pre, next + 5, 'c', 1, 50, v, "extra");
    v[0] = I(7), v[1] = T("ok7"), v[2] = R(1);
    add(b, &pre, next + 6, 'c', 1, 50, v);
    CHECK(apply(db, b, 1, next, next + 7, &st) == CDC_SINK_OK);
    snprintf(g_err, sizeof g_err, "calls %d: %s %s %s | %s %s %s | %s %s %s | %s %s %s", g_dl.calls,
             g_dl.key[0], g_dl.column[0], g_dl.reason[0], g_dl.key[1], g_dl.column[1],
             g_dl.reason[1], g_dl.key[2], g_dl.column[2], g_dl.reason[2], g_dl.key[3],
             g_dl.column[3], g_dl.reason[3]);
    CHECK(g_dl.calls == 4 && st.dead_letters == 4 && st.applied == 3);
    /* the invalid UTF-8 is caught before the COPY, then the others in bisection order */
    CHECK(strcmp(g_dl.key[0], "{\"id\":6}") == 0 && strcmp(g_dl.column[0], "extra") == 0 &&
          strstr(g_dl.reason[0], "UTF-8") != NULL);
    for (int i = 1; i < 4; i++) {
        CHECK(strcmp(g_dl.table[i], "precreated") == 0);
        if (strcmp(g_dl.key[i], "{\"id\":2}") == 0)
            CHECK(strcmp(g_dl.column[i], "code") == 0 && strstr(g_dl.reason[i], "22001") &&
                  strstr(g_dl.reason[i], "character varying(5)"));
        else if (strcmp(g_dl.key[i], "{\"id\":3}") == 0)
            CHECK(strcmp(g_dl.column[i], "amount") == 0 && strstr(g_dl.reason[i], "22003"));
        else
            CHECK(strcmp(g_dl.key[i], "{\"id\":4}") == 0 && strstr(g_dl.reason[i], "23514") &&
                  strstr(g_dl.reason[i], "amount_not_negative"));
    }
    CHECK(qeq("SELECT string_agg(id || ':' || code || ':' || amount, ',' ORDER BY id) FROM"
              " precreated",
              "1:ok1:12.50,5:ok5:9999.99,7:ok7:1.00"));
    CHECK(qeq("SELECT count(*) FROM _cdc_dead_letters WHERE source_table = 'precreated' AND"
              " resolved_at IS NULL",
              "4"));
    CHECK(qeq("SELECT count(*) FROM _cdc_parity_outbox WHERE source_table = 'precreated' AND"
              " status = 'dead_letter'",
              "4"));
    CHECK(qeq("SELECT sum(results) FROM _cdc_parity_outbox WHERE source_table = 'precreated' AND"
              " status = 'match'",
              "3"));
    printf("ok: pre-created varchar(5)/numeric(6,2)/CHECK: 4 refused records went to the "
           "dead-letter callback with table, key, column/reason; the rest committed\n");

    /* a newer version of key 2 that fits resolves its dead letter */
    cdc_sink_batch_reset(b);
    v[0] = I(2), v[1] = T("fits"), v[2] = R(1);
    add(b, &pre, next + 7, 'u', 1, 60, v);
    CHECK(apply(db, b, 1, next + 7, next + 8, &st) == CDC_SINK_OK);
    {
        char want[32];
        snprintf(want, sizeof want, "%" PRId64, next + 1);
        CHECK(qeq("SELECT string_agg(koffset::text, ',') FROM _cdc_dead_letters WHERE"
                  " source_table = 'precreated' AND resolved_at IS NOT NULL",
                  want));
    }
    printf("ok: a newer applied version resolves the key's dead letter\n");

    /* a dead letter that cannot be delivered: the batch commits nothing */
    cdc_sink_batch_reset(b);
    v[0] = I(8), v[1] = T("ok8"), v[2] = R(1);
    add(b, &pre, next + 8, 'c', 1, 70, v);
    v[0] = I(9), v[1] = T("toolong9"), v[2] = R(1);
    add(b, &pre, next + 9, 'c', 1, 70, v);
    g_dl.fail = 1;
    CHECK(apply(db, b, 1, next + 8, next + 10, &st) == CDC_SINK_RETRIABLE);
    g_dl.fail = 0;
    CHECK(qeq("SELECT count(*) FROM precreated WHERE id = 8", "0"));
    {
        char want[32];
        snprintf(want, sizeof want, "%" PRId64, next + 8);
        CHECK(qeq("SELECT next_offset FROM _cdc_offsets WHERE topic = 'cdc.crm' AND"
                  " kpartition = 1",
                  want));
    }
    printf("ok: an undelivered dead letter rolls the whole batch back (retriable)\n");
    cdc_avro_schema_columns_free(pre.cols, pre.ncols);
    cdc_avro_schema_columns_free(wrong.cols, wrong.ncols);
    cdc_sink_batch_destroy(b);
}

static void scenario_names(cdc_sink_db_t *db, tbl_t *items)
{
    static const char *const names[] = {"rowid", "v"};
    static const char *const decls[] = {"INTEGER", "TEXT"};
    char long1[80], long2[80];
    const cdc_sink_table_t *t = NULL;
    tbl_t r, l1, l2;
    static const char *const cnames[] = {
        "id", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_1",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_2"};
    static const char *const cdecls[] = {"INTEGER", "TEXT", "TEXT"};
    tbl_t cc;

    /* rowid-keyed table */
    tbl_init(&r, "src1", "norowkey", names, decls, 2, 1);
    CHECK(cdc_sink_db_table(db, "src1", "norowkey", r.cols, r.ncols, &r.t, g_err, sizeof g_err) ==
          CDC_SINK_OK);
    CHECK(qeq("SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',')"
              " FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum ="
              " ANY(i.indkey) WHERE i.indrelid = 'norowkey'::regclass AND i.indisprimary",
              "rowid bigint"));
    /* another source writing the same target table */
    CHECK(cdc_sink_db_table(db, "src2", "items", items->cols, items->ncols, &t, g_err,
                            sizeof g_err) == CDC_SINK_FATAL);
    CHECK(strstr(g_err, "source src1") != NULL && strstr(g_err, "source src2") != NULL);
    /* two table names equal after 63-byte truncation */
    memset(long1, 'a', 70);
    memcpy(long1 + 70, "_x", 3);
    memset(long2, 'a', 70);
    memcpy(long2 + 70, "_y", 3);
    tbl_init(&l1, "src1", long1, names + 1, decls + 1, 1, 1);
    tbl_init(&l2, "src1", long2, names + 1, decls + 1, 1, 1);
    CHECK(cdc_sink_db_table(db, "src1", long1, l1.cols, l1.ncols, &l1.t, g_err, sizeof g_err) ==
          CDC_SINK_OK);
    CHECK(strlen(cdc_sink_table_target(l1.t)) == 63);
    CHECK(cdc_sink_db_table(db, "src1", long2, l2.cols, l2.ncols, &t, g_err, sizeof g_err) ==
          CDC_SINK_FATAL);
    CHECK(strstr(g_err, long1) != NULL && strstr(g_err, long2) != NULL &&
          strstr(g_err, "63-byte") != NULL);
    /* two column names equal after truncation */
    tbl_init(&cc, "src1", "longcols", cnames, cdecls, 3, 1);
    CHECK(cdc_sink_db_table(db, "src1", "longcols", cc.cols, cc.ncols, &t, g_err, sizeof g_err) ==
          CDC_SINK_FATAL);
    CHECK(strstr(g_err, cnames[1]) != NULL && strstr(g_err, cnames[2]) != NULL);
    printf("ok: rowid key, two sources on one target refused, 63-byte collisions of table and "
           "column names refused naming both\n");
    cdc_avro_schema_columns_free(r.cols, r.ncols);
    cdc_avro_schema_columns_free(l1.cols, l1.ncols);
    cdc_avro_schema_columns_free(l2.cols, l2.ncols);
    cdc_avro_schema_columns_free(cc.cols, cc.ncols);
}

static void scenario_cutover(const cdc_config_t *conf)
{
    cdc_sink_db_t *db = NULL;

    q("INSERT INTO _cdc_cutover (domain) VALUES ('crm')");
    CHECK(cdc_sink_db_open(conf, "crm", &db, g_err, sizeof g_err) == CDC_SINK_FATAL);
    CHECK(db == NULL && strstr(g_err, "cut over") != NULL);
    q("DELETE FROM _cdc_cutover");
    printf("ok: a cut-over domain is refused\n");
}

int main(int argc, char **argv)
{
    cdc_config_t *conf;
    cdc_sink_db_t *db = NULL;
    char *yaml;
    tbl_t items;

    if (argc != 2) {
        fprintf(stderr, "usage: sink_apply_check CONNINFO\n");
        return 2;
    }
    cdc_log_set_component("sink_apply_check");
    cdc_log_set_level(CDC_LOG_ERROR);
    yaml = cdc_asprintf("kafka: {bootstrap.servers: \"127.0.0.1:1\"}\n"
                        "topic_prefix: cdc\n"
                        "domains:\n"
                        "  - {name: crm, partitions: 2, target: \"%s\"}\n"
                        "sources:\n"
                        "  - {name: src1, domain: crm, path: /nonexistent/src1.db}\n"
                        "  - {name: src2, domain: crm, path: /nonexistent/src2.db}\n"
                        "validation: {partitions: 1}\n",
                        argv[1]);
    conf = cdc_config_load_string(yaml, "/", g_err, sizeof g_err);
    free(yaml);
    CHECK(conf != NULL);
    g_pg = PQconnectdb(argv[1]);
    CHECK(PQstatus(g_pg) == CONNECTION_OK);
    q("SET TimeZone = 'UTC'");

    CHECK(cdc_sink_db_open(conf, "crm", &db, g_err, sizeof g_err) == CDC_SINK_OK);
    tbl_init(&items, "src1", "items", items_names, items_decls, 11, 1);
    scenario_basic(db, &items);
    scenario_fencing(conf, db, &items);
    scenario_snapshot(db);
    scenario_precreated(db);
    scenario_names(db, &items);
    cdc_sink_db_close(db);
    scenario_cutover(conf);

    cdc_avro_schema_columns_free(items.cols, items.ncols);
    PQfinish(g_pg);
    cdc_config_destroy(conf);
    printf("ok: all sink apply checks passed\n");
    return 0;
}
