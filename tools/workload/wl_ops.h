/*
 * wl_ops: one write transaction of cdc-workload, as an application would run it.
 *
 * A transaction is BEGIN IMMEDIATE (so the busy timeout governs waiting for the write
 * lock: a deferred transaction that upgrades from read to write can get SQLITE_BUSY at
 * once in WAL mode, without waiting, which no sane application accepts), 1-3 statements
 * (INSERT, UPDATE of non-key columns, DELETE, UPDATE that changes the primary key), and
 * COMMIT. Outcomes per statement:
 *   - SQLITE_CONSTRAINT from a trigger whose message contains "frozen": "rejected"
 *     (logged once per table), the transaction goes on;
 *   - other SQLITE_CONSTRAINT: retried with new values ("constraint_retries"), given up
 *     after a few tries ("constraint_giveups"); neither is a failure;
 *   - anything else (SQLITE_BUSY/SQLITE_LOCKED after the busy timeout, I/O errors,
 *     missing tables): a failure, logged with file, table and message; the transaction
 *     is rolled back. A failed BEGIN or COMMIT is a failure too.
 */
#ifndef WL_OPS_H
#define WL_OPS_H

#include "wl_files.h"
#include "wl_stats.h"
#include "wl_value.h"

typedef enum {
    CDC_WL_OP_INSERT = 0,
    CDC_WL_OP_UPDATE = 1,
    CDC_WL_OP_DELETE = 2,
    CDC_WL_OP_KEY_CHANGE = 3,
} cdc_wl_op_t;

/* Shared state of the run; the caller owns every pointer. */
typedef struct cdc_wl_runner_s {
    cdc_wl_rng_t rng;
    unsigned mix[4]; /* weights of insert, update, delete, key change */
    cdc_wl_stats_t *stats;
    uint64_t failures_logged;
} cdc_wl_runner_t;

/*
 * Runs one transaction of n_ops operations (1..3) on file f, which must have at least
 * one selected table; every outcome goes into r->stats. The choices (tables, operations,
 * rows, values) come from r->rng only, so they depend on the seed and the file contents,
 * never on timing.
 */
void cdc_wl_ops_run_txn(cdc_wl_runner_t *r, cdc_wl_file_t *f, unsigned n_ops);

#endif
