/*
 * source: one source SQLite file as the producer runs it (docs/producer.md).
 *
 * Opening a source verifies the file (exists, is a database, readable), loads the
 * producer's state file for it, compares the file's position with what was acknowledged
 * (refusing an older copy unless a new epoch was asked for), installs capture, and builds
 * a codec per captured table whose schemas are then published. Running it is a sequence of
 * small steps the runner interleaves with the other sources: watch the schema, read one
 * stream batch, read one snapshot chunk, apply acknowledgements, send a heartbeat. Every
 * step is one short SQLite transaction at most (invariant 2).
 *
 * Records are counted in the runner's ack tracker under batches tagged with a
 * cdc_src_tag_t; the runner hands every tag back (cdc_src_apply_tag) in tracker order once
 * Kafka confirmed its batch and all before it (invariant 3).
 */
#ifndef CDC_SOURCE_H
#define CDC_SOURCE_H

#include "ack_tracker.h"
#include "cdc_config.h"
#include "producer_metrics.h"
#include "publisher.h"
#include "registry_wire.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cdc_src_s cdc_src_t;
typedef struct cdc_src_tag_s cdc_src_tag_t;

typedef enum {
    CDC_SRC_OK = 0,
    CDC_SRC_EOPER = 1,   /* operational failure: exit 1 (file, broker, position, SQLite) */
    CDC_SRC_ECONFIG = 2, /* the config does not fit the file: exit 2 (table missing, ...) */
    CDC_SRC_ESTOP = 3,   /* the stop flag was raised while sending: shut down */
} cdc_src_err_t;

typedef struct cdc_src_opts_s {
    int new_epoch; /* --new-epoch: start a new epoch (accepting an older copy), re-snapshot */
    /* With a schema registry (borrowed, outlives the source): every table's key and
     * envelope schemas are registered and its records Confluent framed; NULL: single-object. */
    cdc_regwire_t *registry;
    cdc_pmetrics_src_t *metrics; /* the source's series (borrowed), or NULL: metrics off */
} cdc_src_opts_t;

/*
 * Opens source cs of conf and makes it ready to run (see above). pub and tracker are
 * borrowed and must outlive the source. Returns NULL with the reason (naming the source,
 * the file, the table) in errstr and the class in *err. Caller frees with
 * cdc_src_destroy().
 */
cdc_src_t *cdc_src_open(const cdc_config_t *conf, const cdc_source_t *cs, cdc_publisher_t *pub,
                        cdc_ack_tracker_t *tracker, const cdc_src_opts_t *opts, cdc_src_err_t *err,
                        char *errstr, size_t errstr_size);

/* Closes the file and frees everything, including tags the tracker never handed back.
 * NULL is a no-op. */
void cdc_src_destroy(cdc_src_t *src);

const char *cdc_src_name(const cdc_src_t *src);

/*
 * One step of work: schema watch, one stream batch, one snapshot chunk. *busy is set
 * when anything was read (the source may have more to do right away); *idle when its
 * snapshots are done and the stream found nothing. Errors other than OK stop the runner.
 */
cdc_src_err_t cdc_src_step(cdc_src_t *src, int *busy, int *idle, char *errstr, size_t errstr_size);

/* Applies a tag the tracker handed back: records the acknowledgement or the snapshot
 * progress (applied to the file and the state file by cdc_src_flush). Frees the tag. */
void cdc_src_apply_tag(cdc_src_tag_t *tag);

/* The source a tag belongs to. */
cdc_src_t *cdc_src_tag_source(const cdc_src_tag_t *tag);

/*
 * Acknowledges in the file, then records in the state file, what cdc_src_apply_tag
 * gathered: at most every 100 ms unless force. A busy file is left for the next call.
 * Returns OK or EOPER (message in errstr).
 */
cdc_src_err_t cdc_src_flush(cdc_src_t *src, int force, char *errstr, size_t errstr_size);

/* Sends a heartbeat if heartbeat_ms passed since the last one (force: now). */
void cdc_src_heartbeat(cdc_src_t *src, int force);

/* Waits up to timeout_ms for another connection to commit to the file. */
void cdc_src_wait(cdc_src_t *src, int timeout_ms);

/* Longest write-lock hold (ms) of this source's installs and acknowledgements so far. */
double cdc_src_max_hold_ms(const cdc_src_t *src);

/* --uninstall: removes capture from the file of cs (opened read-write, never created).
 * Returns OK or EOPER with errstr. */
cdc_src_err_t cdc_src_uninstall(const cdc_config_t *conf, const cdc_source_t *cs, char *errstr,
                                size_t errstr_size);

#endif
