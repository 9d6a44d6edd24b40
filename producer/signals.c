/*
 * signals: `cdc-ctl resnapshot` requests in _cdc_signals, carried out by the running
 * producer (see signals.h).
 *
 * Listed keys are logged into the change log as capture's triggers would log an UPDATE
 * (op 'u', the next sequence number), in the same short write transaction that marks the
 * signal done: the stream then reads each key's current row in its own short read
 * transaction and sends it (or a delete when the row is gone) at a position newer than
 * anything the target holds, exactly like an application's change, with its
 * acknowledgement and pruning. Nothing is sent twice or lost across a crash: either the
 * entries and the done mark are committed together, or neither.
 */
#include "signals.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capture_sql.h"
#include "cdc_alloc.h"
#include "cdc_log.h"
#include "source_int.h"
#include "sqlite_util.h"

int cdc_src_cut_over(sqlite3 *db, char *msg, size_t msg_size)
{
    sqlite3_stmt *st = NULL;
    int cut = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT value FROM _cdc_state WHERE \"key\" = 'cutover_at'),"
                           " (SELECT value FROM _cdc_state WHERE \"key\" = 'cutover_domain')",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return 0; /* no capture state: not cut over */
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        cut = 1;
        snprintf(msg, msg_size,
                 "cut over to PostgreSQL at %s (domain %s) by cdc-ctl cutover: the file is frozen "
                 "evidence and is not captured any more; remove the source from the config",
                 (const char *)sqlite3_column_text(st, 0),
                 sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "?");
    }
    sqlite3_finalize(st);
    return cut;
}

/* The captured table called name, or NULL. */
static src_table_t *find_table(cdc_src_t *src, const char *name)
{
    for (size_t i = 0; i < src->n_tables; i++)
        if (src->tables[i].ti && strcmp(src->tables[i].ti->name, name) == 0)
            return &src->tables[i];
    return NULL;
}

/* Binds one key value as the audit renders it: integers and reals as numbers, text as
 * strings, BLOBs as "x'<hex>'". */
static int bind_key(sqlite3_stmt *st, int i, json_t *v)
{
    if (json_is_integer(v))
        return sqlite3_bind_int64(st, i, (sqlite3_int64)json_integer_value(v));
    if (json_is_real(v))
        return sqlite3_bind_double(st, i, json_real_value(v));
    if (json_is_null(v))
        return sqlite3_bind_null(st, i);
    if (!json_is_string(v))
        return SQLITE_MISMATCH;
    const char *s = json_string_value(v);
    size_t len = strlen(s);
    if (len >= 3 && (s[0] == 'x' || s[0] == 'X') && s[1] == '\'' && s[len - 1] == '\'' &&
        (len - 3) % 2 == 0) {
        size_t n = (len - 3) / 2;
        unsigned char *b = cdc_malloc(n + 1);
        for (size_t k = 0; k < n; k++) {
            unsigned hi, lo;
            if (sscanf(s + 2 + 2 * k, "%1x%1x", &hi, &lo) != 2) {
                free(b);
                return sqlite3_bind_text(st, i, s, (int)len, SQLITE_TRANSIENT);
            }
            b[k] = (unsigned char)(hi << 4 | lo);
        }
        int rc = sqlite3_bind_blob(st, i, b, (int)n, SQLITE_TRANSIENT);
        free(b);
        return rc;
    }
    return sqlite3_bind_text(st, i, s, (int)len, SQLITE_TRANSIENT);
}

/* Logs one 'u' entry per listed key; *result says what was done or why not. */
static int log_keys(sqlite3 *db, src_table_t *t, const char *keys, char *result, size_t result_size,
                    char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *list = json_loads(keys ? keys : "", 0, &jerr), *key;
    const cdc_table_info_t *ti = t->ti;
    sqlite3_stmt *st = NULL;
    cdc_sqlbuf_t b;
    size_t i, logged = 0;
    int rc = SQLITE_OK;

    if (!json_is_array(list)) {
        snprintf(result, result_size, "error: keys are not a JSON list: %s", jerr.text);
        goto out;
    }
    cdc_sqlbuf_init(&b);
    cdc_sqlbuf_printf(&b, "INSERT INTO \"%s\"(seq, tbl, op, ts", CDC_CAPTURE_CHANGES);
    for (size_t k = 0; k < ti->n_keys; k++)
        cdc_sqlbuf_printf(&b, ", k%zu", k + 1);
    cdc_sqlbuf_printf(&b, ") VALUES ((%s) + 1, ?1, 'u', julianday('now')",
                      cdc_capture_sql_high_water());
    for (size_t k = 0; k < ti->n_keys; k++)
        cdc_sqlbuf_printf(&b, ", ?%zu", k + 2);
    cdc_sqlbuf_append(&b, ")");
    rc = cdc_sqlite_prepare(db, b.s, &st, errstr, errstr_size);
    cdc_sqlbuf_free(&b);
    if (rc != SQLITE_OK)
        goto out;
    json_array_foreach(list, i, key)
    {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_text(st, 1, ti->name, -1, SQLITE_TRANSIENT);
        for (size_t k = 0; k < ti->n_keys; k++) {
            const char *col =
                ti->key_columns[k] >= 0 ? ti->columns[ti->key_columns[k]].name : "rowid";
            json_t *v = json_is_object(key) ? json_object_get(key, col) : NULL;
            if (v == NULL || bind_key(st, (int)k + 2, v) != SQLITE_OK) {
                char *kj = json_dumps(key, JSON_COMPACT);
                snprintf(result, result_size, "error: key %zu %s lacks column %s of table %s", i,
                         kj ? kj : "?", col, ti->name);
                free(kj);
                rc = SQLITE_OK;
                goto out; /* the transaction still commits: the signal is done, with this */
            }
        }
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            rc = cdc_sqlite_error(db, rc, "logging a key of a resnapshot signal", errstr,
                                  errstr_size);
            goto out;
        }
        rc = SQLITE_OK;
        logged++;
    }
    snprintf(result, result_size, "ok: %zu key(s) of %s logged for re-sending", logged, ti->name);
out:
    sqlite3_finalize(st);
    json_decref(list);
    return rc;
}

static int signals_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    cdc_src_t *src = arg;
    sqlite3_stmt *st = NULL, *done = NULL;
    int rc;

    rc = cdc_sqlite_prepare(db,
                            "SELECT id, kind, tbl, keys FROM _cdc_signals WHERE done_at IS NULL"
                            " ORDER BY id",
                            &st, errstr, errstr_size);
    if (rc == SQLITE_OK)
        rc = cdc_sqlite_prepare(db,
                                "UPDATE _cdc_signals SET done_at = strftime('%Y-%m-%dT%H:%M:%fZ',"
                                " 'now'), result = ?2 WHERE id = ?1",
                                &done, errstr, errstr_size);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const char *kind = (const char *)sqlite3_column_text(st, 1);
        const char *tbl = (const char *)sqlite3_column_text(st, 2);
        const char *keys = (const char *)sqlite3_column_text(st, 3);
        char result[512];
        src_table_t *t = tbl ? find_table(src, tbl) : NULL;
        rc = SQLITE_OK;
        if (kind == NULL) {
            snprintf(result, sizeof result, "error: no kind");
        } else if (strcmp(kind, "source") == 0) {
            for (size_t i = 0; i < src->n_tables; i++)
                if (src->tables[i].ti)
                    cdc_src_table_restart_snapshot(src, &src->tables[i]);
            snprintf(result, sizeof result, "ok: re-snapshot of %zu table(s) queued",
                     src->n_tables);
        } else if (t == NULL) {
            snprintf(result, sizeof result, "error: table %s is not captured in source %s",
                     tbl ? tbl : "(none)", src->cs->name);
        } else if (strcmp(kind, "table") == 0) {
            cdc_src_table_restart_snapshot(src, t);
            snprintf(result, sizeof result, "ok: re-snapshot of %s queued", tbl);
        } else if (strcmp(kind, "keys") == 0) {
            rc = log_keys(db, t, keys, result, sizeof result, errstr, errstr_size);
        } else {
            snprintf(result, sizeof result, "error: unknown kind %s (source, table, keys)", kind);
        }
        if (rc != SQLITE_OK)
            break;
        cdc_log_info("source %s: signal %" PRId64 " (%s%s%s): %s", src->cs->name, id, kind,
                     tbl ? " " : "", tbl ? tbl : "", result);
        sqlite3_reset(done);
        sqlite3_bind_int64(done, 1, id);
        sqlite3_bind_text(done, 2, result, -1, SQLITE_TRANSIENT);
        if ((rc = sqlite3_step(done)) != SQLITE_DONE) {
            rc = cdc_sqlite_error(db, rc, "marking a signal done", errstr, errstr_size);
            break;
        }
        rc = SQLITE_OK;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    else if (rc != SQLITE_OK && rc != SQLITE_BUSY && errstr[0] == '\0')
        cdc_sqlite_error(db, rc, "reading _cdc_signals", errstr, errstr_size);
    sqlite3_finalize(st);
    sqlite3_finalize(done);
    return rc;
}

cdc_src_err_t cdc_src_signals_poll(cdc_src_t *src, int force, char *errstr, size_t errstr_size)
{
    double now = cdc_sqlite_now_ms();
    sqlite3_stmt *st = NULL;
    int64_t pending = 0;
    cdc_sqlite_txstats_t stats;

    if (!force && now - src->last_signal_poll_ms < src->conf->producer.heartbeat_ms)
        return CDC_SRC_OK;
    src->last_signal_poll_ms = now;
    /* A plain read first: the write lock only when there is work. No table: no signals. */
    if (sqlite3_prepare_v2(src->db, "SELECT count(*) FROM _cdc_signals WHERE done_at IS NULL", -1,
                           &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return CDC_SRC_OK;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        pending = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (pending == 0)
        return CDC_SRC_OK;
    errstr[0] = '\0';
    int rc = cdc_sqlite_write_tx(src->db, src->conf->producer.lock_timeout_ms, signals_tx, src,
                                 &stats, errstr, errstr_size);
    if (rc == SQLITE_OK)
        return CDC_SRC_OK;
    if (cdc_sqlite_is_busy(rc)) {
        cdc_log_warn("source %s: signals: write lock busy; trying again at the next heartbeat",
                     src->cs->name);
        return CDC_SRC_OK;
    }
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", errstr);
    snprintf(errstr, errstr_size, "source %s (%s): signals: %s", src->cs->name, src->cs->path, tmp);
    return CDC_SRC_EOPER;
}
