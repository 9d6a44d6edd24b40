/*
 * sink_consumer: the Kafka side of one cdc-sink worker (DESIGN.md invariants 4-7,
 * DESIGN.md "Components": cdc-sink).
 *
 * Group membership: one consumer in the domain's group cdc_kafka_sink_group(conf, domain)
 * (cdc_kafka_conf_new: no auto-commit, auto.offset.reset=error), subscribed to
 * <prefix>.<domain>, with the EAGER protocol (rd_kafka_assign): a revocation takes every
 * partition back before the new assignment is handed out, so no two members ever hold
 * one partition at the same time and a batch finished inside the revocation can never
 * race the next owner (the stored-offset fence protects anyway).
 *
 * On assignment, per partition: the stored next offset from PostgreSQL
 * (cdc_sink_db_claim_partition, 0 inserted when none), the watermarks
 * (rd_kafka_query_watermark_offsets); stored < low watermark is a GAP: the worker stops
 * (exit 1) naming the topic, partition, missing range [stored, low) and the way out;
 * stored > high watermark means the topic lost records it once had (recreated): also
 * stopped. The partition is assigned at exactly the stored offset: a worker resumes only
 * from the stored offset, auto.offset.reset never decides (invariant 6).
 *
 * On revocation: each revoked partition's open batch gets ONE apply attempt (the records
 * are decoded already and the eager protocol guarantees nobody else holds the partition
 * yet); if that attempt is not OK the batch is dropped — nothing of it was committed, so
 * the next owner reads it again from the stored offset.
 *
 * Batching: messages are grouped per partition; a partition's batch is applied when it
 * holds --batch-rows entries, when it is --batch-ms old, as soon as the partition is
 * caught up (the batch reaches the high watermark of the partition's last fetch: nothing
 * more to read for it now) or the consumer has nothing fetched for a few ms (idle), and
 * in --once mode when it reaches the end offset. So a stream is applied as it arrives
 * (small batches when it is slow, full ones when it is fast) and --batch-ms is only the
 * longest wait (--batch-min-ms holds batches at least that long, for tests that need
 * open batches). The open batches of a worker share a byte budget (--batch-bytes, 12 MiB
 * by default: decoded entries plus the kept messages): over it, the largest is applied.
 * A batch's first offset is the partition's next expected offset; a message
 * with another offset (prefetched before a seek, after a rebalance) is dropped and the
 * partition re-seeked to the expected offset; if the broker then still answers with a
 * larger offset, the offsets in between do not exist and the batch spans them.
 * Apply outcome: OK -> next offset = batch end, offsets committed to Kafka (async, only
 * for lag tools); FENCED -> the batch is dropped, the stored offset re-read and the
 * partition seeked to it; RETRIABLE -> back off 100 ms doubling to 5 s and apply the same
 * batch again (the apply step reconnects); FATAL -> exit 1.
 *
 * Undecodable records (sink_decode.h) go to <prefix>.<domain>.dlq (sink_dlq.h; delivery
 * confirmed) and become dead-letter bookkeeping entries of their partition's batch. The
 * messages of the open batch are kept (at most one batch per partition) so that a record
 * PostgreSQL refuses can be dead-lettered with its original payload.
 */
#ifndef CDC_SINK_CONSUMER_H
#define CDC_SINK_CONSUMER_H

#include <signal.h>

#include "cdc_config.h"
#include "cdc_metrics.h"

typedef struct cdc_sink_run_opts_s {
    int once;                          /* exit 0 at the end offsets observed at assignment */
    int batch_rows;                    /* entries per partition batch (default 5000) */
    int batch_ms;                      /* age of a partition batch before it is applied (200) */
    int assign_timeout_ms;             /* --once: wait for the first assignment (30000) */
    const volatile sig_atomic_t *stop; /* raised by SIGINT/SIGTERM; may be NULL */
    cdc_metrics_t *metrics;            /* --metrics-port registry (borrowed), or NULL */
    long batch_bytes; /* budget of all open batches of the worker; 0: 12 MiB (--batch-bytes) */
    int batch_min_ms; /* no early apply (caught up, idle) before a batch is this old */
} cdc_sink_run_opts_t;

/*
 * Runs one worker of domain (which must exist in conf) until *opts->stop is raised (open
 * batches are finished, the group is left: returns 0), or with --once until every assigned
 * partition reached the end offset observed when it was assigned (returns 0). Returns 1
 * with the reason in errstr on an operational failure (a gap, PostgreSQL or Kafka refusing
 * for good, no assignment within the bound in --once mode). conf is borrowed.
 */
int cdc_sink_run(const cdc_config_t *conf, const char *domain, const cdc_sink_run_opts_t *opts,
                 char *errstr, size_t errstr_size);

#endif
