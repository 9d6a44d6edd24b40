/*
 * stream: the changes since a sequence number, as current row images (DESIGN.md
 * invariants 2 and 3).
 *
 * One batch is one short read transaction: read the capture state (epoch, high-water mark
 * H), fetch the log rows after `after_seq` coalesced to one entry per (table, typed key)
 * (cdc_capture_fetch), and read each key's current row. The log says which rows changed;
 * the row itself says what they are now: a row that exists is an upsert of its current
 * image, a missing row is a delete. Every record of the batch carries position (epoch,
 * H), since all images were read in the transaction that saw H; a newer image of the
 * same row can only come with a larger H.
 *
 * A key matches only the row whose key is exactly the logged value (same storage class,
 * same bytes): under a NOCASE key 'abc' finds the row 'ABC', but the row known by key
 * 'abc' is gone, so that is a delete of 'abc' (the new key has its own log entry).
 * Entries whose key has a NULL part are skipped and counted (see snapshot.h).
 *
 * Rows are copied out before the transaction ends and handed to the callback only
 * afterwards, so the consumer never holds the transaction open.
 */
#ifndef CDC_STREAM_H
#define CDC_STREAM_H

#include "cdc_pos.h"
#include "cdc_types.h"
#include "snapshot.h"
#include "table_info.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Log rows per batch when the caller passes 0. */
#define CDC_STREAM_DEFAULT_LIMIT 2000

/* One changed row, as the callback sees it; everything valid only during the call. */
typedef struct cdc_stream_change_s {
    cdc_pos_t pos;          /* (epoch, H) of the batch: the record's position */
    size_t table;           /* index into the caller's tables array */
    char op;                /* 'c': the newest log entry is an insert (or a delete whose row was
                               inserted again since); 'u': an update; 'd': the row is gone */
    const cdc_value_t *key; /* the logged key values, in key order */
    size_t n_keys;
    const cdc_value_t *row; /* current image, one value per column; NULL for 'd' */
    size_t n_cols;          /* 0 for 'd' */
    int64_t seq;            /* newest log entry of this key in the batch */
    double stmt_julian;     /* its statement time (julianday) */
} cdc_stream_change_t;

/* Called once per changed row, in seq order, after the batch's transaction ended. Return 0
 * to go on, non-zero to stop. */
typedef int (*cdc_stream_fn)(void *opaque, const cdc_stream_change_t *change);

typedef struct cdc_stream_batch_s {
    int64_t epoch;        /* capture epoch in the batch's read transaction */
    int64_t h;            /* high-water mark in the same transaction: every record's position */
    int64_t last_seq;     /* highest seq consumed (after_seq when none): the next batch starts
                             after it; acknowledge it once the batch is delivered */
    size_t log_rows;      /* log rows consumed */
    size_t upserts;       /* callbacks with a row image */
    size_t deletes;       /* callbacks without one */
    size_t null_keys;     /* entries skipped because a key part is NULL */
    int64_t data_version; /* PRAGMA data_version seen by the batch: pass to cdc_stream_wait */
    double hold_ms;       /* BEGIN to end of COMMIT of the read transaction */
    int busy_retries;     /* attempts that found the file locked by a writer */
} cdc_stream_batch_t;

/*
 * Reads the changes after after_seq (at most `limit` log rows, 0: the default) of the
 * captured tables in tables[0..n) (table_info of every captured table; the log's table
 * names are matched exactly against ti->name) and hands them to fn in seq order, then
 * fills *out (may be NULL). A log entry of a table not in the list, or with another key
 * width, is CDC_READ_ESTALE (nothing handed over, nothing consumed): reload the table
 * list and check capture. A busy file is retried for up to 10 s (CDC_READ_EBUSY). On
 * CDC_READ_EABORTED out->last_seq is after_seq: nothing of the batch counts as consumed.
 * The connection must be in autocommit mode. Tables are borrowed.
 */
cdc_read_err_t cdc_stream_read(sqlite3 *db, const cdc_table_info_t *const *tables, size_t n,
                               int64_t after_seq, size_t limit, cdc_stream_fn fn, void *opaque,
                               cdc_stream_batch_t *out, char *errstr, size_t errstr_size);

/*
 * Waits until another connection committed to the file since *version (PRAGMA
 * data_version as seen by out->data_version of the last batch, or by a previous wait; a
 * negative *version means "from now"), polling every 5 ms, or until timeout_ms passed.
 * Returns 1 (changed), 0 (timed out) or -1 on an error; *version receives the latest
 * value read. Our own connection's commits do not count, so acknowledging does not wake
 * the stream.
 */
int cdc_stream_wait(sqlite3 *db, int64_t *version, int timeout_ms);

#endif
