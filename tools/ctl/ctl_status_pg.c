/*
 * ctl_status_pg: what a domain's target database says about it (docs/status.md): stored
 * offsets and when they last moved, the heartbeats the sink applied, open dead letters,
 * the validator's parity state and offsets, and the freeze rows of `cdc-ctl freeze`.
 *
 * Everything is read in one REPEATABLE READ, READ ONLY transaction, so offsets and
 * heartbeats come from one moment (the sink writes both in the same batch transaction).
 * The target database is read before Kafka: a high watermark read afterwards can only
 * make the lag look larger, never hide any.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "ctl.h"
#include "ctl_status_int.h"

/* The sink's DDL lock (sink_schema.c): creating _cdc_freeze under it never races the
 * sink's own CREATE TABLE IF NOT EXISTS on the catalog. */
#define CTL_DDL_LOCK "SELECT pg_advisory_xact_lock(28266710541855595)"

/* The freeze table (docs/status.md "Freeze position"): one row per frozen source, written
 * by `cdc-ctl freeze`, deleted by `cdc-ctl unfreeze`. */
static const char freeze_ddl[] =
    "CREATE TABLE IF NOT EXISTS _cdc_freeze (domain text NOT NULL, source text NOT NULL,"
    " epoch bigint NOT NULL, position bigint NOT NULL,"
    " frozen_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (domain, source))";

enum { T_OFFSETS, T_HEARTBEATS, T_DEAD, T_PSTATE, T_PMISM, T_OUTBOX, T_VOFFSETS, T_FREEZE, T_N };
static const char *const table_names[T_N] = {
    "_cdc_offsets",           "_cdc_heartbeats",    "_cdc_dead_letters",      "_cdc_parity_state",
    "_cdc_parity_mismatches", "_cdc_parity_outbox", "_cdc_validator_offsets", "_cdc_freeze",
};

static int64_t num(const PGresult *r, int row, int col, int64_t dflt)
{
    return PQgetisnull(r, row, col) ? dflt : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double dnum(const PGresult *r, int row, int col, double dflt)
{
    return PQgetisnull(r, row, col) ? dflt : strtod(PQgetvalue(r, row, col), NULL);
}

/* Runs a query that returns rows; NULL (with the error added to dom->errors) on failure. */
static PGresult *query(PGconn *conn, cdc_ctl_domain_t *dom, const char *what, const char *sql,
                       int n, const char *const *params)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    cdc_ctl_reasons_add(&dom->errors, "target of domain %s: reading %s: %s", dom->conf->name, what,
                        PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
}

/* Creates _cdc_freeze when absent. A role that may not create it only loses the freeze
 * rows (nothing is frozen then), which DRAINED reports. */
static int ensure_freeze_table(PGconn *conn, cdc_ctl_domain_t *dom)
{
    PGresult *r = PQexec(conn, "BEGIN");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    PQclear(r);
    if (ok) {
        r = PQexec(conn, CTL_DDL_LOCK);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
    }
    if (ok) {
        r = PQexec(conn, freeze_ddl);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            cdc_ctl_reasons_add(&dom->not_drained, "cannot create _cdc_freeze in the target: %s",
                                PQresultErrorMessage(r));
        PQclear(r);
    }
    PQclear(PQexec(conn, ok ? "COMMIT" : "ROLLBACK"));
    return ok;
}

static void read_offsets(PGconn *conn, cdc_ctl_domain_t *dom)
{
    const char *p[2] = {dom->conf->name, dom->topic};
    PGresult *r = query(conn, dom, "_cdc_offsets",
                        "SELECT kpartition, next_offset,"
                        " extract(epoch FROM clock_timestamp() - updated_at)"
                        " FROM _cdc_offsets WHERE domain = $1 AND topic = $2",
                        2, p);

    if (r == NULL)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t part = num(r, i, 0, -1);
        double since = dnum(r, i, 2, -1);

        if (part < 0 || part >= dom->nparts)
            continue; /* a partition the config no longer has */
        dom->parts[part].stored = num(r, i, 1, -1);
        dom->parts[part].since_apply_s = since < 0 ? 0 : since;
        if (dom->last_apply_s < 0 || dom->parts[part].since_apply_s < dom->last_apply_s)
            dom->last_apply_s = dom->parts[part].since_apply_s;
    }
    PQclear(r);
}

static void read_heartbeats(PGconn *conn, cdc_ctl_domain_t *dom)
{
    const char *p[1] = {dom->conf->name};
    PGresult *r =
        query(conn, dom, "_cdc_heartbeats",
              "SELECT source, kpartition, coalesce(epoch, 0), coalesce(acked_position, 0),"
              " coalesce(backlog_entries, 0), coalesce(oldest_unacked_age_ms, 0),"
              " (extract(epoch FROM producer_ts) * 1000)::bigint"
              " FROM _cdc_heartbeats WHERE domain = $1",
              1, p);

    if (r == NULL)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        cdc_ctl_source_t *s = cdc_ctl_domain_source(dom, PQgetvalue(r, i, 0));
        int64_t part = num(r, i, 1, -1);
        cdc_ctl_hb_t *hb;

        if (s == NULL || part < 0 || part >= dom->nparts)
            continue; /* a source or partition the config no longer has */
        hb = &s->hb_applied[part];
        hb->present = 1;
        hb->epoch = num(r, i, 2, 0);
        hb->acked_position = num(r, i, 3, 0);
        hb->backlog_entries = num(r, i, 4, 0);
        hb->oldest_unacked_age_ms = num(r, i, 5, 0);
        hb->producer_ts_ms = num(r, i, 6, 0);
    }
    PQclear(r);
}

static void read_dead_letters(PGconn *conn, cdc_ctl_domain_t *dom)
{
    const char *p[1] = {dom->conf->name};
    PGresult *r = query(conn, dom, "_cdc_dead_letters",
                        "SELECT count(*), extract(epoch FROM clock_timestamp() - min(created_at))"
                        " FROM _cdc_dead_letters WHERE domain = $1 AND resolved_at IS NULL",
                        1, p);

    if (r == NULL)
        return;
    dom->dead_letters_open = num(r, 0, 0, 0);
    dom->dead_letter_oldest_s = dnum(r, 0, 1, -1);
    PQclear(r);
}

static void read_parity(PGconn *conn, cdc_ctl_domain_t *dom, const int *have, const char *vtopic)
{
    const char *p[2] = {dom->conf->name, vtopic};
    PGresult *r;

    if (have[T_PSTATE]) {
        r = query(conn, dom, "_cdc_parity_state",
                  "SELECT coalesce(sum(rows_seen), 0), coalesce(sum(matches), 0),"
                  " coalesce(sum(superseded), 0), coalesce(sum(mismatches), 0),"
                  " coalesce(sum(dead_letters), 0) FROM _cdc_parity_state WHERE domain = $1",
                  1, p);
        if (r != NULL) {
            dom->rows_seen = num(r, 0, 0, 0);
            dom->matches = num(r, 0, 1, 0);
            dom->superseded = num(r, 0, 2, 0);
            dom->mismatches_total = num(r, 0, 3, 0);
            dom->parity_dead_letters = num(r, 0, 4, 0);
            PQclear(r);
        }
    }
    if (have[T_PMISM]) {
        r = query(conn, dom, "_cdc_parity_mismatches",
                  "SELECT count(*) FROM _cdc_parity_mismatches"
                  " WHERE domain = $1 AND resolved_at IS NULL",
                  1, p);
        if (r != NULL) {
            dom->mismatches_open = num(r, 0, 0, 0);
            PQclear(r);
        }
    }
    if (have[T_OUTBOX]) {
        r = query(conn, dom, "_cdc_parity_outbox",
                  /* A row stands for `results` results (docs/parity.md). */
                  "SELECT coalesce(sum(results), 0),"
                  " extract(epoch FROM clock_timestamp() - min(created_at))"
                  " FROM _cdc_parity_outbox WHERE domain = $1 AND NOT sent",
                  1, p);
        if (r != NULL) {
            dom->outbox_unsent = num(r, 0, 0, 0);
            dom->outbox_oldest_s = dnum(r, 0, 1, -1);
            PQclear(r);
        }
    }
    if (have[T_VOFFSETS]) {
        r = query(conn, dom, "_cdc_validator_offsets",
                  "SELECT kpartition, next_offset FROM _cdc_validator_offsets"
                  " WHERE domain = $1 AND topic = $2",
                  2, p);
        if (r != NULL) {
            for (int i = 0; i < PQntuples(r); i++) {
                int64_t part = num(r, i, 0, -1);

                if (part >= 0 && part < dom->nvparts) {
                    dom->vstored[part] = num(r, i, 1, -1);
                    dom->validator_stored = 1;
                }
            }
            PQclear(r);
        }
    }
    dom->parity_known = have[T_PSTATE] && have[T_VOFFSETS] && dom->validator_stored;
}

static void read_freeze(PGconn *conn, cdc_ctl_domain_t *dom)
{
    const char *p[1] = {dom->conf->name};
    PGresult *r = query(conn, dom, "_cdc_freeze",
                        "SELECT source, epoch, position,"
                        " to_char(frozen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                        " FROM _cdc_freeze WHERE domain = $1",
                        1, p);

    if (r == NULL)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        cdc_ctl_source_t *s = cdc_ctl_domain_source(dom, PQgetvalue(r, i, 0));

        if (s == NULL)
            continue;
        s->frozen = 1;
        s->freeze_epoch = num(r, i, 1, 0);
        s->freeze_position = num(r, i, 2, 0);
        free(s->frozen_at);
        s->frozen_at = cdc_strdup(PQgetvalue(r, i, 3));
    }
    PQclear(r);
}

void cdc_ctl_status_read_pg(const cdc_config_t *conf, cdc_ctl_domain_t *dom)
{
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {dom->conf->target, "5", "cdc-ctl status", NULL};
    char *vtopic = cdc_asprintf("%s.validation", conf->topic_prefix);
    int have[T_N] = {0};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    PGresult *r = NULL;

    if (PQstatus(conn) != CONNECTION_OK) {
        cdc_ctl_reasons_add(&dom->errors, "target of domain %s: cannot connect: %s",
                            dom->conf->name, PQerrorMessage(conn));
        goto out;
    }
    PQclear(PQexec(conn, "SET statement_timeout = 10000"));
    r = query(conn, dom, "the catalog",
              "SELECT to_regclass('_cdc_offsets') IS NOT NULL,"
              " to_regclass('_cdc_heartbeats') IS NOT NULL,"
              " to_regclass('_cdc_dead_letters') IS NOT NULL,"
              " to_regclass('_cdc_parity_state') IS NOT NULL,"
              " to_regclass('_cdc_parity_mismatches') IS NOT NULL,"
              " to_regclass('_cdc_parity_outbox') IS NOT NULL,"
              " to_regclass('_cdc_validator_offsets') IS NOT NULL,"
              " to_regclass('_cdc_freeze') IS NOT NULL",
              0, NULL);
    if (r == NULL)
        goto out;
    for (int i = 0; i < T_N; i++)
        have[i] = PQgetvalue(r, 0, i)[0] == 't';
    PQclear(r);
    r = NULL;
    if (!have[T_FREEZE]) {
        have[T_FREEZE] = ensure_freeze_table(conn, dom);
    }
    /* The producer's dead letters are only on <prefix>.<domain>.dlq: import them first
     * (docs/operate.md "cdc-ctl dlq") so the count below includes them. The sink's metadata
     * DDL creates _cdc_dead_letters together with the outbox and tombstones sync reads. */
    if (have[T_DEAD] && have[T_OUTBOX]) {
        char err[1024];
        long n = ctl_dlq_sync(conf, dom->conf->name, conn, err, sizeof err);
        if (n < 0)
            cdc_ctl_reasons_add(&dom->errors,
                                "domain %s: importing the producer's dead letters: %s",
                                dom->conf->name, err);
        else if (n > 0)
            cdc_log_info("domain %s: %ld producer dead letter(s) imported", dom->conf->name, n);
    }
    /* One snapshot for every read below. */
    PQclear(PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    if (have[T_OFFSETS])
        read_offsets(conn, dom);
    if (have[T_HEARTBEATS])
        read_heartbeats(conn, dom);
    if (have[T_DEAD])
        read_dead_letters(conn, dom);
    read_parity(conn, dom, have, vtopic);
    if (have[T_FREEZE])
        read_freeze(conn, dom);
    PQclear(PQexec(conn, "COMMIT"));
    for (int i = 0; i < T_N; i++)
        if (!have[i])
            cdc_log_debug("domain %s: %s is not in the target yet", dom->conf->name,
                          table_names[i]);
out:
    PQfinish(conn);
    free(vtopic);
}
