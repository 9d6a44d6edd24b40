/*
 * cdc-ctl dlq: dead letters of a domain (invariant 7; docs/dead-letters.md).
 *
 * The bookkeeping is the target's _cdc_dead_letters table: the sink writes its own dead
 * letters there inside the batch transaction and resolves them when a newer position of
 * the same key is applied. The producer's dead letters (a value that does not fit its
 * column) exist only on the DLQ topic, so every dlq subcommand first imports them
 * (ctl_dlq_sync), after which the same rules resolve them.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdc_alloc.h"
#include "cdc_hash.h"
#include "cdc_buf.h"
#include "cdc_log.h"
#include "ctl.h"
#include "sink_pg.h"
#include "sink_schema.h"

#define PROG "cdc-ctl dlq"

static void usage(FILE *out, const char *prog)
{
    (void)prog; /* the text names PROG itself */
    fprintf(out,
            "Usage: " PROG " list     -c CONFIG --domain NAME [--all]\n"
            "       " PROG " resolve  -c CONFIG --domain NAME (--id N | --all)\n"
            "       " PROG " redrive  -c CONFIG --domain NAME --id N\n"
            "\n"
            "Dead letters of a domain, as kept in its target's _cdc_dead_letters. Every action\n"
            "first imports the producer's dead letters from <prefix>.<domain>.dlq (values that\n"
            "did not fit their column; the sink records its own) and marks resolved those whose\n"
            "key has since been applied at a newer position (the sink does the same when it\n"
            "applies one).\n"
            "\n"
            "  list      open dead letters (--all: resolved ones too), one per line on stdout:\n"
            "            id<TAB>state<TAB>created<TAB>source<TAB>table<TAB>position<TAB>origin\n"
            "            <TAB>key(hex)<TAB>reason   (state: open | resolved <time>)\n"
            "  resolve   marks dead letter N (or --all open ones) resolved by the operator\n"
            "  redrive   re-reads the key's CURRENT row at the source (never the stale payload):\n"
            "            logs a change for the key in the source file's change log, so the\n"
            "            producer sends the row as it is now (or a delete if it is gone); the\n"
            "            dead letter resolves when that newer version is applied. Runs where the\n"
            "            SQLite files are.\n"
            "\n"
            "Options:\n"
            "%s"
            "  -d, --domain NAME      the domain (required)\n"
            "      --id N             a dead letter's id (from list)\n"
            "      --all              list: resolved too; resolve: every open one\n"
            "      --no-import        do not read the DLQ topic (the table only)\n"
            "\n"
            "Exit codes:\n"
            "  0  done (list: also when there are open dead letters)\n"
            "  1  PostgreSQL, Kafka or the source file unusable, no such dead letter\n"
            "  2  usage or config error\n",
            cdc_cli_common_help);
}

/* Next DLQ offset to import per partition: one past the highest imported. */
static int64_t imported_upto(PGconn *conn, const char *domain, const char *topic, int32_t partition)
{
    char part[16];
    const char *p[3] = {domain, topic, part};
    PGresult *res = NULL;
    char err[256];
    int64_t next = 0;
    snprintf(part, sizeof part, "%d", (int)partition);
    if (cdc_sink_pg_exec(conn,
                         "SELECT coalesce(max(koffset) + 1, 0) FROM _cdc_dead_letters"
                         " WHERE domain = $1 AND topic = $2 AND kpartition = $3::int",
                         3, p, &res, err, sizeof err) == CDC_SINK_PG_OK) {
        next = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    return next;
}

/*
 * The sink counts clean applies in its parity outbox without keys (docs/parity.md
 * "Outbox layout"), so whether the key of a dead letter imported just now was applied at
 * a newer position since is read from its target table: the row with the key's columns
 * (typed by jsonb_populate_record, so the primary key index serves it) and a newer
 * stored position resolves it. A key that does not fit the table's columns only leaves
 * the dead letter open (logged).
 */
static void resolve_if_stored(PGconn *conn, const char *const *dl, const char *source,
                              const char *table, json_t *jkey)
{
    const char *tp[3] = {dl[0], source, table};
    PGresult *res = NULL;
    cdc_buf_t sql = CDC_BUF_INIT;
    char *key_json = NULL, *target = NULL, err[512];
    const char *k;
    json_t *val;

    if (!json_is_object(jkey) || json_object_size(jkey) == 0 ||
        cdc_sink_pg_exec(conn,
                         "SELECT target_table FROM _cdc_tables WHERE domain = $1 AND source = $2"
                         " AND source_table = $3",
                         3, tp, &res, err, sizeof err) != CDC_SINK_PG_OK ||
        PQntuples(res) != 1)
        goto out;
    target = cdc_sink_pg_ident_quote(PQgetvalue(res, 0, 0));
    cdc_buf_printf(&sql,
                   "UPDATE _cdc_dead_letters dl SET resolved_at = now() WHERE dl.domain = $1"
                   " AND dl.topic = $2 AND dl.kpartition = $3::int AND dl.koffset = $4::bigint"
                   " AND dl.resolved_at IS NULL AND dl.epoch IS NOT NULL AND EXISTS (SELECT 1"
                   " FROM %s t, jsonb_populate_record(NULL::%s, $5::jsonb) k WHERE"
                   " (t." CDC_SINK_COL_EPOCH ", t." CDC_SINK_COL_POS ") > (dl.epoch, dl.pos)",
                   target, target);
    json_object_foreach(jkey, k, val)
    {
        char *col = cdc_sink_pg_ident_quote(k);
        (void)val;
        cdc_buf_printf(&sql, " AND t.%s = k.%s", col, col);
        free(col);
    }
    cdc_buf_put_str(&sql, ")");
    key_json = json_dumps(jkey, JSON_COMPACT);
    {
        const char *p[5] = {dl[0], dl[1], dl[2], dl[3], key_json};
        if (cdc_sink_pg_exec(conn, cdc_buf_cstr(&sql), 5, p, NULL, err, sizeof err) !=
            CDC_SINK_PG_OK)
            cdc_log_warn("dead letter %s [%s] offset %s: is its key applied in %s? %s", dl[1],
                         dl[2], dl[3], target, err);
    }
out:
    PQclear(res);
    cdc_buf_free(&sql);
    free(key_json);
    free(target);
}

/* Inserts one producer dead letter (a DLQ record at topic/partition/offset). */
static int import_one(PGconn *conn, const char *domain, const rd_kafka_message_t *m,
                      const char *topic, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *v = json_loadb(m->payload, m->len, 0, &jerr);
    char part[16], off[24], ep[24], pos[24];
    char *key = NULL, *reason = NULL;
    int rc = 0;

    if (v == NULL || !json_is_object(v)) {
        cdc_log_warn("%s [%d] offset %" PRId64 ": not a dead letter (JSON: %s); skipped", topic,
                     (int)m->partition, m->offset, jerr.text);
        json_decref(v);
        return 0;
    }
    const char *stage = json_string_value(json_object_get(v, "stage"));
    if (stage == NULL || strcmp(stage, "producer") != 0)
        goto out; /* the sink's own dead letters are in the table already */
    const char *source = json_string_value(json_object_get(v, "source"));
    const char *table = json_string_value(json_object_get(v, "table"));
    const char *why = json_string_value(json_object_get(v, "reason"));
    json_t *jkey = json_object_get(v, "key");
    json_t *jpos = json_object_get(v, "position");
    char *key_json = jkey ? json_dumps(jkey, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    reason = cdc_asprintf("producer: %s%s%s", why ? why : "(no reason)", key_json ? "; key " : "",
                          key_json ? key_json : "");
    free(key_json);
    if (m->key_len > 0)
        key = cdc_hash_bytea_text(m->key, m->key_len);
    int has_pos = json_is_object(jpos);
    snprintf(part, sizeof part, "%d", (int)m->partition);
    snprintf(off, sizeof off, "%" PRId64, m->offset);
    snprintf(ep, sizeof ep, "%" JSON_INTEGER_FORMAT,
             has_pos ? json_integer_value(json_object_get(jpos, "epoch")) : 0);
    snprintf(pos, sizeof pos, "%" JSON_INTEGER_FORMAT,
             has_pos ? json_integer_value(json_object_get(jpos, "h")) : 0);
    const char *p[10] = {
        domain, topic, part, off, source, table, key, has_pos ? ep : NULL, has_pos ? pos : NULL,
        reason};
    if (cdc_sink_pg_exec(conn,
                         "INSERT INTO _cdc_dead_letters (domain, topic, kpartition, koffset,"
                         " source, source_table, key, epoch, pos, reason)"
                         " SELECT $1, $2, $3::int, $4::bigint, $5, $6, $7::bytea, $8::bigint,"
                         " $9::bigint, $10 WHERE NOT EXISTS (SELECT 1 FROM _cdc_dead_letters"
                         " WHERE domain = $1 AND topic = $2 AND kpartition = $3::int"
                         " AND koffset = $4::bigint)",
                         10, p, NULL, errstr, errstr_size) != CDC_SINK_PG_OK)
        rc = -1;
    else
        rc = 1;
    if (rc == 1 && has_pos && source != NULL && table != NULL)
        resolve_if_stored(conn, p, source, table, jkey);
out:
    free(key);
    free(reason);
    json_decref(v);
    return rc;
}

/* Resolution for what was applied before the import (or by the operator's redrive): a
 * newer result of the key in the outbox (mismatches and the per-row results of older
 * sinks; clean applies are counted without keys: resolve_if_stored) or tombstone. */
static const char resolve_applied_sql[] =
    "UPDATE _cdc_dead_letters dl SET resolved_at = now()"
    " WHERE dl.domain = $1 AND dl.resolved_at IS NULL AND dl.key IS NOT NULL"
    " AND dl.epoch IS NOT NULL AND (EXISTS (SELECT 1 FROM _cdc_parity_outbox o"
    "   WHERE o.domain = dl.domain AND o.source = dl.source AND o.source_table = dl.source_table"
    "   AND o.key = dl.key AND o.status <> 'dead_letter' AND (o.epoch, o.pos) > (dl.epoch, dl.pos))"
    " OR EXISTS (SELECT 1 FROM _cdc_tombstones t JOIN _cdc_tables tt"
    "   ON tt.target_table = t.target_table WHERE tt.domain = dl.domain"
    "   AND tt.source = dl.source AND tt.source_table = dl.source_table AND t.key = dl.key"
    "   AND (t.epoch, t.pos) > (dl.epoch, dl.pos)))";

long ctl_dlq_sync(const cdc_config_t *conf, const char *domain, PGconn *conn, char *errstr,
                  size_t errstr_size)
{
    const cdc_domain_t *d = cdc_config_domain(conf, domain);
    char *topic = cdc_asprintf("%s.%s.dlq", conf->topic_prefix, domain);
    ctl_reader_t *r = NULL;
    const char *p[1] = {domain};
    long imported = -1, n = 0;

    if ((r = ctl_reader_new(conf, errstr, errstr_size)) == NULL)
        goto out;
    for (int32_t part = 0; part < d->partitions; part++) {
        int64_t lo, hi, at;
        if (ctl_watermarks(r, topic, part, &lo, &hi, errstr, errstr_size) < 0)
            goto out;
        at = imported_upto(conn, domain, topic, part);
        if (at < lo)
            at = lo;
        /* One record at a time keeps this simple; dead letters are few by nature. */
        while (at < hi) {
            rd_kafka_message_t *m = NULL;
            int rc = ctl_reader_message(r, topic, part, at, hi, &m, errstr, errstr_size);
            if (rc < 0)
                goto out;
            if (rc == 1)
                break;
            at = m->offset + 1;
            rc = import_one(conn, domain, m, topic, errstr, errstr_size);
            rd_kafka_message_destroy(m);
            if (rc < 0)
                goto out;
            n += rc;
        }
    }
    if (cdc_sink_pg_exec(conn, resolve_applied_sql, 1, p, NULL, errstr, errstr_size) !=
        CDC_SINK_PG_OK)
        goto out;
    imported = n;
out:
    ctl_reader_destroy(r);
    free(topic);
    return imported;
}

static int list(PGconn *conn, const char *domain, int all)
{
    const char *p[1] = {domain};
    PGresult *res = NULL;
    char errstr[1024];
    if (cdc_sink_pg_exec(
            conn,
            "SELECT id, CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved '"
            " || to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END,"
            " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
            " coalesce(source, '-'), coalesce(source_table, '-'),"
            " coalesce(epoch || ':' || pos, '-'),"
            " coalesce(topic || '[' || kpartition || ']@' || koffset, '-'),"
            " coalesce(encode(key, 'hex'), '-'), replace(replace(reason, E'\\t', ' '), E'\\n', ' ')"
            " FROM _cdc_dead_letters WHERE domain = $1 ORDER BY id",
            1, p, &res, errstr, sizeof errstr) != CDC_SINK_PG_OK) {
        fprintf(stderr, PROG ": domain %s: reading _cdc_dead_letters: %s\n", domain, errstr);
        return -1;
    }
    long open = 0, shown = 0;
    printf("id\tstate\tcreated\tsource\ttable\tposition\torigin\tkey\treason\n");
    for (int r = 0; r < PQntuples(res); r++) {
        int is_open = strcmp(PQgetvalue(res, r, 1), "open") == 0;
        open += is_open;
        if (!all && !is_open)
            continue;
        shown++;
        for (int c = 0; c < 9; c++)
            printf("%s%s", c ? "\t" : "", PQgetvalue(res, r, c));
        printf("\n");
    }
    fprintf(stderr, PROG ": domain %s: %ld open dead letter(s), %d in all\n", domain, open,
            PQntuples(res));
    PQclear(res);
    return 0;
}

static int resolve(PGconn *conn, const char *domain, long id, int all)
{
    char ids[24], errstr[1024];
    const char *p[2] = {domain, ids};
    long affected = 0;
    snprintf(ids, sizeof ids, "%ld", id);
    if (cdc_sink_pg_exec_count(conn,
                               "UPDATE _cdc_dead_letters SET resolved_at = now()"
                               " WHERE domain = $1 AND resolved_at IS NULL"
                               " AND ($2::bigint < 0 OR id = $2::bigint) RETURNING id",
                               2, p, &affected, errstr, sizeof errstr) != CDC_SINK_PG_OK) {
        fprintf(stderr, PROG ": domain %s: %s\n", domain, errstr);
        return -1;
    }
    if (!all && affected == 0) {
        fprintf(stderr, PROG ": domain %s: no open dead letter with id %ld\n", domain, id);
        return -1;
    }
    printf("resolved=%ld\n", affected);
    return 0;
}

enum { OPT_ID = CDC_CLI_OPT_FIRST_OWN, OPT_ALL, OPT_NO_IMPORT };

typedef struct dlq_args_s {
    const char *domain;
    long id;
    int all, no_import;
} dlq_args_t;

static int own_option(void *ctx, int c, const char *arg)
{
    dlq_args_t *a = ctx;

    switch (c) {
    case 'd':
        a->domain = arg;
        break;
    case OPT_ID:
        if (cdc_cli_parse_long(arg, 1, LONG_MAX, &a->id) < 0)
            return cdc_cli_usage_error(PROG, "--id: \"%s\" is not a dead letter id", arg);
        break;
    case OPT_ALL:
        a->all = 1;
        break;
    case OPT_NO_IMPORT:
        a->no_import = 1;
        break;
    }
    return 0;
}

int ctl_dlq_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CDC_CLI_COMMON_LONGOPTS,
        {"domain", required_argument, NULL, 'd'},
        {"id", required_argument, NULL, OPT_ID},
        {"all", no_argument, NULL, OPT_ALL},
        {"no-import", no_argument, NULL, OPT_NO_IMPORT},
        {NULL, 0, NULL, 0},
    };
    dlq_args_t a = {NULL, -1, 0, 0};
    const cdc_cli_spec_t spec = {PROG, ":c:d:h", longopts, usage, own_option, &a};
    const char *config_path = NULL, *domain, *action;
    cdc_config_t *conf = NULL;
    const cdc_domain_t *d;
    PGconn *conn = NULL;
    char errstr[2048];
    long id;
    int all, rc;

    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout, PROG);
        return CTL_EXIT_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "resolve") != 0 &&
                     strcmp(argv[1], "redrive") != 0))
        return cdc_cli_usage_error(PROG, "give an action: list, resolve or redrive");
    action = argv[1];
    if ((rc = cdc_cli_parse(&spec, argc - 1, argv + 1, &config_path)) != CDC_CLI_RUN)
        goto out;
    rc = CTL_EXIT_USAGE;
    domain = a.domain;
    id = a.id;
    all = a.all;
    if (domain == NULL) {
        cdc_cli_usage_error(PROG, "--domain is required");
        goto out;
    }
    if (strcmp(action, "resolve") == 0 && (id < 0) == !all) {
        cdc_cli_usage_error(PROG, "resolve needs exactly one of --id N and --all");
        goto out;
    }
    if (strcmp(action, "redrive") == 0 && id < 0) {
        cdc_cli_usage_error(PROG, "redrive needs --id N");
        goto out;
    }
    if ((conf = cdc_cli_load_config(PROG, config_path)) == NULL ||
        !(d = cdc_cli_domain(PROG, conf, domain)))
        goto out;
    rc = CTL_EXIT_OPERATIONAL;
    if ((conn = ctl_pg_connect(PROG, conf, d)) == NULL)
        goto out;
    if (cdc_sink_schema_metadata(conn, errstr, sizeof errstr) != CDC_SINK_PG_OK) {
        fprintf(stderr, PROG ": domain %s: %s\n", domain, errstr);
        goto out;
    }
    if (!a.no_import) {
        long n = ctl_dlq_sync(conf, domain, conn, errstr, sizeof errstr);
        if (n < 0) {
            fprintf(stderr, PROG ": domain %s: importing %s.%s.dlq: %s\n", domain,
                    conf->topic_prefix, domain, errstr);
            goto out;
        }
        if (n > 0)
            cdc_log_info("domain %s: %ld producer dead letter(s) imported from %s.%s.dlq", domain,
                         n, conf->topic_prefix, domain);
    }
    if (strcmp(action, "list") == 0)
        rc = list(conn, domain, all) == 0 ? CTL_EXIT_OK : CTL_EXIT_OPERATIONAL;
    else if (strcmp(action, "resolve") == 0)
        rc = resolve(conn, domain, id, all) == 0 ? CTL_EXIT_OK : CTL_EXIT_OPERATIONAL;
    else if (ctl_redrive(conf, domain, conn, id, errstr, sizeof errstr) == 0)
        rc = CTL_EXIT_OK;
    else
        fprintf(stderr, PROG ": domain %s: dead letter %ld: %s\n", domain, id, errstr);
out:
    if (conn)
        PQfinish(conn);
    cdc_config_destroy(conf);
    return rc;
}
