/*
 * sink_outbox_int: state shared by the two files of the parity publisher (sink_outbox.c:
 * the producer, records built from outbox rows, delivery reports; sink_outbox_pub.c:
 * when and which rows are published, marking them sent). Private to consumers/.
 */
#ifndef CDC_SINK_OUTBOX_INT_H
#define CDC_SINK_OUTBOX_INT_H

#include <stdint.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "cdc_buf.h"
#include "sink_db.h"
#include "sink_outbox.h"

#define OUTBOX_FLUSH_MS 10000 /* delivery of one synchronous round; queueing a record */

/*
 * One publication: the records built from one SELECT of outbox rows. Its delivery
 * reports (dr_cb) count here; the rows are marked sent only once every record was
 * confirmed. Publications live on the publisher's list until every report arrived, even
 * when their caller gave up waiting, so a late report never touches freed memory.
 */
typedef struct outbox_pub_s {
    struct outbox_pub_s *next;
    int own;       /* this worker's own batch transactions (txs below), asynchronous */
    int abandoned; /* a synchronous round that gave up: free once complete, mark nothing */
    int64_t *txs;  /* the batch_tx values it covers */
    size_t ntx;
    uint64_t queued; /* records produced */
    uint64_t delivered, failed;
    rd_kafka_resp_err_t last_err;
    long rows;        /* parity results it carries (a counted outbox row stands for many) */
    uint64_t records; /* cdc.Parity records among queued (the schema record is not one) */
} outbox_pub_t;

struct cdc_sink_outbox_s {
    const cdc_config_t *conf;
    char *domain;
    char *topic;
    char *schemas_topic;
    int32_t partitions;
    rd_kafka_t *rk;
    int schema_sent;    /* cdc.Parity confirmed on <prefix>.schemas by this process */
    int column_ok;      /* _cdc_parity_outbox.batch_tx verified by this process */
    outbox_pub_t *pubs; /* publications with reports outstanding or not yet reaped */
    /* this worker's committed batch transactions whose rows are not published yet */
    int64_t *own;
    size_t nown, own_cap;
    int64_t own_since; /* monotonic ms when the oldest of them committed */
    /* retry after a failed publication */
    int pending; /* the last synchronous sweep failed */
    int retry_ms;
    int64_t retry_at;
    int64_t pruned_at;
    int64_t swept_at;
    /* test hooks */
    long crash_after;       /* CDC_SINK_CRASH_AFTER_COMMIT */
    long crash_before_mark; /* CDC_SINK_CRASH_BEFORE_MARK */
    long rounds;
    long commits;
    uint64_t rows_sent, records_sent;
};

int64_t cdc_sink_outbox_mono_ms(void);

/* A new publication on o's list (own: asynchronous, for this worker's transactions). */
outbox_pub_t *cdc_sink_outbox_pub_new(cdc_sink_outbox_t *o, int own);

/*
 * Builds the cdc.Parity records of res (rows of the publisher's SELECT, ordered by
 * batch_tx, source, table, id) and queues them with pub as their delivery opaque; the
 * cdc.Parity schema first if this process has not had it confirmed. Appends each distinct
 * batch_tx to pub->txs. Returns 0, or -1 with the reason in errstr (what was queued is
 * still counted in pub).
 */
int cdc_sink_outbox_queue_rows(cdc_sink_outbox_t *o, const cdc_sink_db_t *db, const PGresult *res,
                               outbox_pub_t *pub, char *errstr, size_t errstr_size);

/* The SELECT of unsent rows for a publication: $1 domain; with_txs: $2 bigint[] of
 * batch_tx values; otherwise $2 the number of batch transactions and $3 the minimum age
 * in seconds. */
const char *cdc_sink_outbox_select_sql(int with_txs);

/* 1 when every record of pub has its delivery report. */
static inline int outbox_pub_complete(const outbox_pub_t *p)
{
    return p->delivered + p->failed >= p->queued;
}

#endif
