#include "capture_sql.h"

#include "cdc_alloc.h"
#include "sqlite_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define TRIGGER_NAME_SANITIZED_MAX 24

/* seq is not written by the triggers: INTEGER PRIMARY KEY assigns max(seq) + 1 inside the
 * application's transaction (which holds the write lock, so no two writers race). That
 * needs no subquery, and SQLite compiles every trigger body into each statement the
 * application prepares, so the body's size is paid per statement (measured: the
 * max(seq)/seq_floor subqueries made a captured prepare+step ~10x a plain one). Numbers
 * never go back because pruning never deletes the newest row, and an install that
 * finds the log emptied below seq_floor (capture_version 1 pruned everything) writes a
 * floor row first (cdc_capture_sql_floor_row). AUTOINCREMENT would do the same but
 * leaves sqlite_sequence behind forever. */

const char *cdc_capture_sql_high_water(void)
{
    return "SELECT max(coalesce((SELECT max(seq) FROM \"_cdc_changes\"),0),"
           "coalesce((SELECT value FROM \"_cdc_state\" WHERE \"key\"='seq_floor'),0))";
}

static const char *const kind_tag[CDC_TRIGGER_KINDS] = {"ins", "upd", "del"};
static const char *const kind_event[CDC_TRIGGER_KINDS] = {"INSERT", "UPDATE", "DELETE"};

char *cdc_capture_sql_trigger_name(const char *table, cdc_trigger_kind_t kind)
{
    char clean[TRIGGER_NAME_SANITIZED_MAX + 1];
    size_t n = 0;
    for (const char *p = table; *p && n < TRIGGER_NAME_SANITIZED_MAX; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        clean[n++] = ok ? c : '_';
    }
    clean[n] = '\0';
    return cdc_asprintf("_cdc_%s_%s_%016" PRIx64, kind_tag[kind], clean,
                        cdc_sqlite_name_hash(table));
}

/* INSERT INTO "_cdc_changes"(tbl,op,ts,k1..kn) VALUES('<tbl>',<op>,julianday('now'),
 * <row>.<key>...); with `where`, SELECT ... WHERE <cond> instead of VALUES. op is a quoted
 * letter or an expression. */
static void append_log_insert(cdc_sqlbuf_t *b, const cdc_table_info_t *ti, const char *op,
                              const char *row, const char *where)
{
    cdc_sqlbuf_append(b, "\n  INSERT INTO \"_cdc_changes\"(tbl,op,ts");
    for (size_t i = 0; i < ti->n_keys; i++)
        cdc_sqlbuf_printf(b, ",k%zu", i + 1);
    cdc_sqlbuf_append(b, where ? ") SELECT " : ") VALUES(");
    cdc_sqlbuf_literal(b, ti->name);
    cdc_sqlbuf_printf(b, ",%s,julianday('now')", op);
    for (size_t i = 0; i < ti->n_keys; i++) {
        char *e = cdc_table_info_key_expr(ti, i, row);
        cdc_sqlbuf_printf(b, ",%s", e);
        free(e);
    }
    if (where)
        cdc_sqlbuf_printf(b, " WHERE %s", where);
    else
        cdc_sqlbuf_append(b, ")");
    cdc_sqlbuf_append(b, ";");
}

/* True when the key did not change, comparing like a storage engine would: same storage
 * class (typeof) and same bytes (BINARY collation, whatever the column's collation), so
 * 'a' -> 'A' under NOCASE or 1 -> '1' count as a new key. */
static char *key_unchanged(const cdc_table_info_t *ti)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_append(&b, "(");
    for (size_t i = 0; i < ti->n_keys; i++) {
        char *n = cdc_table_info_key_expr(ti, i, "NEW");
        char *o = cdc_table_info_key_expr(ti, i, "OLD");
        cdc_sqlbuf_printf(&b, "%s%s IS %s COLLATE BINARY AND typeof(%s)=typeof(%s)",
                          i ? " AND " : "", n, o, n, o);
        free(n);
        free(o);
    }
    cdc_sqlbuf_append(&b, ")");
    return b.s;
}

char *cdc_capture_sql_trigger(const cdc_table_info_t *ti, cdc_trigger_kind_t kind)
{
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    char *name = cdc_capture_sql_trigger_name(ti->name, kind);
    cdc_sqlbuf_append(&b, "CREATE TRIGGER ");
    cdc_sqlbuf_ident(&b, name);
    cdc_sqlbuf_printf(&b, " AFTER %s ON ", kind_event[kind]);
    cdc_sqlbuf_ident(&b, ti->name);
    cdc_sqlbuf_append(&b, " FOR EACH ROW BEGIN");
    if (kind == CDC_TRIGGER_INSERT) {
        append_log_insert(&b, ti, "'i'", "NEW", NULL);
    } else if (kind == CDC_TRIGGER_DELETE) {
        append_log_insert(&b, ti, "'d'", "OLD", NULL);
    } else {
        /* A key change is a delete of the old key and then an insert of the new one, so
         * the old row disappears downstream too; otherwise one 'u'. Two statements, not
         * three: the body is compiled into every UPDATE the application prepares. */
        char *same = key_unchanged(ti);
        char *changed = cdc_asprintf("NOT %s", same);
        char *op = cdc_asprintf("CASE WHEN %s THEN 'u' ELSE 'i' END", same);
        append_log_insert(&b, ti, "'d'", "OLD", changed);
        append_log_insert(&b, ti, op, "NEW", NULL);
        free(same);
        free(changed);
        free(op);
    }
    cdc_sqlbuf_append(&b, "\nEND");
    free(name);
    return b.s;
}

char *cdc_capture_sql_create_changes(int width)
{
    /* The key columns have no declared type: no affinity, so SQLite stores each value
     * with its own storage class and text '1' stays different from integer 1. ts comes
     * before them so a wider key is an ALTER TABLE ADD COLUMN, never a rebuild. */
    cdc_sqlbuf_t b;
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_append(&b, "CREATE TABLE \"_cdc_changes\"(seq INTEGER PRIMARY KEY, "
                          "tbl TEXT NOT NULL, op TEXT NOT NULL, ts REAL NOT NULL");
    for (int i = 1; i <= width; i++)
        cdc_sqlbuf_printf(&b, ", k%d", i);
    cdc_sqlbuf_append(&b, ")");
    return b.s;
}

const char *cdc_capture_sql_floor_row(void)
{
    /* Only when the log is below seq_floor (emptied by capture_version 1's pruning): the
     * row keeps the next rowid above every number handed out. Its table name is reserved
     * (_cdc_ is never captured), so the stream's join with _cdc_tables skips it. */
    return "INSERT INTO \"_cdc_changes\"(seq,tbl,op,ts) SELECT f.value,'_cdc_floor','f',"
           "julianday('now') FROM \"_cdc_state\" f WHERE f.\"key\"='seq_floor' AND f.value > "
           "coalesce((SELECT max(seq) FROM \"_cdc_changes\"),0)";
}

const char *cdc_capture_sql_create_state(void)
{
    return "CREATE TABLE \"_cdc_state\"(\"key\" TEXT PRIMARY KEY, value)";
}

const char *cdc_capture_sql_create_tables(void)
{
    /* key_since: the high-water mark when the current key definition was installed; log
     * rows at or below it were written with another key shape and are ignored. */
    return "CREATE TABLE \"_cdc_tables\"(tbl TEXT PRIMARY KEY, sql TEXT NOT NULL, "
           "key_kind TEXT NOT NULL, key_cols TEXT NOT NULL, key_count INTEGER NOT NULL, "
           "key_since INTEGER NOT NULL, installed_epoch INTEGER NOT NULL, "
           "installed_at REAL NOT NULL, capture_version INTEGER NOT NULL)";
}
