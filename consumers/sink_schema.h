/*
 * sink_schema: the target database's shape. Creates the metadata tables (_cdc_*,
 * idempotently, under an advisory lock), and creates or verifies the target table of a
 * (source, table) from the columns of its row schema (docs/type-mapping.md), registering
 * its name in _cdc_tables so that one target table is never written by two sources and two
 * names that PostgreSQL's 63-byte truncation makes equal are refused, naming both.
 *
 * Internal to the sink (sink_apply.c, sink_db.c); the public API is sink_apply.h.
 */
#ifndef CDC_SINK_SCHEMA_H
#define CDC_SINK_SCHEMA_H

#include <stddef.h>

#include <libpq-fe.h>

#include "cdc_config.h"
#include "cdc_types.h"
#include "sink_apply.h"
#include "sink_pg.h"

/* The columns every target table gets besides the source's. */
#define CDC_SINK_COL_SOURCE    "_cdc_source"
#define CDC_SINK_COL_EPOCH     "_cdc_epoch"
#define CDC_SINK_COL_POS       "_cdc_pos"
#define CDC_SINK_COL_SYNCED_AT "_cdc_synced_at"

/* A target table as one schema (column set) of a (source, table) sees it. */
struct cdc_sink_table_s {
    unsigned id;        /* unique within the db handle: names the staging table */
    char *source;       /* source name (config) */
    char *table;        /* SQLite table name */
    char *target_full;  /* table_prefix + table, before truncation */
    char *target;       /* as PostgreSQL stores it (<= 63 bytes) */
    char *target_q;     /* quoted identifier */
    cdc_column_t *cols; /* copy of the schema's columns */
    size_t ncols;
    char **col_q;     /* quoted target column name per column */
    char **cast_type; /* target type to CAST staged text to; NULL: assign the text as is */
    size_t nkeys;
    size_t *key_cols; /* index into cols of key part k (pk_index k + 1) */
    char *unique_key; /* config target_unique_keys entry of this table; NULL: none */
    char *conflict;   /* upsert's ON CONFLICT target ("ON CONSTRAINT x"); NULL: key columns */
    struct cdc_sink_table_s *next;
};

/* Creates the metadata tables if absent (one transaction, advisory lock). */
cdc_sink_pg_class_t cdc_sink_schema_metadata(PGconn *conn, char *errstr, size_t errstr_size);

/*
 * A new descriptor of (source, table) with a copy of cols, the target name from the
 * source's table_prefix, and the checks that need no database: a source not in the
 * config (or of another domain), no key column, a column called like a _cdc_ column,
 * two column names equal after truncation. Returns NULL with the reason in errstr.
 * Caller frees with cdc_sink_schema_table_free().
 */
cdc_sink_table_t *cdc_sink_schema_table_new(const cdc_config_t *conf, const char *domain,
                                            const char *source, const char *table,
                                            const cdc_column_t *cols, size_t ncols, char *errstr,
                                            size_t errstr_size);

/* Frees a descriptor (not its successors); NULL is a no-op. */
void cdc_sink_schema_table_free(cdc_sink_table_t *t);

/* 1 when t describes (source, table) with exactly these columns (names and types). */
int cdc_sink_schema_table_matches(const cdc_sink_table_t *t, const char *source, const char *table,
                                  const cdc_column_t *cols, size_t ncols);

/*
 * In one transaction: registers t's target name in _cdc_tables (FATAL when another
 * (domain, source, table) or another full name holds it), creates the table when absent or
 * verifies the pre-created one (its primary key must be the source key, or t->unique_key
 * must name a unique constraint or index over exactly the source key, which then sets
 * t->conflict; missing columns and _cdc_ columns are added), then reads the actual column
 * types into t->cast_type.
 */
cdc_sink_pg_class_t cdc_sink_schema_table_setup(PGconn *conn, const char *domain,
                                                cdc_sink_table_t *t, char *errstr,
                                                size_t errstr_size);

/* The PostgreSQL type the sink creates for a column type ("numeric(14,2)", ...). */
void cdc_sink_schema_pg_type(const cdc_col_type_t *t, char *out, size_t out_size);

#endif
