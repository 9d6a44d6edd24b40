/*
 * registry_wire: the producer's use of a schema registry (docs/schema-registry.md "Wire",
 * "Subjects", "Compatibility and evolution").
 *
 * With schema_registry.url set, every key and value schema the producer uses is
 * registered under its subject (schema_registry.subject_strategy, topic-record-name by
 * default) before the first record that uses it, and the records carry the Confluent
 * header (00 + the registry's id) instead of the single-object one. Before the first
 * registration under a subject in this process, the subject's compatibility level is set
 * to schema_registry.compatibility (BACKWARD by default; empty: left as the registry has
 * it), so a new table version is checked the way docs/schema-registry.md describes. The
 * client's cache means a schema costs HTTP only the first time.
 *
 * Not thread-safe (one registry client); the producer's runner is single-threaded.
 */
#ifndef CDC_REGISTRY_WIRE_H
#define CDC_REGISTRY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_config.h"
#include "cdc_registry.h"

typedef struct cdc_regwire_s cdc_regwire_t;

/* Creates the wiring for conf (conf->registry_url must be set); no HTTP yet. conf is
 * borrowed and must outlive it. NULL with the reason in errstr. Caller frees with
 * cdc_regwire_destroy(). */
cdc_regwire_t *cdc_regwire_new(const cdc_config_t *conf, char *errstr, size_t errstr_size);

/* Frees the wiring and its client; NULL is a no-op. */
void cdc_regwire_destroy(cdc_regwire_t *rw);

/*
 * Registers the key schema key_json and the value schema value_json of records sent to
 * topic under their subjects, setting *key_id and *value_id. Returns CDC_REGISTRY_OK, or
 * the client's error with a message naming the topic, the subject and the registry's
 * answer (INCOMPATIBLE: the new version breaks the subject's compatibility level;
 * UNAVAILABLE: retriable).
 */
cdc_registry_err_t cdc_regwire_register(cdc_regwire_t *rw, const char *topic, const char *key_json,
                                        const char *value_json, uint32_t *key_id,
                                        uint32_t *value_id, char *errstr, size_t errstr_size);

/*
 * Registers the control schemas (cdc.ControlKey, cdc.Control) under the subjects of every
 * domain topic of the config, and sets *key_id and *value_id (the registry gives one id
 * to one schema text, whatever the subject). Errors as cdc_regwire_register().
 */
cdc_registry_err_t cdc_regwire_register_control(cdc_regwire_t *rw, uint32_t *key_id,
                                                uint32_t *value_id, char *errstr,
                                                size_t errstr_size);

#endif
