/*
 * sink_outbox: publishes the parity outbox (DESIGN.md invariants 7 and 8, docs/parity.md).
 *
 * Each sink batch transaction writes one _cdc_parity_outbox row per result (match,
 * mismatch, superseded, dead_letter) together with the data. After the commit this module
 * turns the unsent rows of the domain into cdc.Parity records (parity_record.h), one per
 * (batch transaction, source, table) and at most OUTBOX_CHUNK_ROWS results each, produces
 * them to <prefix>.validation (idempotent producer, acks=all), waits for every delivery
 * report, and only then marks the rows sent, in the same PostgreSQL transaction that read
 * them. A crash anywhere before that commit leaves the rows unsent: they are published
 * again at the next start (cdc_sink_outbox_publish in the worker's setup) or after the
 * next commit of any worker of the domain. Nothing is lost; a record may be delivered
 * twice, and is then recognized by its batch_id (the smallest outbox id it carries, the
 * same whenever the same rows are published) and counted once by the validator.
 *
 * Why the grouping is stable: a batch's outbox rows are written by one COPY in one
 * transaction; the column batch_tx (DEFAULT txid_current(), added by this module when
 * the sink's DDL lacks it) gives all of them the same 64-bit transaction id, which never
 * changes afterwards, and they become visible together. A record covers exactly the
 * rows of one (batch_tx, source, table), cut into chunks by outbox id, so publishing the
 * same rows again yields the same records with the same batch ids. Workers of one domain
 * publish one at a time (a transaction-scoped advisory lock per domain), so a row is
 * never in two publications that both commit.
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
 * Publishes every unsent outbox row of the domain through db's connection (which must
 * not be inside a transaction), in rounds, each confirmed by Kafka before its rows are
 * marked sent. Also deletes rows sent more than an hour ago (at most once a minute).
 * Returns 0, or -1 with the reason in errstr (PostgreSQL or Kafka unavailable: retriable;
 * what was not confirmed stays unsent). db is borrowed.
 */
int cdc_sink_outbox_publish(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr,
                            size_t errstr_size);

/*
 * The hook after each committed batch: the crash test hook, then a publication; a
 * failure is logged and retried by cdc_sink_outbox_tick() with backoff (the rows wait
 * in the outbox). db is borrowed.
 */
void cdc_sink_outbox_after_commit(cdc_sink_outbox_t *o, cdc_sink_db_t *db);

/* Retries a failed publication once its backoff (1 s doubling to 30 s) has expired;
 * otherwise does nothing. Call it from the worker's loop. */
void cdc_sink_outbox_tick(cdc_sink_outbox_t *o, cdc_sink_db_t *db);

/* 1 when the last publication failed (rows are waiting in the outbox). */
int cdc_sink_outbox_pending(const cdc_sink_outbox_t *o);

/* Outbox rows marked sent and cdc.Parity records confirmed since creation. */
uint64_t cdc_sink_outbox_rows_sent(const cdc_sink_outbox_t *o);
uint64_t cdc_sink_outbox_records_sent(const cdc_sink_outbox_t *o);

#endif
