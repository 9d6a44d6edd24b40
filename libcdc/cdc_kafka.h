/*
 * cdc_kafka: librdkafka handles configured the one way the invariants need.
 *
 * Properties are applied in this order: the config's `kafka` section, then the role's
 * section (`kafka_producer` / `kafka_consumer`), then the bounded defaults below where
 * the user set nothing, then the properties the tool owns (idempotence, acks=all,
 * no auto-commit, auto.offset.reset=error, the group id), which cdc_config refuses in
 * the file. librdkafka's own logs are routed into cdc_log.
 *
 * Bounded defaults (librdkafka's would take a 1 GiB producer queue and large fetch
 * buffers): producer queue 16 MiB / 100k messages, lz4 compression, linger 5 ms;
 * consumer pre-fetch queue 8 MiB per partition set, 1 MiB per partition fetch.
 */
#ifndef CDC_KAFKA_H
#define CDC_KAFKA_H

#include "cdc_config.h"

#include <librdkafka/rdkafka.h>

typedef enum {
    CDC_KAFKA_PRODUCER,
    CDC_KAFKA_CONSUMER,
} cdc_kafka_role_t;

/*
 * Builds a librdkafka configuration for role. group_id is required for consumers and
 * ignored for producers. Returns NULL with the offending property in errstr.
 * Caller owns the result (rd_kafka_conf_destroy, or pass it to rd_kafka_new, which takes it).
 */
rd_kafka_conf_t *cdc_kafka_conf_new(const cdc_config_t *conf, cdc_kafka_role_t role,
                                    const char *group_id, char *errstr, size_t errstr_size);

/* The consumer group of a domain's sink workers: "<prefix>.<domain>.sink". Caller frees. */
char *cdc_kafka_sink_group(const cdc_config_t *conf, const char *domain);

/*
 * Checks that every topic exists with exactly its configured partition count, using a
 * metadata request. Returns 0, or -1 with every missing or mismatched topic named in errstr
 * (and how to create them) — also when the cluster cannot be reached within timeout_ms.
 */
int cdc_kafka_check_topics(rd_kafka_t *rk, const cdc_topic_spec_t *topics, size_t n, int timeout_ms,
                           char *errstr, size_t errstr_size);

/* Subscribes consumer rk (group member) to the one topic. 0, or -1 with errstr naming the
 * topic and librdkafka's reason. */
int cdc_kafka_subscribe(rd_kafka_t *rk, const char *topic, char *errstr, size_t errstr_size);

/* librdkafka log callback writing into cdc_log (set by cdc_kafka_conf_new). */
void cdc_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#endif
