/*
 * Positions on real SQLite files (WAL and rollback journal): the sequence never goes
 * backwards (acknowledging everything keeps the newest row), acknowledge prunes only up
 * to its position and in chunks, positions beyond the file are refused, a restored older
 * copy is detected with the operator message, new epochs, epoch rules of install, and
 * the coalesced, typed fetch for the stream.
 */
#include "test_capture_util.h"

#include "capture.h"
#include "cdc_log.h"
#include "position.h"

static cdc_position_state_t state_of(sqlite3 *db)
{
    char err[512];
    cdc_position_state_t s;
    if (cdc_position_read(db, &s, err, sizeof(err)) != CDC_CAPTURE_EOK)
        fail_msg("position read failed: %s", err);
    return s;
}

static void ack(sqlite3 *db, int64_t epoch, int64_t seq, int chunk, cdc_position_ack_t *res)
{
    char err[512];
    cdc_pos_t p = {epoch, seq};
    if (cdc_position_acknowledge(db, &p, chunk, 0, res, err, sizeof(err)) != CDC_CAPTURE_EOK)
        fail_msg("acknowledge failed: %s", err);
}

static void test_seq_never_goes_back(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
    int64_t e = tdb_install_all(db, 0);
    assert_int_equal(e, 1);
    tdb_exec(db, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    cdc_position_state_t s = state_of(db);
    assert_int_equal(s.high, 3);
    assert_int_equal(s.max_seq, 3);
    /* Acknowledge everything: the newest row stays (INTEGER PRIMARY KEY numbers the log
     * from it), everything below it goes. */
    cdc_position_ack_t res;
    ack(db, e, 3, 0, &res);
    assert_int_equal(res.pruned, 2);
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM _cdc_changes"), 1);
    s = state_of(db);
    assert_int_equal(s.high, 3);
    assert_int_equal(s.max_seq, 3);
    assert_int_equal(s.floor, 3);
    tdb_exec(db, "UPDATE t SET v = 'z' WHERE id = 2");
    assert_text(db, "SELECT group_concat(seq) FROM _cdc_changes", "3,4\n");
    /* Prune the newest again, in a different pattern: several rows, partial then all. */
    tdb_exec(db, "DELETE FROM t");
    s = state_of(db);
    assert_int_equal(s.high, 7);
    ack(db, e, 5, 0, &res);
    assert_int_equal(res.pruned, 3);
    assert_text(db, "SELECT group_concat(seq) FROM _cdc_changes", "6,7\n");
    ack(db, e, 7, 0, &res);
    assert_int_equal(res.pruned, 1);
    tdb_exec(db, "INSERT INTO t VALUES (9, 'n')");
    assert_text(db, "SELECT group_concat(seq) FROM _cdc_changes", "7,8\n");
    s = state_of(db);
    assert_int_equal(s.acked_seq, 7);
    assert_int_equal(s.acked_epoch, e);
    /* An older acknowledgement never lowers the record. */
    ack(db, e, 2, 0, &res);
    assert_int_equal(res.pruned, 0);
    s = state_of(db);
    assert_int_equal(s.acked_seq, 7);
    assert_int_equal(s.floor, 7);
    tdb_close(t);
}

static void test_ack_prunes_only_up_to_position(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
    int64_t e = tdb_install_all(db, 0);
    tdb_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) "
                 "INSERT INTO t SELECT i, i FROM n");
    cdc_position_ack_t res;
    ack(db, e, 4, 0, &res);
    assert_int_equal(res.pruned, 4);
    assert_int_equal(res.transactions, 1);
    assert_text(db, "SELECT min(seq) || '-' || max(seq) || ':' || count(*) FROM _cdc_changes",
                "5-10:6\n");
    /* A large backlog is pruned in several short transactions. */
    tdb_exec(db, "WITH RECURSIVE n(i) AS (SELECT 11 UNION ALL SELECT i + 1 FROM n WHERE i < 5010)"
                 " INSERT INTO t SELECT i, i FROM n");
    cdc_position_state_t s = state_of(db);
    assert_int_equal(s.high, 5010);
    ack(db, e, 5000, 1000, &res);
    assert_int_equal(res.pruned, 4996);
    assert_true(res.transactions >= 5);
    printf("# ack of %lld rows (%s): %d transactions, longest lock hold %.3f ms, total %.3f ms\n",
           (long long)res.pruned, t->mode, res.transactions, res.max_hold_ms, res.total_ms);
    assert_text(db, "SELECT min(seq) || '-' || max(seq) FROM _cdc_changes", "5001-5010\n");
    tdb_close(t);
}

static void test_ack_beyond_file_refused(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512] = "";
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY)");
    int64_t e = tdb_install_all(db, 0);
    tdb_exec(db, "INSERT INTO t VALUES (1), (2)");
    cdc_pos_t too_far = {e, 3};
    assert_int_equal(cdc_position_acknowledge(db, &too_far, 0, 0, NULL, err, sizeof(err)),
                     CDC_CAPTURE_EBEHIND);
    assert_non_null(strstr(err, "position 3"));
    cdc_pos_t newer_epoch = {e + 1, 1};
    assert_int_equal(cdc_position_acknowledge(db, &newer_epoch, 0, 0, NULL, err, sizeof(err)),
                     CDC_CAPTURE_EBEHIND);
    cdc_position_state_t s = state_of(db);
    assert_int_equal(s.acked_seq, 0);
    assert_int_equal(s.floor, 0);
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM _cdc_changes"), 2);
    /* Acknowledging inside an open transaction is a misuse, reported, nothing done. */
    tdb_exec(db, "BEGIN");
    cdc_pos_t ok = {e, 1};
    assert_int_not_equal(cdc_position_acknowledge(db, &ok, 0, 0, NULL, err, sizeof(err)),
                         CDC_CAPTURE_EOK);
    tdb_exec(db, "ROLLBACK");
    tdb_close(t);
}

static void test_restored_copy_detected(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY)");
    int64_t e = tdb_install_all(db, 0);
    tdb_exec(db, "INSERT INTO t VALUES (1), (2), (3)");
    ack(db, e, 3, 0, NULL);
    /* Back up the file at acknowledged position 3. */
    char backup_path[160];
    snprintf(backup_path, sizeof(backup_path), "%s/backup.db", t->dir);
    sqlite3 *bk = NULL;
    assert_int_equal(sqlite3_open(backup_path, &bk), SQLITE_OK);
    sqlite3_backup *b = sqlite3_backup_init(bk, "main", db, "main");
    assert_non_null(b);
    assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
    sqlite3_backup_finish(b);
    /* The producer delivers and acknowledges more, then the backup is "restored" and the
     * application writes even more into it than the original ever had. */
    tdb_exec(db, "INSERT INTO t VALUES (4), (5), (6), (7), (8)");
    ack(db, e, 8, 0, NULL);
    cdc_pos_t producer = {e, 8};
    cdc_position_state_t orig = state_of(db);
    assert_int_equal(cdc_position_compare(&orig, &producer), CDC_POSITION_SAME_EPOCH);
    tdb_exec(bk, "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 120)"
                 " INSERT INTO t SELECT i FROM n");
    cdc_position_state_t restored = state_of(bk);
    assert_true(restored.high > 8);
    assert_int_equal(restored.acked_seq, 3);
    assert_int_equal(cdc_position_compare(&restored, &producer), CDC_POSITION_BEHIND);
    char msg[1024];
    cdc_position_behind_message("epic7", backup_path, "pipeline.yaml", &restored, &producer, msg,
                                sizeof(msg));
    char *expect = cdc_asprintf(
        "source epic7 (%s): change log is at epoch 1 position 24 (acknowledged up to 3) but the "
        "producer already acknowledged epoch 1 position 8 > 3: the file was replaced by an "
        "older copy (restored from a backup?). Start a new epoch with "
        "`cdc-producer -c pipeline.yaml --new-epoch epic7` to re-snapshot it.",
        backup_path);
    assert_string_equal(msg, expect);
    free(expect);
    /* The operator starts a new epoch: the copy is then newer, to be re-snapshotted. */
    int64_t ne = 0;
    cdc_sqlite_txstats_t st = {0};
    assert_int_equal(cdc_position_new_epoch(bk, producer.epoch, 0, &ne, &st, err, sizeof(err)),
                     CDC_CAPTURE_EOK);
    assert_int_equal(ne, e + 1);
    cdc_position_state_t after = state_of(bk);
    assert_int_equal(after.epoch, e + 1);
    assert_int_equal(after.high, restored.high); /* nothing else changed */
    assert_int_equal(cdc_position_compare(&after, &producer), CDC_POSITION_NEW_EPOCH);
    /* An older epoch in the file is behind too, with its own wording. */
    cdc_pos_t later = {e + 5, 1};
    assert_int_equal(cdc_position_compare(&after, &later), CDC_POSITION_BEHIND);
    cdc_position_behind_message("epic7", backup_path, NULL, &after, &later, msg, sizeof(msg));
    assert_non_null(strstr(msg, "at epoch 2 (position 24)"));
    assert_non_null(strstr(msg, "`cdc-producer -c CONFIG --new-epoch epic7`"));
    /* No record yet (epoch 0): a new epoch for the producer. */
    cdc_pos_t none = {0, 0};
    assert_int_equal(cdc_position_compare(&after, &none), CDC_POSITION_NEW_EPOCH);
    sqlite3_close(bk);
    unlink(backup_path);
    tdb_close(t);
}

static void test_epoch_rules(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY)");
    assert_int_equal(tdb_install_all(db, 5), 6); /* fresh install: above the producer's */
    assert_int_equal(tdb_install_all(db, 5), 6); /* nothing to do: same epoch */
    assert_int_equal(tdb_install_all(db, 9), 6); /* min_epoch only matters for new epochs */
    tdb_exec(db, "INSERT INTO t VALUES (1)");
    assert_int_equal(cdc_capture_uninstall(db, 0, NULL, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(tdb_install_all(db, 6), 7); /* reinstall after uninstall: newer */
    int64_t ne = 0;
    assert_int_equal(cdc_position_new_epoch(db, 0, 0, &ne, NULL, err, sizeof(err)),
                     CDC_CAPTURE_EOK);
    assert_int_equal(ne, 8);
    tdb_exec(db, "CREATE TABLE u(id INTEGER PRIMARY KEY)");
    assert_int_equal(tdb_install_all(db, 0), 9); /* a table newly captured: new epoch */
    cdc_position_state_t s;
    assert_int_equal(cdc_position_read(db, &s, err, sizeof(err)), CDC_CAPTURE_EOK);
    cdc_pos_t p = cdc_position_of(&s);
    cdc_pos_t q = {8, 100};
    assert_true(cdc_pos_cmp(p, q) > 0);
    assert_true(cdc_pos_cmp(q, p) < 0);
    assert_int_equal(cdc_pos_cmp(p, p), 0);
    assert_int_equal(cdc_capture_uninstall(db, 0, NULL, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(cdc_position_read(db, &s, err, sizeof(err)), CDC_CAPTURE_ENOCAPTURE);
    assert_int_equal(cdc_position_new_epoch(db, 0, 0, &ne, NULL, err, sizeof(err)),
                     CDC_CAPTURE_ENOCAPTURE);
    tdb_close(t);
}

static const cdc_change_t *find_change(const cdc_change_batch_t *b, const char *tbl, size_t i)
{
    for (size_t n = 0, k = 0; n < b->n_changes; n++)
        if (strcmp(b->changes[n].table, tbl) == 0 && k++ == i)
            return &b->changes[n];
    fail_msg("change %zu of %s not found", i, tbl);
    return NULL;
}

static void test_fetch_coalesced(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE ip(id INTEGER PRIMARY KEY, v);"
                 "CREATE TABLE u(k PRIMARY KEY, v);");
    tdb_install_all(db, 0);
    tdb_exec(db, "INSERT INTO ip VALUES (1, 'a');"         /* 1 */
                 "UPDATE ip SET v = 'b';"                  /* 2 */
                 "INSERT INTO ip VALUES (2, 'c');"         /* 3 */
                 "DELETE FROM ip WHERE id = 1;"            /* 4 */
                 "UPDATE ip SET id = 3 WHERE id = 2;"      /* 5 d 2, 6 i 3 */
                 "INSERT INTO u VALUES (1, 'int');"        /* 7 */
                 "INSERT INTO u VALUES ('1', 'text');"     /* 8 */
                 "INSERT INTO u VALUES (1.5, 'real');"     /* 9 */
                 "UPDATE u SET v = 'again' WHERE k = 1;"); /* 10 */
    cdc_change_batch_t *b = NULL;
    /* In the caller's read transaction, together with the high-water mark. */
    tdb_exec(db, "BEGIN");
    assert_int_equal(cdc_capture_fetch(db, 0, 100, &b, err, sizeof(err)), CDC_CAPTURE_EOK);
    cdc_position_state_t s = state_of(db);
    tdb_exec(db, "COMMIT");
    assert_int_equal(s.high, 10);
    assert_int_equal(b->after, 0);
    assert_int_equal(b->upto, 10);
    assert_int_equal(b->n_rows, 10);
    assert_int_equal(b->n_changes, 6);
    for (size_t i = 1; i < b->n_changes; i++)
        assert_true(b->changes[i - 1].seq < b->changes[i].seq);
    const cdc_change_t *c = find_change(b, "ip", 0);
    assert_int_equal(c->seq, 4);
    assert_int_equal(c->op, 'd');
    assert_int_equal(c->n_keys, 1);
    assert_int_equal(c->keys[0].type, CDC_VAL_INTEGER);
    assert_int_equal(c->keys[0].i, 1);
    c = find_change(b, "ip", 1);
    assert_int_equal(c->seq, 5);
    assert_int_equal(c->op, 'd');
    assert_int_equal(c->keys[0].i, 2);
    c = find_change(b, "ip", 2);
    assert_int_equal(c->seq, 6);
    assert_int_equal(c->op, 'i');
    assert_int_equal(c->keys[0].i, 3);
    c = find_change(b, "u", 0); /* text '1' */
    assert_int_equal(c->seq, 8);
    assert_int_equal(c->keys[0].type, CDC_VAL_TEXT);
    assert_int_equal(c->keys[0].len, 1);
    assert_string_equal((const char *)c->keys[0].p, "1");
    c = find_change(b, "u", 1); /* real 1.5 */
    assert_int_equal(c->keys[0].type, CDC_VAL_REAL);
    assert_true(c->keys[0].r == 1.5);
    c = find_change(b, "u", 2); /* integer 1, updated last */
    assert_int_equal(c->seq, 10);
    assert_int_equal(c->op, 'u');
    assert_int_equal(c->keys[0].type, CDC_VAL_INTEGER);
    cdc_change_batch_destroy(b);

    /* A limit bounds the rows read; the next batch continues after upto. */
    assert_int_equal(cdc_capture_fetch(db, 0, 3, &b, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(b->upto, 3);
    assert_int_equal(b->n_rows, 3);
    assert_int_equal(b->n_changes, 2); /* ip 1 (seq 2), ip 2 (seq 3) */
    int64_t next = b->upto;
    cdc_change_batch_destroy(b);
    assert_int_equal(cdc_capture_fetch(db, next, 3, &b, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(b->after, 3);
    assert_int_equal(b->upto, 6);
    cdc_change_batch_destroy(b);
    /* Nothing new: an empty batch that stays where it was. */
    assert_int_equal(cdc_capture_fetch(db, 10, 3, &b, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(b->n_rows, 0);
    assert_int_equal(b->n_changes, 0);
    assert_int_equal(b->upto, 10);
    cdc_change_batch_destroy(b);
    /* Rows of a table no longer captured are not handed out. */
    const char *const only_u[] = {"u"};
    cdc_capture_spec_t spec = {.tables = only_u, .n_tables = 1};
    assert_int_equal(cdc_capture_install(db, &spec, NULL, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(cdc_capture_fetch(db, 0, 100, &b, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(b->n_rows, 10);
    assert_int_equal(b->n_changes, 3);
    cdc_change_batch_destroy(b);
    tdb_close(t);
}

int main(void)
{
    cdc_log_set_level(CDC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        TDB_BOTH(test_seq_never_goes_back),
        TDB_BOTH(test_ack_prunes_only_up_to_position),
        TDB_BOTH(test_ack_beyond_file_refused),
        TDB_BOTH(test_restored_copy_detected),
        TDB_BOTH(test_epoch_rules),
        TDB_BOTH(test_fetch_coalesced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
