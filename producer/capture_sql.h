/*
 * capture_sql: the SQL text of the capture objects (tables and triggers).
 *
 * Internal to capture.c / capture_fetch.c / position.c: the text generated here is
 * compared byte for byte with what sqlite_master holds, so it must be deterministic.
 * Everything that runs inside the application's statements (the trigger bodies) uses
 * only core SQL that every SQLite 3 has: INSERT ... VALUES / SELECT ... WHERE, CASE,
 * typeof(), IS, julianday('now'). No JSON, no custom functions, no AUTOINCREMENT.
 */
#ifndef CDC_CAPTURE_SQL_H
#define CDC_CAPTURE_SQL_H

#include "table_info.h"

/* Version of the capture objects' shape, stored in _cdc_state.capture_version. */
/* 2: seq assigned by INTEGER PRIMARY KEY and the newest log row never pruned (1: seq
 * computed by the triggers from max(seq) and seq_floor, log pruned to empty). A version
 * 1 producer would prune a version 2 log to empty and let numbers repeat, so files
 * installed by this version are refused by older ones. */
#define CDC_CAPTURE_VERSION 2

#define CDC_CAPTURE_CHANGES "_cdc_changes"
#define CDC_CAPTURE_STATE   "_cdc_state"
#define CDC_CAPTURE_TABLES  "_cdc_tables"
/* Columns of _cdc_changes before the key columns k1..kN. */
#define CDC_CAPTURE_FIXED_COLUMNS 4

typedef enum {
    CDC_TRIGGER_INSERT = 0,
    CDC_TRIGGER_UPDATE = 1,
    CDC_TRIGGER_DELETE = 2,
} cdc_trigger_kind_t;
#define CDC_TRIGGER_KINDS 3

/* Trigger name for a table: _cdc_<ins|upd|del>_<sanitized name, ≤24 bytes>_<16 hex of
 * FNV-1a 64 of the exact name>. Valid and unique for any table name; caller frees. */
char *cdc_capture_sql_trigger_name(const char *table, cdc_trigger_kind_t kind);

/* The complete CREATE TRIGGER statement (no trailing semicolon) exactly as SQLite will
 * store it in sqlite_master.sql. Caller frees with free(). */
char *cdc_capture_sql_trigger(const cdc_table_info_t *ti, cdc_trigger_kind_t kind);

/* CREATE TABLE statements of the three capture tables; width = number of key columns. */
char *cdc_capture_sql_create_changes(int width);
const char *cdc_capture_sql_create_state(void);
const char *cdc_capture_sql_create_tables(void);

/* INSERT of the floor row: a log row at seq = seq_floor, written only when every log row
 * is below seq_floor (or there is none), so the rowid-assigned seq continues above it. */
const char *cdc_capture_sql_floor_row(void);

/* SQL expression for the high-water mark: max(max(seq), seq_floor), 0 when empty. */
const char *cdc_capture_sql_high_water(void);

#endif
