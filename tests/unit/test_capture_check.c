/*
 * cdc_capture_check and reinstall on schema changes, in WAL and rollback-journal mode:
 * a table rebuilt with SQLite's ALTER workaround (create, copy, drop, rename) loses its
 * triggers and is detected and repaired; ADD COLUMN, drop, rename, new tables with "*",
 * tables removed from the list, key changes, and widening of the change log.
 */
#include "test_capture_util.h"

#include "capture.h"
#include "cdc_log.h"
#include "position.h"

static cdc_capture_status_t status_of(const cdc_capture_report_t *r, const char *name)
{
    return tdb_report_table(r, name)->status;
}

static int64_t log_count(sqlite3 *db, const char *tbl)
{
    char *sql = cdc_asprintf("SELECT count(*) FROM _cdc_changes WHERE tbl = '%s'", tbl);
    int64_t n = tdb_int(db, sql);
    free(sql);
    return n;
}

static void test_rebuild_detected_and_repaired(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT); CREATE TABLE other(x);"
                 "INSERT INTO t VALUES (1, 'one');");
    cdc_capture_report_t *r = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    int64_t epoch = r->epoch;
    cdc_capture_report_destroy(r);
    int64_t sv0 = 0, sv1 = 0;
    assert_int_equal(cdc_sqlite_schema_version(db, &sv0, err, sizeof(err)), SQLITE_OK);
    /* https://www.sqlite.org/lang_altertable.html#otheralter, as ORMs do it. */
    tdb_exec(db, "BEGIN; CREATE TABLE new_t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER);"
                 "INSERT INTO new_t(id, a) SELECT id, a FROM t; DROP TABLE t;"
                 "ALTER TABLE new_t RENAME TO t; COMMIT;");
    assert_int_equal(cdc_sqlite_schema_version(db, &sv1, err, sizeof(err)), SQLITE_OK);
    assert_true(sv1 != sv0); /* the cheap signal moved */
    tdb_exec(db, "INSERT INTO t VALUES (2, 'lost', 0)");
    assert_int_equal(log_count(db, "t"), 0); /* the write was not captured */
    r = tdb_capture(db, 0, TDB_ALL, 1, NULL, 0);
    assert_int_equal(status_of(r, "t"), CDC_CAPTURE_TRIGGERS_MISSING);
    assert_true(cdc_capture_status_needs_install(status_of(r, "t")));
    assert_int_equal(status_of(r, "other"), CDC_CAPTURE_OK);
    cdc_capture_report_destroy(r);
    r = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    assert_true(r->new_epoch);
    assert_int_equal(r->epoch, epoch + 1);
    for (size_t i = 0; i < r->n_tables; i++)
        assert_int_equal(r->tables[i].reinstalled, strcmp(r->tables[i].table, "t") == 0);
    cdc_capture_report_destroy(r);
    r = tdb_capture(db, 0, TDB_ALL, 1, NULL, 0);
    assert_int_equal(status_of(r, "t"), CDC_CAPTURE_OK);
    cdc_capture_report_destroy(r);
    tdb_exec(db, "INSERT INTO t VALUES (3, 'seen', 1)");
    assert_int_equal(log_count(db, "t"), 1);
    tdb_close(t);
}

static void test_sql_changed_dropped_new(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE t1(id INTEGER PRIMARY KEY); CREATE TABLE t2(id INTEGER PRIMARY "
                 "KEY); CREATE TABLE t3(id INTEGER PRIMARY KEY);");
    cdc_capture_report_destroy(tdb_capture(db, 1, TDB_ALL, 1, NULL, 0));
    tdb_exec(db, "ALTER TABLE t1 ADD COLUMN extra TEXT; DROP TABLE t2;"
                 "CREATE TABLE t4(k TEXT PRIMARY KEY);");
    cdc_capture_report_t *r = tdb_capture(db, 0, TDB_ALL, 1, NULL, 0);
    assert_int_equal(status_of(r, "t1"), CDC_CAPTURE_SQL_CHANGED);
    assert_int_equal(status_of(r, "t2"), CDC_CAPTURE_TABLE_DROPPED);
    assert_int_equal(status_of(r, "t3"), CDC_CAPTURE_OK);
    assert_int_equal(status_of(r, "t4"), CDC_CAPTURE_NEW_TABLE);
    cdc_capture_report_destroy(r);
    r = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    assert_true(r->new_epoch);
    cdc_capture_report_destroy(r);
    assert_text(db, "SELECT tbl FROM _cdc_tables ORDER BY tbl", "t1\nt3\nt4\n");
    r = tdb_capture(db, 0, TDB_ALL, 1, NULL, 0);
    assert_int_equal(r->n_tables, 3);
    for (size_t i = 0; i < r->n_tables; i++)
        assert_int_equal(r->tables[i].status, CDC_CAPTURE_OK);
    cdc_capture_report_destroy(r);
    tdb_exec(db, "INSERT INTO t1 VALUES (1, 'x'); INSERT INTO t4 VALUES ('k');");
    assert_text(db, "SELECT tbl || ' ' || op FROM _cdc_changes ORDER BY seq", "t1 i\nt4 i\n");
    tdb_close(t);
}

static void test_not_configured_and_renamed(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE keep(id INTEGER PRIMARY KEY); CREATE TABLE gone(id INTEGER "
                 "PRIMARY KEY); CREATE TABLE old(id INTEGER PRIMARY KEY);");
    const char *const three[] = {"keep", "gone", "old"};
    cdc_capture_report_t *r = tdb_capture(db, 1, three, 3, NULL, 0);
    int64_t epoch = r->epoch;
    cdc_capture_report_destroy(r);
    /* Dropping a table from the list removes its capture without a new epoch. */
    const char *const two[] = {"keep", "old"};
    r = tdb_capture(db, 1, two, 2, NULL, 0);
    assert_int_equal(status_of(r, "gone"), CDC_CAPTURE_NOT_CONFIGURED);
    assert_false(r->new_epoch);
    assert_int_equal(r->epoch, epoch);
    cdc_capture_report_destroy(r);
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM sqlite_master WHERE type='trigger' "
                                 "AND tbl_name='gone'"),
                     0);
    tdb_exec(db, "INSERT INTO gone VALUES (1)");
    assert_int_equal(log_count(db, "gone"), 0);

    /* A rename keeps the triggers on the renamed table, logging the old name. */
    tdb_exec(db, "ALTER TABLE old RENAME TO new");
    r = tdb_capture(db, 0, TDB_ALL, 1, NULL, 0);
    assert_int_equal(status_of(r, "old"), CDC_CAPTURE_TABLE_DROPPED);
    assert_int_equal(status_of(r, "new"), CDC_CAPTURE_NEW_TABLE);
    assert_int_equal(status_of(r, "gone"), CDC_CAPTURE_NEW_TABLE);
    cdc_capture_report_destroy(r);
    const char *const renamed[] = {"keep", "new"};
    r = tdb_capture(db, 1, renamed, 2, NULL, 0);
    assert_true(r->new_epoch);
    cdc_capture_report_destroy(r);
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM sqlite_master WHERE type='trigger' "
                                 "AND tbl_name='new'"),
                     3);
    tdb_exec(db, "INSERT INTO new VALUES (5)");
    assert_text(db, "SELECT tbl || ' ' || k1 FROM _cdc_changes", "new 5\n");
    r = tdb_capture(db, 0, renamed, 2, NULL, 0);
    for (size_t i = 0; i < r->n_tables; i++)
        assert_int_equal(r->tables[i].status, CDC_CAPTURE_OK);
    cdc_capture_report_destroy(r);
    tdb_close(t);
}

static void test_key_change_and_widen(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE n(a TEXT NOT NULL, b INTEGER NOT NULL, v, UNIQUE(a, b));");
    const char *const only_n[] = {"n"};
    cdc_capture_report_t *r = tdb_capture(db, 1, only_n, 1, NULL, 0);
    assert_int_equal(r->key_width, 1);
    cdc_capture_report_destroy(r);
    tdb_exec(db, "INSERT INTO n VALUES ('x', 1, 'by rowid')");
    char *cols[] = {"a", "b"};
    cdc_table_keys_t keys[] = {{"n", {cols, 2}}};
    r = tdb_capture(db, 0, only_n, 1, keys, 1);
    assert_int_equal(status_of(r, "n"), CDC_CAPTURE_KEY_CHANGED);
    cdc_capture_report_destroy(r);
    r = tdb_capture(db, 1, only_n, 1, keys, 1);
    assert_int_equal(r->key_width, 2);
    assert_true(r->new_epoch);
    cdc_capture_report_destroy(r);
    assert_int_equal(tdb_int(db, "SELECT value FROM _cdc_state WHERE key='key_width'"), 2);
    tdb_exec(db, "UPDATE n SET v = 'by key'");
    char *before = tdb_log(db);
    assert_string_equal(before, "n i 1\nn u 'x',1\n");
    free(before);
    /* The rowid-keyed row logged before the key changed is not handed to the stream. */
    cdc_change_batch_t *b = NULL;
    assert_int_equal(cdc_capture_fetch(db, 0, 100, &b, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(b->n_rows, 2);
    assert_int_equal(b->n_changes, 1);
    assert_int_equal(b->changes[0].n_keys, 2);
    assert_string_equal((const char *)b->changes[0].keys[0].p, "x");
    cdc_change_batch_destroy(b);

    /* Widening keeps older, narrower triggers working. */
    tdb_exec(db, "CREATE TABLE one(id INTEGER PRIMARY KEY);"
                 "CREATE TABLE three(a, b, c, PRIMARY KEY(a, b, c));");
    r = tdb_capture(db, 1, TDB_ALL, 1, keys, 1);
    assert_int_equal(r->key_width, 3);
    cdc_capture_report_destroy(r);
    tdb_exec(db, "DELETE FROM _cdc_changes; INSERT INTO one VALUES (1);"
                 "INSERT INTO three VALUES (1, 'b', x'0c'); DELETE FROM n;");
    char *log = tdb_log(db);
    assert_string_equal(log, "one i 1\nthree i 1,'b',X'0C'\nn d 'x',1\n");
    free(log);
    tdb_close(t);
}

static void test_schema_version_signal(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    int64_t a = 0, b = 0, c = 0;
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY)");
    assert_int_equal(cdc_sqlite_schema_version(db, &a, err, sizeof(err)), SQLITE_OK);
    cdc_capture_report_destroy(tdb_capture(db, 1, TDB_ALL, 1, NULL, 0));
    assert_int_equal(cdc_sqlite_schema_version(db, &b, err, sizeof(err)), SQLITE_OK);
    assert_true(b > a); /* our own install moves it too: only a signal */
    tdb_exec(db, "INSERT INTO t VALUES (1)");
    assert_int_equal(cdc_sqlite_schema_version(db, &c, err, sizeof(err)), SQLITE_OK);
    assert_int_equal(b, c);
    tdb_close(t);
}

int main(void)
{
    cdc_log_set_level(CDC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        TDB_BOTH(test_rebuild_detected_and_repaired), TDB_BOTH(test_sql_changed_dropped_new),
        TDB_BOTH(test_not_configured_and_renamed),    TDB_BOTH(test_key_change_and_widen),
        TDB_BOTH(test_schema_version_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
