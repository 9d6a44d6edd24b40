#include "position.h"

#include "capture_sql.h"
#include "cdc_alloc.h"
#include "cdc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LOCK_TIMEOUT_MS 10000
/* Rows pruned per write transaction: deleting 2000 rows of the log takes about a
 * millisecond, so each transaction stays within the "few milliseconds" budget. */
#define DEFAULT_CHUNK_ROWS 2000

cdc_pos_t cdc_position_of(const cdc_position_state_t *state)
{
    cdc_pos_t p = {state->epoch, state->high};
    return p;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* One statement, so it is one snapshot even outside a transaction. */
static int read_state(sqlite3 *db, cdc_position_state_t *s, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = cdc_sqlite_prepare(
        db,
        "SELECT (SELECT value FROM \"_cdc_state\" WHERE \"key\"='epoch'),"
        " (SELECT value FROM \"_cdc_state\" WHERE \"key\"='seq_floor'),"
        " (SELECT value FROM \"_cdc_state\" WHERE \"key\"='acked_epoch'),"
        " (SELECT value FROM \"_cdc_state\" WHERE \"key\"='acked_seq'),"
        " (SELECT max(seq) FROM \"_cdc_changes\"), (SELECT min(seq) FROM \"_cdc_changes\")",
        &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->epoch = sqlite3_column_int64(st, 0);
        s->floor = sqlite3_column_int64(st, 1);
        s->acked_epoch = sqlite3_column_int64(st, 2);
        s->acked_seq = sqlite3_column_int64(st, 3);
        s->max_seq = sqlite3_column_int64(st, 4);
        s->min_seq = sqlite3_column_int64(st, 5);
        s->high = max64(s->max_seq, s->floor);
        rc = SQLITE_OK;
    } else {
        cdc_sqlite_error(db, rc, "reading the capture state", errstr, errstr_size);
    }
    sqlite3_finalize(st);
    return rc;
}

static cdc_capture_err_t check_installed(sqlite3 *db, char *errstr, size_t errstr_size)
{
    int a = cdc_sqlite_table_exists(db, CDC_CAPTURE_STATE, errstr, errstr_size);
    int b = a > 0 ? cdc_sqlite_table_exists(db, CDC_CAPTURE_CHANGES, errstr, errstr_size) : a;
    if (a < 0 || b < 0)
        return cdc_sqlite_is_busy(sqlite3_errcode(db)) ? CDC_CAPTURE_EBUSY : CDC_CAPTURE_ESQLITE;
    if (!a || !b) {
        snprintf(errstr, errstr_size, "%s: capture is not installed", cdc_sqlite_path(db));
        return CDC_CAPTURE_ENOCAPTURE;
    }
    return CDC_CAPTURE_EOK;
}

cdc_capture_err_t cdc_position_read(sqlite3 *db, cdc_position_state_t *out, char *errstr,
                                    size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    cdc_capture_err_t err = check_installed(db, errstr, errstr_size);
    if (err != CDC_CAPTURE_EOK)
        return err;
    int rc = read_state(db, out, errstr, errstr_size);
    if (rc == SQLITE_OK)
        return CDC_CAPTURE_EOK;
    return cdc_sqlite_is_busy(rc) ? CDC_CAPTURE_EBUSY : CDC_CAPTURE_ESQLITE;
}

cdc_position_verdict_t cdc_position_compare(const cdc_position_state_t *file,
                                            const cdc_pos_t *acked)
{
    if (file->epoch > acked->epoch)
        return CDC_POSITION_NEW_EPOCH;
    if (file->epoch < acked->epoch)
        return CDC_POSITION_BEHIND;
    /* Same epoch: the file records every acknowledgement before the producer does, so a
     * lower record (or a high-water mark below it) means an older copy of the file. */
    if (file->acked_seq < acked->h || file->high < acked->h)
        return CDC_POSITION_BEHIND;
    return CDC_POSITION_SAME_EPOCH;
}

void cdc_position_behind_message(const char *source, const char *path, const char *config_path,
                                 const cdc_position_state_t *file, const cdc_pos_t *acked,
                                 char *buf, size_t size)
{
    const char *cfg = config_path ? config_path : "CONFIG";
    if (file->epoch < acked->epoch)
        snprintf(buf, size,
                 "source %s (%s): change log is at epoch %lld (position %lld) but the producer "
                 "already acknowledged epoch %lld position %lld: the file was replaced by an "
                 "older copy (restored from a backup?). Start a new epoch with "
                 "`cdc-producer -c %s --new-epoch %s` to re-snapshot it.",
                 source, path, (long long)file->epoch, (long long)file->high,
                 (long long)acked->epoch, (long long)acked->h, cfg, source);
    else
        snprintf(buf, size,
                 "source %s (%s): change log is at epoch %lld position %lld (acknowledged up "
                 "to %lld) but the producer already acknowledged epoch %lld position %lld > "
                 "%lld: the file was replaced by an older copy (restored from a backup?). "
                 "Start a new epoch with `cdc-producer -c %s --new-epoch %s` to re-snapshot it.",
                 source, path, (long long)file->epoch, (long long)file->high,
                 (long long)file->acked_seq, (long long)acked->epoch, (long long)acked->h,
                 (long long)file->acked_seq, cfg, source);
}

/* --- acknowledge --------------------------------------------------------------------- */

typedef struct ack_ctx_s {
    const cdc_pos_t *pos;
    int chunk_rows;
    int first;      /* record the acknowledgement in this transaction */
    int behind;     /* out: the position is beyond the file */
    int64_t pruned; /* out: rows deleted by this transaction */
    int64_t remain; /* out: rows <= pos.h still there */
    cdc_position_state_t state;
} ack_ctx_t;

static int exec_bound(sqlite3 *db, const char *sql, int64_t a, int64_t b, char *errstr,
                      size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = cdc_sqlite_prepare(db, sql, &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : cdc_sqlite_error(db, rc, sql, errstr, errstr_size);
    sqlite3_finalize(st);
    return rc;
}

static int ack_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    ack_ctx_t *ctx = arg;
    const cdc_pos_t *pos = ctx->pos;
    int rc = read_state(db, &ctx->state, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    if (ctx->first) {
        if (pos->epoch > ctx->state.epoch || pos->h > ctx->state.high) {
            ctx->behind = 1;
            return SQLITE_ABORT;
        }
        const char *upd = "INSERT OR REPLACE INTO \"_cdc_state\"(\"key\", value) "
                          "VALUES (?1, max(coalesce((SELECT value FROM \"_cdc_state\" "
                          "WHERE \"key\"=?1),0), ?2))";
        static const char *const keys[] = {"seq_floor", "acked_seq", "acked_epoch"};
        for (int i = 0; i < 3 && rc == SQLITE_OK; i++) {
            sqlite3_stmt *st = NULL;
            rc = cdc_sqlite_prepare(db, upd, &st, errstr, errstr_size);
            if (rc != SQLITE_OK)
                break;
            sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, i == 2 ? pos->epoch : pos->h);
            rc = sqlite3_step(st);
            rc = rc == SQLITE_DONE
                     ? SQLITE_OK
                     : cdc_sqlite_error(db, rc, "writing _cdc_state", errstr, errstr_size);
            sqlite3_finalize(st);
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    /* A rowid range: SQLite deletes it by walking the table's b-tree from its start. The
     * newest row always stays: the triggers' seq is INTEGER PRIMARY KEY's max + 1, so
     * deleting it would hand its number out again. */
    rc = exec_bound(db,
                    "DELETE FROM \"_cdc_changes\" WHERE seq <= min(?1, "
                    "(SELECT min(seq) FROM \"_cdc_changes\") + ?2 - 1, "
                    "(SELECT max(seq) FROM \"_cdc_changes\") - 1)",
                    pos->h, ctx->chunk_rows, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    ctx->pruned = sqlite3_changes(db);
    sqlite3_stmt *st = NULL;
    rc = cdc_sqlite_prepare(db,
                            "SELECT (SELECT min(seq) FROM \"_cdc_changes\"), "
                            "(SELECT max(seq) FROM \"_cdc_changes\")",
                            &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        ctx->remain = sqlite3_column_int64(st, 0) <= pos->h &&
                      sqlite3_column_int64(st, 0) < sqlite3_column_int64(st, 1);
    else
        ctx->remain = 0;
    sqlite3_finalize(st);
    return SQLITE_OK;
}

cdc_capture_err_t cdc_position_acknowledge(sqlite3 *db, const cdc_pos_t *pos, int chunk_rows,
                                           int lock_timeout_ms, cdc_position_ack_t *result,
                                           char *errstr, size_t errstr_size)
{
    cdc_position_ack_t local = {0};
    cdc_position_ack_t *res = result ? result : &local;
    memset(res, 0, sizeof(*res));
    double start = cdc_sqlite_now_ms();
    int timeout = lock_timeout_ms > 0 ? lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS;
    cdc_capture_err_t err = check_installed(db, errstr, errstr_size);
    if (err != CDC_CAPTURE_EOK)
        return err;
    ack_ctx_t ctx = {
        .pos = pos, .chunk_rows = chunk_rows > 0 ? chunk_rows : DEFAULT_CHUNK_ROWS, .first = 1};
    do {
        cdc_sqlite_txstats_t stats = {0};
        ctx.pruned = 0;
        ctx.remain = 0;
        int rc = cdc_sqlite_write_tx(db, timeout, ack_tx, &ctx, &stats, errstr, errstr_size);
        res->busy_retries += stats.busy_retries;
        if (stats.hold_ms > res->max_hold_ms)
            res->max_hold_ms = stats.hold_ms;
        if (rc != SQLITE_OK) {
            if (ctx.behind) {
                snprintf(errstr, errstr_size,
                         "%s: cannot acknowledge epoch %lld position %lld: the change log is "
                         "only at epoch %lld position %lld (file replaced by an older copy?)",
                         cdc_sqlite_path(db), (long long)pos->epoch, (long long)pos->h,
                         (long long)ctx.state.epoch, (long long)ctx.state.high);
                err = CDC_CAPTURE_EBEHIND;
            } else {
                err = (rc & 0xff) == SQLITE_BUSY ? CDC_CAPTURE_EBUSY : CDC_CAPTURE_ESQLITE;
            }
            break;
        }
        res->transactions++;
        res->pruned += ctx.pruned;
        ctx.first = 0;
    } while (ctx.remain);
    res->total_ms = cdc_sqlite_now_ms() - start;
    if (err == CDC_CAPTURE_EOK)
        cdc_log_debug("%s: acknowledged epoch %lld position %lld: pruned %lld row(s) in %d "
                      "transaction(s), longest lock hold %.2f ms",
                      cdc_sqlite_path(db), (long long)pos->epoch, (long long)pos->h,
                      (long long)res->pruned, res->transactions, res->max_hold_ms);
    return err;
}

/* --- new epoch ----------------------------------------------------------------------- */

typedef struct epoch_ctx_s {
    int64_t min_epoch;
    int64_t epoch;
} epoch_ctx_t;

static int epoch_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    epoch_ctx_t *ctx = arg;
    cdc_position_state_t s = {0};
    int rc = read_state(db, &s, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    ctx->epoch = max64(s.epoch, ctx->min_epoch) + 1;
    return exec_bound(db,
                      "INSERT OR REPLACE INTO \"_cdc_state\"(\"key\", value) "
                      "VALUES ('epoch', ?1 + ?2)",
                      ctx->epoch, 0, errstr, errstr_size);
}

cdc_capture_err_t cdc_position_new_epoch(sqlite3 *db, int64_t min_epoch, int lock_timeout_ms,
                                         int64_t *epoch_out, cdc_sqlite_txstats_t *stats,
                                         char *errstr, size_t errstr_size)
{
    cdc_capture_err_t err = check_installed(db, errstr, errstr_size);
    if (err != CDC_CAPTURE_EOK)
        return err;
    epoch_ctx_t ctx = {.min_epoch = min_epoch};
    cdc_sqlite_txstats_t local = {0};
    cdc_sqlite_txstats_t *st = stats ? stats : &local;
    int rc =
        cdc_sqlite_write_tx(db, lock_timeout_ms > 0 ? lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS,
                            epoch_tx, &ctx, st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return (rc & 0xff) == SQLITE_BUSY ? CDC_CAPTURE_EBUSY : CDC_CAPTURE_ESQLITE;
    if (epoch_out)
        *epoch_out = ctx.epoch;
    cdc_log_info("%s: new capture epoch %lld (write lock held %.2f ms)", cdc_sqlite_path(db),
                 (long long)ctx.epoch, st->hold_ms);
    return CDC_CAPTURE_EOK;
}
