/*
 * The pipeline file: parsed with libyaml's document API (so every node knows its line),
 * driven by the field tables below. One table per section; each row is a key with its
 * type, default, bounds and description. Parsing, validation and the reference in
 * docs/config.md all read these tables.
 */
#include "cdc_config.h"

#include "cdc_alloc.h"
#include "cdc_config_expand.h"
#include "cdc_registry.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

typedef enum {
    FT_STRING,  /* char * */
    FT_INT,     /* int, bounded by min/max */
    FT_KVMAP,   /* cdc_kvlist_t: flat map of scalars */
    FT_STRLIST, /* cdc_strlist_t: sequence of scalars */
    FT_KEYSMAP, /* cdc_table_keys_t* + count: table -> [columns] */
    FT_SECTION, /* nested mapping parsed with sub-fields into the same struct */
    FT_LIST,    /* sequence of mappings, each parsed with sub-fields into a new item */
    FT_BOOL,    /* int 0/1 from true/false; only in list items (its default needs to know
                   the key was absent, which only parse_mapping knows) */
} field_type_t;

typedef struct field_s field_t;
struct field_s {
    const char *name;
    field_type_t type;
    size_t offset;       /* into the struct being filled */
    size_t count_offset; /* FT_LIST / FT_KEYSMAP: where the item count lives */
    size_t item_size;    /* FT_LIST: sizeof one item */
    const field_t *sub;  /* FT_SECTION / FT_LIST: fields of the nested mapping */
    const char *def;     /* default (text), NULL: none */
    int required;
    int min, max; /* FT_INT bounds */
    const char *doc;
};

#define END_FIELDS                                                                                 \
    {                                                                                              \
        NULL, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, NULL                                                \
    }

static const field_t source_fields[] = {
    {"name", FT_STRING, offsetof(cdc_source_t, name), 0, 0, NULL, NULL, 1, 0, 0,
     "Unique name of the source; appears in record keys, topics headers and parity reports."},
    {"path", FT_STRING, offsetof(cdc_source_t, path), 0, 0, NULL, NULL, 1, 0, 0,
     "SQLite file; a relative path is resolved against the config file's directory."},
    {"domain", FT_STRING, offsetof(cdc_source_t, domain), 0, 0, NULL, NULL, 1, 0, 0,
     "Domain (one of `domains:`) whose topic and target database receive this source."},
    {"tables", FT_STRLIST, offsetof(cdc_source_t, tables), 0, 0, NULL, "[\"*\"]", 0, 0, 0,
     "Tables to capture; `*` means every user table."},
    {"table_prefix", FT_STRING, offsetof(cdc_source_t, table_prefix), 0, 0, NULL, "", 0, 0, 0,
     "Prefix of the target table names (e.g. `f500_`)."},
    {"keys", FT_KEYSMAP, offsetof(cdc_source_t, keys), offsetof(cdc_source_t, n_keys), 0, NULL,
     "{}", 0, 0, 0, "Key columns for tables without a declared key: `{table: [col, ...]}`."},
    {"columns", FT_KVMAP, offsetof(cdc_source_t, columns), 0, 0, NULL, "{}", 0, 0, 0,
     "Per-column type overrides: `{table.column: \"decimal(14,2)\"}` (docs/type-mapping.md)."},
    {"target_unique_keys", FT_KVMAP, offsetof(cdc_source_t, target_unique_keys), 0, 0, NULL, "{}",
     0, 0, 0,
     "`{table: constraint_name}`: for a pre-created target table whose primary key is not the "
     "source key: the name of a UNIQUE constraint or unique index over exactly the source key "
     "columns; the sink upserts on it."},
    END_FIELDS,
};

static const field_t domain_fields[] = {
    {"name", FT_STRING, offsetof(cdc_domain_t, name), 0, 0, NULL, NULL, 1, 0, 0,
     "Domain name; its topic is `<topic_prefix>.<name>`."},
    {"partitions", FT_INT, offsetof(cdc_domain_t, partitions), 0, 0, NULL, "6", 0, 1, 10000,
     "Partitions of the domain topic and its dead-letter topic; the sink group's ceiling."},
    {"target", FT_STRING, offsetof(cdc_domain_t, target), 0, 0, NULL, NULL, 1, 0, 0,
     "libpq conninfo of the target PostgreSQL database (PG* environment variables apply)."},
    {"auto_evolve", FT_BOOL, offsetof(cdc_domain_t, auto_evolve), 0, 0, NULL, "true", 0, 0, 0,
     "`true`: the sink adds a column the target table lacks when a record's schema has it; "
     "`false`: such records are not applied but dead-lettered with the table and the "
     "missing columns (add them, then `cdc-ctl dlq redrive`; also `cdc-sink "
     "--no-auto-evolve`)."},
    END_FIELDS,
};

static const field_t check_fields[] = {
    {"name", FT_STRING, offsetof(cdc_check_t, name), 0, 0, NULL, NULL, 1, 0, 0,
     "Name of the business check, shown in audit and cutover reports."},
    {"domain", FT_STRING, offsetof(cdc_check_t, domain), 0, 0, NULL, NULL, 1, 0, 0,
     "Domain whose target database runs `target_sql`."},
    {"source", FT_STRING, offsetof(cdc_check_t, source), 0, 0, NULL, NULL, 1, 0, 0,
     "Source whose SQLite file runs `source_sql`."},
    {"source_sql", FT_STRING, offsetof(cdc_check_t, source_sql), 0, 0, NULL, NULL, 1, 0, 0,
     "SQLite query returning one value."},
    {"target_sql", FT_STRING, offsetof(cdc_check_t, target_sql), 0, 0, NULL, NULL, 1, 0, 0,
     "PostgreSQL query that must return the same value as text."},
    END_FIELDS,
};

static const field_t registry_fields[] = {
    {"url", FT_STRING, offsetof(cdc_config_t, registry_url), 0, 0, NULL, NULL, 0, 0, 0,
     "Confluent-compatible schema registry; without it records use single-object encoding."},
    {"username", FT_STRING, offsetof(cdc_config_t, registry_username), 0, 0, NULL, NULL, 0, 0, 0,
     "Basic-auth user of the registry."},
    {"password", FT_STRING, offsetof(cdc_config_t, registry_password), 0, 0, NULL, NULL, 0, 0, 0,
     "Basic-auth password (use `${VAR}`)."},
    {"subject_strategy", FT_STRING, offsetof(cdc_config_t, registry_subject_strategy), 0, 0, NULL,
     "topic-record-name", 0, 0, 0,
     "How subjects are named: `topic-record-name` (`<topic>-<record full name>`, needed when "
     "several tables share a topic), `topic-name` or `record-name` "
     "(docs/schema-registry.md)."},
    {"compatibility", FT_STRING, offsetof(cdc_config_t, registry_compatibility), 0, 0, NULL,
     "BACKWARD", 0, 0, 0,
     "Compatibility level the producer sets on each of its subjects before registering "
     "(a Confluent level, e.g. `BACKWARD`, `FULL`, `NONE`); empty: leave the registry's."},
    {"tls_verify", FT_STRING, offsetof(cdc_config_t, registry_tls_verify), 0, 0, NULL, "true", 0, 0,
     0, "`true`: verify the registry's TLS certificate and host name; `false`: don't (logged)."},
    {"ca_file", FT_STRING, offsetof(cdc_config_t, registry_ca_file), 0, 0, NULL, NULL, 0, 0, 0,
     "CA bundle (PEM) to verify the registry with; default: the system's."},
    {"cert_file", FT_STRING, offsetof(cdc_config_t, registry_cert_file), 0, 0, NULL, NULL, 0, 0, 0,
     "TLS client certificate (PEM)."},
    {"key_file", FT_STRING, offsetof(cdc_config_t, registry_key_file), 0, 0, NULL, NULL, 0, 0, 0,
     "Private key (PEM) of the client certificate."},
    {"key_password", FT_STRING, offsetof(cdc_config_t, registry_key_password), 0, 0, NULL, NULL, 0,
     0, 0, "Passphrase of the private key (use `${VAR}`)."},
    END_FIELDS,
};

static const field_t validation_fields[] = {
    {"partitions", FT_INT, offsetof(cdc_config_t, validation_partitions), 0, 0, NULL, "3", 0, 1,
     10000, "Partitions of `<topic_prefix>.validation`."},
    END_FIELDS,
};

#define PRODUCER_OFF(f) (offsetof(cdc_config_t, producer) + offsetof(cdc_producer_conf_t, f))
static const field_t producer_fields[] = {
    {"state_dir", FT_STRING, PRODUCER_OFF(state_dir), 0, 0, NULL, "cdc-state", 0, 0, 0,
     "Where cdc-producer keeps what it acknowledged per source and snapshot progress, "
     "outside the SQLite files (so a file restored from a backup is recognised); relative "
     "to the config file's directory."},
    {"heartbeat_ms", FT_INT, PRODUCER_OFF(heartbeat_ms), 0, 0, NULL, "1000", 0, 50, 600000,
     "Period of the heartbeats on every partition of a source's domain topic."},
    {"snapshot_chunk_rows", FT_INT, PRODUCER_OFF(snapshot_chunk_rows), 0, 0, NULL, "2000", 0, 1,
     1000000, "Rows per snapshot chunk (one short read transaction each)."},
    {"stream_batch_rows", FT_INT, PRODUCER_OFF(stream_batch_rows), 0, 0, NULL, "5000", 0, 1,
     1000000, "Change-log rows per stream read transaction."},
    {"lock_timeout_ms", FT_INT, PRODUCER_OFF(lock_timeout_ms), 0, 0, NULL, "10000", 0, 1, 600000,
     "How long capture install and acknowledgement retry for the write lock."},
    END_FIELDS,
};

static const field_t top_fields[] = {
    {"kafka", FT_KVMAP, offsetof(cdc_config_t, kafka), 0, 0, NULL, "{}", 0, 0, 0,
     "librdkafka properties for every role (e.g. `bootstrap.servers`)."},
    {"kafka_producer", FT_KVMAP, offsetof(cdc_config_t, kafka_producer), 0, 0, NULL, "{}", 0, 0, 0,
     "Extra librdkafka properties for the producer."},
    {"kafka_consumer", FT_KVMAP, offsetof(cdc_config_t, kafka_consumer), 0, 0, NULL, "{}", 0, 0, 0,
     "Extra librdkafka properties for sinks and the validator."},
    {"topic_prefix", FT_STRING, offsetof(cdc_config_t, topic_prefix), 0, 0, NULL, "cdc", 0, 0, 0,
     "Topics are `<prefix>.<domain>`, `.<domain>.dlq`, `.validation`, `.schemas`."},
    {"schema_registry", FT_SECTION, 0, 0, 0, registry_fields, NULL, 0, 0, 0,
     "Optional schema registry."},
    {"sources", FT_LIST, offsetof(cdc_config_t, sources), offsetof(cdc_config_t, n_sources),
     sizeof(cdc_source_t), source_fields, NULL, 1, 0, 0, "SQLite source files."},
    {"domains", FT_LIST, offsetof(cdc_config_t, domains), offsetof(cdc_config_t, n_domains),
     sizeof(cdc_domain_t), domain_fields, NULL, 1, 0, 0, "Domains: a topic and a target each."},
    {"validation", FT_SECTION, 0, 0, 0, validation_fields, NULL, 0, 0, 0, "The validation topic."},
    {"producer", FT_SECTION, 0, 0, 0, producer_fields, NULL, 0, 0, 0, "Settings of cdc-producer."},
    {"checks", FT_LIST, offsetof(cdc_config_t, checks), offsetof(cdc_config_t, n_checks),
     sizeof(cdc_check_t), check_fields, NULL, 0, 0, 0,
     "Business invariants compared by the validator's audit and the cutover."},
    END_FIELDS,
};

/* Properties whose values the invariants depend on, with the reason shown on refusal. */
static const struct {
    const char *name;
    const char *reason;
} owned_props[] = {
    {"enable.idempotence", "the producer is always idempotent (no duplicates or reordering on "
                           "retry; invariant 3)"},
    {"acks", "acks=all is required: a position is acknowledged only after every in-sync "
             "replica has the record (invariant 3)"},
    {"request.required.acks", "acks=all is required (invariant 3)"},
    {"partitioner", "the partition is murmur2 of the canonical key, computed by the tool "
                    "(invariant 4)"},
    {"group.id", "group ids are derived from topic_prefix and the domain"},
    {"enable.auto.commit", "offsets live in the target database with the data (invariant 6)"},
    {"enable.auto.offset.store", "offsets live in the target database with the data "
                                 "(invariant 6)"},
    {"auto.offset.reset", "a worker resumes only from the offset stored in PostgreSQL; "
                          "auto.offset.reset never decides (invariant 6)"},
    {"transactional.id", "correctness never rests on Kafka transactions (DESIGN.md)"},
};

typedef struct parse_ctx_s {
    yaml_document_t *doc;
    const char *file;
    const char *base_dir;
    char *errstr;
    size_t errstr_size;
} parse_ctx_t;

static int fail(parse_ctx_t *ctx, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(parse_ctx_t *ctx, const yaml_node_t *node, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (node)
        snprintf(ctx->errstr, ctx->errstr_size, "%s:%lu: %s", ctx->file,
                 (unsigned long)node->start_mark.line + 1, msg);
    else
        snprintf(ctx->errstr, ctx->errstr_size, "%s: %s", ctx->file, msg);
    return -1;
}

static const char *scalar_text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

/* A scalar with ${VAR} expanded; NULL (and errstr set) on a non-scalar or unset variable. */
static char *scalar_value(parse_ctx_t *ctx, const yaml_node_t *node, const char *key)
{
    if (node->type != YAML_SCALAR_NODE) {
        fail(ctx, node, "`%s` must be a single value", key);
        return NULL;
    }
    char err[256];
    char *v = cdc_config_expand(scalar_text(node), err, sizeof(err));
    if (!v)
        fail(ctx, node, "`%s`: %s", key, err);
    return v;
}

static int parse_int(parse_ctx_t *ctx, const yaml_node_t *node, const field_t *f, int *out)
{
    char *v = scalar_value(ctx, node, f->name);
    if (!v)
        return -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    int bad = errno || *v == '\0' || *end != '\0' || n < f->min || n > f->max;
    if (bad)
        fail(ctx, node, "`%s` must be an integer from %d to %d, not \"%s\"", f->name, f->min,
             f->max, v);
    free(v);
    if (bad)
        return -1;
    *out = (int)n;
    return 0;
}

static int parse_bool(parse_ctx_t *ctx, const yaml_node_t *node, const field_t *f, int *out)
{
    char *v = scalar_value(ctx, node, f->name);
    int rc = 0;

    if (!v)
        return -1;
    if (strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0)
        *out = 0;
    else
        rc = fail(ctx, node, "`%s` must be true or false, not \"%s\"", f->name, v);
    free(v);
    return rc;
}

static int parse_strlist(parse_ctx_t *ctx, const yaml_node_t *node, const char *key,
                         cdc_strlist_t *out)
{
    if (node->type == YAML_SCALAR_NODE) { /* a single value is a list of one */
        char *v = scalar_value(ctx, node, key);
        if (!v)
            return -1;
        out->items = cdc_calloc(1, sizeof(char *));
        out->items[0] = v;
        out->count = 1;
        return 0;
    }
    if (node->type != YAML_SEQUENCE_NODE)
        return fail(ctx, node, "`%s` must be a list", key);
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    out->items = cdc_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(ctx->doc, node->data.sequence.items.start[i]);
        char *v = scalar_value(ctx, item, key);
        if (!v)
            return -1;
        out->items[out->count++] = v;
    }
    return 0;
}

static int parse_kvmap(parse_ctx_t *ctx, const yaml_node_t *node, const char *key,
                       cdc_kvlist_t *out)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail(ctx, node, "`%s` must be a mapping of key: value", key);
    size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    out->items = cdc_calloc(n ? n : 1, sizeof(cdc_kv_t));
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &node->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(ctx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ctx->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(ctx, k, "keys of `%s` must be plain names", key);
        char *val = scalar_value(ctx, v, scalar_text(k));
        if (!val)
            return -1;
        out->items[out->count].key = cdc_strdup(scalar_text(k));
        out->items[out->count].value = val;
        out->count++;
    }
    return 0;
}

static int parse_keysmap(parse_ctx_t *ctx, const yaml_node_t *node, const char *key,
                         cdc_table_keys_t **out, size_t *count)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail(ctx, node, "`%s` must be a mapping of table: [columns]", key);
    size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    *out = cdc_calloc(n ? n : 1, sizeof(cdc_table_keys_t));
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &node->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(ctx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ctx->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(ctx, k, "keys of `%s` must be table names", key);
        cdc_table_keys_t *tk = &(*out)[(*count)++];
        tk->table = cdc_strdup(scalar_text(k));
        if (parse_strlist(ctx, v, scalar_text(k), &tk->columns) < 0)
            return -1;
        if (tk->columns.count == 0)
            return fail(ctx, v, "`%s.%s` names no key column", key, tk->table);
    }
    return 0;
}

static int parse_mapping(parse_ctx_t *ctx, const yaml_node_t *node, const field_t *fields,
                         void *obj, const char *where);

static int parse_list(parse_ctx_t *ctx, const yaml_node_t *node, const field_t *f, void *obj)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return fail(ctx, node, "`%s` must be a list", f->name);
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    char *items = cdc_calloc(n ? n : 1, f->item_size);
    *(void **)((char *)obj + f->offset) = items;
    size_t *count = (size_t *)((char *)obj + f->count_offset);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(ctx->doc, node->data.sequence.items.start[i]);
        char where[64];
        snprintf(where, sizeof(where), "%s[%zu]", f->name, i);
        *count = i + 1; /* counted before parsing so a failed item is still freed */
        if (parse_mapping(ctx, item, f->sub, items + i * f->item_size, where) < 0)
            return -1;
    }
    return 0;
}

static int parse_field(parse_ctx_t *ctx, const yaml_node_t *node, const field_t *f, void *obj)
{
    void *slot = (char *)obj + f->offset;
    switch (f->type) {
    case FT_STRING:
        free(*(char **)slot);
        *(char **)slot = scalar_value(ctx, node, f->name);
        return *(char **)slot ? 0 : -1;
    case FT_INT:
        return parse_int(ctx, node, f, (int *)slot);
    case FT_BOOL:
        return parse_bool(ctx, node, f, (int *)slot);
    case FT_KVMAP:
        return parse_kvmap(ctx, node, f->name, (cdc_kvlist_t *)slot);
    case FT_STRLIST:
        return parse_strlist(ctx, node, f->name, (cdc_strlist_t *)slot);
    case FT_KEYSMAP:
        return parse_keysmap(ctx, node, f->name, (cdc_table_keys_t **)slot,
                             (size_t *)((char *)obj + f->count_offset));
    case FT_SECTION:
        return parse_mapping(ctx, node, f->sub, obj, f->name);
    case FT_LIST:
        return parse_list(ctx, node, f, obj);
    }
    return -1;
}

/* Applies a field's default, for the scalar kinds that have one. */
static void apply_default(const field_t *f, void *obj)
{
    void *slot = (char *)obj + f->offset;
    if (!f->def)
        return;
    if (f->type == FT_STRING && !*(char **)slot)
        *(char **)slot = cdc_strdup(f->def);
    else if (f->type == FT_INT && *(int *)slot == 0)
        *(int *)slot = atoi(f->def);
    else if (f->type == FT_STRLIST && ((cdc_strlist_t *)slot)->count == 0 &&
             strcmp(f->def, "[\"*\"]") == 0) {
        cdc_strlist_t *l = slot;
        free(l->items);
        l->items = cdc_calloc(1, sizeof(char *));
        l->items[0] = cdc_strdup("*");
        l->count = 1;
    }
}

static int parse_mapping(parse_ctx_t *ctx, const yaml_node_t *node, const field_t *fields,
                         void *obj, const char *where)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail(ctx, node, "`%s` must be a mapping", where);
    unsigned char seen[32] = {0};
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(ctx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ctx->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(ctx, k, "`%s`: keys must be plain names", where);
        const field_t *f = fields;
        size_t idx = 0;
        for (; f->name && strcmp(f->name, scalar_text(k)) != 0; f++, idx++)
            ;
        if (!f->name)
            return fail(ctx, k, "unknown key `%s` in `%s` (see docs/config.md)", scalar_text(k),
                        where);
        if (seen[idx])
            return fail(ctx, k, "key `%s` appears twice in `%s`", f->name, where);
        seen[idx] = 1;
        if (parse_field(ctx, v, f, obj) < 0)
            return -1;
    }
    size_t idx = 0;
    for (const field_t *f = fields; f->name; f++, idx++) {
        if (!seen[idx] && f->required)
            return fail(ctx, node, "`%s` is missing the required key `%s`", where, f->name);
        if (f->type == FT_BOOL && !seen[idx]) /* false is 0: only an absent key defaults */
            *(int *)((char *)obj + f->offset) = f->def && strcmp(f->def, "true") == 0;
        else if (f->type != FT_SECTION && f->type != FT_LIST)
            apply_default(f, obj);
    }
    return 0;
}

static int valid_topic_part(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    }
    return 1;
}

/* Cross-field rules: unique names, references that resolve, owned Kafka properties. */
static int validate(parse_ctx_t *ctx, cdc_config_t *c)
{
    if (!valid_topic_part(c->topic_prefix))
        return fail(ctx, NULL, "topic_prefix \"%s\" may only hold letters, digits, '.', '_', '-'",
                    c->topic_prefix);
    if (c->n_domains == 0)
        return fail(ctx, NULL, "`domains` must name at least one domain");
    for (size_t i = 0; i < c->n_domains; i++) {
        if (!valid_topic_part(c->domains[i].name))
            return fail(ctx, NULL,
                        "domain \"%s\": a domain name may only hold letters, digits, '.', '_', "
                        "'-' (it is part of a topic name)",
                        c->domains[i].name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->domains[i].name, c->domains[j].name) == 0)
                return fail(ctx, NULL, "domain \"%s\" is defined twice", c->domains[i].name);
    }
    for (size_t i = 0; i < c->n_sources; i++) {
        cdc_source_t *s = &c->sources[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->name, c->sources[j].name) == 0)
                return fail(ctx, NULL, "source name \"%s\" is used twice; names must be unique",
                            s->name);
        if (!cdc_config_domain(c, s->domain))
            return fail(ctx, NULL, "source \"%s\": domain \"%s\" is not defined in `domains`",
                        s->name, s->domain);
        if (s->path[0] != '/' && ctx->base_dir) {
            char *abs = cdc_asprintf("%s/%s", ctx->base_dir, s->path);
            free(s->path);
            s->path = abs;
        }
    }
    if (c->producer.state_dir[0] != '/' && ctx->base_dir) {
        char *abs = cdc_asprintf("%s/%s", ctx->base_dir, c->producer.state_dir);
        free(c->producer.state_dir);
        c->producer.state_dir = abs;
    }
    for (size_t i = 0; i < c->n_checks; i++) {
        cdc_check_t *k = &c->checks[i];
        if (!cdc_config_domain(c, k->domain))
            return fail(ctx, NULL, "check \"%s\": domain \"%s\" is not defined", k->name,
                        k->domain);
        if (!cdc_config_source(c, k->source))
            return fail(ctx, NULL, "check \"%s\": source \"%s\" is not defined", k->name,
                        k->source);
    }
    cdc_registry_strategy_t strategy;
    if (cdc_registry_strategy_parse(c->registry_subject_strategy, &strategy) != 0)
        return fail(ctx, NULL,
                    "schema_registry.subject_strategy \"%s\": not one of topic-record-name, "
                    "topic-name, record-name",
                    c->registry_subject_strategy);
    if (c->registry_compatibility[0] != '\0' &&
        !cdc_registry_level_valid(c->registry_compatibility))
        return fail(ctx, NULL,
                    "schema_registry.compatibility \"%s\": not a Confluent level (NONE, "
                    "BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, "
                    "FULL_TRANSITIVE) or empty",
                    c->registry_compatibility);
    if (strcmp(c->registry_tls_verify, "true") != 0 && strcmp(c->registry_tls_verify, "false") != 0)
        return fail(ctx, NULL, "schema_registry.tls_verify \"%s\": must be true or false",
                    c->registry_tls_verify);
    const struct {
        const cdc_kvlist_t *l;
        const char *name;
    } sections[] = {{&c->kafka, "kafka"},
                    {&c->kafka_producer, "kafka_producer"},
                    {&c->kafka_consumer, "kafka_consumer"}};
    for (size_t i = 0; i < 3; i++) {
        char err[400];
        if (cdc_config_check_kafka_props(sections[i].l, sections[i].name, err, sizeof(err)) < 0)
            return fail(ctx, NULL, "%s", err);
    }
    return 0;
}

int cdc_config_check_kafka_props(const cdc_kvlist_t *props, const char *section, char *errstr,
                                 size_t errstr_size)
{
    for (size_t i = 0; i < props->count; i++) {
        for (size_t j = 0; j < sizeof(owned_props) / sizeof(owned_props[0]); j++) {
            if (strcmp(props->items[i].key, owned_props[j].name) == 0) {
                snprintf(errstr, errstr_size, "`%s.%s` is owned by the tool and cannot be set: %s",
                         section, owned_props[j].name, owned_props[j].reason);
                return -1;
            }
        }
    }
    return 0;
}

static cdc_config_t *load_document(yaml_parser_t *parser, const char *file, const char *base_dir,
                                   char *errstr, size_t errstr_size)
{
    cdc_config_t *c = cdc_calloc(1, sizeof(*c));
    c->path = cdc_strdup(file);
    yaml_document_t doc;
    parse_ctx_t ctx = {&doc, file, base_dir, errstr, errstr_size};
    if (!yaml_parser_load(parser, &doc)) {
        snprintf(errstr, errstr_size, "%s:%lu: YAML syntax error: %s", file,
                 (unsigned long)parser->problem_mark.line + 1,
                 parser->problem ? parser->problem : "unknown");
        cdc_config_destroy(c);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc;
    if (!root)
        rc = fail(&ctx, NULL, "the file is empty");
    else
        rc = parse_mapping(&ctx, root, top_fields, c, "top level");
    if (rc == 0) {
        for (const field_t *f = validation_fields; f->name; f++)
            apply_default(f, c);
        for (const field_t *f = producer_fields; f->name; f++)
            apply_default(f, c);
        for (const field_t *f = registry_fields; f->name; f++)
            apply_default(f, c);
        rc = validate(&ctx, c);
    }
    yaml_document_delete(&doc);
    if (rc < 0) {
        cdc_config_destroy(c);
        return NULL;
    }
    return c;
}

cdc_config_t *cdc_config_load_string(const char *yaml, const char *base_dir, char *errstr,
                                     size_t errstr_size)
{
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    char cwd[PATH_MAX];
    if (!base_dir && getcwd(cwd, sizeof(cwd)))
        base_dir = cwd;
    cdc_config_t *c = load_document(&parser, "<config>", base_dir, errstr, errstr_size);
    yaml_parser_delete(&parser);
    return c;
}

cdc_config_t *cdc_config_load(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open the config file: %s", path, strerror(errno));
        return NULL;
    }
    /* Relative source paths are resolved against the config file's own directory. */
    char *dir = NULL;
    char *real = realpath(path, NULL);
    if (real) {
        char *slash = strrchr(real, '/');
        dir = cdc_strndup(real, slash && slash != real ? (size_t)(slash - real) : 1);
        free(real);
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    cdc_config_t *c = load_document(&parser, path, dir, errstr, errstr_size);
    yaml_parser_delete(&parser);
    fclose(f);
    free(dir);
    return c;
}

static void strlist_free(cdc_strlist_t *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

static void kvlist_free(cdc_kvlist_t *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
}

void cdc_config_destroy(cdc_config_t *c)
{
    if (!c)
        return;
    kvlist_free(&c->kafka);
    kvlist_free(&c->kafka_producer);
    kvlist_free(&c->kafka_consumer);
    for (size_t i = 0; i < c->n_sources; i++) {
        cdc_source_t *s = &c->sources[i];
        free(s->name);
        free(s->path);
        free(s->domain);
        free(s->table_prefix);
        strlist_free(&s->tables);
        for (size_t j = 0; j < s->n_keys; j++) {
            free(s->keys[j].table);
            strlist_free(&s->keys[j].columns);
        }
        free(s->keys);
        kvlist_free(&s->columns);
        kvlist_free(&s->target_unique_keys);
    }
    free(c->sources);
    for (size_t i = 0; i < c->n_domains; i++) {
        free(c->domains[i].name);
        free(c->domains[i].target);
    }
    free(c->domains);
    for (size_t i = 0; i < c->n_checks; i++) {
        free(c->checks[i].name);
        free(c->checks[i].domain);
        free(c->checks[i].source);
        free(c->checks[i].source_sql);
        free(c->checks[i].target_sql);
    }
    free(c->checks);
    free(c->topic_prefix);
    free(c->registry_url);
    free(c->registry_username);
    free(c->registry_password);
    free(c->registry_subject_strategy);
    free(c->registry_compatibility);
    free(c->registry_tls_verify);
    free(c->registry_ca_file);
    free(c->registry_cert_file);
    free(c->registry_key_file);
    free(c->registry_key_password);
    free(c->producer.state_dir);
    free(c->path);
    free(c);
}

const cdc_domain_t *cdc_config_domain(const cdc_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_domains; i++)
        if (strcmp(c->domains[i].name, name) == 0)
            return &c->domains[i];
    return NULL;
}

const cdc_source_t *cdc_config_source(const cdc_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_sources; i++)
        if (strcmp(c->sources[i].name, name) == 0)
            return &c->sources[i];
    return NULL;
}

size_t cdc_config_topics(const cdc_config_t *c, cdc_topic_spec_t **out)
{
    size_t n = 0;
    cdc_topic_spec_t *t = cdc_calloc(2 * c->n_domains + 2, sizeof(*t));
    for (size_t i = 0; i < c->n_domains; i++) {
        const cdc_domain_t *d = &c->domains[i];
        t[n++] = (cdc_topic_spec_t){cdc_asprintf("%s.%s", c->topic_prefix, d->name), d->partitions,
                                    CDC_TOPIC_DOMAIN, d->name};
        t[n++] = (cdc_topic_spec_t){cdc_asprintf("%s.%s.dlq", c->topic_prefix, d->name),
                                    d->partitions, CDC_TOPIC_DLQ, d->name};
    }
    t[n++] = (cdc_topic_spec_t){cdc_asprintf("%s.validation", c->topic_prefix),
                                c->validation_partitions, CDC_TOPIC_VALIDATION, NULL};
    t[n++] =
        (cdc_topic_spec_t){cdc_asprintf("%s.schemas", c->topic_prefix), 1, CDC_TOPIC_SCHEMAS, NULL};
    *out = t;
    return n;
}

void cdc_config_topics_free(cdc_topic_spec_t *topics, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(topics[i].name);
    free(topics);
}

static const char *type_name(field_type_t t)
{
    switch (t) {
    case FT_STRING:
        return "string";
    case FT_INT:
        return "integer";
    case FT_KVMAP:
        return "map";
    case FT_STRLIST:
        return "list of strings";
    case FT_KEYSMAP:
        return "map of lists";
    case FT_SECTION:
        return "section";
    case FT_LIST:
        return "list";
    case FT_BOOL:
        return "boolean";
    }
    return "?";
}

static void write_table(FILE *out, const char *title, const field_t *fields)
{
    fprintf(out, "\n### %s\n\n| key | type | default | description |\n|---|---|---|---|\n", title);
    for (const field_t *f = fields; f->name; f++) {
        const char *def = f->required ? "(required)" : f->def ? f->def : "(none)";
        if (f->type == FT_INT && f->min != f->max)
            fprintf(out, "| `%s` | %s %d..%d | `%s` | %s |\n", f->name, type_name(f->type), f->min,
                    f->max, def, f->doc);
        else
            fprintf(out, "| `%s` | %s | `%s` | %s |\n", f->name, type_name(f->type), def, f->doc);
    }
}

void cdc_config_write_reference(FILE *out)
{
    fputs("# Pipeline configuration reference\n\n"
          "Generated from the field tables in libcdc/cdc_config.c; do not edit by hand "
          "(regenerate: `CDC_REGEN_DOCS=1 build/tests/test_config`; a unit test fails when "
          "this file is stale).\n\n"
          "Values may use `${VAR}` (or `${VAR:-default}`), expanded from the environment; an "
          "unset variable without a default is an error. Unknown keys are errors.\n",
          out);
    write_table(out, "Top level", top_fields);
    write_table(out, "schema_registry", registry_fields);
    write_table(out, "sources[]", source_fields);
    write_table(out, "domains[]", domain_fields);
    write_table(out, "validation", validation_fields);
    write_table(out, "producer", producer_fields);
    write_table(out, "checks[]", check_fields);
    fputs("\n### librdkafka properties the tool owns\n\nSetting one of these in `kafka`, "
          "`kafka_producer` or `kafka_consumer` is refused, because an invariant depends on "
          "its value:\n\n| property | why |\n|---|---|\n",
          out);
    for (size_t i = 0; i < sizeof(owned_props) / sizeof(owned_props[0]); i++)
        fprintf(out, "| `%s` | %s |\n", owned_props[i].name, owned_props[i].reason);
}
