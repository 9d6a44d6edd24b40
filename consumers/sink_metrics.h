/*
 * sink_metrics: one cdc-sink worker's Prometheus series (docs/operate.md "Metrics"), kept
 * in the cdc_metrics registry that `--metrics-port` serves.
 *
 *   cdc_sink_rows_applied_total{domain}        counter: row changes written (upserts + deletes)
 *   cdc_sink_rows_superseded_total{domain}     counter: versions the monotonic guard skipped
 *   cdc_sink_batches_total{domain}             counter: batch transactions committed
 *   cdc_sink_batch_duration_seconds{domain}    histogram: one batch, first attempt to commit
 *   cdc_sink_fenced_batches_total{domain}      counter: batches dropped by the offset fence
 *   cdc_sink_rebalances_total{domain}          counter: partition assignments received
 *   cdc_sink_assigned_partitions{domain}       gauge
 *   cdc_sink_lag_messages{domain,partition}    gauge: records after the stored offset
 *   cdc_sink_lag_seconds{domain,partition}     gauge: age of the oldest of them that is not a
 *                                              heartbeat (0 when caught up)
 *   cdc_sink_parity_mismatches_total{domain}   counter: read-back hash differs from row_hash
 *   cdc_sink_dropped_columns_total{domain}     counter: target columns a new schema lacks
 *   cdc_dead_letters_total{stage="sink",domain}   counter
 *   cdc_dead_letters_unresolved{domain}        gauge: unresolved rows of _cdc_dead_letters
 *   cdc_errors_total{component="sink",class}   counter, class = retriable | permanent | fatal
 *
 * Lag and the dead-letter gauge are refreshed by cdc_sink_metrics_tick() from the worker's
 * own loop (the worker's state and its PostgreSQL session are single-threaded; the server
 * thread only reads the registry). Every partition of the domain has its lag series from
 * the start; partitions this worker does not hold read 0, so max() over the workers of a
 * domain is the domain's lag. Every function takes NULL (metrics off) and does nothing.
 */
#ifndef CDC_SINK_METRICS_H
#define CDC_SINK_METRICS_H

#include "cdc_config.h"
#include "cdc_metrics.h"
#include "sink_apply.h"

typedef struct cdc_sink_metrics_s cdc_sink_metrics_t;
struct worker_s;

typedef enum {
    CDC_SINK_METRICS_RETRIABLE = 0, /* tried again: PostgreSQL or Kafka away, busy */
    CDC_SINK_METRICS_PERMANENT = 1, /* one record refused for good (dead-lettered) */
    CDC_SINK_METRICS_FATAL = 2,     /* the worker stops */
} cdc_sink_metrics_class_t;

/* The series of domain (which must be in conf) in reg; NULL when reg is NULL. reg and conf
 * are borrowed and must outlive the result. Caller frees with cdc_sink_metrics_destroy(). */
cdc_sink_metrics_t *cdc_sink_metrics_new(cdc_metrics_t *reg, const cdc_config_t *conf,
                                         const char *domain);

/* Frees m (the series stay in the registry); NULL is a no-op. */
void cdc_sink_metrics_destroy(cdc_sink_metrics_t *m);

/* A monotonic clock in seconds, to time batches with. */
double cdc_sink_metrics_clock(void);

/* A batch committed with stats after seconds (since its first attempt). */
void cdc_sink_metrics_batch(cdc_sink_metrics_t *m, const cdc_sink_stats_t *stats, double seconds);

/* A batch was fenced (another worker moved the stored offset). */
void cdc_sink_metrics_fenced(cdc_sink_metrics_t *m);

/* A schema lacks n columns of its target that earlier schemas had (sink_schema.h). */
void cdc_sink_metrics_dropped_columns(cdc_sink_metrics_t *m, size_t n);

/* A partition assignment arrived (one rebalance). */
void cdc_sink_metrics_rebalance(cdc_sink_metrics_t *m);

/* An error of class cls (dead letters count as PERMANENT through
 * cdc_sink_metrics_batch() already). */
void cdc_sink_metrics_error(cdc_sink_metrics_t *m, cdc_sink_metrics_class_t cls);

/*
 * Refreshes the lag gauges from w's partitions (at most every 500 ms) and the unresolved
 * dead letters from w's target (at most every 10 s, sooner after a batch with dead
 * letters; only while the session is idle). Call from the worker's thread.
 */
void cdc_sink_metrics_tick(cdc_sink_metrics_t *m, struct worker_s *w);

#endif
