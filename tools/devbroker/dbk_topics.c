#include "dbk_topics.h"

#include "cdc_alloc.h"
#include "cdc_cli.h"
#include "cdc_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kafka's own rule (kafka.common.Topic): 1..249 characters of [a-zA-Z0-9._-], not "." or
 * "..". Checked here because the mock cluster accepts any string and a real cluster
 * would not, so a config that only works against the devbroker is caught early. */
static int topic_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int cdc_dbk_topics_add(cdc_dbk_topics_t *topics, const char *name, int partitions,
                       const char *origin, char *errstr, size_t errstr_size)
{
    if (!topic_name_valid(name)) {
        snprintf(errstr, errstr_size,
                 "%s: topic name '%s' is not a legal Kafka topic name (1-249 characters of "
                 "a-z A-Z 0-9 . _ -)",
                 origin, name);
        return -1;
    }
    if (partitions < 1 || partitions > CDC_DBK_MAX_PARTITIONS) {
        snprintf(errstr, errstr_size, "%s: topic '%s': partitions must be 1..%d, got %d", origin,
                 name, CDC_DBK_MAX_PARTITIONS, partitions);
        return -1;
    }
    for (size_t i = 0; i < topics->count; i++) {
        const cdc_dbk_topic_t *t = &topics->items[i];
        if (strcmp(t->name, name) != 0)
            continue;
        if (t->partitions == partitions)
            return 0;
        snprintf(errstr, errstr_size,
                 "topic '%s' requested with %d partitions by %s and with %d partitions by %s", name,
                 t->partitions, t->origin, partitions, origin);
        return -1;
    }
    cdc_dbk_topics_append(topics, name, partitions, origin);
    return 0;
}

void cdc_dbk_topics_append(cdc_dbk_topics_t *topics, const char *name, int partitions,
                           const char *origin)
{
    topics->items = cdc_realloc(topics->items, (topics->count + 1) * sizeof(*topics->items));
    topics->items[topics->count].name = cdc_strdup(name);
    topics->items[topics->count].partitions = partitions;
    topics->items[topics->count].origin = cdc_strdup(origin);
    topics->count++;
}

int cdc_dbk_topics_add_arg(cdc_dbk_topics_t *topics, const char *arg, int default_partitions,
                           char *errstr, size_t errstr_size)
{
    const char *colon = strrchr(arg, ':');
    char *name = NULL;
    long parts = default_partitions;
    int rc = -1;

    if (colon == NULL) {
        name = cdc_strdup(arg);
    } else {
        name = cdc_strndup(arg, (size_t)(colon - arg));
        if (cdc_cli_parse_long(colon + 1, 1, CDC_DBK_MAX_PARTITIONS, &parts) != 0) {
            snprintf(errstr, errstr_size,
                     "--topic %s: partition count '%s' is not a number in 1..%d", arg, colon + 1,
                     CDC_DBK_MAX_PARTITIONS);
            goto out;
        }
    }
    rc = cdc_dbk_topics_add(topics, name, (int)parts, "--topic", errstr, errstr_size);
out:
    free(name);
    return rc;
}

int cdc_dbk_topics_add_config(cdc_dbk_topics_t *topics, const char *path, char *errstr,
                              size_t errstr_size)
{
    cdc_config_t *conf = NULL;
    cdc_topic_spec_t *specs = NULL;
    size_t n = 0;
    int rc = -1;

    conf = cdc_config_load(path, errstr, errstr_size);
    if (conf == NULL)
        goto out;
    n = cdc_config_topics(conf, &specs);
    for (size_t i = 0; i < n; i++) {
        if (cdc_dbk_topics_add(topics, specs[i].name, specs[i].partitions, path, errstr,
                               errstr_size) != 0)
            goto out;
    }
    rc = 0;
out:
    if (specs != NULL)
        cdc_config_topics_free(specs, n);
    cdc_config_destroy(conf);
    return rc;
}

void cdc_dbk_topics_clear(cdc_dbk_topics_t *topics)
{
    for (size_t i = 0; i < topics->count; i++) {
        free(topics->items[i].name);
        free(topics->items[i].origin);
    }
    free(topics->items);
    topics->items = NULL;
    topics->count = 0;
}
