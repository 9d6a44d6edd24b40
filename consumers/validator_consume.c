/*
 * validator_consume: <prefix>.validation -> parity state (validator_consume.h): the loop,
 * partition assignments and batches; validator_setup.c opens and closes what it uses.
 */
#include "validator_consume.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "validator_consume_int.h"

#define PRUNE_EVERY_MS 600000 /* _cdc_validator_seen */

__attribute__((format(printf, 2, 3))) static void fail(validator_t *v, const char *fmt, ...)
{
    va_list ap;
    if (v->failed)
        return;
    v->failed = 1;
    cdc_vmetrics_error(v->metrics, CDC_VMETRICS_FATAL);
    va_start(ap, fmt);
    vsnprintf(v->err, sizeof v->err, fmt, ap);
    va_end(ap);
}

static vpart_t *part_get(validator_t *v, int32_t partition)
{
    if (partition >= v->nparts) {
        v->parts = cdc_realloc(v->parts, (size_t)(partition + 1) * sizeof(*v->parts));
        memset(v->parts + v->nparts, 0, (size_t)(partition + 1 - v->nparts) * sizeof(*v->parts));
        for (int32_t i = v->nparts; i <= partition; i++)
            v->parts[i].next = cdc_calloc(v->ndomains, sizeof(int64_t));
        v->nparts = partition + 1;
    }
    return &v->parts[partition];
}

void cdc_validator_drop_batch(vpart_t *p)
{
    for (size_t i = 0; i < p->nmsgs; i++) {
        cdc_parity_rec_clear(&p->recs[i]);
        rd_kafka_message_destroy(p->msgs[i]);
    }
    p->nmsgs = 0;
}

static void seek_to(validator_t *v, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, v->topic, partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(v->rk, l, KAFKA_TIMEOUT_MS);
    if (e) {
        cdc_log_warn("seek %s [%d] to %" PRId64 ": %s", v->topic, (int)partition, offset,
                     rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Reads every selected domain's stored offset of partition (retrying while PostgreSQL
 * is away), checks them against the watermarks, and sets p->read to the smallest. */
static int claim(validator_t *v, int32_t partition, vpart_t *p)
{
    int64_t lo = 0, hi = 0, min = INT64_MAX;
    char err[1024];

    for (size_t d = 0; d < v->ndomains; d++) {
        vdb_t *db = &v->dbs[v->dom_db[d]];
        int backoff = BACKOFF_FIRST_MS;
        for (;;) {
            cdc_sink_status_t st = cdc_vstate_claim(db->st, v->dom_local[d], v->topic, partition,
                                                    &p->next[d], err, sizeof err);
            if (st == CDC_SINK_OK)
                break;
            if (st != CDC_SINK_RETRIABLE || stopping(v)) {
                fail(v, "%s [%d], domain %s: reading the stored offset: %s", v->topic,
                     (int)partition, v->domains[d], err);
                return -1;
            }
            cdc_vmetrics_error(v->metrics, CDC_VMETRICS_RETRIABLE);
            cdc_log_warn("%s [%d], domain %s: reading the stored offset (retrying in %d ms): %s",
                         v->topic, (int)partition, v->domains[d], backoff, err);
            cdc_time_sleep_ms(backoff);
            backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
        }
        if (p->next[d] < min)
            min = p->next[d];
    }
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(v->rk, v->topic, partition, &lo, &hi, KAFKA_TIMEOUT_MS);
    if (e) {
        fail(v, "%s [%d]: cannot read the watermarks: %s", v->topic, (int)partition,
             rd_kafka_err2str(e));
        return -1;
    }
    for (size_t d = 0; d < v->ndomains; d++) {
        if (p->next[d] < lo) {
            fail(v,
                 "GAP in %s [%d]: domain %s's stored offset is %" PRId64
                 " but the partition starts at %" PRId64 ": the parity results at offsets [%" PRId64
                 ", %" PRId64 ") were removed before they were counted. Run `cdc-validator "
                 "--audit --domain %s` to compare the tables directly, then move on with "
                 "`UPDATE _cdc_validator_offsets SET next_offset = %" PRId64
                 " WHERE domain = '%s' AND topic = '%s' AND kpartition = %d`",
                 v->topic, (int)partition, v->domains[d], p->next[d], lo, p->next[d], lo,
                 v->domains[d], lo, v->domains[d], v->topic, (int)partition);
            return -1;
        }
        if (p->next[d] > hi) {
            fail(v,
                 "%s [%d]: domain %s's stored offset %" PRId64 " is beyond the end of the "
                 "partition (%" PRId64 "): the topic lost records it once had (recreated?); "
                 "reset its rows in _cdc_validator_offsets",
                 v->topic, (int)partition, v->domains[d], p->next[d], hi);
            return -1;
        }
    }
    p->read = min == INT64_MAX ? lo : min;
    p->end = hi;
    cdc_log_info("assigned %s [%d] at offset %" PRId64 " (partition offsets %" PRId64 "..%" PRId64
                 ")",
                 v->topic, (int)partition, p->read, lo, hi);
    return 0;
}

static int apply_batch(validator_t *v, int32_t partition, int max_attempts);

static void on_assign(validator_t *v, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt && !v->failed; i++) {
        vpart_t *p = part_get(v, parts->elems[i].partition);
        cdc_validator_drop_batch(p);
        if (claim(v, parts->elems[i].partition, p) < 0)
            break;
        p->assigned = 1;
        p->seeked = 0;
        p->seek_tries = 0;
        parts->elems[i].offset = p->read;
    }
    if (v->failed || stopping(v)) {
        rd_kafka_assign(v->rk, NULL);
        return;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(v->rk, parts);
    if (err)
        fail(v, "assigning partitions of %s: %s", v->topic, rd_kafka_err2str(err));
    v->assigned = 1;
}

static void on_revoke(validator_t *v, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int32_t partition = parts->elems[i].partition;
        if (partition >= v->nparts)
            continue;
        vpart_t *p = &v->parts[partition];
        if (p->nmsgs > 0 && !v->failed)
            apply_batch(v, partition, 1); /* nobody holds it until we return (eager) */
        cdc_validator_drop_batch(p);
        p->assigned = 0;
    }
    rd_kafka_assign(v->rk, NULL);
    v->assigned = 0;
}

void cdc_validator_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    validator_t *v = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(v, parts);
    } else {
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            cdc_log_error("rebalance of %s failed: %s", v->topic, rd_kafka_err2str(err));
        on_revoke(v, parts);
    }
}

static int domain_index(const validator_t *v, cdc_avro_str_t name)
{
    for (size_t d = 0; d < v->ndomains; d++)
        if (strlen(v->domains[d]) == name.len && memcmp(v->domains[d], name.p, name.len) == 0)
            return (int)d;
    return -1;
}

/* Decodes m into p's batch (ownership of m passes to the batch). */
static void add_message(validator_t *v, vpart_t *p, rd_kafka_message_t *m)
{
    char err[512];
    size_t i;

    if (p->nmsgs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->msgs = cdc_realloc(p->msgs, p->cap * sizeof(*p->msgs));
        p->recs = cdc_realloc(p->recs, p->cap * sizeof(*p->recs));
        p->dom = cdc_realloc(p->dom, p->cap * sizeof(*p->dom));
    }
    if (p->nmsgs == 0)
        p->opened_ms = cdc_time_now_ms();
    i = p->nmsgs++;
    p->msgs[i] = m;
    p->dom[i] = -1;
    if (cdc_parity_decode(m->payload, m->len, &p->recs[i], err, sizeof err) < 0) {
        v->skipped++;
        cdc_vmetrics_skipped(v->metrics);
        cdc_log_error("%s [%d] offset %" PRId64 ": skipped, not a parity record: %s", v->topic,
                      (int)m->partition, m->offset, err);
    } else if ((p->dom[i] = domain_index(v, p->recs[i].domain)) < 0) {
        int known = 0;
        for (size_t d = 0; d < v->conf->n_domains; d++)
            known |=
                strlen(v->conf->domains[d].name) == p->recs[i].domain.len &&
                memcmp(v->conf->domains[d].name, p->recs[i].domain.p, p->recs[i].domain.len) == 0;
        if (!known) {
            v->skipped++;
            cdc_vmetrics_skipped(v->metrics);
            cdc_log_error("%s [%d] offset %" PRId64 ": skipped, domain \"%.*s\" is not in %s",
                          v->topic, (int)m->partition, m->offset, (int)p->recs[i].domain.len,
                          p->recs[i].domain.p, v->conf->path ? v->conf->path : "the config");
        }
    }
    p->batch_end = m->offset + 1;
}

static void handle_message(validator_t *v, rd_kafka_message_t *m)
{
    vpart_t *p;

    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            goto drop;
        if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
            m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
            m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
            fail(v, "Kafka consumer of %s [%d]: %s", v->topic, (int)m->partition,
                 rd_kafka_message_errstr(m));
        else
            cdc_log_warn("Kafka consumer of %s: %s", v->topic, rd_kafka_message_errstr(m));
        goto drop;
    }
    p = m->partition < v->nparts ? &v->parts[m->partition] : NULL;
    if (!p || !p->assigned)
        goto drop;
    {
        int64_t expected = p->nmsgs ? p->batch_end : p->read;
        if (m->offset < expected)
            goto drop; /* fetched before a seek back */
        if (m->offset > expected && p->seeked && p->seek_tries < 3) {
            /* Fetched before our seek landed: ask again rather than skip records. */
            p->seek_tries++;
            seek_to(v, m->partition, expected);
            goto drop;
        }
        p->seeked = 0;
        p->seek_tries = 0;
    }
    if (v->opts->once && m->offset >= p->end)
        goto drop;
    add_message(v, p, m);
    return;
drop:
    rd_kafka_message_destroy(m);
}

/* Applies p's open batch to every target; 0 when done (applied, or fenced and
 * re-claimed), -1 when it is still open or the validator failed. */
static int apply_batch(validator_t *v, int32_t partition, int max_attempts)
{
    vpart_t *p = &v->parts[partition];
    cdc_vstate_rec_t *recs = cdc_calloc(p->nmsgs + 1, sizeof(*recs));
    int64_t *next = cdc_calloc(v->ndomains + 1, sizeof(*next));
    char err[1024];
    int backoff = BACKOFF_FIRST_MS, rc = -1;

    for (int attempt = 1;; attempt++) {
        cdc_sink_status_t st = CDC_SINK_OK;
        for (size_t g = 0; g < v->ndbs && st == CDC_SINK_OK; g++) {
            vdb_t *db = &v->dbs[g];
            size_t n = 0;
            for (size_t i = 0; i < p->nmsgs; i++)
                if (p->dom[i] >= 0 && v->dom_db[p->dom[i]] == g) {
                    recs[n].offset = p->msgs[i]->offset;
                    recs[n].domain = (int)v->dom_local[p->dom[i]];
                    recs[n].rec = &p->recs[i];
                    n++;
                }
            for (size_t k = 0; k < db->n; k++)
                next[k] = p->next[db->gidx[k]];
            cdc_vmetrics_stage(v->metrics, db->st, recs, n, next, &v->total);
            st = cdc_vstate_apply(db->st, v->topic, partition, p->batch_end, next, recs, n,
                                  &v->total, err, sizeof err);
            cdc_vmetrics_commit(v->metrics, st == CDC_SINK_OK, &v->total);
            if (st == CDC_SINK_OK) /* a target done is done, also if a later one fails */
                for (size_t k = 0; k < db->n; k++)
                    p->next[db->gidx[k]] = next[k];
        }
        if (st == CDC_SINK_OK) {
            v->batches++;
            p->read = p->batch_end;
            cdc_validator_drop_batch(p);
            rc = 0;
            break;
        }
        if (st == CDC_SINK_FENCED) {
            cdc_log_warn("%s; dropping the batch and re-reading the stored offsets", err);
            cdc_validator_drop_batch(p);
            if (claim(v, partition, p) == 0 && p->assigned) {
                seek_to(v, partition, p->read);
                p->seeked = 1;
                p->seek_tries = 0;
                rc = 0;
            }
            break;
        }
        if (st == CDC_SINK_FATAL) {
            fail(v, "%s [%d]: applying parity results: %s", v->topic, (int)partition, err);
            break;
        }
        if ((max_attempts > 0 && attempt >= max_attempts) || (max_attempts == 0 && stopping(v))) {
            cdc_log_warn("%s [%d]: batch not applied: %s", v->topic, (int)partition, err);
            break;
        }
        cdc_vmetrics_error(v->metrics, CDC_VMETRICS_RETRIABLE);
        cdc_log_warn("%s [%d]: applying parity results (retrying in %d ms): %s", v->topic,
                     (int)partition, backoff, err);
        cdc_time_sleep_ms(backoff);
        backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
    }
    free(recs);
    free(next);
    return rc;
}

static void flush_due(validator_t *v)
{
    int64_t now = cdc_time_now_ms();
    for (int32_t i = 0; i < v->nparts && !v->failed && !stopping(v); i++) {
        vpart_t *p = &v->parts[i];
        if (!p->assigned || p->nmsgs == 0)
            continue;
        if (p->nmsgs >= (size_t)v->opts->batch_records || now - p->opened_ms >= v->opts->batch_ms ||
            (v->opts->once && p->batch_end >= p->end))
            apply_batch(v, i, 0);
    }
}

static int once_done(const validator_t *v)
{
    if (!v->assigned)
        return 0;
    for (int32_t i = 0; i < v->nparts; i++)
        if (v->parts[i].assigned && (v->parts[i].nmsgs > 0 || v->parts[i].read < v->parts[i].end))
            return 0;
    return 1;
}

static void prune(validator_t *v, int force)
{
    if (!force && cdc_time_now_ms() - v->pruned_ms < PRUNE_EVERY_MS)
        return;
    v->pruned_ms = cdc_time_now_ms();
    for (size_t g = 0; g < v->ndbs; g++)
        cdc_vstate_prune(v->dbs[g].st);
}

int cdc_validator_run(const cdc_config_t *conf, const cdc_validator_opts_t *opts, char *errstr,
                      size_t errstr_size)
{
    validator_t v;
    int rc = 1, ever_assigned = 0;
    int64_t deadline = cdc_time_now_ms() + opts->assign_timeout_ms;

    memset(&v, 0, sizeof v);
    v.conf = conf;
    v.opts = opts;
    v.pruned_ms = cdc_time_now_ms();
    if (cdc_validator_setup(&v, errstr, errstr_size) < 0)
        goto out;
    v.metrics = cdc_vmetrics_new(opts->metrics, v.domains, v.ndomains);
    while (!v.failed && !stopping(&v)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(v.rk, 50);
        if (m)
            handle_message(&v, m);
        ever_assigned |= v.assigned;
        flush_due(&v);
        prune(&v, 0);
        if (opts->once && once_done(&v)) {
            cdc_log_info("--once: every assigned partition of %s reached its end offset", v.topic);
            break;
        }
        if (opts->once && !ever_assigned && cdc_time_now_ms() > deadline)
            fail(&v,
                 "--once: no partition assignment for %s within %d ms (is the broker "
                 "reachable?)",
                 v.topic, opts->assign_timeout_ms);
    }
    for (int32_t i = 0; i < v.nparts && !v.failed; i++)
        if (v.parts[i].assigned && v.parts[i].nmsgs > 0 && apply_batch(&v, i, 3) < 0 && !v.failed)
            fail(&v,
                 "%s [%d]: the open batch could not be applied before stopping (it will be "
                 "read again from the stored offsets)",
                 v.topic, (int)i);
    if (v.failed) {
        snprintf(errstr, errstr_size, "%s", v.err);
        goto out;
    }
    prune(&v, 1);
    rc = 0;
out:
    cdc_log_info("validator: %" PRIu64 " batches, %" PRIu64 " parity records counted (%" PRIu64
                 " duplicates, %" PRIu64 " skipped): %" PRIu64 " results, %" PRIu64
                 " matches, %" PRIu64 " superseded, %" PRIu64 " mismatches, %" PRIu64
                 " dead letters",
                 v.batches, v.total.records, v.total.duplicates, v.skipped, v.total.rows,
                 v.total.matches, v.total.superseded, v.total.mismatches, v.total.dead_letters);
    cdc_validator_teardown(&v);
    cdc_vmetrics_destroy(v.metrics);
    return rc;
}
