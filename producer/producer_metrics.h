/*
 * producer_metrics: the producer's Prometheus series (docs/operate.md "Metrics"), kept in
 * a cdc_metrics registry that `--metrics-port` serves.
 *
 *   cdc_producer_rows_sent_total{source,domain}            counter: row records handed to Kafka
 *   cdc_producer_backlog_entries{source,domain}            gauge: change-log rows after the
 *                                                          acknowledged position (heartbeat)
 *   cdc_producer_oldest_unacked_age_seconds{source,domain} gauge: age of the oldest of them
 *   cdc_producer_acked_position{source,domain}             gauge: acknowledged change-log seq
 *   cdc_producer_write_lock_hold_seconds{source,op}        histogram, op = install |
 *                                                          acknowledge | new_epoch
 *   cdc_dead_letters_total{stage="producer",domain}        counter
 *   cdc_errors_total{component="producer",class}           counter, class = retriable |
 *                                                          permanent | fatal
 *
 * Every series is created when its source is registered (value 0), so a scrape shows the
 * whole set from the start and rate()/increase() see the first event. The producer is one
 * thread; the registry's mutex makes the updates safe against the server thread. Every
 * function takes NULL (metrics off) and then does nothing.
 */
#ifndef CDC_PRODUCER_METRICS_H
#define CDC_PRODUCER_METRICS_H

#include "cdc_metrics.h"

#include <stdint.h>

typedef struct cdc_pmetrics_s cdc_pmetrics_t;
typedef struct cdc_pmetrics_src_s cdc_pmetrics_src_t;

typedef enum {
    CDC_PMETRICS_RETRIABLE = 0, /* will be tried again (lock busy, broker slow) */
    CDC_PMETRICS_PERMANENT = 1, /* one record refused for good (dead-lettered) */
    CDC_PMETRICS_FATAL = 2,     /* the producer stops */
} cdc_pmetrics_class_t;

typedef enum {
    CDC_PMETRICS_INSTALL = 0,     /* capture install/check (cdc_capture_install) */
    CDC_PMETRICS_ACKNOWLEDGE = 1, /* acknowledge and prune (cdc_position_acknowledge) */
    CDC_PMETRICS_NEW_EPOCH = 2,   /* --new-epoch */
} cdc_pmetrics_op_t;

/* The producer's series in reg (borrowed: must outlive the result); NULL when reg is
 * NULL. Caller frees with cdc_pmetrics_destroy() (the series stay in reg). */
cdc_pmetrics_t *cdc_pmetrics_new(cdc_metrics_t *reg);

/* Frees pm and every source handle it gave out; NULL is a no-op. */
void cdc_pmetrics_destroy(cdc_pmetrics_t *pm);

/* The series of one source (created at 0); the handle belongs to pm. NULL when pm is. */
cdc_pmetrics_src_t *cdc_pmetrics_source(cdc_pmetrics_t *pm, const char *source, const char *domain);

/* One row record was handed to Kafka. */
void cdc_pmetrics_row_sent(cdc_pmetrics_src_t *m);

/* One record was dead-lettered (counted as a permanent error too). */
void cdc_pmetrics_dead_letter(cdc_pmetrics_src_t *m);

/* A write transaction of op held the file's write lock for hold_ms. */
void cdc_pmetrics_lock_hold(cdc_pmetrics_src_t *m, cdc_pmetrics_op_t op, double hold_ms);

/* What a heartbeat measured: backlog entries, the age of the oldest, the acked seq. */
void cdc_pmetrics_backlog(cdc_pmetrics_src_t *m, int64_t entries, int64_t oldest_age_ms,
                          int64_t acked_seq);

/* An error of class cls happened in the source (see the enum). */
void cdc_pmetrics_src_error(cdc_pmetrics_src_t *m, cdc_pmetrics_class_t cls);

/* An error of class cls happened outside any one source. */
void cdc_pmetrics_error(cdc_pmetrics_t *pm, cdc_pmetrics_class_t cls);

#endif
