/*
 * ctl_common: the PostgreSQL, Kafka and SQLite handles shared by the cdc-ctl subcommands
 * (see ctl.h).
 */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc_alloc.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "sink_pg.h"
#include "sqlite_util.h"

const char ctl_freeze_ddl[] =
    "CREATE TABLE IF NOT EXISTS _cdc_freeze (domain text NOT NULL, source text NOT NULL,"
    " epoch bigint NOT NULL, position bigint NOT NULL,"
    " frozen_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (domain, source))";

PGconn *ctl_pg_connect(const char *prog, const cdc_config_t *conf, const cdc_domain_t *d)
{
    char errstr[1024];
    PGconn *conn = cdc_sink_pg_connect(d->target, errstr, sizeof errstr);
    (void)conf;
    if (conn == NULL) {
        cdc_log_mask_secrets(errstr);
        fprintf(stderr, "%s: domain %s: cannot connect to its target: %s\n", prog, d->name, errstr);
    }
    return conn;
}

rd_kafka_t *ctl_kafka_admin(const cdc_config_t *conf, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc = cdc_kafka_conf_new(conf, CDC_KAFKA_PRODUCER, NULL, errstr, errstr_size);
    rd_kafka_t *rk;
    if (kc == NULL)
        return NULL;
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size);
    if (rk == NULL)
        rd_kafka_conf_destroy(kc);
    return rk;
}

rd_kafka_t *ctl_kafka_reader(const cdc_config_t *conf, const char *group_suffix, char *errstr,
                             size_t errstr_size)
{
    char *group = cdc_asprintf("%s.%s", conf->topic_prefix, group_suffix);
    rd_kafka_conf_t *kc = cdc_kafka_conf_new(conf, CDC_KAFKA_CONSUMER, group, errstr, errstr_size);
    rd_kafka_t *rk = NULL;

    free(group);
    if (kc == NULL)
        return NULL;
    if (rd_kafka_conf_set(kc, "enable.partition.eof", "true", errstr, errstr_size) !=
            RD_KAFKA_CONF_OK ||
        (rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size)) == NULL) {
        rd_kafka_conf_destroy(kc); /* rd_kafka_new takes it only on success */
        return NULL;
    }
    return rk;
}

char *ctl_domain_topic(const cdc_config_t *conf, const char *domain)
{
    return cdc_asprintf("%s.%s", conf->topic_prefix, domain);
}

sqlite3 *ctl_sqlite_open(const cdc_source_t *src, char *errstr, size_t errstr_size)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(src->path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s: cannot open %s: %s", src->name, src->path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 1000);
    return db;
}

int ctl_sqlite_drop_triggers(sqlite3 *db, const char *name_where, const char *kind, int *dropped,
                             char *errstr, size_t errstr_size)
{
    char *sql = cdc_asprintf("SELECT name FROM main.sqlite_master WHERE type = 'trigger' AND (%s)",
                             name_where);
    char what[128];
    sqlite3_stmt *st = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc;

    /* The names are read first and dropped after: DDL while a statement still reads
     * sqlite_master would be refused (SQLITE_LOCKED). */
    rc = cdc_sqlite_prepare(db, sql, &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        names = cdc_realloc(names, (n + 1) * sizeof *names);
        names[n++] = cdc_strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(what, sizeof what, "listing %s triggers", kind);
        rc = cdc_sqlite_error(db, rc, what, errstr, errstr_size);
        goto out;
    }
    rc = SQLITE_OK;
    snprintf(what, sizeof what, "dropping a %s trigger", kind);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        cdc_sqlbuf_t b;
        cdc_sqlbuf_init(&b);
        cdc_sqlbuf_append(&b, "DROP TRIGGER IF EXISTS ");
        cdc_sqlbuf_ident(&b, names[i]);
        rc = cdc_sqlite_exec(db, b.s, what, errstr, errstr_size);
        cdc_sqlbuf_free(&b);
        if (rc == SQLITE_OK)
            (*dropped)++;
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(sql);
    return rc;
}

int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
