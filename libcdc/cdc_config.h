/*
 * cdc_config: the one YAML pipeline file that configures every binary.
 *
 * Every key is described once, in the field tables of cdc_config.c (name, type, default,
 * description, validation); those tables drive parsing, `--help` output and
 * docs/config.md (cdc_config_write_reference), so the three cannot drift apart.
 *
 * Parsing is strict: an unknown key, a wrong type, a missing required key, an unset
 * ${VAR}, a duplicate source name or a source naming an unknown domain is an error that
 * names the file, line and key. Relative source paths are resolved against the directory
 * of the config file, so a config works from any working directory.
 */
#ifndef CDC_CONFIG_H
#define CDC_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/* One "key: value" pair of a string map (librdkafka properties, column overrides). */
typedef struct cdc_kv_s {
    char *key;
    char *value;
} cdc_kv_t;

typedef struct cdc_kvlist_s {
    cdc_kv_t *items;
    size_t count;
} cdc_kvlist_t;

typedef struct cdc_strlist_s {
    char **items;
    size_t count;
} cdc_strlist_t;

/* keys: {table: [col, ...]} */
typedef struct cdc_table_keys_s {
    char *table;
    cdc_strlist_t columns;
} cdc_table_keys_t;

typedef struct cdc_source_s {
    char *name;
    char *path; /* absolute after loading */
    char *domain;
    cdc_strlist_t tables; /* default ["*"] */
    char *table_prefix;   /* default "" */
    cdc_table_keys_t *keys;
    size_t n_keys;
    cdc_kvlist_t columns;            /* "table.column" -> declared type override */
    cdc_kvlist_t target_unique_keys; /* table -> UNIQUE constraint/index over the key */
} cdc_source_t;

typedef struct cdc_domain_s {
    char *name;
    int partitions;
    char *target;    /* libpq conninfo */
    int auto_evolve; /* 1 (default): the sink adds missing columns; 0: dead letters */
} cdc_domain_t;

typedef struct cdc_check_s {
    char *name;
    char *domain;
    char *source;
    char *source_sql;
    char *target_sql;
} cdc_check_t;

/* producer: settings of cdc-producer */
typedef struct cdc_producer_conf_s {
    char *state_dir;         /* absolute after loading */
    int heartbeat_ms;        /* heartbeat period per partition */
    int snapshot_chunk_rows; /* rows per snapshot read transaction */
    int stream_batch_rows;   /* change-log rows per stream read transaction */
    int lock_timeout_ms;     /* how long capture install/ack keeps retrying the write lock */
} cdc_producer_conf_t;

typedef struct cdc_config_s {
    char *path; /* the file it was loaded from */
    cdc_producer_conf_t producer;
    cdc_kvlist_t kafka;
    cdc_kvlist_t kafka_producer;
    cdc_kvlist_t kafka_consumer;
    char *topic_prefix;
    char *registry_url; /* NULL without a schema registry */
    char *registry_username;
    char *registry_password;
    char *registry_subject_strategy; /* default "topic-record-name" (checked when loading) */
    char *registry_compatibility;    /* level set on the producer's subjects; "" leaves it */
    char *registry_tls_verify;       /* "true" (default) or "false" */
    char *registry_ca_file;
    char *registry_cert_file;
    char *registry_key_file;
    char *registry_key_password;
    cdc_source_t *sources;
    size_t n_sources;
    cdc_domain_t *domains;
    size_t n_domains;
    int validation_partitions;
    cdc_check_t *checks;
    size_t n_checks;
} cdc_config_t;

/* Kinds of topic a config implies. */
typedef enum {
    CDC_TOPIC_DOMAIN,
    CDC_TOPIC_DLQ,
    CDC_TOPIC_VALIDATION,
    CDC_TOPIC_SCHEMAS,
} cdc_topic_kind_t;

typedef struct cdc_topic_spec_s {
    char *name;
    int partitions;
    cdc_topic_kind_t kind;
    const char *domain; /* borrowed from the config; NULL for validation/schemas */
} cdc_topic_spec_t;

/*
 * Loads and validates the pipeline file at path. Returns NULL with a message naming the
 * file, line and key in errstr on any error. Caller frees with cdc_config_destroy().
 */
cdc_config_t *cdc_config_load(const char *path, char *errstr, size_t errstr_size);
/* Same, from a string; relative paths resolve against base_dir (may be NULL: cwd). */
cdc_config_t *cdc_config_load_string(const char *yaml, const char *base_dir, char *errstr,
                                     size_t errstr_size);
void cdc_config_destroy(cdc_config_t *conf);

const cdc_domain_t *cdc_config_domain(const cdc_config_t *conf, const char *name);
const cdc_source_t *cdc_config_source(const cdc_config_t *conf, const char *name);

/*
 * Every topic the config implies, in a stable order: per domain <prefix>.<domain> and
 * <prefix>.<domain>.dlq (both with the domain's partitions, so a dead letter lands on
 * the partition of its key), then <prefix>.validation and <prefix>.schemas (1 partition,
 * so schemas are read back in publication order). Returns the count; caller frees with
 * cdc_config_topics_free().
 */
size_t cdc_config_topics(const cdc_config_t *conf, cdc_topic_spec_t **out);
void cdc_config_topics_free(cdc_topic_spec_t *topics, size_t n);

/*
 * Refuses librdkafka properties the tool owns (idempotence, acks, partitioner, group
 * ids, auto-commit, offset reset): returns 0 if props are acceptable, else -1 with the
 * property, the section and the reason in errstr.
 */
int cdc_config_check_kafka_props(const cdc_kvlist_t *props, const char *section, char *errstr,
                                 size_t errstr_size);

/* Writes the reference of every config key (Markdown) — docs/config.md is this output. */
void cdc_config_write_reference(FILE *out);

#endif
