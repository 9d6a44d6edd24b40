/*
 * Snapshot chunks on real SQLite files, in WAL and rollback-journal mode: every row
 * exactly once across chunks of 7 for every key kind (INTEGER PRIMARY KEY, TEXT,
 * composite, WITHOUT ROWID, rowid-only, untyped keys mixing storage classes, NOCASE),
 * rows with NULL keys counted, resume after an aborted chunk; a concurrent writer during
 * the snapshot (it never fails; chunk positions never go backwards; snapshot + stream
 * from the first chunk's H, merged by "largest position wins", equal the final table);
 * the read-transaction hold of 2,000-row chunks on a 100k-row table (printed); and the
 * progress estimate and report.
 */
#include "test_capture_util.h"

#include "capture.h"
#include "cdc_log.h"
#include "progress.h"
#include "snapshot.h"
#include "stream.h"
#include "table_info.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* Renders a value with its storage class, so 1, 1.0 and '1' all differ. */
static void render_row(cdc_sqlbuf_t *b, const cdc_value_t *key, size_t nk, const cdc_value_t *row,
                       size_t nc)
{
    for (size_t k = 0; k < nk; k++) {
        cdc_sqlbuf_append(b, k ? "," : "");
        tdb_render_value(b, &key[k], 1);
    }
    cdc_sqlbuf_append(b, " =");
    for (size_t c = 0; c < nc; c++) {
        cdc_sqlbuf_append(b, c ? "|" : " ");
        tdb_render_value(b, &row[c], 1);
    }
    cdc_sqlbuf_append(b, "\n");
}

/* The table as `<key> = <columns>` lines in key order, straight from SQLite. */
static char *expected_rows(sqlite3 *db, const cdc_table_info_t *ti, const char *where)
{
    char *keys = cdc_table_info_key_list(ti);
    char *name = cdc_sqlite_quote_ident(ti->name);
    char *sql = cdc_asprintf("SELECT %s, * FROM %s %s ORDER BY %s", keys, name, where, keys);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_rowbuf_t rb;
    cdc_rowbuf_init(&rb, (size_t)sqlite3_column_count(st));
    while (sqlite3_step(st) == SQLITE_ROW) {
        cdc_value_t *row = cdc_rowbuf_add(&rb);
        for (int i = 0; i < sqlite3_column_count(st); i++)
            cdc_rowbuf_set_column(&rb, &row[i], st, i);
        render_row(&b, row, ti->n_keys, row + ti->n_keys, ti->n_columns);
    }
    cdc_rowbuf_free(&rb);
    sqlite3_finalize(st);
    free(sql);
    free(name);
    free(keys);
    return b.s;
}

typedef struct collect_s {
    cdc_sqlbuf_t text;
    size_t rows;
    size_t stop_after; /* 0: never stop */
} collect_t;

static int collect_row(void *opaque, const cdc_snapshot_row_t *r)
{
    collect_t *c = opaque;
    if (c->stop_after && c->rows == c->stop_after)
        return 1;
    assert_true(r->pos.epoch >= 1);
    render_row(&c->text, r->key, r->n_keys, r->row, r->n_cols);
    c->rows++;
    return 0;
}

/* Snapshots a table in chunks of `limit`; returns the rendered rows; checks H never
 * decreases and the chunk count. */
static char *snapshot_all(sqlite3 *db, const cdc_table_info_t *ti, size_t limit, size_t *null_keys)
{
    char err[1024] = "";
    collect_t c = {.rows = 0};
    cdc_sqlbuf_init(&c.text);
    cdc_snapshot_chunk_t chunk;
    memset(&chunk, 0, sizeof(chunk));
    int64_t prev_h = -1;
    size_t chunks = 0;
    do {
        const cdc_value_t *after = chunks ? chunk.last_key.values : NULL;
        cdc_read_err_t e =
            cdc_snapshot_chunk(db, ti, after, limit, collect_row, &c, &chunk, err, sizeof(err));
        if (e != CDC_READ_OK)
            fail_msg("chunk of %s: %s: %s", ti->name, cdc_read_err2str(e), err);
        assert_true(chunk.h >= prev_h);
        assert_true(chunk.rows <= limit);
        if (chunks == 0 && null_keys)
            *null_keys = chunk.null_keys;
        prev_h = chunk.h;
        chunks++;
    } while (!chunk.done);
    cdc_snapshot_chunk_clear(&chunk);
    return c.text.s;
}

static void test_key_kinds(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE ip(id INTEGER PRIMARY KEY, v TEXT);"
                 "CREATE TABLE tk(code TEXT PRIMARY KEY, v);"
                 "CREATE TABLE comp(a TEXT, b INTEGER, v, PRIMARY KEY(a, b));"
                 "CREATE TABLE wr(k TEXT PRIMARY KEY, n INTEGER, v) WITHOUT ROWID;"
                 "CREATE TABLE nokey(v TEXT, w);"
                 "CREATE TABLE mixed(k PRIMARY KEY, v);"
                 "CREATE TABLE nc(name TEXT COLLATE NOCASE PRIMARY KEY, v);"
                 "CREATE TABLE \"we\"\"ird\"(\"se lect\" INTEGER, \"x\"\"y\" TEXT, v,"
                 " PRIMARY KEY(\"x\"\"y\", \"se lect\"));");
    /* 100 rows each, with gaps, duplicates in key prefixes, and every storage class. */
    tdb_exec(db, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)"
                 " INSERT INTO ip SELECT i * 3, 'v' || i FROM s;"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)"
                 " INSERT INTO tk SELECT 'c' || (i * 7 % 101), i FROM s;"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)"
                 " INSERT INTO comp SELECT char(97 + i % 5), i / 5, x'00' || i FROM s;"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)"
                 " INSERT INTO wr SELECT printf('k%03d', 100 - i), i, i * 1.5 FROM s;"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)"
                 " INSERT INTO nokey SELECT 'n' || i, NULL FROM s;"
                 "DELETE FROM nokey WHERE rowid % 10 = 0;"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20)"
                 " INSERT INTO mixed SELECT i, 'int' FROM s UNION ALL SELECT i + 0.5, 'real' FROM s"
                 " UNION ALL SELECT CAST(i AS TEXT), 'text' FROM s"
                 " UNION ALL SELECT CAST(i AS BLOB) || x'00', 'blob' FROM s;"
                 "INSERT INTO mixed VALUES (-9223372036854775808, 'min'), (1e300, 'big'), "
                 " ('', 'empty'), (x'', 'empty blob');"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50)"
                 " INSERT INTO nc SELECT CASE WHEN i % 2 THEN upper(char(96 + i % 26)) ELSE "
                 " char(96 + i % 26) END || i, i FROM s;"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 60)"
                 " INSERT INTO \"we\"\"ird\" SELECT i % 4, 'p' || (i / 4), i FROM s;");
    tdb_install_all(db, 0);
    static const char *const tables[] = {"ip",    "tk",    "comp", "wr",
                                         "nokey", "mixed", "nc",   "we\"ird"};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        cdc_table_info_t *ti = tdb_table_info(db, tables[i]);
        char *want = expected_rows(db, ti, "");
        char *got = snapshot_all(db, ti, 7, NULL);
        if (strcmp(want, got) != 0)
            fail_msg("table %s (%s): snapshot differs\n--- want\n%s--- got\n%s", tables[i], t->mode,
                     want, got);
        assert_true(strlen(want) > 100);
        /* One big chunk gives the same rows. */
        char *one = snapshot_all(db, ti, 100000, NULL);
        assert_string_equal(one, want);
        free(one);
        free(want);
        free(got);
        cdc_table_info_destroy(ti);
    }
    /* The rowid-keyed table hands the rowid as its key. */
    cdc_table_info_t *ti = tdb_table_info(db, "nokey");
    assert_int_equal(ti->key_kind, CDC_KEY_ROWID);
    char *got = snapshot_all(db, ti, 7, NULL);
    assert_non_null(strstr(got, "\ni11 = t'n11'|NULL\n"));
    assert_null(strstr(got, "i10 ="));
    free(got);
    cdc_table_info_destroy(ti);
    tdb_close(t);
}

static void test_empty_and_null_keys(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE e(id INTEGER PRIMARY KEY, v);"
                 "CREATE TABLE nk(code TEXT PRIMARY KEY, v);"
                 "INSERT INTO nk VALUES (NULL, 1), (NULL, 2), ('a', 3), ('b', 4), ('c', 5);");
    tdb_install_all(db, 0);
    cdc_table_info_t *e = tdb_table_info(db, "e");
    cdc_snapshot_chunk_t chunk;
    memset(&chunk, 0, sizeof(chunk));
    collect_t c = {.rows = 0};
    cdc_sqlbuf_init(&c.text);
    assert_int_equal(cdc_snapshot_chunk(db, e, NULL, 0, collect_row, &c, &chunk, err, sizeof(err)),
                     CDC_READ_OK);
    assert_int_equal(chunk.rows, 0);
    assert_true(chunk.done);
    assert_int_equal(chunk.last_key.n, 0);
    assert_int_equal(chunk.epoch, 1);
    cdc_snapshot_chunk_clear(&chunk);
    cdc_sqlbuf_free(&c.text);
    cdc_table_info_destroy(e);

    /* NULL keys: counted and left out, everything else exactly once, even when a chunk
     * boundary falls right after the NULLs would have been. */
    cdc_table_info_t *nk = tdb_table_info(db, "nk");
    size_t nulls = 0;
    char *got = snapshot_all(db, nk, 2, &nulls);
    assert_int_equal(nulls, 2);
    char *want = expected_rows(db, nk, "WHERE code IS NOT NULL");
    assert_string_equal(got, want);
    assert_string_equal(got, "t'a' = t'a'|i3\nt'b' = t'b'|i4\nt'c' = t'c'|i5\n");
    free(got);
    free(want);
    cdc_table_info_destroy(nk);

    /* Without capture there is no position to give the rows. */
    tdb_exec(db, "CREATE TABLE plain(id INTEGER PRIMARY KEY)");
    assert_int_equal(cdc_capture_uninstall(db, 1000, NULL, err, sizeof(err)), CDC_CAPTURE_EOK);
    cdc_table_info_t *p = tdb_table_info(db, "plain");
    memset(&chunk, 0, sizeof(chunk));
    assert_int_equal(cdc_snapshot_chunk(db, p, NULL, 0, collect_row, &c, &chunk, err, sizeof(err)),
                     CDC_READ_ENOCAPTURE);
    cdc_table_info_destroy(p);
    tdb_close(t);
}

static void test_abort_and_resume(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE c(a TEXT, b INTEGER, PRIMARY KEY(a, b));"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 30)"
                 " INSERT INTO c SELECT char(97 + i % 3), i FROM s;");
    tdb_install_all(db, 0);
    cdc_table_info_t *ti = tdb_table_info(db, "c");
    collect_t c = {.rows = 0, .stop_after = 4};
    cdc_sqlbuf_init(&c.text);
    cdc_snapshot_chunk_t chunk;
    memset(&chunk, 0, sizeof(chunk));
    /* The consumer takes 4 rows of a 10-row chunk, then refuses: resume after the 4th. */
    assert_int_equal(
        cdc_snapshot_chunk(db, ti, NULL, 10, collect_row, &c, &chunk, err, sizeof(err)),
        CDC_READ_EABORTED);
    assert_int_equal(chunk.rows, 4);
    assert_false(chunk.done);
    assert_int_equal(chunk.last_key.n, 2);
    /* The owned key survives a copy out and the chunk being cleared. */
    cdc_key_t saved = {0, NULL};
    cdc_key_copy(&saved, chunk.last_key.values, chunk.last_key.n);
    cdc_snapshot_chunk_clear(&chunk);
    c.stop_after = 0;
    while (!chunk.done) {
        const cdc_value_t *after = chunk.last_key.n ? chunk.last_key.values : saved.values;
        assert_int_equal(
            cdc_snapshot_chunk(db, ti, after, 10, collect_row, &c, &chunk, err, sizeof(err)),
            CDC_READ_OK);
    }
    assert_int_equal(c.rows, 30);
    char *want = expected_rows(db, ti, "");
    assert_string_equal(c.text.s, want);
    free(want);
    cdc_key_clear(&saved);
    cdc_snapshot_chunk_clear(&chunk);
    cdc_sqlbuf_free(&c.text);
    cdc_table_info_destroy(ti);
    tdb_close(t);
}

/* --- concurrent writer and the snapshot/stream handoff -------------------------------- */

typedef struct writer_s {
    const char *path;
    atomic_int stop;
    atomic_long ops;
    long failures;
    char last_error[600];
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    sqlite3 *db = NULL;
    sqlite3_open(w->path, &db);
    sqlite3_busy_timeout(db, 1000);
    unsigned seed = 42;
    for (long i = 0; !atomic_load(&w->stop); i++) {
        char sql[256];
        long a = rand_r(&seed) % 2400 + 1, b = rand_r(&seed) % 2400 + 1;
        switch (rand_r(&seed) % 6) {
        case 0:
            snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO items VALUES (%ld, 'new%ld', %ld)", a,
                     i, i);
            break;
        case 1:
        case 2:
            snprintf(sql, sizeof(sql), "UPDATE items SET v = 'upd%ld', n = n + 1 WHERE id = %ld", i,
                     a);
            break;
        case 3:
            snprintf(sql, sizeof(sql), "DELETE FROM items WHERE id = %ld", a);
            break;
        case 4:
            snprintf(sql, sizeof(sql), "UPDATE OR IGNORE items SET id = %ld WHERE id = %ld", b, a);
            break;
        default:
            snprintf(sql, sizeof(sql),
                     "BEGIN IMMEDIATE; UPDATE items SET n = -n WHERE id BETWEEN %ld AND %ld;"
                     "INSERT OR REPLACE INTO items VALUES (%ld, 'rep%ld', 0); COMMIT",
                     a, a + 20, b, i);
            break;
        }
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            w->failures++;
            snprintf(w->last_error, sizeof(w->last_error), "%s: %s", sql, msg ? msg : "?");
            if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        sqlite3_free(msg);
        w->ops++;
        struct timespec ts = {0, 150 * 1000};
        nanosleep(&ts, NULL);
    }
    sqlite3_close(db);
    return NULL;
}

/* The merged view: per key the image with the largest position (NULL image: deleted). */
typedef struct merge_s {
    sqlite3 *m;
    sqlite3_stmt *put;
} merge_t;

static void merge_open(merge_t *mg)
{
    sqlite3_open(":memory:", &mg->m);
    tdb_exec(mg->m, "CREATE TABLE m(k TEXT PRIMARY KEY, pos INTEGER, img TEXT)");
    sqlite3_prepare_v2(mg->m,
                       "INSERT INTO m VALUES (?1, ?2, ?3) ON CONFLICT(k) DO UPDATE SET "
                       "pos = excluded.pos, img = excluded.img WHERE excluded.pos >= m.pos",
                       -1, &mg->put, NULL);
}

static void merge_put(merge_t *mg, cdc_pos_t pos, const cdc_value_t *key, size_t nk,
                      const cdc_value_t *row, size_t nc)
{
    cdc_sqlbuf_t k, img;
    cdc_sqlbuf_init(&k);
    cdc_sqlbuf_init(&img);
    render_row(&k, key, nk, NULL, 0);
    if (row)
        render_row(&img, key, nk, row, nc);
    sqlite3_bind_text(mg->put, 1, k.s, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(mg->put, 2, pos.h);
    if (row)
        sqlite3_bind_text(mg->put, 3, img.s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(mg->put, 3);
    assert_int_equal(sqlite3_step(mg->put), SQLITE_DONE);
    sqlite3_reset(mg->put);
    cdc_sqlbuf_free(&k);
    cdc_sqlbuf_free(&img);
}

static int merge_snapshot_row(void *opaque, const cdc_snapshot_row_t *r)
{
    merge_put(opaque, r->pos, r->key, r->n_keys, r->row, r->n_cols);
    return 0;
}

static int merge_stream_row(void *opaque, const cdc_stream_change_t *c)
{
    assert_true(c->op == 'd' ? c->row == NULL : c->row != NULL);
    merge_put(opaque, c->pos, c->key, c->n_keys, c->row, c->n_cols);
    return 0;
}

static void test_concurrent_handoff(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[1024] = "";
    tdb_exec(db, "CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT, n INTEGER);"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000)"
                 " INSERT INTO items SELECT i, 'v' || i, i FROM s;");
    tdb_install_all(db, 0);
    /* The producer's connection retries busy reads itself: no SQLite busy handler. */
    sqlite3_busy_timeout(db, 0);
    cdc_table_info_t *ti = tdb_table_info(db, "items");
    writer_t w = {.path = t->path};
    atomic_init(&w.stop, 0);
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    struct timespec warm = {0, 20 * 1000 * 1000};
    nanosleep(&warm, NULL);

    merge_t mg;
    merge_open(&mg);
    cdc_snapshot_chunk_t chunk;
    memset(&chunk, 0, sizeof(chunk));
    int64_t h0 = -1, prev = -1;
    size_t chunks = 0, rows = 0;
    int retries = 0;
    double max_hold = 0;
    do {
        cdc_read_err_t e = cdc_snapshot_chunk(db, ti, chunks ? chunk.last_key.values : NULL, 7,
                                              merge_snapshot_row, &mg, &chunk, err, sizeof(err));
        if (e != CDC_READ_OK)
            fail_msg("chunk %zu: %s: %s", chunks, cdc_read_err2str(e), err);
        if (chunks == 0)
            h0 = chunk.h;
        assert_true(chunk.h >= prev);
        prev = chunk.h;
        rows += chunk.rows;
        retries += chunk.busy_retries;
        if (chunk.hold_ms > max_hold)
            max_hold = chunk.hold_ms;
        chunks++;
        struct timespec gap = {0, 500 * 1000};
        nanosleep(&gap, NULL);
    } while (!chunk.done);
    /* Enough writes for the stream half to merge, also when a busy machine let the writer
     * run less during the snapshot (that it ran at all is checked below: prev > h0). */
    for (int waited = 0; atomic_load(&w.ops) <= 200 && waited < 10000; waited++) {
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    if (w.failures)
        fail_msg("the application's writes failed %ld time(s): %s", w.failures, w.last_error);
    assert_true(atomic_load(&w.ops) > 200);
    assert_true(prev > h0); /* the writer really wrote during the snapshot */

    /* Stream everything after H0, in small batches. */
    const cdc_table_info_t *tables[] = {ti};
    int64_t after = h0;
    size_t batches = 0;
    for (;;) {
        cdc_stream_batch_t b;
        cdc_read_err_t e =
            cdc_stream_read(db, tables, 1, after, 50, merge_stream_row, &mg, &b, err, sizeof(err));
        if (e != CDC_READ_OK)
            fail_msg("stream: %s: %s", cdc_read_err2str(e), err);
        assert_true(b.h >= prev);
        if (b.log_rows == 0)
            break;
        after = b.last_seq;
        batches++;
    }
    char *final_rows = expected_rows(db, ti, "");
    char *merged = tdb_text(mg.m, "SELECT img FROM m WHERE img IS NOT NULL ORDER BY "
                                  "CAST(substr(k, 2) AS INTEGER)");
    /* tdb_text appends "\n" per row and img already ends in one. */
    cdc_sqlbuf_t clean;
    cdc_sqlbuf_init(&clean);
    for (const char *p = merged; *p; p++)
        if (!(p[0] == '\n' && p > merged && p[-1] == '\n'))
            cdc_sqlbuf_printf(&clean, "%c", *p);
    printf("# handoff (%s): %zu chunks of 7 (%zu rows, H %lld..%lld, %d busy retries, longest "
           "chunk transaction %.3f ms), writer %ld ops, %zu stream batches\n",
           t->mode, chunks, rows, (long long)h0, (long long)prev, retries, max_hold,
           (long)atomic_load(&w.ops), batches);
    if (strcmp(clean.s, final_rows) != 0)
        fail_msg("snapshot + stream differ from the final table (%s)", t->mode);
    cdc_sqlbuf_free(&clean);
    free(merged);
    free(final_rows);
    sqlite3_finalize(mg.put);
    sqlite3_close(mg.m);
    cdc_snapshot_chunk_clear(&chunk);
    cdc_table_info_destroy(ti);
    tdb_close(t);
}

/* --- chunk hold times on 100k rows, and progress ---------------------------------------- */

static int count_row(void *opaque, const cdc_snapshot_row_t *r)
{
    (void)r;
    cdc_progress_add(opaque, 1);
    return 0;
}

static void test_chunk_hold_100k(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE big(id INTEGER PRIMARY KEY, name TEXT, amount REAL, note TEXT);"
                 "CREATE TABLE bigt(code TEXT PRIMARY KEY, n INTEGER, note TEXT) WITHOUT ROWID;"
                 "BEGIN;"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100500)"
                 " INSERT INTO big SELECT i, 'customer ' || i, i * 1.25, "
                 " printf('%.*c', 40 + i % 40, 'x') FROM s;"
                 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100500)"
                 " INSERT INTO bigt SELECT printf('c%08d', (i * 7919) % 1000003), i, "
                 " printf('%.*c', 40 + i % 40, 'y') FROM s;"
                 "COMMIT;");
    tdb_install_all(db, 0);
    static const char *const names[] = {"big", "bigt"};
    for (int n = 0; n < 2; n++) {
        cdc_table_info_t *ti = tdb_table_info(db, names[n]);
        int64_t total = 0;
        cdc_progress_method_t method;
        assert_int_equal(cdc_progress_estimate(db, ti, &total, &method, err, sizeof(err)), 0);
        /* More rows than the exact count's cap: rowid range, or unknown without rowid. */
        if (n == 0) {
            assert_int_equal(method, CDC_PROGRESS_ROWID);
            assert_int_equal(total, 100500);
        } else {
            assert_int_equal(method, CDC_PROGRESS_UNKNOWN);
            assert_int_equal(total, -1);
        }
        cdc_progress_t *p = cdc_progress_new("src", names[n], total, 3600);
        FILE *sink = tmpfile();
        cdc_progress_set_output(p, sink, 0);
        cdc_snapshot_chunk_t chunk;
        memset(&chunk, 0, sizeof(chunk));
        size_t chunks = 0;
        double max_hold = 0, sum_hold = 0;
        do {
            assert_int_equal(cdc_snapshot_chunk(db, ti, chunks ? chunk.last_key.values : NULL, 0,
                                                count_row, p, &chunk, err, sizeof(err)),
                             CDC_READ_OK);
            chunks++;
            sum_hold += chunk.hold_ms;
            if (chunk.hold_ms > max_hold)
                max_hold = chunk.hold_ms;
            cdc_progress_report(p, 0);
        } while (!chunk.done);
        assert_int_equal(cdc_progress_done(p), 100500);
        assert_int_equal(chunks, 100500 / CDC_SNAPSHOT_DEFAULT_LIMIT + 1);
        printf("# %s (%s): 100,500 rows in %zu chunks of %d: read transaction held %.3f ms on "
               "average, %.3f ms at most\n",
               names[n], t->mode, chunks, CDC_SNAPSHOT_DEFAULT_LIMIT, sum_hold / (double)chunks,
               max_hold);
        /* Far below an application's 1 s busy timeout even on a loaded machine. */
        assert_true(max_hold < 250.0);
        char line[256];
        cdc_progress_format(p, line, sizeof(line));
        if (n == 0)
            assert_non_null(strstr(line, "100,500/~100,500 rows (100%)"));
        else
            assert_non_null(strstr(line, ": 100,500 rows, "));
        cdc_progress_report(p, 1); /* final: always written */
        rewind(sink);
        char buf[512] = "";
        char last[512] = "";
        while (fgets(buf, sizeof(buf), sink))
            memcpy(last, buf, sizeof(last));
        assert_non_null(strstr(last, "(done)"));
        assert_non_null(strstr(last, names[n]));
        fclose(sink);
        cdc_progress_destroy(p);
        cdc_snapshot_chunk_clear(&chunk);
        cdc_table_info_destroy(ti);
    }
    /* With statistics, the estimate comes from sqlite_stat1. */
    tdb_exec(db, "ANALYZE");
    cdc_table_info_t *ti = tdb_table_info(db, "bigt");
    int64_t total = 0;
    cdc_progress_method_t method;
    assert_int_equal(cdc_progress_estimate(db, ti, &total, &method, err, sizeof(err)), 0);
    assert_int_equal(method, CDC_PROGRESS_STAT1);
    assert_int_equal(total, 100500);
    cdc_table_info_destroy(ti);
    tdb_close(t);
}

static void test_progress_small(void **state)
{
    (void)state;
    tdb_t *t = tdb_open("wal");
    char err[512];
    tdb_exec(t->db, "CREATE TABLE s(id INTEGER PRIMARY KEY); INSERT INTO s VALUES (1), (5), (9);");
    cdc_table_info_t *ti = tdb_table_info(t->db, "s");
    int64_t total = 0;
    cdc_progress_method_t method;
    assert_int_equal(cdc_progress_estimate(t->db, ti, &total, &method, err, sizeof(err)), 0);
    assert_int_equal(method, CDC_PROGRESS_EXACT);
    assert_int_equal(total, 3);
    assert_string_equal(cdc_progress_method_name(method), "count");
    cdc_progress_t *p = cdc_progress_new("epic7", "s", 2, 1);
    cdc_progress_add(p, 3); /* more than estimated: the total follows */
    assert_int_equal(cdc_progress_total(p), 3);
    char line[256];
    cdc_progress_format(p, line, sizeof(line));
    assert_non_null(strstr(line, "epic7 s: 3/~3 rows (100%)"));
    /* A terminal gets one rewritten line. */
    FILE *tty = tmpfile();
    cdc_progress_set_output(p, tty, 1);
    cdc_progress_report(p, 1);
    rewind(tty);
    char buf[256] = "";
    assert_non_null(fgets(buf, sizeof(buf), tty));
    assert_int_equal(buf[0], '\r');
    assert_non_null(strstr(buf, "done\033[K\n"));
    fclose(tty);
    cdc_progress_destroy(p);
    cdc_table_info_destroy(ti);
    tdb_close(t);
}

int main(void)
{
    cdc_log_set_level(CDC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        TDB_BOTH(test_key_kinds),        TDB_BOTH(test_empty_and_null_keys),
        TDB_BOTH(test_abort_and_resume), TDB_BOTH(test_concurrent_handoff),
        TDB_BOTH(test_chunk_hold_100k),  cmocka_unit_test(test_progress_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
