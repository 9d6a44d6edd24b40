/*
 * audit_target: the PostgreSQL side of the audit. The session is pinned
 * (cdc_pgtext_pin_session) so every value comes back in the text form cdc_pgtext reads,
 * exactly as the sink reads the stored row back. A table is read through a cursor in one
 * REPEATABLE READ READ ONLY transaction (one consistent snapshot, FETCH by batches: memory
 * does not grow with the table), in the common key order: text keys COLLATE "C" (byte
 * order), never the database's collation.
 */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "cdc_alloc.h"
#include "cdc_pgtext.h"
#include "sink_pg.h"

#define FETCH_ROWS 2000 /* keep equal to the FETCH count below */

PGconn *audit_tgt_connect(const char *conninfo, char *errstr, size_t errstr_size)
{
    PGconn *conn = PQconnectdb(conninfo);
    char tmp[512];

    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(errstr, errstr_size, "target %s: cannot connect: %s", conninfo,
                 PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    if (cdc_pgtext_pin_session(conn, tmp, sizeof tmp) < 0) {
        snprintf(errstr, errstr_size, "target %s: pinning the session: %s", conninfo, tmp);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Runs a command; -1 with PostgreSQL's message naming what. */
static int exec_cmd(PGconn *conn, const char *sql, const char *what, char *errstr,
                    size_t errstr_size)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(errstr, errstr_size, "%s: %s", what, PQerrorMessage(conn));
    PQclear(res);
    return ok ? 0 : -1;
}

int audit_tgt_exists(PGconn *conn, const audit_table_t *t, char *errstr, size_t errstr_size)
{
    const char *params[1] = {t->target_q};
    PGresult *res =
        PQexecParams(conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, params, NULL, NULL, 0);
    int rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        snprintf(errstr, errstr_size, "target table %s: %s", t->target, PQerrorMessage(conn));
    else
        rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return rc;
}

/* SELECT <columns>, _cdc_epoch, _cdc_pos FROM <target> */
static void select_cols(const audit_table_t *t, cdc_buf_t *b)
{
    cdc_buf_put_str(b, "SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        char *q = cdc_sink_pg_ident_quote(t->cols[i].name);
        cdc_buf_printf(b, "%s, ", q);
        free(q);
    }
    cdc_buf_printf(b, "_cdc_epoch, _cdc_pos FROM %s", t->target_q);
}

/* Appends key part k as an ORDER BY item in the common order. */
static void order_item(const audit_table_t *t, size_t k, cdc_buf_t *b)
{
    const cdc_column_t *c = &t->cols[t->key_col[k]];
    char *q = cdc_sink_pg_ident_quote(c->name);
    cdc_buf_put_str(b, q);
    if (c->type.kind == CDC_COL_TEXT)
        cdc_buf_put_str(b, " COLLATE \"C\"");
    free(q);
}

struct audit_tgt_scan_s {
    PGconn *conn;
    const audit_table_t *t;
    PGresult *res;
    int row, nrows, done, in_tx;
};

audit_tgt_scan_t *audit_tgt_scan_new(PGconn *conn, const audit_table_t *t, char *errstr,
                                     size_t errstr_size)
{
    audit_tgt_scan_t *s = cdc_calloc(1, sizeof *s);
    cdc_buf_t sql = CDC_BUF_INIT;
    char what[512];

    s->conn = conn;
    s->t = t;
    snprintf(what, sizeof what, "target table %s", t->target);
    if (exec_cmd(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what, errstr,
                 errstr_size) < 0)
        goto fail;
    s->in_tx = 1;
    cdc_buf_put_str(&sql, "DECLARE _cdc_audit NO SCROLL CURSOR FOR ");
    select_cols(t, &sql);
    for (size_t k = 0; k < t->nkeys; k++) {
        cdc_buf_put_str(&sql, k ? ", " : " ORDER BY ");
        order_item(t, k, &sql);
    }
    if (exec_cmd(conn, cdc_buf_cstr(&sql), what, errstr, errstr_size) < 0)
        goto fail;
    cdc_buf_free(&sql);
    return s;
fail:
    cdc_buf_free(&sql);
    audit_tgt_scan_free(s);
    return NULL;
}

int audit_tgt_scan_next(audit_tgt_scan_t *s, audit_row_t *r, char *errstr, size_t errstr_size)
{
    const audit_table_t *t = s->t;
    char why[512];

    while (s->res == NULL || s->row >= s->nrows) {
        if (s->done)
            return 0;
        PQclear(s->res);
        s->res = PQexec(s->conn, "FETCH 2000 FROM _cdc_audit");
        if (PQresultStatus(s->res) != PGRES_TUPLES_OK) {
            snprintf(errstr, errstr_size, "target table %s: FETCH: %s", t->target,
                     PQerrorMessage(s->conn));
            return -1;
        }
        s->nrows = PQntuples(s->res);
        s->row = 0;
        if (s->nrows < FETCH_ROWS)
            s->done = 1;
        if (s->nrows == 0)
            return 0;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        int f = (int)i;
        const char *txt = PQgetisnull(s->res, s->row, f) ? NULL : PQgetvalue(s->res, s->row, f);
        size_t len = txt ? (size_t)PQgetlength(s->res, s->row, f) : 0;
        if (cdc_pgtext_value(&t->cols[i].type, txt, len, &r->vals[i], &r->scratch[i], why,
                             sizeof why) < 0) {
            snprintf(errstr, errstr_size, "target table %s: column %s: %s", t->target,
                     t->cols[i].name, why);
            return -1;
        }
    }
    r->pos.epoch = strtoll(PQgetvalue(s->res, s->row, (int)t->ncols), NULL, 10);
    r->pos.h = strtoll(PQgetvalue(s->res, s->row, (int)t->ncols + 1), NULL, 10);
    s->row++;
    if (audit_row_finish(t, r, why, sizeof why) < 0) {
        snprintf(errstr, errstr_size, "target table %s: %s", t->target, why);
        return -1;
    }
    return 1;
}

void audit_tgt_scan_free(audit_tgt_scan_t *s)
{
    if (s == NULL)
        return;
    PQclear(s->res);
    if (s->in_tx) {
        PGresult *res = PQexec(s->conn, "ROLLBACK");
        PQclear(res);
    }
    free(s);
}

int audit_tgt_lookup(PGconn *conn, const audit_table_t *t, const char *const *key_text,
                     const unsigned char *key_bytes, size_t key_len, int *found, cdc_buf_t *canon,
                     cdc_pos_t *pos, char *errstr, size_t errstr_size)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    PGresult *res = NULL;
    char why[512];
    int rc = -1;

    *found = 0;
    *pos = (cdc_pos_t){0, 0};
    select_cols(t, &sql);
    for (size_t k = 0; k < t->nkeys; k++) {
        char *q = cdc_sink_pg_ident_quote(t->cols[t->key_col[k]].name);
        cdc_buf_printf(&sql, "%s%s = $%zu", k ? " AND " : " WHERE ", q, k + 1);
        free(q);
    }
    res = PQexecParams(conn, cdc_buf_cstr(&sql), (int)t->nkeys, NULL, key_text, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errstr, errstr_size, "target table %s: re-reading a key: %s", t->target,
                 PQerrorMessage(conn));
        goto out;
    }
    if (PQntuples(res) == 1) {
        *found = 1;
        if (cdc_pgtext_canon_result(t->cols, t->ncols, res, 0, 0, canon, why, sizeof why) < 0) {
            snprintf(errstr, errstr_size, "target table %s: %s", t->target, why);
            goto out;
        }
        pos->epoch = strtoll(PQgetvalue(res, 0, (int)t->ncols), NULL, 10);
        pos->h = strtoll(PQgetvalue(res, 0, (int)t->ncols + 1), NULL, 10);
    } else if (key_bytes != NULL) {
        /* Absent: a tombstone, if any, says which position the target applied. */
        const char *params[2] = {t->target, (const char *)key_bytes};
        int lens[2] = {0, (int)key_len}, fmts[2] = {0, 1};
        PQclear(res);
        res = PQexecParams(conn,
                           "SELECT epoch, pos FROM _cdc_tombstones WHERE target_table = $1 "
                           "AND key = $2",
                           2, NULL, params, lens, fmts, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            pos->epoch = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            pos->h = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        }
    }
    rc = 0;
out:
    PQclear(res);
    cdc_buf_free(&sql);
    return rc;
}
