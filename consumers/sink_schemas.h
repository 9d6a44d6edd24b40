/*
 * sink_schemas: the sink's cache of <prefix>.schemas (DESIGN.md "Records", Schemas).
 *
 * The producer publishes every schema's exact JSON text to <prefix>.schemas (1 partition)
 * before the first record that uses it, keyed by its fingerprint (docs/publisher.md).
 * This module reads that topic with its own group-less consumer (rd_kafka_assign, never a
 * subscription, never a commit) from the beginning up to the high watermark observed when
 * a load starts, and keeps fingerprint -> text -> parsed form. The fingerprint is
 * recomputed from the text (cdc_avro_fingerprint), so a wrong key on the topic cannot
 * poison the cache. A record whose fingerprint is unknown triggers one more load from
 * where the previous one stopped (cdc_sink_schemas_lookup); still unknown, the caller
 * dead-letters the record.
 *
 * Kinds: the envelope of a table (its columns parsed with cdc_avro_schema_parse_columns,
 * which also serve to decode the table's key), the key of a table, the control record and
 * the control key (recognized by the fingerprints of cdc_avro_schema_control_json() and
 * cdc_avro_schema_control_key_json()); anything else (a row record alone, a schema of a
 * future kind) is kept as OTHER and is not decodable by the sink.
 *
 * Confluent-framed records name their schema by a registry id instead: with
 * schema_registry.url set, cdc_sink_schemas_lookup_id() fetches it from the registry once
 * (the client caches by id) and keeps it under that id.
 */
#ifndef CDC_SINK_SCHEMAS_H
#define CDC_SINK_SCHEMAS_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_config.h"
#include "cdc_types.h"

typedef enum {
    CDC_SINK_SCHEMA_ENVELOPE = 0,
    CDC_SINK_SCHEMA_KEY = 1,
    CDC_SINK_SCHEMA_CONTROL = 2,
    CDC_SINK_SCHEMA_CONTROL_KEY = 3,
    CDC_SINK_SCHEMA_OTHER = 4,
} cdc_sink_schema_kind_t;

/* One cached schema. Everything is owned by the cache and lives as long as it does. */
typedef struct cdc_sink_schema_s {
    uint64_t fingerprint;
    cdc_sink_schema_kind_t kind;
    char *json;         /* the exact text from the topic */
    char *source;       /* ENVELOPE: "cdc.source" of the row record, else NULL */
    char *table;        /* ENVELOPE: "cdc.table" of the row record, else NULL */
    cdc_column_t *cols; /* ENVELOPE: the row's columns (pk_index set on key columns) */
    size_t ncols;
    size_t nkey; /* ENVELOPE: number of key columns */
} cdc_sink_schema_t;

typedef struct cdc_sink_schemas_s cdc_sink_schemas_t;

/*
 * Creates the cache and its consumer of <prefix>.schemas (nothing is read yet). The group
 * id given to librdkafka is "<prefix>.<domain>.sink.schemas" only because the tool's
 * consumer configuration needs one; it never joins a group or commits. conf is borrowed
 * and must outlive the cache. Returns NULL with the reason in errstr; caller frees with
 * cdc_sink_schemas_destroy().
 */
cdc_sink_schemas_t *cdc_sink_schemas_new(const cdc_config_t *conf, const char *domain, char *errstr,
                                         size_t errstr_size);

/* Closes the consumer and frees every schema; NULL is a no-op. */
void cdc_sink_schemas_destroy(cdc_sink_schemas_t *s);

/*
 * Reads <prefix>.schemas from where the previous load stopped (the beginning the first
 * time) up to the high watermark queried now, within timeout_ms. Records that are not a
 * schema (not JSON, not Avro) are logged and skipped: they can never match a record's
 * fingerprint. Returns the number of schemas added (>= 0), or -1 with the reason in
 * errstr (broker unreachable, the topic missing, timeout: all retriable for the caller).
 */
int cdc_sink_schemas_load(cdc_sink_schemas_t *s, int timeout_ms, char *errstr, size_t errstr_size);

/* The cached schema of fingerprint, or NULL. Never reads the topic. */
const cdc_sink_schema_t *cdc_sink_schemas_get(const cdc_sink_schemas_t *s, uint64_t fingerprint);

/*
 * The schema of fingerprint; when it is not cached, loads the topic once more and looks
 * again (one watermark query when nothing new was published: the producer confirms a
 * schema's delivery before it sends a record using it, so a schema that is not below
 * the high watermark now never will be for this record). Returns 1 and sets *out when found, 0 when
 * still unknown, -1 when the reload failed (reason in errstr; retriable).
 */
int cdc_sink_schemas_lookup(cdc_sink_schemas_t *s, uint64_t fingerprint, int timeout_ms,
                            const cdc_sink_schema_t **out, char *errstr, size_t errstr_size);

/*
 * The schema of a Confluent schema id (docs/schema-registry.md): from the id cache, else
 * fetched once from schema_registry.url (GET /schemas/ids/{id}) and parsed like a schema of
 * the topic, but kept under its id only (a text with the same fingerprint never stands in
 * for it). Returns 1 and sets *out; 0 when it cannot be had (no registry configured, an
 * unknown id, not a usable schema: a dead letter, reason in errstr); -1 when the registry
 * is unreachable (retriable, reason in errstr).
 */
int cdc_sink_schemas_lookup_id(cdc_sink_schemas_t *s, uint32_t id, const cdc_sink_schema_t **out,
                               char *errstr, size_t errstr_size);

/* Number of cached schemas. */
size_t cdc_sink_schemas_count(const cdc_sink_schemas_t *s);

/*
 * Adds a schema text directly (as a load does for each record); for tests and for
 * schemas known without the topic. Returns the kind added, or -1 with the reason in errstr
 * when the text is not an Avro schema or an envelope's columns cannot be parsed.
 */
int cdc_sink_schemas_add(cdc_sink_schemas_t *s, const char *json, size_t len, char *errstr,
                         size_t errstr_size);

#endif
