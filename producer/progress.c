#include "progress.h"

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "sqlite_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIVE_INTERVAL_MS 100.0

struct cdc_progress_s {
    char *source;
    char *table;
    int64_t total;
    double interval_ms;
    double start_ms;
    double last_report_ms;
    uint64_t done;
    FILE *out;
    int is_tty;
};

const char *cdc_progress_method_name(cdc_progress_method_t m)
{
    switch (m) {
    case CDC_PROGRESS_EXACT:
        return "count";
    case CDC_PROGRESS_STAT1:
        return "sqlite_stat1";
    case CDC_PROGRESS_ROWID:
        return "rowid range";
    case CDC_PROGRESS_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}

/* Runs a one-value query with `name` bound to ?1 (if given); *out = -1 for NULL. */
static int query_int(sqlite3 *db, const char *sql, const char *name, int64_t *out, char *errstr,
                     size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    *out = -1;
    int rc = cdc_sqlite_prepare(db, sql, &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    } else {
        cdc_sqlite_error(db, rc, sql, errstr, errstr_size);
    }
    sqlite3_finalize(st);
    return rc;
}

int cdc_progress_estimate(sqlite3 *db, const cdc_table_info_t *ti, int64_t *total,
                          cdc_progress_method_t *method, char *errstr, size_t errstr_size)
{
    int64_t v = -1;
    int result = -1;
    char *sql = NULL;
    char *q = cdc_sqlite_quote_ident(ti->name);
    *total = -1;
    *method = CDC_PROGRESS_UNKNOWN;
    sql = cdc_asprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d)", q,
                       CDC_PROGRESS_COUNT_CAP + 1);
    if (query_int(db, sql, NULL, &v, errstr, errstr_size) != SQLITE_OK)
        goto out;
    if (v <= CDC_PROGRESS_COUNT_CAP) {
        *total = v;
        *method = CDC_PROGRESS_EXACT;
        result = 0;
        goto out;
    }
    int stat1 = cdc_sqlite_table_exists(db, "sqlite_stat1", errstr, errstr_size);
    if (stat1 < 0)
        goto out;
    if (stat1) {
        /* stat column: "<rows> <rows per distinct prefix>..."; the first number is the
         * table's (or index's) row count. idx NULL is the table itself. */
        if (query_int(db,
                      "SELECT max(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = ?1 "
                      "COLLATE NOCASE",
                      ti->name, &v, errstr, errstr_size) != SQLITE_OK)
            goto out;
        if (v > 0) {
            *total = v;
            *method = CDC_PROGRESS_STAT1;
            result = 0;
            goto out;
        }
    }
    if (ti->kind == CDC_TABLE_ORDINARY) {
        free(sql);
        sql = cdc_asprintf("SELECT max(rowid) - min(rowid) + 1 FROM %s", q);
        if (query_int(db, sql, NULL, &v, errstr, errstr_size) != SQLITE_OK)
            goto out;
        if (v > 0) {
            *total = v;
            *method = CDC_PROGRESS_ROWID;
        }
    }
    result = 0;
out:
    free(sql);
    free(q);
    return result;
}

cdc_progress_t *cdc_progress_new(const char *source, const char *table, int64_t total,
                                 double interval_s)
{
    cdc_progress_t *p = cdc_calloc(1, sizeof(*p));
    p->source = cdc_strdup(source ? source : "");
    p->table = cdc_strdup(table ? table : "");
    p->total = total;
    p->interval_ms = (interval_s > 0 ? interval_s : 10.0) * 1000.0;
    p->start_ms = cdc_sqlite_now_ms();
    p->last_report_ms = p->start_ms;
    p->out = stderr;
    p->is_tty = isatty(STDERR_FILENO);
    return p;
}

void cdc_progress_destroy(cdc_progress_t *p)
{
    if (!p)
        return;
    free(p->source);
    free(p->table);
    free(p);
}

void cdc_progress_set_output(cdc_progress_t *p, FILE *out, int is_tty)
{
    p->out = out;
    p->is_tty = is_tty;
}

void cdc_progress_add(cdc_progress_t *p, uint64_t rows)
{
    p->done += rows;
}

uint64_t cdc_progress_done(const cdc_progress_t *p)
{
    return p->done;
}

int64_t cdc_progress_total(const cdc_progress_t *p)
{
    if (p->total < 0)
        return -1;
    return (uint64_t)p->total < p->done ? (int64_t)p->done : p->total;
}

double cdc_progress_rate(const cdc_progress_t *p)
{
    double s = (cdc_sqlite_now_ms() - p->start_ms) / 1000.0;
    return s > 0 ? (double)p->done / s : 0.0;
}

double cdc_progress_eta(const cdc_progress_t *p)
{
    int64_t total = cdc_progress_total(p);
    double rate = cdc_progress_rate(p);
    if (total < 0 || rate <= 0)
        return -1;
    return (double)((uint64_t)total - p->done) / rate;
}

/* 1234567 -> "1,234,567" */
static void thousands(uint64_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

static void duration(double s, char *buf, size_t size)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    else if (t >= 60)
        snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, size, "%lds", t);
}

void cdc_progress_format(const cdc_progress_t *p, char *buf, size_t size)
{
    char done[32], total_s[32], rate_s[32], eta_s[32];
    int64_t total = cdc_progress_total(p);
    double rate = cdc_progress_rate(p);
    double eta = cdc_progress_eta(p);
    thousands(p->done, done, sizeof(done));
    thousands((uint64_t)(rate + 0.5), rate_s, sizeof(rate_s));
    if (total < 0) {
        snprintf(buf, size, "%s %s: %s rows, %s rows/s", p->source, p->table, done, rate_s);
        return;
    }
    thousands((uint64_t)total, total_s, sizeof(total_s));
    int pct = total ? (int)((double)p->done * 100.0 / (double)total) : 100;
    if (eta < 0)
        snprintf(eta_s, sizeof(eta_s), "?");
    else
        duration(eta, eta_s, sizeof(eta_s));
    snprintf(buf, size, "%s %s: %s/~%s rows (%d%%), %s rows/s, ETA %s", p->source, p->table, done,
             total_s, pct, rate_s, eta_s);
}

void cdc_progress_report(cdc_progress_t *p, int final)
{
    double now = cdc_sqlite_now_ms();
    double every = p->is_tty ? LIVE_INTERVAL_MS : p->interval_ms;
    if (!final && now - p->last_report_ms < every)
        return;
    p->last_report_ms = now;
    char line[512];
    cdc_progress_format(p, line, sizeof(line));
    if (p->is_tty) {
        /* \033[K clears what a longer previous line left behind. */
        fprintf(p->out, "\r%s%s\033[K%s", line, final ? " done" : "", final ? "\n" : "");
        fflush(p->out);
    } else if (p->out == stderr) {
        cdc_log_info("snapshot progress: %s%s", line, final ? " (done)" : "");
    } else {
        fprintf(p->out, "snapshot progress: %s%s\n", line, final ? " (done)" : "");
        fflush(p->out);
    }
}
