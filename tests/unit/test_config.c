/*
 * Unit tests of the pipeline config loader: the example config, defaults, ${VAR}
 * expansion, strict errors naming line and key, owned Kafka properties, topics, and
 * that docs/config.md is the current output of the field tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cdc_alloc.h"
#include "cdc_config.h"
#include "cdc_config_expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *minimal = "kafka: {bootstrap.servers: 'h:1'}\n"
                             "domains:\n"
                             "  - {name: crm, target: 'dbname=x'}\n"
                             "sources:\n"
                             "  - {name: a, domain: crm, path: a.db}\n";

static cdc_config_t *load_ok(const char *yaml)
{
    char err[512] = "";
    cdc_config_t *c = cdc_config_load_string(yaml, "/base", err, sizeof(err));
    if (!c)
        fail_msg("unexpected config error: %s", err);
    return c;
}

/* Loads yaml expecting failure; returns the message (static buffer). */
static const char *load_err(const char *yaml)
{
    static char err[512];
    err[0] = '\0';
    cdc_config_t *c = cdc_config_load_string(yaml, "/base", err, sizeof(err));
    if (c) {
        cdc_config_destroy(c);
        fail_msg("config unexpectedly accepted:\n%s", yaml);
    }
    return err;
}

static void test_example_config_loads(void **state)
{
    (void)state;
    char err[512] = "";
    char *path = cdc_asprintf("%s/config/pipeline.example.yml", CDC_SOURCE_DIR);
    cdc_config_t *c = cdc_config_load(path, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->n_domains, 3);
    assert_int_equal(c->n_sources, 20);
    const cdc_source_t *e = cdc_config_source(c, "epic7");
    assert_non_null(e);
    assert_string_equal(e->domain, "crm");
    assert_true(e->path[0] == '/'); /* resolved against the config's directory */
    assert_non_null(strstr(e->path, "epic7_sales_automation.db"));
    assert_string_equal(cdc_config_source(c, "f500_abm")->table_prefix, "abm_");
    assert_true(c->n_checks >= 1);
    free(path);
    cdc_config_destroy(c);
}

static void test_defaults(void **state)
{
    (void)state;
    cdc_config_t *c = load_ok(minimal);
    assert_string_equal(c->topic_prefix, "cdc");
    assert_int_equal(c->validation_partitions, 3);
    assert_int_equal(c->domains[0].partitions, 6);
    assert_int_equal(c->sources[0].tables.count, 1);
    assert_string_equal(c->sources[0].tables.items[0], "*");
    assert_string_equal(c->sources[0].table_prefix, "");
    assert_int_equal(c->sources[0].target_unique_keys.count, 0);
    assert_string_equal(c->sources[0].path, "/base/a.db");
    assert_null(c->registry_url);
    assert_string_equal(c->producer.state_dir, "/base/cdc-state");
    assert_int_equal(c->producer.heartbeat_ms, 1000);
    assert_int_equal(c->producer.snapshot_chunk_rows, 2000);
    assert_int_equal(c->kafka.count, 1);
    assert_string_equal(c->kafka.items[0].key, "bootstrap.servers");
    assert_string_equal(c->kafka.items[0].value, "h:1");
    cdc_config_destroy(c);
}

static void test_keys_columns_and_checks(void **state)
{
    (void)state;
    cdc_config_t *c = load_ok("domains: [{name: crm, target: t, partitions: 2}]\n"
                              "sources:\n"
                              "  - name: s\n"
                              "    domain: crm\n"
                              "    path: /abs/s.db\n"
                              "    tables: [a, 'b c']\n"
                              "    keys: {nokey: [x, y], other: z}\n"
                              "    columns: {a.v: 'decimal(14,2)'}\n"
                              "    target_unique_keys: {contacts: contacts_external_id_key}\n"
                              "checks:\n"
                              "  - {name: n, domain: crm, source: s, source_sql: q1, "
                              "target_sql: q2}\n");
    const cdc_source_t *s = &c->sources[0];
    assert_string_equal(s->path, "/abs/s.db");
    assert_int_equal(s->tables.count, 2);
    assert_string_equal(s->tables.items[1], "b c");
    assert_int_equal(s->n_keys, 2);
    assert_string_equal(s->keys[0].table, "nokey");
    assert_int_equal(s->keys[0].columns.count, 2);
    assert_string_equal(s->keys[1].columns.items[0], "z");
    assert_string_equal(s->columns.items[0].key, "a.v");
    assert_string_equal(s->columns.items[0].value, "decimal(14,2)");
    assert_int_equal(s->target_unique_keys.count, 1);
    assert_string_equal(s->target_unique_keys.items[0].key, "contacts");
    assert_string_equal(s->target_unique_keys.items[0].value, "contacts_external_id_key");
    assert_int_equal(c->domains[0].partitions, 2);
    assert_string_equal(c->checks[0].target_sql, "q2");
    cdc_config_destroy(c);
}

static void test_producer_section(void **state)
{
    (void)state;
    cdc_config_t *c = load_ok("domains: [{name: crm, target: t}]\nsources: []\n"
                              "producer: {state_dir: /var/lib/cdc, heartbeat_ms: 250, "
                              "snapshot_chunk_rows: 10}\n");
    assert_string_equal(c->producer.state_dir, "/var/lib/cdc");
    assert_int_equal(c->producer.heartbeat_ms, 250);
    assert_int_equal(c->producer.snapshot_chunk_rows, 10);
    assert_int_equal(c->producer.stream_batch_rows, 5000);
    cdc_config_destroy(c);
    const char *e = load_err("domains: [{name: crm, target: t}]\nsources: []\n"
                             "producer: {heartbeat_ms: 1}\n");
    assert_non_null(strstr(e, "`heartbeat_ms` must be an integer from 50"));
}

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("CDC_TEST_HOST", "broker:9", 1);
    unsetenv("CDC_TEST_UNSET");
    cdc_config_t *c = load_ok("kafka: {bootstrap.servers: '${CDC_TEST_HOST}'}\n"
                              "domains: [{name: crm, target: 'port=${CDC_TEST_UNSET:-5433} "
                              "x=$$y'}]\n"
                              "sources: []\n");
    assert_string_equal(c->kafka.items[0].value, "broker:9");
    assert_string_equal(c->domains[0].target, "port=5433 x=$y");
    cdc_config_destroy(c);

    const char *e = load_err("domains: [{name: crm, target: '${CDC_TEST_UNSET}'}]\n"
                             "sources: []\n");
    assert_non_null(strstr(e, "CDC_TEST_UNSET is not set"));
    assert_non_null(strstr(e, ":1:"));
}

static void test_errors_name_line_and_key(void **state)
{
    (void)state;
    const char *e = load_err("domains: [{name: crm, target: t}]\n"
                             "sources: []\n"
                             "bogus: 1\n");
    assert_non_null(strstr(e, "<config>:3:"));
    assert_non_null(strstr(e, "unknown key `bogus`"));

    e = load_err("domains: [{name: crm, target: t, partitions: zero}]\nsources: []\n");
    assert_non_null(strstr(e, "`partitions` must be an integer"));

    e = load_err("domains: [{name: crm, target: t}]\n"
                 "sources: [{name: a, domain: crm, path: x, target_unique_keys: [k]}]\n");
    assert_non_null(strstr(e, "target_unique_keys"));

    e = load_err("domains: [{name: crm}]\nsources: []\n");
    assert_non_null(strstr(e, "required key `target`"));

    e = load_err("domains: [{name: crm, target: t}]\n"
                 "sources: [{name: a, domain: nope, path: x}]\n");
    assert_non_null(strstr(e, "domain \"nope\" is not defined"));

    e = load_err("domains: [{name: crm, target: t}]\n"
                 "sources: [{name: a, domain: crm, path: x}, {name: a, domain: crm, path: y}]\n");
    assert_non_null(strstr(e, "\"a\" is used twice"));

    e = load_err("domains: [{name: 'c m', target: t}]\nsources: []\n");
    assert_non_null(strstr(e, "part of a topic name"));

    e = load_err("domains: [{name: crm, target: t}]\nsources: []\nchecks: [{name: n, domain: "
                 "crm, source: missing, source_sql: a, target_sql: b}]\n");
    assert_non_null(strstr(e, "source \"missing\" is not defined"));

    e = load_err("domains: [{name: crm, target: t}\n");
    assert_non_null(strstr(e, "YAML syntax error"));

    e = load_err("sources: []\n");
    assert_non_null(strstr(e, "required key `domains`"));
}

static void test_owned_kafka_properties_refused(void **state)
{
    (void)state;
    const char *e = load_err("kafka: {acks: '1'}\ndomains: [{name: c, target: t}]\n"
                             "sources: []\n");
    assert_non_null(strstr(e, "`kafka.acks` is owned by the tool"));
    e = load_err("kafka_consumer: {auto.offset.reset: earliest}\n"
                 "domains: [{name: c, target: t}]\nsources: []\n");
    assert_non_null(strstr(e, "kafka_consumer.auto.offset.reset"));
    assert_non_null(strstr(e, "invariant 6"));
    e = load_err("kafka_producer: {enable.idempotence: 'false'}\n"
                 "domains: [{name: c, target: t}]\nsources: []\n");
    assert_non_null(strstr(e, "enable.idempotence"));
}

static void test_topics(void **state)
{
    (void)state;
    cdc_config_t *c = load_ok("topic_prefix: p\n"
                              "domains: [{name: crm, target: t, partitions: 6}, "
                              "{name: f500, target: t, partitions: 3}]\n"
                              "validation: {partitions: 2}\n"
                              "sources: []\n");
    cdc_topic_spec_t *t;
    size_t n = cdc_config_topics(c, &t);
    assert_int_equal(n, 6);
    assert_string_equal(t[0].name, "p.crm");
    assert_int_equal(t[0].partitions, 6);
    assert_int_equal(t[0].kind, CDC_TOPIC_DOMAIN);
    assert_string_equal(t[1].name, "p.crm.dlq");
    assert_int_equal(t[1].partitions, 6);
    assert_string_equal(t[3].name, "p.f500.dlq");
    assert_int_equal(t[3].partitions, 3);
    assert_string_equal(t[4].name, "p.validation");
    assert_int_equal(t[4].partitions, 2);
    assert_string_equal(t[5].name, "p.schemas");
    assert_int_equal(t[5].partitions, 1);
    cdc_config_topics_free(t, n);
    cdc_config_destroy(c);
}

static void test_missing_file(void **state)
{
    (void)state;
    char err[512];
    assert_null(cdc_config_load("/nonexistent/pipeline.yml", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/pipeline.yml"));
}

/* docs/config.md must be exactly what the field tables produce. */
static void test_reference_doc_is_current(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    cdc_config_write_reference(mem);
    fclose(mem);
    char *path = cdc_asprintf("%s/docs/config.md", CDC_SOURCE_DIR);
    if (getenv("CDC_REGEN_DOCS")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s is missing: run CDC_REGEN_DOCS=1 build/tests/test_config", path);
    char *disk = cdc_malloc(len + 2);
    size_t got = fread(disk, 1, len + 1, f);
    fclose(f);
    if (got != len || memcmp(disk, buf, len) != 0)
        fail_msg("%s is stale: run CDC_REGEN_DOCS=1 build/tests/test_config", path);
    free(disk);
    free(path);
    free(buf);
}

/* schema_registry: defaults, every key, and the values refused (naming the key). */
static void test_registry_section(void **state)
{
    (void)state;
    cdc_config_t *c = load_ok(minimal);
    assert_null(c->registry_url);
    assert_string_equal(c->registry_subject_strategy, "topic-record-name");
    assert_string_equal(c->registry_compatibility, "BACKWARD");
    assert_string_equal(c->registry_tls_verify, "true");
    assert_null(c->registry_ca_file);
    cdc_config_destroy(c);

    char *yaml = cdc_asprintf("%sschema_registry:\n  url: https://reg:8081\n"
                              "  subject_strategy: RecordNameStrategy\n  compatibility: FULL\n"
                              "  tls_verify: false\n  ca_file: /ca.pem\n  cert_file: /c.pem\n"
                              "  key_file: /k.pem\n  key_password: pw\n",
                              minimal);
    c = load_ok(yaml);
    assert_string_equal(c->registry_url, "https://reg:8081");
    assert_string_equal(c->registry_subject_strategy, "RecordNameStrategy");
    assert_string_equal(c->registry_compatibility, "FULL");
    assert_string_equal(c->registry_tls_verify, "false");
    assert_string_equal(c->registry_ca_file, "/ca.pem");
    assert_string_equal(c->registry_cert_file, "/c.pem");
    assert_string_equal(c->registry_key_file, "/k.pem");
    assert_string_equal(c->registry_key_password, "pw");
    cdc_config_destroy(c);
    free(yaml);

    yaml = cdc_asprintf("%sschema_registry: {url: 'http://r', compatibility: ''}\n", minimal);
    c = load_ok(yaml);
    assert_string_equal(c->registry_compatibility, "");
    cdc_config_destroy(c);
    free(yaml);

    yaml = cdc_asprintf("%sschema_registry: {subject_strategy: by-table}\n", minimal);
    assert_non_null(strstr(load_err(yaml), "schema_registry.subject_strategy \"by-table\""));
    free(yaml);
    yaml = cdc_asprintf("%sschema_registry: {compatibility: SOMETIMES}\n", minimal);
    assert_non_null(strstr(load_err(yaml), "schema_registry.compatibility \"SOMETIMES\""));
    free(yaml);
    yaml = cdc_asprintf("%sschema_registry: {tls_verify: maybe}\n", minimal);
    assert_non_null(strstr(load_err(yaml), "schema_registry.tls_verify \"maybe\""));
    free(yaml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_config_loads),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_registry_section),
        cmocka_unit_test(test_keys_columns_and_checks),
        cmocka_unit_test(test_producer_section),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_owned_kafka_properties_refused),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_reference_doc_is_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
