/*
 * position: where a source file's change log stands (DESIGN.md invariant 3).
 *
 * A position is a cdc_pos_t (epoch, H), ordered lexicographically (cdc_pos_cmp). The
 * epoch grows with every capture (re)install and with cdc_position_new_epoch; H is a
 * number of the change log's sequence, which never goes backwards (the state table keeps
 * a floor above every pruned number): the high-water mark of a read transaction is
 * max(max(seq) visible, floor), and an acknowledged position is the H of the last batch
 * Kafka acknowledged.
 *
 * The producer keeps, outside the file, the last position it acknowledged per source.
 * Order matters: acknowledge in the file first (cdc_position_acknowledge), then record
 * the position outside; then a file whose acknowledged seq is below the producer's record
 * can only be an older copy of the file (restored from a backup), and
 * cdc_position_compare says so.
 */
#ifndef CDC_POSITION_H
#define CDC_POSITION_H

#include "capture.h"
#include "cdc_pos.h"
#include "sqlite_util.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* The capture state of a file as one read transaction sees it. */
typedef struct cdc_position_state_s {
    int64_t epoch;
    int64_t high;        /* high-water mark: max(max_seq, floor) */
    int64_t floor;       /* seq_floor: every seq ever pruned is <= floor */
    int64_t max_seq;     /* newest log row (0 if the log is empty) */
    int64_t min_seq;     /* oldest log row (0 if the log is empty) */
    int64_t acked_epoch; /* last acknowledged position recorded in the file */
    int64_t acked_seq;
} cdc_position_state_t;

/*
 * Reads the state in the caller's read transaction (or in one statement's snapshot when
 * none is open): call it in the transaction that reads the row images, so H belongs to
 * them. CDC_CAPTURE_ENOCAPTURE when capture is not installed.
 */
cdc_capture_err_t cdc_position_read(sqlite3 *db, cdc_position_state_t *out, char *errstr,
                                    size_t errstr_size);

/* The high-water position (epoch, high) of a state. */
cdc_pos_t cdc_position_of(const cdc_position_state_t *state);

typedef enum {
    CDC_POSITION_SAME_EPOCH, /* file at or past what the producer acknowledged: resume */
    CDC_POSITION_NEW_EPOCH,  /* file in a newer epoch (or producer has no record): snapshot */
    CDC_POSITION_BEHIND,     /* file behind the acknowledged position: refuse */
} cdc_position_verdict_t;

/* Compares a file's state with the position the producer acknowledged for it (epoch 0:
 * none yet). BEHIND when the file's epoch is older, or the same epoch with an
 * acknowledged seq below the producer's. */
cdc_position_verdict_t cdc_position_compare(const cdc_position_state_t *file,
                                            const cdc_pos_t *acked);

/* Writes the operator message for a BEHIND verdict into buf: names the source, the file,
 * both positions, the probable cause and the command that starts a new epoch
 * (config_path NULL: "CONFIG"). */
void cdc_position_behind_message(const char *source, const char *path, const char *config_path,
                                 const cdc_position_state_t *file, const cdc_pos_t *acked,
                                 char *buf, size_t size);

typedef struct cdc_position_ack_s {
    int64_t pruned;     /* log rows deleted */
    int transactions;   /* write transactions used (pruning goes in chunks) */
    double max_hold_ms; /* longest write-lock hold among them */
    double total_ms;    /* wall time of the whole call */
    int busy_retries;
} cdc_position_ack_t;

/*
 * Acknowledges pos: in the first short write transaction records it (acked_epoch,
 * acked_seq, and seq_floor = max(floor, pos.h), so numbers never repeat) and deletes
 * the oldest log rows with seq <= pos.h, at most chunk_rows (0: 2000) per transaction;
 * further chunks follow in their own transactions, so no lock is held long. Refuses with
 * CDC_CAPTURE_EBEHIND, changing nothing, a position beyond the file (epoch newer than
 * the file's, or seq above its high-water mark). result may be NULL.
 */
cdc_capture_err_t cdc_position_acknowledge(sqlite3 *db, const cdc_pos_t *pos, int chunk_rows,
                                           int lock_timeout_ms, cdc_position_ack_t *result,
                                           char *errstr, size_t errstr_size);

/*
 * Starts a new epoch: epoch = max(file epoch, min_epoch) + 1, nothing else changes (the
 * sequence continues). Used by `--new-epoch` after an operator accepted that the file is
 * older than what was delivered; the producer then re-snapshots the source. stats may be
 * NULL.
 */
cdc_capture_err_t cdc_position_new_epoch(sqlite3 *db, int64_t min_epoch, int lock_timeout_ms,
                                         int64_t *epoch_out, cdc_sqlite_txstats_t *stats,
                                         char *errstr, size_t errstr_size);

#endif
