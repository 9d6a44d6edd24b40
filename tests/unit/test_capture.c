/*
 * Capture install / triggers / uninstall on real SQLite files, each test in WAL and in
 * rollback-journal mode: key kinds (INTEGER PRIMARY KEY, TEXT, composite, WITHOUT ROWID,
 * rowid, config-named), typed keys, key-changing updates, idempotent install, exact
 * .dump after uninstall, virtual tables refused, awkward identifiers.
 */
#include "test_capture_util.h"

#include "capture.h"
#include "cdc_log.h"
#include "table_info.h"

static void assert_log(sqlite3 *db, const char *expected)
{
    char *log = tdb_log(db);
    assert_string_equal(log, expected);
    free(log);
}

static void clear_log(sqlite3 *db)
{
    /* Tests only: a real log is pruned by cdc_position_acknowledge. */
    tdb_exec(db, "DELETE FROM _cdc_changes");
}

static void test_key_kinds(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE ip(id INTEGER PRIMARY KEY, v TEXT);"
                 "CREATE TABLE tk(code TEXT PRIMARY KEY, v);"
                 "CREATE TABLE comp(a TEXT, b INTEGER, v, PRIMARY KEY(a, b));"
                 "CREATE TABLE wr(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
                 "CREATE TABLE nokey(v TEXT);"
                 "CREATE TABLE cfg(x INTEGER NOT NULL, y TEXT NOT NULL, v, UNIQUE(x, y));"
                 "CREATE TABLE cfg_loose(x, v);");
    char *cfg_cols[] = {"x", "y"};
    char *loose_cols[] = {"x"};
    cdc_table_keys_t keys[] = {{"cfg", {cfg_cols, 2}}, {"cfg_loose", {loose_cols, 1}}};
    cdc_capture_report_t *r = tdb_capture(db, 1, TDB_ALL, 1, keys, 2);
    assert_int_equal(r->epoch, 1);
    assert_true(r->new_epoch);
    assert_int_equal(r->key_width, 2);
    assert_int_equal(r->n_tables, 7);
    for (size_t i = 0; i < r->n_tables; i++) {
        assert_int_equal(r->tables[i].status, CDC_CAPTURE_NEW_TABLE);
        assert_true(r->tables[i].reinstalled);
    }
    assert_non_null(tdb_report_table(r, "nokey")->warning);
    assert_non_null(strstr(tdb_report_table(r, "nokey")->warning, "rowid"));
    assert_null(tdb_report_table(r, "cfg")->warning);
    assert_null(tdb_report_table(r, "ip")->warning);
    assert_non_null(strstr(tdb_report_table(r, "cfg_loose")->warning, "UNIQUE"));
    printf("# install of 7 tables (%s): lock held %.3f ms\n", t->mode, r->tx.hold_ms);
    cdc_capture_report_destroy(r);
    assert_text(db, "SELECT key_kind || ':' || key_cols FROM _cdc_tables WHERE tbl='nokey'",
                "rowid:rowid\n");

    tdb_exec(db, "INSERT INTO ip VALUES (1, 'a'); UPDATE ip SET v='b' WHERE id=1;"
                 "UPDATE ip SET id=2 WHERE id=1; DELETE FROM ip WHERE id=2;");
    assert_log(db, "ip i 1\nip u 1\nip d 1\nip i 2\nip d 2\n");
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM _cdc_changes WHERE ts IS NULL OR "
                                 "typeof(ts) <> 'real' OR ts < 2460000"),
                     0);
    assert_int_equal(tdb_int(db, "SELECT max(seq) - min(seq) + 1 - count(*) FROM _cdc_changes"), 0);
    clear_log(db);

    tdb_exec(db, "INSERT INTO tk VALUES ('1', 'x'); UPDATE tk SET v = 'y';"
                 "UPDATE tk SET code = 'one'; DELETE FROM tk;");
    assert_log(db, "tk i '1'\ntk u '1'\ntk d '1'\ntk i 'one'\ntk d 'one'\n");
    clear_log(db);

    tdb_exec(db, "INSERT INTO comp VALUES ('a', 1, 'v'); UPDATE comp SET v = 'w';"
                 "UPDATE comp SET b = 2; UPDATE comp SET a = 'z', b = 3; DELETE FROM comp;");
    assert_log(db, "comp i 'a',1\ncomp u 'a',1\ncomp d 'a',1\ncomp i 'a',2\ncomp d 'a',2\n"
                   "comp i 'z',3\ncomp d 'z',3\n");
    clear_log(db);

    tdb_exec(db, "INSERT INTO wr VALUES ('k1', 1); UPDATE wr SET v = 2;"
                 "UPDATE wr SET k = 'k2'; DELETE FROM wr;");
    assert_log(db, "wr i 'k1'\nwr u 'k1'\nwr d 'k1'\nwr i 'k2'\nwr d 'k2'\n");
    clear_log(db);

    tdb_exec(db, "INSERT INTO nokey VALUES ('a'); INSERT INTO nokey VALUES ('b');"
                 "UPDATE nokey SET v = 'c' WHERE v = 'b'; UPDATE nokey SET rowid = 7 WHERE "
                 "v = 'a'; DELETE FROM nokey WHERE v = 'c';");
    assert_log(db, "nokey i 1\nnokey i 2\nnokey u 2\nnokey d 1\nnokey i 7\nnokey d 2\n");
    clear_log(db);

    tdb_exec(db, "INSERT INTO cfg VALUES (5, 'y', 'v'); UPDATE cfg SET v = 'w';"
                 "UPDATE cfg SET y = 'z'; DELETE FROM cfg;");
    assert_log(db, "cfg i 5,'y'\ncfg u 5,'y'\ncfg d 5,'y'\ncfg i 5,'z'\ncfg d 5,'z'\n");

    /* The application's multi-row statements: one log row per row, in one transaction. */
    clear_log(db);
    tdb_exec(db, "INSERT INTO ip(v) SELECT 'r' FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL "
                 "SELECT 3); UPDATE ip SET v = 's';");
    assert_log(db, "ip i 1\nip i 2\nip i 3\nip u 1\nip u 2\nip u 3\n");
    tdb_close(t);
}

static void test_typed_keys(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE u(k PRIMARY KEY, v);"
                 "CREATE TABLE n(name TEXT COLLATE NOCASE PRIMARY KEY, v);"
                 "CREATE TABLE r(x REAL PRIMARY KEY, v);"
                 "CREATE TABLE b(k BLOB PRIMARY KEY, v);");
    cdc_capture_report_destroy(tdb_capture(db, 1, TDB_ALL, 1, NULL, 0));
    /* No affinity on the key: integer 1 and text '1' are two rows, and two keys. */
    tdb_exec(db, "INSERT INTO u VALUES (1, 'int'); INSERT INTO u VALUES ('1', 'text');"
                 "UPDATE u SET v = 'x' WHERE k = '1'; UPDATE u SET k = 2 WHERE k = 1;");
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM u"), 2);
    assert_log(db, "u i 1\nu i '1'\nu u '1'\nu d 1\nu i 2\n");
    assert_text(db, "SELECT group_concat(typeof(k1)) FROM _cdc_changes",
                "integer,text,text,integer,integer\n");
    clear_log(db);
    /* 'a' -> 'A' is the same key to NOCASE but a different value downstream. */
    tdb_exec(db, "INSERT INTO n VALUES ('a', 1); UPDATE n SET name = 'A';");
    assert_log(db, "n i 'a'\nn d 'a'\nn i 'A'\n");
    clear_log(db);
    tdb_exec(db, "INSERT INTO r VALUES (1.5, 1); INSERT INTO r VALUES (2, 1);"
                 "INSERT INTO b VALUES (x'00ff', 1);");
    assert_log(db, "r i 1.5\nr i 2.0\nb i X'00FF'\n");
    tdb_close(t);
}

static void test_install_idempotent(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v); CREATE TABLE b(k TEXT, v);");
    cdc_capture_report_t *r1 = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    int64_t v1 = 0;
    assert_int_equal(cdc_sqlite_schema_version(db, &v1, err, sizeof(err)), SQLITE_OK);
    char *dump1 = tdb_dump(db);
    cdc_capture_report_t *r2 = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    int64_t v2 = 0;
    assert_int_equal(cdc_sqlite_schema_version(db, &v2, err, sizeof(err)), SQLITE_OK);
    char *dump2 = tdb_dump(db);
    assert_int_equal(r2->epoch, r1->epoch);
    assert_false(r2->new_epoch);
    assert_int_equal(r2->tx.attempts, 0); /* no write transaction at all */
    assert_int_equal(v1, v2);
    assert_string_equal(dump1, dump2);
    for (size_t i = 0; i < r2->n_tables; i++) {
        assert_int_equal(r2->tables[i].status, CDC_CAPTURE_OK);
        assert_false(r2->tables[i].reinstalled);
    }
    /* The stored trigger text is exactly what capture generates (else the second install
     * would have reported "triggers changed"). */
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM sqlite_master WHERE type='trigger'"), 6);
    free(dump1);
    free(dump2);
    cdc_capture_report_destroy(r1);
    cdc_capture_report_destroy(r2);
    assert_int_equal(cdc_capture_installed(db, err, sizeof(err)), 1);
    tdb_close(t);
}

static void test_uninstall_restores_dump(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, v REAL);"
                 "CREATE TABLE \"order\"(\"select\" TEXT PRIMARY KEY, qty) WITHOUT ROWID;"
                 "CREATE TABLE loose(a, b);"
                 "CREATE INDEX customers_name ON customers(name);"
                 "CREATE VIEW big AS SELECT * FROM customers WHERE v > 10;"
                 "CREATE TABLE audit(msg);"
                 "CREATE TRIGGER app_audit AFTER INSERT ON customers BEGIN "
                 "INSERT INTO audit VALUES ('new ' || NEW.name); END;"
                 "INSERT INTO customers VALUES (1, 'ann', 12.5), (2, 'bob', 3);"
                 "INSERT INTO \"order\" VALUES ('x', 1); INSERT INTO loose VALUES (1, x'01');");
    char *cli_before = tdb_cli_dump(t->path);
    char *dump_before = tdb_dump(db);
    cdc_capture_report_t *r = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    cdc_capture_report_destroy(r);
    assert_true(tdb_int(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_cdc\\_%' "
                            "ESCAPE '\\'") == 3 + 3 * 4);
    cdc_sqlite_txstats_t stats = {0};
    assert_int_equal(cdc_capture_uninstall(db, 0, &stats, err, sizeof(err)), CDC_CAPTURE_EOK);
    printf("# uninstall (%s): lock held %.3f ms\n", t->mode, stats.hold_ms);
    char *dump_after = tdb_dump(db);
    assert_string_equal(dump_before, dump_after);
    char *cli_after = tdb_cli_dump(t->path);
    if (cli_before) {
        assert_non_null(cli_after);
        assert_string_equal(cli_before, cli_after);
    } else {
        printf("# sqlite3 CLI not installed: compared the in-process dump only\n");
    }
    /* Idempotent: nothing left, nothing written. */
    cdc_sqlite_txstats_t again = {0};
    assert_int_equal(cdc_capture_uninstall(db, 0, &again, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(again.attempts, 0);
    assert_int_equal(cdc_capture_installed(db, err, sizeof(err)), 0);
    /* The application's own trigger still works. */
    tdb_exec(db, "INSERT INTO customers VALUES (3, 'cy', 1)");
    assert_int_equal(tdb_int(db, "SELECT count(*) FROM audit"), 3);
    free(cli_before);
    free(cli_after);
    free(dump_before);
    free(dump_after);
    tdb_close(t);
}

static void test_virtual_tables_refused(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[1024] = "";
    tdb_exec(db, "CREATE TABLE plain(id INTEGER PRIMARY KEY, body TEXT);"
                 "CREATE VIRTUAL TABLE docs USING fts5(body);"
                 "CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1);");
    cdc_capture_spec_t spec = {.tables = TDB_ALL, .n_tables = 1};
    cdc_capture_report_t *r = NULL;
    assert_int_equal(cdc_capture_install(db, &spec, &r, err, sizeof(err)), CDC_CAPTURE_EREFUSED);
    assert_null(r);
    assert_non_null(strstr(err, "\"boxes\" is a virtual table (module rtree): SQLite cannot "
                                "attach triggers to it; exclude it"));
    assert_non_null(strstr(err, t->path));
    assert_int_equal(cdc_capture_installed(db, err, sizeof(err)), 0);

    const char *const fts[] = {"plain", "docs"};
    spec.tables = fts;
    spec.n_tables = 2;
    assert_int_equal(cdc_capture_install(db, &spec, &r, err, sizeof(err)), CDC_CAPTURE_EREFUSED);
    assert_non_null(strstr(err, "\"docs\" is a virtual table (module fts5)"));

    const char *const shadow[] = {"docs_data"};
    spec.tables = shadow;
    spec.n_tables = 1;
    assert_int_equal(cdc_capture_install(db, &spec, &r, err, sizeof(err)), CDC_CAPTURE_EREFUSED);
    assert_non_null(strstr(err, "shadow table"));

    /* check reports refusals per table instead of failing. */
    spec.tables = TDB_ALL;
    assert_int_equal(cdc_capture_check(db, &spec, &r, err, sizeof(err)), CDC_CAPTURE_EOK);
    assert_int_equal(tdb_report_table(r, "docs")->status, CDC_CAPTURE_REFUSED);
    assert_int_equal(tdb_report_table(r, "plain")->status, CDC_CAPTURE_NEW_TABLE);
    for (size_t i = 0; i < r->n_tables; i++)
        assert_null(strstr(r->tables[i].table, "docs_")); /* shadow tables not listed */
    cdc_capture_report_destroy(r);

    const char *const ok[] = {"plain"};
    r = tdb_capture(db, 1, ok, 1, NULL, 0);
    cdc_capture_report_destroy(r);
    tdb_exec(db, "INSERT INTO plain VALUES (1, 'hello'); INSERT INTO docs VALUES ('hello');");
    assert_log(db, "plain i 1\n");
    tdb_close(t);
}

static void test_identifiers(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[1024];
    tdb_exec(db, "CREATE TABLE \"Café ☕\"(\"order\" INTEGER PRIMARY KEY, \"select\" TEXT);"
                 "CREATE TABLE \"表\"(\"列\" TEXT PRIMARY KEY, \"值\");"
                 "CREATE TABLE \"we\"\"ird 'name\"(\"sp ace\" TEXT, \"qu\"\"ote\" INTEGER, v,"
                 " PRIMARY KEY(\"sp ace\", \"qu\"\"ote\"));"
                 "CREATE TABLE \"order\"(\"select\", \"from\");"
                 "CREATE TABLE \"a b\"(id INTEGER PRIMARY KEY);"
                 "CREATE TABLE a_b(id INTEGER PRIMARY KEY);"
                 "CREATE TABLE shadowing(rowid TEXT, oid TEXT, v);"
                 "CREATE TABLE \"x'); DROP TABLE a_b; --\"(id INTEGER PRIMARY KEY);");
    char *long_name = cdc_malloc(301);
    memset(long_name, 'L', 300);
    long_name[300] = '\0';
    char *sql = cdc_asprintf("CREATE TABLE %s(id INTEGER PRIMARY KEY)", long_name);
    tdb_exec(db, sql);
    free(sql);
    char *dump_before = tdb_dump(db);
    cdc_capture_report_t *r = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    assert_int_equal(r->n_tables, 9);
    assert_int_equal(r->key_width, 2);
    cdc_capture_report_destroy(r);
    assert_int_equal(tdb_int(db, "SELECT count(DISTINCT name) FROM sqlite_master "
                                 "WHERE type='trigger'"),
                     27);
    tdb_exec(db, "INSERT INTO \"Café ☕\" VALUES (7, 'x'); UPDATE \"Café ☕\" SET \"order\" = 8;"
                 "INSERT INTO \"表\" VALUES ('键', 1);"
                 "INSERT INTO \"we\"\"ird 'name\" VALUES ('a b', 3, 'v');"
                 "UPDATE \"we\"\"ird 'name\" SET \"qu\"\"ote\" = 4;"
                 "INSERT INTO \"order\" VALUES ('s', 'f');"
                 "INSERT INTO \"a b\" VALUES (1); INSERT INTO a_b VALUES (2);"
                 "INSERT INTO shadowing VALUES ('r', 'o', 'v');"
                 "INSERT INTO \"x'); DROP TABLE a_b; --\" VALUES (9);");
    sql = cdc_asprintf("INSERT INTO %s VALUES (5)", long_name);
    tdb_exec(db, sql);
    free(sql);
    char *expected = cdc_asprintf("Café ☕ i 7\nCafé ☕ d 7\nCafé ☕ i 8\n表 i '键'\n"
                                  "we\"ird 'name i 'a b',3\nwe\"ird 'name d 'a b',3\n"
                                  "we\"ird 'name i 'a b',4\norder i 1\na b i 1\na_b i 2\n"
                                  "shadowing i 1\nx'); DROP TABLE a_b; -- i 9\n%s i 5\n",
                                  long_name);
    assert_log(db, expected);
    free(expected);
    assert_text(db, "SELECT key_cols FROM _cdc_tables WHERE tbl='shadowing'", "_rowid_\n");
    /* Re-install finds everything as installed; check agrees. */
    r = tdb_capture(db, 1, TDB_ALL, 1, NULL, 0);
    assert_false(r->new_epoch);
    for (size_t i = 0; i < r->n_tables; i++)
        assert_int_equal(r->tables[i].status, CDC_CAPTURE_OK);
    cdc_capture_report_destroy(r);
    tdb_exec(db, "DELETE FROM \"Café ☕\"; DELETE FROM \"表\"; DELETE FROM \"we\"\"ird 'name\";"
                 "DELETE FROM \"order\"; DELETE FROM \"a b\"; DELETE FROM a_b;"
                 "DELETE FROM shadowing; DELETE FROM \"x'); DROP TABLE a_b; --\";");
    sql = cdc_asprintf("DELETE FROM %s", long_name);
    tdb_exec(db, sql);
    free(sql);
    assert_int_equal(cdc_capture_uninstall(db, 0, NULL, err, sizeof(err)), CDC_CAPTURE_EOK);
    char *dump_after = tdb_dump(db);
    assert_string_equal(dump_before, dump_after);
    free(dump_before);
    free(dump_after);
    free(long_name);
    tdb_close(t);
}

static void test_bad_config_keys(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[1024] = "";
    tdb_exec(db, "CREATE TABLE k(id INTEGER PRIMARY KEY, v); CREATE TABLE n(a, b);");
    char *missing[] = {"nope"};
    cdc_table_keys_t keys[] = {{"n", {missing, 1}}};
    cdc_capture_spec_t spec = {.tables = TDB_ALL, .n_tables = 1, .keys = keys, .n_keys = 1};
    assert_int_equal(cdc_capture_install(db, &spec, NULL, err, sizeof(err)), CDC_CAPTURE_EREFUSED);
    assert_non_null(strstr(err, "table \"n\" has no column \"nope\""));
    char *other[] = {"v"};
    cdc_table_keys_t keys2[] = {{"k", {other, 1}}};
    spec.keys = keys2;
    assert_int_equal(cdc_capture_install(db, &spec, NULL, err, sizeof(err)), CDC_CAPTURE_EREFUSED);
    assert_non_null(strstr(err, "declares a PRIMARY KEY"));
    const char *const absent[] = {"k", "absent"};
    cdc_capture_spec_t spec2 = {.tables = absent, .n_tables = 2};
    assert_int_equal(cdc_capture_install(db, &spec2, NULL, err, sizeof(err)),
                     CDC_CAPTURE_ENOTFOUND);
    assert_non_null(strstr(err, "\"absent\" does not exist"));
    assert_int_equal(cdc_capture_installed(db, err, sizeof(err)), 0);
    tdb_close(t);
}

/* What the application observes must not change: changes() and last_insert_rowid()
 * ignore the trigger's own insert; and the documented INSERT OR REPLACE gap. */
static void test_app_semantics(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    tdb_exec(db, "CREATE TABLE p(id INTEGER PRIMARY KEY, email TEXT UNIQUE, v);"
                 "INSERT INTO p VALUES (40, 'a@x', 1);");
    cdc_capture_report_destroy(tdb_capture(db, 1, TDB_ALL, 1, NULL, 0));
    tdb_exec(db, "INSERT INTO p(email, v) VALUES ('b@x', 2)");
    assert_int_equal(sqlite3_last_insert_rowid(db), 41);
    assert_int_equal(sqlite3_changes(db), 1);
    tdb_exec(db, "UPDATE p SET v = v + 1");
    assert_int_equal(sqlite3_changes(db), 2);
    clear_log(db);
    /* REPLACE removing row 40 through the UNIQUE email: its delete trigger fires only
     * with recursive_triggers on (the audit catches the other case). */
    tdb_exec(db, "PRAGMA recursive_triggers = ON;"
                 "INSERT OR REPLACE INTO p VALUES (50, 'a@x', 3);");
    assert_log(db, "p d 40\np i 50\n");
    clear_log(db);
    tdb_exec(db, "PRAGMA recursive_triggers = OFF;"
                 "INSERT OR REPLACE INTO p VALUES (60, 'a@x', 4);");
    assert_log(db, "p i 60\n");
    tdb_close(t);
}

static void test_table_info(void **state)
{
    tdb_t *t = tdb_open(*state);
    sqlite3 *db = t->db;
    char err[512];
    tdb_exec(db, "CREATE TABLE T1(b TEXT NOT NULL, a INTEGER, g AS (a * 2), PRIMARY KEY(a, b))"
                 " WITHOUT ROWID;");
    cdc_table_info_t *ti = NULL;
    assert_int_equal(cdc_table_info_load(db, "t1", NULL, &ti, err, sizeof(err)), CDC_TABLE_INFO_OK);
    assert_string_equal(ti->name, "T1");
    assert_int_equal(ti->kind, CDC_TABLE_WITHOUT_ROWID);
    assert_int_equal(ti->key_kind, CDC_KEY_PRIMARY);
    assert_int_equal(ti->n_columns, 3);
    assert_int_equal(ti->n_keys, 2);
    assert_string_equal(ti->columns[ti->key_columns[0]].name, "a");
    assert_string_equal(ti->columns[ti->key_columns[1]].name, "b");
    assert_string_equal(ti->columns[0].decl_type, "TEXT");
    assert_int_equal(ti->columns[0].not_null, 1);
    assert_true(ti->generated[2]);
    assert_non_null(strstr(ti->sql, "WITHOUT ROWID"));
    char *kl = cdc_table_info_key_list(ti);
    assert_string_equal(kl, "\"a\",\"b\"");
    free(kl);
    cdc_table_info_destroy(ti);
    assert_int_equal(cdc_table_info_load(db, "none", NULL, &ti, err, sizeof(err)),
                     CDC_TABLE_INFO_ENOTFOUND);
    assert_null(ti);
    tdb_close(t);
}

int main(void)
{
    cdc_log_set_level(CDC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        TDB_BOTH(test_key_kinds),
        TDB_BOTH(test_typed_keys),
        TDB_BOTH(test_install_idempotent),
        TDB_BOTH(test_uninstall_restores_dump),
        TDB_BOTH(test_virtual_tables_refused),
        TDB_BOTH(test_identifiers),
        TDB_BOTH(test_bad_config_keys),
        TDB_BOTH(test_table_info),
        TDB_BOTH(test_app_semantics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
