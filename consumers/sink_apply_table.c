/*
 * sink_apply_table: the winning versions of one target table, applied set-based inside the
 * batch transaction (sink_apply.h step 3).
 *
 * The rows are staged with one COPY into a temporary table (every value as text, so the
 * COPY itself cannot fail on a value), then four statements over a range of staged rows:
 *   D  delete the stored row where it is older than the delete;
 *   T  upsert the tombstone, unless a row at an equal or newer position is stored;
 *   U  upsert the rows, skipping (before writing anything) versions not newer than the
 *      stored row, than a tombstone, or than a completed snapshot's H0; the ON CONFLICT
 *      guard repeats the position check for rows that appeared meanwhile; RETURNING gives
 *      the stored row as text for the parity hash;
 *   C  drop tombstones older than an upserted version.
 * A permanent error (the data: 22xxx, 23xxx) rolls the range back to its SAVEPOINT and
 * bisects it until the refused row is alone; that row becomes a dead letter.
 */
#include "sink_apply_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_hash.h"
#include "cdc_log.h"
#include "cdc_pgtext.h"
#include "sink_copy.h"

#define BIGINT_MIN "'-9223372036854775808'::bigint"

typedef enum {
    ROW_PENDING, /* staged; not applied (yet): superseded at the end */
    ROW_APPLIED, /* upserted; stored hash computed */
    ROW_DELETED, /* delete applied */
    ROW_REFUSED, /* dead letter (already recorded) */
} row_state_t;

typedef struct {
    row_state_t state;
    int has_stored;
    unsigned char stored[CDC_HASH_ROW_SIZE];
} row_out_t;

typedef struct {
    cdc_sink_apply_ctx_t *c;
    const cdc_sink_table_t *t;
    const cdc_sink_entry_t *const *rows;
    size_t n;
    row_out_t *out;
    char *stage;
    char *sql_d, *sql_t, *sql_u, *sql_c;
    PGresult *err_res; /* the last failed result, for its diagnostic fields */
    cdc_buf_t canon;
} tctx_t;

static cdc_sink_pg_class_t texec(tctx_t *x, const char *sql, int np, const char *const *p,
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

/* The staged text of column i as the target column's type. */
static void put_expr(cdc_buf_t *b, const cdc_sink_table_t *t, size_t i, const char *alias)
{
    if (t->cast_type[i] != NULL)
        cdc_buf_printf(b, "CAST(%s.c%zu AS %s)", alias, i, t->cast_type[i]);
    else
        cdc_buf_printf(b, "%s.c%zu", alias, i);
}

static void put_key_match(cdc_buf_t *b, const cdc_sink_table_t *t, const char *row,
                          const char *stage)
{
    for (size_t k = 0; k < t->nkeys; k++) {
        size_t i = t->key_cols[k];
        cdc_buf_printf(b, "%s%s.%s = ", k > 0 ? " AND " : "", row, t->col_q[i]);
        put_expr(b, t, i, stage);
    }
}

static void put_pos(cdc_buf_t *b, const char *alias)
{
    cdc_buf_printf(b,
                   "(COALESCE(%s.\"_cdc_epoch\", " BIGINT_MIN
                   "), COALESCE(%s.\"_cdc_pos\", " BIGINT_MIN "))",
                   alias, alias);
}

/* "a stored row at an equal or newer position exists" for staged row s. */
static void put_newer_row_exists(cdc_buf_t *b, const cdc_sink_table_t *t)
{
    cdc_buf_printf(b, "EXISTS (SELECT 1 FROM %s o WHERE ", t->target_q);
    put_key_match(b, t, "o", "s");
    cdc_buf_put_str(b, " AND ");
    put_pos(b, "o");
    /* OFFSET 0 keeps the probe a correlated subplan (one index lookup per staged row)
     * instead of an anti-join, which the planner may turn into a hash over the whole
     * target table per batch (bench: 200 ms of a 5,000-row batch at 200k stored rows). */
    cdc_buf_put_str(b, " >= (s._e, s._p) OFFSET 0)");
}

static const char floor_sql[] = "NOT EXISTS (SELECT 1 FROM _cdc_snapshot_done d WHERE"
                                " d.target_table = $3 AND (d.epoch, d.h0) > (s._e, s._p))";

static void build_sql(tctx_t *x)
{
    const cdc_sink_table_t *t = x->t;
    cdc_buf_t b = CDC_BUF_INIT;

    /* D */
    cdc_buf_printf(&b,
                   "DELETE FROM %s t USING %s s WHERE s._i BETWEEN $1 AND $2 AND s._op = 'd'"
                   " AND ",
                   t->target_q, x->stage);
    put_key_match(&b, t, "t", "s");
    cdc_buf_put_str(&b, " AND ");
    put_pos(&b, "t");
    cdc_buf_put_str(&b, " < (s._e, s._p) RETURNING s._i");
    x->sql_d = cdc_strdup(cdc_buf_cstr(&b));

    /* T */
    cdc_buf_reset(&b);
    cdc_buf_printf(&b,
                   "WITH tb AS (INSERT INTO _cdc_tombstones AS tb (target_table, key, epoch, pos)"
                   " SELECT $3, s._k, s._e, s._p FROM %s s WHERE s._i BETWEEN $1 AND $2"
                   " AND s._op = 'd' AND NOT ",
                   x->stage);
    put_newer_row_exists(&b, t);
    cdc_buf_printf(&b,
                   " AND %s ON CONFLICT (target_table, key) DO UPDATE SET epoch = EXCLUDED.epoch,"
                   " pos = EXCLUDED.pos WHERE (tb.epoch, tb.pos) < (EXCLUDED.epoch, EXCLUDED.pos)"
                   " RETURNING tb.key)"
                   " SELECT s._i FROM tb JOIN %s s ON s._k = tb.key AND s._i BETWEEN $1 AND $2"
                   " AND s._op = 'd'",
                   floor_sql, x->stage);
    x->sql_t = cdc_strdup(cdc_buf_cstr(&b));

    /* U */
    cdc_buf_reset(&b);
    cdc_buf_printf(&b, "WITH ins AS (INSERT INTO %s AS t (", t->target_q);
    for (size_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(&b, "%s, ", t->col_q[i]);
    cdc_buf_put_str(&b,
                    "\"_cdc_source\", \"_cdc_epoch\", \"_cdc_pos\", \"_cdc_synced_at\") SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        put_expr(&b, t, i, "s");
        cdc_buf_put_str(&b, ", ");
    }
    cdc_buf_printf(&b,
                   "$4, s._e, s._p, now() FROM %s s WHERE s._i BETWEEN $1 AND $2 AND s._op <> 'd'"
                   " AND NOT ",
                   x->stage);
    put_newer_row_exists(&b, t);
    cdc_buf_printf(&b,
                   " AND NOT EXISTS (SELECT 1 FROM _cdc_tombstones tb WHERE tb.target_table = $3"
                   " AND tb.key = s._k AND (tb.epoch, tb.pos) >= (s._e, s._p) OFFSET 0) AND %s"
                   " ON CONFLICT ",
                   floor_sql);
    /* A pre-created table may carry the key as a named unique constraint (its own primary
     * key filled by a default); a unique index is inferred from the key columns. */
    if (t->conflict != NULL) {
        cdc_buf_put_str(&b, t->conflict);
    } else {
        cdc_buf_put_byte(&b, '(');
        for (size_t k = 0; k < t->nkeys; k++)
            cdc_buf_printf(&b, "%s%s", k > 0 ? ", " : "", t->col_q[t->key_cols[k]]);
        cdc_buf_put_byte(&b, ')');
    }
    cdc_buf_put_str(&b, " DO UPDATE SET ");
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].pk_index == 0)
            cdc_buf_printf(&b, "%s = EXCLUDED.%s, ", t->col_q[i], t->col_q[i]);
    cdc_buf_put_str(&b, "\"_cdc_source\" = EXCLUDED.\"_cdc_source\", \"_cdc_epoch\" ="
                        " EXCLUDED.\"_cdc_epoch\", \"_cdc_pos\" = EXCLUDED.\"_cdc_pos\","
                        " \"_cdc_synced_at\" = EXCLUDED.\"_cdc_synced_at\" WHERE ");
    put_pos(&b, "t");
    cdc_buf_put_str(&b, " < (EXCLUDED.\"_cdc_epoch\", EXCLUDED.\"_cdc_pos\") RETURNING ");
    for (size_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(&b, "%st.%s", i > 0 ? ", " : "", t->col_q[i]);
    cdc_buf_put_str(&b, ") SELECT s._i");
    for (size_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(&b, ", ins.%s", t->col_q[i]);
    cdc_buf_printf(&b, " FROM ins JOIN %s s ON s._i BETWEEN $1 AND $2 AND s._op <> 'd' AND ",
                   x->stage);
    put_key_match(&b, t, "ins", "s");
    x->sql_u = cdc_strdup(cdc_buf_cstr(&b));

    /* C */
    cdc_buf_reset(&b);
    cdc_buf_printf(&b,
                   "DELETE FROM _cdc_tombstones tb USING %s s WHERE s._i BETWEEN $1 AND $2"
                   " AND s._op <> 'd' AND tb.target_table = $3 AND tb.key = s._k"
                   " AND (tb.epoch, tb.pos) < (s._e, s._p)",
                   x->stage);
    x->sql_c = cdc_strdup(cdc_buf_cstr(&b));
    cdc_buf_free(&b);
}

/* Encodes one staged row; -1 with the column index in *bad_col (or SIZE_MAX) and the
 * reason in errstr when a value cannot be staged. */
static int stage_row(tctx_t *x, size_t idx, cdc_buf_t *line, size_t *bad_col, char *err,
                     size_t err_size)
{
    const cdc_sink_table_t *t = x->t;
    const cdc_sink_entry_t *e = x->rows[idx];

    cdc_buf_reset(line);
    cdc_buf_printf(line, "%zu\t%c\t%" PRId64 "\t%" PRId64 "\t", idx, e->op, e->pos.epoch, e->pos.h);
    cdc_sink_copy_put_bytea(line, e->key, e->key_len);
    for (size_t i = 0; i < t->ncols; i++) {
        const cdc_mapped_t *v = NULL;
        cdc_buf_put_byte(line, '\t');
        if (e->after != NULL)
            v = &e->after[i];
        else if (t->cols[i].pk_index > 0)
            v = &e->key_vals[t->cols[i].pk_index - 1];
        if (v == NULL) {
            cdc_buf_put_str(line, "\\N");
            continue;
        }
        *bad_col = i;
        if (cdc_sink_copy_check_value(&t->cols[i].type, v, err, err_size) != 0 ||
            cdc_sink_copy_put_value(line, &t->cols[i].type, v, &x->c->scratch, err, err_size) != 0)
            return -1;
    }
    cdc_buf_put_byte(line, '\n');
    return 0;
}

/* Finds which column of staged row idx its target column refuses: each value alone into
 * an empty copy of the target table (same types and typmods, no constraints). */
static cdc_sink_pg_class_t probe_column(tctx_t *x, size_t idx, char **column, char **reason)
{
    char ibuf[24];
    const char *p[1] = {ibuf};
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_sink_pg_class_t cls;

    snprintf(ibuf, sizeof ibuf, "%zu", idx);
    cls = texec(x, "SAVEPOINT cdc_probe", 0, NULL, NULL);
    if (cls != CDC_SINK_PG_OK)
        return cls;
    cdc_buf_printf(&b, "CREATE TEMP TABLE _cdc_probe AS SELECT * FROM %s WITH NO DATA",
                   x->t->target_q);
    cls = texec(x, cdc_buf_cstr(&b), 0, NULL, NULL);
    for (size_t i = 0; i < x->t->ncols && cls == CDC_SINK_PG_OK && *column == NULL; i++) {
        cdc_sink_pg_class_t r;
        cls = texec(x, "SAVEPOINT cdc_probe_col", 0, NULL, NULL);
        if (cls != CDC_SINK_PG_OK)
            break;
        cdc_buf_reset(&b);
        cdc_buf_printf(&b, "INSERT INTO _cdc_probe (%s) SELECT ", x->t->col_q[i]);
        put_expr(&b, x->t, i, "s");
        cdc_buf_printf(&b, " FROM %s s WHERE s._i = $1", x->stage);
        r = texec(x, cdc_buf_cstr(&b), 1, p, NULL);
        if (r == CDC_SINK_PG_PERMANENT) {
            *column = cdc_strdup(x->t->cols[i].name);
            *reason = cdc_strdup(x->c->errstr);
            cls = texec(x, "ROLLBACK TO SAVEPOINT cdc_probe_col", 0, NULL, NULL);
        } else if (r == CDC_SINK_PG_OK) {
            cls = texec(x, "RELEASE SAVEPOINT cdc_probe_col", 0, NULL, NULL);
        } else {
            cls = r;
        }
    }
    if (cls == CDC_SINK_PG_OK)
        cls = texec(x, "ROLLBACK TO SAVEPOINT cdc_probe", 0, NULL, NULL);
    if (cls == CDC_SINK_PG_OK)
        cls = texec(x, "RELEASE SAVEPOINT cdc_probe", 0, NULL, NULL);
    cdc_buf_free(&b);
    return cls;
}

/* The single staged row idx was refused: find the column, then dead-letter it. */
static cdc_sink_status_t refuse(tctx_t *x, size_t idx, const char *message)
{
    const char *st = x->err_res != NULL ? PQresultErrorField(x->err_res, PG_DIAG_SQLSTATE) : NULL;
    const char *col =
        x->err_res != NULL ? PQresultErrorField(x->err_res, PG_DIAG_COLUMN_NAME) : NULL;
    char *column = col != NULL ? cdc_strdup(col) : NULL;
    char *reason = cdc_asprintf("PostgreSQL refused the row: %s", message);
    char *probe_reason = NULL;
    cdc_sink_status_t s = CDC_SINK_OK;

    if (column == NULL && st != NULL && strncmp(st, "22", 2) == 0) {
        s = cdc_sink_db_status_of(probe_column(x, idx, &column, &probe_reason));
        if (s == CDC_SINK_OK && probe_reason != NULL) {
            free(reason);
            reason = cdc_asprintf("PostgreSQL refused the row: %s", probe_reason);
        }
    }
    if (s == CDC_SINK_OK)
        s = cdc_sink_apply_dead_letter(x->c, x->rows[idx], column, reason);
    if (s == CDC_SINK_OK)
        x->out[idx].state = ROW_REFUSED;
    free(column);
    free(reason);
    free(probe_reason);
    return s;
}

static void mark_rows(tctx_t *x, PGresult *res, row_state_t state)
{
    for (int r = 0; r < PQntuples(res); r++) {
        size_t i = (size_t)strtoull(PQgetvalue(res, r, 0), NULL, 10);
        if (i < x->n)
            x->out[i].state = state;
    }
}

/* Hashes the stored rows an upsert returned (fields 1..ncols) for parity. */
static void hash_returned(tctx_t *x, PGresult *res)
{
    char err[256];

    for (int r = 0; r < PQntuples(res); r++) {
        size_t i = (size_t)strtoull(PQgetvalue(res, r, 0), NULL, 10);
        if (i >= x->n)
            continue;
        x->out[i].state = ROW_APPLIED;
        if (cdc_pgtext_canon_result(x->t->cols, x->t->ncols, res, r, 1, &x->canon, err,
                                    sizeof err) == 0) {
            cdc_hash_row(x->canon.data, x->canon.len, x->out[i].stored);
            x->out[i].has_stored = 1;
        } else {
            cdc_log_warn("table %s offset %" PRId64 ": stored row cannot be hashed: %s",
                         x->t->target, x->rows[i]->offset, err);
        }
    }
}

/*
 * Planner settings per statement, local to the transaction (a savepoint rollback undoes
 * them too). The stage is never analyzed (an ANALYZE per batch cost ~12 ms and its
 * statistics made the planner hash whole target tables), so its size estimate is a
 * guess; the plans are fixed instead:
 *   PROBE: D and C join the stage to the target / tombstones by their primary keys:
 *          nested loops, one index lookup per staged row.
 *   HASH:  T and U probe by correlated subplans (OFFSET 0) and then join their
 *          RETURNING rows back to the stage: a hash join, never a nested loop over two
 *          batch-sized inputs (quadratic: 2.2 s of a 5,000-row batch in the first bench).
 * JIT is off: disabling a join method adds a huge cost that would trigger it (~200 ms a
 * statement, for nothing).
 */
#define PLAN_PROBE                                                                                 \
    "SELECT set_config('enable_nestloop', 'on', true), set_config('enable_hashjoin', 'off', "      \
    "true), set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)"
#define PLAN_HASH                                                                                  \
    "SELECT set_config('enable_nestloop', 'off', true), set_config('enable_hashjoin', 'on', "      \
    "true), set_config('enable_mergejoin', 'on', true), set_config('jit', 'off', true)"
#define PLAN_DEFAULT                                                                               \
    "SELECT set_config('enable_nestloop', 'on', true), set_config('enable_hashjoin', 'on', "       \
    "true), set_config('enable_mergejoin', 'on', true)"

/* One range of staged rows under a savepoint; bisects on permanent errors. */
static cdc_sink_status_t run_range(tctx_t *x, size_t lo, size_t hi)
{
    char lob[24], hib[24];
    const char *p[4] = {lob, hib, x->t->target, x->t->source};
    PGresult *rd = NULL, *rt = NULL, *ru = NULL;
    cdc_sink_pg_class_t cls;
    cdc_sink_status_t st = CDC_SINK_OK;
    size_t live = 0, ndel = 0;

    for (size_t i = lo; i <= hi; i++)
        if (x->out[i].state == ROW_PENDING) {
            live++;
            ndel += x->rows[i]->op == 'd';
        }
    if (live == 0)
        return CDC_SINK_OK;
    snprintf(lob, sizeof lob, "%zu", lo);
    snprintf(hib, sizeof hib, "%zu", hi);
    /* Statements without rows of their kind in the range are skipped (a snapshot has no
     * deletes; a delete-only stream batch upserts nothing). */
    cls = texec(x, "SAVEPOINT cdc_range", 0, NULL, NULL);
    if (cls == CDC_SINK_PG_OK && ndel > 0) {
        cls = texec(x, PLAN_PROBE, 0, NULL, NULL);
        if (cls == CDC_SINK_PG_OK)
            cls = texec(x, x->sql_d, 2, p, &rd);
        if (cls == CDC_SINK_PG_OK)
            cls = texec(x, PLAN_HASH, 0, NULL, NULL);
        if (cls == CDC_SINK_PG_OK)
            cls = texec(x, x->sql_t, 3, p, &rt);
    }
    if (cls == CDC_SINK_PG_OK && live > ndel) {
        if (ndel == 0)
            cls = texec(x, PLAN_HASH, 0, NULL, NULL);
        if (cls == CDC_SINK_PG_OK)
            cls = texec(x, x->sql_u, 4, p, &ru);
        if (cls == CDC_SINK_PG_OK)
            cls = texec(x, PLAN_PROBE, 0, NULL, NULL);
        if (cls == CDC_SINK_PG_OK)
            cls = texec(x, x->sql_c, 3, p, NULL);
    }
    if (cls == CDC_SINK_PG_OK)
        cls = texec(x, PLAN_DEFAULT, 0, NULL, NULL);
    if (cls == CDC_SINK_PG_OK)
        cls = texec(x, "RELEASE SAVEPOINT cdc_range", 0, NULL, NULL);
    if (cls == CDC_SINK_PG_OK) {
        if (rd != NULL)
            mark_rows(x, rd, ROW_DELETED);
        if (rt != NULL)
            mark_rows(x, rt, ROW_DELETED);
        if (ru != NULL)
            hash_returned(x, ru);
        goto out;
    }
    if (cls != CDC_SINK_PG_PERMANENT) {
        st = cdc_sink_db_status_of(cls);
        goto out;
    }
    {
        char *message = cdc_strdup(x->c->errstr);
        PGresult *keep = x->err_res;
        x->err_res = NULL;
        cls = texec(x, "ROLLBACK TO SAVEPOINT cdc_range", 0, NULL, NULL);
        if (cls == CDC_SINK_PG_OK)
            cls = texec(x, "RELEASE SAVEPOINT cdc_range", 0, NULL, NULL);
        PQclear(x->err_res);
        x->err_res = keep;
        if (cls != CDC_SINK_PG_OK) {
            st = cdc_sink_db_status_of(cls);
        } else if (live == 1) {
            size_t idx = lo;
            while (x->out[idx].state != ROW_PENDING)
                idx++;
            st = refuse(x, idx, message);
        } else {
            size_t mid = lo + (hi - lo) / 2;
            st = run_range(x, lo, mid);
            if (st == CDC_SINK_OK)
                st = run_range(x, mid + 1, hi);
        }
        free(message);
    }
out:
    PQclear(rd);
    PQclear(rt);
    PQclear(ru);
    return st;
}

static cdc_sink_status_t stage_rows(tctx_t *x)
{
    const cdc_sink_table_t *t = x->t;
    cdc_buf_t data = CDC_BUF_INIT, line = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    cdc_sink_status_t st = CDC_SINK_OK;
    char err[512];

    cdc_buf_printf(&sql,
                   "CREATE TEMP TABLE IF NOT EXISTS %s (_i int, _op text, _e bigint,"
                   " _p bigint, _k bytea",
                   x->stage);
    for (size_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(&sql, ", c%zu text", i);
    /* Emptied by every commit; a rollback takes the rows (or the new table) away too. */
    cdc_buf_put_str(&sql, ") ON COMMIT DELETE ROWS");
    st = cdc_sink_db_status_of(texec(x, cdc_buf_cstr(&sql), 0, NULL, NULL));
    for (size_t i = 0; i < x->n && st == CDC_SINK_OK; i++) {
        size_t bad = SIZE_MAX;
        if (stage_row(x, i, &line, &bad, err, sizeof err) != 0) {
            /* Refused before PostgreSQL sees it: a bad value would fail the whole COPY. */
            st = cdc_sink_apply_dead_letter(x->c, x->rows[i],
                                            bad < t->ncols ? t->cols[bad].name : NULL, err);
            x->out[i].state = ROW_REFUSED;
            continue;
        }
        cdc_buf_put(&data, line.data, line.len);
    }
    if (st == CDC_SINK_OK && data.len > 0) {
        cdc_buf_reset(&sql);
        cdc_buf_printf(&sql, "COPY %s FROM STDIN", x->stage);
        st = cdc_sink_db_status_of(cdc_sink_pg_copy(x->c->db->conn, cdc_buf_cstr(&sql), data.data,
                                                    data.len, x->c->errstr, x->c->errstr_size));
    }
    cdc_buf_free(&data);
    cdc_buf_free(&line);
    cdc_buf_free(&sql);
    return st;
}

/* Marks open dead letters of the applied keys resolved (invariant 7). */
static cdc_sink_status_t resolve_dead_letters(tctx_t *x)
{
    cdc_buf_t ids = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    const char *p[4];
    cdc_sink_status_t st = CDC_SINK_OK;

    cdc_buf_put_byte(&ids, '{');
    for (size_t i = 0; i < x->n; i++)
        if (x->out[i].state == ROW_APPLIED || x->out[i].state == ROW_DELETED)
            cdc_buf_printf(&ids, "%s%zu", ids.len > 1 ? "," : "", i);
    cdc_buf_put_byte(&ids, '}');
    if (ids.len > 2) {
        p[0] = cdc_buf_cstr(&ids);
        p[1] = x->c->db->domain;
        p[2] = x->t->source;
        p[3] = x->t->table;
        cdc_buf_printf(&sql,
                       "UPDATE _cdc_dead_letters dl SET resolved_at = now() FROM %s s"
                       " WHERE s._i = ANY($1::int[]) AND dl.domain = $2 AND dl.source = $3"
                       " AND dl.source_table = $4 AND dl.key = s._k AND dl.resolved_at IS NULL"
                       " AND (dl.epoch IS NULL OR (dl.epoch, dl.pos) < (s._e, s._p))",
                       x->stage);
        st = cdc_sink_db_status_of(texec(x, cdc_buf_cstr(&sql), 4, p, NULL));
    }
    cdc_buf_free(&ids);
    cdc_buf_free(&sql);
    return st;
}

cdc_sink_status_t cdc_sink_apply_table(cdc_sink_apply_ctx_t *c, const cdc_sink_table_t *t,
                                       const cdc_sink_entry_t *const *rows, size_t n)
{
    tctx_t x;
    cdc_sink_status_t st;

    memset(&x, 0, sizeof x);
    x.c = c;
    x.t = t;
    x.rows = rows;
    x.n = n;
    x.out = cdc_calloc(n, sizeof(*x.out));
    x.stage = cdc_asprintf("_cdc_stage_%u", t->id);
    build_sql(&x);

    st = stage_rows(&x);
    if (st == CDC_SINK_OK && n > 0)
        st = run_range(&x, 0, n - 1);
    if (st == CDC_SINK_OK)
        st = resolve_dead_letters(&x);
    for (size_t i = 0; i < n && st == CDC_SINK_OK; i++) {
        const cdc_sink_entry_t *e = rows[i];
        const row_out_t *o = &x.out[i];
        const char *status;

        if (o->state == ROW_REFUSED)
            continue;
        if (o->state == ROW_APPLIED) {
            int same = o->has_stored && e->row_hash_len == CDC_HASH_ROW_SIZE &&
                       memcmp(e->row_hash, o->stored, CDC_HASH_ROW_SIZE) == 0;
            status = same ? CDC_SINK_MATCH : CDC_SINK_MISMATCH;
            if (c->stats != NULL) {
                c->stats->applied++;
                c->stats->mismatches += !same;
            }
            if (!same)
                cdc_log_warn("parity mismatch: table %s offset %" PRId64 " position %" PRId64
                             ":%" PRId64,
                             t->target, e->offset, e->pos.epoch, e->pos.h);
        } else if (o->state == ROW_DELETED) {
            status = CDC_SINK_MATCH;
            if (c->stats != NULL)
                c->stats->deleted++;
        } else {
            status = CDC_SINK_SUPERSEDED;
            if (c->stats != NULL)
                c->stats->superseded++;
        }
        cdc_sink_apply_outbox(c, e->source, e->table_name, e->key, e->key_len, &e->pos, e->op,
                              e->row_hash, e->row_hash_len, o->has_stored ? o->stored : NULL,
                              o->has_stored ? CDC_HASH_ROW_SIZE : 0, status);
    }
    PQclear(x.err_res);
    cdc_buf_free(&x.canon);
    free(x.sql_d);
    free(x.sql_t);
    free(x.sql_u);
    free(x.sql_c);
    free(x.stage);
    free(x.out);
    return st;
}
