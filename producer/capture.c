#include "capture.h"

#include "capture_plan.h"
#include "capture_sql.h"
#include "cdc_alloc.h"
#include "cdc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LOCK_TIMEOUT_MS 10000
/* A plan is redone when the schema moved between planning and locking; more than this
 * many moves in a row means something rewrites the schema continuously. */
#define MAX_REPLANS 8

const char *cdc_capture_err2str(cdc_capture_err_t err)
{
    switch (err) {
    case CDC_CAPTURE_EOK:
        return "ok";
    case CDC_CAPTURE_ESQLITE:
        return "sqlite error";
    case CDC_CAPTURE_EBUSY:
        return "database busy";
    case CDC_CAPTURE_EREFUSED:
        return "table cannot be captured";
    case CDC_CAPTURE_ENOTFOUND:
        return "table not found";
    case CDC_CAPTURE_ENOCAPTURE:
        return "capture not installed";
    case CDC_CAPTURE_EVERSION:
        return "capture installed by a newer version";
    case CDC_CAPTURE_EBEHIND:
        return "file behind the acknowledged position";
    }
    return "unknown error";
}

const char *cdc_capture_status_name(cdc_capture_status_t status)
{
    switch (status) {
    case CDC_CAPTURE_OK:
        return "ok";
    case CDC_CAPTURE_NEW_TABLE:
        return "new table";
    case CDC_CAPTURE_TRIGGERS_MISSING:
        return "triggers missing";
    case CDC_CAPTURE_SQL_CHANGED:
        return "sql changed";
    case CDC_CAPTURE_KEY_CHANGED:
        return "key changed";
    case CDC_CAPTURE_TRIGGERS_CHANGED:
        return "triggers changed";
    case CDC_CAPTURE_TABLE_DROPPED:
        return "table dropped";
    case CDC_CAPTURE_NOT_CONFIGURED:
        return "not configured";
    case CDC_CAPTURE_REFUSED:
        return "refused";
    }
    return "unknown";
}

int cdc_capture_status_needs_install(cdc_capture_status_t status)
{
    return status == CDC_CAPTURE_NEW_TABLE || status == CDC_CAPTURE_TRIGGERS_MISSING ||
           status == CDC_CAPTURE_SQL_CHANGED || status == CDC_CAPTURE_KEY_CHANGED ||
           status == CDC_CAPTURE_TRIGGERS_CHANGED;
}

void cdc_capture_report_destroy(cdc_capture_report_t *report)
{
    if (!report)
        return;
    for (size_t i = 0; i < report->n_tables; i++) {
        free(report->tables[i].table);
        free(report->tables[i].detail);
        free(report->tables[i].warning);
    }
    free(report->tables);
    free(report);
}

static cdc_capture_err_t err_from_rc(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? CDC_CAPTURE_EBUSY
                                                                      : CDC_CAPTURE_ESQLITE;
}

static cdc_capture_report_t *report_from_plan(const capture_plan_t *plan, int installing)
{
    cdc_capture_report_t *r = cdc_calloc(1, sizeof(*r));
    r->capture_present = plan->has_state;
    r->epoch = plan->epoch;
    r->key_width = plan->width;
    r->schema_version = plan->schema_version;
    r->n_tables = plan->n_tables;
    r->tables = cdc_calloc(plan->n_tables ? plan->n_tables : 1, sizeof(*r->tables));
    for (size_t i = 0; i < plan->n_tables; i++) {
        const capture_plan_table_t *t = &plan->tables[i];
        cdc_capture_table_t *o = &r->tables[i];
        o->table = cdc_strdup(t->name);
        o->status = t->status;
        o->detail = t->detail ? cdc_strdup(t->detail) : NULL;
        o->warning = t->ti && t->ti->warning ? cdc_strdup(t->ti->warning) : NULL;
        o->reinstalled = installing && cdc_capture_status_needs_install(t->status);
    }
    return r;
}

/* --- install ------------------------------------------------------------------------- */

typedef struct install_ctx_s {
    const capture_plan_t *plan;
    const cdc_capture_spec_t *spec;
    int64_t epoch; /* out: epoch after the transaction */
    int new_epoch; /* out */
    int width;     /* out */
} install_ctx_t;

static int exec_sql(sqlite3 *db, const char *sql, char *errstr, size_t errstr_size)
{
    return cdc_sqlite_exec(db, sql, sql, errstr, errstr_size);
}

static int exec_drop_trigger(sqlite3 *db, const char *name, char *errstr, size_t errstr_size)
{
    char *q = cdc_sqlite_quote_ident(name);
    char *sql = cdc_asprintf("DROP TRIGGER IF EXISTS %s", q);
    int rc = exec_sql(db, sql, errstr, errstr_size);
    free(sql);
    free(q);
    return rc;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out, char *errstr, size_t errstr_size)
{
    return cdc_sqlite_query_int64(db, sql, sql, out, errstr, errstr_size);
}

static int set_state(sqlite3 *db, const char *key, int64_t value, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = cdc_sqlite_prepare(db,
                                "INSERT OR REPLACE INTO \"_cdc_state\"(\"key\", value) "
                                "VALUES (?1, ?2)",
                                &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK
                           : cdc_sqlite_error(db, rc, "writing _cdc_state", errstr, errstr_size);
    sqlite3_finalize(st);
    return rc;
}

static int create_capture_tables(sqlite3 *db, const capture_plan_t *plan, int *width, char *errstr,
                                 size_t errstr_size)
{
    int rc = SQLITE_OK;
    if (!plan->has_state) {
        if ((rc = exec_sql(db, cdc_capture_sql_create_state(), errstr, errstr_size)) != SQLITE_OK ||
            (rc = set_state(db, "capture_version", CDC_CAPTURE_VERSION, errstr, errstr_size)) !=
                SQLITE_OK ||
            (rc = set_state(db, "epoch", 0, errstr, errstr_size)) != SQLITE_OK ||
            (rc = set_state(db, "seq_floor", 0, errstr, errstr_size)) != SQLITE_OK ||
            (rc = set_state(db, "acked_epoch", 0, errstr, errstr_size)) != SQLITE_OK ||
            (rc = set_state(db, "acked_seq", 0, errstr, errstr_size)) != SQLITE_OK)
            return rc;
    }
    if (!plan->has_tables &&
        (rc = exec_sql(db, cdc_capture_sql_create_tables(), errstr, errstr_size)) != SQLITE_OK)
        return rc;
    *width = plan->width;
    if (!plan->has_changes) {
        char *sql = cdc_capture_sql_create_changes(plan->needed_width);
        rc = exec_sql(db, sql, errstr, errstr_size);
        free(sql);
        *width = plan->needed_width;
    }
    /* Widening adds columns at the end: existing triggers name their columns, so they
     * keep working and leave the new columns NULL. */
    for (; rc == SQLITE_OK && *width < plan->needed_width; (*width)++) {
        char *sql = cdc_asprintf("ALTER TABLE \"_cdc_changes\" ADD COLUMN k%d", *width + 1);
        rc = exec_sql(db, sql, errstr, errstr_size);
        free(sql);
    }
    if (rc == SQLITE_OK)
        rc = set_state(db, "key_width", *width, errstr, errstr_size);
    if (rc == SQLITE_OK)
        rc = set_state(db, "capture_version", CDC_CAPTURE_VERSION, errstr, errstr_size);
    return rc;
}

static int remove_table(sqlite3 *db, const capture_plan_table_t *t, char *errstr,
                        size_t errstr_size)
{
    int rc = SQLITE_OK;
    for (int k = 0; k < CDC_TRIGGER_KINDS && rc == SQLITE_OK; k++) {
        char *name = cdc_capture_sql_trigger_name(t->name, (cdc_trigger_kind_t)k);
        rc = exec_drop_trigger(db, name, errstr, errstr_size);
        free(name);
    }
    if (rc != SQLITE_OK || !t->has_record)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = cdc_sqlite_prepare(db, "DELETE FROM \"_cdc_tables\" WHERE tbl=?1", &st, errstr,
                            errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE
             ? SQLITE_OK
             : cdc_sqlite_error(db, rc, "deleting from _cdc_tables", errstr, errstr_size);
    sqlite3_finalize(st);
    return rc;
}

static int install_table(sqlite3 *db, const capture_plan_table_t *t, int64_t epoch, int64_t high,
                         char *errstr, size_t errstr_size)
{
    static const char *const kind_name[] = {"primary", "rowid", "config"};
    int rc = SQLITE_OK;
    for (int k = 0; k < CDC_TRIGGER_KINDS && rc == SQLITE_OK; k++)
        rc = exec_drop_trigger(db, t->trig_name[k], errstr, errstr_size);
    for (int k = 0; k < CDC_TRIGGER_KINDS && rc == SQLITE_OK; k++)
        rc = exec_sql(db, t->trig_sql[k], errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    /* Log rows written under another key shape must not be read with this one. */
    int64_t key_since =
        t->has_record && t->record_key_cols && strcmp(t->record_key_cols, t->key_list) == 0
            ? t->record_key_since
            : high;
    sqlite3_stmt *st = NULL;
    rc = cdc_sqlite_prepare(db,
                            "INSERT OR REPLACE INTO \"_cdc_tables\"(tbl, sql, key_kind, "
                            "key_cols, key_count, key_since, installed_epoch, installed_at, "
                            "capture_version) VALUES (?1,?2,?3,?4,?5,?6,?7,julianday('now'),?8)",
                            &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, t->ti->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->ti->sql, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind_name[t->ti->key_kind], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, t->key_list, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)t->ti->n_keys);
    sqlite3_bind_int64(st, 6, key_since);
    sqlite3_bind_int64(st, 7, epoch);
    sqlite3_bind_int(st, 8, CDC_CAPTURE_VERSION);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK
                           : cdc_sqlite_error(db, rc, "writing _cdc_tables", errstr, errstr_size);
    sqlite3_finalize(st);
    return rc;
}

static int install_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    install_ctx_t *ctx = arg;
    const capture_plan_t *plan = ctx->plan;
    int64_t version, high = 0, epoch = 0;
    int rc = cdc_sqlite_schema_version(db, &version, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    if (version != plan->schema_version)
        return SQLITE_SCHEMA; /* planned on an older schema: plan again */
    if ((rc = create_capture_tables(db, plan, &ctx->width, errstr, errstr_size)) != SQLITE_OK)
        return rc;
    for (size_t i = 0; i < plan->n_stale && rc == SQLITE_OK; i++)
        rc = exec_drop_trigger(db, plan->stale[i], errstr, errstr_size);
    /* The triggers let INTEGER PRIMARY KEY number the log: it must not restart below
     * seq_floor in a log that capture_version 1 pruned to empty. */
    if (rc == SQLITE_OK)
        rc = exec_sql(db, cdc_capture_sql_floor_row(), errstr, errstr_size);
    if (rc != SQLITE_OK ||
        (rc = query_int(db, cdc_capture_sql_high_water(), &high, errstr, errstr_size)) !=
            SQLITE_OK ||
        (rc = query_int(db,
                        "SELECT coalesce((SELECT value FROM \"_cdc_state\" "
                        "WHERE \"key\"='epoch'),0)",
                        &epoch, errstr, errstr_size)) != SQLITE_OK)
        return rc;
    int installs = !plan->has_state;
    for (size_t i = 0; i < plan->n_tables; i++)
        installs |= cdc_capture_status_needs_install(plan->tables[i].status);
    ctx->new_epoch = installs;
    if (installs) {
        epoch = (epoch > ctx->spec->min_epoch ? epoch : ctx->spec->min_epoch) + 1;
        if ((rc = set_state(db, "epoch", epoch, errstr, errstr_size)) != SQLITE_OK)
            return rc;
    }
    ctx->epoch = epoch;
    for (size_t i = 0; i < plan->n_tables && rc == SQLITE_OK; i++) {
        const capture_plan_table_t *t = &plan->tables[i];
        if (cdc_capture_status_needs_install(t->status))
            rc = install_table(db, t, epoch, high, errstr, errstr_size);
        else if (t->status == CDC_CAPTURE_NOT_CONFIGURED || t->status == CDC_CAPTURE_TABLE_DROPPED)
            rc = remove_table(db, t, errstr, errstr_size);
    }
    return rc;
}

static void log_install(sqlite3 *db, const cdc_capture_report_t *r)
{
    size_t reinstalled = 0;
    for (size_t i = 0; i < r->n_tables; i++) {
        const cdc_capture_table_t *t = &r->tables[i];
        if (t->warning)
            cdc_log_warn("%s: %s", cdc_sqlite_path(db), t->warning);
        if (t->reinstalled) {
            reinstalled++;
            cdc_log_info("%s: capture installed on table \"%s\" (%s)", cdc_sqlite_path(db),
                         t->table, cdc_capture_status_name(t->status));
        } else if (t->status == CDC_CAPTURE_NOT_CONFIGURED ||
                   t->status == CDC_CAPTURE_TABLE_DROPPED) {
            cdc_log_info("%s: capture removed from table \"%s\" (%s)", cdc_sqlite_path(db),
                         t->table, cdc_capture_status_name(t->status));
        }
    }
    cdc_log_info("%s: capture epoch %lld%s, %zu table(s) (re)installed, write lock held "
                 "%.2f ms (%d attempt(s), %d busy)",
                 cdc_sqlite_path(db), (long long)r->epoch, r->new_epoch ? " (new)" : "",
                 reinstalled, r->tx.hold_ms, r->tx.attempts, r->tx.busy_retries);
}

cdc_capture_err_t cdc_capture_install(sqlite3 *db, const cdc_capture_spec_t *spec,
                                      cdc_capture_report_t **out, char *errstr, size_t errstr_size)
{
    capture_plan_t plan = {0};
    cdc_capture_report_t *report = NULL;
    cdc_sqlite_txstats_t stats = {0};
    cdc_capture_err_t err = CDC_CAPTURE_EOK;
    int timeout = spec->lock_timeout_ms > 0 ? spec->lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS;
    double start = cdc_sqlite_now_ms();
    if (out)
        *out = NULL;
    for (int attempt = 0;; attempt++) {
        cdc_capture_plan_free(&plan);
        err = cdc_capture_plan_build(db, spec, &plan, errstr, errstr_size);
        if (err == CDC_CAPTURE_EBUSY && cdc_sqlite_now_ms() - start < (double)timeout) {
            attempt--;
            continue; /* the read already waited for the connection's busy timeout */
        }
        if (err != CDC_CAPTURE_EOK)
            goto out;
        if (plan.refused) {
            snprintf(errstr, errstr_size, "%s", plan.refused);
            err = CDC_CAPTURE_EREFUSED;
            goto out;
        }
        if (plan.missing) {
            snprintf(errstr, errstr_size, "%s", plan.missing);
            err = CDC_CAPTURE_ENOTFOUND;
            goto out;
        }
        report = report_from_plan(&plan, 1);
        if (!cdc_capture_plan_needs_write(&plan))
            goto out;
        install_ctx_t ctx = {.plan = &plan, .spec = spec};
        int rc = cdc_sqlite_write_tx(db, timeout, install_tx, &ctx, &stats, errstr, errstr_size);
        if (rc == SQLITE_SCHEMA && attempt + 1 < MAX_REPLANS) {
            cdc_capture_report_destroy(report);
            report = NULL;
            continue;
        }
        if (rc != SQLITE_OK) {
            if (rc == SQLITE_SCHEMA)
                snprintf(errstr, errstr_size,
                         "%s: the schema changed %d times while capture was being installed",
                         cdc_sqlite_path(db), MAX_REPLANS);
            err = err_from_rc(rc);
            goto out;
        }
        report->epoch = ctx.epoch;
        report->new_epoch = ctx.new_epoch;
        report->key_width = ctx.width;
        report->capture_present = 1;
        report->tx = stats;
        log_install(db, report);
        goto out;
    }
out:
    cdc_capture_plan_free(&plan);
    if (err != CDC_CAPTURE_EOK) {
        cdc_capture_report_destroy(report);
        report = NULL;
    }
    if (out)
        *out = report;
    else
        cdc_capture_report_destroy(report);
    return err;
}

cdc_capture_err_t cdc_capture_check(sqlite3 *db, const cdc_capture_spec_t *spec,
                                    cdc_capture_report_t **out, char *errstr, size_t errstr_size)
{
    capture_plan_t plan = {0};
    *out = NULL;
    cdc_capture_err_t err = cdc_capture_plan_build(db, spec, &plan, errstr, errstr_size);
    if (err == CDC_CAPTURE_EOK)
        *out = report_from_plan(&plan, 0);
    cdc_capture_plan_free(&plan);
    return err;
}

/* --- uninstall ----------------------------------------------------------------------- */

typedef struct uninstall_ctx_s {
    size_t dropped;
} uninstall_ctx_t;

/* Lists _cdc_ objects of one type; drops happen after the listing statement is done
 * (a pending read of sqlite_master would make DROP fail with "table is locked"). */
static int list_objects(sqlite3 *db, const char *type, char ***names, size_t *n, char *errstr,
                        size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    int rc = cdc_sqlite_prepare(db,
                                "SELECT name FROM main.sqlite_master WHERE type=?1 "
                                "AND name LIKE '\\_cdc\\_%' ESCAPE '\\' ORDER BY name",
                                &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = cdc_realloc(*names, cap * sizeof(char *));
        }
        (*names)[(*n)++] = cdc_strdup((const char *)sqlite3_column_text(st, 0));
    }
    rc = rc == SQLITE_DONE ? SQLITE_OK
                           : cdc_sqlite_error(db, rc, "listing _cdc_ objects", errstr, errstr_size);
    sqlite3_finalize(st);
    return rc;
}

static int count_objects(sqlite3 *db, const char *type, size_t *n, char *errstr, size_t errstr_size)
{
    char **names = NULL;
    int rc = list_objects(db, type, &names, n, errstr, errstr_size);
    for (size_t i = 0; i < *n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int uninstall_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    uninstall_ctx_t *ctx = arg;
    static const char *const types[] = {"trigger", "table"};
    int rc = SQLITE_OK;
    ctx->dropped = 0;
    for (size_t t = 0; t < 2 && rc == SQLITE_OK; t++) {
        char **names = NULL;
        size_t n = 0;
        rc = list_objects(db, types[t], &names, &n, errstr, errstr_size);
        for (size_t i = 0; i < n; i++) {
            if (rc == SQLITE_OK) {
                char *q = cdc_sqlite_quote_ident(names[i]);
                char *sql = cdc_asprintf("DROP %s IF EXISTS %s", t == 0 ? "TRIGGER" : "TABLE", q);
                rc = exec_sql(db, sql, errstr, errstr_size);
                ctx->dropped++;
                free(sql);
                free(q);
            }
            free(names[i]);
        }
        free(names);
    }
    return rc;
}

cdc_capture_err_t cdc_capture_uninstall(sqlite3 *db, int lock_timeout_ms,
                                        cdc_sqlite_txstats_t *stats, char *errstr,
                                        size_t errstr_size)
{
    size_t n_tables = 0, n_triggers = 0;
    int rc = count_objects(db, "table", &n_tables, errstr, errstr_size);
    if (rc == SQLITE_OK)
        rc = count_objects(db, "trigger", &n_triggers, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return err_from_rc(rc);
    if (n_tables == 0 && n_triggers == 0)
        return CDC_CAPTURE_EOK; /* nothing installed: no write at all */
    uninstall_ctx_t ctx = {0};
    cdc_sqlite_txstats_t local = {0};
    cdc_sqlite_txstats_t *st = stats ? stats : &local;
    rc = cdc_sqlite_write_tx(db, lock_timeout_ms > 0 ? lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS,
                             uninstall_tx, &ctx, st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return err_from_rc(rc);
    cdc_log_info("%s: capture removed (%zu object(s)), write lock held %.2f ms",
                 cdc_sqlite_path(db), ctx.dropped, st->hold_ms);
    return CDC_CAPTURE_EOK;
}

int cdc_capture_installed(sqlite3 *db, char *errstr, size_t errstr_size)
{
    return cdc_sqlite_table_exists(db, CDC_CAPTURE_STATE, errstr, errstr_size);
}
