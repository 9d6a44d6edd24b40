/*
 * audit_check: drives the audit (consumers/audit.h) for tests/integration/audit_*.test.sh
 * and bench/audit_1m.sh.
 *
 *   audit_check load CONFIG DOMAIN   installs capture in every source of DOMAIN and
 *                                    snapshots every captured table into the domain's
 *                                    target through the sink's PostgreSQL side
 *                                    (sink_apply.h): SQLite row → Avro envelope and key as
 *                                    the producer encodes them → decoded as the Kafka side
 *                                    decodes them → cdc_sink_apply, in batches of 1000, at
 *                                    the capture position read with the rows. What lands
 *                                    in PostgreSQL is exactly what cdc-sink writes.
 *   audit_check audit CONFIG [--domain D] [--source S] [--table T] [--json]
 *                            [--max-keys N] [--no-recheck]
 *                                    runs cdc_audit_run and prints its report on stdout.
 *
 * Exit codes: load 0 done, 1 failed; audit 0 match, 1 differences, 2 usage, 3 operational
 * error (cdc-validator maps that one to 1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../producer/capture.h"
#include "../producer/position.h"
#include "audit_int.h"
#include "cdc_alloc.h"
#include "cdc_avro_schema.h"
#include "cdc_avro_value.h"
#include "cdc_canon.h"
#include "cdc_log.h"
#include "sink_apply.h"

#define BATCH_ROWS 1000

typedef struct loader_s {
    cdc_sink_db_t *sdb;
    const char *topic;
    int64_t next_offset;
    cdc_sink_batch_t *batch;
    char err[2048];
} loader_t;

static int flush(loader_t *l)
{
    size_t n = cdc_sink_batch_count(l->batch);
    cdc_sink_status_t st;

    if (n == 0)
        return 0;
    st = cdc_sink_apply(l->sdb, l->batch, l->topic, 0, l->next_offset, l->next_offset + (int64_t)n,
                        NULL, NULL, NULL, l->err, sizeof l->err);
    if (st != CDC_SINK_OK) {
        fprintf(stderr, "audit_check: apply: %s: %s\n", cdc_sink_status_name(st), l->err);
        return -1;
    }
    l->next_offset += (int64_t)n;
    cdc_sink_batch_reset(l->batch);
    return 0;
}

/* Snapshots one table at the position read in the same read transaction. */
static int load_table(loader_t *l, sqlite3 *db, const cdc_source_t *src, const char *name)
{
    audit_table_t *t = NULL;
    cdc_column_t *pc = NULL;
    size_t pn = 0, bad = 0;
    const cdc_sink_table_t *st = NULL;
    sqlite3_stmt *stmt = NULL;
    cdc_position_state_t ps;
    cdc_buf_t sql = CDC_BUF_INIT, key = CDC_BUF_INIT, env = CDC_BUF_INIT, scratch = CDC_BUF_INIT;
    cdc_decoded_value_t *after = NULL, *kv = NULL;
    audit_row_t r;
    int rc = -1, in_tx = 0, step;
    unsigned char hash[CDC_HASH_ROW_SIZE];

    if (audit_table_new(db, src, name, &t, l->err, sizeof l->err) < 0)
        goto out;
    audit_row_init(&r, t->ncols);
    if (cdc_avro_schema_parse_columns(cdc_table_codec_row_schema(t->codec), &pc, &pn, l->err,
                                      sizeof l->err) < 0)
        goto out_row;
    if (cdc_sink_db_table(l->sdb, src->name, t->ti->name, pc, pn, &st, l->err, sizeof l->err) !=
        CDC_SINK_OK)
        goto out_row;
    after = cdc_calloc(pn + 1, sizeof *after);
    kv = cdc_calloc(pn + 1, sizeof *kv);
    cdc_buf_put_str(&sql, "SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->rowid_extra && i == t->ncols - 1)
            cdc_buf_printf(&sql, "%s%s", i ? ", " : "", t->cols[i].name);
        else
            cdc_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
    }
    cdc_buf_printf(&sql, " FROM \"%s\"", t->ti->name);
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto sqlerr;
    in_tx = 1;
    if (cdc_position_read(db, &ps, l->err, sizeof l->err) != CDC_CAPTURE_EOK)
        goto out_row;
    if (sqlite3_prepare_v2(db, cdc_buf_cstr(&sql), -1, &stmt, NULL) != SQLITE_OK)
        goto sqlerr;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        cdc_avro_envelope_t e, d;
        cdc_avro_str_t ks, kt;
        int has_after = 0, misfit = 0;

        cdc_record_values_from_stmt(stmt, 0, t->ncols, r.raw);
        for (size_t i = 0; i < t->ncols && !misfit; i++)
            misfit = cdc_convert_value(&t->cols[i], &r.raw[i], &r.vals[i], &r.scratch[i], r.why,
                                       sizeof r.why) != CDC_CONVERT_OK;
        if (misfit || audit_row_finish(t, &r, r.why, sizeof r.why) < 0) {
            fprintf(stderr, "audit_check: %s.%s: skipping a misfit row: %s\n", src->name, name,
                    r.why);
            continue;
        }
        cdc_hash_row(r.canon.data, r.canon.len, hash);
        memset(&e, 0, sizeof e);
        e.op = 'r';
        e.source_name = cdc_avro_str(src->name);
        e.table = cdc_avro_str(t->ti->name);
        e.epoch = ps.epoch;
        e.position = ps.high;
        e.snapshot = 1;
        e.ts_ms = (int64_t)time(NULL) * 1000;
        e.row_hash = hash;
        e.row_hash_len = sizeof hash;
        if (cdc_avro_encode_key_from_row(&key, src->name, t->ti->name, pc, pn, r.raw, &scratch,
                                         &bad, l->err, sizeof l->err) != CDC_AVRO_OK ||
            cdc_avro_encode_envelope(&env, &e, pc, pn, r.raw, &scratch, &bad, l->err,
                                     sizeof l->err) != CDC_AVRO_OK ||
            cdc_avro_decode_envelope(env.data, env.len, pc, pn, &d, &has_after, after, l->err,
                                     sizeof l->err) != CDC_AVRO_OK ||
            cdc_avro_decode_key(key.data, key.len, pc, pn, &ks, &kt, kv, l->err, sizeof l->err) !=
                CDC_AVRO_OK)
            goto out_row;
        cdc_sink_batch_add_row(l->batch, st,
                               l->next_offset + (int64_t)cdc_sink_batch_count(l->batch), d.op,
                               (cdc_pos_t){d.epoch, d.position}, key.data, key.len, kv, after,
                               d.row_hash, d.row_hash_len);
        cdc_buf_reset(&key);
        cdc_buf_reset(&env);
        if (cdc_sink_batch_count(l->batch) >= BATCH_ROWS && flush(l) < 0)
            goto out_row;
    }
    if (step != SQLITE_DONE)
        goto sqlerr;
    rc = flush(l);
    goto out_row;
sqlerr:
    snprintf(l->err, sizeof l->err, "%s.%s: %s", src->name, name, sqlite3_errmsg(db));
out_row:
    audit_row_free(&r, t->ncols);
out:
    if (rc != 0)
        fprintf(stderr, "audit_check: load %s.%s: %s\n", src->name, name, l->err);
    sqlite3_finalize(stmt);
    if (in_tx)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    cdc_avro_schema_columns_free(pc, pn);
    free(after);
    free(kv);
    cdc_buf_free(&sql);
    cdc_buf_free(&key);
    cdc_buf_free(&env);
    cdc_buf_free(&scratch);
    audit_table_free(t);
    return rc;
}

static int load_source(loader_t *l, const cdc_source_t *src)
{
    sqlite3 *db = NULL;
    cdc_capture_spec_t spec;
    char **names = NULL;
    size_t n = 0;
    int rc = -1;

    if (sqlite3_open_v2(src->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "audit_check: open %s: %s\n", src->path, sqlite3_errmsg(db));
        goto out;
    }
    memset(&spec, 0, sizeof spec);
    spec.tables = (const char *const *)src->tables.items;
    spec.n_tables = src->tables.count;
    spec.keys = src->keys;
    spec.n_keys = src->n_keys;
    if (cdc_capture_install(db, &spec, NULL, l->err, sizeof l->err) != CDC_CAPTURE_EOK) {
        fprintf(stderr, "audit_check: capture %s: %s\n", src->name, l->err);
        goto out;
    }
    if (audit_src_tables(db, src, NULL, &names, &n, l->err, sizeof l->err) < 0) {
        fprintf(stderr, "audit_check: %s\n", l->err);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (load_table(l, db, src, names[i]) < 0)
            goto out;
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    sqlite3_close(db);
    return rc;
}

static int cmd_load(const char *path, const char *domain)
{
    char err[2048];
    cdc_config_t *conf = cdc_config_load(path, err, sizeof err);
    loader_t l;
    int rc = 1;
    cdc_sink_status_t st;

    memset(&l, 0, sizeof l);
    if (conf == NULL) {
        fprintf(stderr, "audit_check: %s\n", err);
        return 1;
    }
    l.topic = cdc_asprintf("%s.%s", conf->topic_prefix, domain);
    st = cdc_sink_db_open(conf, domain, &l.sdb, l.err, sizeof l.err);
    if (st == CDC_SINK_OK)
        st = cdc_sink_db_claim_partition(l.sdb, l.topic, 0, &l.next_offset, l.err, sizeof l.err);
    if (st != CDC_SINK_OK) {
        fprintf(stderr, "audit_check: %s\n", l.err);
        goto out;
    }
    l.batch = cdc_sink_batch_new();
    for (size_t i = 0; i < conf->n_sources; i++)
        if (strcmp(conf->sources[i].domain, domain) == 0 && load_source(&l, &conf->sources[i]) < 0)
            goto out;
    rc = 0;
out:
    cdc_sink_batch_destroy(l.batch);
    cdc_sink_db_close(l.sdb);
    free((char *)l.topic);
    cdc_config_destroy(conf);
    return rc;
}

static int cmd_audit(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"domain", required_argument, NULL, 'd'},     {"source", required_argument, NULL, 's'},
        {"table", required_argument, NULL, 't'},      {"json", no_argument, NULL, 'j'},
        {"max-keys", required_argument, NULL, 'k'},   {"no-recheck", no_argument, NULL, 'n'},
        {"chunk-rows", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0}};
    cdc_audit_opts_t opts;
    cdc_config_t *conf;
    char err[2048];
    int c, rc;

    cdc_audit_opts_init(&opts);
    optind = 2;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            opts.domain = optarg;
            break;
        case 's':
            opts.source = optarg;
            break;
        case 't':
            opts.table = optarg;
            break;
        case 'j':
            opts.json = 1;
            break;
        case 'k':
            opts.max_keys = (size_t)strtoul(optarg, NULL, 10);
            break;
        case 'n':
            opts.recheck = 0;
            break;
        case 'c':
            opts.chunk_rows = atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: audit_check audit CONFIG [options]\n");
        return 2;
    }
    if ((conf = cdc_config_load(argv[optind], err, sizeof err)) == NULL) {
        fprintf(stderr, "audit_check: %s\n", err);
        return 2;
    }
    rc = cdc_audit_run(conf, &opts, stdout, err, sizeof err);
    if (rc == CDC_AUDIT_ERROR || rc == CDC_AUDIT_USAGE)
        fprintf(stderr, "audit_check: %s\n", err);
    cdc_config_destroy(conf);
    return rc == CDC_AUDIT_ERROR ? 3 : rc;
}

int main(int argc, char **argv)
{
    cdc_log_set_component("audit_check");
    cdc_log_set_level(CDC_LOG_WARN);
    if (argc == 4 && strcmp(argv[1], "load") == 0)
        return cmd_load(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "audit") == 0)
        return cmd_audit(argc, argv);
    fprintf(stderr, "usage: audit_check load CONFIG DOMAIN | audit_check audit CONFIG "
                    "[--domain D] [--source S] [--table T] [--json] [--max-keys N] "
                    "[--no-recheck] [--chunk-rows N]\n");
    return 2;
}
