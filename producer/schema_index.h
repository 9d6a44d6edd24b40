/*
 * schema_index: the producer's record of which envelope text each fingerprint stands for
 * (docs/records.md "Fingerprint collisions").
 *
 * Without a schema registry a record names its schema only by the CRC-64-AVRO fingerprint
 * of the schema's Parsing Canonical Form, which drops logicalType and our cdc.* attributes:
 * two texts of one table that differ only there (DECIMAL(10,2) -> DECIMAL(12,4),
 * VARCHAR(100) -> VARCHAR(200), INTEGER -> DATETIME) share a fingerprint, and a sink,
 * which keeps the first text it read for a fingerprint, would decode the second table
 * version with the first one's types. The index remembers, across restarts, one text hash
 * per fingerprint in <state_dir>/schema-fingerprints (one line "<fp hex> <xxh64 hex>"
 * per text, appended under an exclusive flock and fsync'd), so a collision is seen even
 * when the earlier text was published by an earlier run.
 */
#ifndef CDC_SCHEMA_INDEX_H
#define CDC_SCHEMA_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* Outcome of a claim. */
typedef enum {
    CDC_SCHEMA_INDEX_NEW = 0,       /* fingerprint unknown: now recorded for text */
    CDC_SCHEMA_INDEX_SAME = 1,      /* fingerprint recorded for this very text */
    CDC_SCHEMA_INDEX_COLLISION = 2, /* fingerprint recorded for another text */
    CDC_SCHEMA_INDEX_ERROR = -1,    /* the index file could not be read or written */
} cdc_schema_index_result_t;

/*
 * Claims fingerprint fp for text in the index under state_dir (created if needed). ERROR
 * carries the file and the system's reason in errstr. Nothing is kept in memory between
 * calls: the producer claims only when it builds a table's codec.
 */
cdc_schema_index_result_t cdc_schema_index_claim(const char *state_dir, uint64_t fp,
                                                 const char *text, char *errstr,
                                                 size_t errstr_size);

/* The file name of the index under state_dir. Caller frees. */
char *cdc_schema_index_path(const char *state_dir);

#endif
