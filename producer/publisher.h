/*
 * publisher: the producer's Kafka side (docs/publisher.md).
 *
 * One idempotent librdkafka producer (cdc_kafka.h: acks=all, bounded queue, records never
 * time out) that publishes
 *   - row records to <prefix>.<domain>, on the partition murmur2(canonical key) picks
 *     (invariant 4: computed here from the UNFRAMED canonical key and given to librdkafka
 *     explicitly, so the wire framing of the key never moves a row);
 *   - dead letters to <prefix>.<domain>.dlq (cdc_dlq.h format, same partition rule);
 *   - schemas to <prefix>.schemas, each once per process, delivery confirmed before the
 *     first record that uses it can be sent;
 *   - control records (heartbeats, snapshot end markers) to every partition of a domain.
 *
 * Acknowledgement (invariant 3): every row, dead letter and marker is counted in the
 * caller's ack tracker under the batch id passed in, and uncounted by its delivery
 * report, so a position becomes ackable only after Kafka confirmed all of its records.
 * Batch id 0 means "not tracked" (heartbeats use it; never use it for rows).
 *
 * Failure: a fatal librdkafka error or any failed delivery (records never time out, so
 * a delivery error is permanent) makes the publisher FAILED for good: every later call
 * returns CDC_PUB_FAILED, and the tracker never acknowledges past the failed record. The
 * caller stops; a restart resumes from the last acknowledged position.
 *
 * Threads: single-threaded. Delivery reports are served only inside the calls of this
 * module (poll, flush, send when the queue is full, ensure_schema), in the caller's thread.
 */
#ifndef CDC_PUBLISHER_H
#define CDC_PUBLISHER_H

#include "ack_tracker.h"
#include "cdc_config.h"
#include "cdc_dlq.h"
#include "cdc_pos.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cdc_publisher_s cdc_publisher_t;

typedef enum {
    CDC_PUB_OK = 0,
    CDC_PUB_TIMEOUT = 1,   /* not done within the time allowed (broker unreachable): retry */
    CDC_PUB_STOPPED = 2,   /* the stop flag was raised while waiting for queue space: not sent */
    CDC_PUB_TOO_LARGE = 3, /* the record exceeds message.max.bytes: dead-letter it */
    CDC_PUB_INVALID = 4,   /* caller error: unknown domain/source, schema not published, ... */
    CDC_PUB_FAILED = 5,    /* the publisher failed for good (see above): stop */
} cdc_publisher_status_t;

/* Stable name of a status ("ok", "timeout", "stopped", "too-large", "invalid", "failed"). */
const char *cdc_publisher_status_name(cdc_publisher_status_t st);

typedef struct cdc_publisher_opts_s {
    /* Bound on the start-up metadata check (default 10000 ms when <= 0). */
    int start_timeout_ms;
    /* Bound on waiting for a schema's delivery in ensure_schema (default 10000 ms). */
    int schema_timeout_ms;
    /* Bound on the flush in cdc_publisher_destroy (default 10000 ms). */
    int close_timeout_ms;
    /* Optional: when *stop becomes non-zero, a send blocked on a full queue gives up with
     * CDC_PUB_STOPPED instead of waiting for space (e.g. the SIGTERM flag). */
    const volatile sig_atomic_t *stop;
} cdc_publisher_opts_t;

/* One row record. Everything is borrowed for the duration of the call (copied into
 * librdkafka's queue). */
typedef struct cdc_publisher_row_s {
    const char *domain; /* domain name from the config: topic <prefix>.<domain> */
    const char *source; /* header cdc.source */
    const char *table;  /* header cdc.table (original SQLite name) */
    char op;            /* header cdc.op: 'c', 'u', 'd' or 'r' */
    cdc_pos_t position; /* header cdc.position "EPOCH:H" */
    /* Canonical key bytes: Avro binary of the key record, no framing. The partition is
     * cdc_murmur2_partition() of exactly these bytes. */
    const void *key;
    size_t key_len;
    /* Framing header written before the canonical key in the Kafka key on the wire
     * (10 bytes single-object, 5 Confluent; 0 bytes: the key travels unframed). */
    const void *key_framing;
    size_t key_framing_len;
    /* The Kafka value, already framed. */
    const void *value;
    size_t value_len;
    uint64_t batch; /* ack tracker batch id (cdc_ack_tracker_open) */
} cdc_publisher_row_t;

/*
 * Creates the producer for conf, checks that every topic of the config exists with its
 * configured partition count (cdc_kafka_check_topics), within opts->start_timeout_ms.
 * Returns NULL with the reason in errstr: a missing topic or a wrong partition count
 * (named, with how to create them), or an unreachable cluster ("Kafka cluster at
 * <bootstrap.servers>: cannot read cluster metadata within N ms ..."); every message
 * starts with "Kafka cluster at <bootstrap.servers>: ". conf and tracker are borrowed and must
 * outlive the publisher; opts may be NULL (defaults). Caller frees with cdc_publisher_destroy().
 */
cdc_publisher_t *cdc_publisher_new(const cdc_config_t *conf, cdc_ack_tracker_t *tracker,
                                   const cdc_publisher_opts_t *opts, char *errstr,
                                   size_t errstr_size);

/*
 * Flushes for at most opts->close_timeout_ms (serving delivery reports, so what got
 * delivered is still counted in the tracker), logs how many records were left
 * undelivered (their positions stay unacknowledged), then destroys. NULL is a no-op.
 */
void cdc_publisher_destroy(cdc_publisher_t *pub);

/* The message of the last status other than OK (or of the failure); never NULL. Valid
 * until the next call on pub. */
const char *cdc_publisher_error(const cdc_publisher_t *pub);

/* 1 once the publisher has failed for good. */
int cdc_publisher_failed(const cdc_publisher_t *pub);

/*
 * Makes sure the exact schema text json (len bytes), whose fingerprint is fingerprint,
 * is on <prefix>.schemas: the first time per process it is produced there (key: the
 * fingerprint as 16 lowercase hex digits; value: the text, unchanged) and its delivery
 * awaited for at most opts->schema_timeout_ms; later calls return OK from memory.
 * INVALID when fingerprint is not the CRC-64-AVRO of json's canonical form; TIMEOUT when
 * the delivery was not confirmed in time (the record stays queued; call again).
 */
cdc_publisher_status_t cdc_publisher_ensure_schema(cdc_publisher_t *pub, const char *json,
                                                   size_t len, uint64_t fingerprint);

/* 1 when the schema with this fingerprint was confirmed on <prefix>.schemas. */
int cdc_publisher_schema_known(const cdc_publisher_t *pub, uint64_t fingerprint);

/*
 * Publishes one row record on the partition of its canonical key, with headers cdc.source,
 * cdc.table, cdc.op, cdc.position, and counts it in the tracker under row->batch.
 * A single-object framed value or key whose fingerprint was not confirmed by
 * cdc_publisher_ensure_schema() is refused (INVALID): a sink must never see a record
 * whose schema is not on the topic yet. On a full queue it serves delivery reports and
 * retries (back-pressure; never drops); STOPPED if opts->stop is raised meanwhile.
 * TOO_LARGE: the record can never be produced (dead-letter it). On any status but OK
 * nothing was sent or counted.
 */
cdc_publisher_status_t cdc_publisher_send_row(cdc_publisher_t *pub, const cdc_publisher_row_t *row);

/*
 * Publishes a dead letter (cdc_dlq.h format) to <prefix>.<domain>.dlq: keyed by the
 * canonical key and on its partition when key is not NULL, else unkeyed on partition 0.
 * Counted in the tracker under batch like a row, so a position is acknowledged only after
 * its dead letters are delivered too. Statuses as for cdc_publisher_send_row().
 */
cdc_publisher_status_t cdc_publisher_send_dead_letter(cdc_publisher_t *pub, const char *domain,
                                                      const cdc_dlq_info_t *info, const void *key,
                                                      size_t key_len, uint64_t batch);

/*
 * Publishes a heartbeat (cdc.Control, op "h") to EVERY partition of the domain topic of
 * source (from the config), explicitly partitioned, keyed by cdc.ControlKey{source,
 * partition}. The control schemas are ensured on <prefix>.schemas first. Not tracked.
 */
cdc_publisher_status_t cdc_publisher_heartbeat(cdc_publisher_t *pub, const char *source,
                                               int64_t epoch, int64_t acked_position,
                                               int64_t backlog_entries,
                                               int64_t oldest_unacked_age_ms);

/*
 * Publishes the end marker of a full-table snapshot of (source, table) (cdc.Control, op
 * "m", start position H0 = start_position, rows sent) to EVERY partition of the source's
 * domain topic; the sink applies it once it has it on every partition (invariant 5).
 * All of them are counted under batch. If a partition's record cannot be queued the
 * status says why and the earlier partitions' records stay sent (harmless: the sink acts
 * only on a complete set; send the marker again).
 */
cdc_publisher_status_t cdc_publisher_snapshot_end(cdc_publisher_t *pub, const char *source,
                                                  const char *table, int64_t epoch,
                                                  int64_t start_position, int64_t rows,
                                                  uint64_t batch);

/*
 * Replaces the framing headers of control keys and values (default: single-object with
 * the fingerprints of cdc_avro_schema_control_key_json() / _control_json()); with a
 * schema registry the caller sets the Confluent headers of their ids. Each is at most 16
 * bytes (INVALID otherwise); copied.
 */
cdc_publisher_status_t cdc_publisher_set_control_framing(cdc_publisher_t *pub,
                                                         const void *key_framing, size_t key_len,
                                                         const void *value_framing,
                                                         size_t value_len);

/* The partition of a canonical key in the domain topic (and its .dlq), -1 for an unknown
 * domain. The same computation cdc_publisher_send_row() uses. */
int32_t cdc_publisher_partition(const cdc_publisher_t *pub, const char *domain, const void *key,
                                size_t key_len);

/* Serves delivery reports for at most timeout_ms (0: only what is ready). FAILED once
 * the publisher failed, else OK. */
cdc_publisher_status_t cdc_publisher_poll(cdc_publisher_t *pub, int timeout_ms);

/* Waits at most timeout_ms for every queued record's delivery report. OK when none is
 * left, TIMEOUT when some are, FAILED once the publisher failed. */
cdc_publisher_status_t cdc_publisher_flush(cdc_publisher_t *pub, int timeout_ms);

/* Records queued or in flight in librdkafka (not yet reported). */
int cdc_publisher_queued(const cdc_publisher_t *pub);

#endif
