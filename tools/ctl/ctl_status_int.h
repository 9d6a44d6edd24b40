/*
 * ctl_status_int: the snapshot `cdc-ctl status` builds of one domain, shared by its steps
 * (docs/status.md): ctl_status_pg.c fills what the target database knows,
 * ctl_status_kafka.c what the topics know, ctl_status_eval.c derives states and verdicts,
 * ctl_status_out.c prints. Internal to cdc-ctl.
 */
#ifndef CDC_CTL_STATUS_INT_H
#define CDC_CTL_STATUS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "cdc_config.h"

/* Thresholds and switches of one run (from the command line). */
typedef struct cdc_ctl_status_opts_s {
    double max_lag_s;           /* --max-lag-seconds */
    double heartbeat_timeout_s; /* --heartbeat-timeout-seconds */
    int group_timeout_ms;       /* how long a consumer-group description may take */
} cdc_ctl_status_opts_t;

/* A list of human-readable reasons (a verdict that does not hold, or a read error). */
typedef struct cdc_ctl_reasons_s {
    char **items;
    size_t count;
} cdc_ctl_reasons_t;

/* The newest heartbeat of (source, partition) known from one place. */
typedef struct cdc_ctl_hb_s {
    int present;
    int64_t epoch;
    int64_t acked_position;
    int64_t backlog_entries;
    int64_t oldest_unacked_age_ms;
    int64_t producer_ts_ms; /* producer wall clock when it was sent */
} cdc_ctl_hb_t;

typedef struct cdc_ctl_part_s {
    int32_t partition;
    int64_t low, high;    /* watermarks; -1: unknown (Kafka unreachable) */
    int64_t stored;       /* _cdc_offsets.next_offset; -1: none stored (the sink starts at 0) */
    double since_apply_s; /* seconds since _cdc_offsets.updated_at; -1: none */
    int64_t lag_messages; /* high - stored (none stored: high - 0); -1: unknown */
    double lag_s;         /* age of the oldest unapplied change; 0 when none */
    int lag_bound;        /* 1: lag_s is an upper bound (the scan stopped at its cap) */
    int64_t first_change_offset; /* offset of the oldest unapplied change; -1: none */
    int members;                 /* group members owning it; -1: not known (no group listing) */
    const char *worker;          /* "active", "idle", "stopped", "caught-up", "unassigned" */
} cdc_ctl_part_t;

typedef struct cdc_ctl_source_s {
    char *name;
    /* per partition (index = partition): applied (from the target) and seen (also
     * heartbeats still waiting in Kafka) */
    cdc_ctl_hb_t *hb_applied;
    cdc_ctl_hb_t *hb_kafka;
    int64_t last_record_ts_ms; /* newest Kafka record of this source seen by the scan; 0 none */
    /* derived: the newest heartbeat over partitions and places */
    cdc_ctl_hb_t newest;
    double hb_age_s;   /* -1: never */
    const char *state; /* "running", "idle", "stopped", "unknown" */
    /* applied position: the smallest acked position over partitions of the applied
     * heartbeats, in the newest epoch; -1 when a partition has none */
    int64_t applied_epoch, applied_position;
    /* _cdc_freeze */
    int frozen;
    int64_t freeze_epoch, freeze_position;
    char *frozen_at;
} cdc_ctl_source_t;

typedef struct cdc_ctl_domain_s {
    const cdc_domain_t *conf; /* borrowed from the config */
    char *topic;
    int nparts;
    cdc_ctl_part_t *parts;
    cdc_ctl_source_t *sources;
    size_t nsources;

    /* consumer group of the sink workers */
    const char *workers_method; /* "group" or "offsets-activity" */
    int workers;                /* group members; -1 without a group description */
    int active_parts;           /* partitions whose stored offset moved recently */
    char *group_state;          /* group method only; NULL otherwise */
    double last_apply_s;        /* seconds since the newest _cdc_offsets.updated_at; -1 */

    /* dead letters */
    int64_t dead_letters_open;
    double dead_letter_oldest_s; /* -1 none */

    /* parity (validator tables) */
    int parity_known; /* validator tables exist */
    int64_t rows_seen, matches, superseded, mismatches_total, parity_dead_letters;
    int64_t mismatches_open;
    int64_t outbox_unsent;
    double outbox_oldest_s;         /* -1 none */
    int nvparts;                    /* partitions of the validation topic */
    int64_t *vstored;               /* validator's stored offset per partition; -1 none */
    int64_t validator_lag_messages; /* -1 unknown */
    double validator_lag_s;         /* age of the oldest unconsumed parity record of the domain */
    int validator_stored;           /* validator offsets present for the domain */

    /* verdicts */
    int ready;
    cdc_ctl_reasons_t not_ready;
    int frozen; /* freeze rows for every source */
    int drained;
    cdc_ctl_reasons_t not_drained;

    /* problems reading the state (each also keeps both verdicts from holding) */
    cdc_ctl_reasons_t errors;
    int64_t now_ms; /* when the snapshot was taken */
} cdc_ctl_domain_t;

/* Appends a formatted reason (copied). */
void cdc_ctl_reasons_add(cdc_ctl_reasons_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A domain snapshot with its topic, partitions and sources from the config, nothing read
 * yet. Caller frees with cdc_ctl_domain_free(). */
cdc_ctl_domain_t *cdc_ctl_domain_new(const cdc_config_t *conf, const cdc_domain_t *d);
void cdc_ctl_domain_free(cdc_ctl_domain_t *dom);

/* The source entry called name, or NULL. */
cdc_ctl_source_t *cdc_ctl_domain_source(cdc_ctl_domain_t *dom, const char *name);

/*
 * Reads the target database of dom: stored offsets, applied heartbeats, dead letters,
 * parity state, freeze rows (creating _cdc_freeze when absent). Problems are added to
 * dom->errors; never fails otherwise.
 */
void cdc_ctl_status_read_pg(const cdc_config_t *conf, cdc_ctl_domain_t *dom);

/*
 * Reads the domain topic (watermarks, the oldest unapplied change per partition, the
 * heartbeats not yet applied), the validation topic's lag for dom, and the sink group's
 * members. rk is a consumer handle without a subscription (never joins a group); it is
 * only assigned partitions. Problems are added to dom->errors.
 */
void cdc_ctl_status_read_kafka(const cdc_config_t *conf, rd_kafka_t *rk, cdc_ctl_domain_t *dom,
                               const cdc_ctl_status_opts_t *opts);

/* Derives producer and worker states and both verdicts with their reasons. */
void cdc_ctl_status_evaluate(cdc_ctl_domain_t *dom, const cdc_ctl_status_opts_t *opts);

/* Human-readable report of the domains on out. */
void cdc_ctl_status_print_text(FILE *out, cdc_ctl_domain_t **doms, size_t n, const char *asked);

/* One JSON document (one line) of the domains on out (fields: docs/status.md). */
void cdc_ctl_status_print_json(FILE *out, cdc_ctl_domain_t **doms, size_t n, const char *asked,
                               int verdict_holds);

/* Milliseconds since the Unix epoch (wall clock: record timestamps use it too). */
int64_t cdc_ctl_now_ms(void);

#endif
