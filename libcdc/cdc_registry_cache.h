/*
 * cdc_registry_cache: the schema registry client's memory (cdc_registry.h, Cache):
 * (subject, exact schema text) -> (id, version) and id -> schema text. Internal to the
 * client; a header of its own so the unit tests can exercise it without HTTP.
 *
 * A pipeline has a few hundred schemas at most (two per table), so fixed bucket counts
 * with chaining are enough. Nothing is ever evicted: ids are immutable in a registry.
 */
#ifndef CDC_REGISTRY_CACHE_H
#define CDC_REGISTRY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define CDC_REGISTRY_CACHE_BUCKETS 256

typedef struct cdc_registry_cache_entry_s {
    uint64_t hash;
    char *subject;
    char *schema;
    uint32_t id;
    int version; /* 0 when the registry did not say (register answers only the id) */
    struct cdc_registry_cache_entry_s *next;
} cdc_registry_cache_entry_t;

typedef struct cdc_registry_cache_id_s {
    uint32_t id;
    char *schema;
    struct cdc_registry_cache_id_s *next;
} cdc_registry_cache_id_t;

/* Zero-initialize (memset or a calloc'd parent) before first use. */
typedef struct cdc_registry_cache_s {
    cdc_registry_cache_entry_t *subjects[CDC_REGISTRY_CACHE_BUCKETS];
    cdc_registry_cache_id_t *ids[CDC_REGISTRY_CACHE_BUCKETS];
    size_t n_subjects, n_ids;
} cdc_registry_cache_t;

/* Frees every entry and leaves the cache empty. */
void cdc_registry_cache_free(cdc_registry_cache_t *c);

/* The entry of exactly (subject, schema) — byte-for-byte text — or NULL. Borrowed. */
const cdc_registry_cache_entry_t *cdc_registry_cache_subject_get(const cdc_registry_cache_t *c,
                                                                 const char *subject,
                                                                 const char *schema);

/* Remembers (subject, schema) -> (id, version) (copied); a known pair is left as it is. */
void cdc_registry_cache_subject_put(cdc_registry_cache_t *c, const char *subject,
                                    const char *schema, uint32_t id, int version);

/* The text of id, or NULL. Borrowed, valid until the cache is freed. */
const char *cdc_registry_cache_id_get(const cdc_registry_cache_t *c, uint32_t id);

/* Remembers id -> schema (copied) unless id is known, and returns the cached text (the
 * first one stays: callers may hold pointers to it). */
const char *cdc_registry_cache_id_put(cdc_registry_cache_t *c, uint32_t id, const char *schema);

#endif
