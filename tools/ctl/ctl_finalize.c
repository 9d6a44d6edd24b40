/*
 * ctl_finalize: the target half of `cdc-ctl cutover` (see ctl_cutover.h, docs/operate.md
 * "cdc-ctl cutover"). While streaming, target tables carry their primary key only
 * (invariant 7); here they get what the source schema declares, translated where
 * PostgreSQL accepts it, in one transaction together with the cut-over mark, so a failure
 * leaves the target exactly as it was and SQLite the system of record.
 *
 * Every addition runs under a savepoint: a source constraint PostgreSQL refuses (SQLite
 * syntax, a type that does not compare) is reported as untranslated instead of failing the
 * cutover; rows that violate a CHECK or reference a missing parent make the constraint
 * NOT VALID (enforced for new writes) and are reported, never dropped.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "ctl.h"
#include "ctl_cutover.h"
#include "ctl_finalize_int.h"
#include "sink_pg.h"

/* Guard on the stored offsets: every sink batch moves its partition's offset, so once the
 * domain is in _cdc_cutover no batch of it can commit, whichever worker runs (FATAL for
 * the sink: SQLSTATE 55000 is not retriable). */
static const char guard_sql[] =
    "CREATE OR REPLACE FUNCTION _cdc_cutover_guard() RETURNS trigger LANGUAGE plpgsql AS $g$"
    " DECLARE cut timestamptz;"
    " BEGIN SELECT cut_at INTO cut FROM _cdc_cutover WHERE domain = NEW.domain;"
    " IF FOUND THEN RAISE EXCEPTION 'domain % was cut over at % (_cdc_cutover): the sink no"
    " longer writes it', NEW.domain, cut USING ERRCODE = '55000'; END IF;"
    " RETURN NEW; END $g$;"
    "CREATE OR REPLACE TRIGGER _cdc_cutover_guard BEFORE INSERT OR UPDATE ON _cdc_offsets"
    " FOR EACH ROW EXECUTE FUNCTION _cdc_cutover_guard()";

void ctl_final_free(ctl_final_t *f)
{
    cdc_buf_free(&f->lines);
    for (size_t i = 0; i < f->nanalyze; i++)
        free(f->analyze[i]);
    free(f->analyze);
    f->analyze = NULL;
    f->nanalyze = 0;
}

/* Runs sql; 0, or -1 with "SQLSTATE: message" in err and the SQLSTATE in state. */
int ctl_fin_run(PGconn *conn, const char *sql, int n, const char *const *p, PGresult **out,
                char state[6], char *err, size_t err_size)
{
    /* without parameters through PQexec: the guard's DDL is two statements */
    PGresult *r = n > 0 ? PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0) : PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return 0;
    }
    const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state)
        snprintf(state, 6, "%s", ss ? ss : "?????");
    snprintf(err, err_size, "%s", PQresultErrorMessage(r));
    char *nl = strchr(err, '\n'); /* the first line: PostgreSQL's HINT and DETAIL follow */
    if (nl != NULL)
        *nl = '\0';
    size_t len = strlen(err);
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
        err[--len] = '\0';
    PQclear(r);
    return -1;
}

/* sql under a savepoint: 0 done, -1 refused (rolled back to the savepoint; state, err). */
int ctl_fin_try(PGconn *conn, const char *sql, char state[6], char *err, size_t err_size)
{
    char e2[512];
    if (ctl_fin_run(conn, "SAVEPOINT ctl_try", 0, NULL, NULL, NULL, err, err_size) < 0)
        return -2;
    if (ctl_fin_run(conn, sql, 0, NULL, NULL, state, err, err_size) == 0)
        return ctl_fin_run(conn, "RELEASE SAVEPOINT ctl_try", 0, NULL, NULL, NULL, err, err_size) <
                       0
                   ? -2
                   : 0;
    if (ctl_fin_run(conn, "ROLLBACK TO SAVEPOINT ctl_try", 0, NULL, NULL, NULL, e2, sizeof e2) < 0)
        return -2;
    return -1;
}

/* A constraint or index name: "<table>_<suffix>", clipped like PostgreSQL, quoted. */
char *ctl_fin_object_name(const char *table, const char *suffix)
{
    char *raw = cdc_asprintf("%s_%s", table, suffix);
    char *q = cdc_sink_pg_ident_quote(raw);
    free(raw);
    return q;
}

/* The primary key columns of a target table as a quoted, comma-separated list. */
char *ctl_fin_pk_columns(PGconn *conn, const char *table_q, size_t *count)
{
    const char *p[1] = {table_q};
    PGresult *r = NULL;
    char err[256];
    cdc_buf_t b = CDC_BUF_INIT;
    *count = 0;
    if (ctl_fin_run(
            conn,
            "SELECT quote_ident(a.attname) FROM pg_index i JOIN pg_attribute a ON a.attrelid ="
            " i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = $1::regclass AND"
            " i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
            1, p, &r, NULL, err, sizeof err) < 0)
        return NULL;
    for (int i = 0; i < PQntuples(r); i++)
        cdc_buf_printf(&b, "%s%s", i ? ", " : "", PQgetvalue(r, i, 0));
    *count = (size_t)PQntuples(r);
    PQclear(r);
    char *out = cdc_strdup(b.len ? cdc_buf_cstr(&b) : "");
    cdc_buf_free(&b);
    return out;
}

void ctl_fin_line(ctl_final_t *f, const char *fmt, ...)
{
    va_list ap;
    char buf[4096];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cdc_buf_printf(&f->lines, "  %s\n", buf);
}

/* The captured tables of src (its file's _cdc_tables) that have a target table. */
static int load_tables(const cdc_config_t *conf, const cdc_source_t *src, PGconn *conn, sqlite3 *db,
                       fin_table_t **out, size_t *n, ctl_final_t *f, char *errstr,
                       size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    char err[1024];
    (void)conf;
    if (sqlite3_prepare_v2(db, "SELECT tbl FROM _cdc_tables ORDER BY tbl", -1, &st, NULL) !=
        SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s (%s): reading _cdc_tables: %s", src->name,
                 src->path, sqlite3_errmsg(db));
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *tbl = (const char *)sqlite3_column_text(st, 0);
        const char *p[3] = {src->domain, src->name, tbl};
        PGresult *r = NULL;
        if (ctl_fin_run(conn,
                        "SELECT target_table FROM _cdc_tables WHERE domain = $1 AND source = $2 AND"
                        " source_table = $3",
                        3, p, &r, NULL, err, sizeof err) < 0) {
            snprintf(errstr, errstr_size, "reading _cdc_tables of the target: %s", err);
            sqlite3_finalize(st);
            return -1;
        }
        if (PQntuples(r) == 0) {
            ctl_fin_line(
                f, "source %s table %s: no target table (the sink never received a row of it)",
                src->name, tbl);
        } else {
            *out = cdc_realloc(*out, (*n + 1) * sizeof **out);
            fin_table_t *t = &(*out)[(*n)++];
            t->src = src;
            t->tbl = cdc_strdup(tbl);
            t->target = cdc_strdup(PQgetvalue(r, 0, 0));
            t->target_q = cdc_sink_pg_ident_quote(t->target);
        }
        PQclear(r);
    }
    sqlite3_finalize(st);
    return 0;
}

static sqlite3 *open_source(const cdc_source_t *src, char *errstr, size_t errstr_size)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(src->path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s: cannot open %s: %s", src->name, src->path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 1000);
    return db;
}

/* Every captured table of the domain's sources: indexes and checks (pass 1), then foreign
 * keys (their parents may be in another source), identities and the _cdc_ columns. */
static int finalize_tables(const cdc_config_t *conf, const cdc_domain_t *d, PGconn *conn,
                           ctl_final_t *f, char *errstr, size_t errstr_size)
{
    fin_table_t *ts = NULL;
    size_t n = 0;
    char err[1024];
    int rc = -1;

    for (int pass = 1; pass <= 2; pass++) {
        for (size_t si = 0; si < conf->n_sources; si++) {
            const cdc_source_t *src = &conf->sources[si];
            sqlite3 *db;
            int bad = 0;
            if (strcmp(src->domain, d->name) != 0)
                continue;
            if ((db = open_source(src, errstr, errstr_size)) == NULL)
                goto out;
            size_t first = n;
            if (pass == 1) {
                bad = load_tables(conf, src, conn, db, &ts, &n, f, errstr, errstr_size) < 0;
                for (size_t i = first; i < n && !bad; i++)
                    bad = ctl_fin_add_columns(db, conn, &ts[i], f, errstr, errstr_size) < 0 ||
                          ctl_fin_add_indexes(db, conn, &ts[i], f, errstr, errstr_size) < 0 ||
                          ctl_fin_add_checks(db, conn, &ts[i], f, errstr, errstr_size) < 0;
            } else {
                for (size_t i = 0; i < n && !bad; i++)
                    if (ts[i].src == src)
                        bad = ctl_fin_add_fks(db, conn, ts, n, &ts[i], f, errstr, errstr_size) < 0;
            }
            sqlite3_close(db);
            if (bad)
                goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (ctl_fin_set_identity(conn, &ts[i], f, errstr, errstr_size) < 0)
            goto out;
        /* The applications' tables from now on: the sink's bookkeeping columns go (the
         * positions are in the report and the evidence backups). */
        char *sql = cdc_asprintf("ALTER TABLE %s DROP COLUMN IF EXISTS _cdc_source, DROP COLUMN"
                                 " IF EXISTS _cdc_epoch, DROP COLUMN IF EXISTS _cdc_pos, DROP"
                                 " COLUMN IF EXISTS _cdc_synced_at",
                                 ts[i].target_q);
        int r = ctl_fin_run(conn, sql, 0, NULL, NULL, NULL, err, sizeof err);
        free(sql);
        if (r < 0) {
            snprintf(errstr, errstr_size, "%s: dropping the _cdc_ columns: %s", ts[i].target, err);
            goto out;
        }
        f->cdc_columns += 4;
        f->tables++;
        f->analyze = cdc_realloc(f->analyze, (f->nanalyze + 1) * sizeof *f->analyze);
        f->analyze[f->nanalyze++] = cdc_strdup(ts[i].target_q);
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++) {
        free(ts[i].tbl);
        free(ts[i].target);
        free(ts[i].target_q);
    }
    free(ts);
    return rc;
}

int ctl_finalize_target(const cdc_config_t *conf, const cdc_domain_t *d, PGconn *conn,
                        ctl_final_t *f, char *errstr, size_t errstr_size)
{
    const char *p[1] = {d->name};
    char err[1024];
    long affected = 0;
    int rc = -1;

    if (ctl_fin_run(conn, "BEGIN", 0, NULL, NULL, NULL, err, sizeof err) < 0)
        goto fail;
    /* The mark first: the guard makes every later sink batch of the domain fail, and the
     * row locks wait for the batches in flight (none should carry data: the domain is
     * drained and frozen). */
    if (ctl_fin_run(conn, CTL_DDL_LOCK_SQL, 0, NULL, NULL, NULL, err, sizeof err) < 0 ||
        ctl_fin_run(conn, guard_sql, 0, NULL, NULL, NULL, err, sizeof err) < 0 ||
        ctl_fin_run(conn, "INSERT INTO _cdc_cutover (domain) VALUES ($1)", 1, p, NULL, NULL, err,
                    sizeof err) < 0 ||
        ctl_fin_run(conn, "SELECT 1 FROM _cdc_offsets WHERE domain = $1 FOR UPDATE", 1, p, NULL,
                    NULL, err, sizeof err) < 0)
        goto fail;
    if (finalize_tables(conf, d, conn, f, errstr, errstr_size) < 0)
        goto rollback;
    if (cdc_sink_pg_exec_count(conn,
                               "DELETE FROM _cdc_tombstones WHERE target_table IN (SELECT"
                               " target_table FROM _cdc_tables WHERE domain = $1) RETURNING 1",
                               1, p, &affected, err, sizeof err) != CDC_SINK_PG_OK ||
        ctl_fin_run(conn, "DELETE FROM _cdc_snapshot_marks WHERE domain = $1", 1, p, NULL, NULL,
                    err, sizeof err) < 0 ||
        ctl_fin_run(conn, "DELETE FROM _cdc_snapshot_done WHERE domain = $1", 1, p, NULL, NULL, err,
                    sizeof err) < 0)
        goto fail;
    f->tombstones = affected;
    ctl_fin_line(f,
                 "%ld tombstone(s) of domain %s removed from _cdc_tombstones; snapshot bookkeeping"
                 " removed; %ld _cdc_ column(s) dropped from %ld table(s)",
                 affected, d->name, f->cdc_columns, f->tables);
    if (ctl_fin_run(conn, "COMMIT", 0, NULL, NULL, NULL, err, sizeof err) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    snprintf(errstr, errstr_size, "target of domain %s: %s", d->name, err);
rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
out:
    return rc;
}

void ctl_finalize_analyze(PGconn *conn, ctl_final_t *f)
{
    char err[1024];
    for (size_t i = 0; i < f->nanalyze; i++) {
        char *sql = cdc_asprintf("ANALYZE %s", f->analyze[i]);
        if (ctl_fin_run(conn, sql, 0, NULL, NULL, NULL, err, sizeof err) < 0)
            ctl_fin_line(f, "ANALYZE %s failed: %s", f->analyze[i], err);
        free(sql);
    }
    ctl_fin_line(f, "ANALYZE: %zu table(s)", f->nanalyze);
}
