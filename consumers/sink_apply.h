/*
 * sink_apply: the PostgreSQL side of cdc-sink (docs: /work/briefs/sink_design.md, DESIGN.md
 * invariants 5-8). The Kafka side decodes records and fills a batch per partition; this
 * module applies the batch in ONE PostgreSQL transaction that also moves the partition's
 * stored offset (fencing), guarded so that a row only ever moves to a newer position.
 *
 * Usage (single-threaded, one db handle per worker):
 *
 *   cdc_sink_db_t *db;  cdc_sink_db_open(conf, "crm", &db, errstr, sizeof errstr);
 *   cdc_sink_db_claim_partition(db, "cdc.crm", 3, &next, ...);      // on assign
 *   const cdc_sink_table_t *t;                                        // per schema seen
 *   cdc_sink_db_table(db, "epic7", "crm_contacts", cols, ncols, &t, ...);
 *   cdc_sink_batch_t *b = cdc_sink_batch_new();
 *   cdc_sink_batch_add_row(b, t, offset, 'u', pos, key, key_len, key_vals, after, hash, 8);
 *   ...
 *   st = cdc_sink_apply(db, b, "cdc.crm", 3, first_offset, end_offset, dl_cb, opaque,
 *                       &stats, errstr, sizeof errstr);
 *   cdc_sink_batch_reset(b);
 *
 * Memory: every add_* call COPIES what it is given (value structs and the bytes they point
 * to, key bytes, hashes, strings), so the caller may reuse its decode buffers and release
 * Kafka messages as soon as the call returns. The dead-letter callback is given the
 * partition and offset of the record; if the caller wants the original record value in
 * the dead letter's payload it must keep that message until cdc_sink_apply returns.
 *
 * Target tables: "<table_prefix><table>" (table_prefix of the source in the config), in
 * the connection's default schema; metadata tables _cdc_* live there too and are keyed by
 * domain (crm and f500 share a database).
 */
#ifndef CDC_SINK_APPLY_H
#define CDC_SINK_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_avro_value.h"
#include "cdc_config.h"
#include "cdc_dlq.h"
#include "cdc_pos.h"
#include "cdc_types.h"

typedef enum {
    CDC_SINK_OK = 0,
    CDC_SINK_FENCED = 1,    /* another worker moved the stored offset: batch rolled back,
                               re-read the assignment (claim the partition again) */
    CDC_SINK_RETRIABLE = 2, /* connection lost, serialization failure, deadlock, shutdown,
                               or the dead-letter callback failed: nothing was committed;
                               back off and call again with the same batch (the next call
                               reconnects by itself) */
    CDC_SINK_FATAL = 3,     /* configuration or schema problem (a name collision, a
                               pre-created table whose key is not the source key, the
                               domain is cut over, a statement we built was refused):
                               nothing was committed; the worker exits 1 with errstr */
} cdc_sink_status_t;

/* Stable name of a status ("ok", "fenced", "retriable", "fatal"). */
const char *cdc_sink_status_name(cdc_sink_status_t st);

typedef struct cdc_sink_db_s cdc_sink_db_t;
typedef struct cdc_sink_table_s cdc_sink_table_t;
typedef struct cdc_sink_batch_s cdc_sink_batch_t;

/* ---- database handle ---- */

/*
 * Connects to the target of domain (its libpq conninfo in conf), pins the session
 * (cdc_pgtext_pin_session), creates the metadata tables idempotently under an advisory
 * lock, and refuses (FATAL) a domain listed in _cdc_cutover. conf is borrowed and must
 * outlive the handle. On OK sets *out (caller frees with cdc_sink_db_close()); otherwise
 * *out is NULL and errstr says why (RETRIABLE: the server could not be reached).
 */
cdc_sink_status_t cdc_sink_db_open(const cdc_config_t *conf, const char *domain,
                                   cdc_sink_db_t **out, char *errstr, size_t errstr_size);

/* Closes the connection and frees the handle and every table descriptor; NULL is a no-op. */
void cdc_sink_db_close(cdc_sink_db_t *db);

/*
 * Reads the stored next offset of (domain, topic, partition) into *next_offset_out,
 * inserting 0 when none is stored (invariant 6). Reconnects first if the connection was
 * lost. Returns OK, RETRIABLE or FATAL.
 */
cdc_sink_status_t cdc_sink_db_claim_partition(cdc_sink_db_t *db, const char *topic,
                                              int32_t partition, int64_t *next_offset_out,
                                              char *errstr, size_t errstr_size);

/*
 * The descriptor of the target table of (source, table) for a row schema's columns
 * (cdc_avro_schema_parse_columns; cols is copied). The first call for a column set
 * creates the target table when absent (types per docs/type-mapping.md, the source key as
 * PRIMARY KEY, plus _cdc_source, _cdc_epoch, _cdc_pos, _cdc_synced_at) or verifies a
 * pre-created one (its primary key must be the source key; missing columns are added),
 * and registers the name in _cdc_tables: a target name used by another (domain, source,
 * table), or two names equal after PostgreSQL's 63-byte truncation, is FATAL naming both.
 * Later calls with the same columns return the cached descriptor without a round trip.
 * *out is borrowed: valid until cdc_sink_db_close(). Returns OK, RETRIABLE or FATAL.
 */
cdc_sink_status_t cdc_sink_db_table(cdc_sink_db_t *db, const char *source, const char *table,
                                    const cdc_column_t *cols, size_t ncols,
                                    const cdc_sink_table_t **out, char *errstr, size_t errstr_size);

/* The target table name as PostgreSQL stores it (truncated to 63 bytes if longer);
 * valid while the db handle lives. */
const char *cdc_sink_table_target(const cdc_sink_table_t *t);

/* ---- batch (one partition) ---- */

/* A new, empty batch. Caller frees with cdc_sink_batch_destroy(). */
cdc_sink_batch_t *cdc_sink_batch_new(void);

/* Empties the batch (keeps its memory for reuse). */
void cdc_sink_batch_reset(cdc_sink_batch_t *b);

/* Empties the batch and frees its entry array too (~160 bytes per entry it held): for
 * a worker with many partitions, whose arrays would otherwise all stay at their largest. */
void cdc_sink_batch_release(cdc_sink_batch_t *b);

/* Frees the batch; NULL is a no-op. */
void cdc_sink_batch_destroy(cdc_sink_batch_t *b);

/* Number of entries (rows, markers, heartbeats, dead letters) added since the last reset. */
size_t cdc_sink_batch_count(const cdc_sink_batch_t *b);

/* Bytes the entries hold (their copies and descriptors): what a memory budget counts. */
size_t cdc_sink_batch_bytes(const cdc_sink_batch_t *b);

/*
 * Adds one row change read at Kafka offset `offset`:
 *   t         the table descriptor of the record's schema (cdc_sink_db_table)
 *   op        'c', 'u', 'r' (upserts) or 'd' (delete)
 *   pos       the envelope's (epoch, position)
 *   key       canonical key bytes (the Kafka key without framing), key_len > 0
 *   key_vals  the key columns in key order (pk_index 1..n), as cdc_avro_decode_key fills
 *             them; required for deletes (no row image), may be NULL for upserts (taken
 *             from after)
 *   after     the row, one value per column of t (cdc_avro_decode_envelope's `after`);
 *             NULL exactly for 'd'
 *   row_hash  the envelope's row_hash (NULL/0 when null)
 * Everything is copied.
 */
void cdc_sink_batch_add_row(cdc_sink_batch_t *b, const cdc_sink_table_t *t, int64_t offset, char op,
                            cdc_pos_t pos, const void *key, size_t key_len,
                            const cdc_decoded_value_t *key_vals, const cdc_decoded_value_t *after,
                            const void *row_hash, size_t row_hash_len);

/*
 * Adds a snapshot end marker (control op 'm'): source, SQLite table, epoch, H0. Applying
 * it records the mark for this partition; once marks of (source, table, epoch, H0) exist
 * for every partition of the domain (the config's partition count), rows of the target
 * table older than (epoch, H0) and older tombstones are deleted, once.
 */
void cdc_sink_batch_add_marker(cdc_sink_batch_t *b, int64_t offset, cdc_avro_str_t source,
                               cdc_avro_str_t table, int64_t epoch, int64_t start_position);

/* Adds a heartbeat (control op 'h'); applying upserts _cdc_heartbeats for (domain, source,
 * partition of the batch) with the newest heartbeat of the batch. */
void cdc_sink_batch_add_heartbeat(cdc_sink_batch_t *b, int64_t offset, cdc_avro_str_t source,
                                  int64_t epoch, int64_t acked_position, int64_t backlog_entries,
                                  int64_t oldest_unacked_age_ms, int64_t producer_ts_ms);

/*
 * Adds the bookkeeping of a record the Kafka side could not decode and has ALREADY
 * delivered to the dead-letter topic: one _cdc_dead_letters row (and a parity outbox row
 * with status dead_letter when source, table and key are known). source/table may be
 * empty ({NULL,0}), key NULL, pos NULL when unknown; reason is required.
 */
void cdc_sink_batch_add_dead_letter(cdc_sink_batch_t *b, int64_t offset, cdc_avro_str_t source,
                                    cdc_avro_str_t table, const void *key, size_t key_len,
                                    const cdc_pos_t *pos, const char *reason);

/* ---- apply ---- */

/*
 * A record PostgreSQL refused permanently (22xxx data exception, 23xxx constraint
 * violation, invalid UTF-8, ...), isolated by bisection. info is ready for
 * cdc_sink_dlq_send(): stage "sink", source, SQLite table, key_json, column (NULL when
 * PostgreSQL does not say which), reason (PostgreSQL's message and SQLSTATE), position,
 * origin topic/partition/offset; payload NULL (copy info and set it if the message was
 * kept). key/key_len: the canonical key bytes. Everything is borrowed for the call.
 */
typedef struct cdc_sink_dead_letter_s {
    cdc_dlq_info_t info;
    const unsigned char *key;
    size_t key_len;
    const char *target_table;
} cdc_sink_dead_letter_t;

/* Produces the dead letter and waits for delivery; returns 0 once delivered, non-zero
 * otherwise (the batch is then rolled back and cdc_sink_apply returns RETRIABLE). It is
 * called while the batch transaction is open, before it commits. */
typedef int (*cdc_sink_dead_letter_cb)(const cdc_sink_dead_letter_t *dl, void *opaque);

typedef struct cdc_sink_stats_s {
    uint64_t applied;      /* upserts written (match + mismatch) */
    uint64_t superseded;   /* versions the guard or the in-batch reduction skipped */
    uint64_t deleted;      /* deletes applied (row removed or tombstone moved forward) */
    uint64_t dead_letters; /* records refused by PostgreSQL + bookkeeping entries */
    uint64_t mismatches;   /* upserts whose stored row hash differs from row_hash */
    uint64_t markers;      /* snapshot end markers recorded */
    uint64_t heartbeats;   /* heartbeats recorded */
    uint64_t fenced;       /* 1 when the batch was fenced */
    /* Not a count: the committed transaction's txid_current() when it wrote parity outbox
     * rows (their batch_tx, sink_outbox.h), 0 when it wrote none. */
    int64_t outbox_tx;
} cdc_sink_stats_t;

/*
 * Applies batch b of (topic, partition), whose records are the offsets
 * [first_offset, end_offset), in one transaction:
 *   1. UPDATE _cdc_offsets SET next_offset = end_offset WHERE ... next_offset =
 *      first_offset; no row: ROLLBACK, FENCED (stats->fenced = 1);
 *   2. newest version per (target table, key) (position, then offset); older ones are
 *      superseded;
 *   3. per table, staged with COPY: guarded deletes + tombstones, guarded upserts with
 *      RETURNING → parity match/mismatch, skipped versions superseded; a permanent error
 *      bisects the table's rows under SAVEPOINTs, the refused record goes to dl_cb (then
 *      _cdc_dead_letters and the outbox) and the rest proceeds;
 *   4. markers, heartbeats, dead-letter bookkeeping, parity outbox rows;
 *   5. COMMIT.
 * The batch is only read (reset it afterwards). stats (may be NULL) is overwritten.
 * Reconnects first if the connection was lost. Returns OK, FENCED, RETRIABLE or FATAL;
 * anything but OK committed nothing.
 */
cdc_sink_status_t cdc_sink_apply(cdc_sink_db_t *db, const cdc_sink_batch_t *b, const char *topic,
                                 int32_t partition, int64_t first_offset, int64_t end_offset,
                                 cdc_sink_dead_letter_cb dl_cb, void *dl_opaque,
                                 cdc_sink_stats_t *stats, char *errstr, size_t errstr_size);

#endif
