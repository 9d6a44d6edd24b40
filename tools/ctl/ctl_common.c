/*
 * ctl_common: option handling, config, PostgreSQL, Kafka and SQLite handles shared by the
 * cdc-ctl subcommands (see ctl.h).
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

const char ctl_common_help[] = "  -c, --config FILE      pipeline config (YAML), required\n"
                               "      --log-level L      error, warn, info (default) or debug\n"
                               "      --log-format F     kv (default) or json\n"
                               "  -h, --help             this text\n";

const char ctl_freeze_ddl[] =
    "CREATE TABLE IF NOT EXISTS _cdc_freeze (domain text NOT NULL, source text NOT NULL,"
    " epoch bigint NOT NULL, position bigint NOT NULL,"
    " frozen_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (domain, source))";

int ctl_common_option(const char *prog, int c, const char *arg, const char **config_path)
{
    cdc_log_level_t level;
    cdc_log_format_t format;

    switch (c) {
    case 'c':
        *config_path = arg;
        return 1;
    case CTL_OPT_LOG_LEVEL:
        if (cdc_log_level_parse(arg, &level) < 0)
            return cdc_cli_usage_error(prog, "--log-level: \"%s\" is not error|warn|info|debug",
                                       arg);
        cdc_log_set_level(level);
        return 1;
    case CTL_OPT_LOG_FORMAT:
        if (cdc_log_format_parse(arg, &format) < 0)
            return cdc_cli_usage_error(prog, "--log-format: \"%s\" is not kv|json", arg);
        cdc_log_set_format(format);
        return 1;
    default:
        return 0;
    }
}

int ctl_getopt_error(const char *prog, int c, char **argv)
{
    extern int optind;
    if (c == ':')
        return cdc_cli_usage_error(prog, "option %s needs a value", argv[optind - 1]);
    return cdc_cli_usage_error(prog, "unknown option %s", argv[optind - 1]);
}

cdc_config_t *ctl_load_config(const char *prog, const char *path)
{
    char errstr[2048];
    cdc_config_t *conf;

    if (path == NULL) {
        cdc_cli_usage_error(prog, "-c/--config is required");
        return NULL;
    }
    conf = cdc_config_load(path, errstr, sizeof errstr);
    if (conf == NULL)
        fprintf(stderr, "%s: %s\n", prog, errstr);
    return conf;
}

const cdc_domain_t *ctl_domain(const char *prog, const cdc_config_t *conf, const char *name)
{
    const cdc_domain_t *d = cdc_config_domain(conf, name);
    if (d != NULL)
        return d;
    fprintf(stderr, "%s: domain \"%s\" is not in the config %s (domains:", prog, name, conf->path);
    for (size_t i = 0; i < conf->n_domains; i++)
        fprintf(stderr, " %s", conf->domains[i].name);
    fprintf(stderr, ")\n");
    return NULL;
}

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

int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
