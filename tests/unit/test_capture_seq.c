/*
 * The change log's sequence under capture_version 2 (WAL and rollback journal): INTEGER
 * PRIMARY KEY numbers the log, so the trigger bodies carry no subquery; acknowledging
 * never deletes the newest row; a log that capture_version 1 pruned to empty gets a
 * floor row at install so numbers continue above seq_floor; the application's own
 * conflict clauses (OR IGNORE, OR REPLACE) cannot drop or replace log rows; a key
 * change logs 'd' of the old key before 'i' of the new one.
 */
#include "test_capture_util.h"

#include "capture.h"
#include "capture_sql.h"
#include "cdc_log.h"
#include "position.h"

static void ack(sqlite3 *db, int64_t epoch, int64_t seq)
{
    char err[512];
    cdc_pos_t p = {epoch, seq};
    if (cdc_position_acknowledge(db, &p, 2, 0, NULL, err, sizeof(err)) != CDC_CAPTURE_EOK)
        fail_msg("acknowledge failed: %s", err);
}

static void test_trigger_bodies_have_no_subquery(void **state)
{
    tdb_t *t = tdb_open(*state);
    tdb_exec(t->db, "CREATE TABLE t(a TEXT, b INTEGER, v, PRIMARY KEY (a, b))");
    tdb_install_all(t->db, 0);
    cdc_table_info_t *ti = tdb_table_info(t->db, "t");
    for (int k = 0; k < CDC_TRIGGER_KINDS; k++) {
        char *sql = cdc_capture_sql_trigger(ti, (cdc_trigger_kind_t)k);
        /* No "(SELECT": the body is compiled into every statement the application
         * prepares, and a subquery per log row was most of that cost. */
        assert_null(strstr(sql, "(SELECT"));
        assert_null(strstr(sql, "seq"));
        assert_null(strstr(sql, "_cdc_state"));
        free(sql);
    }
    cdc_table_info_destroy(ti);
    assert_int_equal(tdb_int(t->db, "SELECT value FROM _cdc_state WHERE key='capture_version'"),
                     CDC_CAPTURE_VERSION);
    tdb_close(t);
}

static void test_newest_row_never_pruned(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
    int64_t e = tdb_install_all(db, 0);
    tdb_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 7) "
                 "INSERT INTO t SELECT i, i FROM n");
    /* Chunks of 2 rows: several transactions, the last one stops below the newest row. */
    ack(db, e, 7);
    assert_text(db, "SELECT group_concat(seq) FROM _cdc_changes", "7\n");
    ack(db, e, 7); /* again: nothing left to prune, terminates */
    assert_text(db, "SELECT group_concat(seq) FROM _cdc_changes", "7\n");
    tdb_exec(db, "DELETE FROM t WHERE id = 1");
    assert_text(db, "SELECT group_concat(seq || op) FROM _cdc_changes", "7i,8d\n");
    ack(db, e, 8);
    tdb_exec(db, "UPDATE t SET v = 'x' WHERE id = 2");
    assert_text(db, "SELECT group_concat(seq || op) FROM _cdc_changes", "8d,9u\n");
    tdb_close(t);
}

static void test_floor_row_after_version_1(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
    int64_t e = tdb_install_all(db, 0);
    /* What capture_version 1 left behind: a log pruned to empty, seq_floor 41. */
    tdb_exec(db, "UPDATE _cdc_state SET value = 1 WHERE key = 'capture_version';"
                 "UPDATE _cdc_state SET value = 41 WHERE key IN ('seq_floor', 'acked_seq');"
                 "DELETE FROM _cdc_changes;");
    cdc_capture_report_t *r = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    assert_int_equal(r->tables[0].status, CDC_CAPTURE_TRIGGERS_CHANGED);
    assert_true(r->epoch > e);
    cdc_capture_report_destroy(r);
    assert_text(db, "SELECT seq || ' ' || tbl || ' ' || op FROM _cdc_changes", "41 _cdc_floor f\n");
    tdb_exec(db, "INSERT INTO t VALUES (1, 'a')");
    assert_text(db, "SELECT group_concat(seq || op) FROM _cdc_changes", "41f,42i\n");
    /* The stream never hands the floor row out. */
    cdc_change_batch_t *b = NULL;
    assert_int_equal(cdc_capture_fetch(db, 0, 100, &b, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(b->n_changes, 1);
    assert_string_equal(b->changes[0].table, "t");
    cdc_change_batch_destroy(b);
    /* A second install finds nothing to do and writes no second floor row. */
    tdb_install_all(db, 0);
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM _cdc_changes WHERE op = 'f'"), 1);
    tdb_close(t);
}

static void test_conflict_clauses_and_key_change(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, u TEXT UNIQUE, v)");
    tdb_install_all(db, 0);
    tdb_exec(db, "INSERT INTO t VALUES (1, 'a', 0);"
                 "INSERT OR IGNORE INTO t VALUES (1, 'b', 0);" /* ignored: nothing logged */
                 "INSERT OR REPLACE INTO t VALUES (1, 'a', 1);"
                 "UPDATE OR REPLACE t SET id = 2 WHERE id = 1;"
                 "INSERT OR IGNORE INTO t VALUES (3, 'c', 0);");
    /* OR REPLACE without recursive_triggers fires no delete trigger (docs/capture.md):
     * the replacing insert logs 'i'. The key change logs 'd' then 'i'. */
    assert_text(db,
                "SELECT group_concat(op || k1, ' ') FROM (SELECT op, k1 FROM _cdc_changes "
                "ORDER BY seq)",
                "i1 i1 d1 i2 i3\n");
    assert_int_equal(tdb_int(db, "SELECT max(seq) - min(seq) + 1 - count(*) FROM _cdc_changes"), 0);
    tdb_close(t);
}

int main(void)
{
    cdc_log_set_level(CDC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        TDB_BOTH(test_trigger_bodies_have_no_subquery),
        TDB_BOTH(test_newest_row_never_pruned),
        TDB_BOTH(test_floor_row_after_version_1),
        TDB_BOTH(test_conflict_clauses_and_key_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
