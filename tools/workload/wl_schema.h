/*
 * wl_schema: what cdc-workload knows about the tables of one SQLite file, learnt only
 * by introspection (sqlite_schema, PRAGMA table_list / table_xinfo / index_list /
 * foreign_key_list) so the workload never depends on one fixture's exact schema.
 *
 * Besides columns, types and keys it reads a few hints out of the CREATE TABLE text
 * (CHECK (c IN (...)), c BETWEEN a AND b, c >= n, length(c) <= n) so generated values
 * usually pass CHECK constraints on the first try; anything it cannot read is handled
 * by retrying with another value when SQLite reports SQLITE_CONSTRAINT.
 */
#ifndef WL_SCHEMA_H
#define WL_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

/* How values for a column are generated, from its declared type (see wl_schema.c). */
typedef enum {
    CDC_WL_KIND_INTEGER,
    CDC_WL_KIND_BOOLEAN,
    CDC_WL_KIND_REAL,
    CDC_WL_KIND_DECIMAL, /* DECIMAL(p,s) / NUMERIC(p,s) */
    CDC_WL_KIND_NUMERIC, /* NUMERIC / DECIMAL without (p,s) */
    CDC_WL_KIND_TEXT,
    CDC_WL_KIND_DATETIME,
    CDC_WL_KIND_DATE,
    CDC_WL_KIND_TIME,
    CDC_WL_KIND_JSON,
    CDC_WL_KIND_BLOB,
    CDC_WL_KIND_ANY, /* no declared type */
} cdc_wl_kind_t;

/* One literal of a CHECK (c IN (...)) list, kept as SQL text. */
typedef struct cdc_wl_literal_s {
    char *text;  /* unquoted value */
    int is_text; /* 1: string literal, 0: number */
} cdc_wl_literal_t;

typedef struct cdc_wl_column_s {
    char *name;
    char *qname; /* quoted identifier for SQL */
    char *decl_type;
    cdc_wl_kind_t kind;
    int precision, scale; /* DECIMAL(p,s); 0 when absent */
    int max_len;          /* VARCHAR(n)/CHAR(n) or a CHECK length(c) <= n; 0 = unbounded */
    int not_null;
    int pk;       /* 1-based ordinal in the primary key, 0 if not a key column */
    int unique;   /* covered alone by a UNIQUE index (not the primary key) */
    int money;    /* the name looks like an amount: keep exact cents */
    int writable; /* 0 for generated columns */
    int fk;       /* 1-based index into the table's fks, 0 if not a foreign key column */
    int fk_pos;   /* position of this column inside that foreign key */
    cdc_wl_literal_t *choices; /* from CHECK (c IN (...)); NULL if none */
    size_t n_choices;
    int has_min, has_max; /* numeric bounds from CHECK */
    double min, max;
} cdc_wl_column_t;

typedef struct cdc_wl_fk_s {
    char *parent;       /* parent table name */
    size_t n;           /* number of columns */
    char **parent_cols; /* parent column names (NULL entries: the parent's key) */
    int *child_cols;    /* indexes into the child table's columns */
} cdc_wl_fk_t;

typedef struct cdc_wl_table_s {
    char *name;
    char *qname;
    int without_rowid;
    int rowid_alias; /* index of the INTEGER PRIMARY KEY column, -1 if none */
    int selected;    /* 1 if the workload writes to it (--tables filter) */
    cdc_wl_column_t *cols;
    size_t n_cols;
    int *pk_cols; /* column indexes in key order */
    size_t n_pk;
    cdc_wl_fk_t *fks;
    size_t n_fks;
    long long cached_count; /* WITHOUT ROWID row picking: count refreshed now and then */
    int count_age;
    int logged_frozen; /* "rejected" is logged once per table */
    int logged_giveup;
} cdc_wl_table_t;

typedef struct cdc_wl_schema_s {
    cdc_wl_table_t *tables; /* sorted by name */
    size_t n_tables;
} cdc_wl_schema_t;

/*
 * Reads every user table of db's main schema: skips sqlite_* tables, tables whose name
 * starts with "_cdc_", views, virtual tables and their shadow tables. A table is
 * `selected` when filter is NULL or names it (comma-separated list of table names).
 * Returns 0, or -1 with a message naming the file (path) and table in errstr. The
 * schema is filled in place; release it with cdc_wl_schema_clear().
 */
int cdc_wl_schema_load(sqlite3 *db, const char *path, const char *filter, cdc_wl_schema_t *out,
                       char *errstr, size_t errstr_size);

/* Frees everything inside schema (not the struct); clearing an empty schema is a no-op. */
void cdc_wl_schema_clear(cdc_wl_schema_t *schema);

/* The table called name, or NULL. Borrowed from schema. */
cdc_wl_table_t *cdc_wl_schema_find(cdc_wl_schema_t *schema, const char *name);

/* Maps a declared type (any case, may be "") to a kind and its parameters; the rules are
 * listed in docs/workload.md. */
void cdc_wl_schema_classify(const char *decl_type, cdc_wl_kind_t *kind, int *precision, int *scale,
                            int *max_len);

/* "name" with embedded quotes doubled; caller frees with free(). */
char *cdc_wl_quote_ident(const char *name);

#endif
