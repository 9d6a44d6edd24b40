/*
 * sink_metrics: one sink worker's series (sink_metrics.h).
 */
#include "sink_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libpq-fe.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "sink_batch.h"
#include "sink_consumer_int.h"
#include "sink_db.h"

#define N_CLASSES        3
#define LAG_EVERY_S      0.5
#define DL_EVERY_S       10.0
#define DL_AFTER_BATCH_S 1.0 /* a batch with dead letters refreshes the gauge this soon */

static const char *const class_names[N_CLASSES] = {"retriable", "permanent", "fatal"};

struct cdc_sink_metrics_s {
    char *domain;
    int32_t nparts;
    cdc_metric_t *rows, *superseded, *batches, *duration, *fenced, *rebalances, *assigned;
    cdc_metric_t *mismatches, *dead_letters, *unresolved, *dropped_columns;
    cdc_metric_t *errors[N_CLASSES];
    cdc_metric_t **lag_messages, **lag_seconds; /* per partition */
    double *behind_since; /* per partition: when unread records were first seen, 0: none */
    double lag_at, dl_at;
    int dl_dirty;
};

double cdc_sink_metrics_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

cdc_sink_metrics_t *cdc_sink_metrics_new(cdc_metrics_t *reg, const cdc_config_t *conf,
                                         const char *domain)
{
    const cdc_domain_t *dm = cdc_config_domain(conf, domain);
    cdc_sink_metrics_t *m;
    char part[16];

    if (reg == NULL || dm == NULL)
        return NULL;
    m = cdc_calloc(1, sizeof *m);
    m->domain = cdc_strdup(domain);
    m->nparts = dm->partitions > 0 ? dm->partitions : 0;
    m->rows = cdc_metrics_counter(reg, "cdc_sink_rows_applied_total",
                                  "Row changes written to the target (upserts and deletes); "
                                  "rate() gives rows per second",
                                  "domain", domain, NULL);
    m->superseded =
        cdc_metrics_counter(reg, "cdc_sink_rows_superseded_total",
                            "Row versions not written because the target already held a newer one",
                            "domain", domain, NULL);
    m->batches = cdc_metrics_counter(reg, "cdc_sink_batches_total",
                                     "Partition batches committed (one transaction each)", "domain",
                                     domain, NULL);
    m->duration = cdc_metrics_histogram(
        reg, "cdc_sink_batch_duration_seconds",
        "Time from a batch's first apply attempt to its commit (retries included)",
        cdc_metrics_latency_buckets, CDC_METRICS_LATENCY_BUCKETS_N, "domain", domain, NULL);
    m->fenced = cdc_metrics_counter(reg, "cdc_sink_fenced_batches_total",
                                    "Batches dropped because another worker had moved the "
                                    "partition's stored offset (invariant 6)",
                                    "domain", domain, NULL);
    m->rebalances = cdc_metrics_counter(reg, "cdc_sink_rebalances_total",
                                        "Partition assignments received from the consumer group",
                                        "domain", domain, NULL);
    m->assigned = cdc_metrics_gauge(reg, "cdc_sink_assigned_partitions",
                                    "Partitions of the domain topic this worker holds", "domain",
                                    domain, NULL);
    m->lag_messages = cdc_calloc((size_t)m->nparts + 1, sizeof *m->lag_messages);
    m->lag_seconds = cdc_calloc((size_t)m->nparts + 1, sizeof *m->lag_seconds);
    m->behind_since = cdc_calloc((size_t)m->nparts + 1, sizeof *m->behind_since);
    for (int32_t i = 0; i < m->nparts; i++) {
        snprintf(part, sizeof part, "%d", (int)i);
        m->lag_messages[i] = cdc_metrics_gauge(
            reg, "cdc_sink_lag_messages",
            "Records of the partition after its stored offset (0 where this worker does not "
            "hold the partition)",
            "domain", domain, "partition", part, NULL);
    }
    for (int32_t i = 0; i < m->nparts; i++) {
        snprintf(part, sizeof part, "%d", (int)i);
        m->lag_seconds[i] = cdc_metrics_gauge(
            reg, "cdc_sink_lag_seconds",
            "Age of the oldest record of the partition not yet applied, heartbeats aside (0 "
            "when caught up, or where this worker does not hold the partition)",
            "domain", domain, "partition", part, NULL);
    }
    m->mismatches = cdc_metrics_counter(
        reg, "cdc_sink_parity_mismatches_total",
        "Rows whose stored image hashes differently from the producer's row hash", "domain", domain,
        NULL);
    m->dead_letters = cdc_metrics_counter(reg, "cdc_dead_letters_total",
                                          "Records sent to the domain's dead-letter topic", "stage",
                                          "sink", "domain", domain, NULL);
    m->unresolved = cdc_metrics_gauge(reg, "cdc_dead_letters_unresolved",
                                      "Dead letters of the domain not yet resolved "
                                      "(_cdc_dead_letters, refreshed at most every 10 s)",
                                      "domain", domain, NULL);
    m->dropped_columns = cdc_metrics_counter(
        reg, "cdc_sink_dropped_columns_total",
        "Target columns a new schema of their source lacks (dropped or renamed in the source; "
        "the target keeps them), counted once per schema this worker resolved; the sink's log "
        "names them",
        "domain", domain, NULL);
    for (int c = 0; c < N_CLASSES; c++)
        m->errors[c] = cdc_metrics_counter(
            reg, "cdc_errors_total",
            "Errors by class: retriable (tried again), permanent (one record refused), "
            "fatal (the worker stops)",
            "component", "sink", "class", class_names[c], NULL);
    m->dl_dirty = 1; /* read the table at the first tick */
    return m;
}

void cdc_sink_metrics_destroy(cdc_sink_metrics_t *m)
{
    if (m == NULL)
        return;
    free(m->lag_messages);
    free(m->lag_seconds);
    free(m->behind_since);
    free(m->domain);
    free(m);
}

void cdc_sink_metrics_batch(cdc_sink_metrics_t *m, const cdc_sink_stats_t *stats, double seconds)
{
    if (m == NULL)
        return;
    cdc_metric_add(m->rows, (double)(stats->applied + stats->deleted));
    cdc_metric_add(m->superseded, (double)stats->superseded);
    cdc_metric_add(m->batches, 1);
    cdc_metric_observe(m->duration, seconds < 0 ? 0 : seconds);
    cdc_metric_add(m->mismatches, (double)stats->mismatches);
    if (stats->dead_letters > 0) {
        cdc_metric_add(m->dead_letters, (double)stats->dead_letters);
        cdc_metric_add(m->errors[CDC_SINK_METRICS_PERMANENT], (double)stats->dead_letters);
    }
    /* New dead letters, or open ones a newer version of their key may have resolved in
     * this batch: look soon. */
    if (stats->dead_letters > 0 || cdc_metric_value(m->unresolved) > 0)
        m->dl_dirty = 1;
}

void cdc_sink_metrics_fenced(cdc_sink_metrics_t *m)
{
    if (m)
        cdc_metric_add(m->fenced, 1);
}

void cdc_sink_metrics_dropped_columns(cdc_sink_metrics_t *m, size_t n)
{
    if (m)
        cdc_metric_add(m->dropped_columns, (double)n);
}

void cdc_sink_metrics_rebalance(cdc_sink_metrics_t *m)
{
    if (m)
        cdc_metric_add(m->rebalances, 1);
}

void cdc_sink_metrics_error(cdc_sink_metrics_t *m, cdc_sink_metrics_class_t cls)
{
    if (m && (int)cls >= 0 && (int)cls < N_CLASSES)
        cdc_metric_add(m->errors[cls], 1);
}

/* Kafka timestamp (ms) of the oldest record of p's open batch that is not a heartbeat, or
 * 0 when the open batch holds none. Entries and messages are both in offset order. */
static double oldest_change_ms(const part_t *p)
{
    const cdc_sink_batch_t *b = p->batch;
    size_t j = 0;

    if (b == NULL)
        return 0;
    for (size_t i = 0; i < b->count; i++) {
        if (b->entries[i].kind == CDC_SINK_ENTRY_HEARTBEAT)
            continue;
        while (j < p->nmsgs && p->msgs[j]->offset < b->entries[i].offset)
            j++;
        if (j < p->nmsgs) {
            int64_t ts = rd_kafka_message_timestamp(p->msgs[j], NULL);
            return ts > 0 ? (double)ts : 0;
        }
        return 0;
    }
    return 0;
}

static void refresh_lag(cdc_sink_metrics_t *m, worker_t *w, double now)
{
    double wall = wall_ms();
    int assigned = 0;

    for (int32_t i = 0; i < m->nparts; i++) {
        const part_t *p = i < w->nparts ? &w->parts[i] : NULL;
        double msgs = 0, secs = 0;
        int64_t lo = -1, hi = -1;
        if (p == NULL || !p->assigned || w->rk == NULL) {
            m->behind_since[i] = 0;
            cdc_metric_set(m->lag_messages[i], 0);
            cdc_metric_set(m->lag_seconds[i], 0);
            continue;
        }
        assigned++;
        /* The cached watermarks of the last fetch: no broker round trip here. */
        if (rd_kafka_get_watermark_offsets(w->rk, w->topic, i, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi > p->next)
            msgs = (double)(hi - p->next);
        double oldest = oldest_change_ms(p);
        int64_t read_up_to = batch_open(p) ? p->batch_end : p->next;
        if (oldest > 0) {
            secs = (wall - oldest) / 1000.0;
            m->behind_since[i] = 0;
        } else if (hi > read_up_to) {
            /* Records not fetched yet: their age is unknown, at least since we saw them. */
            if (m->behind_since[i] == 0)
                m->behind_since[i] = now;
            secs = now - m->behind_since[i];
        } else {
            m->behind_since[i] = 0;
        }
        cdc_metric_set(m->lag_messages[i], msgs);
        cdc_metric_set(m->lag_seconds[i], secs > 0 ? secs : 0);
    }
    cdc_metric_set(m->assigned, (double)assigned);
}

static void refresh_dead_letters(cdc_sink_metrics_t *m, worker_t *w)
{
    const char *params[1] = {m->domain};
    PGresult *res = NULL;
    char err[512];

    if (w->db == NULL || w->db->conn == NULL || PQstatus(w->db->conn) != CONNECTION_OK ||
        PQtransactionStatus(w->db->conn) != PQTRANS_IDLE)
        return; /* the next tick tries again */
    if (cdc_sink_pg_exec(w->db->conn,
                         "SELECT count(*) FROM _cdc_dead_letters WHERE domain = $1 AND "
                         "resolved_at IS NULL",
                         1, params, &res, err, sizeof err) != CDC_SINK_PG_OK) {
        cdc_log_debug("metrics: counting unresolved dead letters of domain %s: %s", m->domain, err);
        return;
    }
    if (PQntuples(res) == 1)
        cdc_metric_set(m->unresolved, strtod(PQgetvalue(res, 0, 0), NULL));
    PQclear(res);
    m->dl_dirty = 0;
}

void cdc_sink_metrics_tick(cdc_sink_metrics_t *m, struct worker_s *w)
{
    double now;

    if (m == NULL || w == NULL)
        return;
    now = cdc_sink_metrics_clock();
    if (now - m->lag_at >= LAG_EVERY_S) {
        m->lag_at = now;
        refresh_lag(m, w, now);
    }
    if (now - m->dl_at >= DL_EVERY_S || (m->dl_dirty && now - m->dl_at >= DL_AFTER_BATCH_S)) {
        m->dl_at = now;
        refresh_dead_letters(m, w);
    }
}
