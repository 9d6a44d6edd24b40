/*
 * cdc-ctl resnapshot: asks the running producer to re-snapshot a source, a table, or listed
 * keys (docs/operate.md "cdc-ctl resnapshot"), through the signal table `_cdc_signals` in
 * the source file, as Debezium's signal table does: a row survives restarts of either
 * side and works across processes and hosts that share nothing but the file. The producer
 * (producer/signals.c) polls it, does the work while streaming continues, and sets
 * done_at and result.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "ctl.h"
#include "signals.h"
#include "sqlite_util.h"

#define PROG "cdc-ctl resnapshot"

static void usage(FILE *out, const char *prog)
{
    (void)prog; /* the text names PROG itself */
    fprintf(out,
            "Usage: " PROG " -c CONFIG --source S [--table T] [--keys FILE] [--wait S]\n"
            "\n"
            "Asks the running producer to re-snapshot source S (every captured table), one\n"
            "table T, or only the keys listed in FILE, while streaming continues. The request\n"
            "is a row of the signal table _cdc_signals in the source file (created when\n"
            "absent); the producer picks it up within a heartbeat, also after a restart, and\n"
            "marks it done:\n"
            "  source, table: a full snapshot of the table(s) with a new end marker, so the\n"
            "                 sink also deletes target rows that were not re-sent;\n"
            "  keys:          each key's current row (or a delete when it is gone) is sent at\n"
            "                 the current position, like a change.\n"
            "FILE is JSON: the audit's `cdc-validator --audit --json` document (its\n"
            "\"resnapshot\" entries of source S are used), one {\"source\", \"table\", \"keys\"}\n"
            "entry or a list of them, or, with --table, a list of key objects\n"
            "[{\"contact_id\": \"ct-1\"}, ...] (column: value as SQLite stores it).\n"
            "Runs where the SQLite files are.\n"
            "\n"
            "Output (stdout): signal=ID source=S kind=source|table|keys table=T keys=N\n"
            "and with --wait: signal=ID done=TIME result=TEXT\n"
            "\n"
            "Options:\n"
            "%s"
            "      --source S         the source (required)\n"
            "      --table T          one captured table of the source\n"
            "      --keys FILE        only these keys (see above)\n"
            "      --wait S           wait up to S seconds for the producer to mark the\n"
            "                         request(s) done (default: do not wait)\n"
            "\n"
            "Exit codes:\n"
            "  0  requested (with --wait: done)\n"
            "  1  the source file could not be written, the keys file is unusable, or --wait\n"
            "     timed out\n"
            "  2  usage or config error\n",
            cdc_cli_common_help);
}

/* One request to insert. */
typedef struct req_s {
    const char *kind;
    char *table; /* NULL: the whole source */
    char *keys;  /* JSON list, or NULL */
    size_t nkeys;
} req_t;

static void add_req(req_t **reqs, size_t *n, const char *kind, const char *table, json_t *keys)
{
    *reqs = cdc_realloc(*reqs, (*n + 1) * sizeof **reqs);
    req_t *r = &(*reqs)[(*n)++];
    r->kind = kind;
    r->table = table ? cdc_strdup(table) : NULL;
    r->keys = keys ? json_dumps(keys, JSON_COMPACT) : NULL;
    r->nkeys = keys ? json_array_size(keys) : 0;
}

/* Reads the keys file into requests for source (and table, when given). */
static int load_keys(const char *path, const char *source, const char *table, req_t **reqs,
                     size_t *n, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr), *list = NULL, *v;
    size_t i;
    int rc = -1;

    if (doc == NULL) {
        snprintf(errstr, errstr_size, "--keys %s: not JSON: %s (line %d)", path, jerr.text,
                 jerr.line);
        return -1;
    }
    if (json_is_object(doc) && json_is_array(json_object_get(doc, "resnapshot")))
        list = json_object_get(doc, "resnapshot"); /* the audit's document */
    else if (json_is_object(doc) && json_object_get(doc, "keys"))
        list = doc; /* one entry */
    else if (json_is_array(doc))
        list = doc;
    if (list == NULL) {
        snprintf(errstr, errstr_size, "--keys %s: neither an audit document, an entry nor a list",
                 path);
        goto out;
    }
    if (json_is_object(list)) {
        json_t *tmp = json_array();
        json_array_append(tmp, list);
        json_decref(doc);
        doc = tmp;
        list = tmp;
    }
    json_array_foreach(list, i, v)
    {
        if (json_is_object(v) && json_is_array(json_object_get(v, "keys"))) {
            const char *s = json_string_value(json_object_get(v, "source"));
            const char *t = json_string_value(json_object_get(v, "table"));
            if (t == NULL) {
                snprintf(errstr, errstr_size, "--keys %s: entry %zu has no \"table\"", path, i);
                goto out;
            }
            if ((s != NULL && strcmp(s, source) != 0) || (table != NULL && strcmp(t, table) != 0))
                continue;
            if (json_array_size(json_object_get(v, "keys")) > 0)
                add_req(reqs, n, "keys", t, json_object_get(v, "keys"));
        } else if (json_is_object(v) && table != NULL) {
            /* a bare list of key objects: one request for --table at the end */
        } else {
            snprintf(errstr, errstr_size,
                     "--keys %s: element %zu is not an entry {source, table, keys}%s", path, i,
                     table ? "" : " (a list of key objects needs --table)");
            goto out;
        }
    }
    if (*n == 0 && table != NULL && json_array_size(list) > 0 &&
        !json_is_array(json_object_get(json_array_get(list, 0), "keys")))
        add_req(reqs, n, "keys", table, list);
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

typedef struct ins_job_s {
    req_t *reqs;
    size_t n;
    int64_t *ids;
} ins_job_t;

static int insert_tx(sqlite3 *db, void *arg, char *errstr, size_t errstr_size)
{
    ins_job_t *job = arg;
    int rc = cdc_sqlite_exec(db, CDC_SIGNALS_DDL, "creating _cdc_signals", errstr, errstr_size);
    for (size_t i = 0; i < job->n && rc == SQLITE_OK; i++) {
        sqlite3_stmt *st = NULL;
        rc = cdc_sqlite_prepare(db,
                                "INSERT INTO _cdc_signals (kind, tbl, keys, requested_at) VALUES"
                                " (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                                &st, errstr, errstr_size);
        if (rc != SQLITE_OK)
            break;
        sqlite3_bind_text(st, 1, job->reqs[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, job->reqs[i].table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, job->reqs[i].keys, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return cdc_sqlite_error(db, rc, "inserting a signal", errstr, errstr_size);
        rc = SQLITE_OK;
        job->ids[i] = sqlite3_last_insert_rowid(db);
    }
    return rc;
}

/* Waits until every signal has done_at; prints each. 0, or -1 on timeout/error. */
static int wait_done(sqlite3 *db, const char *source, const int64_t *ids, size_t n, double secs)
{
    int64_t start = ctl_now_ms();
    size_t i = 0;
    while (i < n) {
        sqlite3_stmt *st = NULL;
        int done = 0;
        if (sqlite3_prepare_v2(db, "SELECT done_at, result FROM _cdc_signals WHERE id = ?1", -1,
                               &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, ids[i]);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
                printf("signal=%" PRId64 " done=%s result=%s\n", ids[i], sqlite3_column_text(st, 0),
                       sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
                done = 1;
            }
        }
        sqlite3_finalize(st);
        if (done) {
            i++;
            continue;
        }
        if ((double)(ctl_now_ms() - start) / 1000.0 >= secs) {
            fprintf(stderr,
                    PROG ": source %s: signal %" PRId64 " not done within %g s (is the producer"
                         " running?)\n",
                    source, ids[i], secs);
            return -1;
        }
        usleep(100000);
    }
    return 0;
}

enum { OPT_SOURCE = CDC_CLI_OPT_FIRST_OWN, OPT_TABLE, OPT_KEYS, OPT_WAIT };

typedef struct resnapshot_args_s {
    const char *source, *table, *keys;
    double wait_s;
} resnapshot_args_t;

static int own_option(void *ctx, int c, const char *arg)
{
    resnapshot_args_t *a = ctx;

    switch (c) {
    case OPT_SOURCE:
        a->source = arg;
        break;
    case OPT_TABLE:
        a->table = arg;
        break;
    case OPT_KEYS:
        a->keys = arg;
        break;
    case OPT_WAIT:
        if (cdc_cli_parse_double(arg, 0, &a->wait_s) != 0)
            return cdc_cli_usage_error(PROG, "--wait: \"%s\" is not a number of seconds", arg);
        break;
    }
    return 0;
}

int ctl_resnapshot_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"source", required_argument, NULL, OPT_SOURCE},
        {"table", required_argument, NULL, OPT_TABLE},
        {"keys", required_argument, NULL, OPT_KEYS},
        {"wait", required_argument, NULL, OPT_WAIT},
        {NULL, 0, NULL, 0},
    };
    resnapshot_args_t a = {NULL, NULL, NULL, -1};
    const cdc_cli_spec_t spec = {PROG, ":c:h", longopts, usage, own_option, &a};
    const char *config_path = NULL, *source, *table, *keys;
    cdc_config_t *conf = NULL;
    const cdc_source_t *src;
    req_t *reqs = NULL;
    size_t nreqs = 0;
    int64_t *ids = NULL;
    sqlite3 *db = NULL;
    char errstr[2048];
    int rc;

    if ((rc = cdc_cli_parse(&spec, argc, argv, &config_path)) != CDC_CLI_RUN)
        goto out;
    rc = CTL_EXIT_USAGE;
    source = a.source;
    table = a.table;
    keys = a.keys;
    if (source == NULL) {
        cdc_cli_usage_error(PROG, "--source is required");
        goto out;
    }
    if ((conf = cdc_cli_load_config(PROG, config_path)) == NULL)
        goto out;
    if ((src = cdc_config_source(conf, source)) == NULL) {
        fprintf(stderr, PROG ": source \"%s\" is not in the config %s\n", source, conf->path);
        goto out;
    }
    rc = CTL_EXIT_OPERATIONAL;
    if (keys != NULL) {
        if (load_keys(keys, source, table, &reqs, &nreqs, errstr, sizeof errstr) < 0) {
            fprintf(stderr, PROG ": %s\n", errstr);
            goto out;
        }
        if (nreqs == 0) {
            fprintf(stderr, PROG ": --keys %s lists no key of source %s%s%s: nothing to do\n", keys,
                    source, table ? " table " : "", table ? table : "");
            rc = CTL_EXIT_OK;
            goto out;
        }
    } else {
        add_req(&reqs, &nreqs, table ? "table" : "source", table, NULL);
    }
    if ((db = ctl_sqlite_open(src, errstr, sizeof errstr)) == NULL) {
        fprintf(stderr, PROG ": %s\n", errstr);
        goto out;
    }
    ids = cdc_calloc(nreqs, sizeof *ids);
    ins_job_t job = {reqs, nreqs, ids};
    cdc_sqlite_txstats_t stats;
    if (cdc_sqlite_write_tx(db, conf->producer.lock_timeout_ms, insert_tx, &job, &stats, errstr,
                            sizeof errstr) != SQLITE_OK) {
        fprintf(stderr, PROG ": source %s (%s): %s\n", source, src->path, errstr);
        goto out;
    }
    for (size_t i = 0; i < nreqs; i++)
        printf("signal=%" PRId64 " source=%s kind=%s table=%s keys=%zu\n", ids[i], source,
               reqs[i].kind, reqs[i].table ? reqs[i].table : "*", reqs[i].nkeys);
    fflush(stdout);
    rc = CTL_EXIT_OK;
    if (a.wait_s >= 0 && wait_done(db, source, ids, nreqs, a.wait_s) < 0)
        rc = CTL_EXIT_OPERATIONAL;
out:
    for (size_t i = 0; i < nreqs; i++) {
        free(reqs[i].table);
        free(reqs[i].keys);
    }
    free(reqs);
    free(ids);
    sqlite3_close(db);
    cdc_config_destroy(conf);
    return rc;
}
