#include "sink_schemas.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_avro_schema.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "cdc_registry.h"

typedef struct id_entry_s {
    uint32_t id;
    cdc_sink_schema_t *sc; /* owned */
} id_entry_t;

struct cdc_sink_schemas_s {
    rd_kafka_t *rk;
    char *topic;
    int assigned;
    int64_t next; /* offset after the last record read; -1 before the first load */
    uint64_t control_fp, control_key_fp;
    /* Confluent framing: schema id -> its own parsed schema, fetched from the registry. */
    cdc_registry_t *registry; /* NULL without schema_registry.url */
    char *conf_path;
    id_entry_t *by_id;
    size_t id_cap, id_count;
    /* Open addressing on the fingerprint; cap is a power of two, at most half full. */
    cdc_sink_schema_t **slots;
    size_t cap, count;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void schema_free(cdc_sink_schema_t *sc)
{
    if (!sc)
        return;
    free(sc->json);
    free(sc->source);
    free(sc->table);
    cdc_avro_schema_columns_free(sc->cols, sc->ncols);
    free(sc);
}

static size_t slot_of(const cdc_sink_schemas_t *s, uint64_t fp)
{
    size_t i = (size_t)(fp ^ (fp >> 29)) & (s->cap - 1);
    while (s->slots[i] && s->slots[i]->fingerprint != fp)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static void table_insert(cdc_sink_schemas_t *s, cdc_sink_schema_t *sc)
{
    if ((s->count + 1) * 2 > s->cap) {
        cdc_sink_schema_t **old = s->slots;
        size_t old_cap = s->cap;
        s->cap = old_cap ? old_cap * 2 : 64;
        s->slots = cdc_calloc(s->cap, sizeof(*s->slots));
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                s->slots[slot_of(s, old[i]->fingerprint)] = old[i];
        free(old);
    }
    s->slots[slot_of(s, sc->fingerprint)] = sc;
    s->count++;
}

const cdc_sink_schema_t *cdc_sink_schemas_get(const cdc_sink_schemas_t *s, uint64_t fingerprint)
{
    if (!s->cap)
        return NULL;
    return s->slots[slot_of(s, fingerprint)];
}

size_t cdc_sink_schemas_count(const cdc_sink_schemas_t *s)
{
    return s->count;
}

/* Whether a record schema's fields are exactly the names given, in order. */
static int fields_are(json_t *root, const char *const *names, size_t n)
{
    json_t *fields = json_object_get(root, "fields");
    if (!json_is_array(fields) || json_array_size(fields) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *fn = json_string_value(json_object_get(json_array_get(fields, i), "name"));
        if (!fn || strcmp(fn, names[i]) != 0)
            return 0;
    }
    return 1;
}

/* The row record inside an envelope's "after" union. */
static json_t *after_record(json_t *root)
{
    json_t *fields = json_object_get(root, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        const char *fn = json_string_value(json_object_get(f, "name"));
        json_t *u = json_object_get(f, "type");
        if (fn && strcmp(fn, "after") == 0 && json_is_array(u) && json_array_size(u) == 2)
            return json_array_get(u, 1);
    }
    return NULL;
}

/* Fills kind, source, table and columns of sc from its text. */
static int classify(cdc_sink_schemas_t *s, cdc_sink_schema_t *sc, char *errstr, size_t errstr_size)
{
    static const char *const envelope_fields[] = {"op", "after", "source", "row_hash", "ts_ms"};
    static const char *const key_fields[] = {"source", "table", "pk"};
    json_error_t jerr;
    json_t *root = NULL, *row;
    int rc = -1;

    if (sc->fingerprint == s->control_fp) {
        sc->kind = CDC_SINK_SCHEMA_CONTROL;
        return 0;
    }
    if (sc->fingerprint == s->control_key_fp) {
        sc->kind = CDC_SINK_SCHEMA_CONTROL_KEY;
        return 0;
    }
    sc->kind = CDC_SINK_SCHEMA_OTHER;
    root = json_loads(sc->json, 0, &jerr);
    if (!json_is_object(root)) {
        rc = 0; /* canonical form accepted it: a primitive schema, nothing of ours */
        goto out;
    }
    if (fields_are(root, key_fields, 3)) {
        sc->kind = CDC_SINK_SCHEMA_KEY;
        rc = 0;
        goto out;
    }
    if (!fields_are(root, envelope_fields, 5) || !json_is_object(row = after_record(root))) {
        rc = 0;
        goto out;
    }
    const char *src = json_string_value(json_object_get(row, "cdc.source"));
    const char *tbl = json_string_value(json_object_get(row, "cdc.table"));
    if (!src || !tbl) {
        snprintf(errstr, errstr_size, "envelope schema %016" PRIx64 " has no cdc.source/cdc.table",
                 sc->fingerprint);
        goto out;
    }
    if (cdc_avro_schema_parse_columns(sc->json, &sc->cols, &sc->ncols, errstr, errstr_size) < 0)
        goto out;
    for (size_t i = 0; i < sc->ncols; i++)
        if (sc->cols[i].pk_index > 0)
            sc->nkey++;
    for (size_t k = 1; k <= sc->nkey; k++) {
        size_t hits = 0;
        for (size_t i = 0; i < sc->ncols; i++)
            hits += sc->cols[i].pk_index == (int)k;
        if (hits != 1) {
            snprintf(errstr, errstr_size,
                     "envelope schema %016" PRIx64 " of %s.%s: key positions are not 1..n",
                     sc->fingerprint, src, tbl);
            goto out;
        }
    }
    if (sc->nkey == 0) {
        snprintf(errstr, errstr_size, "envelope schema %016" PRIx64 " of %s.%s has no key column",
                 sc->fingerprint, src, tbl);
        goto out;
    }
    sc->source = cdc_strdup(src);
    sc->table = cdc_strdup(tbl);
    sc->kind = CDC_SINK_SCHEMA_ENVELOPE;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* A parsed and classified schema of text json (its fingerprint computed), or NULL with the
 * reason in errstr. */
static cdc_sink_schema_t *schema_build(cdc_sink_schemas_t *s, const char *json, size_t len,
                                       char *errstr, size_t errstr_size)
{
    uint64_t fp;
    cdc_sink_schema_t *sc = NULL;

    if (cdc_avro_fingerprint(json, len, &fp, errstr, errstr_size) < 0)
        return NULL;
    sc = cdc_calloc(1, sizeof(*sc));
    sc->fingerprint = fp;
    sc->json = cdc_strndup(json, len);
    if (classify(s, sc, errstr, errstr_size) < 0) {
        schema_free(sc);
        return NULL;
    }
    return sc;
}

int cdc_sink_schemas_add(cdc_sink_schemas_t *s, const char *json, size_t len, char *errstr,
                         size_t errstr_size)
{
    uint64_t fp;
    cdc_sink_schema_t *sc = NULL;

    if (cdc_avro_fingerprint(json, len, &fp, errstr, errstr_size) < 0)
        return -1;
    if ((sc = (cdc_sink_schema_t *)cdc_sink_schemas_get(s, fp)) != NULL) {
        /* Same canonical form, other text (docs/records.md "Fingerprint collisions"): a
         * producer without the fingerprint index; the first text stays. */
        if (strlen(sc->json) != len || memcmp(sc->json, json, len) != 0)
            cdc_log_warn("schema fingerprint %016" PRIx64 " arrived with a second, different "
                         "text (%s.%s?): records naming it are decoded with the first one",
                         fp, sc->source ? sc->source : "?", sc->table ? sc->table : "?");
        return (int)sc->kind;
    }
    sc = schema_build(s, json, len, errstr, errstr_size);
    if (sc == NULL)
        return -1;
    table_insert(s, sc);
    return (int)sc->kind;
}

/* ---- Confluent schema ids (the registry) ---- */

static size_t id_slot(const cdc_sink_schemas_t *s, uint32_t id)
{
    size_t i = (size_t)(id * 2654435761u) & (s->id_cap - 1);
    while (s->by_id[i].sc && s->by_id[i].id != id)
        i = (i + 1) & (s->id_cap - 1);
    return i;
}

static void id_insert(cdc_sink_schemas_t *s, uint32_t id, cdc_sink_schema_t *sc)
{
    if ((s->id_count + 1) * 2 > s->id_cap) {
        id_entry_t *old = s->by_id;
        size_t old_cap = s->id_cap;
        s->id_cap = old_cap ? old_cap * 2 : 64;
        s->by_id = cdc_calloc(s->id_cap, sizeof(*s->by_id));
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].sc)
                s->by_id[id_slot(s, old[i].id)] = old[i];
        free(old);
    }
    size_t i = id_slot(s, id);
    s->by_id[i].id = id;
    s->by_id[i].sc = sc;
    s->id_count++;
}

int cdc_sink_schemas_lookup_id(cdc_sink_schemas_t *s, uint32_t id, const cdc_sink_schema_t **out,
                               char *errstr, size_t errstr_size)
{
    const char *text = NULL;
    char why[1024];
    cdc_registry_err_t err;
    cdc_sink_schema_t *sc;

    *out = NULL;
    if (s->id_cap && s->by_id[id_slot(s, id)].sc) {
        *out = s->by_id[id_slot(s, id)].sc;
        return 1;
    }
    if (s->registry == NULL) {
        snprintf(errstr, errstr_size,
                 "the record is Confluent framed (schema id %" PRIu32 ") but %s sets no "
                 "schema_registry.url to read its schema from",
                 id, s->conf_path);
        return 0;
    }
    err = cdc_registry_get_by_id(s->registry, id, &text, why, sizeof(why));
    if (err == CDC_REGISTRY_UNAVAILABLE) {
        snprintf(errstr, errstr_size, "%s", why);
        return -1;
    }
    if (err != CDC_REGISTRY_OK) {
        snprintf(errstr, errstr_size, "schema id %" PRIu32 ": %s", id, why);
        return 0;
    }
    /* Its own entry, never the fingerprint cache's: another text with the same canonical
     * form (docs/records.md) must not stand in for the one the registry names. */
    sc = schema_build(s, text, strlen(text), why, sizeof(why));
    if (sc == NULL) {
        snprintf(errstr, errstr_size, "schema id %" PRIu32 " from %s: %s", id,
                 cdc_registry_url(s->registry), why);
        return 0;
    }
    id_insert(s, id, sc);
    *out = sc;
    return 1;
}

cdc_sink_schemas_t *cdc_sink_schemas_new(const cdc_config_t *conf, const char *domain, char *errstr,
                                         size_t errstr_size)
{
    cdc_sink_schemas_t *s = cdc_calloc(1, sizeof(*s));
    char *group = cdc_asprintf("%s.%s.sink.schemas", conf->topic_prefix, domain);
    rd_kafka_conf_t *kc = cdc_kafka_conf_new(conf, CDC_KAFKA_CONSUMER, group, errstr, errstr_size);
    const char *cj = cdc_avro_schema_control_json(), *ckj = cdc_avro_schema_control_key_json();
    char err[512];

    s->next = -1;
    s->topic = cdc_asprintf("%s.schemas", conf->topic_prefix);
    if (cdc_avro_fingerprint(cj, strlen(cj), &s->control_fp, errstr, errstr_size) < 0 ||
        cdc_avro_fingerprint(ckj, strlen(ckj), &s->control_key_fp, errstr, errstr_size) < 0)
        goto err;
    if (!kc)
        goto err;
    s->conf_path = cdc_strdup(conf->path ? conf->path : "the config");
    if (conf->registry_url) {
        s->registry = cdc_registry_new_from_config(conf, errstr, errstr_size);
        if (!s->registry) {
            rd_kafka_conf_destroy(kc);
            goto err;
        }
    }
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    if (!s->rk) {
        rd_kafka_conf_destroy(kc);
        snprintf(errstr, errstr_size, "cannot create the consumer of %s: %s", s->topic, err);
        goto err;
    }
    rd_kafka_poll_set_consumer(s->rk);
    free(group);
    return s;
err:
    free(group);
    cdc_sink_schemas_destroy(s);
    return NULL;
}

void cdc_sink_schemas_destroy(cdc_sink_schemas_t *s)
{
    if (!s)
        return;
    if (s->rk) {
        /* Group-less: nothing to leave, and closing must not wait for a coordinator. */
        rd_kafka_assign(s->rk, NULL);
        rd_kafka_destroy_flags(s->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    for (size_t i = 0; i < s->cap; i++)
        schema_free(s->slots[i]);
    free(s->slots);
    for (size_t i = 0; i < s->id_cap; i++)
        schema_free(s->by_id[i].sc);
    free(s->by_id);
    free(s->conf_path);
    cdc_registry_destroy(s->registry);
    free(s->topic);
    free(s);
}

/* Assigns partition 0 of the topic at the beginning, once. */
static int ensure_assigned(cdc_sink_schemas_t *s, char *errstr, size_t errstr_size)
{
    if (s->assigned)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, s->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        snprintf(errstr, errstr_size, "cannot assign %s [0]: %s", s->topic, rd_kafka_err2str(err));
        return -1;
    }
    s->assigned = 1;
    return 0;
}

int cdc_sink_schemas_load(cdc_sink_schemas_t *s, int timeout_ms, char *errstr, size_t errstr_size)
{
    int64_t lo = 0, hi = 0, deadline = now_ms() + timeout_ms;
    int added = 0;
    char why[512];

    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(s->rk, s->topic, 0, &lo, &hi, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size, "cannot read the offsets of %s [0]: %s (is the topic there?)",
                 s->topic, rd_kafka_err2str(err));
        return -1;
    }
    if (hi <= (s->next < 0 ? lo : s->next)) {
        if (s->next < 0)
            s->next = hi;
        return 0; /* nothing new; the empty topic assigned lazily later */
    }
    if (ensure_assigned(s, errstr, errstr_size) < 0)
        return -1;
    while (s->next < hi) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            snprintf(errstr, errstr_size,
                     "reading %s: reached offset %" PRId64 " of %" PRId64 " within %d ms", s->topic,
                     s->next < 0 ? lo : s->next, hi, timeout_ms);
            return -1;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, (int)(left > 200 ? 200 : left));
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                snprintf(errstr, errstr_size, "reading %s: %s", s->topic,
                         rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return -1;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        s->next = m->offset + 1;
        int kind = m->payload ? cdc_sink_schemas_add(s, m->payload, m->len, why, sizeof(why)) : -1;
        if (kind < 0)
            cdc_log_warn("%s offset %" PRId64 " (key %.*s) is not a usable schema, skipped: %s",
                         s->topic, m->offset, (int)(m->key_len > 32 ? 32 : m->key_len),
                         m->key ? (const char *)m->key : "", m->payload ? why : "no value");
        else
            added++;
        rd_kafka_message_destroy(m);
    }
    cdc_log_debug("loaded %s up to offset %" PRId64 ": %zu schemas known", s->topic, s->next,
                  s->count);
    return added;
}

int cdc_sink_schemas_lookup(cdc_sink_schemas_t *s, uint64_t fingerprint, int timeout_ms,
                            const cdc_sink_schema_t **out, char *errstr, size_t errstr_size)
{
    *out = cdc_sink_schemas_get(s, fingerprint);
    if (*out)
        return 1;
    if (cdc_sink_schemas_load(s, timeout_ms, errstr, errstr_size) < 0)
        return -1;
    *out = cdc_sink_schemas_get(s, fingerprint);
    return *out ? 1 : 0;
}
