/*
 * ctl_status_kafka: what the topics say about a domain (docs/status.md).
 *
 * - Watermarks of every partition of <prefix>.<domain>: lag in messages = high - stored.
 * - The oldest change not yet applied: read from the stored offset forward (a consumer
 *   that is only assigned partitions, never a group member, so workers are not disturbed)
 *   to the first record that is not a heartbeat. Heartbeats are no changes: a partition
 *   whose unapplied records are all heartbeats has a lag of 0 s, so an idle, caught-up
 *   domain reads 0 even between two heartbeat applies. The heartbeats passed on the way
 *   are kept: they tell whether the producer is alive even while no sink applies them.
 * - The validation topic: records of this domain the validator has not counted yet.
 * - The sink group's members, where the cluster can describe groups (the devbroker
 *   cannot: then the caller falls back to the stored offsets' activity).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"
#include "cdc_framing.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "ctl_status_int.h"

/* At most this many records are read per partition and pass; at the cap, the lag in
 * seconds becomes an upper bound (reported as such). */
#define SCAN_CAP             2000
#define SCAN_DEADLINE_MS     10000
#define WATERMARK_TIMEOUT_MS 5000

/* One partition range [from, to) to read. */
typedef struct scan_range_s {
    int32_t partition;
    int64_t from, to;
    int64_t count; /* records seen */
    int64_t next;  /* next offset to expect */
    int done;
    int64_t last_ts; /* timestamp of the last record seen; 0 none */
} scan_range_t;

/* Returns 1 when nothing more is needed from this partition. */
typedef int (*scan_visit_fn)(void *opaque, scan_range_t *rg, const rd_kafka_message_t *m);

static scan_range_t *range_of(scan_range_t *rg, size_t n, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (rg[i].partition == partition)
            return &rg[i];
    return NULL;
}

/*
 * Reads the ranges of topic at once (assign, poll, unassign). Returns 0, or -1 with the
 * reason in errstr (assignment failed, a consume error, the deadline passed).
 */
static int scan(rd_kafka_t *rk, const char *topic, scan_range_t *rg, size_t n, scan_visit_fn visit,
                void *opaque, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new((int)n);
    int64_t deadline = cdc_ctl_now_ms() + SCAN_DEADLINE_MS;
    size_t open = 0;
    int rc = 0;
    rd_kafka_resp_err_t err;

    for (size_t i = 0; i < n; i++) {
        rg[i].next = rg[i].from;
        rg[i].done = rg[i].from >= rg[i].to;
        if (rg[i].done)
            continue;
        rd_kafka_topic_partition_list_add(tp, topic, rg[i].partition)->offset = rg[i].from;
        open++;
    }
    if (open == 0)
        goto out;
    err = rd_kafka_assign(rk, tp);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "%s: cannot assign partitions: %s", topic,
                 rd_kafka_err2str(err));
        rc = -1;
        goto out;
    }
    while (open > 0) {
        rd_kafka_message_t *m;
        scan_range_t *r;

        if (cdc_ctl_now_ms() > deadline) {
            snprintf(errstr, errstr_size, "%s: reading records took more than %d s", topic,
                     SCAN_DEADLINE_MS / 1000);
            rc = -1;
            break;
        }
        m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        r = range_of(rg, n, m->partition);
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                snprintf(errstr, errstr_size, "%s [%" PRId32 "]: %s", topic, m->partition,
                         rd_kafka_message_errstr(m));
                rc = -1;
            }
            if (r != NULL && !r->done) {
                r->done = 1; /* the end came earlier than the watermark said, or an error */
                open--;
            }
            rd_kafka_message_destroy(m);
            if (rc != 0)
                break;
            continue;
        }
        if (r != NULL && !r->done && m->offset >= r->next) {
            r->count++;
            r->next = m->offset + 1;
            r->last_ts = rd_kafka_message_timestamp(m, NULL);
            if (visit(opaque, r, m) || r->next >= r->to || r->count >= SCAN_CAP) {
                r->done = 1;
                open--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
out:
    rd_kafka_topic_partition_list_destroy(tp);
    return rc;
}

/* ---- the domain topic ------------------------------------------------------------- */

typedef struct domain_scan_s {
    cdc_ctl_domain_t *dom;
    uint64_t control_fp;
    int find_change; /* 1 in the first pass: note the first change */
} domain_scan_t;

static const char *header(const rd_kafka_message_t *m, const char *name, char *buf, size_t size)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t len = 0;

    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR || v == NULL)
        return NULL;
    if (len >= size)
        len = size - 1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

static void note_source_ts(cdc_ctl_domain_t *dom, const char *name, int64_t ts)
{
    cdc_ctl_source_t *s = cdc_ctl_domain_source(dom, name);

    if (s != NULL && ts > s->last_record_ts_ms)
        s->last_record_ts_ms = ts;
}

/* A control record's heartbeat into hb_kafka; returns 1 for a heartbeat, 0 for a marker,
 * -1 when m is no control record. */
static int visit_control(domain_scan_t *ds, const rd_kafka_message_t *m)
{
    uint64_t fp = 0;
    size_t body = 0;
    cdc_avro_control_t ctl;
    char why[256], name[256];
    cdc_ctl_source_t *s;
    int64_t ts = rd_kafka_message_timestamp(m, NULL);

    if (m->payload == NULL ||
        cdc_framing_detect(m->payload, m->len, &fp, NULL, &body) != CDC_FRAMING_SINGLE_OBJECT ||
        fp != ds->control_fp)
        return -1;
    memset(&ctl, 0, sizeof ctl);
    if (cdc_avro_decode_control((const unsigned char *)m->payload + body, m->len - body, &ctl, why,
                                sizeof why) != CDC_AVRO_OK)
        return -1;
    snprintf(name, sizeof name, "%.*s", (int)ctl.source.len, ctl.source.p);
    note_source_ts(ds->dom, name, ts);
    if (ctl.op != 'h')
        return 0;
    s = cdc_ctl_domain_source(ds->dom, name);
    if (s != NULL && m->partition >= 0 && m->partition < ds->dom->nparts) {
        cdc_ctl_hb_t *hb = &s->hb_kafka[m->partition];

        if (!hb->present || ctl.ts_ms >= hb->producer_ts_ms) {
            hb->present = 1;
            hb->epoch = ctl.epoch;
            hb->acked_position = ctl.acked_position;
            hb->backlog_entries = ctl.backlog_entries;
            hb->oldest_unacked_age_ms = ctl.oldest_unacked_age_ms;
            hb->producer_ts_ms = ctl.ts_ms;
        }
    }
    return 1;
}

static int visit_domain(void *opaque, scan_range_t *rg, const rd_kafka_message_t *m)
{
    domain_scan_t *ds = opaque;
    cdc_ctl_part_t *p = &ds->dom->parts[rg->partition];
    char buf[256];
    int is_change;

    if (header(m, "cdc.op", buf, sizeof buf) != NULL) {
        is_change = 1; /* a row change */
        if (header(m, "cdc.source", buf, sizeof buf) != NULL)
            note_source_ts(ds->dom, buf, rd_kafka_message_timestamp(m, NULL));
    } else {
        /* A heartbeat is no change; a snapshot end marker is (it deletes rows), and so is
         * anything else (the sink must still apply it, or dead-letter it). */
        is_change = visit_control(ds, m) != 1;
    }
    if (is_change && ds->find_change && p->first_change_offset < 0) {
        int64_t ts = rd_kafka_message_timestamp(m, NULL);

        p->first_change_offset = m->offset;
        p->lag_s = ts > 0 ? (double)(ds->dom->now_ms - ts) / 1000.0 : 0;
        if (p->lag_s < 0)
            p->lag_s = 0;
    }
    /* Past the first change, only the newest records matter (the second pass). */
    return ds->find_change && p->first_change_offset >= 0;
}

static void read_domain_topic(rd_kafka_t *rk, cdc_ctl_domain_t *dom)
{
    scan_range_t *rg = cdc_calloc((size_t)dom->nparts, sizeof *rg);
    domain_scan_t ds = {.dom = dom, .find_change = 1};
    char errstr[512];
    size_t n = 0;

    if (cdc_avro_fingerprint(cdc_avro_schema_control_json(), strlen(cdc_avro_schema_control_json()),
                             &ds.control_fp, errstr, sizeof errstr) != 0) {
        cdc_ctl_reasons_add(&dom->errors, "control schema: %s", errstr);
        goto out;
    }
    for (int i = 0; i < dom->nparts; i++) {
        cdc_ctl_part_t *p = &dom->parts[i];
        int64_t lo = -1, hi = -1;
        int64_t start;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, dom->topic, i, &lo, &hi, WATERMARK_TIMEOUT_MS);

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            cdc_ctl_reasons_add(&dom->errors, "%s [%d]: cannot read watermarks: %s", dom->topic, i,
                                rd_kafka_err2str(err));
            continue;
        }
        p->low = lo;
        p->high = hi;
        start = p->stored < 0 ? 0 : p->stored;
        p->lag_messages = hi > start ? hi - start : 0;
        if (start < lo)
            cdc_ctl_reasons_add(&dom->errors,
                                "%s [%d]: stored offset %" PRId64 " is below the first available"
                                " offset %" PRId64 ": records [%" PRId64 ", %" PRId64
                                ") were removed before the sink applied them (a gap: re-snapshot)",
                                dom->topic, i, start, lo, start, lo);
        if (p->lag_messages > 0)
            rg[n++] = (scan_range_t){.partition = i, .from = start < lo ? lo : start, .to = hi};
    }
    if (n > 0 && scan(rk, dom->topic, rg, n, visit_domain, &ds, errstr, sizeof errstr) != 0)
        cdc_ctl_reasons_add(&dom->errors, "%s", errstr);
    /* Second pass where the first stopped early (at the first change, or at its cap): the
     * newest records, for the heartbeats; at the cap without a change, the last record
     * read bounds the age of a change beyond it. */
    ds.find_change = 0;
    for (size_t i = 0; i < n; i++) {
        cdc_ctl_part_t *p = &dom->parts[rg[i].partition];
        int64_t tail = 32 + 32 * (int64_t)dom->nsources;

        if (rg[i].next >= rg[i].to) {
            rg[i].from = rg[i].to; /* read to the end already */
            continue;
        }
        if (p->first_change_offset < 0 && rg[i].last_ts > 0) {
            p->lag_s = (double)(dom->now_ms - rg[i].last_ts) / 1000.0;
            p->lag_bound = 1;
        }
        rg[i].from = rg[i].to - tail > rg[i].next ? rg[i].to - tail : rg[i].next;
        rg[i].count = 0;
    }
    if (n > 0 && scan(rk, dom->topic, rg, n, visit_domain, &ds, errstr, sizeof errstr) != 0)
        cdc_ctl_reasons_add(&dom->errors, "%s", errstr);
out:
    free(rg);
}

/* ---- the validation topic ----------------------------------------------------------- */

typedef struct vscan_s {
    const char *prefix; /* "<domain>/" */
    int64_t first_ts;   /* oldest unconsumed record of the domain; 0 none */
} vscan_t;

static int visit_validation(void *opaque, scan_range_t *rg, const rd_kafka_message_t *m)
{
    vscan_t *vs = opaque;
    size_t plen = strlen(vs->prefix);
    int64_t ts;

    (void)rg;
    if (m->key == NULL || m->key_len < plen || memcmp(m->key, vs->prefix, plen) != 0)
        return 0;
    ts = rd_kafka_message_timestamp(m, NULL);
    if (ts > 0 && (vs->first_ts == 0 || ts < vs->first_ts))
        vs->first_ts = ts;
    return 1;
}

static void read_validation(const cdc_config_t *conf, rd_kafka_t *rk, cdc_ctl_domain_t *dom)
{
    char *topic = cdc_asprintf("%s.validation", conf->topic_prefix);
    char *prefix = cdc_asprintf("%s/", dom->conf->name);
    scan_range_t *rg = cdc_calloc((size_t)dom->nvparts, sizeof *rg);
    vscan_t vs = {.prefix = prefix};
    char errstr[512];
    size_t n = 0;

    dom->validator_lag_messages = 0;
    for (int i = 0; i < dom->nvparts; i++) {
        int64_t lo = -1, hi = -1, start = dom->vstored[i] < 0 ? 0 : dom->vstored[i];
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, WATERMARK_TIMEOUT_MS);

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            cdc_ctl_reasons_add(&dom->errors, "%s [%d]: cannot read watermarks: %s", topic, i,
                                rd_kafka_err2str(err));
            dom->validator_lag_messages = -1;
            goto out;
        }
        if (start < lo)
            start = lo;
        if (hi > start) {
            dom->validator_lag_messages += hi - start;
            rg[n++] = (scan_range_t){.partition = i, .from = start, .to = hi};
        }
    }
    if (n > 0 && scan(rk, topic, rg, n, visit_validation, &vs, errstr, sizeof errstr) != 0)
        cdc_ctl_reasons_add(&dom->errors, "%s", errstr);
    dom->validator_lag_s = vs.first_ts > 0 ? (double)(dom->now_ms - vs.first_ts) / 1000.0 : 0;
    if (dom->validator_lag_s < 0)
        dom->validator_lag_s = 0;
out:
    free(rg);
    free(prefix);
    free(topic);
}

/* ---- the sink group -------------------------------------------------------------------- */

static int be16(const unsigned char *p)
{
    return (int16_t)((p[0] << 8) | p[1]);
}

static int32_t be32(const unsigned char *p)
{
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     (uint32_t)p[3]);
}

/* Counts the partitions of topic in a ConsumerProtocol assignment (Kafka protocol: version,
 * [topic, [partition]], user data). Malformed bytes are ignored from where they break. */
static void count_assignment(cdc_ctl_domain_t *dom, const unsigned char *p, size_t len)
{
    size_t at = 2, tlen = strlen(dom->topic);
    int32_t ntopics;

    if (len < 6)
        return;
    ntopics = be32(p + at);
    at += 4;
    for (int32_t t = 0; t < ntopics; t++) {
        int slen, mine;
        int32_t nparts;

        if (at + 2 > len)
            return;
        slen = be16(p + at);
        at += 2;
        if (slen < 0 || at + (size_t)slen + 4 > len)
            return;
        mine = (size_t)slen == tlen && memcmp(p + at, dom->topic, tlen) == 0;
        at += (size_t)slen;
        nparts = be32(p + at);
        at += 4;
        for (int32_t k = 0; k < nparts; k++, at += 4) {
            int32_t part;

            if (at + 4 > len)
                return;
            part = be32(p + at);
            if (mine && part >= 0 && part < dom->nparts)
                dom->parts[part].members =
                    dom->parts[part].members < 0 ? 1 : dom->parts[part].members + 1;
        }
    }
}

static void read_group(const cdc_config_t *conf, rd_kafka_t *rk, cdc_ctl_domain_t *dom,
                       int timeout_ms)
{
    char *group = cdc_kafka_sink_group(conf, dom->conf->name);
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t err = rd_kafka_list_groups(rk, group, &gl, timeout_ms);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || gl == NULL || gl->group_cnt != 1 ||
        gl->groups[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cdc_log_debug(
            "group %s cannot be described (%s): judging workers by offset activity", group,
            err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(err) : "no group information");
        dom->workers_method = "offsets-activity";
        goto out;
    }
    dom->workers_method = "group";
    dom->workers = gl->groups[0].member_cnt;
    dom->group_state = cdc_strdup(gl->groups[0].state != NULL ? gl->groups[0].state : "");
    for (int i = 0; i < dom->nparts; i++)
        dom->parts[i].members = 0;
    for (int m = 0; m < gl->groups[0].member_cnt; m++) {
        const struct rd_kafka_group_member_info *mi = &gl->groups[0].members[m];

        if (mi->member_assignment != NULL)
            count_assignment(dom, mi->member_assignment, (size_t)mi->member_assignment_size);
    }
out:
    if (gl != NULL)
        rd_kafka_group_list_destroy(gl);
    free(group);
}

void cdc_ctl_status_read_kafka(const cdc_config_t *conf, rd_kafka_t *rk, cdc_ctl_domain_t *dom,
                               const cdc_ctl_status_opts_t *opts)
{
    read_domain_topic(rk, dom);
    read_validation(conf, rk, dom);
    read_group(conf, rk, dom, opts->group_timeout_ms);
}
