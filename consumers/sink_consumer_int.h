/*
 * sink_consumer_int: state shared by the files of the sink's Kafka side (sink_consumer.c:
 * membership, rebalance, apply, the loop; sink_consumer_msg.c: one message -> offset
 * check, decode, dead letter, batch entry; sink_consumer_setup.c: the worker's start).
 * Private to consumers/.
 */
#ifndef CDC_SINK_CONSUMER_INT_H
#define CDC_SINK_CONSUMER_INT_H

#include <stdint.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "cdc_time.h"
#include "sink_apply.h"
#include "sink_consumer.h"
#include "sink_decode.h"
#include "sink_dlq.h"
#include "sink_metrics.h"
#include "sink_schemas.h"
#include "sink_outbox.h"

#define KAFKA_TIMEOUT_MS 10000 /* metadata, watermarks, schema reloads, seeks */
#define DLQ_TIMEOUT_MS   30000 /* one dead letter's delivery */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000

typedef struct part_s {
    int assigned;
    int64_t next;      /* next expected offset: the stored one, then each batch's end */
    int64_t end;       /* --once: high watermark observed at assignment */
    int64_t seeked_to; /* offset of the last re-seek, -1 when none is pending */
    int seek_tries;    /* re-seeks to seeked_to that answered with a larger offset */
    cdc_sink_batch_t *batch;
    int64_t batch_end; /* offset after the last record of the open batch */
    int64_t opened_ms;
    rd_kafka_message_t **msgs; /* the open batch's messages, in offset order */
    size_t nmsgs, cap;
    size_t msg_bytes; /* payload bytes of msgs */
    size_t bytes;     /* what the open batch counts against the worker's budget */
} part_t;

typedef struct worker_s {
    const cdc_config_t *conf;
    const char *domain;
    const cdc_sink_run_opts_t *opts;
    char *topic;
    rd_kafka_t *rk;
    cdc_sink_db_t *db;
    cdc_sink_schemas_t *schemas;
    cdc_sink_decoder_t *dec;
    cdc_sink_dlq_t *dlq;
    cdc_sink_outbox_t *outbox; /* parity results -> <prefix>.validation (sink_outbox.h) */
    part_t *parts;
    int32_t nparts;
    int assigned; /* an assignment is in force (ASSIGN seen after the last REVOKE) */
    int failed;
    char err[1024];
    const cdc_sink_schema_t *last_schema; /* one-entry cache of the table descriptor */
    const cdc_sink_table_t *last_table;
    cdc_sink_stats_t total;
    uint64_t batches;
    size_t open_bytes;           /* sum of the parts' bytes */
    cdc_sink_metrics_t *metrics; /* NULL: metrics off (sink_metrics.h) */
} worker_t;

static inline int stopping(const worker_t *w)
{
    return w->opts->stop && *w->opts->stop;
}

static inline int batch_open(const part_t *p)
{
    return p->batch && cdc_sink_batch_count(p->batch) > 0;
}

/* Records the first failure (the worker then stops with exit 1 and this message). */
void cdc_sink_worker_fail(worker_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Seeks partition of the domain topic to offset (errors are logged: the next message's
 * offset check notices a seek that did not happen). */
void cdc_sink_worker_seek(worker_t *w, int32_t partition, int64_t offset);

/* Invariant 6's gap check of p's next offset against the partition's watermarks; sets
 * p->end (--once). Returns 0, or -1 after cdc_sink_worker_fail(). */
int cdc_sink_worker_check_watermarks(worker_t *w, int32_t partition, part_t *p);

/* The consumer's rebalance callback (opaque: the worker): assignments and revocations. */
void cdc_sink_worker_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *parts, void *opaque);

/* Opens what the worker needs and subscribes (sink_consumer_setup.c). Returns 0, or -1
 * with the reason in errstr; what was opened is released by the worker's teardown. */
int cdc_sink_worker_setup(worker_t *w, char *errstr, size_t errstr_size);

/* Takes message m (ownership passes: kept with the open batch, or destroyed): consumer
 * errors, offset checks, decode, dead letters, the batch entry. */
void cdc_sink_worker_handle_message(worker_t *w, rd_kafka_message_t *m);

#endif
