/*
 * ctl_status_out: the two renderings of a status snapshot: a report for people, and one
 * JSON document per refresh for scripts (fields: docs/status.md). Both go to stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cdc_alloc.h"
#include "ctl_status_int.h"

static void utc_now(char *buf, size_t size, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fmt_age(char *buf, size_t size, double s)
{
    if (s < 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1f s", s);
}

static void fmt_pos(char *buf, size_t size, int present, int64_t epoch, int64_t pos)
{
    if (!present)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%" PRId64 ":%" PRId64, epoch, pos);
}

static void print_reasons(FILE *out, const char *label, const cdc_ctl_reasons_t *r)
{
    for (size_t i = 0; i < r->count; i++)
        fprintf(out, "  %s: %s\n", label, r->items[i]);
}

static void print_producers(FILE *out, const cdc_ctl_domain_t *dom)
{
    fprintf(out, "  %-24s %-8s %10s %8s %8s %12s %12s %12s\n", "source", "producer", "heartbeat",
            "backlog", "oldest", "acked", "applied", "freeze");
    for (size_t i = 0; i < dom->nsources; i++) {
        const cdc_ctl_source_t *s = &dom->sources[i];
        char hb[32], oldest[32], acked[48], applied[48], freeze[48];

        fmt_age(hb, sizeof hb, s->hb_age_s);
        fmt_age(oldest, sizeof oldest,
                s->newest.present ? (double)s->newest.oldest_unacked_age_ms / 1000.0 : -1);
        fmt_pos(acked, sizeof acked, s->newest.present, s->newest.epoch, s->newest.acked_position);
        fmt_pos(applied, sizeof applied, s->applied_epoch >= 0, s->applied_epoch,
                s->applied_position);
        fmt_pos(freeze, sizeof freeze, s->frozen, s->freeze_epoch, s->freeze_position);
        fprintf(out, "  %-24s %-8s %10s %8" PRId64 " %8s %12s %12s %12s\n", s->name, s->state, hb,
                s->newest.present ? s->newest.backlog_entries : 0, oldest, acked, applied, freeze);
    }
}

static void print_partitions(FILE *out, const cdc_ctl_domain_t *dom)
{
    fprintf(out, "  %-9s %10s %10s %10s %10s %9s %-10s %10s\n", "partition", "low", "high",
            "stored", "lag msgs", "lag", "worker", "last apply");
    for (int i = 0; i < dom->nparts; i++) {
        const cdc_ctl_part_t *p = &dom->parts[i];
        char lag[32], last[32];

        snprintf(lag, sizeof lag, "%s%.1f s", p->lag_bound ? "<=" : "", p->lag_s);
        fmt_age(last, sizeof last, p->since_apply_s);
        fprintf(out,
                "  %-9d %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRId64 " %9s %-10s %10s\n",
                p->partition, p->low, p->high, p->stored, p->lag_messages, lag, p->worker, last);
    }
}

static void print_domain(FILE *out, const cdc_ctl_domain_t *dom)
{
    char age[32];

    fprintf(out, "domain %s (topic %s, %d partitions, %zu sources)\n", dom->conf->name, dom->topic,
            dom->nparts, dom->nsources);
    fprintf(out, "  READY TO FREEZE: %s\n", dom->ready ? "yes" : "no");
    print_reasons(out, "not ready", &dom->not_ready);
    fprintf(out, "  DRAINED: %s%s\n", dom->drained ? "yes" : "no", dom->frozen ? " (frozen)" : "");
    print_reasons(out, "not drained", &dom->not_drained);
    print_producers(out, dom);
    print_partitions(out, dom);
    fmt_age(age, sizeof age, dom->last_apply_s);
    if (dom->workers >= 0)
        fprintf(out, "  workers: %d group members (group state %s); last apply %s ago\n",
                dom->workers, dom->group_state != NULL ? dom->group_state : "?", age);
    else
        fprintf(out,
                "  workers: %d of %d partitions applied recently (method offsets-activity: the"
                " cluster cannot describe the group); last apply %s ago\n",
                dom->active_parts, dom->nparts, age);
    fprintf(out, "  dead letters: %" PRId64 " unresolved\n", dom->dead_letters_open);
    if (dom->parity_known)
        fprintf(out,
                "  parity: %" PRId64 " rows seen, %" PRId64 " matches, %" PRId64
                " superseded, %" PRId64 " mismatches (%" PRId64 " unresolved), %" PRId64
                " dead letters; validator lag %" PRId64 " records (%.1f s); outbox unsent %" PRId64
                "\n",
                dom->rows_seen, dom->matches, dom->superseded, dom->mismatches_total,
                dom->mismatches_open, dom->parity_dead_letters, dom->validator_lag_messages,
                dom->validator_lag_s, dom->outbox_unsent);
    else
        fprintf(out,
                "  parity: unknown (no validator offsets for this domain); %" PRId64
                " unresolved mismatches\n",
                dom->mismatches_open);
}

void cdc_ctl_status_print_text(FILE *out, cdc_ctl_domain_t **doms, size_t n, const char *asked)
{
    char ts[32];
    int holds = 1;

    utc_now(ts, sizeof ts, cdc_ctl_now_ms());
    fprintf(out, "cdc-ctl status at %s\n", ts);
    for (size_t i = 0; i < n; i++) {
        print_domain(out, doms[i]);
        holds &= strcmp(asked, "drained") == 0 ? doms[i]->drained : doms[i]->ready;
    }
    fprintf(out, "verdict %s: %s\n", strcmp(asked, "drained") == 0 ? "DRAINED" : "READY TO FREEZE",
            holds ? "holds" : "does not hold");
    fflush(out);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *jreasons(const cdc_ctl_reasons_t *r)
{
    json_t *a = json_array();

    for (size_t i = 0; i < r->count; i++)
        json_array_append_new(a, json_string(r->items[i]));
    return a;
}

static json_t *jage(double s)
{
    return s < 0 ? json_null() : json_real(s);
}

static json_t *jpos(int present, int64_t epoch, int64_t pos)
{
    return present ? json_pack("{s:I,s:I}", "epoch", (json_int_t)epoch, "position", (json_int_t)pos)
                   : json_null();
}

static json_t *jproducer(const cdc_ctl_source_t *s)
{
    json_t *o = json_object();

    json_object_set_new(o, "source", json_string(s->name));
    json_object_set_new(o, "state", json_string(s->state));
    json_object_set_new(o, "heartbeat_age_seconds", jage(s->hb_age_s));
    json_object_set_new(o, "acked",
                        jpos(s->newest.present, s->newest.epoch, s->newest.acked_position));
    json_object_set_new(o, "backlog_entries", json_integer(s->newest.backlog_entries));
    json_object_set_new(o, "oldest_unacked_age_seconds",
                        json_real((double)s->newest.oldest_unacked_age_ms / 1000.0));
    json_object_set_new(o, "applied",
                        jpos(s->applied_epoch >= 0, s->applied_epoch, s->applied_position));
    if (s->frozen) {
        json_t *f = jpos(1, s->freeze_epoch, s->freeze_position);

        json_object_set_new(f, "frozen_at", json_string(s->frozen_at != NULL ? s->frozen_at : ""));
        json_object_set_new(o, "freeze", f);
    } else {
        json_object_set_new(o, "freeze", json_null());
    }
    return o;
}

static json_t *jpartition(const cdc_ctl_part_t *p)
{
    json_t *o = json_object();

    json_object_set_new(o, "partition", json_integer(p->partition));
    json_object_set_new(o, "low", json_integer(p->low));
    json_object_set_new(o, "high", json_integer(p->high));
    json_object_set_new(o, "stored", p->stored < 0 ? json_null() : json_integer(p->stored));
    json_object_set_new(o, "lag_messages", json_integer(p->lag_messages));
    json_object_set_new(o, "lag_seconds", json_real(p->lag_s));
    json_object_set_new(o, "lag_seconds_upper_bound", json_boolean(p->lag_bound));
    json_object_set_new(o, "oldest_change_offset",
                        p->first_change_offset < 0 ? json_null()
                                                   : json_integer(p->first_change_offset));
    json_object_set_new(o, "last_apply_seconds_ago", jage(p->since_apply_s));
    json_object_set_new(o, "worker", json_string(p->worker));
    json_object_set_new(o, "members", p->members < 0 ? json_null() : json_integer(p->members));
    return o;
}

static json_t *jdomain(const cdc_ctl_domain_t *dom)
{
    json_t *o = json_object(), *parts = json_array(), *prods = json_array();
    int64_t lag_msgs = 0;
    double lag_s = 0;

    for (int i = 0; i < dom->nparts; i++) {
        json_array_append_new(parts, jpartition(&dom->parts[i]));
        if (dom->parts[i].lag_messages > 0)
            lag_msgs += dom->parts[i].lag_messages;
        if (dom->parts[i].lag_s > lag_s)
            lag_s = dom->parts[i].lag_s;
    }
    for (size_t i = 0; i < dom->nsources; i++)
        json_array_append_new(prods, jproducer(&dom->sources[i]));
    json_object_set_new(o, "domain", json_string(dom->conf->name));
    json_object_set_new(o, "topic", json_string(dom->topic));
    json_object_set_new(o, "ready", json_boolean(dom->ready));
    json_object_set_new(o, "not_ready", jreasons(&dom->not_ready));
    json_object_set_new(o, "frozen", json_boolean(dom->frozen));
    json_object_set_new(o, "drained", json_boolean(dom->drained));
    json_object_set_new(o, "not_drained", jreasons(&dom->not_drained));
    json_object_set_new(o, "errors", jreasons(&dom->errors));
    json_object_set_new(o, "lag",
                        json_pack("{s:I,s:f}", "messages", (json_int_t)lag_msgs, "seconds", lag_s));
    json_object_set_new(o, "producers", prods);
    json_object_set_new(o, "partitions", parts);
    json_object_set_new(
        o, "workers",
        json_pack("{s:s,s:o,s:o,s:i,s:o}", "method", dom->workers_method, "members",
                  dom->workers < 0 ? json_null() : json_integer(dom->workers), "group_state",
                  dom->group_state != NULL ? json_string(dom->group_state) : json_null(),
                  "active_partitions", dom->active_parts, "last_apply_seconds_ago",
                  jage(dom->last_apply_s)));
    json_object_set_new(o, "dead_letters",
                        json_pack("{s:I,s:o}", "unresolved", (json_int_t)dom->dead_letters_open,
                                  "oldest_seconds", jage(dom->dead_letter_oldest_s)));
    json_object_set_new(
        o, "parity",
        json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:f}", "known", dom->parity_known,
                  "rows_seen", (json_int_t)dom->rows_seen, "matches", (json_int_t)dom->matches,
                  "superseded", (json_int_t)dom->superseded, "mismatches",
                  (json_int_t)dom->mismatches_total, "dead_letters",
                  (json_int_t)dom->parity_dead_letters, "unresolved_mismatches",
                  (json_int_t)dom->mismatches_open, "outbox_unsent", (json_int_t)dom->outbox_unsent,
                  "outbox_oldest_seconds", jage(dom->outbox_oldest_s), "validator_lag_messages",
                  dom->validator_lag_messages < 0 ? json_null()
                                                  : json_integer(dom->validator_lag_messages),
                  "validator_lag_seconds", dom->validator_lag_s));
    return o;
}

void cdc_ctl_status_print_json(FILE *out, cdc_ctl_domain_t **doms, size_t n, const char *asked,
                               int verdict_holds)
{
    json_t *root = json_object(), *arr = json_array();
    char ts[32];
    char *text;

    utc_now(ts, sizeof ts, cdc_ctl_now_ms());
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, jdomain(doms[i]));
    json_object_set_new(root, "ts", json_string(ts));
    json_object_set_new(root, "verdict", json_string(asked));
    json_object_set_new(root, "holds", json_boolean(verdict_holds));
    json_object_set_new(root, "domains", arr);
    text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    if (text != NULL) {
        fprintf(out, "%s\n", text);
        free(text);
    }
    fflush(out);
    json_decref(root);
}
