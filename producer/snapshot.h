/*
 * snapshot: a table's rows in key-ordered chunks, each read in one short read transaction
 * (DESIGN.md invariants 2 and 3).
 *
 * A chunk is BEGIN; read the capture state (epoch, high-water mark H); SELECT the next
 * `limit` rows after the last key (keyset pagination: `WHERE (k1,k2) > (?,?) ORDER BY
 * k1,k2`, which SQLite evaluates with the same comparison, storage classes and
 * collations as the ORDER BY, and which uses the key's index); COMMIT. The rows are
 * copied out of SQLite before the callback sees them, so a slow consumer (encoding,
 * Kafka) never extends the transaction: in rollback-journal mode the SHARED lock is held
 * only for the SELECT, and in WAL mode the snapshot never pins a checkpoint for long.
 * Every row of a chunk carries position (epoch, H) of that chunk. Key columns named in the
 * config without an index still work, but then every chunk sorts the table: give such
 * keys a UNIQUE index for big tables.
 *
 * Rows whose key has a NULL part cannot be told apart by capture (SQLite lets
 * non-INTEGER primary keys of rowid tables, and config-named keys, hold NULLs): they
 * are left out of the chunks and counted (first chunk), with a warning naming the table.
 *
 * This header also holds what snapshot.c and stream.c share: the error enum, an owned
 * key, and a row buffer that copies values out of a statement.
 */
#ifndef CDC_SNAPSHOT_H
#define CDC_SNAPSHOT_H

#include "cdc_pos.h"
#include "cdc_types.h"
#include "table_info.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CDC_READ_OK = 0,
    CDC_READ_ESQLITE,    /* SQLite error (message in errstr) */
    CDC_READ_EBUSY,      /* the file stayed locked by writers: retry later */
    CDC_READ_ENOCAPTURE, /* capture is not installed: no high-water mark to read */
    CDC_READ_EABORTED,   /* the callback returned non-zero */
    CDC_READ_ESTALE,     /* the log names a table (or key shape) the caller did not pass:
                            reload the table list and check capture, then retry */
} cdc_read_err_t;

const char *cdc_read_err2str(cdc_read_err_t err);

/* Rows per chunk when the caller passes 0: about 1 ms of reading per chunk (measured in
 * tests/unit/test_snapshot.c), short against any application's busy timeout. */
#define CDC_SNAPSHOT_DEFAULT_LIMIT 2000

/* An owned copy of key values (text/blob bytes owned, NUL-terminated). */
typedef struct cdc_key_s {
    size_t n;
    cdc_value_t *values;
} cdc_key_t;

/* Replaces *dst (which must be initialised, e.g. zeroed) with a copy of src[0..n). */
void cdc_key_copy(cdc_key_t *dst, const cdc_value_t *src, size_t n);
/* Frees the values; *k is zeroed and can be reused. */
void cdc_key_clear(cdc_key_t *k);

/* One row of a chunk, as the callback sees it; everything valid only during the call. */
typedef struct cdc_snapshot_row_s {
    cdc_pos_t pos;          /* (epoch, H) of the chunk: the row's position */
    const cdc_value_t *key; /* key values in key order (the rowid for rowid-keyed tables) */
    size_t n_keys;
    const cdc_value_t *row; /* one value per column, in table_info's column order */
    size_t n_cols;
} cdc_snapshot_row_t;

/* Called once per row, in key order, after the chunk's transaction ended. Return 0 to go
 * on, non-zero to stop. */
typedef int (*cdc_snapshot_row_fn)(void *opaque, const cdc_snapshot_row_t *row);

typedef struct cdc_snapshot_chunk_s {
    int64_t epoch;      /* capture epoch in the chunk's read transaction */
    int64_t h;          /* high-water mark in the same transaction: the rows' position */
    size_t rows;        /* rows handed to the callback */
    int done;           /* the table has no rows after last_key (as of H) */
    cdc_key_t last_key; /* key of the last row handed over (n == 0: none); owned */
    size_t null_keys;   /* first chunk only: rows left out because a key part is NULL */
    double hold_ms;     /* BEGIN to end of COMMIT of the read transaction */
    int busy_retries;   /* attempts that found the file locked by a writer */
} cdc_snapshot_chunk_t;

/* Frees what a chunk result owns (last_key) and zeroes it. */
void cdc_snapshot_chunk_clear(cdc_snapshot_chunk_t *c);

/*
 * Reads the next chunk of table ti: at most `limit` rows (0: CDC_SNAPSHOT_DEFAULT_LIMIT)
 * whose key is greater than after_key (ti->n_keys values in key order, e.g.
 * out->last_key.values of the previous chunk; NULL: from the start), hands them to fn
 * in key order, and fills *out. out must be zeroed before the first call; it may hold the
 * previous chunk (after_key may point into it): its last_key is replaced (freed) only
 * after the read. A busy file is retried with backoff for up to 10 s (CDC_READ_EBUSY
 * after that). On CDC_READ_EABORTED, out->rows and out->last_key cover the rows the
 * callback accepted, so the caller can resume after them.
 */
cdc_read_err_t cdc_snapshot_chunk(sqlite3 *db, const cdc_table_info_t *ti,
                                  const cdc_value_t *after_key, size_t limit,
                                  cdc_snapshot_row_fn fn, void *opaque, cdc_snapshot_chunk_t *out,
                                  char *errstr, size_t errstr_size);

/* --- shared with stream.c ------------------------------------------------------------- */

/* Rows of `width` values copied out of SQLite statements; text/blob bytes live in
 * blocks owned by the buffer (NUL-terminated), so rows stay valid until it is freed. */
typedef struct cdc_rowbuf_s {
    size_t width;
    size_t n_rows;
    size_t cap_rows;
    cdc_value_t *values; /* n_rows * width */
    struct cdc_rowbuf_block_s *blocks;
} cdc_rowbuf_t;

void cdc_rowbuf_init(cdc_rowbuf_t *b, size_t width);
/* Appends a row of `width` NULL values and returns it (valid until the next add). */
cdc_value_t *cdc_rowbuf_add(cdc_rowbuf_t *b);
/* Copies column col of the current row of st into *dst. */
void cdc_rowbuf_set_column(cdc_rowbuf_t *b, cdc_value_t *dst, sqlite3_stmt *st, int col);
/* Copies a value (and its bytes) into *dst. */
void cdc_rowbuf_set_value(cdc_rowbuf_t *b, cdc_value_t *dst, const cdc_value_t *src);
const cdc_value_t *cdc_rowbuf_row(const cdc_rowbuf_t *b, size_t i);
/* Drops every row (keeps nothing); the buffer can be reused. */
void cdc_rowbuf_reset(cdc_rowbuf_t *b);
void cdc_rowbuf_free(cdc_rowbuf_t *b);

/* 1 when a and b are the same value exactly: same storage class and same bytes (no
 * collation, integer 1 and real 1.0 differ), as capture keys rows. */
int cdc_read_value_same(const cdc_value_t *a, const cdc_value_t *b);

/* Binds v to parameter idx of st (bytes copied by SQLite). */
int cdc_read_bind(sqlite3_stmt *st, int idx, const cdc_value_t *v);

/* Retry pacing for read transactions that met a writer's lock (rollback-journal mode, or
 * WAL recovery): sleeps 1 ms doubling to 20 ms by attempt. */
void cdc_read_backoff(int attempt);

#endif
