/*
 * Stream batches on real SQLite files, in WAL and rollback-journal mode: coalescing
 * (several updates of a key are one change with the newest image), deletes (missing row:
 * the key alone), key-changing updates (old key deleted, new key upserted), typed keys
 * (text '1' and integer 1 are two rows), a NOCASE key changing case, rowid keys, the
 * batch's position H and last_seq, batch limits, stale table lists, aborts, and
 * cdc_stream_wait waking on another connection's commit and timing out otherwise.
 */
#include "test_capture_util.h"

#include "capture.h"
#include "cdc_log.h"
#include "position.h"
#include "stream.h"
#include "table_info.h"

#include <pthread.h>
#include <time.h>

/* What the callbacks saw: "<table#> <op> <key> [= <row>]\n" per change. */
typedef struct seen_s {
    cdc_sqlbuf_t text;
    size_t calls;
    size_t stop_after; /* 0: never */
    int64_t min_seq, max_seq;
    cdc_pos_t pos;
    int pos_varies;
    double min_ts;
} seen_t;

static void seen_init(seen_t *s)
{
    memset(s, 0, sizeof(*s));
    cdc_sqlbuf_init(&s->text);
    s->min_seq = INT64_MAX;
    s->min_ts = 1e12;
    s->pos.h = -1;
}

static int see(void *opaque, const cdc_stream_change_t *c)
{
    seen_t *s = opaque;
    if (s->stop_after && s->calls == s->stop_after)
        return 1;
    if (s->pos.h >= 0 && cdc_pos_cmp(s->pos, c->pos) != 0)
        s->pos_varies = 1;
    s->pos = c->pos;
    cdc_sqlbuf_printf(&s->text, "%zu %c ", c->table, c->op);
    for (size_t k = 0; k < c->n_keys; k++) {
        cdc_sqlbuf_append(&s->text, k ? "," : "");
        tdb_render_value(&s->text, &c->key[k], 0);
    }
    assert_true(c->op == 'd' ? (c->row == NULL && c->n_cols == 0) : c->row != NULL);
    if (c->row) {
        cdc_sqlbuf_append(&s->text, " =");
        for (size_t i = 0; i < c->n_cols; i++) {
            cdc_sqlbuf_append(&s->text, i ? "|" : " ");
            tdb_render_value(&s->text, &c->row[i], 0);
        }
    }
    cdc_sqlbuf_append(&s->text, "\n");
    if (c->seq < s->min_seq)
        s->min_seq = c->seq;
    if (c->seq > s->max_seq)
        s->max_seq = c->seq;
    if (c->stmt_julian < s->min_ts)
        s->min_ts = c->stmt_julian;
    s->calls++;
    return 0;
}

typedef struct fixture_s {
    tdb_t *t;
    cdc_table_info_t *ti[6];
    size_t n;
    int64_t seq; /* stream position: everything up to here consumed */
} fixture_t;

static void fixture_open(fixture_t *f, const char *mode)
{
    memset(f, 0, sizeof(*f));
    f->t = tdb_open(mode);
    tdb_exec(f->t->db, "CREATE TABLE ip(id INTEGER PRIMARY KEY, v TEXT);"
                       "CREATE TABLE u(k PRIMARY KEY, v);"
                       "CREATE TABLE comp(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID;"
                       "CREATE TABLE nokey(v TEXT);"
                       "CREATE TABLE nc(name TEXT COLLATE NOCASE PRIMARY KEY, v);"
                       "CREATE TABLE nk(code TEXT PRIMARY KEY, v);");
    tdb_install_all(f->t->db, 0);
    static const char *const names[] = {"ip", "u", "comp", "nokey", "nc", "nk"};
    for (size_t i = 0; i < 6; i++)
        f->ti[i] = tdb_table_info(f->t->db, names[i]);
    f->n = 6;
}

static void fixture_close(fixture_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        cdc_table_info_destroy(f->ti[i]);
    tdb_close(f->t);
}

/* Reads one batch after f->seq, checks what it saw against `expected`, advances. */
static cdc_stream_batch_t step(fixture_t *f, size_t limit, const char *expected)
{
    char err[1024] = "";
    seen_t s;
    seen_init(&s);
    cdc_stream_batch_t b;
    const cdc_table_info_t *const *tables = (const cdc_table_info_t *const *)f->ti;
    cdc_read_err_t e =
        cdc_stream_read(f->t->db, tables, f->n, f->seq, limit, see, &s, &b, err, sizeof(err));
    if (e != CDC_READ_OK)
        fail_msg("stream: %s: %s", cdc_read_err2str(e), err);
    if (strcmp(s.text.s, expected) != 0)
        fail_msg("stream (%s) saw\n%s--- expected\n%s", f->t->mode, s.text.s, expected);
    /* Every record of the batch carries the batch's position, which is H of the file. */
    assert_false(s.pos_varies);
    if (s.calls) {
        assert_int_equal(s.pos.h, b.h);
        assert_int_equal(s.pos.epoch, b.epoch);
        assert_true(s.min_seq > f->seq);
        assert_true(s.max_seq <= b.last_seq);
        assert_true(s.min_ts > 2460000.0); /* julianday of a statement in 2023 or later */
    }
    assert_true(b.last_seq <= b.h);
    assert_int_equal(b.upserts + b.deletes, s.calls);
    char perr[256];
    cdc_position_state_t st;
    assert_int_equal(cdc_position_read(f->t->db, &st, perr, sizeof(perr)), CDC_CAPTURE_EOK);
    assert_int_equal(b.h, st.high);
    f->seq = b.last_seq;
    cdc_sqlbuf_free(&s.text);
    return b;
}

static void test_coalesce_delete_keychange(void **state)
{
    fixture_t f;
    fixture_open(&f, *state);
    sqlite3 *db = f.t->db;
    cdc_stream_batch_t b = step(&f, 0, "");
    assert_int_equal(b.last_seq, 0);
    assert_int_equal(b.log_rows, 0);

    /* Three updates of one key: one change, the newest image, op 'c' (inserted since). */
    tdb_exec(db, "INSERT INTO ip VALUES (1, 'a'); INSERT INTO ip VALUES (2, 'x');");
    step(&f, 0, "0 c 1 = 1|'a'\n0 c 2 = 2|'x'\n");
    tdb_exec(db, "UPDATE ip SET v = 'b' WHERE id = 1; UPDATE ip SET v = 'c' WHERE id = 1;"
                 "UPDATE ip SET v = 'd' WHERE id = 1;");
    b = step(&f, 0, "0 u 1 = 1|'d'\n");
    assert_int_equal(b.log_rows, 3);
    assert_int_equal(b.upserts, 1);

    /* Delete: the key alone. */
    tdb_exec(db, "DELETE FROM ip WHERE id = 2;");
    b = step(&f, 0, "0 d 2\n");
    assert_int_equal(b.deletes, 1);

    /* Key change: the old key is deleted, the new one upserted. */
    tdb_exec(db, "UPDATE ip SET id = 7 WHERE id = 1;");
    step(&f, 0, "0 d 1\n0 c 7 = 7|'d'\n");

    /* Insert then delete within one batch: just the delete. Delete then re-insert: the
     * row exists, so an upsert of its image. */
    tdb_exec(db, "INSERT INTO ip VALUES (9, 'tmp'); DELETE FROM ip WHERE id = 9;"
                 "DELETE FROM ip WHERE id = 7; INSERT INTO ip VALUES (7, 'again');");
    step(&f, 0, "0 d 9\n0 c 7 = 7|'again'\n");

    /* Composite WITHOUT ROWID key, and a rowid-keyed table. */
    tdb_exec(db, "INSERT INTO comp VALUES ('a', 1, x'01'); UPDATE comp SET b = 2;"
                 "INSERT INTO nokey VALUES ('r1'), ('r2'); UPDATE nokey SET v = 'r3' WHERE "
                 "v = 'r2'; DELETE FROM nokey WHERE v = 'r1';");
    step(&f, 0, "2 d 'a',1\n2 c 'a',2 = 'a'|2|x01\n3 u 2 = 'r3'\n3 d 1\n");
    fixture_close(&f);
}

static void test_typed_keys(void **state)
{
    fixture_t f;
    fixture_open(&f, *state);
    sqlite3 *db = f.t->db;
    /* Integer 1 and text '1' are two rows of an untyped key, and two changes. */
    tdb_exec(db, "INSERT INTO u VALUES (1, 'int'); INSERT INTO u VALUES ('1', 'text');"
                 "INSERT INTO u VALUES (1.5, 'real'); INSERT INTO u VALUES (x'31', 'blob');");
    step(&f, 0,
         "1 c 1 = 1|'int'\n1 c '1' = '1'|'text'\n1 c 1.5 = 1.5|'real'\n"
         "1 c x31 = x31|'blob'\n");
    tdb_exec(db, "UPDATE u SET v = 'T' WHERE k = '1'; DELETE FROM u WHERE k = 1;");
    step(&f, 0, "1 u '1' = '1'|'T'\n1 d 1\n");
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM u WHERE k = '1'"), 1);

    /* A NOCASE key changing case: 'abc' finds the row 'ABC', but the row known as 'abc'
     * is gone: a delete of 'abc' and an upsert of 'ABC'. */
    tdb_exec(db, "INSERT INTO nc VALUES ('abc', 1);");
    step(&f, 0, "4 c 'abc' = 'abc'|1\n");
    tdb_exec(db, "UPDATE nc SET name = 'ABC';");
    step(&f, 0, "4 d 'abc'\n4 c 'ABC' = 'ABC'|1\n");

    /* Rows with a NULL key are skipped and counted. */
    tdb_exec(db, "INSERT INTO nk VALUES (NULL, 1); INSERT INTO nk VALUES ('k', 2);");
    cdc_stream_batch_t b = step(&f, 0, "5 c 'k' = 'k'|2\n");
    assert_int_equal(b.null_keys, 1);
    fixture_close(&f);
}

static void test_limits_stale_abort(void **state)
{
    fixture_t f;
    fixture_open(&f, *state);
    sqlite3 *db = f.t->db;
    char err[1024];
    tdb_exec(db, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 25)"
                 " INSERT INTO ip SELECT i, 'v' || i FROM s;"
                 "UPDATE ip SET v = 'w' WHERE id <= 5;");
    /* 30 log rows in batches of 10: 10 inserts, 10 inserts, 5 inserts + 5 updates of keys
     * 1..5 (their images are read as of H: already 'w' in the first batch). */
    cdc_stream_batch_t b = step(&f, 10,
                                "0 c 1 = 1|'w'\n0 c 2 = 2|'w'\n0 c 3 = 3|'w'\n0 c 4 = 4|'w'\n"
                                "0 c 5 = 5|'w'\n0 c 6 = 6|'v6'\n0 c 7 = 7|'v7'\n0 c 8 = 8|'v8'\n"
                                "0 c 9 = 9|'v9'\n0 c 10 = 10|'v10'\n");
    assert_int_equal(b.log_rows, 10);
    assert_int_equal(b.last_seq, 10);
    assert_int_equal(b.h, 30);
    b = step(&f, 10,
             "0 c 11 = 11|'v11'\n0 c 12 = 12|'v12'\n0 c 13 = 13|'v13'\n"
             "0 c 14 = 14|'v14'\n0 c 15 = 15|'v15'\n0 c 16 = 16|'v16'\n"
             "0 c 17 = 17|'v17'\n0 c 18 = 18|'v18'\n0 c 19 = 19|'v19'\n"
             "0 c 20 = 20|'v20'\n");
    b = step(&f, 10,
             "0 c 21 = 21|'v21'\n0 c 22 = 22|'v22'\n0 c 23 = 23|'v23'\n"
             "0 c 24 = 24|'v24'\n0 c 25 = 25|'v25'\n0 u 1 = 1|'w'\n0 u 2 = 2|'w'\n"
             "0 u 3 = 3|'w'\n0 u 4 = 4|'w'\n0 u 5 = 5|'w'\n");
    assert_int_equal(b.last_seq, 30);
    b = step(&f, 10, "");
    assert_int_equal(b.last_seq, 30);

    /* Pruned up to 30: H stays, later numbers continue above it. */
    cdc_pos_t ack = {b.epoch, 30};
    assert_int_equal(cdc_position_acknowledge(db, &ack, 0, 1000, NULL, err, sizeof(err)),
                     CDC_CAPTURE_EOK);
    b = step(&f, 10, "");
    assert_int_equal(b.h, 30);

    /* A table the caller did not pass: stale, nothing handed over or consumed. */
    tdb_exec(db, "INSERT INTO ip VALUES (100, 'x'); INSERT INTO u VALUES ('z', 1);");
    seen_t s;
    seen_init(&s);
    b.last_seq = -7;
    const cdc_table_info_t *only_ip[] = {f.ti[0]};
    assert_int_equal(cdc_stream_read(db, only_ip, 1, f.seq, 0, see, &s, &b, err, sizeof(err)),
                     CDC_READ_ESTALE);
    assert_non_null(strstr(err, "table u"));
    assert_int_equal(s.calls, 0);
    assert_int_equal(b.last_seq, -7); /* untouched */

    /* The consumer stops after one change: nothing of the batch counts as consumed. */
    s.stop_after = 1;
    const cdc_table_info_t *const *all = (const cdc_table_info_t *const *)f.ti;
    assert_int_equal(cdc_stream_read(db, all, f.n, f.seq, 0, see, &s, &b, err, sizeof(err)),
                     CDC_READ_EABORTED);
    assert_int_equal(s.calls, 1);
    assert_int_equal(b.last_seq, f.seq);
    step(&f, 0, "0 c 100 = 100|'x'\n1 c 'z' = 'z'|1\n");
    assert_int_equal(f.seq, 32);

    /* Without capture: no position, no stream. */
    assert_int_equal(cdc_capture_uninstall(db, 1000, NULL, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(cdc_stream_read(db, all, f.n, 0, 0, see, &s, &b, err, sizeof(err)),
                     CDC_READ_ENOCAPTURE);
    cdc_sqlbuf_free(&s.text);
    fixture_close(&f);
}

/* --- wake-up ------------------------------------------------------------------------------ */

typedef struct committer_s {
    const char *path;
    int delay_ms;
    double committed_ms;
} committer_t;

static void *committer_main(void *arg)
{
    committer_t *c = arg;
    sqlite3 *db = NULL;
    sqlite3_open(c->path, &db);
    sqlite3_busy_timeout(db, 1000);
    struct timespec ts = {0, (long)c->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    if (sqlite3_exec(db, "INSERT INTO ip(v) VALUES ('wake')", NULL, NULL, NULL) != SQLITE_OK)
        c->committed_ms = -1;
    else
        c->committed_ms = cdc_sqlite_now_ms();
    sqlite3_close(db);
    return NULL;
}

static void test_wait(void **state)
{
    fixture_t f;
    fixture_open(&f, *state);
    sqlite3 *db = f.t->db;
    cdc_stream_batch_t b = step(&f, 0, "");
    int64_t version = b.data_version;

    /* Nothing happens: times out after about the timeout. */
    double t0 = cdc_sqlite_now_ms();
    assert_int_equal(cdc_stream_wait(db, &version, 100), 0);
    double waited = cdc_sqlite_now_ms() - t0;
    assert_true(waited >= 100.0 && waited < 400.0);

    /* Our own commits do not wake us. */
    tdb_exec(db, "INSERT INTO ip(v) VALUES ('self')");
    assert_int_equal(cdc_stream_wait(db, &version, 30), 0);

    /* Another connection commits 100 ms from now: woken within ~50 ms of it. */
    for (int round = 0; round < 3; round++) {
        committer_t c = {.path = f.t->path, .delay_ms = 100};
        pthread_t th;
        pthread_create(&th, NULL, committer_main, &c);
        assert_int_equal(cdc_stream_wait(db, &version, 5000), 1);
        double woke = cdc_sqlite_now_ms();
        pthread_join(th, NULL);
        assert_true(c.committed_ms > 0);
        printf("# wait (%s): woken %.1f ms after the commit\n", f.t->mode, woke - c.committed_ms);
        assert_true(woke - c.committed_ms < 50.0);
    }

    /* A commit between the batch and the wait is not missed: the batch's data_version is
     * the baseline. */
    b = step(&f, 0, "0 c 1 = 1|'self'\n0 c 2 = 2|'wake'\n0 c 3 = 3|'wake'\n0 c 4 = 4|'wake'\n");
    committer_t c = {.path = f.t->path, .delay_ms = 0};
    pthread_t th;
    pthread_create(&th, NULL, committer_main, &c);
    pthread_join(th, NULL);
    version = b.data_version;
    t0 = cdc_sqlite_now_ms();
    assert_int_equal(cdc_stream_wait(db, &version, 2000), 1);
    assert_true(cdc_sqlite_now_ms() - t0 < 50.0);
    /* "From now" ignores what happened before. */
    version = -1;
    assert_int_equal(cdc_stream_wait(db, &version, 20), 0);
    fixture_close(&f);
}

int main(void)
{
    cdc_log_set_level(CDC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        TDB_BOTH(test_coalesce_delete_keychange),
        TDB_BOTH(test_typed_keys),
        TDB_BOTH(test_limits_stale_abort),
        TDB_BOTH(test_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
