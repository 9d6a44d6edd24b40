/*
 * table_info: what the producer needs to know about one table of a source file.
 *
 * Columns with their declared types, the key that identifies a row, whether the table is
 * WITHOUT ROWID or virtual, and its CREATE text (the capture check compares it to spot
 * rebuilt tables). The key is, in order of preference:
 *   1. key columns named in the config (`keys: {table: [col, ...]}`), accepted only for
 *      tables without a declared PRIMARY KEY (or naming exactly that key);
 *   2. the declared PRIMARY KEY (composite keys in key order; WITHOUT ROWID tables always
 *      have one);
 *   3. the rowid, with a warning: VACUUM may renumber rowids of such tables.
 * Everything is read from SQLite's own catalog (sqlite_master, pragma_table_xinfo,
 * pragma_table_list), with names bound as parameters, never pasted into SQL.
 */
#ifndef CDC_TABLE_INFO_H
#define CDC_TABLE_INFO_H

#include "cdc_config.h"
#include "cdc_types.h"

#include <sqlite3.h>
#include <stddef.h>

typedef enum {
    CDC_TABLE_ORDINARY,      /* rowid table */
    CDC_TABLE_WITHOUT_ROWID, /* keyed by its PRIMARY KEY */
    CDC_TABLE_VIRTUAL,       /* CREATE VIRTUAL TABLE: cannot carry triggers */
    CDC_TABLE_SHADOW,        /* storage of a virtual table (e.g. docs_data of fts5) */
} cdc_table_kind_t;

typedef enum {
    CDC_KEY_PRIMARY, /* declared PRIMARY KEY */
    CDC_KEY_ROWID,   /* no declared key: the rowid */
    CDC_KEY_CONFIG,  /* columns named in the config */
} cdc_key_kind_t;

typedef enum {
    CDC_TABLE_INFO_OK = 0,
    CDC_TABLE_INFO_ENOTFOUND, /* no such table */
    CDC_TABLE_INFO_EKEY,      /* the key cannot be determined (bad config keys, ...) */
    CDC_TABLE_INFO_ESQLITE,   /* SQLite error */
} cdc_table_info_err_t;

typedef struct cdc_table_info_s {
    char *name; /* exactly as in sqlite_master (SQLite matches names ignoring ASCII case) */
    char *sql;  /* the CREATE statement text from sqlite_master */
    cdc_table_kind_t kind;
    char *module; /* virtual tables: the module name (fts5, rtree, ...); else NULL */
    size_t n_columns;
    cdc_column_t *columns; /* name, decl_type, not_null, pk_index; type/avro_name unset */
    int *generated;        /* per column: 1 for a generated column (cannot be written) */
    cdc_key_kind_t key_kind;
    size_t n_keys;
    int *key_columns;        /* per key part: index into columns, or -1 for the rowid */
    const char *rowid_alias; /* CDC_KEY_ROWID: "rowid", "_rowid_" or "oid" (one no column
                                shadows); else NULL */
    char *warning;           /* why the key is weak (rowid, no UNIQUE index), or NULL */
} cdc_table_info_t;

/*
 * Loads the description of table `name` (matched like SQLite does, ignoring ASCII case)
 * from the main database of db. config_keys may be NULL or empty. Virtual tables load
 * with kind CDC_TABLE_VIRTUAL, their module and no columns (their module may not even be
 * available in this process). Returns CDC_TABLE_INFO_OK and *out (caller frees with
 * cdc_table_info_destroy), or an error with a message naming the table in errstr.
 * Runs a few catalog reads: call it inside a read transaction for a consistent view.
 */
cdc_table_info_err_t cdc_table_info_load(sqlite3 *db, const char *name,
                                         const cdc_strlist_t *config_keys, cdc_table_info_t **out,
                                         char *errstr, size_t errstr_size);
void cdc_table_info_destroy(cdc_table_info_t *ti);

/* 0 if triggers can capture the table; else -1 with a message naming it (virtual or shadow
 * table, reserved or internal name). */
int cdc_table_info_capturable(const cdc_table_info_t *ti, char *errstr, size_t errstr_size);

/* The key as SQL text: quoted column names separated by commas ("a","b"), or the bare
 * rowid alias. Stable, so it records which key capture uses. Caller frees with free(). */
char *cdc_table_info_key_list(const cdc_table_info_t *ti);

/* The SQL expression reading key part i of the row `prefix` (NEW, OLD, or a table alias):
 * NEW."id" or NEW.rowid. Caller frees with free(). */
char *cdc_table_info_key_expr(const cdc_table_info_t *ti, size_t i, const char *prefix);

/*
 * Lists the user tables of main in name order: every table except SQLite's own
 * (sqlite_%), capture's own (_cdc_%) and shadow tables of virtual tables. Virtual tables
 * are listed (capture refuses them with a message). Caller frees with
 * cdc_table_info_free_names(). Returns 0, or -1 with errstr.
 */
int cdc_table_info_list(sqlite3 *db, char ***names, size_t *n, char *errstr, size_t errstr_size);
void cdc_table_info_free_names(char **names, size_t n);

/* 1 if name starts with the reserved capture prefix "_cdc_" (ASCII case ignored). */
int cdc_table_info_is_reserved(const char *name);

#endif
