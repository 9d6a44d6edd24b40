#include "wl_ops.h"

#include "wl_rows.h"

#include "cdc_alloc.h"
#include "cdc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Tries per statement before a CHECK/UNIQUE/NOT NULL conflict is given up. */
#define MAX_ATTEMPTS 6
/* After this many logged failures, only every FAILURE_LOG_EVERY-th one is logged. */
#define FAILURE_LOG_FIRST 100
#define FAILURE_LOG_EVERY 1000

typedef enum {
    OUT_OK,
    OUT_REJECTED, /* refused by a freeze trigger */
    OUT_RETRY,    /* constraint conflict: try again with other values */
    OUT_GIVEUP,   /* too many conflicts: operation skipped */
    OUT_FAILED,   /* a real failure: the transaction is rolled back */
} outcome_t;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void log_failure(cdc_wl_runner_t *r, const cdc_wl_file_t *f, const char *table,
                        const char *what, int code, const char *msg)
{
    int busy = (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED;
    r->stats->failures++;
    if (busy)
        r->stats->busy_failures++;
    r->failures_logged++;
    if (r->failures_logged <= FAILURE_LOG_FIRST || r->failures_logged % FAILURE_LOG_EVERY == 0)
        cdc_log_warn("write failed: file=%s table=%s op=%s code=%d busy=%d failures=%llu "
                     "error=\"%s\"",
                     f->label, table ? table : "-", what, code, busy,
                     (unsigned long long)r->stats->failures, msg);
}

/* Runs a statement without results; returns the SQLite result code. */
static int exec_simple(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int val_equal(const cdc_wl_val_t *a, const cdc_wl_val_t *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case CDC_WL_VAL_NULL:
        return 1;
    case CDC_WL_VAL_INT:
        return a->i == b->i;
    case CDC_WL_VAL_REAL:
        return a->r == b->r;
    default:
        return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
    }
}

/*
 * Steps a prepared write and classifies the result: OUT_OK, OUT_REJECTED, OUT_RETRY or
 * OUT_FAILED.
 */
static outcome_t step_write(cdc_wl_runner_t *r, cdc_wl_file_t *f, cdc_wl_table_t *t,
                            const char *what, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return OUT_OK;
    const char *msg = sqlite3_errmsg(f->db);
    if ((rc & 0xff) == SQLITE_CONSTRAINT && !sqlite3_get_autocommit(f->db)) {
        if (strcasestr(msg, "frozen")) {
            r->stats->rejected++;
            if (!t->logged_frozen) {
                t->logged_frozen = 1;
                cdc_log_warn("write rejected: file=%s table=%s op=%s (table frozen) "
                             "error=\"%s\"",
                             f->label, t->name, what, msg);
            }
            return OUT_REJECTED;
        }
        r->stats->constraint_retries++;
        cdc_log_debug("constraint: file=%s table=%s op=%s error=\"%s\"", f->label, t->name, what,
                      msg);
        return OUT_RETRY;
    }
    /* Anything else, including a constraint whose trigger rolled back the whole
     * transaction (RAISE(ROLLBACK)), is a failure of the application's write. */
    log_failure(r, f, t->name, what, rc, msg);
    return OUT_FAILED;
}

static outcome_t give_up(cdc_wl_runner_t *r, cdc_wl_file_t *f, cdc_wl_table_t *t, const char *what)
{
    r->stats->constraint_giveups++;
    if (!t->logged_giveup) {
        t->logged_giveup = 1;
        cdc_log_info("gave up after %d constraint conflicts: file=%s table=%s op=%s "
                     "(counted as constraint_giveups, not as a failure)",
                     MAX_ATTEMPTS, f->label, t->name, what);
    }
    return OUT_GIVEUP;
}

/* Prepares sql; a failure to prepare (table dropped, schema changed) is a failure. */
static sqlite3_stmt *prepare(cdc_wl_runner_t *r, cdc_wl_file_t *f, cdc_wl_table_t *t,
                             const char *what, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(f->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        log_failure(r, f, t->name, what, rc, sqlite3_errmsg(f->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static outcome_t run_insert(cdc_wl_runner_t *r, cdc_wl_file_t *f, cdc_wl_table_t *t)
{
    const char *what = "insert";
    cdc_wl_val_t *vals = cdc_calloc(t->n_cols, sizeof(*vals));
    int *filled = cdc_calloc(t->n_cols, sizeof(int));
    char *cols = cdc_strdup(""), *params = cdc_strdup("");
    char *sql = NULL;
    outcome_t res = OUT_FAILED;
    int n = 0;

    /* INTEGER PRIMARY KEY is left to SQLite (max(rowid)+1), as most applications do. */
    for (size_t i = 0; i < t->n_cols; i++) {
        if (!t->cols[i].writable || (int)i == t->rowid_alias)
            continue;
        char *c2 = cdc_asprintf("%s%s%s", cols, n ? ", " : "", t->cols[i].qname);
        char *p2 = cdc_asprintf("%s%s?%zu", params, n ? ", " : "", i + 1);
        free(cols);
        free(params);
        cols = c2;
        params = p2;
        n++;
    }
    sql = n ? cdc_asprintf("INSERT INTO %s (%s) VALUES (%s)", t->qname, cols, params)
            : cdc_asprintf("INSERT INTO %s DEFAULT VALUES", t->qname);

    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        memset(filled, 0, t->n_cols * sizeof(int));
        for (size_t k = 0; k < t->n_fks; k++)
            cdc_wl_rows_fill_fk(&r->rng, f, t, k, vals, filled);
        for (size_t i = 0; i < t->n_cols; i++) {
            const cdc_wl_column_t *c = &t->cols[i];
            if (!c->writable || (int)i == t->rowid_alias || filled[i])
                continue;
            if (c->pk)
                cdc_wl_rows_new_key(&r->rng, f->db, t, (int)i, attempt, &vals[i]);
            else
                cdc_wl_value_generate(&r->rng, c, attempt, &vals[i]);
        }
        sqlite3_stmt *st = prepare(r, f, t, what, sql);
        if (!st)
            goto out;
        for (size_t i = 0; i < t->n_cols; i++)
            if (t->cols[i].writable && (int)i != t->rowid_alias)
                cdc_wl_val_bind(st, (int)i + 1, &vals[i]);
        res = step_write(r, f, t, what, st);
        sqlite3_finalize(st);
        if (res != OUT_RETRY)
            goto out;
    }
    res = give_up(r, f, t, what);
out:
    for (size_t i = 0; i < t->n_cols; i++)
        cdc_wl_val_clear(&vals[i]);
    free(vals);
    free(filled);
    free(cols);
    free(params);
    free(sql);
    return res;
}

/* A value for column col: from a parent row if it is a foreign key column, else generated
 * (key columns get a new unique value). */
static void value_for(cdc_wl_runner_t *r, cdc_wl_file_t *f, cdc_wl_table_t *t, int col, int attempt,
                      cdc_wl_val_t *out)
{
    const cdc_wl_column_t *c = &t->cols[col];
    if (c->fk && !(c->pk && attempt >= MAX_ATTEMPTS / 2)) {
        cdc_wl_rowkey_t parent = {0};
        int got = cdc_wl_rows_pick_parent(&r->rng, f, &t->fks[c->fk - 1], &parent);
        if (got)
            cdc_wl_val_copy(out, &parent.vals[c->fk_pos]);
        cdc_wl_rowkey_clear(&parent);
        if (got)
            return;
    }
    if (c->pk)
        cdc_wl_rows_new_key(&r->rng, f->db, t, col, attempt, out);
    else
        cdc_wl_value_generate(&r->rng, c, attempt, out);
}

/* UPDATE of 1-3 non-key columns, or (change_key) of one key column. */
static outcome_t run_update(cdc_wl_runner_t *r, cdc_wl_file_t *f, cdc_wl_table_t *t, int change_key,
                            const cdc_wl_rowkey_t *key)
{
    const char *what = change_key ? "key_change" : "update";
    int *cand = cdc_calloc(t->n_cols, sizeof(int));
    size_t n_cand = 0, n_set;
    cdc_wl_val_t vals[3] = {{0}};
    char *set = cdc_strdup(""), *where = NULL, *sql = NULL;
    outcome_t res = OUT_FAILED;

    for (size_t i = 0; i < t->n_cols; i++) {
        const cdc_wl_column_t *c = &t->cols[i];
        if (c->writable && (change_key ? c->pk > 0 : c->pk == 0 && (int)i != t->rowid_alias))
            cand[n_cand++] = (int)i;
    }
    /* A partial Fisher-Yates shuffle picks distinct columns. */
    n_set = change_key ? 1 : 1 + cdc_wl_rng_below(&r->rng, n_cand < 3 ? n_cand : 3);
    for (size_t i = 0; i < n_set; i++) {
        size_t j = i + cdc_wl_rng_below(&r->rng, n_cand - i);
        int tmp = cand[i];
        cand[i] = cand[j];
        cand[j] = tmp;
        char *s2 = cdc_asprintf("%s%s%s = ?%zu", set, i ? ", " : "", t->cols[cand[i]].qname, i + 1);
        free(set);
        set = s2;
    }
    where = cdc_wl_rows_where(t, (int)n_set + 1);
    sql = cdc_asprintf("UPDATE %s SET %s %s", t->qname, set, where);

    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        for (size_t i = 0; i < n_set; i++)
            value_for(r, f, t, cand[i], attempt, &vals[i]);
        if (change_key) {
            /* The changed column's old value: a "change" to the same key is drawn again. */
            size_t pos = 0;
            while (pos < t->n_pk && t->pk_cols[pos] != cand[0])
                pos++;
            if (pos < key->n && val_equal(&vals[0], &key->vals[pos]))
                continue;
        }
        sqlite3_stmt *st = prepare(r, f, t, what, sql);
        if (!st)
            goto out;
        for (size_t i = 0; i < n_set; i++)
            cdc_wl_val_bind(st, (int)i + 1, &vals[i]);
        cdc_wl_rows_bind_key(st, (int)n_set + 1, key);
        res = step_write(r, f, t, what, st);
        sqlite3_finalize(st);
        if (res != OUT_RETRY)
            goto out;
    }
    res = give_up(r, f, t, what);
out:
    for (size_t i = 0; i < 3; i++)
        cdc_wl_val_clear(&vals[i]);
    free(cand);
    free(set);
    free(where);
    free(sql);
    return res;
}

static outcome_t run_delete(cdc_wl_runner_t *r, cdc_wl_file_t *f, cdc_wl_table_t *t,
                            const cdc_wl_rowkey_t *key)
{
    char *where = cdc_wl_rows_where(t, 1);
    char *sql = cdc_asprintf("DELETE FROM %s %s", t->qname, where);
    outcome_t res = OUT_FAILED;
    sqlite3_stmt *st = prepare(r, f, t, "delete", sql);
    if (st) {
        cdc_wl_rows_bind_key(st, 1, key);
        res = step_write(r, f, t, "delete", st);
        sqlite3_finalize(st);
        if (res == OUT_RETRY) /* a constraint on delete (foreign_keys=ON): nothing else to try */
            res = give_up(r, f, t, "delete");
    }
    free(where);
    free(sql);
    return res;
}

static int has_updatable(const cdc_wl_table_t *t)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (t->cols[i].writable && t->cols[i].pk == 0 && (int)i != t->rowid_alias)
            return 1;
    return 0;
}

static int has_writable_key(const cdc_wl_table_t *t)
{
    for (size_t i = 0; i < t->n_pk; i++)
        if (t->cols[t->pk_cols[i]].writable)
            return 1;
    return 0;
}

/* Runs one operation; *done says which one actually ran (an UPDATE on an empty table
 * becomes an INSERT, a key change on a keyless table an UPDATE, and so on). */
static outcome_t run_op(cdc_wl_runner_t *r, cdc_wl_file_t *f, cdc_wl_table_t *t, cdc_wl_op_t op,
                        cdc_wl_op_t *done)
{
    cdc_wl_rowkey_t key = {0};
    outcome_t res = OUT_FAILED;
    if (op == CDC_WL_OP_KEY_CHANGE && !has_writable_key(t))
        op = CDC_WL_OP_UPDATE;
    if (op == CDC_WL_OP_UPDATE && !has_updatable(t))
        op = has_writable_key(t) ? CDC_WL_OP_KEY_CHANGE : CDC_WL_OP_INSERT;
    if (op != CDC_WL_OP_INSERT) {
        int got = cdc_wl_rows_pick_key(&r->rng, f->db, t, &key);
        if (got < 0) {
            log_failure(r, f, t->name, "select", sqlite3_extended_errcode(f->db),
                        sqlite3_errmsg(f->db));
            goto out;
        }
        if (got == 0)
            op = CDC_WL_OP_INSERT;
    }
    *done = op;
    switch (op) {
    case CDC_WL_OP_INSERT:
        res = run_insert(r, f, t);
        break;
    case CDC_WL_OP_DELETE:
        res = run_delete(r, f, t, &key);
        break;
    default:
        res = run_update(r, f, t, op == CDC_WL_OP_KEY_CHANGE, &key);
        break;
    }
out:
    cdc_wl_rowkey_clear(&key);
    return res;
}

static cdc_wl_op_t choose_op(cdc_wl_runner_t *r)
{
    uint64_t total = (uint64_t)r->mix[0] + r->mix[1] + r->mix[2] + r->mix[3];
    uint64_t x = cdc_wl_rng_below(&r->rng, total);
    for (int i = 0; i < 3; i++) {
        if (x < r->mix[i])
            return (cdc_wl_op_t)i;
        x -= r->mix[i];
    }
    return CDC_WL_OP_KEY_CHANGE;
}

void cdc_wl_ops_run_txn(cdc_wl_runner_t *r, cdc_wl_file_t *f, unsigned n_ops)
{
    cdc_wl_table_t *tables[3];
    cdc_wl_op_t ops[3];
    uint64_t tally[4] = {0};
    if (n_ops > 3)
        n_ops = 3;
    for (unsigned i = 0; i < n_ops; i++) {
        tables[i] = &f->schema.tables[f->sel[cdc_wl_rng_below(&r->rng, f->n_sel)]];
        ops[i] = choose_op(r);
    }
    r->stats->ops += n_ops;

    uint64_t t0 = now_us();
    int rc = exec_simple(f->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) {
        log_failure(r, f, tables[0]->name, "begin", rc, sqlite3_errmsg(f->db));
        goto out;
    }
    for (unsigned i = 0; i < n_ops; i++) {
        cdc_wl_op_t done = ops[i];
        outcome_t res = run_op(r, f, tables[i], ops[i], &done);
        if (res == OUT_FAILED)
            goto out;
        if (res == OUT_OK)
            tally[done]++;
    }
    rc = exec_simple(f->db, "COMMIT");
    if (rc != SQLITE_OK) {
        log_failure(r, f, tables[0]->name, "commit", rc, sqlite3_errmsg(f->db));
        goto out;
    }
    cdc_wl_stats_add_latency(r->stats, now_us() - t0);
    r->stats->commits++;
    r->stats->inserts += tally[CDC_WL_OP_INSERT];
    r->stats->updates += tally[CDC_WL_OP_UPDATE];
    r->stats->deletes += tally[CDC_WL_OP_DELETE];
    r->stats->key_changes += tally[CDC_WL_OP_KEY_CHANGE];
out:
    if (!sqlite3_get_autocommit(f->db))
        exec_simple(f->db, "ROLLBACK");
}
