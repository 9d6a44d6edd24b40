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
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc_buf.h"
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
    int auto_evolve;  /* the domain's auto_evolve: add columns the target lacks */
    char *refused;    /* the target cannot take this schema (columns missing while auto_evolve
                         is off, or a changed type it cannot hold): why its records are dead
                         letters (NULL: usable) */
    int64_t refused_checked_ms; /* monotonic ms when the target was last checked for it */
    char *dropped;              /* target columns earlier schemas had and this one lacks ("a", "b"),
                                   kept in the target; NULL: none */
    size_t ndropped;            /* how many */
    int judged;                 /* changes logged once (a refused table is re-checked) */
    int dropped_counted;        /* the worker counted ndropped in its metrics */
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
 * verifies the existing one (its primary key must be the source key, or t->unique_key
 * must name a unique constraint or index over exactly the source key, which then sets
 * t->conflict; _cdc_ columns are added), then reads the actual column types into
 * t->cast_type. Columns of the schema that the existing table lacks are added when
 * t->auto_evolve is set; otherwise the call still succeeds but sets t->refused to a reason
 * naming the table, the missing columns with their types and auto-evolve being off (the
 * caller dead-letters the schema's records); a later call with the columns present clears
 * it. The same holds for a column whose type changed since the schema the target last
 * accepted and that the target's column cannot take (cdc_sink_schema_type_compat()), and
 * columns earlier schemas had that t lacks are logged and set in t->dropped. An accepted t
 * is recorded in the target's column history (_cdc_tables.source_columns).
 */
cdc_sink_pg_class_t cdc_sink_schema_table_setup(PGconn *conn, const char *domain,
                                                cdc_sink_table_t *t, char *errstr,
                                                size_t errstr_size);

/* The PostgreSQL type the sink creates for a column type ("numeric(14,2)", ...). */
void cdc_sink_schema_pg_type(const cdc_col_type_t *t, char *out, size_t out_size);

/* How a target column of type target_type takes the values of a schema column the sink maps
 * to new_type (both as format_type() or the sink spells them; docs/schema-registry.md). */
typedef enum {
    CDC_SINK_TYPE_OK = 0,           /* equal, or a widening the cast changes no value in */
    CDC_SINK_TYPE_NARROWER = 1,     /* same kind, smaller bounds: PostgreSQL refuses a value that
                                       does not fit (a dead letter of that row), changes none */
    CDC_SINK_TYPE_INCOMPATIBLE = 2, /* the cast can change a value without an error (rounding,
                                       re-spelling, parsing text) or another kind of value */
    CDC_SINK_TYPE_UNJUDGED = 3,     /* a type the sink never creates (uuid, enum, domain...) */
} cdc_sink_type_compat_t;

/* The verdict for new_type into target_type; *why (may be NULL) gets a static phrase saying
 * what goes wrong when the verdict is not OK. */
cdc_sink_type_compat_t cdc_sink_schema_type_compat(const char *new_type, const char *target_type,
                                                   const char **why);

/*
 * Inside cdc_sink_schema_table_setup() of an existing table (cols: the target's attname,
 * format_type rows): compares t's columns with the column history in _cdc_tables. Appends to
 * changed each column whose type differs from the history's and that the target's type
 * cannot take (CDC_SINK_TYPE_INCOMPATIBLE), and the ALTER COLUMN clause that fixes it to
 * alter; sets t->dropped / t->ndropped to the history's columns the target has and t lacks,
 * logging a warning when they change.
 */
cdc_sink_pg_class_t cdc_sink_schema_evolve_judge(PGconn *conn, cdc_sink_table_t *t, PGresult *cols,
                                                 cdc_buf_t *changed, cdc_buf_t *alter, char *errstr,
                                                 size_t errstr_size);

/* Sets t->refused (logged as a warning when log is set) to the refusal of a schema the
 * existing target cannot take: columns it lacks while auto-evolve is off (missing, "a text,
 * b bigint"), changed types it cannot hold (changed, as the judge wrote them) fixed by the
 * ALTER COLUMN clauses alter; empty strings for none. */
void cdc_sink_schema_evolve_refuse(cdc_sink_table_t *t, const char *domain, const char *missing,
                                   const char *changed, const char *alter, int log);

/* Records t's columns and the types it maps them to in the history of its target (once the
 * target accepted t). */
cdc_sink_pg_class_t cdc_sink_schema_evolve_save(PGconn *conn, const cdc_sink_table_t *t,
                                                char *errstr, size_t errstr_size);

#endif
