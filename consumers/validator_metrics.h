/*
 * validator_metrics: cdc-validator's Prometheus series (docs/operate.md "Metrics"), kept in
 * the cdc_metrics registry that `--metrics-port` serves.
 *
 *   cdc_validator_parity_results_total{domain,status}   counter, status = match |
 *                                                       superseded | mismatch | dead_letter
 *   cdc_parity_mismatches_total{domain,source,table}    counter (the alert rules' series)
 *   cdc_validator_records_total{domain}                 counter: cdc.Parity records counted
 *   cdc_validator_duplicates_total                      counter: records published twice,
 *                                                       counted once
 *   cdc_validator_skipped_records_total                 counter: undecodable / unknown domain
 *   cdc_errors_total{component="validator",class}       counter, class = retriable |
 *                                                       permanent | fatal
 *
 * A batch is counted only once its transaction committed: cdc_vmetrics_stage() notes what a
 * target's apply is about to count, cdc_vmetrics_commit() adds it when the apply returned
 * OK. A mismatch series appears with the first record of its table (usually a count of
 * matches), so increase() sees a later mismatch. Every function takes NULL (metrics off).
 */
#ifndef CDC_VALIDATOR_METRICS_H
#define CDC_VALIDATOR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_metrics.h"
#include "validator_state.h"

typedef struct cdc_vmetrics_s cdc_vmetrics_t;

typedef enum {
    CDC_VMETRICS_RETRIABLE = 0, /* tried again: PostgreSQL or Kafka away */
    CDC_VMETRICS_PERMANENT = 1, /* one record skipped for good */
    CDC_VMETRICS_FATAL = 2,     /* the validator stops */
} cdc_vmetrics_class_t;

/* The series of the n selected domains (names borrowed: must outlive the result) in reg
 * (borrowed); NULL when reg is NULL. Caller frees with cdc_vmetrics_destroy(). */
cdc_vmetrics_t *cdc_vmetrics_new(cdc_metrics_t *reg, const char *const *domains, size_t n);

/* Frees m (the series stay in the registry); NULL is a no-op. */
void cdc_vmetrics_destroy(cdc_vmetrics_t *m);

/*
 * Notes the records cdc_vstate_apply(db, ..., next, recs, n, total, ...) is about to count:
 * recs, next (the stored offsets of db's domains before the apply) and *total are copied
 * or borrowed until cdc_vmetrics_commit(), which must follow the apply.
 */
void cdc_vmetrics_stage(cdc_vmetrics_t *m, const cdc_vstate_t *db, const cdc_vstate_rec_t *recs,
                        size_t n, const int64_t *next, const cdc_vstate_stats_t *total);

/* After the apply: when ok, counts what it counted (*total is the running sum the apply
 * added to); otherwise forgets the staged batch. */
void cdc_vmetrics_commit(cdc_vmetrics_t *m, int ok, const cdc_vstate_stats_t *total);

/* A record was skipped (undecodable, unknown domain): also a PERMANENT error. */
void cdc_vmetrics_skipped(cdc_vmetrics_t *m);

/* An error of class cls. */
void cdc_vmetrics_error(cdc_vmetrics_t *m, cdc_vmetrics_class_t cls);

#endif
