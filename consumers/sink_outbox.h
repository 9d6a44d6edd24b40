/*
 * sink_outbox: publishes the parity outbox (DESIGN.md invariants 7 and 8, docs/parity.md).
 *
 * Each sink batch transaction writes its parity results to _cdc_parity_outbox together
 * with the data: one row per (source, table) counting its matches (column results), one
 * counting its superseded versions, one per mismatch and dead letter (key and hashes;
 * rows of older sinks are one result each, results = 1). This module turns unsent
 * rows into cdc.Parity records (parity_record.h), one per (batch transaction, source,
 * table) and at most 1000 results each, produces them to <prefix>.validation (idempotent
 * producer, acks=all), and marks the rows sent only after Kafka confirmed every record of
 * the publication. Nothing is lost; a record may be delivered twice, and is then
 * recognized by its batch_id (the smallest outbox id it carries, the same whenever the
 * same rows are published) and counted once by the validator.
 *
 * Two ways of publishing (sink_outbox_pub.c):
 * - own: the worker hands each committed batch's transaction id to
 *   cdc_sink_outbox_after_commit(); cdc_sink_outbox_tick() publishes them from the loop
 *   when the worker is idle, every 250 ms, or every 64 transactions, asynchronously: the
 *   records are queued and the loop goes on applying; when their delivery reports are all
 *   in, one autocommit UPDATE marks the rows sent. No PostgreSQL transaction or lock is
 *   held while Kafka confirms, and no batch waits for the publication.
 * - sweep: every unsent row of the domain, in rounds of one transaction each under a
 *   per-domain advisory lock (one sweeper at a time): at worker start
 *   (cdc_sink_outbox_publish: what a crashed worker left), every 30 s for rows older than
 *   30 s (orphans of a crashed worker while its peers keep running), and after a failed
 *   sweep with backoff. A sweep may publish rows a live worker is publishing too (only
 *   when that worker's publication is older than 30 s): a duplicate, counted once.
 * A crash anywhere before the rows are marked sent leaves them unsent: a sweep publishes
 * them again.
 *
 * Why the grouping is stable: a batch's outbox rows are written by one COPY in one
 * transaction; the column batch_tx (DEFAULT txid_current(), added by this module when
 * the sink's DDL lacks it) gives all of them the same 64-bit transaction id, which never
 * changes afterwards, and they become visible together. A record covers exactly the
 * rows of one (batch_tx, source, table), cut into chunks by outbox id, so publishing the
 * same rows again yields the same records with the same batch ids, whoever publishes them.
 *
 * Test hooks (tests/integration/parity_*.test.sh, docs/parity.md), read from the
 * environment at creation: CDC_SINK_CRASH_AFTER_COMMIT=N makes the process kill itself
 * with SIGKILL right after its N-th committed batch, before publishing;
 * CDC_SINK_CRASH_BEFORE_MARK=N right after Kafka confirmed its N-th publication round,
 * before the rows are marked sent (the records then reach the validator twice).
 *
 * Single-threaded; uses the worker's database connection between batches.
 */
#ifndef CDC_SINK_OUTBOX_H
#define CDC_SINK_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_config.h"
#include "sink_apply.h"

typedef struct cdc_sink_outbox_s cdc_sink_outbox_t;

/*
 * Creates the publisher of domain's outbox (a producer for <prefix>.validation and
 * <prefix>.schemas). conf is borrowed and must outlive the publisher. Returns NULL with
 * the reason in errstr; caller frees with cdc_sink_outbox_destroy().
 */
cdc_sink_outbox_t *cdc_sink_outbox_new(const cdc_config_t *conf, const char *domain, char *errstr,
                                       size_t errstr_size);

/* Flushes (bounded, 10 s) and destroys; NULL is a no-op. */
void cdc_sink_outbox_destroy(cdc_sink_outbox_t *o);

/*
 * Sweeps: publishes every unsent outbox row of the domain through db's connection (which
 * must not be inside a transaction), in rounds, each confirmed by Kafka before its rows
 * are marked sent (synchronously). Also deletes rows sent more than an hour ago (at most
 * once a minute).
 * Returns 0, or -1 with the reason in errstr (PostgreSQL or Kafka unavailable: retriable;
 * what was not confirmed stays unsent). db is borrowed.
 */
int cdc_sink_outbox_publish(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr,
                            size_t errstr_size);

/*
 * The hook after each committed batch: the crash test hook, then batch_tx (the batch's
 * cdc_sink_stats_t.outbox_tx; 0: it wrote no outbox rows) joins the worker's unpublished
 * transactions. Publishes nothing itself.
 */
void cdc_sink_outbox_after_commit(cdc_sink_outbox_t *o, int64_t batch_tx);

/*
 * Call from the worker's loop, between batches: serves delivery reports, marks confirmed
 * publications sent (failed ones are published again after a backoff of 1 s doubling to
 * 30 s), starts the publication of the worker's own transactions when idle is non-zero
 * (nothing left to apply), 250 ms after the oldest committed, or at 64 of them, and runs
 * the periodic orphan sweep or a failed sweep's retry. Errors are logged; rows wait in
 * the outbox. db is borrowed (its connection must not be inside a transaction).
 */
void cdc_sink_outbox_tick(cdc_sink_outbox_t *o, cdc_sink_db_t *db, int idle);

/*
 * At stop: publishes the worker's remaining own transactions and waits (at most 10 s)
 * until Kafka confirmed them and they are marked sent; retries a failed sweep. Returns 0,
 * or -1 with the reason in errstr (the rows stay unsent; the next sweep takes them).
 */
int cdc_sink_outbox_finish(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr,
                           size_t errstr_size);

/* 1 when results of this worker wait (unpublished, unconfirmed, or a failed sweep). */
int cdc_sink_outbox_pending(const cdc_sink_outbox_t *o);

/* Parity results marked sent (a counted outbox row stands for many) and cdc.Parity
 * records confirmed since creation. */
uint64_t cdc_sink_outbox_rows_sent(const cdc_sink_outbox_t *o);
uint64_t cdc_sink_outbox_records_sent(const cdc_sink_outbox_t *o);

#endif
