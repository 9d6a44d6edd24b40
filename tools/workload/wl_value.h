/*
 * wl_value: the workload's own seeded PRNG and the values it writes.
 *
 * Every choice the workload makes (file, table, operation, row, value) is drawn from one
 * cdc_wl_rng_t seeded from --seed, never from rand() or the clock, so the same seed on
 * identical files gives the same writes. Values follow the column's declared type (see
 * wl_schema.h) and look like application data: names and sentences with some
 * non-ASCII text, e-mails, ISO dates, exact cents, valid JSON, occasional NULLs.
 */
#ifndef WL_VALUE_H
#define WL_VALUE_H

#include "wl_schema.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* xoshiro256** state; seed it with cdc_wl_rng_seed(). */
typedef struct cdc_wl_rng_s {
    uint64_t s[4];
} cdc_wl_rng_t;

void cdc_wl_rng_seed(cdc_wl_rng_t *rng, uint64_t seed);
uint64_t cdc_wl_rng_next(cdc_wl_rng_t *rng);
/* Uniform in [0, n); n == 0 returns 0. */
uint64_t cdc_wl_rng_below(cdc_wl_rng_t *rng, uint64_t n);
/* Uniform in [lo, hi] (inclusive); lo > hi returns lo. */
int64_t cdc_wl_rng_range(cdc_wl_rng_t *rng, int64_t lo, int64_t hi);
/* 1 with probability percent/100. */
int cdc_wl_rng_chance(cdc_wl_rng_t *rng, unsigned percent);

typedef enum {
    CDC_WL_VAL_NULL,
    CDC_WL_VAL_INT,
    CDC_WL_VAL_REAL,
    CDC_WL_VAL_TEXT,
    CDC_WL_VAL_BLOB,
} cdc_wl_val_type_t;

/* One value to bind; text/blob bytes are owned by the value (free with cdc_wl_val_clear). */
typedef struct cdc_wl_val_s {
    cdc_wl_val_type_t type;
    int64_t i;
    double r;
    char *p;
    size_t len;
} cdc_wl_val_t;

/* Frees the bytes and makes v NULL; clearing a NULL value is a no-op. */
void cdc_wl_val_clear(cdc_wl_val_t *v);
/* Copies column i of the current row of st into v (v is cleared first). */
void cdc_wl_val_from_column(sqlite3_stmt *st, int i, cdc_wl_val_t *v);
/* Binds v to parameter idx of st; the statement copies the bytes. Returns an SQLite code. */
int cdc_wl_val_bind(sqlite3_stmt *st, int idx, const cdc_wl_val_t *v);
/* Deep copy of src into dst (dst cleared first). */
void cdc_wl_val_copy(cdc_wl_val_t *dst, const cdc_wl_val_t *src);

/*
 * Generates a value for a non-key column. attempt counts earlier SQLITE_CONSTRAINT
 * failures of the same statement: from attempt 1 on the value is never NULL, from
 * attempt 2 on it is conservative (short ASCII text, small non-negative numbers), and
 * from attempt 3 on nullable columns are left NULL more and more often (a CHECK with a
 * NULL operand passes), so CHECK constraints the hint reader cannot read still pass.
 */
void cdc_wl_value_generate(cdc_wl_rng_t *rng, const cdc_wl_column_t *col, int attempt,
                           cdc_wl_val_t *out);

/*
 * Generates a value meant to be new in the column (a new key, or a UNIQUE column):
 * integers from a wide range, text with a random base-36 token (within VARCHAR(n)),
 * random bytes. Never NULL. Collisions remain possible and are left to the retry.
 */
void cdc_wl_value_unique(cdc_wl_rng_t *rng, const cdc_wl_column_t *col, cdc_wl_val_t *out);

#endif
