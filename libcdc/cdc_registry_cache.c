/*
 * cdc_registry_cache: see cdc_registry_cache.h.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_avro_canonical.h"
#include "cdc_registry_cache.h"

/* Hash of the exact bytes of both strings (CRC-64-AVRO as a plain checksum here; it is
 * NOT the schema's Avro fingerprint, which would ignore "default"). */
static uint64_t subject_hash(const char *subject, const char *schema)
{
    uint64_t a = cdc_avro_crc64(subject, strlen(subject));
    uint64_t b = cdc_avro_crc64(schema, strlen(schema));

    return (a * 0x9E3779B97F4A7C15ULL) ^ b;
}

void cdc_registry_cache_free(cdc_registry_cache_t *c)
{
    size_t i;

    for (i = 0; i < CDC_REGISTRY_CACHE_BUCKETS; i++) {
        cdc_registry_cache_entry_t *e, *next;
        cdc_registry_cache_id_t *d, *dnext;

        for (e = c->subjects[i]; e != NULL; e = next) {
            next = e->next;
            free(e->subject);
            free(e->schema);
            free(e);
        }
        for (d = c->ids[i]; d != NULL; d = dnext) {
            dnext = d->next;
            free(d->schema);
            free(d);
        }
    }
    memset(c, 0, sizeof(*c));
}

const cdc_registry_cache_entry_t *cdc_registry_cache_subject_get(const cdc_registry_cache_t *c,
                                                                 const char *subject,
                                                                 const char *schema)
{
    uint64_t h = subject_hash(subject, schema);
    const cdc_registry_cache_entry_t *e;

    for (e = c->subjects[h % CDC_REGISTRY_CACHE_BUCKETS]; e != NULL; e = e->next)
        if (e->hash == h && strcmp(e->subject, subject) == 0 && strcmp(e->schema, schema) == 0)
            return e;
    return NULL;
}

void cdc_registry_cache_subject_put(cdc_registry_cache_t *c, const char *subject,
                                    const char *schema, uint32_t id, int version)
{
    uint64_t h = subject_hash(subject, schema);
    cdc_registry_cache_entry_t *e;

    if (cdc_registry_cache_subject_get(c, subject, schema) != NULL)
        return;
    e = cdc_calloc(1, sizeof(*e));
    e->hash = h;
    e->subject = cdc_strdup(subject);
    e->schema = cdc_strdup(schema);
    e->id = id;
    e->version = version;
    e->next = c->subjects[h % CDC_REGISTRY_CACHE_BUCKETS];
    c->subjects[h % CDC_REGISTRY_CACHE_BUCKETS] = e;
    c->n_subjects++;
}

const char *cdc_registry_cache_id_get(const cdc_registry_cache_t *c, uint32_t id)
{
    const cdc_registry_cache_id_t *d;

    for (d = c->ids[id % CDC_REGISTRY_CACHE_BUCKETS]; d != NULL; d = d->next)
        if (d->id == id)
            return d->schema;
    return NULL;
}

const char *cdc_registry_cache_id_put(cdc_registry_cache_t *c, uint32_t id, const char *schema)
{
    const char *known = cdc_registry_cache_id_get(c, id);
    cdc_registry_cache_id_t *d;

    if (known != NULL)
        return known;
    d = cdc_calloc(1, sizeof(*d));
    d->id = id;
    d->schema = cdc_strdup(schema);
    d->next = c->ids[id % CDC_REGISTRY_CACHE_BUCKETS];
    c->ids[id % CDC_REGISTRY_CACHE_BUCKETS] = d;
    c->n_ids++;
    return d->schema;
}
