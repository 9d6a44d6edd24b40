/*
 * wl_rows: how cdc-workload finds the rows it changes and the key values it writes.
 *
 * Row picking must stay cheap on large tables and must depend only on the PRNG and the
 * file's contents (never on timing): rowid tables probe a random rowid between min and
 * max, WITHOUT ROWID tables take an OFFSET into key order. New keys are max+1 for a
 * single integer key (what applications do) and random unique values otherwise.
 */
#ifndef WL_ROWS_H
#define WL_ROWS_H

#include "wl_files.h"
#include "wl_value.h"

/* Values read from one row: its key columns (or its rowid), or a parent's columns. */
typedef struct cdc_wl_rowkey_s {
    cdc_wl_val_t *vals;
    size_t n;
} cdc_wl_rowkey_t;

/* Frees the values; the struct may be reused. Clearing an empty rowkey is a no-op. */
void cdc_wl_rowkey_clear(cdc_wl_rowkey_t *k);

/*
 * Picks a random row of t and reads its key (the declared key, or rowid for a keyless
 * table) into key (cleared first). Returns 1 found, 0 empty table, -1 on an SQLite error
 * (message in sqlite3_errmsg(db)).
 */
int cdc_wl_rows_pick_key(cdc_wl_rng_t *rng, sqlite3 *db, cdc_wl_table_t *t, cdc_wl_rowkey_t *key);

/*
 * Reads the parent columns of foreign key fk from a random row of its parent table into
 * out (one value per fk column). Returns 1 if a parent row was found, else 0.
 */
int cdc_wl_rows_pick_parent(cdc_wl_rng_t *rng, cdc_wl_file_t *f, const cdc_wl_fk_t *fk,
                            cdc_wl_rowkey_t *out);

/*
 * A new value for key column col of t: max(col)+1(+attempt) for a single integer key or
 * the INTEGER PRIMARY KEY, a random unique value otherwise. out is cleared first.
 */
void cdc_wl_rows_new_key(cdc_wl_rng_t *rng, sqlite3 *db, const cdc_wl_table_t *t, int col,
                         int attempt, cdc_wl_val_t *out);

/*
 * For an INSERT: fills vals[c] and sets filled[c] for every child column of foreign key
 * fk_idx of t, from a random parent row (or NULL now and then when all its columns are
 * nullable). Leaves the columns unfilled when the parent table is empty.
 */
void cdc_wl_rows_fill_fk(cdc_wl_rng_t *rng, cdc_wl_file_t *f, const cdc_wl_table_t *t,
                         size_t fk_idx, cdc_wl_val_t *vals, int *filled);

/* "WHERE k1 IS ?first AND k2 IS ?first+1 ..." or "WHERE rowid = ?first" for a keyless
 * table; caller frees with free(). */
char *cdc_wl_rows_where(const cdc_wl_table_t *t, int first);

/* Binds key's values to the parameters of cdc_wl_rows_where(t, first). */
void cdc_wl_rows_bind_key(sqlite3_stmt *st, int first, const cdc_wl_rowkey_t *key);

#endif
