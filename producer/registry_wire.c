/*
 * registry_wire: subjects, compatibility levels and ids of the producer's schemas
 * (registry_wire.h).
 */
#include "registry_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_avro_schema.h"
#include "cdc_log.h"

struct cdc_regwire_s {
    const cdc_config_t *conf;
    cdc_registry_t *client;
    cdc_registry_strategy_t strategy;
    /* Subjects whose level this process has set already (set once, before the first
     * registration under it). */
    char **leveled;
    size_t n_leveled;
};

cdc_regwire_t *cdc_regwire_new(const cdc_config_t *conf, char *errstr, size_t errstr_size)
{
    cdc_regwire_t *rw = cdc_calloc(1, sizeof *rw);
    const char *strategy = conf->registry_subject_strategy;

    rw->conf = conf;
    if (cdc_registry_strategy_parse(strategy ? strategy : "topic-record-name", &rw->strategy) !=
        0) {
        snprintf(errstr, errstr_size, "%s: schema_registry.subject_strategy \"%s\" is not known",
                 conf->path ? conf->path : "config", strategy);
        goto fail;
    }
    rw->client = cdc_registry_new_from_config(conf, errstr, errstr_size);
    if (rw->client == NULL)
        goto fail;
    cdc_log_info("schema registry %s: records use the Confluent wire format, subjects by %s",
                 cdc_registry_url(rw->client), cdc_registry_strategy_name(rw->strategy));
    return rw;
fail:
    cdc_regwire_destroy(rw);
    return NULL;
}

void cdc_regwire_destroy(cdc_regwire_t *rw)
{
    if (rw == NULL)
        return;
    for (size_t i = 0; i < rw->n_leveled; i++)
        free(rw->leveled[i]);
    free(rw->leveled);
    cdc_registry_destroy(rw->client);
    free(rw);
}

/* Sets the configured level on subject once per process. A registry that refuses it
 * (e.g. producers may not change levels there) keeps its own: logged, not fatal. */
static cdc_registry_err_t set_level_once(cdc_regwire_t *rw, const char *subject, char *errstr,
                                         size_t errstr_size)
{
    const char *level = rw->conf->registry_compatibility;
    cdc_registry_err_t err;

    if (level == NULL || level[0] == '\0')
        return CDC_REGISTRY_OK;
    for (size_t i = 0; i < rw->n_leveled; i++)
        if (strcmp(rw->leveled[i], subject) == 0)
            return CDC_REGISTRY_OK;
    err = cdc_registry_set_level(rw->client, subject, level, errstr, errstr_size);
    if (err == CDC_REGISTRY_UNAVAILABLE)
        return err;
    if (err != CDC_REGISTRY_OK)
        cdc_log_warn("%s (registering under the registry's own level)", errstr);
    rw->leveled = cdc_realloc(rw->leveled, (rw->n_leveled + 1) * sizeof *rw->leveled);
    rw->leveled[rw->n_leveled++] = cdc_strdup(subject);
    return CDC_REGISTRY_OK;
}

/* Registers one schema under the subject of its record on topic. */
static cdc_registry_err_t register_one(cdc_regwire_t *rw, const char *topic, const char *json,
                                       int is_key, uint32_t *id, char *errstr, size_t errstr_size)
{
    char fullname[512];
    char *subject = NULL;
    cdc_registry_err_t err = CDC_REGISTRY_INVALID;

    if (cdc_registry_schema_fullname(json, fullname, sizeof fullname, errstr, errstr_size) < 0)
        goto out;
    subject = cdc_registry_subject(rw->strategy, topic, fullname, is_key);
    if (subject == NULL) {
        snprintf(errstr, errstr_size, "no subject for %s on topic %s", fullname, topic);
        goto out;
    }
    err = set_level_once(rw, subject, errstr, errstr_size);
    if (err == CDC_REGISTRY_OK)
        err = cdc_registry_register(rw->client, subject, json, id, errstr, errstr_size);
out:
    free(subject);
    return err;
}

cdc_registry_err_t cdc_regwire_register(cdc_regwire_t *rw, const char *topic, const char *key_json,
                                        const char *value_json, uint32_t *key_id,
                                        uint32_t *value_id, char *errstr, size_t errstr_size)
{
    cdc_registry_err_t err = register_one(rw, topic, key_json, 1, key_id, errstr, errstr_size);

    if (err == CDC_REGISTRY_OK)
        err = register_one(rw, topic, value_json, 0, value_id, errstr, errstr_size);
    return err;
}

cdc_registry_err_t cdc_regwire_register_control(cdc_regwire_t *rw, uint32_t *key_id,
                                                uint32_t *value_id, char *errstr,
                                                size_t errstr_size)
{
    cdc_registry_err_t err = CDC_REGISTRY_OK;

    for (size_t i = 0; i < rw->conf->n_domains && err == CDC_REGISTRY_OK; i++) {
        char *topic = cdc_asprintf("%s.%s", rw->conf->topic_prefix, rw->conf->domains[i].name);
        uint32_t k = 0, v = 0;
        err = cdc_regwire_register(rw, topic, cdc_avro_schema_control_key_json(),
                                   cdc_avro_schema_control_json(), &k, &v, errstr, errstr_size);
        /* One text has one id in a registry: any domain's ids serve every domain. */
        if (err == CDC_REGISTRY_OK && i == 0) {
            *key_id = k;
            *value_id = v;
        }
        free(topic);
    }
    return err;
}
