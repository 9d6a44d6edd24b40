/*
 * sink_dlq: the sink's dead-letter producer for <prefix>.<domain>.dlq (invariant 7).
 *
 * One small idempotent producer (cdc_kafka_conf_new(CDC_KAFKA_PRODUCER): acks=all,
 * enable.idempotence) writing the one dead-letter format (cdc_dlq.h, docs/dead-letters.md).
 * A dead letter is keyed by the record's canonical key bytes when they are known and lands
 * on murmur2(canonical key) % partitions, the partition of its row; without a canonical
 * key it carries the original record's Kafka key (if any) and lands on the partition the
 * record came from (the dead-letter topic has the domain's partition count).
 *
 * cdc_sink_dlq_send() WAITS for the delivery report before it returns: the caller moves
 * the offset past the record (commits the batch) only after the dead letter is confirmed.
 * Used for undecodable records by the Kafka side and as the apply step's dead-letter
 * callback. Single-threaded.
 */
#ifndef CDC_SINK_DLQ_H
#define CDC_SINK_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_config.h"
#include "cdc_dlq.h"

typedef struct cdc_sink_dlq_s cdc_sink_dlq_t;

/*
 * Creates the producer for the dead-letter topic of domain (which must be in conf).
 * conf is borrowed for the call. Returns NULL with the reason in errstr; caller frees
 * with cdc_sink_dlq_destroy().
 */
cdc_sink_dlq_t *cdc_sink_dlq_new(const cdc_config_t *conf, const char *domain, char *errstr,
                                 size_t errstr_size);

/* Flushes (bounded, 10 s) and destroys; NULL is a no-op. */
void cdc_sink_dlq_destroy(cdc_sink_dlq_t *d);

/* The dead-letter topic's name, "<prefix>.<domain>.dlq" (valid while d lives). */
const char *cdc_sink_dlq_topic(const cdc_sink_dlq_t *d);

/*
 * Produces one dead letter (value cdc_dlq_value_json(info), headers cdc_dlq_headers(info))
 * and waits for its delivery report, at most timeout_ms. canon_key (may be NULL) is the
 * record's canonical key; without it orig_key (may be NULL) is used as the Kafka key and
 * info->origin_partition as the partition. Everything is borrowed for the call.
 * Returns 0 once Kafka confirmed delivery; -1 with the reason in errstr otherwise (a
 * delivery error or the timeout: retriable for the caller, who must not move past the
 * record; a dead letter still queued at a timeout may be delivered later, so a retry can
 * leave a duplicate, which readers tolerate: dead letters are keyed and positioned).
 */
int cdc_sink_dlq_send(cdc_sink_dlq_t *d, const cdc_dlq_info_t *info, const void *canon_key,
                      size_t canon_key_len, const void *orig_key, size_t orig_key_len,
                      int timeout_ms, char *errstr, size_t errstr_size);

/* Dead letters confirmed since creation. */
uint64_t cdc_sink_dlq_count(const cdc_sink_dlq_t *d);

#endif
