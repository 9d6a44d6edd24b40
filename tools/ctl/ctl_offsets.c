/*
 * ctl_offsets: watermarks, single-record reads and offsets by time for cdc-ctl replay
 * (see ctl.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "ctl.h"

#define KAFKA_TIMEOUT_MS 10000
#define READ_TIMEOUT_MS  10000

struct ctl_reader_s {
    rd_kafka_t *rk;
};

ctl_reader_t *ctl_reader_new(const cdc_config_t *conf, char *errstr, size_t errstr_size)
{
    rd_kafka_t *rk = ctl_kafka_reader(conf, "ctl-probe", errstr, errstr_size);
    ctl_reader_t *r;

    if (rk == NULL)
        return NULL;
    r = cdc_calloc(1, sizeof *r);
    r->rk = rk;
    return r;
}

void ctl_reader_destroy(ctl_reader_t *r)
{
    if (r == NULL)
        return;
    rd_kafka_assign(r->rk, NULL);
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    free(r);
}

int ctl_watermarks(ctl_reader_t *r, const char *topic, int32_t partition, int64_t *lo, int64_t *hi,
                   char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(r->rk, topic, partition, lo, hi, KAFKA_TIMEOUT_MS);
    if (err) {
        snprintf(errstr, errstr_size, "%s [%d]: cannot read the watermarks: %s", topic,
                 (int)partition, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int ctl_reader_at(ctl_reader_t *r, const char *topic, int32_t partition, int64_t offset,
                  int64_t end, int64_t *msg_offset, int64_t *ts_ms, char *errstr,
                  size_t errstr_size)
{
    rd_kafka_message_t *m = NULL;
    int rc = ctl_reader_message(r, topic, partition, offset, end, &m, errstr, errstr_size);
    if (rc == 0) {
        *msg_offset = m->offset;
        *ts_ms = rd_kafka_message_timestamp(m, NULL);
        rd_kafka_message_destroy(m);
    }
    return rc;
}

int ctl_reader_message(ctl_reader_t *r, const char *topic, int32_t partition, int64_t offset,
                       int64_t end, rd_kafka_message_t **out, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    int64_t deadline = ctl_now_ms() + READ_TIMEOUT_MS;
    int rc = -1;

    if (offset >= end)
        return 1;
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset = offset;
    rd_kafka_resp_err_t err = rd_kafka_assign(r->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        snprintf(errstr, errstr_size, "%s [%d]: cannot assign offset %" PRId64 ": %s", topic,
                 (int)partition, offset, rd_kafka_err2str(err));
        return -1;
    }
    while (ctl_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 200);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            int64_t at = m->offset;
            rd_kafka_message_destroy(m);
            if (at >= offset) { /* nothing at or after offset (control records only) */
                rc = 1;
                goto out;
            }
            continue;
        }
        if (m->err) {
            snprintf(errstr, errstr_size, "%s [%d] at offset %" PRId64 ": %s", topic,
                     (int)partition, offset, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto out;
        }
        /* A message fetched for an earlier assignment can still arrive: skip it. */
        if (m->partition != partition || m->offset < offset) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->offset >= end) {
            rd_kafka_message_destroy(m);
            rc = 1;
        } else {
            *out = m;
            rc = 0;
        }
        goto out;
    }
    snprintf(errstr, errstr_size, "%s [%d]: no record at offset %" PRId64 " within %d ms", topic,
             (int)partition, offset, READ_TIMEOUT_MS);
out:
    rd_kafka_assign(r->rk, NULL);
    return rc;
}

/* Binary search for the first offset in [lo, hi) with a timestamp >= t_ms. */
static int search(ctl_reader_t *r, const char *topic, int32_t partition, int64_t lo, int64_t hi,
                  int64_t t_ms, int64_t *out, char *errstr, size_t errstr_size)
{
    int64_t best = hi, mo = 0, ts = 0;
    int probes = 0;

    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int rc = ctl_reader_at(r, topic, partition, mid, hi, &mo, &ts, errstr, errstr_size);
        probes++;
        if (rc < 0)
            return -1;
        if (rc == 1) { /* no record in [mid, hi): the answer is before mid */
            hi = mid;
            continue;
        }
        if (ts >= t_ms) {
            best = mo;
            hi = mid;
        } else {
            lo = mo + 1;
        }
    }
    cdc_log_debug("%s [%d]: timestamp search: offset %" PRId64 " after %d probes", topic,
                  (int)partition, best, probes);
    *out = best;
    return 0;
}

int ctl_offset_for_time(ctl_reader_t *r, const char *topic, int32_t partition, int64_t lo,
                        int64_t hi, int64_t t_ms, int64_t *out, int *searched, char *errstr,
                        size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(parts, topic, partition);
    int64_t got = -1;

    tp->offset = t_ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(r->rk, parts, KAFKA_TIMEOUT_MS);
    if (!err && !tp->err)
        got = tp->offset;
    else
        cdc_log_debug("%s [%d]: offsets-for-times: %s", topic, (int)partition,
                      rd_kafka_err2str(err ? err : tp->err));
    rd_kafka_topic_partition_list_destroy(parts);
    /* -1 means "no record at or after t" on a real broker, but the devbroker answers -1
     * for every time: only a search can tell the two apart, and it is cheap (log2 n
     * single-record reads). */
    if (got >= 0) {
        *searched = 0;
        *out = got < lo ? lo : got > hi ? hi : got;
        return 0;
    }
    *searched = 1;
    return search(r, topic, partition, lo, hi, t_ms, out, errstr, errstr_size);
}
