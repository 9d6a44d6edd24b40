/*
 * ctl: the pieces the cdc-ctl subcommands share (internal to tools/ctl).
 *
 * Every subcommand is `int ctl_<name>_main(int argc, char **argv)` with argv[0] the
 * subcommand's name; it parses its own options (cdc_cli_parse, --help of its own) and returns
 * the exit code: 0 success, 1 operational failure, 2 usage or config error (CDC_CLI_EXIT_USAGE).
 * Data (tables, positions, offsets) goes to stdout, diagnostics and progress to stderr.
 */
#ifndef CDC_CTL_H
#define CDC_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>

#include "cdc_cli.h"
#include "cdc_config.h"

#define CTL_EXIT_OK          0
#define CTL_EXIT_OPERATIONAL 1
#define CTL_EXIT_USAGE       CDC_CLI_EXIT_USAGE

/* Options every subcommand shares, config loading and the domain lookup: cdc_cli.h
 * (cdc_cli_parse, cdc_cli_load_config, cdc_cli_domain). */

/* A connection to domain's target (pinned session, quiet notices), or NULL with libpq's
 * message printed. Caller frees with PQfinish. */
PGconn *ctl_pg_connect(const char *prog, const cdc_config_t *conf, const cdc_domain_t *d);

/*
 * A librdkafka handle for metadata, watermarks and admin requests (a producer handle: it
 * joins no group). Returns NULL with the reason in errstr. Caller frees with
 * rd_kafka_destroy.
 */
rd_kafka_t *ctl_kafka_admin(const cdc_config_t *conf, char *errstr, size_t errstr_size);

/*
 * A consumer handle that is only ever assigned partitions, with partition EOF events on:
 * its group "<prefix>.<group_suffix>" is required by librdkafka but never joined, and
 * nothing is committed. Returns NULL with the reason in errstr. Caller closes it
 * (rd_kafka_consumer_close) and frees it with rd_kafka_destroy.
 */
rd_kafka_t *ctl_kafka_reader(const cdc_config_t *conf, const char *group_suffix, char *errstr,
                             size_t errstr_size);

/* "<prefix>.<domain>"; caller frees. */
char *ctl_domain_topic(const cdc_config_t *conf, const char *domain);

/*
 * Opens a source file read-write (never creating it) with a 1 s busy timeout, like an
 * application. Returns NULL with a message naming the source and file in errstr.
 */
sqlite3 *ctl_sqlite_open(const cdc_source_t *src, char *errstr, size_t errstr_size);

/*
 * Drops every trigger of db's main schema whose name satisfies name_where (an SQL condition
 * on `name`, a constant of the caller's: never user text), inside the caller's write
 * transaction. kind names the triggers in errstr ("listing <kind> triggers"). Adds the
 * number dropped to *dropped. Returns SQLITE_OK or the SQLite code with the message.
 */
int ctl_sqlite_drop_triggers(sqlite3 *db, const char *name_where, const char *kind, int *dropped,
                             char *errstr, size_t errstr_size);

/* Monotonic milliseconds. */
int64_t ctl_now_ms(void);

/* The sink's DDL advisory lock (sink_schema.c): ctl's CREATE TABLE IF NOT EXISTS run under
 * it so they never race the sink's on the catalog. */
#define CTL_DDL_LOCK_SQL "SELECT pg_advisory_xact_lock(28266710541855595)"

/* The freeze rows in a domain's target (docs/status.md "Freeze position"). */
extern const char ctl_freeze_ddl[];

/*
 * Freezes (freeze 1) or unfreezes (0) one source: the triggers and position in its file,
 * then the _cdc_freeze row in its domain's target. Prints the result line on out, the
 * error (prefixed by prog) on stderr. Returns 0 or -1. conf, src and out are borrowed.
 */
int ctl_freeze_source(const char *prog, const cdc_config_t *conf, const cdc_source_t *src,
                      int freeze, FILE *out);

/* Subcommands. */
int ctl_topics_main(int argc, char **argv);
int ctl_freeze_main(int argc, char **argv); /* argv[0] "freeze" or "unfreeze" */
int ctl_replay_main(int argc, char **argv);
int ctl_dlq_main(int argc, char **argv);
int ctl_cutover_main(int argc, char **argv);
int ctl_resnapshot_main(int argc, char **argv);

#endif

/* ---- Kafka offsets (ctl_offsets.c) ------------------------------------------------- */

/* A consumer that joins no group (assign only, never commits) to read single messages. */
typedef struct ctl_reader_s ctl_reader_t;

/* Returns NULL with the reason in errstr. Caller frees with ctl_reader_destroy(). */
ctl_reader_t *ctl_reader_new(const cdc_config_t *conf, char *errstr, size_t errstr_size);
void ctl_reader_destroy(ctl_reader_t *r);

/* Low and high watermarks of a partition; 0 or -1 with the reason in errstr. */
int ctl_watermarks(ctl_reader_t *r, const char *topic, int32_t partition, int64_t *lo, int64_t *hi,
                   char *errstr, size_t errstr_size);

/*
 * Reads the first message at or after offset and before end: its offset and timestamp (ms).
 * Returns 0, 1 when there is none before end, -1 with the reason in errstr.
 */
int ctl_reader_at(ctl_reader_t *r, const char *topic, int32_t partition, int64_t offset,
                  int64_t end, int64_t *msg_offset, int64_t *ts_ms, char *errstr,
                  size_t errstr_size);

/* Like ctl_reader_at, returning the message itself (caller frees with
 * rd_kafka_message_destroy). */
int ctl_reader_message(ctl_reader_t *r, const char *topic, int32_t partition, int64_t offset,
                       int64_t end, rd_kafka_message_t **out, char *errstr, size_t errstr_size);

/*
 * The first offset in [lo, hi) whose record timestamp is >= t_ms (hi when none): the
 * broker's offsets-for-times (ListOffsets) first; where that is unsupported or answers -1
 * (the devbroker), a binary search reading single records' timestamps, which assumes
 * timestamps do not decrease along the partition (one producer's CreateTime). *searched
 * says which way was used. Returns 0 or -1 with the reason in errstr.
 */
int ctl_offset_for_time(ctl_reader_t *r, const char *topic, int32_t partition, int64_t lo,
                        int64_t hi, int64_t t_ms, int64_t *out, int *searched, char *errstr,
                        size_t errstr_size);

/* ---- dead letters (ctl_dlq.c, ctl_redrive.c) ---------------------------------------- */

/*
 * Copies the producer's dead letters (stage "producer" on <prefix>.<domain>.dlq, which
 * only the DLQ topic carries) into the target's _cdc_dead_letters, once each (origin =
 * the DLQ record's topic, partition, offset), then marks resolved every open dead letter
 * whose key a newer position has been applied to (parity outbox or tombstone). Returns the
 * number of dead letters imported, or -1 with the reason in errstr.
 */
long ctl_dlq_sync(const cdc_config_t *conf, const char *domain, PGconn *conn, char *errstr,
                  size_t errstr_size);

/*
 * Re-drives dead letter id: re-reads its key's current row at the source by logging a
 * change-log entry for the key in the source file (the producer then sends the current
 * row image, or a delete when the row is gone). Prints what it did on stdout. Returns 0,
 * or -1 with the reason in errstr.
 */
int ctl_redrive(const cdc_config_t *conf, const char *domain, PGconn *conn, long id, char *errstr,
                size_t errstr_size);
