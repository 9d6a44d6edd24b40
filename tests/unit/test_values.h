/*
 * Literal SQLite values and column descriptions shared by the unit tests and the programs
 * in tests/tools (which include it as "../unit/test_values.h"). No cmocka here, so the
 * tools can use it too. Everything is static inline, like test_capture_util.h.
 */
#ifndef TEST_VALUES_H
#define TEST_VALUES_H

#include <string.h>

#include "cdc_types.h"

/* Initialisers of cdc_value_t for static tables: VT and VB take string literals (their
 * length is sizeof - 1, so embedded NUL bytes count). */
#define VI(x)                                                                                      \
    {                                                                                              \
        CDC_VAL_INTEGER, (x), 0, NULL, 0                                                           \
    }
#define VR(x)                                                                                      \
    {                                                                                              \
        CDC_VAL_REAL, 0, (x), NULL, 0                                                              \
    }
#define VT(s)                                                                                      \
    {                                                                                              \
        CDC_VAL_TEXT, 0, 0, (const unsigned char *)(s), sizeof(s) - 1                              \
    }
#define VB(s)                                                                                      \
    {                                                                                              \
        CDC_VAL_BLOB, 0, 0, (const unsigned char *)(s), sizeof(s) - 1                              \
    }
#define VN                                                                                         \
    {                                                                                              \
        CDC_VAL_NULL, 0, 0, NULL, 0                                                                \
    }

/* Initialiser of an 11-column table with one column of every kind: key (id, region), in a
 * different order than the columns, to prove keys follow key order. */
#define TEST_EVERY_KIND_COLUMNS                                                                    \
    {                                                                                              \
        {"region", "region", "VARCHAR(8)", {CDC_COL_TEXT, 0, 0, 8}, 0, 2},                         \
            {"id", "id", "INTEGER", {CDC_COL_LONG, 0, 0, 0}, 1, 1},                                \
            {"name", "name", "TEXT", {CDC_COL_TEXT, 0, 0, 0}, 1, 0},                               \
            {"amount", "amount", "DECIMAL(14,2)", {CDC_COL_DECIMAL, 14, 2, 0}, 0, 0},              \
            {"price", "price", "REAL", {CDC_COL_DOUBLE, 0, 0, 0}, 0, 0},                           \
            {"active", "active", "BOOLEAN", {CDC_COL_BOOLEAN, 0, 0, 0}, 0, 0},                     \
            {"created_at", "created_at", "DATETIME", {CDC_COL_TIMESTAMP, 0, 0, 0}, 0, 0},          \
            {"due", "due", "DATE", {CDC_COL_DATE, 0, 0, 0}, 0, 0},                                 \
            {"meta", "meta", "JSON", {CDC_COL_JSON, 0, 0, 0}, 0, 0},                               \
            {"data", "data", "BLOB", {CDC_COL_BLOB, 0, 0, 0}, 0, 0},                               \
            {"total", "total", "NUMERIC", {CDC_COL_NUMERIC, 0, 0, 0}, 0, 0},                       \
    }

/* A column named name (Avro name the same, no declared type) of the given kind; the
 * strings are borrowed, so the result lives as long as name. */
static inline cdc_column_t test_column(const char *name, cdc_col_kind_t kind, int precision,
                                       int scale, int max_length)
{
    cdc_column_t c;

    memset(&c, 0, sizeof c);
    c.name = (char *)name;
    c.avro_name = (char *)name;
    c.decl_type = (char *)"";
    c.type.kind = kind;
    c.type.precision = precision;
    c.type.scale = scale;
    c.type.max_length = max_length;
    return c;
}

#endif
