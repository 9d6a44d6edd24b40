/*
 * cdc_dlq: the one dead-letter format, written by the producer and the sink alike to
 * `<prefix>.<domain>.dlq` (docs/dead-letters.md).
 *
 * Kafka key: the record's canonical key bytes when known (so a dead letter lands on the
 * partition of its row), else the original record's key.
 * Kafka value: one JSON object, version 1:
 *   {"version":1, "stage":"producer"|"sink", "source":"epic7", "table":"crm_contacts",
 *    "key":{"id":"c-001"}, "column":"estimated_value", "reason":"...",
 *    "position":{"epoch":1,"h":42}, "origin":{"topic":"cdc.crm","partition":3,"offset":17},
 *    "payload_base64":"..."}
 * Fields that are unknown at the stage that failed are omitted (a record that cannot be
 * decoded has no source/table/key; a producer dead letter has no origin).
 * Headers (strings): cdc.stage, cdc.source, cdc.table, cdc.column, cdc.reason,
 * cdc.position ("EPOCH:H"), so tools can filter without parsing the value.
 */
#ifndef CDC_DLQ_H
#define CDC_DLQ_H

#include "cdc_pos.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cdc_dlq_info_s {
    const char *stage;    /* "producer" or "sink" */
    const char *source;   /* NULL when unknown */
    const char *table;    /* NULL when unknown */
    const char *key_json; /* JSON object text of the key columns, NULL when unknown */
    const char *column;   /* NULL when the reason is not about one column */
    const char *reason;   /* required */
    int has_position;
    cdc_pos_t position;
    const char *origin_topic; /* sink only, else NULL */
    int32_t origin_partition;
    int64_t origin_offset;
    const void *payload; /* the original record value, may be NULL */
    size_t payload_len;
} cdc_dlq_info_t;

/* Builds the JSON value of a dead letter. Caller frees the result with free(). */
char *cdc_dlq_value_json(const cdc_dlq_info_t *info);

/* Builds the headers of a dead letter; caller owns them (rd_kafka_headers_destroy, or pass
 * them to rd_kafka_producev with RD_KAFKA_V_HEADERS, which takes them on success). */
rd_kafka_headers_t *cdc_dlq_headers(const cdc_dlq_info_t *info);

#endif
