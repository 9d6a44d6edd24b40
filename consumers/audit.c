/*
 * audit: cdc_audit_run, the walk over domains, sources and captured tables
 * (audit.h; the method is in docs/audit.md). Each domain gets one target connection;
 * each source file is opened read-only once; each table is compared by audit_compare.c;
 * then the domain's checks run. Results are collected (bounded per table) and reported
 * at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "cdc_alloc.h"
#include "cdc_log.h"

void cdc_audit_opts_init(cdc_audit_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->max_keys = 100;
    opts->chunk_rows = 2000;
    opts->recheck = 1;
}

static void add_error(audit_report_t *r, char *msg)
{
    cdc_log_mask_secrets(msg);
    cdc_log_error("audit: %s", msg);
    r->errors = cdc_realloc(r->errors, (r->nerrors + 1) * sizeof *r->errors);
    r->errors[r->nerrors++] = msg;
}

static audit_tres_t *new_table(audit_report_t *r, const char *domain, const char *source,
                               const char *table)
{
    audit_tres_t *t;
    r->tables = cdc_realloc(r->tables, (r->ntables + 1) * sizeof *r->tables);
    t = &r->tables[r->ntables++];
    memset(t, 0, sizeof *t);
    t->domain = cdc_strdup(domain);
    t->source = cdc_strdup(source);
    t->table = cdc_strdup(table);
    return t;
}

static void audit_source(const cdc_source_t *src, PGconn *conn, const cdc_audit_opts_t *opts,
                         audit_report_t *r)
{
    sqlite3 *db = NULL;
    char **names = NULL;
    size_t n = 0;
    char err[1024];

    if (audit_src_open(src, &db, err, sizeof err) < 0 ||
        audit_src_tables(db, src, opts->table, &names, &n, err, sizeof err) < 0) {
        add_error(r, cdc_strdup(err));
        goto out;
    }
    if (opts->table != NULL && n == 0)
        add_error(r, cdc_asprintf("source %s (%s): table %s is not captured", src->name, src->path,
                                  opts->table));
    for (size_t i = 0; i < n; i++) {
        audit_table_t *t = NULL;
        audit_tres_t *res = new_table(r, src->domain, src->name, names[i]);
        if (audit_table_new(db, src, names[i], &t, err, sizeof err) < 0) {
            res->target = cdc_strdup("?");
            res->error = cdc_strdup(err);
            res->status = AUDIT_T_ERROR;
            cdc_log_error("audit: %s", err);
            continue;
        }
        res->target = cdc_strdup(t->target);
        cdc_log_info("audit: %s %s.%s -> %s", src->domain, src->name, t->table, t->target);
        if (audit_compare_table(db, conn, t, opts, res) < 0)
            cdc_log_error("audit: source %s table %s: %s", src->name, t->table, res->error);
        else
            cdc_log_info("audit: %s.%s: %s (%llu rows source, %llu target)", src->name, t->table,
                         audit_tstatus_name(res->status), (unsigned long long)res->s.rows,
                         (unsigned long long)res->g.rows);
        audit_table_free(t);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    sqlite3_close(db);
}

static void audit_domain(const cdc_config_t *conf, const cdc_domain_t *d,
                         const cdc_audit_opts_t *opts, audit_report_t *r)
{
    char err[1024];
    PGconn *conn = audit_tgt_connect(d->target, err, sizeof err);

    if (conn == NULL) {
        add_error(r, cdc_asprintf("domain %s: %s", d->name, err));
        return;
    }
    for (size_t i = 0; i < conf->n_sources; i++) {
        const cdc_source_t *src = &conf->sources[i];
        if (strcmp(src->domain, d->name) != 0 ||
            (opts->source != NULL && strcmp(opts->source, src->name) != 0))
            continue;
        audit_source(src, conn, opts, r);
    }
    for (size_t i = 0; !opts->skip_checks && i < conf->n_checks; i++) {
        const cdc_check_t *c = &conf->checks[i];
        if (strcmp(c->domain, d->name) != 0 ||
            (opts->source != NULL && strcmp(opts->source, c->source) != 0))
            continue;
        r->checks = cdc_realloc(r->checks, (r->nchecks + 1) * sizeof *r->checks);
        audit_check_run(conf, c, conn, &r->checks[r->nchecks++]);
    }
    PQfinish(conn);
}

int cdc_audit_run(const cdc_config_t *conf, const cdc_audit_opts_t *opts, FILE *out, char *errstr,
                  size_t errstr_size)
{
    audit_report_t r;
    int result = CDC_AUDIT_MATCH;
    const char *first_error = NULL;

    memset(&r, 0, sizeof r);
    if (opts->domain != NULL && cdc_config_domain(conf, opts->domain) == NULL) {
        snprintf(errstr, errstr_size, "--domain %s: no such domain in %s", opts->domain,
                 conf->path ? conf->path : "the config");
        return CDC_AUDIT_USAGE;
    }
    if (opts->source != NULL) {
        const cdc_source_t *s = cdc_config_source(conf, opts->source);
        if (s == NULL || (opts->domain != NULL && strcmp(s->domain, opts->domain) != 0)) {
            snprintf(errstr, errstr_size, "--source %s: no such source%s%s in %s", opts->source,
                     opts->domain ? " in domain " : "", opts->domain ? opts->domain : "",
                     conf->path ? conf->path : "the config");
            return CDC_AUDIT_USAGE;
        }
    }
    for (size_t i = 0; i < conf->n_domains; i++)
        if (opts->domain == NULL || strcmp(opts->domain, conf->domains[i].name) == 0)
            audit_domain(conf, &conf->domains[i], opts, &r);

    for (size_t i = 0; i < r.ntables; i++) {
        if (r.tables[i].status == AUDIT_T_ERROR && first_error == NULL)
            first_error = r.tables[i].error;
        if (r.tables[i].status == AUDIT_T_DIFFER && result == CDC_AUDIT_MATCH)
            result = CDC_AUDIT_DIFFER;
    }
    for (size_t i = 0; i < r.nchecks; i++) {
        if (r.checks[i].error != NULL && first_error == NULL)
            first_error = r.checks[i].error;
        if (r.checks[i].error == NULL && !r.checks[i].ok && result == CDC_AUDIT_MATCH)
            result = CDC_AUDIT_DIFFER;
    }
    if (r.nerrors > 0 && first_error == NULL)
        first_error = r.errors[0];
    if (first_error != NULL) {
        result = CDC_AUDIT_ERROR;
        snprintf(errstr, errstr_size, "%s", first_error);
    }
    if (opts->json)
        audit_report_json(&r, result, out);
    else
        audit_report_human(&r, result, out);
    fflush(out);

    for (size_t i = 0; i < r.ntables; i++)
        audit_tres_free(&r.tables[i]);
    free(r.tables);
    for (size_t i = 0; i < r.nchecks; i++)
        audit_cres_free(&r.checks[i]);
    free(r.checks);
    for (size_t i = 0; i < r.nerrors; i++)
        free(r.errors[i]);
    free(r.errors);
    return result;
}
