/*
 * ctl_status_eval: states and verdicts of a domain snapshot (docs/status.md "Verdicts").
 *
 * READY TO FREEZE holds when nothing old waits anywhere: no partition's oldest unapplied
 * change is older than --max-lag-seconds, no partition with waiting records lacks a
 * worker, every source's producer sent a heartbeat within --heartbeat-timeout-seconds and
 * has no change-log backlog older than the lag threshold, no dead letter and no parity
 * mismatch is unresolved, and the validator has counted what the sinks published.
 *
 * DRAINED holds when every source of the domain is frozen (a _cdc_freeze row) and the
 * sink applied, on every partition, a heartbeat whose acknowledged position is at least
 * the source's freeze position. Why that is enough: the producer acknowledges a position
 * only after Kafka confirmed every record up to it, and sends the heartbeat carrying it
 * afterwards, so on each partition that heartbeat lies after every record of the source
 * up to the freeze position; the sink applies a partition in offset order and stores the
 * heartbeat in the same transaction that moves the offset past it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc_alloc.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "ctl_status_int.h"

int64_t cdc_ctl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cdc_ctl_reasons_add(cdc_ctl_reasons_t *r, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    char buf[1024];
    size_t len;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* One reason is one line: libpq's messages end with a newline and may carry a hint on
     * a second, tab-indented line. */
    len = strlen(buf);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    cdc_log_mask_secrets(buf);
    s = cdc_strdup(buf);
    r->items = cdc_realloc(r->items, (r->count + 1) * sizeof *r->items);
    r->items[r->count++] = s;
}

static void reasons_free(cdc_ctl_reasons_t *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->items[i]);
    free(r->items);
    r->items = NULL;
    r->count = 0;
}

cdc_ctl_domain_t *cdc_ctl_domain_new(const cdc_config_t *conf, const cdc_domain_t *d)
{
    cdc_ctl_domain_t *dom = cdc_calloc(1, sizeof *dom);

    dom->conf = d;
    dom->topic = cdc_asprintf("%s.%s", conf->topic_prefix, d->name);
    dom->nparts = d->partitions;
    dom->parts = cdc_calloc((size_t)dom->nparts, sizeof *dom->parts);
    for (int i = 0; i < dom->nparts; i++) {
        cdc_ctl_part_t *p = &dom->parts[i];

        p->partition = i;
        p->low = p->high = p->stored = p->lag_messages = p->first_change_offset = -1;
        p->since_apply_s = -1;
        p->members = -1;
        p->worker = "unknown";
    }
    for (size_t i = 0; i < conf->n_sources; i++)
        if (strcmp(conf->sources[i].domain, d->name) == 0)
            dom->nsources++;
    dom->sources = cdc_calloc(dom->nsources > 0 ? dom->nsources : 1, sizeof *dom->sources);
    for (size_t i = 0, k = 0; i < conf->n_sources; i++) {
        cdc_ctl_source_t *s;

        if (strcmp(conf->sources[i].domain, d->name) != 0)
            continue;
        s = &dom->sources[k++];
        s->name = cdc_strdup(conf->sources[i].name);
        s->hb_applied = cdc_calloc((size_t)dom->nparts, sizeof *s->hb_applied);
        s->hb_kafka = cdc_calloc((size_t)dom->nparts, sizeof *s->hb_kafka);
        s->hb_age_s = -1;
        s->state = "unknown";
        s->applied_epoch = s->applied_position = -1;
    }
    dom->nvparts = conf->validation_partitions;
    dom->vstored = cdc_calloc((size_t)(dom->nvparts > 0 ? dom->nvparts : 1), sizeof *dom->vstored);
    for (int i = 0; i < dom->nvparts; i++)
        dom->vstored[i] = -1;
    dom->workers_method = "offsets-activity";
    dom->last_apply_s = -1;
    dom->dead_letter_oldest_s = -1;
    dom->outbox_oldest_s = -1;
    dom->validator_lag_messages = -1;
    dom->now_ms = cdc_ctl_now_ms();
    return dom;
}

void cdc_ctl_domain_free(cdc_ctl_domain_t *dom)
{
    if (dom == NULL)
        return;
    for (size_t i = 0; i < dom->nsources; i++) {
        free(dom->sources[i].name);
        free(dom->sources[i].hb_applied);
        free(dom->sources[i].hb_kafka);
        free(dom->sources[i].frozen_at);
    }
    free(dom->sources);
    free(dom->parts);
    free(dom->vstored);
    free(dom->topic);
    free(dom->group_state);
    reasons_free(&dom->not_ready);
    reasons_free(&dom->not_drained);
    reasons_free(&dom->errors);
    free(dom);
}

cdc_ctl_source_t *cdc_ctl_domain_source(cdc_ctl_domain_t *dom, const char *name)
{
    for (size_t i = 0; i < dom->nsources; i++)
        if (strcmp(dom->sources[i].name, name) == 0)
            return &dom->sources[i];
    return NULL;
}

static int pos_less(int64_t e1, int64_t p1, int64_t e2, int64_t p2)
{
    return e1 < e2 || (e1 == e2 && p1 < p2);
}

/* The newest heartbeat, the producer's state and the applied position of a source. */
static void eval_source(cdc_ctl_domain_t *dom, cdc_ctl_source_t *s,
                        const cdc_ctl_status_opts_t *opts)
{
    int64_t seen_ms = 0;
    int all_applied = dom->nparts > 0, first = 1;

    for (int p = 0; p < dom->nparts; p++) {
        const cdc_ctl_hb_t *c[2] = {&s->hb_applied[p], &s->hb_kafka[p]};

        for (int k = 0; k < 2; k++)
            if (c[k]->present &&
                (!s->newest.present || c[k]->producer_ts_ms > s->newest.producer_ts_ms))
                s->newest = *c[k];
        if (!s->hb_applied[p].present) {
            all_applied = 0;
        } else if (first || pos_less(s->hb_applied[p].epoch, s->hb_applied[p].acked_position,
                                     s->applied_epoch, s->applied_position)) {
            first = 0;
            s->applied_epoch = s->hb_applied[p].epoch;
            s->applied_position = s->hb_applied[p].acked_position;
        }
    }
    if (!all_applied)
        s->applied_epoch = s->applied_position = -1;
    if (s->newest.present)
        seen_ms = s->newest.producer_ts_ms;
    if (s->last_record_ts_ms > seen_ms)
        seen_ms = s->last_record_ts_ms;
    if (seen_ms > 0) {
        s->hb_age_s = (double)(dom->now_ms - seen_ms) / 1000.0;
        if (s->hb_age_s < 0)
            s->hb_age_s = 0;
    }
    if (seen_ms == 0)
        s->state = "unknown";
    else if (s->hb_age_s > opts->heartbeat_timeout_s)
        s->state = "stopped";
    else if (s->newest.present && s->newest.backlog_entries > 0)
        s->state = "running";
    else
        s->state = "idle";
}

/* Age of a source's oldest unacknowledged change-log entry now, if still unacknowledged. */
static double backlog_age_s(const cdc_ctl_source_t *s)
{
    if (!s->newest.present || s->newest.backlog_entries <= 0)
        return 0;
    return (double)s->newest.oldest_unacked_age_ms / 1000.0 + (s->hb_age_s > 0 ? s->hb_age_s : 0);
}

static void eval_partition(cdc_ctl_domain_t *dom, cdc_ctl_part_t *p,
                           const cdc_ctl_status_opts_t *opts)
{
    int recent = p->since_apply_s >= 0 && p->since_apply_s <= opts->heartbeat_timeout_s;

    if (p->lag_messages < 0) {
        p->worker = "unknown";
    } else if (p->members >= 0) { /* the group told who owns it */
        if (p->members == 0)
            p->worker = p->lag_messages > 0 ? "unassigned" : "caught-up";
        else
            p->worker = p->lag_messages > 0 ? "active" : "caught-up";
    } else if (p->lag_messages == 0) {
        p->worker = "caught-up"; /* idle or stopped: nothing waits, so it does not matter */
    } else {
        p->worker = recent ? "active" : "stopped";
    }
    if (p->lag_messages > 0 && p->first_change_offset < 0 && !p->lag_bound)
        p->lag_s = 0; /* only heartbeats wait */
    if (p->lag_s > opts->max_lag_s)
        cdc_ctl_reasons_add(&dom->not_ready,
                            "%s partition %d lag %" PRId64 " messages / %s%.1f s > %g s",
                            dom->conf->name, p->partition, p->lag_messages,
                            p->lag_bound ? "up to " : "", p->lag_s, opts->max_lag_s);
    if (strcmp(p->worker, "stopped") == 0) {
        if (p->since_apply_s >= 0)
            cdc_ctl_reasons_add(&dom->not_ready,
                                "%s partition %d: sink stopped (%" PRId64
                                " messages waiting, last apply %.1f s ago > %g s)",
                                dom->conf->name, p->partition, p->lag_messages, p->since_apply_s,
                                opts->heartbeat_timeout_s);
        else
            cdc_ctl_reasons_add(&dom->not_ready,
                                "%s partition %d: no sink has applied anything (%" PRId64
                                " messages waiting)",
                                dom->conf->name, p->partition, p->lag_messages);
    } else if (strcmp(p->worker, "unassigned") == 0) {
        cdc_ctl_reasons_add(&dom->not_ready,
                            "%s partition %d: no sink worker owns it (%" PRId64
                            " messages waiting)",
                            dom->conf->name, p->partition, p->lag_messages);
    }
}

static void eval_ready_sources(cdc_ctl_domain_t *dom, const cdc_ctl_status_opts_t *opts)
{
    for (size_t i = 0; i < dom->nsources; i++) {
        const cdc_ctl_source_t *s = &dom->sources[i];
        double bl = backlog_age_s(s);

        if (strcmp(s->state, "unknown") == 0)
            cdc_ctl_reasons_add(&dom->not_ready,
                                "source %s: no heartbeat from its producer (not started?)",
                                s->name);
        else if (strcmp(s->state, "stopped") == 0)
            cdc_ctl_reasons_add(&dom->not_ready,
                                "source %s: producer stopped (last heartbeat %.1f s ago > %g s)",
                                s->name, s->hb_age_s, opts->heartbeat_timeout_s);
        /* A source whose heartbeat is not yet applied on some partition (a source just
         * added, a snapshot still in flight) has records that no lag figure covers yet:
         * the partition's lag only counts what is already in Kafka. */
        if (s->newest.present && dom->nparts > 0 && s->applied_epoch < 0) {
            int missing = 0, first = -1;
            for (int p = 0; p < dom->nparts; p++)
                if (!s->hb_applied[p].present && missing++ == 0)
                    first = p;
            cdc_ctl_reasons_add(&dom->not_ready,
                                "source %s: no heartbeat applied yet on %d of %d partitions"
                                " (partition %d; snapshot or first records not applied)",
                                s->name, missing, dom->nparts, first);
        }
        if (bl > opts->max_lag_s)
            cdc_ctl_reasons_add(&dom->not_ready,
                                "source %s: producer backlog %" PRId64
                                " change-log entries, oldest %.1f s > %g s",
                                s->name, s->newest.backlog_entries, bl, opts->max_lag_s);
    }
}

static void eval_ready_rest(cdc_ctl_domain_t *dom, const cdc_ctl_status_opts_t *opts)
{
    if (dom->dead_letters_open > 0)
        cdc_ctl_reasons_add(&dom->not_ready, "%" PRId64 " unresolved dead letter%s (oldest %.1f s)",
                            dom->dead_letters_open, dom->dead_letters_open == 1 ? "" : "s",
                            dom->dead_letter_oldest_s);
    if (dom->mismatches_open > 0)
        cdc_ctl_reasons_add(&dom->not_ready, "%" PRId64 " unresolved parity mismatch%s",
                            dom->mismatches_open, dom->mismatches_open == 1 ? "" : "es");
    if (!dom->parity_known)
        cdc_ctl_reasons_add(&dom->not_ready,
                            "parity unknown: no validator has counted results of domain %s"
                            " (run cdc-validator)",
                            dom->conf->name);
    else if (dom->validator_lag_s > opts->max_lag_s)
        cdc_ctl_reasons_add(
            &dom->not_ready,
            "validator behind: %" PRId64 " parity records unconsumed, oldest of %s %.1f s > %g s",
            dom->validator_lag_messages, dom->conf->name, dom->validator_lag_s, opts->max_lag_s);
    if (dom->outbox_unsent > 0 && dom->outbox_oldest_s > opts->max_lag_s)
        cdc_ctl_reasons_add(&dom->not_ready,
                            "%" PRId64 " parity results not yet published by the sinks"
                            " (oldest %.1f s > %g s)",
                            dom->outbox_unsent, dom->outbox_oldest_s, opts->max_lag_s);
}

static void eval_drained(cdc_ctl_domain_t *dom)
{
    size_t frozen = 0;
    char missing[512] = "";

    for (size_t i = 0; i < dom->nsources; i++) {
        if (dom->sources[i].frozen) {
            frozen++;
        } else {
            size_t len = strlen(missing);

            snprintf(missing + len, sizeof missing - len, "%s%s", len > 0 ? ", " : "",
                     dom->sources[i].name);
        }
    }
    dom->frozen = dom->nsources > 0 && frozen == dom->nsources;
    if (frozen == 0)
        cdc_ctl_reasons_add(&dom->not_drained, "not frozen (no _cdc_freeze row for domain %s)",
                            dom->conf->name);
    else if (!dom->frozen)
        cdc_ctl_reasons_add(&dom->not_drained, "partly frozen: no freeze row for source %s",
                            missing);
    for (size_t i = 0; i < dom->nsources; i++) {
        const cdc_ctl_source_t *s = &dom->sources[i];
        int behind = 0, lowest = -1;

        if (!s->frozen)
            continue;
        for (int p = 0; p < dom->nparts; p++) {
            const cdc_ctl_hb_t *hb = &s->hb_applied[p];

            if (hb->present &&
                !pos_less(hb->epoch, hb->acked_position, s->freeze_epoch, s->freeze_position))
                continue;
            behind++;
            if (lowest < 0 || !hb->present ||
                (s->hb_applied[lowest].present &&
                 pos_less(hb->epoch, hb->acked_position, s->hb_applied[lowest].epoch,
                          s->hb_applied[lowest].acked_position)))
                lowest = p;
        }
        if (behind == 0)
            continue;
        if (s->hb_applied[lowest].present)
            cdc_ctl_reasons_add(
                &dom->not_drained,
                "source %s: %d of %d partitions not applied up to the freeze"
                " position %" PRId64 ":%" PRId64 " (partition %d at %" PRId64 ":%" PRId64 ")",
                s->name, behind, dom->nparts, s->freeze_epoch, s->freeze_position, lowest,
                s->hb_applied[lowest].epoch, s->hb_applied[lowest].acked_position);
        else
            cdc_ctl_reasons_add(
                &dom->not_drained,
                "source %s: %d of %d partitions not applied up to the freeze"
                " position %" PRId64 ":%" PRId64 " (partition %d: no heartbeat applied)",
                s->name, behind, dom->nparts, s->freeze_epoch, s->freeze_position, lowest);
    }
    dom->drained = dom->frozen && dom->not_drained.count == 0 && dom->errors.count == 0;
}

void cdc_ctl_status_evaluate(cdc_ctl_domain_t *dom, const cdc_ctl_status_opts_t *opts)
{
    for (size_t i = 0; i < dom->errors.count; i++) {
        cdc_ctl_reasons_add(&dom->not_ready, "%s", dom->errors.items[i]);
        cdc_ctl_reasons_add(&dom->not_drained, "%s", dom->errors.items[i]);
    }
    for (size_t i = 0; i < dom->nsources; i++)
        eval_source(dom, &dom->sources[i], opts);
    if (strcmp(dom->workers_method, "group") != 0)
        dom->workers = -1;
    dom->active_parts = 0;
    for (int i = 0; i < dom->nparts; i++) {
        eval_partition(dom, &dom->parts[i], opts);
        if (dom->parts[i].since_apply_s >= 0 &&
            dom->parts[i].since_apply_s <= opts->heartbeat_timeout_s)
            dom->active_parts++;
    }
    eval_ready_sources(dom, opts);
    eval_ready_rest(dom, opts);
    dom->ready = dom->not_ready.count == 0;
    eval_drained(dom);
}
