#include "sink_consumer.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "sink_consumer_int.h"

#define SHUTDOWN_ATTEMPTS   3  /* apply attempts for an open batch when stopping */
#define POLL_MS             50 /* longest wait for a message (the loop's tick) */
#define IDLE_MS             5  /* nothing fetched for this long with batches open: idle */
#define DEFAULT_BATCH_BYTES (12L * 1024 * 1024)

typedef struct dl_ctx_s {
    worker_t *w;
    int32_t partition;
} dl_ctx_t;

void cdc_sink_worker_fail(worker_t *w, const char *fmt, ...)
{
    va_list ap;
    if (w->failed)
        return; /* keep the first cause */
    w->failed = 1;
    cdc_sink_metrics_error(w->metrics, CDC_SINK_METRICS_FATAL);
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
}

static part_t *part_get(worker_t *w, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if (partition >= w->nparts) {
        int32_t n = partition + 1;
        w->parts = cdc_realloc(w->parts, (size_t)n * sizeof(*w->parts));
        memset(w->parts + w->nparts, 0, (size_t)(n - w->nparts) * sizeof(*w->parts));
        w->nparts = n;
    }
    part_t *p = &w->parts[partition];
    if (!p->batch)
        p->batch = cdc_sink_batch_new();
    return p;
}

static void drop_batch(worker_t *w, part_t *p)
{
    /* Released, not kept for reuse: a worker's many partitions would otherwise each keep
     * an entry array at its largest (~1 MiB per 5,000-row batch), outside the budget. */
    if (p->batch)
        cdc_sink_batch_release(p->batch);
    for (size_t i = 0; i < p->nmsgs; i++)
        rd_kafka_message_destroy(p->msgs[i]);
    p->nmsgs = 0;
    w->open_bytes -= p->bytes < w->open_bytes ? p->bytes : w->open_bytes;
    p->bytes = 0;
    p->msg_bytes = 0;
}

void cdc_sink_worker_seek(worker_t *w, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, w->topic, partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(w->rk, l, KAFKA_TIMEOUT_MS);
    if (e) {
        cdc_log_warn("seek %s [%d] to offset %" PRId64 ": %s", w->topic, (int)partition, offset,
                     rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (l->elems[0].err) {
        cdc_log_warn("seek %s [%d] to offset %" PRId64 ": %s", w->topic, (int)partition, offset,
                     rd_kafka_err2str(l->elems[0].err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}
/* Offsets are committed to Kafka only so that standard lag tools see them (invariant 6):
 * asynchronously, and nothing ever reads them back. */
static void commit_to_kafka(worker_t *w, int32_t partition, int64_t next)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, w->topic, partition)->offset = next;
    rd_kafka_resp_err_t err = rd_kafka_commit(w->rk, l, 1);
    if (err)
        cdc_log_debug("commit %s [%d] at %" PRId64 " to Kafka: %s", w->topic, (int)partition, next,
                      rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* The stored offset of a partition (inserting 0), retrying while PostgreSQL is away. */
static int claim(worker_t *w, int32_t partition, int64_t *next)
{
    char err[1024];
    int backoff = BACKOFF_FIRST_MS;
    for (;;) {
        cdc_sink_status_t st =
            cdc_sink_db_claim_partition(w->db, w->topic, partition, next, err, sizeof(err));
        if (st == CDC_SINK_OK)
            return 0;
        if (st != CDC_SINK_RETRIABLE) {
            cdc_sink_worker_fail(w, "%s [%d]: reading the stored offset: %s", w->topic,
                                 (int)partition, err);
            return -1;
        }
        if (stopping(w))
            return -1;
        cdc_sink_metrics_error(w->metrics, CDC_SINK_METRICS_RETRIABLE);
        cdc_log_warn("%s [%d]: reading the stored offset (retrying in %d ms): %s", w->topic,
                     (int)partition, backoff, err);
        cdc_time_sleep_ms(backoff);
        backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
    }
}

/* Invariant 6's gap check at the stored offset; also sets the --once end offset. */
int cdc_sink_worker_check_watermarks(worker_t *w, int32_t partition, part_t *p)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(w->rk, w->topic, partition, &lo, &hi, KAFKA_TIMEOUT_MS);
    if (err) {
        cdc_sink_worker_fail(w, "%s [%d]: cannot read the watermarks: %s", w->topic, (int)partition,
                             rd_kafka_err2str(err));
        return -1;
    }
    if (p->next < lo) {
        cdc_sink_worker_fail(
            w,
            "GAP in %s [%d]: the stored offset is %" PRId64 " but the partition starts at %" PRId64
            ": offsets [%" PRId64 ", %" PRId64 ") were removed before this domain's sink applied "
            "them. The way out: re-snapshot the sources of domain %s (`cdc-producer --new-epoch`, "
            "or `cdc-ctl resnapshot`), then move the stored offset with "
            "`UPDATE _cdc_offsets SET next_offset = %" PRId64 " WHERE domain = '%s' AND topic = "
            "'%s' AND kpartition = %d`",
            w->topic, (int)partition, p->next, lo, p->next, lo, w->domain, lo, w->domain, w->topic,
            (int)partition);
        return -1;
    }
    if (p->next > hi) {
        cdc_sink_worker_fail(
            w,
            "%s [%d]: the stored offset %" PRId64 " is beyond the end of the partition (%" PRId64
            "): the topic lost records it once had (recreated?); re-snapshot domain %s and "
            "reset its rows in _cdc_offsets",
            w->topic, (int)partition, p->next, hi, w->domain);
        return -1;
    }
    p->end = hi;
    cdc_log_info("assigned %s [%d] at stored offset %" PRId64 " (partition offsets %" PRId64
                 "..%" PRId64 ")",
                 w->topic, (int)partition, p->next, lo, hi);
    return 0;
}

static int apply_batch(worker_t *w, int32_t partition, int max_attempts);

static void on_assign(worker_t *w, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt && !w->failed; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        part_t *p = part_get(w, tp->partition);
        drop_batch(w, p);
        if (claim(w, tp->partition, &p->next) < 0 ||
            cdc_sink_worker_check_watermarks(w, tp->partition, p) < 0)
            break;
        p->assigned = 1;
        p->seeked_to = -1;
        p->seek_tries = 0;
        tp->offset = p->next; /* resume only from the stored offset */
    }
    if (w->failed || stopping(w)) {
        rd_kafka_assign(w->rk, NULL);
        return;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(w->rk, parts);
    if (err)
        cdc_sink_worker_fail(w, "assigning partitions of %s: %s", w->topic, rd_kafka_err2str(err));
    w->assigned = 1;
}

static void on_revoke(worker_t *w, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int32_t partition = parts->elems[i].partition;
        part_t *p = partition < w->nparts ? &w->parts[partition] : NULL;
        if (!p)
            continue;
        /* One attempt: nobody holds the partition until we return (eager protocol). */
        if (batch_open(p) && !w->failed)
            apply_batch(w, partition, 1);
        drop_batch(w, p);
        p->assigned = 0;
    }
    rd_kafka_assign(w->rk, NULL);
    w->assigned = 0;
}

void cdc_sink_worker_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    worker_t *w = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        cdc_sink_metrics_rebalance(w->metrics);
        on_assign(w, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        cdc_log_info("%d partition(s) of %s revoked", parts->cnt, w->topic);
        on_revoke(w, parts);
    } else {
        cdc_log_error("rebalance of %s failed: %s", w->topic, rd_kafka_err2str(err));
        on_revoke(w, parts);
    }
}

/* The apply step's dead-letter callback: add the original payload if we kept it. */
static int dead_letter_cb(const cdc_sink_dead_letter_t *dl, void *opaque)
{
    dl_ctx_t *ctx = opaque;
    part_t *p = &ctx->w->parts[ctx->partition];
    cdc_dlq_info_t info = dl->info;
    char err[512];

    for (size_t i = 0; i < p->nmsgs; i++)
        if (p->msgs[i]->offset == dl->info.origin_offset) {
            info.payload = p->msgs[i]->payload;
            info.payload_len = p->msgs[i]->len;
            break;
        }
    if (cdc_sink_dlq_send(ctx->w->dlq, &info, dl->key, dl->key_len, NULL, 0, DLQ_TIMEOUT_MS, err,
                          sizeof(err)) < 0) {
        cdc_log_error("%s", err);
        return -1;
    }
    return 0;
}

static void add_stats(cdc_sink_stats_t *t, const cdc_sink_stats_t *s)
{
    t->applied += s->applied;
    t->superseded += s->superseded;
    t->deleted += s->deleted;
    t->dead_letters += s->dead_letters;
    t->mismatches += s->mismatches;
    t->markers += s->markers;
    t->heartbeats += s->heartbeats;
    t->fenced += s->fenced;
}

/*
 * Applies the open batch of partition. max_attempts 0: retry RETRIABLE until it works or
 * the worker is stopping. Returns 0 when the batch is gone (applied, or fenced and
 * dropped), -1 when it is still open (gave up) or the worker failed.
 */
static int apply_batch(worker_t *w, int32_t partition, int max_attempts)
{
    part_t *p = &w->parts[partition];
    dl_ctx_t ctx = {w, partition};
    cdc_sink_stats_t stats;
    char err[1024];
    int backoff = BACKOFF_FIRST_MS;
    int64_t first = p->next;
    double started = cdc_sink_metrics_clock();

    for (int attempt = 1;; attempt++) {
        cdc_sink_status_t st =
            cdc_sink_apply(w->db, p->batch, w->topic, partition, first, p->batch_end,
                           dead_letter_cb, &ctx, &stats, err, sizeof(err));
        switch (st) {
        case CDC_SINK_OK:
            cdc_log_debug("%s [%d] offsets %" PRId64 "..%" PRId64 " applied: %zu entries", w->topic,
                          (int)partition, first, p->batch_end, cdc_sink_batch_count(p->batch));
            add_stats(&w->total, &stats);
            cdc_sink_metrics_batch(w->metrics, &stats, cdc_sink_metrics_clock() - started);
            w->batches++;
            p->next = p->batch_end;
            drop_batch(w, p);
            commit_to_kafka(w, partition, p->next);
            /* parity results: published from the loop (cdc_sink_outbox_tick) */
            cdc_sink_outbox_after_commit(w->outbox, stats.outbox_tx);
            return 0;
        case CDC_SINK_FENCED:
            cdc_log_warn("%s [%d]: batch at offset %" PRId64 " fenced (another worker moved the "
                         "stored offset); dropping it and re-reading the stored offset",
                         w->topic, (int)partition, first);
            w->total.fenced++;
            cdc_sink_metrics_fenced(w->metrics);
            drop_batch(w, p);
            if (claim(w, partition, &p->next) < 0)
                return -1;
            if (p->assigned) {
                cdc_sink_worker_seek(w, partition, p->next);
                p->seeked_to = -1;
            }
            return 0;
        case CDC_SINK_FATAL:
            cdc_sink_worker_fail(w, "%s [%d] batch at offset %" PRId64 ": %s", w->topic,
                                 (int)partition, first, err);
            return -1;
        case CDC_SINK_RETRIABLE:
            cdc_sink_metrics_error(w->metrics, CDC_SINK_METRICS_RETRIABLE);
            break;
        }
        if ((max_attempts > 0 && attempt >= max_attempts) || (max_attempts == 0 && stopping(w))) {
            cdc_log_warn("%s [%d]: batch at offset %" PRId64 " not applied: %s", w->topic,
                         (int)partition, first, err);
            return -1;
        }
        cdc_log_warn("%s [%d]: applying the batch at offset %" PRId64 " (retrying in %d ms): %s",
                     w->topic, (int)partition, first, backoff, err);
        cdc_time_sleep_ms(backoff);
        backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
    }
}

/* The partition's open batch reaches the high watermark of its last fetch response:
 * nothing more is there to read for it now. */
static int caught_up(worker_t *w, int32_t partition, const part_t *p)
{
    int64_t lo = 0, hi = 0;
    return rd_kafka_get_watermark_offsets(w->rk, w->topic, partition, &lo, &hi) ==
               RD_KAFKA_RESP_ERR_NO_ERROR &&
           hi >= 0 && p->batch_end >= hi;
}

/* Accounts the message just added to partition's batch against the budget. */
static void account(worker_t *w, part_t *p, size_t nmsgs_before)
{
    size_t bytes;
    if (p->nmsgs > nmsgs_before)
        p->msg_bytes += p->msgs[p->nmsgs - 1]->len + p->msgs[p->nmsgs - 1]->key_len;
    bytes = cdc_sink_batch_bytes(p->batch) + p->msg_bytes + p->nmsgs * sizeof(*p->msgs);
    w->open_bytes += bytes - p->bytes;
    p->bytes = bytes;
}

/*
 * Applies every batch that is full, old enough, caught up (partition: the one a message
 * was just added to, -1: none), every open one when idle, and (--once) those at their end
 * offset; then, while the open batches exceed the byte budget, the largest.
 */
static void flush_due(worker_t *w, int32_t partition, int idle)
{
    int64_t now = cdc_time_now_ms();
    size_t budget = w->opts->batch_bytes > 0 ? (size_t)w->opts->batch_bytes : DEFAULT_BATCH_BYTES;

    if (partition >= 0 && partition < w->nparts && w->parts[partition].assigned &&
        batch_open(&w->parts[partition]) &&
        now - w->parts[partition].opened_ms >= w->opts->batch_min_ms &&
        caught_up(w, partition, &w->parts[partition]))
        apply_batch(w, partition, 0);
    for (int32_t i = 0; i < w->nparts && !w->failed && !stopping(w); i++) {
        part_t *p = &w->parts[i];
        if (!p->assigned || !batch_open(p))
            continue;
        if ((idle && now - p->opened_ms >= w->opts->batch_min_ms) ||
            cdc_sink_batch_count(p->batch) >= (size_t)w->opts->batch_rows ||
            now - p->opened_ms >= w->opts->batch_ms || (w->opts->once && p->batch_end >= p->end))
            apply_batch(w, i, 0);
    }
    while (w->open_bytes > budget && !w->failed && !stopping(w)) {
        int32_t largest = -1;
        for (int32_t i = 0; i < w->nparts; i++)
            if (w->parts[i].assigned && batch_open(&w->parts[i]) &&
                (largest < 0 || w->parts[i].bytes > w->parts[largest].bytes))
                largest = i;
        if (largest < 0 || apply_batch(w, largest, 0) < 0)
            break;
    }
}

/* How long the loop may wait for a message: a few ms while batches are open (then they
 * are applied as idle), at most until the oldest is due. */
static int poll_timeout(const worker_t *w)
{
    int64_t now = cdc_time_now_ms(), t = POLL_MS;
    for (int32_t i = 0; i < w->nparts; i++) {
        const part_t *p = &w->parts[i];
        if (p->assigned && batch_open(p)) {
            int64_t left = p->opened_ms + w->opts->batch_ms - now;
            t = left < IDLE_MS ? left : IDLE_MS;
            if (t <= 0)
                return 0;
        }
    }
    return (int)t;
}

static int once_done(const worker_t *w)
{
    if (!w->assigned)
        return 0;
    for (int32_t i = 0; i < w->nparts; i++) {
        const part_t *p = &w->parts[i];
        if (p->assigned && (batch_open(p) || p->next < p->end))
            return 0;
    }
    return 1;
}

static void teardown(worker_t *w)
{
    if (w->rk) {
        /* Leaves the group; the revocation inside applies nothing (batches were finished
         * or the worker failed) and drops what is left. */
        rd_kafka_consumer_close(w->rk);
        for (int32_t i = 0; i < w->nparts; i++)
            drop_batch(w, &w->parts[i]);
        rd_kafka_destroy(w->rk);
    }
    for (int32_t i = 0; i < w->nparts; i++) {
        drop_batch(w, &w->parts[i]);
        cdc_sink_batch_destroy(w->parts[i].batch);
        free(w->parts[i].msgs);
    }
    free(w->parts);
    cdc_sink_outbox_destroy(w->outbox);
    cdc_sink_dlq_destroy(w->dlq);
    cdc_sink_decoder_destroy(w->dec);
    cdc_sink_schemas_destroy(w->schemas);
    cdc_sink_db_close(w->db);
    free(w->topic);
}

int cdc_sink_run(const cdc_config_t *conf, const char *domain, const cdc_sink_run_opts_t *opts,
                 char *errstr, size_t errstr_size)
{
    worker_t w;
    int rc = 1, ever_assigned = 0;
    int64_t assign_deadline = cdc_time_now_ms() + opts->assign_timeout_ms;

    memset(&w, 0, sizeof(w));
    w.conf = conf;
    w.domain = domain;
    w.opts = opts;
    w.metrics = cdc_sink_metrics_new(opts->metrics, conf, domain);
    if (cdc_sink_worker_setup(&w, errstr, errstr_size) < 0)
        goto out;
    while (!w.failed && !stopping(&w)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w.rk, poll_timeout(&w));
        int32_t partition = -1;
        if (m) {
            part_t *p = !m->err && m->partition >= 0 && m->partition < w.nparts
                            ? &w.parts[m->partition]
                            : NULL;
            size_t before = p ? p->nmsgs : 0;
            partition = m->partition;
            cdc_sink_worker_handle_message(&w, m); /* m belongs to the batch or is gone */
            if (p && p->nmsgs != before)
                account(&w, p, before);
        }
        ever_assigned |= w.assigned;
        flush_due(&w, partition, m == NULL);
        cdc_sink_outbox_tick(w.outbox, w.db, m == NULL);
        cdc_sink_metrics_tick(w.metrics, &w);
        if (opts->once && once_done(&w)) {
            cdc_log_info("--once: every assigned partition of %s reached its end offset", w.topic);
            break;
        }
        if (opts->once && !ever_assigned && cdc_time_now_ms() > assign_deadline)
            cdc_sink_worker_fail(&w,
                                 "--once: no partition assignment for group of %s within %d ms "
                                 "(is the broker reachable?)",
                                 w.topic, opts->assign_timeout_ms);
    }
    /* Finish the open batches (SIGINT/SIGTERM or --once), with a few attempts only. */
    for (int32_t i = 0; i < w.nparts && !w.failed; i++)
        if (w.parts[i].assigned && batch_open(&w.parts[i]) &&
            apply_batch(&w, i, SHUTDOWN_ATTEMPTS) < 0 && !w.failed)
            cdc_sink_worker_fail(&w,
                                 "%s [%d]: the open batch could not be applied before "
                                 "stopping (it will be read again from the stored offset)",
                                 w.topic, (int)i);
    if (w.failed) {
        snprintf(errstr, errstr_size, "%s", w.err);
        goto out;
    }
    if (cdc_sink_outbox_pending(w.outbox) &&
        cdc_sink_outbox_finish(w.outbox, w.db, errstr, errstr_size) < 0)
        cdc_log_warn("parity outbox of domain %s left unpublished (the next worker publishes "
                     "it at start): %s",
                     domain, errstr);
    rc = 0;
out:
    cdc_log_info("domain %s: %" PRIu64 " batches, %" PRIu64 " rows applied, %" PRIu64
                 " superseded, %" PRIu64 " deletes, %" PRIu64 " dead letters (%" PRIu64
                 " sent to the dead-letter topic), %" PRIu64 " mismatches, %" PRIu64
                 " markers, %" PRIu64 " heartbeats, %" PRIu64 " fenced",
                 domain, w.batches, w.total.applied, w.total.superseded, w.total.deleted,
                 w.total.dead_letters, w.dlq ? cdc_sink_dlq_count(w.dlq) : 0, w.total.mismatches,
                 w.total.markers, w.total.heartbeats, w.total.fenced);
    if (w.outbox)
        cdc_log_info("domain %s: %" PRIu64 " parity results published in %" PRIu64
                     " records to %s.validation",
                     domain, cdc_sink_outbox_rows_sent(w.outbox),
                     cdc_sink_outbox_records_sent(w.outbox), conf->topic_prefix);
    teardown(&w);
    cdc_sink_metrics_destroy(w.metrics);
    return rc;
}
