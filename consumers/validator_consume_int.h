/*
 * validator_consume_int: the state the validator's consume loop shares between
 * validator_consume.c (the loop, assignments, batches) and validator_setup.c (opening and
 * closing the target databases and the consumer). Internal to consumers/.
 */
#ifndef CDC_VALIDATOR_CONSUME_INT_H
#define CDC_VALIDATOR_CONSUME_INT_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cdc_time.h"
#include "parity_record.h"
#include "validator_consume.h"
#include "validator_metrics.h"
#include "validator_state.h"

#define KAFKA_TIMEOUT_MS 10000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000

typedef struct vdb_s {
    const char *conninfo; /* borrowed from the config */
    const char **names;   /* domain names of this target */
    size_t *gidx;         /* their indexes in the validator's domain list */
    size_t n;
    cdc_vstate_t *st;
} vdb_t;

typedef struct vpart_s {
    int assigned;
    int64_t *next; /* per domain (validator's list): stored next offset */
    int64_t read;  /* next offset expected from the broker */
    int64_t end;   /* --once: high watermark at assignment */
    int seeked;    /* a seek to `read` is pending: larger offsets are stale until it lands */
    int seek_tries;
    rd_kafka_message_t **msgs; /* the open batch */
    cdc_parity_rec_t *recs;    /* decoded, parallel to msgs */
    int *dom;                  /* domain index of each, -1: skipped */
    size_t nmsgs, cap;
    int64_t batch_end;
    int64_t opened_ms;
} vpart_t;

typedef struct validator_s {
    const cdc_config_t *conf;
    const cdc_validator_opts_t *opts;
    char *topic;
    rd_kafka_t *rk;
    const char **domains; /* selected domain names */
    size_t *dom_db;       /* target handle of each domain */
    size_t *dom_local;    /* index within that handle */
    size_t ndomains;
    vdb_t *dbs;
    size_t ndbs;
    vpart_t *parts;
    int32_t nparts;
    int assigned, failed;
    char err[1024];
    cdc_vstate_stats_t total;
    uint64_t skipped, batches;
    int64_t pruned_ms;
    cdc_vmetrics_t *metrics; /* NULL: metrics off (validator_metrics.h) */
} validator_t;

static inline int stopping(const validator_t *v)
{
    return v->opts->stop && *v->opts->stop;
}

/* Frees the messages and decoded records of p's open batch (p stays usable). */
void cdc_validator_drop_batch(vpart_t *p);

/* The consumer's rebalance callback (opaque: the validator_t). */
void cdc_validator_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *parts, void *opaque);

/*
 * Opens the selected domains' target databases (grouped by conninfo, with retries), then
 * the consumer of <prefix>.validation, subscribed. Returns 0, or -1 with the reason in
 * errstr; v is torn down by cdc_validator_teardown in both cases.
 */
int cdc_validator_setup(validator_t *v, char *errstr, size_t errstr_size);

/* Closes the consumer and the targets and frees what setup and the loop allocated. */
void cdc_validator_teardown(validator_t *v);

#endif
