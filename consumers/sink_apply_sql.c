/*
 * sink_apply_sql: pieces of the statements that apply one target table (the staged text
 * cast to the target's types, key matches, positions).
 */
#include "sink_apply_table_int.h"

#define BIGINT_MIN "'-9223372036854775808'::bigint"

cdc_sink_pg_class_t cdc_sink_table_exec(tctx_t *x, const char *sql, int np, const char *const *p,
                                        PGresult **res_out)
{
    PGconn *conn = x->c->db->conn;
    PGresult *res =
        np > 0 ? PQexecParams(conn, sql, np, NULL, p, NULL, NULL, 0) : PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    cdc_sink_pg_class_t cls;

    if (res_out != NULL)
        *res_out = NULL;
    if (res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
        if (res_out != NULL)
            *res_out = res;
        else
            PQclear(res);
        return CDC_SINK_PG_OK;
    }
    cls = cdc_sink_pg_classify(conn, res);
    cdc_sink_pg_message(conn, res, x->c->errstr, x->c->errstr_size);
    PQclear(x->err_res);
    x->err_res = res;
    return cls;
}

void cdc_sink_sql_put_expr(cdc_buf_t *b, const cdc_sink_table_t *t, size_t i, const char *alias)
{
    if (t->cast_type[i] != NULL)
        cdc_buf_printf(b, "CAST(%s.c%zu AS %s)", alias, i, t->cast_type[i]);
    else
        cdc_buf_printf(b, "%s.c%zu", alias, i);
}

void cdc_sink_sql_put_key_match(cdc_buf_t *b, const cdc_sink_table_t *t, const char *row,
                                const char *stage)
{
    for (size_t k = 0; k < t->nkeys; k++) {
        size_t i = t->key_cols[k];
        cdc_buf_printf(b, "%s%s.%s = ", k > 0 ? " AND " : "", row, t->col_q[i]);
        cdc_sink_sql_put_expr(b, t, i, stage);
    }
}

void cdc_sink_sql_put_pos(cdc_buf_t *b, const char *alias)
{
    cdc_buf_printf(b,
                   "(COALESCE(%s.\"_cdc_epoch\", " BIGINT_MIN
                   "), COALESCE(%s.\"_cdc_pos\", " BIGINT_MIN "))",
                   alias, alias);
}
