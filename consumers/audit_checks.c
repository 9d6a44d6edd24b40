/*
 * audit_checks: the config's business checks (`checks:`). Each check's source_sql runs on
 * its source SQLite file (opened read-only), its target_sql on the domain's target
 * (pinned session, a READ ONLY transaction); the first column of the first row of each is
 * compared as text, exactly: the check's SQL owns the formatting (printf('%.2f', ...) and
 * to_char(..., 'FM...0.00') in the example config). NULL equals only NULL.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "audit_int.h"
#include "cdc_alloc.h"

static char *source_value(const cdc_source_t *src, const char *sql, int *is_null, char **error)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char err[1024];
    char *val = NULL;
    int step;

    *is_null = 1;
    if (audit_src_open(src, &db, err, sizeof err) < 0) {
        *error = cdc_strdup(err);
        goto out;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        *error = cdc_asprintf("source %s (%s): source_sql: %s", src->name, src->path,
                              sqlite3_errmsg(db));
        goto out;
    }
    step = sqlite3_step(st);
    if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        val = cdc_strdup((const char *)sqlite3_column_text(st, 0));
        *is_null = 0;
    } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
        *error = cdc_asprintf("source %s (%s): source_sql: %s", src->name, src->path,
                              sqlite3_errmsg(db));
    }
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return val;
}

static char *target_value(PGconn *conn, const char *sql, int *is_null, char **error)
{
    PGresult *res = PQexec(conn, "BEGIN READ ONLY");
    char *val = NULL;

    *is_null = 1;
    PQclear(res);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *error = cdc_asprintf("target_sql: %s", PQerrorMessage(conn));
    } else if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0)) {
        val = cdc_strdup(PQgetvalue(res, 0, 0));
        *is_null = 0;
    }
    PQclear(res);
    res = PQexec(conn, "ROLLBACK");
    PQclear(res);
    return val;
}

void audit_check_run(const cdc_config_t *conf, const cdc_check_t *c, PGconn *conn,
                     audit_cres_t *out)
{
    const cdc_source_t *src = cdc_config_source(conf, c->source);
    int snull = 1, tnull = 1;

    memset(out, 0, sizeof *out);
    out->check = c;
    if (src == NULL) {
        out->error = cdc_asprintf("check %s: unknown source %s", c->name, c->source);
        return;
    }
    out->sval = source_value(src, c->source_sql, &snull, &out->error);
    if (out->error == NULL)
        out->tval = target_value(conn, c->target_sql, &tnull, &out->error);
    if (out->error != NULL) {
        char *e = cdc_asprintf("check %s: %s", c->name, out->error);
        free(out->error);
        out->error = e;
        return;
    }
    out->ok = snull == tnull && (snull || strcmp(out->sval, out->tval) == 0);
}

void audit_cres_free(audit_cres_t *c)
{
    free(c->sval);
    free(c->tval);
    free(c->error);
    memset(c, 0, sizeof *c);
}
