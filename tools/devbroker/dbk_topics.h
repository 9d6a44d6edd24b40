/*
 * dbk_topics: the list of topics cdc-devbroker creates at start-up, gathered from the
 * pipeline config (-c) and from --topic NAME[:PARTS] options.
 *
 * The list is built before the mock cluster exists, so every conflict (a name requested
 * twice with different partition counts, an illegal Kafka topic name) is a usage error
 * reported before anything listens on a port.
 */
#ifndef DBK_TOPICS_H
#define DBK_TOPICS_H

#include <stddef.h>

typedef struct cdc_dbk_topic_s {
    char *name;
    int partitions;
    char *origin; /* where it was requested: "--topic", "config.yml", for messages */
} cdc_dbk_topic_t;

typedef struct cdc_dbk_topics_s {
    cdc_dbk_topic_t *items;
    size_t count;
} cdc_dbk_topics_t;

/* Largest partition count accepted; the mock allocates every partition up front. */
#define CDC_DBK_MAX_PARTITIONS 1000

/*
 * Adds one topic (copies name and origin). A name already in the list with the same
 * partition count is accepted once; with a different count, or an illegal Kafka topic
 * name, it returns -1 with a message naming the topic and both origins in errstr.
 */
int cdc_dbk_topics_add(cdc_dbk_topics_t *topics, const char *name, int partitions,
                       const char *origin, char *errstr, size_t errstr_size);

/* Appends without any check: for topics that exist already (seen in cluster metadata). */
void cdc_dbk_topics_append(cdc_dbk_topics_t *topics, const char *name, int partitions,
                           const char *origin);

/*
 * Parses a --topic argument "NAME" or "NAME:PARTS" (PARTS 1..CDC_DBK_MAX_PARTITIONS,
 * default_partitions when absent) and adds it. Returns -1 with a message on error.
 */
int cdc_dbk_topics_add_arg(cdc_dbk_topics_t *topics, const char *arg, int default_partitions,
                           char *errstr, size_t errstr_size);

/*
 * Loads the pipeline config at path (cdc_config_load) and adds every topic it implies
 * (cdc_config_topics). Returns -1 with the config loader's message (file, line, key) in
 * errstr on error.
 */
int cdc_dbk_topics_add_config(cdc_dbk_topics_t *topics, const char *path, char *errstr,
                              size_t errstr_size);

/* Frees every entry; the struct itself may be reused afterwards (empty). */
void cdc_dbk_topics_clear(cdc_dbk_topics_t *topics);

#endif
