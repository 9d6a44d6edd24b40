/*
 * dbk_cluster: librdkafka's mock cluster (rdkafka_mock.h) as a process-wide broker.
 *
 * The mock cluster lives on a dummy producer handle and runs its own thread; its
 * brokers listen on ephemeral 127.0.0.1 ports. A second, ordinary client handle (the
 * probe) talks to it over TCP like any user would: it proves the topics are visible before
 * the devbroker reports ready, and a watcher thread uses it to notice topics that clients
 * auto-created (the 2.0.2 mock creates unknown topics on a Metadata request that allows
 * auto-creation, with 4 partitions, and that cannot be switched off).
 *
 * Every function here may be called from any thread: the mock cluster serializes its
 * commands through its own op queue, and the topic registry has a mutex.
 */
#ifndef DBK_CLUSTER_H
#define DBK_CLUSTER_H

#include "dbk_topics.h"

#include <netinet/in.h>
#include <stddef.h>

typedef struct cdc_dbk_cluster_s cdc_dbk_cluster_t;

/* Largest broker count accepted (each broker is one listener and connection set). */
#define CDC_DBK_MAX_BROKERS 32

/*
 * Starts a mock cluster of broker_cnt brokers (ids 1..broker_cnt). Returns NULL with a
 * message in errstr on failure. Caller frees with cdc_dbk_cluster_destroy().
 */
cdc_dbk_cluster_t *cdc_dbk_cluster_new(int broker_cnt, char *errstr, size_t errstr_size);

/*
 * Creates every topic of the list (replication factor min(3, brokers)), then waits up to
 * timeout_ms until a client sees each of them with its partition count, and starts the
 * auto-creation watcher. Returns -1 with a message naming the topic on failure.
 */
int cdc_dbk_cluster_create_topics(cdc_dbk_cluster_t *cl, const cdc_dbk_topics_t *topics,
                                  int timeout_ms, char *errstr, size_t errstr_size);

/* The brokers' own comma-separated host:port list; valid until the cluster is destroyed. */
const char *cdc_dbk_cluster_bootstraps(const cdc_dbk_cluster_t *cl);

int cdc_dbk_cluster_broker_count(const cdc_dbk_cluster_t *cl);

/* Address of broker id (1-based); returns -1 if there is no such broker. */
int cdc_dbk_cluster_broker_addr(const cdc_dbk_cluster_t *cl, int id, struct sockaddr_in *out);

/*
 * Takes broker id down (up = 0) or back up (up = 1); id 0 means every broker. A down
 * broker closes its connections and refuses new ones but keeps its port and its data.
 * Returns -1 with a message on an unknown id or a mock error.
 */
int cdc_dbk_cluster_set_up(cdc_dbk_cluster_t *cl, int id, int up, char *errstr, size_t errstr_size);

/* Adds rtt_ms of latency to every response of broker id (0: every broker; 0 ms clears). */
int cdc_dbk_cluster_set_rtt(cdc_dbk_cluster_t *cl, int id, int rtt_ms, char *errstr,
                            size_t errstr_size);

/*
 * Every topic known to exist, created here or seen auto-created by the watcher, as
 * "name:partitions,..." in creation order. Caller frees with free().
 */
char *cdc_dbk_cluster_topics_str(cdc_dbk_cluster_t *cl);

/* Stops the watcher, the probe client and the mock cluster. NULL is a no-op. */
void cdc_dbk_cluster_destroy(cdc_dbk_cluster_t *cl);

#endif
