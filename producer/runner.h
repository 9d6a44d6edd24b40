/*
 * runner: the producer's main loop over its sources (docs/producer.md "The loop").
 *
 * One thread. Each round gives every source one step (schema watch, one stream batch,
 * one snapshot chunk), serves Kafka's delivery reports, hands every batch the ack
 * tracker releases back to its source (acknowledge in the file, then the state file),
 * and sends due heartbeats. When no source had anything to read, it sleeps on the files'
 * PRAGMA data_version (about 100 ms per round in all), never busy-polling.
 */
#ifndef CDC_RUNNER_H
#define CDC_RUNNER_H

#include "cdc_config.h"
#include "cdc_metrics.h"

#include <signal.h>
#include <stddef.h>

typedef struct cdc_runner_opts_s {
    int once;                /* exit 0 once snapshots are done and the streams are empty */
    const char *const *only; /* --source names (NULL / 0: every source of the config) */
    size_t n_only;
    const char *new_epoch;             /* --new-epoch SOURCE, or NULL */
    const volatile sig_atomic_t *stop; /* SIGINT/SIGTERM flag: stop reading, flush, ack */
    cdc_metrics_t *metrics;            /* --metrics-port registry (borrowed), or NULL */
} cdc_runner_opts_t;

/*
 * Runs the producer for conf until *stop (or, with once, until there is nothing left).
 * Returns the process exit code: 0 done (or stopped by a signal after flushing and
 * acknowledging what Kafka confirmed), 1 operational failure (logged; nothing after a
 * Kafka failure is acknowledged), 2 a config problem found at start (logged).
 * conf is borrowed.
 */
int cdc_runner_run(const cdc_config_t *conf, const cdc_runner_opts_t *opts);

/* --uninstall: removes capture from the selected sources. Same exit codes. */
int cdc_runner_uninstall(const cdc_config_t *conf, const cdc_runner_opts_t *opts);

/* --write-schemas DIR: writes the .avsc files of the selected sources and the control
 * schemas under dir (schema_files.h), without Kafka and without installing capture.
 * Returns 0, 1 (a file unreadable, DIR not writable) or 2 (a config problem), logged. */
int cdc_runner_write_schemas(const cdc_config_t *conf, const cdc_runner_opts_t *opts,
                             const char *dir);

#endif
