/*
 * producer_metrics: the producer's series (producer_metrics.h).
 */
#include "producer_metrics.h"

#include "cdc_alloc.h"

#include <stdlib.h>

#define N_CLASSES 3
#define N_OPS     3

static const char *const class_names[N_CLASSES] = {"retriable", "permanent", "fatal"};
static const char *const op_names[N_OPS] = {"install", "acknowledge", "new_epoch"};

struct cdc_pmetrics_src_s {
    cdc_pmetrics_t *pm;
    cdc_metric_t *rows_sent, *backlog, *oldest_age, *acked, *dead_letters;
    cdc_metric_t *hold[N_OPS];
    struct cdc_pmetrics_src_s *next;
};

struct cdc_pmetrics_s {
    cdc_metrics_t *reg;
    cdc_metric_t *errors[N_CLASSES];
    cdc_pmetrics_src_t *srcs;
};

cdc_pmetrics_t *cdc_pmetrics_new(cdc_metrics_t *reg)
{
    cdc_pmetrics_t *pm;

    if (reg == NULL)
        return NULL;
    pm = cdc_calloc(1, sizeof *pm);
    pm->reg = reg;
    for (int c = 0; c < N_CLASSES; c++)
        pm->errors[c] = cdc_metrics_counter(
            reg, "cdc_errors_total",
            "Errors by class: retriable (tried again), permanent (one record refused), "
            "fatal (the worker stops)",
            "component", "producer", "class", class_names[c], NULL);
    return pm;
}

void cdc_pmetrics_destroy(cdc_pmetrics_t *pm)
{
    if (pm == NULL)
        return;
    while (pm->srcs) {
        cdc_pmetrics_src_t *next = pm->srcs->next;
        free(pm->srcs);
        pm->srcs = next;
    }
    free(pm);
}

cdc_pmetrics_src_t *cdc_pmetrics_source(cdc_pmetrics_t *pm, const char *source, const char *domain)
{
    cdc_pmetrics_src_t *m;

    if (pm == NULL)
        return NULL;
    m = cdc_calloc(1, sizeof *m);
    m->pm = pm;
    m->rows_sent = cdc_metrics_counter(
        pm->reg, "cdc_producer_rows_sent_total",
        "Row records (snapshot and stream) handed to Kafka; rate() gives rows per second", "source",
        source, "domain", domain, NULL);
    m->backlog = cdc_metrics_gauge(
        pm->reg, "cdc_producer_backlog_entries",
        "Change-log rows of the source after the acknowledged position (at the last heartbeat)",
        "source", source, "domain", domain, NULL);
    m->oldest_age = cdc_metrics_gauge(pm->reg, "cdc_producer_oldest_unacked_age_seconds",
                                      "Age of the oldest change-log row not yet acknowledged "
                                      "(0 when none; at the last heartbeat)",
                                      "source", source, "domain", domain, NULL);
    m->acked = cdc_metrics_gauge(pm->reg, "cdc_producer_acked_position",
                                 "Change-log sequence number acknowledged in the source file "
                                 "(everything up to it confirmed by Kafka)",
                                 "source", source, "domain", domain, NULL);
    for (int o = 0; o < N_OPS; o++)
        m->hold[o] = cdc_metrics_histogram(
            pm->reg, "cdc_producer_write_lock_hold_seconds",
            "How long one producer write transaction held the source file's write lock",
            cdc_metrics_latency_buckets, CDC_METRICS_LATENCY_BUCKETS_N, "source", source, "op",
            op_names[o], NULL);
    m->dead_letters = cdc_metrics_counter(pm->reg, "cdc_dead_letters_total",
                                          "Records sent to the domain's dead-letter topic", "stage",
                                          "producer", "domain", domain, NULL);
    m->next = pm->srcs;
    pm->srcs = m;
    return m;
}

void cdc_pmetrics_row_sent(cdc_pmetrics_src_t *m)
{
    if (m)
        cdc_metric_add(m->rows_sent, 1);
}

void cdc_pmetrics_dead_letter(cdc_pmetrics_src_t *m)
{
    if (m == NULL)
        return;
    cdc_metric_add(m->dead_letters, 1);
    cdc_metric_add(m->pm->errors[CDC_PMETRICS_PERMANENT], 1);
}

void cdc_pmetrics_lock_hold(cdc_pmetrics_src_t *m, cdc_pmetrics_op_t op, double hold_ms)
{
    if (m && (int)op >= 0 && (int)op < N_OPS)
        cdc_metric_observe(m->hold[op], hold_ms / 1000.0);
}

void cdc_pmetrics_backlog(cdc_pmetrics_src_t *m, int64_t entries, int64_t oldest_age_ms,
                          int64_t acked_seq)
{
    if (m == NULL)
        return;
    cdc_metric_set(m->backlog, (double)entries);
    cdc_metric_set(m->oldest_age, entries > 0 ? (double)oldest_age_ms / 1000.0 : 0.0);
    cdc_metric_set(m->acked, (double)acked_seq);
}

void cdc_pmetrics_src_error(cdc_pmetrics_src_t *m, cdc_pmetrics_class_t cls)
{
    if (m)
        cdc_pmetrics_error(m->pm, cls);
}

void cdc_pmetrics_error(cdc_pmetrics_t *pm, cdc_pmetrics_class_t cls)
{
    if (pm && (int)cls >= 0 && (int)cls < N_CLASSES)
        cdc_metric_add(pm->errors[cls], 1);
}
