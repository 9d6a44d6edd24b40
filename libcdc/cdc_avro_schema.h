/*
 * cdc_avro_schema: the exact JSON text of every schema the pipeline writes (DESIGN.md
 * "Records"). The text built here is what travels on <prefix>.schemas and what the
 * fingerprint is computed over (via its Parsing Canonical Form, cdc_avro_canonical.h);
 * never re-serialize it with avro-c, which drops "default" and "logicalType".
 *
 * All JSON is compact (no whitespace) with a fixed key order, so the same table always
 * yields byte-identical text. Names: record names and namespaces are mangled with
 * cdc_names.h; the original SQLite names are kept in "cdc.name" properties and in the
 * string values of the key. Nothing below depends on avro-c.
 *
 * Layout (S = mangled source name, T = mangled table name, ns = "cdc.S"):
 *
 * Row record  ns.T  (the value of "after")
 *   {"type":"record","name":T,"namespace":ns,"cdc.source":"<source>","cdc.table":"<table>",
 *    "fields":[...]}   (cdc.source / cdc.table: the original names)
 *   one field per column, in column order, named column.avro_name:
 *     {"name":F,"type":X,"cdc.name":"<sqlite name>","cdc.decl":"<declared type>"}
 *   plus "cdc.pk":<1-based key position> on key columns. A nullable column (not NOT NULL
 *   and not a key column) has "type":["null",X] and "default":null (after "type").
 *   X per kind:
 *     LONG      "long"
 *     DOUBLE    "double"
 *     DECIMAL   {"type":"bytes","logicalType":"decimal","precision":p,"scale":s}
 *     NUMERIC   {"type":"string","cdc.type":"numeric"}   decimal text, exact
 *     BOOLEAN   "boolean"
 *     TIMESTAMP {"type":"long","logicalType":"timestamp-micros"}   UTC
 *     DATE      {"type":"int","logicalType":"date"}
 *     TEXT      "string", or {"type":"string","cdc.maxLength":n} for VARCHAR(n)
 *     JSON      {"type":"string","cdc.type":"json"}
 *     BLOB      "bytes"
 *
 * Key record  ns.T_key   (the Kafka record key of every row record)
 *   {"name":"source","type":"string"}    original source name (from the config)
 *   {"name":"table","type":"string"}     original SQLite table name
 *   {"name":"pk","type":record ns.T_pk}  the key columns in key order (pk_index 1..n),
 *                                        each with its X type, never a union with null
 *   The key columns live in a nested record so that a key column called "source" or
 *   "table" cannot collide with the two fixed fields. Avro binary of a record is the
 *   concatenation of its fields, so the nesting costs no byte: the key's binary is
 *   string(source) string(table) value(pk1) ... value(pkn).
 *   CANONICAL KEY BYTES (invariant 4): exactly that Avro binary, without any framing
 *   (no C3 01 / fingerprint, no Confluent id). The partition is
 *   cdc_murmur2_partition(canonical key bytes) whatever the wire framing is.
 *   Tables keyed by rowid (no declared key) have one key column named "rowid" (LONG).
 *
 * Envelope record  ns.T_envelope   (the Kafka record value of row changes)
 *   op         "string"  "c" insert, "u" update, "d" delete, "r" snapshot read
 *   after      ["null", ns.T]            null exactly when op = "d"
 *   source     record cdc.Source:
 *                name "string"           original source name
 *                table "string"          original SQLite table name
 *                epoch "long"            capture epoch
 *                position "long"         H: change-log high-water mark of the read
 *                snapshot "boolean"      true for op "r"
 *                stmt_time_us ["null","long"] default null
 *                                        statement time (unix microseconds, UTC) of the
 *                                        logged change; null for snapshot reads
 *   row_hash   ["null","bytes"]          the producer's hash of the source row as the
 *                                        row-hash module computes it; null for "d"
 *   ts_ms      "long"                    producer wall clock when the record was built
 *
 * Control record  cdc.Control   (heartbeats and snapshot end markers; one schema for
 * every source and table, so a consumer recognizes control records by its fingerprint)
 *   op         "string"  "h" heartbeat, "m" snapshot end marker
 *   source     "string"  original source name
 *   partition  "int"     the partition this record was produced to (explicitly)
 *   epoch      "long"
 *   ts_ms      "long"
 *   heartbeat  ["null", record cdc.Heartbeat] default null    set exactly when op = "h"
 *                acked_position "long"          highest position Kafka confirmed
 *                backlog_entries "long"         change-log rows not yet acknowledged
 *                oldest_unacked_age_ms "long"   age of the oldest of them (0 if none)
 *   snapshot_end ["null", record cdc.SnapshotEnd] default null  set exactly when op = "m"
 *                table "string"                 original SQLite table name
 *                start_position "long"          H0: position when the snapshot started
 *                rows "long"                    rows the snapshot sent (all partitions)
 * Control key  cdc.ControlKey: {"source":"string","partition":"int"}; control records
 * are produced to an explicit partition, not by murmur2.
 */
#ifndef CDC_AVRO_SCHEMA_H
#define CDC_AVRO_SCHEMA_H

#include <stddef.h>

#include "cdc_types.h"

/* Full names of the shared records (for consumers that dispatch on the record name). */
#define CDC_AVRO_SOURCE_RECORD      "cdc.Source"
#define CDC_AVRO_CONTROL_RECORD     "cdc.Control"
#define CDC_AVRO_CONTROL_KEY_RECORD "cdc.ControlKey"

/* Op codes of the envelope and of the control record. */
#define CDC_OP_INSERT       "c"
#define CDC_OP_UPDATE       "u"
#define CDC_OP_DELETE       "d"
#define CDC_OP_READ         "r"
#define CDC_OP_HEARTBEAT    "h"
#define CDC_OP_SNAPSHOT_END "m"

/*
 * The row record of a table (layout above). source and table are the original names;
 * cols[i].avro_name is used as the field name (cols[i].name mangled when avro_name is
 * NULL). Fails (NULL, reason in errstr) when two fields get the same Avro name, or a
 * name is not a valid Avro name. Caller frees the returned text with free().
 */
char *cdc_avro_schema_row_json(const char *source, const char *table, const cdc_column_t *cols,
                               size_t ncols, char *errstr, size_t errstr_size);

/* The key record of a table (layout above): fails when no column has pk_index > 0 or the
 * key positions are not exactly 1..n. Caller frees the returned text with free(). */
char *cdc_avro_schema_key_json(const char *source, const char *table, const cdc_column_t *cols,
                               size_t ncols, char *errstr, size_t errstr_size);

/* The envelope record of a table (layout above), embedding its row record. Caller frees
 * the returned text with free(). */
char *cdc_avro_schema_envelope_json(const char *source, const char *table, const cdc_column_t *cols,
                                    size_t ncols, char *errstr, size_t errstr_size);

/*
 * The same two texts with the row record named T + row_suffix (envelope and key names
 * unchanged; row_suffix NULL or "" is the plain text, else only [A-Za-z0-9_]). The
 * producer uses it when two texts of a table differ only where the Parsing Canonical Form
 * does not look (logicalType, cdc.*): the suffix gives the second its own fingerprint
 * (docs/records.md "Fingerprint collisions"). Caller frees the returned text with free().
 */
char *cdc_avro_schema_row_json_suffixed(const char *source, const char *table,
                                        const cdc_column_t *cols, size_t ncols,
                                        const char *row_suffix, char *errstr, size_t errstr_size);
char *cdc_avro_schema_envelope_json_suffixed(const char *source, const char *table,
                                             const cdc_column_t *cols, size_t ncols,
                                             const char *row_suffix, char *errstr,
                                             size_t errstr_size);

/* The control record schema and its key schema: static text, never freed. */
const char *cdc_avro_schema_control_json(void);
const char *cdc_avro_schema_control_key_json(void);

/*
 * Reads the columns back from a row schema text (or from an envelope schema text, using
 * its "after" record), restoring name, avro_name, decl_type, type, not_null and pk_index
 * from the field types and the cdc.* properties. This is how a sink that loaded a schema
 * from <prefix>.schemas learns the table's columns. On success returns 0 and sets
 * *cols_out (caller frees with cdc_avro_schema_columns_free()) and *ncols_out; on failure
 * returns -1 with the reason in errstr.
 */
int cdc_avro_schema_parse_columns(const char *json, cdc_column_t **cols_out, size_t *ncols_out,
                                  char *errstr, size_t errstr_size);

/* Frees an array returned by cdc_avro_schema_parse_columns() (NULL is a no-op). */
void cdc_avro_schema_columns_free(cdc_column_t *cols, size_t ncols);

#endif
