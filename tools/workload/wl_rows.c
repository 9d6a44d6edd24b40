#include "wl_rows.h"

#include "cdc_alloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Row counts of WITHOUT ROWID tables are refreshed after this many picks. */
#define COUNT_MAX_AGE 64

void cdc_wl_rowkey_clear(cdc_wl_rowkey_t *k)
{
    for (size_t i = 0; i < k->n; i++)
        cdc_wl_val_clear(&k->vals[i]);
    free(k->vals);
    k->vals = NULL;
    k->n = 0;
}

/* Comma-separated quoted names of cols (indexes into t->cols), or "rowid" if n == 0. */
static char *select_list(const cdc_wl_table_t *t, const int *cols, size_t n)
{
    if (n == 0)
        return cdc_strdup("rowid");
    char *s = cdc_strdup("");
    for (size_t i = 0; i < n; i++) {
        char *next = cdc_asprintf("%s%s%s", s, i ? ", " : "", t->cols[cols[i]].qname);
        free(s);
        s = next;
    }
    return s;
}

/* Prepares sql and steps it once; returns the statement positioned on its first row,
 * or NULL (error, or no row: *empty set). */
static sqlite3_stmt *query_one(sqlite3 *db, const char *sql, int64_t bind1, int has_bind,
                               int *empty, int *err)
{
    sqlite3_stmt *st = NULL;
    *empty = *err = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        *err = 1;
        goto fail;
    }
    if (has_bind)
        sqlite3_bind_int64(st, 1, bind1);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        return st;
    if (step == SQLITE_DONE)
        *empty = 1;
    else
        *err = 1;
fail:
    sqlite3_finalize(st);
    return NULL;
}

/*
 * Picks a random row of t and reads the columns cols (rowid when n == 0) into out.
 * Returns 1 found, 0 empty, -1 on error.
 */
static int pick_row(cdc_wl_rng_t *rng, sqlite3 *db, cdc_wl_table_t *t, const int *cols, size_t n,
                    cdc_wl_rowkey_t *out)
{
    sqlite3_stmt *st = NULL;
    char *sql = NULL;
    char *list = select_list(t, cols, n);
    int rc = -1, empty, err;
    cdc_wl_rowkey_clear(out);
    if (!t->without_rowid) {
        /* Two subqueries: min() and max() together in one SELECT would scan the table. */
        sql = cdc_asprintf("SELECT (SELECT min(rowid) FROM %s), (SELECT max(rowid) FROM %s)",
                           t->qname, t->qname);
        st = query_one(db, sql, 0, 0, &empty, &err);
        if (!st)
            goto out;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            rc = 0;
            goto out;
        }
        int64_t probe =
            cdc_wl_rng_range(rng, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
        sqlite3_finalize(st);
        free(sql);
        sql = cdc_asprintf("SELECT %s FROM %s WHERE rowid >= ?1 ORDER BY rowid LIMIT 1", list,
                           t->qname);
        st = query_one(db, sql, probe, 1, &empty, &err);
    } else {
        char *order = select_list(t, t->pk_cols, t->n_pk);
        sql =
            cdc_asprintf("SELECT %s FROM %s ORDER BY %s LIMIT 1 OFFSET ?1", list, t->qname, order);
        free(order);
        /* A stale count (rows deleted since) gets one refresh and a second draw. */
        for (int round = 0; round < 2 && !st; round++) {
            if (round == 1 || t->cached_count < 0 || t->count_age >= COUNT_MAX_AGE) {
                char *csql = cdc_asprintf("SELECT count(*) FROM %s", t->qname);
                sqlite3_stmt *cst = query_one(db, csql, 0, 0, &empty, &err);
                free(csql);
                if (!cst)
                    goto out;
                t->cached_count = sqlite3_column_int64(cst, 0);
                t->count_age = 0;
                sqlite3_finalize(cst);
            }
            t->count_age++;
            if (t->cached_count <= 0) {
                rc = 0;
                goto out;
            }
            int64_t off = (int64_t)cdc_wl_rng_below(rng, (uint64_t)t->cached_count);
            st = query_one(db, sql, off, 1, &empty, &err);
            if (err)
                goto out;
        }
    }
    if (!st) {
        rc = err ? -1 : 0;
        goto out;
    }
    out->n = n ? n : 1;
    out->vals = cdc_calloc(out->n, sizeof(*out->vals));
    for (size_t i = 0; i < out->n; i++)
        cdc_wl_val_from_column(st, (int)i, &out->vals[i]);
    rc = 1;
out:
    sqlite3_finalize(st);
    free(sql);
    free(list);
    return rc;
}

int cdc_wl_rows_pick_key(cdc_wl_rng_t *rng, sqlite3 *db, cdc_wl_table_t *t, cdc_wl_rowkey_t *key)
{
    return pick_row(rng, db, t, t->pk_cols, t->n_pk, key);
}

int cdc_wl_rows_pick_parent(cdc_wl_rng_t *rng, cdc_wl_file_t *f, const cdc_wl_fk_t *fk,
                            cdc_wl_rowkey_t *out)
{
    cdc_wl_table_t *p = cdc_wl_schema_find(&f->schema, fk->parent);
    if (!p)
        return 0;
    int *cols = cdc_calloc(fk->n, sizeof(int));
    int rc = 0;
    for (size_t i = 0; i < fk->n; i++) {
        int idx = -1;
        if (fk->parent_cols[i]) {
            for (size_t k = 0; k < p->n_cols; k++)
                if (strcasecmp(p->cols[k].name, fk->parent_cols[i]) == 0)
                    idx = (int)k;
        } else if (i < p->n_pk) {
            idx = p->pk_cols[i]; /* REFERENCES parent without columns: the parent's key */
        }
        if (idx < 0)
            goto out;
        cols[i] = idx;
    }
    rc = pick_row(rng, f->db, p, cols, fk->n, out) == 1;
out:
    free(cols);
    return rc;
}

void cdc_wl_rows_new_key(cdc_wl_rng_t *rng, sqlite3 *db, const cdc_wl_table_t *t, int col,
                         int attempt, cdc_wl_val_t *out)
{
    const cdc_wl_column_t *c = &t->cols[col];
    cdc_wl_val_clear(out);
    if (c->kind == CDC_WL_KIND_INTEGER && (t->n_pk == 1 || col == t->rowid_alias)) {
        sqlite3_stmt *st = NULL;
        int empty, err;
        char *sql = cdc_asprintf("SELECT max(%s) FROM %s", c->qname, t->qname);
        st = query_one(db, sql, 0, 0, &empty, &err);
        free(sql);
        /* A column declared INTEGER may hold text (SQLite is dynamically typed): then
         * max() is no integer and a random value is used instead. */
        int type = st ? sqlite3_column_type(st, 0) : SQLITE_TEXT;
        int64_t max = type == SQLITE_INTEGER ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        if ((type == SQLITE_INTEGER || type == SQLITE_NULL) && max < INT64_MAX - 100) {
            out->type = CDC_WL_VAL_INT;
            out->i = max + 1 + attempt;
            return;
        }
    }
    cdc_wl_value_unique(rng, c, out);
}

void cdc_wl_rows_fill_fk(cdc_wl_rng_t *rng, cdc_wl_file_t *f, const cdc_wl_table_t *t,
                         size_t fk_idx, cdc_wl_val_t *vals, int *filled)
{
    const cdc_wl_fk_t *fk = &t->fks[fk_idx];
    int nullable = 1;
    for (size_t i = 0; i < fk->n; i++)
        nullable &= !t->cols[fk->child_cols[i]].not_null && !t->cols[fk->child_cols[i]].pk;
    if (nullable && cdc_wl_rng_chance(rng, 8)) {
        for (size_t i = 0; i < fk->n; i++) {
            cdc_wl_val_clear(&vals[fk->child_cols[i]]);
            filled[fk->child_cols[i]] = 1;
        }
        return;
    }
    cdc_wl_rowkey_t parent = {0};
    if (cdc_wl_rows_pick_parent(rng, f, fk, &parent)) {
        for (size_t i = 0; i < fk->n; i++) {
            cdc_wl_val_copy(&vals[fk->child_cols[i]], &parent.vals[i]);
            filled[fk->child_cols[i]] = 1;
        }
    }
    cdc_wl_rowkey_clear(&parent);
}

char *cdc_wl_rows_where(const cdc_wl_table_t *t, int first)
{
    if (t->n_pk == 0)
        return cdc_asprintf("WHERE rowid = ?%d", first);
    /* IS, not =: key columns of rowid tables may hold NULL, and IS still uses the index. */
    char *s = cdc_strdup("WHERE");
    for (size_t i = 0; i < t->n_pk; i++) {
        char *next = cdc_asprintf("%s%s %s IS ?%d", s, i ? " AND" : "",
                                  t->cols[t->pk_cols[i]].qname, first + (int)i);
        free(s);
        s = next;
    }
    return s;
}

void cdc_wl_rows_bind_key(sqlite3_stmt *st, int first, const cdc_wl_rowkey_t *key)
{
    for (size_t i = 0; i < key->n; i++)
        cdc_wl_val_bind(st, first + (int)i, &key->vals[i]);
}
