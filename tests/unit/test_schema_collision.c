/*
 * Fingerprint collisions without a registry (docs/records.md "Fingerprint collisions";
 * producer/schema_index.c, cdc_schema_codec_new_unique, consumers/sink_schemas.c).
 *
 * Real schema texts, built by the producer's own codec from SQLite tables: a table whose
 * columns change only where the Parsing Canonical Form does not look (DECIMAL(10,2) ->
 * DECIMAL(12,4), VARCHAR(100) -> VARCHAR(200)) yields two texts with one fingerprint. The
 * producer's index in the state directory renames the second text's row record, so it
 * gets its own fingerprint, the same one in every later run; the first text is never
 * renamed; with a registry nothing is renamed; and the sink's schema cache resolves each
 * fingerprint to its own text and columns (the second's scale 4, not the first's 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_config.h"
#include "record.h"
#include "schema_files.h"
#include "schema_index.h"
#include "sink_schemas.h"
#include "table_info.h"

#define V1 "CREATE TABLE deals(id INTEGER PRIMARY KEY, amount DECIMAL(10,2), note VARCHAR(100))"
#define V2 "CREATE TABLE deals(id INTEGER PRIMARY KEY, amount DECIMAL(12,4), note VARCHAR(200))"

typedef struct fixture_s {
    char dir[64];
    cdc_config_t *conf;     /* no registry */
    cdc_config_t *reg_conf; /* schema_registry.url set, same state_dir */
    cdc_table_info_t *ti1, *ti2;
} fixture_t;

static cdc_config_t *load(const char *dir, int registry)
{
    char err[512];
    char *yaml =
        cdc_asprintf("kafka: {bootstrap.servers: \"127.0.0.1:1\"}\n"
                     "topic_prefix: ut\n"
                     "%s"
                     "producer: {state_dir: \"%s/state\"}\n"
                     "sources:\n"
                     "  - {name: s1, path: s1.db, domain: crm}\n"
                     "domains:\n"
                     "  - {name: crm, partitions: 3, target: \"dbname=x\"}\n",
                     registry ? "schema_registry: {url: \"http://127.0.0.1:1\"}\n" : "", dir);
    cdc_config_t *c = cdc_config_load_string(yaml, dir, err, sizeof err);
    if (c == NULL)
        fail_msg("config: %s", err);
    free(yaml);
    return c;
}

static cdc_table_info_t *table(const char *ddl)
{
    sqlite3 *db = NULL;
    cdc_table_info_t *ti = NULL;
    char err[512];

    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, ddl, NULL, NULL, NULL), SQLITE_OK);
    if (cdc_table_info_load(db, "deals", NULL, &ti, err, sizeof err) != CDC_TABLE_INFO_OK)
        fail_msg("table_info: %s", err);
    sqlite3_close(db);
    return ti;
}

static int setup(void **state)
{
    static fixture_t f;
    char cmd[128];

    snprintf(f.dir, sizeof f.dir, "/tmp/cdc-ut-collision-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(cmd, sizeof cmd, "mkdir -p %s/state", f.dir);
    assert_int_equal(system(cmd), 0);
    f.conf = load(f.dir, 0);
    f.reg_conf = load(f.dir, 1);
    f.ti1 = table(V1);
    f.ti2 = table(V2);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];

    cdc_table_info_destroy(f->ti1);
    cdc_table_info_destroy(f->ti2);
    cdc_config_destroy(f->conf);
    cdc_config_destroy(f->reg_conf);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static cdc_table_codec_t *unique(const cdc_config_t *conf, const cdc_table_info_t *ti)
{
    char err[512];
    size_t n;
    int index_error = -1;
    cdc_table_codec_t *c =
        cdc_schema_codec_new_unique(conf, &conf->sources[0], ti, &n, &index_error, err, sizeof err);
    if (c == NULL)
        fail_msg("codec: %s", err);
    assert_int_equal(index_error, 0);
    return c;
}

static cdc_table_codec_t *plain(const cdc_config_t *conf, const cdc_table_info_t *ti)
{
    char err[512];
    size_t n;
    cdc_table_codec_t *c = cdc_schema_codec_new(&conf->sources[0], ti, &n, err, sizeof err);
    if (c == NULL)
        fail_msg("codec: %s", err);
    return c;
}

/* The premise: the two texts differ, their canonical forms do not. */
static void test_texts_collide_without_the_index(void **state)
{
    fixture_t *f = *state;
    cdc_table_codec_t *a = plain(f->conf, f->ti1), *b = plain(f->conf, f->ti2);

    assert_string_not_equal(cdc_table_codec_envelope_schema(a), cdc_table_codec_envelope_schema(b));
    assert_non_null(strstr(cdc_table_codec_envelope_schema(a), "\"scale\":2"));
    assert_non_null(strstr(cdc_table_codec_envelope_schema(b), "\"scale\":4"));
    assert_true(cdc_table_codec_envelope_fingerprint(a) == cdc_table_codec_envelope_fingerprint(b));
    cdc_table_codec_destroy(a);
    cdc_table_codec_destroy(b);
}

static const char *row_name(const char *env)
{
    /* The row record is the first "record" after the envelope's: its name follows. */
    const char *p = strstr(env, "\"after\"");
    assert_non_null(p);
    p = strstr(p, "\"name\":\"");
    assert_non_null(p);
    return p + 8;
}

static void test_second_text_gets_its_own_fingerprint(void **state)
{
    fixture_t *f = *state;
    cdc_table_codec_t *a = unique(f->conf, f->ti1);
    cdc_table_codec_t *b = unique(f->conf, f->ti2);
    cdc_table_codec_t *b0 = plain(f->conf, f->ti2);
    const char *ea = cdc_table_codec_envelope_schema(a), *eb = cdc_table_codec_envelope_schema(b);
    uint64_t fa = cdc_table_codec_envelope_fingerprint(a);
    uint64_t fb = cdc_table_codec_envelope_fingerprint(b);
    uint64_t check;
    char err[256];

    /* The first text is untouched; the second is renamed and no longer collides. */
    cdc_table_codec_t *a0 = plain(f->conf, f->ti1);
    assert_string_equal(ea, cdc_table_codec_envelope_schema(a0));
    cdc_table_codec_destroy(a0);
    assert_true(fa == cdc_table_codec_envelope_fingerprint(b0));
    assert_true(fb != fa);
    assert_int_equal(strncmp(row_name(ea), "deals\"", 6), 0);
    assert_int_equal(strncmp(row_name(eb), "deals_v", 7), 0);
    /* Envelope (subject) and key unchanged; the renamed text is still the new columns. */
    assert_non_null(strstr(eb, "\"name\":\"deals_envelope\",\"namespace\":\"cdc.s1\""));
    assert_string_equal(cdc_table_codec_key_schema(b), cdc_table_codec_key_schema(b0));
    assert_non_null(strstr(eb, "\"scale\":4"));
    assert_int_equal(cdc_avro_fingerprint(eb, strlen(eb), &check, err, sizeof err), 0);
    assert_true(check == fb);

    /* Every later run (same state_dir) names both texts the same way. */
    cdc_table_codec_t *a2 = unique(f->conf, f->ti1), *b2 = unique(f->conf, f->ti2);
    assert_true(cdc_table_codec_envelope_fingerprint(a2) == fa);
    assert_true(cdc_table_codec_envelope_fingerprint(b2) == fb);
    assert_string_equal(cdc_table_codec_envelope_schema(b2), eb);

    /* With a registry the text keeps its name (records carry registry ids). */
    cdc_table_codec_t *br = unique(f->reg_conf, f->ti2);
    assert_string_equal(cdc_table_codec_envelope_schema(br), cdc_table_codec_envelope_schema(b0));

    cdc_table_codec_destroy(a);
    cdc_table_codec_destroy(b);
    cdc_table_codec_destroy(b0);
    cdc_table_codec_destroy(a2);
    cdc_table_codec_destroy(b2);
    cdc_table_codec_destroy(br);
}

/* The sink's cache: each fingerprint resolves to its own text and columns. */
static void test_sink_cache_resolves_each_text(void **state)
{
    fixture_t *f = *state;
    cdc_table_codec_t *a = unique(f->conf, f->ti1), *b = unique(f->conf, f->ti2);
    const char *ea = cdc_table_codec_envelope_schema(a), *eb = cdc_table_codec_envelope_schema(b);
    char err[512];
    cdc_sink_schemas_t *s = cdc_sink_schemas_new(f->conf, "crm", err, sizeof err);

    assert_non_null(s);
    assert_int_equal(cdc_sink_schemas_add(s, ea, strlen(ea), err, sizeof err),
                     CDC_SINK_SCHEMA_ENVELOPE);
    assert_int_equal(cdc_sink_schemas_add(s, eb, strlen(eb), err, sizeof err),
                     CDC_SINK_SCHEMA_ENVELOPE);
    assert_int_equal(cdc_sink_schemas_count(s), 2);
    const cdc_sink_schema_t *sa = cdc_sink_schemas_get(s, cdc_table_codec_envelope_fingerprint(a));
    const cdc_sink_schema_t *sb = cdc_sink_schemas_get(s, cdc_table_codec_envelope_fingerprint(b));
    assert_non_null(sa);
    assert_non_null(sb);
    assert_string_equal(sa->json, ea);
    assert_string_equal(sb->json, eb);
    assert_string_equal(sb->table, "deals");
    assert_int_equal(sa->ncols, 3);
    assert_int_equal(sb->ncols, 3);
    assert_int_equal(sa->cols[1].type.scale, 2);
    assert_int_equal(sb->cols[1].type.scale, 4);
    assert_int_equal(sb->cols[1].type.precision, 12);
    assert_int_equal(sb->cols[2].type.max_length, 200);
    assert_int_equal(sa->cols[2].type.max_length, 100);

    /* Without the index the second text would have been a duplicate of the first. */
    cdc_table_codec_t *b0 = plain(f->conf, f->ti2);
    const char *eb0 = cdc_table_codec_envelope_schema(b0);
    assert_int_equal(cdc_sink_schemas_add(s, eb0, strlen(eb0), err, sizeof err),
                     CDC_SINK_SCHEMA_ENVELOPE);
    assert_int_equal(cdc_sink_schemas_count(s), 2);
    assert_string_equal(cdc_sink_schemas_get(s, cdc_table_codec_envelope_fingerprint(b0))->json,
                        ea);

    cdc_sink_schemas_destroy(s);
    cdc_table_codec_destroy(a);
    cdc_table_codec_destroy(b);
    cdc_table_codec_destroy(b0);
}

/* The index file: a claim is recorded once; an unusable directory is an error naming it. */
static void test_index_file(void **state)
{
    fixture_t *f = *state;
    char err[512], *dir = cdc_asprintf("%s/idx", f->dir), *path = cdc_schema_index_path(dir);

    assert_int_equal(cdc_schema_index_claim(dir, 0x1234, "a", err, sizeof err),
                     CDC_SCHEMA_INDEX_NEW);
    assert_int_equal(cdc_schema_index_claim(dir, 0x1234, "a", err, sizeof err),
                     CDC_SCHEMA_INDEX_SAME);
    assert_int_equal(cdc_schema_index_claim(dir, 0x1234, "b", err, sizeof err),
                     CDC_SCHEMA_INDEX_COLLISION);
    assert_int_equal(cdc_schema_index_claim(dir, 0x5678, "b", err, sizeof err),
                     CDC_SCHEMA_INDEX_NEW);
    FILE *fp = fopen(path, "r");
    char line[64];
    int lines = 0;
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp))
        lines++;
    fclose(fp);
    assert_int_equal(lines, 2);
    assert_int_equal(cdc_schema_index_claim("/proc/no/such/dir", 1, "a", err, sizeof err),
                     CDC_SCHEMA_INDEX_ERROR);
    assert_non_null(strstr(err, "/proc/no/such/dir/schema-fingerprints"));
    free(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_texts_collide_without_the_index),
        cmocka_unit_test(test_second_text_gets_its_own_fingerprint),
        cmocka_unit_test(test_sink_cache_resolves_each_text),
        cmocka_unit_test(test_index_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
