/*
 * validator_metrics: cdc-validator's series (validator_metrics.h).
 */
#include "validator_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"

#define N_CLASSES 3
#define N_STATUS  4
#define N_SUMS    5 /* records, then the N_STATUS result counts */

static const char *const class_names[N_CLASSES] = {"retriable", "permanent", "fatal"};
static const char *const status_names[N_STATUS] = {"match", "superseded", "mismatch",
                                                   "dead_letter"};
static const char *const mismatch_help =
    "Parity results with status mismatch: a row stored differently from its source row";

typedef struct vdom_s {
    const char *name;
    cdc_metric_t *records;
    cdc_metric_t *results[N_STATUS];
} vdom_t;

struct cdc_vmetrics_s {
    cdc_metrics_t *reg;
    vdom_t *doms;
    size_t ndoms;
    cdc_metric_t *duplicates, *skipped;
    cdc_metric_t *errors[N_CLASSES];
    /* the staged apply */
    int staged;
    const cdc_vstate_t *db;
    const cdc_vstate_rec_t *recs;
    size_t n;
    int64_t *next; /* nnext stored offsets of db's domains */
    size_t nnext, next_cap;
    cdc_vstate_stats_t before;
    uint64_t *cand; /* ndoms x N_SUMS */
};

cdc_vmetrics_t *cdc_vmetrics_new(cdc_metrics_t *reg, const char *const *domains, size_t n)
{
    cdc_vmetrics_t *m;

    if (reg == NULL)
        return NULL;
    m = cdc_calloc(1, sizeof *m);
    m->reg = reg;
    m->ndoms = n;
    m->doms = cdc_calloc(n + 1, sizeof *m->doms);
    m->cand = cdc_calloc(n * N_SUMS + 1, sizeof *m->cand);
    for (size_t d = 0; d < n; d++) {
        vdom_t *vd = &m->doms[d];
        vd->name = domains[d];
        for (int s = 0; s < N_STATUS; s++)
            vd->results[s] =
                cdc_metrics_counter(reg, "cdc_validator_parity_results_total",
                                    "Parity results counted into _cdc_parity_state, by status",
                                    "domain", vd->name, "status", status_names[s], NULL);
    }
    for (size_t d = 0; d < n; d++)
        m->doms[d].records =
            cdc_metrics_counter(reg, "cdc_validator_records_total",
                                "cdc.Parity records counted (one per sink batch and table)",
                                "domain", m->doms[d].name, NULL);
    m->duplicates = cdc_metrics_counter(
        reg, "cdc_validator_duplicates_total",
        "cdc.Parity records published twice (a sink crashed after publishing), counted once", NULL);
    m->skipped = cdc_metrics_counter(
        reg, "cdc_validator_skipped_records_total",
        "Records of the validation topic skipped: not a parity record, or an unknown domain", NULL);
    for (int c = 0; c < N_CLASSES; c++)
        m->errors[c] = cdc_metrics_counter(
            reg, "cdc_errors_total",
            "Errors by class: retriable (tried again), permanent (one record refused), "
            "fatal (the worker stops)",
            "component", "validator", "class", class_names[c], NULL);
    return m;
}

void cdc_vmetrics_destroy(cdc_vmetrics_t *m)
{
    if (m == NULL)
        return;
    free(m->doms);
    free(m->next);
    free(m->cand);
    free(m);
}

void cdc_vmetrics_stage(cdc_vmetrics_t *m, const cdc_vstate_t *db, const cdc_vstate_rec_t *recs,
                        size_t n, const int64_t *next, const cdc_vstate_stats_t *total)
{
    size_t nd;

    if (m == NULL)
        return;
    nd = cdc_vstate_ndomains(db);
    if (nd > m->next_cap) {
        m->next = cdc_realloc(m->next, nd * sizeof *m->next);
        m->next_cap = nd;
    }
    if (nd > 0)
        memcpy(m->next, next, nd * sizeof *m->next);
    m->nnext = nd;
    m->db = db;
    m->recs = recs;
    m->n = n;
    m->before = *total;
    m->staged = 1;
}

static int dom_index(const cdc_vmetrics_t *m, const char *name)
{
    for (size_t d = 0; d < m->ndoms; d++)
        if (strcmp(m->doms[d].name, name) == 0)
            return (int)d;
    return -1;
}

/* Of want, what the budget still allows (exact batches have no budget to respect). */
static uint64_t take(uint64_t want, uint64_t *budget, int exact)
{
    if (!exact && want > *budget)
        want = *budget;
    *budget -= want < *budget ? want : *budget;
    return want;
}

/* The records of the staged batch the apply looked at (not below their domain's stored
 * offset), one at a time: their metric domain index in *d. */
static const cdc_parity_rec_t *next_rec(const cdc_vmetrics_t *m, size_t *i, int *d)
{
    for (; *i < m->n; (*i)++) {
        const cdc_vstate_rec_t *r = &m->recs[*i];
        if (r->domain < 0 || (size_t)r->domain >= m->nnext || r->offset < m->next[r->domain])
            continue;
        *d = dom_index(m, cdc_vstate_domain(m->db, (size_t)r->domain));
        if (*d < 0)
            continue;
        return m->recs[(*i)++].rec;
    }
    return NULL;
}

void cdc_vmetrics_commit(cdc_vmetrics_t *m, int ok, const cdc_vstate_stats_t *total)
{
    const cdc_parity_rec_t *rec;
    uint64_t budget[N_SUMS], mm_budget;
    size_t i = 0;
    int d, exact;

    if (m == NULL || !m->staged)
        return;
    m->staged = 0;
    if (!ok)
        return;
    budget[0] = total->records - m->before.records;
    budget[1] = total->matches - m->before.matches;
    budget[2] = total->superseded - m->before.superseded;
    budget[3] = total->mismatches - m->before.mismatches;
    budget[4] = total->dead_letters - m->before.dead_letters;
    mm_budget = budget[3];
    /* Without duplicates the apply counted exactly the records it was given (those at or
     * after their domain's offset). A duplicate is skipped inside the apply, which does not
     * say which one it was: then the per-domain split is capped by the totals, which stay
     * exact. */
    exact = total->duplicates == m->before.duplicates;
    cdc_metric_add(m->duplicates, (double)(total->duplicates - m->before.duplicates));
    memset(m->cand, 0, m->ndoms * N_SUMS * sizeof *m->cand);
    while ((rec = next_rec(m, &i, &d)) != NULL) {
        uint64_t *c = &m->cand[(size_t)d * N_SUMS];
        char source[256], table[256];
        c[0]++;
        c[1] += (uint64_t)rec->matches;
        c[2] += (uint64_t)rec->superseded;
        c[3] += (uint64_t)rec->mismatches;
        c[4] += (uint64_t)rec->dead_letters;
        snprintf(source, sizeof source, "%.*s", (int)rec->source.len,
                 rec->source.p ? rec->source.p : "");
        snprintf(table, sizeof table, "%.*s", (int)rec->table.len,
                 rec->table.p ? rec->table.p : "");
        cdc_metric_add(cdc_metrics_counter(m->reg, "cdc_parity_mismatches_total", mismatch_help,
                                           "domain", m->doms[d].name, "source", source, "table",
                                           table, NULL),
                       (double)take((uint64_t)rec->mismatches, &mm_budget, exact));
    }
    for (size_t k = 0; k < m->ndoms; k++) {
        const uint64_t *c = &m->cand[k * N_SUMS];
        cdc_metric_add(m->doms[k].records, (double)take(c[0], &budget[0], exact));
        for (int s = 0; s < N_STATUS; s++)
            cdc_metric_add(m->doms[k].results[s], (double)take(c[1 + s], &budget[1 + s], exact));
    }
}

void cdc_vmetrics_skipped(cdc_vmetrics_t *m)
{
    if (m == NULL)
        return;
    cdc_metric_add(m->skipped, 1);
    cdc_metric_add(m->errors[CDC_VMETRICS_PERMANENT], 1);
}

void cdc_vmetrics_error(cdc_vmetrics_t *m, cdc_vmetrics_class_t cls)
{
    if (m && (int)cls >= 0 && (int)cls < N_CLASSES)
        cdc_metric_add(m->errors[cls], 1);
}
