/*
 * sink_apply_positions: reads the stored positions of a batch's keys before its rows are
 * staged (sink_apply_table_int.h). A replay into an equal target then costs one small
 * COPY of keys and one index lookup per row, instead of staging every column and having
 * ON CONFLICT lock each row it will not change.
 */
#include "sink_apply_table_int.h"

#include <stdint.h>
#include <stdlib.h>

#include "cdc_alloc.h"
#include "sink_copy.h"

/* Writes the COPY line of row idx's key into line; -1 when a key value cannot be staged. */
static int key_line(tctx_t *x, size_t idx, cdc_buf_t *line)
{
    const cdc_sink_table_t *t = x->t;
    const cdc_sink_entry_t *e = x->rows[idx];
    char err[256];

    cdc_buf_reset(line);
    cdc_sink_copy_put_int64(line, (int64_t)idx);
    cdc_buf_put_byte(line, '\t');
    cdc_sink_copy_put_int64(line, e->pos.epoch);
    cdc_buf_put_byte(line, '\t');
    cdc_sink_copy_put_int64(line, e->pos.h);
    for (size_t k = 0; k < t->nkeys; k++) {
        size_t i = t->key_cols[k];
        const cdc_mapped_t *v = e->after != NULL ? &e->after[i] : &e->key_vals[k];
        cdc_buf_put_byte(line, '\t');
        if (cdc_sink_copy_check_value(&t->cols[i].type, v, err, sizeof err) != 0 ||
            cdc_sink_copy_put_value(line, &t->cols[i].type, v, &x->c->scratch, err, sizeof err) !=
                0)
            return -1;
    }
    cdc_buf_put_byte(line, '\n');
    return 0;
}

/* Stages the upserted keys with their positions under a savepoint (one round trip);
 * *staged: how many (none: nothing was sent). */
static cdc_sink_pg_class_t stage_keys(tctx_t *x, const char *keys, size_t *staged)
{
    const cdc_sink_table_t *t = x->t;
    cdc_buf_t data = CDC_BUF_INIT, line = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    cdc_sink_pg_class_t cls = CDC_SINK_PG_OK;

    *staged = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (x->rows[i]->op == 'd' || key_line(x, i, &line) != 0)
            continue; /* deletes have their own guards; a bad key goes the normal way */
        cdc_buf_put(&data, line.data, line.len);
        (*staged)++;
    }
    if (*staged > 0) {
        cdc_buf_printf(&sql,
                       "SAVEPOINT cdc_positions; CREATE TEMP TABLE IF NOT EXISTS %s (_i int,"
                       " _e bigint, _p bigint",
                       keys);
        for (size_t k = 0; k < t->nkeys; k++)
            cdc_buf_printf(&sql, ", c%zu text", t->key_cols[k]);
        cdc_buf_printf(&sql, ") ON COMMIT DELETE ROWS; COPY %s FROM STDIN", keys);
        cls = cdc_sink_pg_copy(x->c->db->conn, cdc_buf_cstr(&sql), data.data, data.len,
                               x->c->errstr, x->c->errstr_size);
    }
    cdc_buf_free(&data);
    cdc_buf_free(&line);
    cdc_buf_free(&sql);
    return cls;
}

cdc_sink_status_t cdc_sink_apply_read_positions(tctx_t *x)
{
    const cdc_sink_table_t *t = x->t;
    char *keys = cdc_asprintf("_cdc_keys_%u", t->id);
    cdc_buf_t sql = CDC_BUF_INIT;
    PGresult *res = NULL;
    size_t staged = 0;
    cdc_sink_pg_class_t cls;

    /* Under a savepoint: a key text its column type refuses fails only this step. */
    cls = stage_keys(x, keys, &staged);
    if (cls == CDC_SINK_PG_OK && staged == 0)
        goto out;
    if (cls == CDC_SINK_PG_OK) {
        cdc_buf_printf(&sql, "SELECT k._i FROM %s k WHERE EXISTS (SELECT 1 FROM %s o WHERE ", keys,
                       t->target_q);
        cdc_sink_sql_put_key_match(&sql, t, "o", "k");
        cdc_buf_put_str(&sql, " AND ");
        cdc_sink_sql_put_pos(&sql, "o");
        /* OFFSET 0: one index lookup per key, never a hash over the whole target. */
        cdc_buf_put_str(&sql, " >= (k._e, k._p) OFFSET 0)");
        cls = cdc_sink_table_exec(x, cdc_buf_cstr(&sql), 0, NULL, &res);
    }
    if (cls == CDC_SINK_PG_OK) {
        for (int r = 0; res != NULL && r < PQntuples(res); r++) {
            size_t i = (size_t)strtoull(PQgetvalue(res, r, 0), NULL, 10);
            if (i < x->n)
                x->out[i].state = ROW_STORED_NEWER;
        }
        cls = cdc_sink_table_exec(x, "RELEASE SAVEPOINT cdc_positions", 0, NULL, NULL);
    } else if (cls == CDC_SINK_PG_PERMANENT) {
        cls = cdc_sink_table_exec(x, "ROLLBACK TO SAVEPOINT cdc_positions", 0, NULL, NULL);
        if (cls == CDC_SINK_PG_OK)
            cls = cdc_sink_table_exec(x, "RELEASE SAVEPOINT cdc_positions", 0, NULL, NULL);
    }
out:
    PQclear(res);
    cdc_buf_free(&sql);
    free(keys);
    return cdc_sink_db_status_of(cls);
}
