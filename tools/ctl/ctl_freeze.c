/*
 * cdc-ctl freeze / unfreeze: the cutover's write stop in the source files.
 *
 * freeze installs, on every captured table (the rows of _cdc_tables) of the chosen source
 * files, three BEFORE INSERT/UPDATE/DELETE triggers `_cdc_freeze_<ins|upd|del>_<name>_<hash>`
 * (named like capture's own, docs/capture.md "Trigger names") whose body is
 * RAISE(ABORT, '<message>'): the application's statement fails with a message that says
 * why and how to roll back, and its transaction is untouched otherwise. In the same short
 * write transaction it records the freeze position - the change log's high-water mark
 * (epoch, H) read in that transaction - in _cdc_state (freeze_epoch, freeze_seq,
 * freeze_at), so every change the applications made before the freeze has a position
 * <= it, and DRAINED means "applied up to it". Running it again adds what is missing
 * (e.g. a table captured since) and keeps the first position: idempotent.
 *
 * unfreeze drops every `_cdc_freeze_` trigger and the freeze_* state keys, in one short
 * write transaction; again idempotent. Capture's uninstall removes every `_cdc_` object, so
 * it removes freeze triggers too.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "ctl.h"
#include "position.h"
#include "sink_pg.h"
#include "sqlite_util.h"

static const char *const kinds[3] = {"ins", "upd", "del"};
static const char *const events[3] = {"INSERT", "UPDATE", "DELETE"};

static void usage(FILE *out, const char *prog)
{
    fprintf(
        out,
        "Usage: %s -c CONFIG (--source NAME | --domain NAME)\n"
        "\n"
        "freeze: installs BEFORE INSERT/UPDATE/DELETE triggers (_cdc_freeze_*) on every\n"
        "captured table of the source file(s) (--domain: every source of the domain) that\n"
        "make application writes fail with\n"
        "  table T of source S is frozen for cutover by cdc-ctl freeze (since TIME, at\n"
        "  position EPOCH:SEQ): writes go to PostgreSQL now; run cdc-ctl unfreeze to roll back\n"
        "and records the freeze position (the change log's high-water mark, read in the same\n"
        "short write transaction) in the file's _cdc_state. Running it again adds missing\n"
        "triggers and keeps the first position.\n"
        "unfreeze: removes every freeze trigger and the recorded position.\n"
        "Runs where the SQLite files are; capture must be installed (the producer did).\n"
        "\n"
        "Output (stdout), one line per source:\n"
        "  source=S state=frozen|unfrozen epoch=E position=H since=TIME tables=N changed=K\n"
        "\n"
        "Options:\n"
        "%s"
        "      --source NAME      one source of the config\n"
        "      --domain NAME      every source of the domain\n"
        "\n"
        "Exit codes:\n"
        "  0  every source is frozen (unfrozen)\n"
        "  1  a source file could not be changed (missing, capture not installed, write\n"
        "     lock not obtained within producer.lock_timeout_ms); others are still done\n"
        "  2  usage or config error\n",
        prog, cdc_cli_common_help);
}

/* Everything one source's transaction needs and reports. */
typedef struct freeze_job_s {
    const cdc_source_t *src;
    int freeze; /* 1 freeze, 0 unfreeze */
    char **tables;
    size_t ntables;
    /* results */
    int64_t epoch, seq;
    char since[40];
    int had_position;
    int changed; /* triggers created / dropped */
} freeze_job_t;

static char *trigger_name(const char *table, int kind)
{
    char san[25];
    size_t i;
    for (i = 0; table[i] && i < 24; i++) {
        char ch = table[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        san[i] = ok ? ch : '_';
    }
    san[i] = '\0';
    return cdc_asprintf("_cdc_freeze_%s_%s_%016" PRIx64, kinds[kind], san,
                        cdc_sqlite_name_hash(table));
}

static int trigger_exists(sqlite3 *db, const char *name, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc =
        cdc_sqlite_prepare(db, "SELECT 1 FROM main.sqlite_master WHERE type='trigger' AND name=?1",
                           &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    cdc_sqlite_error(db, rc, "looking for a freeze trigger", errstr, errstr_size);
    return -1;
}

/* Reads freeze_epoch/freeze_seq/freeze_at; job->had_position says whether they exist. */
static int read_position(sqlite3 *db, freeze_job_t *job, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc =
        cdc_sqlite_prepare(db,
                           "SELECT (SELECT value FROM _cdc_state WHERE \"key\"='freeze_epoch'),"
                           " (SELECT value FROM _cdc_state WHERE \"key\"='freeze_seq'),"
                           " (SELECT value FROM _cdc_state WHERE \"key\"='freeze_at')",
                           &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        job->had_position = sqlite3_column_type(st, 0) != SQLITE_NULL;
        job->epoch = sqlite3_column_int64(st, 0);
        job->seq = sqlite3_column_int64(st, 1);
        snprintf(job->since, sizeof job->since, "%s",
                 sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
        rc = SQLITE_OK;
    } else {
        rc = cdc_sqlite_error(db, rc, "reading the freeze position", errstr, errstr_size);
    }
    sqlite3_finalize(st);
    return rc;
}

static int freeze_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    freeze_job_t *job = arg;
    cdc_position_state_t ps;
    int rc;

    job->changed = 0;
    if ((rc = read_position(db, job, errstr, errstr_size)) != SQLITE_OK)
        return rc;
    if (!job->had_position) {
        /* The high-water mark in this write transaction: no application write can slip
         * between reading it and the triggers taking effect. */
        cdc_capture_err_t ce = cdc_position_read(db, &ps, errstr, errstr_size);
        if (ce != CDC_CAPTURE_EOK)
            return ce == CDC_CAPTURE_EBUSY ? SQLITE_BUSY : SQLITE_ERROR;
        job->epoch = ps.epoch;
        job->seq = ps.high;
        char *sql = cdc_asprintf(
            "INSERT OR REPLACE INTO _cdc_state(\"key\", value) VALUES ('freeze_epoch', %" PRId64
            "), ('freeze_seq', %" PRId64 "),"
            " ('freeze_at', strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now'))",
            job->epoch, job->seq);
        rc = cdc_sqlite_exec(db, sql, "recording the freeze position", errstr, errstr_size);
        free(sql);
        if (rc != SQLITE_OK)
            return rc;
        if ((rc = read_position(db, job, errstr, errstr_size)) != SQLITE_OK)
            return rc;
        job->had_position = 0;
    }
    for (size_t t = 0; t < job->ntables; t++) {
        for (int k = 0; k < 3; k++) {
            char *name = trigger_name(job->tables[t], k);
            int ex = trigger_exists(db, name, errstr, errstr_size);
            if (ex != 0) {
                free(name);
                if (ex < 0)
                    return SQLITE_ERROR;
                continue;
            }
            char *msg = cdc_asprintf(
                "table %s of source %s is frozen for cutover by cdc-ctl freeze (since %s, at "
                "position %" PRId64 ":%" PRId64
                "): writes go to PostgreSQL now; run cdc-ctl unfreeze to roll back",
                job->tables[t], job->src->name, job->since, job->epoch, job->seq);
            cdc_sqlbuf_t b;
            cdc_sqlbuf_init(&b);
            cdc_sqlbuf_append(&b, "CREATE TRIGGER ");
            cdc_sqlbuf_ident(&b, name);
            cdc_sqlbuf_printf(&b, " BEFORE %s ON ", events[k]);
            cdc_sqlbuf_ident(&b, job->tables[t]);
            cdc_sqlbuf_append(&b, " FOR EACH ROW BEGIN SELECT RAISE(ABORT, ");
            cdc_sqlbuf_literal(&b, msg);
            cdc_sqlbuf_append(&b, "); END");
            rc = cdc_sqlite_exec(db, b.s, "creating a freeze trigger", errstr, errstr_size);
            cdc_sqlbuf_free(&b);
            free(msg);
            free(name);
            if (rc != SQLITE_OK)
                return rc;
            job->changed++;
        }
    }
    return SQLITE_OK;
}

static int unfreeze_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    freeze_job_t *job = arg;
    int rc;

    job->changed = 0;
    rc = ctl_sqlite_drop_triggers(db, "name LIKE '\\_cdc\\_freeze\\_%' ESCAPE '\\'", "freeze",
                                  &job->changed, errstr, errstr_size);
    if (rc == SQLITE_OK && cdc_sqlite_table_exists(db, "_cdc_state", errstr, errstr_size) == 1) {
        if ((rc = read_position(db, job, errstr, errstr_size)) == SQLITE_OK)
            rc = cdc_sqlite_exec(db,
                                 "DELETE FROM _cdc_state WHERE \"key\" IN ('freeze_epoch',"
                                 " 'freeze_seq', 'freeze_at')",
                                 "removing the freeze position", errstr, errstr_size);
    }
    return rc;
}

/* The captured tables of the file (_cdc_tables). */
static int load_tables(sqlite3 *db, freeze_job_t *job, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = cdc_sqlite_prepare(db, "SELECT tbl FROM _cdc_tables ORDER BY tbl", &st, errstr,
                                errstr_size);
    if (rc != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        job->tables = cdc_realloc(job->tables, (job->ntables + 1) * sizeof *job->tables);
        job->tables[job->ntables++] = cdc_strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "reading _cdc_tables", errstr, errstr_size);
        return -1;
    }
    return 0;
}

/* The freeze row in the domain's target (docs/status.md "Freeze position"): written
 * after the file's transaction, since the position is only known then; the first
 * position stays (ON CONFLICT DO NOTHING), as in the file. */
static const char insert_sql[] =
    "INSERT INTO _cdc_freeze (domain, source, epoch, position, frozen_at)"
    " VALUES ($1, $2, $3::bigint, $4::bigint, coalesce(nullif($5, '')::timestamptz, now()))"
    " ON CONFLICT DO NOTHING";
static const char delete_sql[] = "DELETE FROM _cdc_freeze WHERE domain = $1 AND source = $2";

static int record_in_target(const cdc_config_t *conf, const cdc_source_t *src,
                            const freeze_job_t *job, char *errstr, size_t errstr_size)
{
    const cdc_domain_t *d = cdc_config_domain(conf, src->domain);
    char ep[24], seq[24];
    const char *p[5] = {src->domain, src->name, ep, seq, job->since};
    char err[1024];
    PGconn *conn;
    int rc = -1;

    if (d == NULL) {
        snprintf(errstr, errstr_size, "domain %s of the source is not in the config", src->domain);
        return -1;
    }
    if ((conn = cdc_sink_pg_connect(d->target, err, sizeof err)) == NULL) {
        cdc_log_mask_secrets(err);
        snprintf(errstr, errstr_size, "cannot connect to the target of domain %s: %s", d->name,
                 err);
        return -1;
    }
    snprintf(ep, sizeof ep, "%" PRId64, job->epoch);
    snprintf(seq, sizeof seq, "%" PRId64, job->seq);
    if (cdc_sink_pg_exec(conn, "BEGIN", 0, NULL, NULL, err, sizeof err) != CDC_SINK_PG_OK ||
        cdc_sink_pg_exec(conn, CTL_DDL_LOCK_SQL, 0, NULL, NULL, err, sizeof err) !=
            CDC_SINK_PG_OK ||
        cdc_sink_pg_exec(conn, ctl_freeze_ddl, 0, NULL, NULL, err, sizeof err) != CDC_SINK_PG_OK)
        goto fail;
    if (cdc_sink_pg_exec(conn, job->freeze ? insert_sql : delete_sql, job->freeze ? 5 : 2, p, NULL,
                         err, sizeof err) != CDC_SINK_PG_OK)
        goto fail;
    if (cdc_sink_pg_exec(conn, "COMMIT", 0, NULL, NULL, err, sizeof err) != CDC_SINK_PG_OK)
        goto fail;
    rc = 0;
    goto out;
fail:
    PQclear(PQexec(conn, "ROLLBACK"));
    snprintf(errstr, errstr_size, "%s _cdc_freeze in the target of domain %s: %s",
             job->freeze ? "recording the freeze in" : "removing the freeze from", d->name, err);
out:
    PQfinish(conn);
    return rc;
}

int ctl_freeze_source(const char *prog, const cdc_config_t *conf, const cdc_source_t *src,
                      int freeze, FILE *out)
{
    freeze_job_t job;
    cdc_sqlite_txstats_t stats;
    char errstr[2048];
    sqlite3 *db = NULL;
    int rc = -1;

    memset(&job, 0, sizeof job);
    job.src = src;
    job.freeze = freeze;
    if ((db = ctl_sqlite_open(src, errstr, sizeof errstr)) == NULL)
        goto fail;
    int inst = cdc_capture_installed(db, errstr, sizeof errstr);
    if (inst < 0)
        goto fail;
    if (inst == 0 && freeze) {
        snprintf(errstr, sizeof errstr,
                 "capture is not installed in %s: nothing is captured, so there is nothing to "
                 "freeze (start cdc-producer first)",
                 src->path);
        goto fail;
    }
    if (inst && load_tables(db, &job, errstr, sizeof errstr) < 0)
        goto fail;
    if (cdc_sqlite_write_tx(db, conf->producer.lock_timeout_ms, freeze ? freeze_tx : unfreeze_tx,
                            &job, &stats, errstr, sizeof errstr) != SQLITE_OK)
        goto fail;
    if (record_in_target(conf, src, &job, errstr, sizeof errstr) < 0)
        goto fail;
    if (freeze)
        fprintf(out,
                "source=%s state=frozen epoch=%" PRId64 " position=%" PRId64
                " since=%s tables=%zu changed=%d\n",
                src->name, job.epoch, job.seq, job.since, job.ntables, job.changed);
    else
        fprintf(out,
                "source=%s state=unfrozen epoch=%" PRId64 " position=%" PRId64
                " since=%s tables=%zu changed=%d\n",
                src->name, job.epoch, job.seq, job.since[0] ? job.since : "-", job.ntables,
                job.changed);
    fflush(out);
    cdc_log_info("source %s (%s): %s, %d trigger(s) %s, write lock held %.2f ms", src->name,
                 src->path, freeze ? "frozen" : "unfrozen", job.changed,
                 freeze ? "created" : "dropped", stats.hold_ms);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "%s: source %s: %s\n", prog, src->name, errstr);
out:
    for (size_t i = 0; i < job.ntables; i++)
        free(job.tables[i]);
    free(job.tables);
    sqlite3_close(db);
    return rc;
}

enum { OPT_SOURCE = CDC_CLI_OPT_FIRST_OWN, OPT_DOMAIN };

typedef struct freeze_args_s {
    const char *source, *domain;
} freeze_args_t;

static int own_option(void *ctx, int c, const char *arg)
{
    freeze_args_t *a = ctx;

    if (c == OPT_SOURCE)
        a->source = arg;
    else if (c == OPT_DOMAIN)
        a->domain = arg;
    return 0;
}

int ctl_freeze_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"source", required_argument, NULL, OPT_SOURCE},
        {"domain", required_argument, NULL, OPT_DOMAIN},
        {NULL, 0, NULL, 0},
    };
    int freeze = strcmp(argv[0], "freeze") == 0;
    const char *prog = freeze ? "cdc-ctl freeze" : "cdc-ctl unfreeze";
    freeze_args_t a = {NULL, NULL};
    const cdc_cli_spec_t spec = {prog, ":c:h", longopts, usage, own_option, &a};
    const char *config_path = NULL, *source, *domain;
    cdc_config_t *conf = NULL;
    int rc, failed = 0, done = 0;

    if ((rc = cdc_cli_parse(&spec, argc, argv, &config_path)) != CDC_CLI_RUN)
        goto out;
    rc = CTL_EXIT_USAGE;
    source = a.source;
    domain = a.domain;
    if ((source == NULL) == (domain == NULL)) {
        cdc_cli_usage_error(prog, "give exactly one of --source and --domain");
        goto out;
    }
    if ((conf = cdc_cli_load_config(prog, config_path)) == NULL)
        goto out;
    if (source != NULL && cdc_config_source(conf, source) == NULL) {
        fprintf(stderr, "%s: source \"%s\" is not in the config %s\n", prog, source, conf->path);
        goto out;
    }
    if (domain != NULL && cdc_cli_domain(prog, conf, domain) == NULL)
        goto out;
    for (size_t i = 0; i < conf->n_sources; i++) {
        const cdc_source_t *s = &conf->sources[i];
        if (source ? strcmp(s->name, source) != 0 : strcmp(s->domain, domain) != 0)
            continue;
        done++;
        if (ctl_freeze_source(prog, conf, s, freeze, stdout) < 0)
            failed++;
    }
    if (done == 0) {
        fprintf(stderr, "%s: domain %s has no sources in %s\n", prog, domain, conf->path);
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    rc = failed ? CTL_EXIT_OPERATIONAL : CTL_EXIT_OK;
out:
    cdc_config_destroy(conf);
    return rc;
}
