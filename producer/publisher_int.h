/*
 * publisher_int: what publisher.c (producer, rows, dead letters, delivery reports) and
 * publisher_control.c (schemas, heartbeats, snapshot end markers) share. Not a public
 * header: only those two files include it.
 */
#ifndef CDC_PUBLISHER_INT_H
#define CDC_PUBLISHER_INT_H

#include "publisher.h"

#include "cdc_buf.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>

/* Batch ids and schema fingerprints travel as librdkafka's per-message opaque pointer. */
_Static_assert(sizeof(void *) >= sizeof(uint64_t), "the message opaque must hold 64 bits");

#define DEFAULT_TIMEOUT_MS  10000
#define QUEUE_FULL_POLL_MS  100
#define QUEUE_FULL_WARN_MS  10000
#define CONTROL_FRAMING_MAX 16

typedef struct pub_domain_s {
    char *name;
    int32_t partitions;
    rd_kafka_topic_t *rkt;     /* <prefix>.<domain> */
    rd_kafka_topic_t *dlq_rkt; /* <prefix>.<domain>.dlq */
} pub_domain_t;

/* Fingerprints of schemas produced to <prefix>.schemas: open addressing, power-of-two
 * capacity. A slot is SENT until its delivery report, then DELIVERED. */
enum { SLOT_EMPTY = 0, SLOT_SENT = 1, SLOT_DELIVERED = 2 };

struct cdc_publisher_s {
    rd_kafka_t *rk;
    const cdc_config_t *conf;
    cdc_ack_tracker_t *tracker;
    cdc_publisher_opts_t opts;
    pub_domain_t *domains;
    size_t n_domains;
    char *schemas_topic;
    rd_kafka_topic_t *schemas_rkt;
    uint64_t *fp;
    unsigned char *fp_state;
    size_t fp_cap, fp_count;
    /* Reused for every record: the wire key and control values, no per-record malloc. */
    cdc_buf_t key_buf;
    cdc_buf_t val_buf;
    unsigned char ctl_key_framing[CONTROL_FRAMING_MAX], ctl_val_framing[CONTROL_FRAMING_MAX];
    size_t ctl_key_framing_len, ctl_val_framing_len;
    uint64_t ctl_fp, ctl_key_fp;
    int failed;
    char error[512];
};

/* Sets the message of a non-OK status and returns st. */
cdc_publisher_status_t cdc_pub_set_error(cdc_publisher_t *pub, cdc_publisher_status_t st,
                                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks the publisher failed for good (keeps the first message) and logs it. */
void cdc_pub_fail(cdc_publisher_t *pub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic clock in milliseconds. */
int64_t cdc_pub_now_ms(void);

/* The domain named name, or NULL. */
const pub_domain_t *cdc_pub_find_domain(const cdc_publisher_t *pub, const char *name);

/*
 * Produces one record to an explicit partition, copying key and value; headers (may be
 * NULL) are taken by librdkafka on success and destroyed here otherwise; tag is the
 * message opaque (a batch id, 0, or for <prefix>.schemas the fingerprint). A full queue
 * is back-pressure: serve delivery reports and try again, never drop.
 */
cdc_publisher_status_t cdc_pub_produce(cdc_publisher_t *pub, rd_kafka_topic_t *rkt,
                                       int32_t partition, const void *key, size_t key_len,
                                       const void *value, size_t value_len,
                                       rd_kafka_headers_t *headers, uint64_t tag);

/* State of fingerprint fp in the schema set (SLOT_*), and setting it. */
int cdc_pub_fp_state(const cdc_publisher_t *pub, uint64_t fp);
void cdc_pub_fp_set(cdc_publisher_t *pub, uint64_t fp, int state);

#endif
