/*
 * cdc_types: how a SQLite column is carried (DESIGN.md "Type mapping"), and the plain
 * value representation that the producer reads from SQLite and the sink decodes.
 *
 * The mapping follows the column's declared type (or a per-column override from the
 * config); the rules are in cdc_types.c, one table, documented in docs/type-mapping.md.
 * A stored value that does not fit its column's mapping is never changed: encoding
 * reports it as a misfit (column + reason) and the record becomes a dead letter.
 */
#ifndef CDC_TYPES_H
#define CDC_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* What a column maps to. The Avro type of each kind is given in brackets. */
typedef enum {
    CDC_COL_LONG,      /* INTEGER, INT, BIGINT, ...            [long]                     */
    CDC_COL_DOUBLE,    /* REAL, FLOAT, DOUBLE                  [double]                   */
    CDC_COL_DECIMAL,   /* DECIMAL(p,s), NUMERIC(p,s)           [bytes, logicalType decimal] */
    CDC_COL_NUMERIC,   /* NUMERIC / DECIMAL without (p,s)      [string: decimal text]     */
    CDC_COL_BOOLEAN,   /* BOOLEAN, BOOL (0/1 only)             [boolean]                  */
    CDC_COL_TIMESTAMP, /* DATETIME, TIMESTAMP                  [long, timestamp-micros]   */
    CDC_COL_DATE,      /* DATE                                 [int, date]                */
    CDC_COL_TEXT,      /* TEXT, CHAR, CLOB, VARCHAR(n)         [string]                   */
    CDC_COL_JSON,      /* JSON, JSONB                          [string, cdc.type json]    */
    CDC_COL_BLOB,      /* BLOB                                 [bytes]                    */
} cdc_col_kind_t;

typedef struct cdc_col_type_s {
    cdc_col_kind_t kind;
    int precision;  /* DECIMAL: p; otherwise 0 */
    int scale;      /* DECIMAL: s; otherwise 0 */
    int max_length; /* VARCHAR(n)/CHAR(n): n; otherwise 0 (unbounded) */
} cdc_col_type_t;

/* A value as SQLite stores it (its storage class), before mapping. */
typedef enum {
    CDC_VAL_NULL,
    CDC_VAL_INTEGER,
    CDC_VAL_REAL,
    CDC_VAL_TEXT,
    CDC_VAL_BLOB,
} cdc_val_type_t;

/* Borrowed view of one value; text/blob point into memory owned by someone else
 * (e.g. a sqlite3 statement row, valid until the next step). */
typedef struct cdc_value_s {
    cdc_val_type_t type;
    int64_t i;
    double r;
    const unsigned char *p; /* TEXT (not NUL-terminated necessarily) or BLOB bytes */
    size_t len;
} cdc_value_t;

/* One column of a captured table. */
typedef struct cdc_column_s {
    char *name;      /* SQLite name, exactly */
    char *avro_name; /* mangled Avro field name */
    char *decl_type; /* declared type text as written in SQLite ("" if none) */
    cdc_col_type_t type;
    int not_null;
    int pk_index; /* 1-based position in the key, 0 if not a key column */
} cdc_column_t;

/*
 * Maps a declared type (as SQLite reports it, any case, may be "") to a column type.
 * Never fails: unknown names fall back on SQLite's affinity rules (section 3.1 of
 * https://www.sqlite.org/datatype3.html: INT -> LONG, CHAR/CLOB/TEXT -> TEXT, BLOB -> BLOB,
 * REAL/FLOA/DOUB -> DOUBLE, otherwise NUMERIC), and an empty declared type maps to TEXT.
 * The full table is in docs/type-mapping.md.
 */
cdc_col_type_t cdc_types_from_declared(const char *decl_type);

/* Parses an override from the config ("decimal(14,2)", "timestamp", "text", ...): the
 * known SQL names above and the kind names ("long", ...), never the affinity fallback;
 * returns 0, or -1 with the reason in errstr for an unknown name or invalid arguments. */
int cdc_types_parse_override(const char *text, cdc_col_type_t *out, char *errstr,
                             size_t errstr_size);

/* Stable lowercase name of a kind ("long", "decimal", ...), for logs and docs. */
const char *cdc_types_kind_name(cdc_col_kind_t kind);

#endif
