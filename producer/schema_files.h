/*
 * schema_files: the table codecs of a source as a normal run builds them, and
 * `cdc-producer --write-schemas DIR`, which writes their schemas as .avsc files without
 * Kafka and without installing capture (docs/producer.md "Schema files",
 * schemas/README.md).
 *
 * Files written under DIR, each the exact JSON text the producer publishes to
 * <prefix>.schemas, byte for byte (no trailing newline), so the CRC-64-AVRO of the
 * file's Parsing Canonical Form is the fingerprint in the records' wire header:
 *   DIR/<source>/<table>.key.avsc       the key record
 *   DIR/<source>/<table>.envelope.avsc  the envelope (row record inside)
 *   DIR/cdc.Control.avsc, DIR/cdc.ControlKey.avsc  heartbeats and snapshot end markers
 * Source and table names outside [A-Za-z0-9_.-] (and a leading '.') become %XX.
 */
#ifndef CDC_SCHEMA_FILES_H
#define CDC_SCHEMA_FILES_H

#include "cdc_config.h"
#include "record.h"
#include "table_info.h"

#include <sqlite3.h>
#include <stddef.h>

/* The key columns the source's `keys:` names for table (ASCII case ignored), or NULL. */
const cdc_strlist_t *cdc_schema_config_keys(const cdc_source_t *cs, const char *table);

/*
 * Builds the codec of table ti of source cs exactly as the producer sends it: ti's
 * columns with their key positions, plus one extra key column carrying the rowid (under
 * ti's rowid alias) for rowid-keyed tables, and the source's `columns:` overrides.
 * *n_cols receives the codec's column count. Returns NULL with the reason in errstr (a
 * config problem: bad override, colliding names). ti is borrowed; caller frees the codec
 * with cdc_table_codec_destroy().
 */
cdc_table_codec_t *cdc_schema_codec_new(const cdc_source_t *cs, const cdc_table_info_t *ti,
                                        size_t *n_cols, char *errstr, size_t errstr_size);

/*
 * cdc_schema_codec_new, then the fingerprint check of a run (schema_index.h): the
 * envelope's fingerprint is claimed in conf's producer.state_dir; when an earlier, different
 * text holds it (a change only logicalType or cdc.* attributes show) and no schema registry
 * is configured, the row record is renamed T_v<8 hex of the text's hash>
 * (cdc_table_codec_rename_row) so the text gets a fingerprint of its own, which is claimed
 * in turn. With a registry the texts keep their names (records carry registry ids, and a
 * renamed nested record would make the new version incompatible). Returns NULL with the
 * reason in errstr (a config problem, or the index file unusable: *index_error set).
 * Caller frees with cdc_table_codec_destroy().
 */
cdc_table_codec_t *cdc_schema_codec_new_unique(const cdc_config_t *conf, const cdc_source_t *cs,
                                               const cdc_table_info_t *ti, size_t *n_cols,
                                               int *index_error, char *errstr, size_t errstr_size);

/*
 * --write-schemas: for source cs, opens its file read-only (never installing capture),
 * finds the tables a run would capture (the same plan and refusals as install), and writes
 * their .avsc files under dir/<source>/ (created if needed; existing files replaced).
 * Returns 0, 1 (the file: missing, not a database, unreadable, a file not writable) or 2
 * (config: a listed table missing, a virtual table, bad overrides, colliding names), with
 * the reason naming the source, file and table in errstr. Counts files in *written.
 */
int cdc_schema_files_write_source(const cdc_source_t *cs, const char *dir, size_t *written,
                                  char *errstr, size_t errstr_size);

/* Writes dir/cdc.Control.avsc and dir/cdc.ControlKey.avsc. Returns 0 or 1 (errstr). */
int cdc_schema_files_write_control(const char *dir, char *errstr, size_t errstr_size);

#endif
