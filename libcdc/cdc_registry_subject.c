/*
 * cdc_registry_subject: the pure half of cdc_registry.h that names things: subject name
 * strategies, the full name of a schema's top record, compatibility level names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdc_alloc.h"
#include "cdc_registry.h"

static const char *const confluent_pkg = "io.confluent.kafka.serializers.subject.";

static const struct {
    const char *name;
    const char *confluent_class;
    cdc_registry_strategy_t strategy;
} strategies[] = {
    {"topic-record-name", "TopicRecordNameStrategy", CDC_REGISTRY_TOPIC_RECORD_NAME},
    {"topic-name", "TopicNameStrategy", CDC_REGISTRY_TOPIC_NAME},
    {"record-name", "RecordNameStrategy", CDC_REGISTRY_RECORD_NAME},
};

static const char *const levels[] = {
    "NONE", "BACKWARD",        "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
    "FULL", "FULL_TRANSITIVE",
};

const char *cdc_registry_err_name(cdc_registry_err_t err)
{
    switch (err) {
    case CDC_REGISTRY_OK:
        return "ok";
    case CDC_REGISTRY_NOT_FOUND:
        return "not-found";
    case CDC_REGISTRY_INCOMPATIBLE:
        return "incompatible";
    case CDC_REGISTRY_INVALID:
        return "invalid";
    case CDC_REGISTRY_AUTH:
        return "auth";
    case CDC_REGISTRY_UNAVAILABLE:
        return "unavailable";
    case CDC_REGISTRY_PROTOCOL:
        return "protocol";
    }
    return "unknown";
}

int cdc_registry_err_retriable(cdc_registry_err_t err)
{
    return err == CDC_REGISTRY_UNAVAILABLE;
}

int cdc_registry_strategy_parse(const char *name, cdc_registry_strategy_t *out)
{
    size_t pkg_len = strlen(confluent_pkg);
    size_t i;

    if (name == NULL)
        return -1;
    /* Accept the Java class names users copy from Confluent's serializer settings. */
    if (strncmp(name, confluent_pkg, pkg_len) == 0)
        name += pkg_len;
    for (i = 0; i < sizeof(strategies) / sizeof(strategies[0]); i++) {
        if (strcmp(name, strategies[i].name) == 0 ||
            strcmp(name, strategies[i].confluent_class) == 0) {
            *out = strategies[i].strategy;
            return 0;
        }
    }
    return -1;
}

const char *cdc_registry_strategy_name(cdc_registry_strategy_t s)
{
    size_t i;

    for (i = 0; i < sizeof(strategies) / sizeof(strategies[0]); i++)
        if (strategies[i].strategy == s)
            return strategies[i].name;
    return "unknown";
}

static int empty(const char *s)
{
    return s == NULL || *s == '\0';
}

char *cdc_registry_subject(cdc_registry_strategy_t strategy, const char *topic,
                           const char *record_fullname, int is_key)
{
    switch (strategy) {
    case CDC_REGISTRY_TOPIC_NAME:
        if (empty(topic))
            return NULL;
        return cdc_asprintf("%s-%s", topic, is_key ? "key" : "value");
    case CDC_REGISTRY_TOPIC_RECORD_NAME:
        if (empty(topic) || empty(record_fullname))
            return NULL;
        return cdc_asprintf("%s-%s", topic, record_fullname);
    case CDC_REGISTRY_RECORD_NAME:
        if (empty(record_fullname))
            return NULL;
        return cdc_strdup(record_fullname);
    }
    return NULL;
}

int cdc_registry_schema_fullname(const char *json, char *out, size_t out_size, char *errstr,
                                 size_t errstr_size)
{
    json_error_t jerr;
    json_t *root = NULL;
    const char *type, *name, *ns;
    int n = -1;

    root = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        snprintf(errstr, errstr_size, "schema is not JSON: %s (line %d)", jerr.text, jerr.line);
        goto out;
    }
    type = json_string_value(json_object_get(root, "type"));
    name = json_string_value(json_object_get(root, "name"));
    ns = json_string_value(json_object_get(root, "namespace"));
    if (!json_is_object(root) || type == NULL ||
        (strcmp(type, "record") != 0 && strcmp(type, "enum") != 0 && strcmp(type, "fixed") != 0 &&
         strcmp(type, "error") != 0)) {
        snprintf(errstr, errstr_size, "schema is not a named type (record, enum or fixed)");
        goto out;
    }
    if (empty(name)) {
        snprintf(errstr, errstr_size, "schema of type %s has no name", type);
        goto out;
    }
    /* Avro: a name that contains a dot is already full; the namespace is then ignored. */
    if (strchr(name, '.') != NULL || empty(ns))
        n = snprintf(out, out_size, "%s", name);
    else
        n = snprintf(out, out_size, "%s.%s", ns, name);
    if (n < 0)
        snprintf(errstr, errstr_size, "cannot format the schema's full name");
out:
    json_decref(root);
    return n;
}

int cdc_registry_level_valid(const char *level)
{
    size_t i;

    if (level == NULL)
        return 0;
    for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcmp(level, levels[i]) == 0)
            return 1;
    return 0;
}
