#include "dbk_cluster.h"

#include "cdc_alloc.h"
#include "cdc_cli.h"
#include "cdc_log.h"
#include "cdc_time.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* How often the watcher looks for auto-created topics, and how long one look may take. */
#define WATCH_INTERVAL_MS 1000
#define PROBE_TIMEOUT_MS  1000

struct cdc_dbk_cluster_s {
    rd_kafka_t *host; /* owns the mock cluster; never connects anywhere itself */
    rd_kafka_mock_cluster_t *mock;
    rd_kafka_t *probe; /* an ordinary client of the mock, for metadata */
    char *bootstraps;
    int broker_cnt;
    struct sockaddr_in addrs[CDC_DBK_MAX_BROKERS + 1]; /* by broker id */

    pthread_mutex_t lock; /* guards known and stopping */
    pthread_cond_t wake;
    cdc_dbk_topics_t known; /* every topic seen, in creation order */
    int stopping;
    int watcher_started;
    pthread_t watcher;
};

/* The mock cluster logs through its host handle: keep its warnings, demote the chatter
 * (the host has no bootstrap.servers, which librdkafka notes at NOTICE level). */
static void host_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= LOG_ERR)
        cdc_log_error("librdkafka %s: %s", fac, buf);
    else if (level == LOG_WARNING)
        cdc_log_warn("librdkafka %s: %s", fac, buf);
    else
        cdc_log_debug("librdkafka %s: %s", fac, buf);
}

/* The probe's connection errors are expected while brokers are down on purpose. */
static void probe_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    cdc_log_debug("probe %s: %s", fac, buf);
}

static void probe_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    cdc_log_debug("probe error %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                    size_t errstr_size)
{
    if (rd_kafka_conf_set(conf, key, value, errstr, errstr_size) != RD_KAFKA_CONF_OK)
        return -1;
    return 0;
}

/* Splits the mock's "127.0.0.1:p1,127.0.0.1:p2,..." (broker ids in order) into addrs. */
static int parse_bootstraps(cdc_dbk_cluster_t *cl, char *errstr, size_t errstr_size)
{
    char *copy = cdc_strdup(cl->bootstraps);
    char *save = NULL;
    int id = 0;
    int rc = -1;

    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        long port;
        if (++id > cl->broker_cnt || colon == NULL)
            goto bad;
        *colon = '\0';
        if (cdc_cli_parse_long(colon + 1, 1, 65535, &port) != 0)
            goto bad;
        cl->addrs[id].sin_family = AF_INET;
        cl->addrs[id].sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, tok, &cl->addrs[id].sin_addr) != 1)
            goto bad;
    }
    if (id != cl->broker_cnt)
        goto bad;
    rc = 0;
    goto out;
bad:
    snprintf(errstr, errstr_size, "unexpected mock cluster bootstrap list '%s'", cl->bootstraps);
out:
    free(copy);
    return rc;
}

static rd_kafka_t *new_probe(const char *bootstraps, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;

    rd_kafka_conf_set_log_cb(conf, probe_log_cb);
    rd_kafka_conf_set_error_cb(conf, probe_error_cb);
    /* Reconnect quickly after "up", so the watcher resumes within a second or two. */
    if (conf_set(conf, "bootstrap.servers", bootstraps, errstr, errstr_size) != 0 ||
        conf_set(conf, "client.id", "cdc-devbroker-probe", errstr, errstr_size) != 0 ||
        conf_set(conf, "allow.auto.create.topics", "false", errstr, errstr_size) != 0 ||
        conf_set(conf, "reconnect.backoff.max.ms", "500", errstr, errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (rk == NULL)
        rd_kafka_conf_destroy(conf);
    return rk;
}

cdc_dbk_cluster_t *cdc_dbk_cluster_new(int broker_cnt, char *errstr, size_t errstr_size)
{
    cdc_dbk_cluster_t *cl = cdc_calloc(1, sizeof(*cl));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    pthread_mutex_init(&cl->lock, NULL);
    pthread_cond_init(&cl->wake, NULL);
    cl->broker_cnt = broker_cnt;
    if (broker_cnt < 1 || broker_cnt > CDC_DBK_MAX_BROKERS) {
        snprintf(errstr, errstr_size, "broker count must be 1..%d, got %d", CDC_DBK_MAX_BROKERS,
                 broker_cnt);
        goto fail;
    }
    rd_kafka_conf_set_log_cb(conf, host_log_cb);
    if (conf_set(conf, "client.id", "cdc-devbroker", errstr, errstr_size) != 0)
        goto fail;
    cl->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (cl->host == NULL)
        goto fail;
    conf = NULL; /* owned by the handle now */

    cl->mock = rd_kafka_mock_cluster_new(cl->host, broker_cnt);
    if (cl->mock == NULL) {
        snprintf(errstr, errstr_size,
                 "librdkafka could not start a mock cluster of %d brokers (see log above)",
                 broker_cnt);
        goto fail;
    }
    cl->bootstraps = cdc_strdup(rd_kafka_mock_cluster_bootstraps(cl->mock));
    if (parse_bootstraps(cl, errstr, errstr_size) != 0)
        goto fail;
    cl->probe = new_probe(cl->bootstraps, errstr, errstr_size);
    if (cl->probe == NULL)
        goto fail;
    cdc_log_info("mock cluster of %d brokers at %s", broker_cnt, cl->bootstraps);
    return cl;
fail:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    cdc_dbk_cluster_destroy(cl);
    return NULL;
}

static const rd_kafka_metadata_topic_t *md_find(const struct rd_kafka_metadata *md,
                                                const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, name) == 0)
            return &md->topics[i];
    }
    return NULL;
}

/* Lists every topic through the probe; NULL if no broker answered in time. */
static const struct rd_kafka_metadata *fetch_metadata(cdc_dbk_cluster_t *cl, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;

    if (rd_kafka_metadata(cl->probe, 1, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    return md;
}

/* Waits until a client sees every topic with its partition count: the proof that the
 * cluster serves what the bootstrap file will promise. */
static int wait_visible(cdc_dbk_cluster_t *cl, const cdc_dbk_topics_t *topics, int timeout_ms,
                        char *errstr, size_t errstr_size)
{
    long long deadline = cdc_time_now_ms() + timeout_ms;
    char missing[512] = "no broker answered a metadata request";

    for (;;) {
        const struct rd_kafka_metadata *md = fetch_metadata(cl, PROBE_TIMEOUT_MS);
        size_t ok = 0;
        if (md != NULL) {
            for (; ok < topics->count; ok++) {
                const cdc_dbk_topic_t *want = &topics->items[ok];
                const rd_kafka_metadata_topic_t *t = md_find(md, want->name);
                if (t == NULL || t->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                    snprintf(missing, sizeof(missing), "topic '%s' is not listed", want->name);
                    break;
                }
                if (t->partition_cnt != want->partitions) {
                    snprintf(missing, sizeof(missing), "topic '%s' has %d partitions, not %d",
                             want->name, t->partition_cnt, want->partitions);
                    break;
                }
            }
            rd_kafka_metadata_destroy(md);
            if (ok == topics->count)
                return 0;
        }
        if (cdc_time_now_ms() >= deadline)
            break;
        cdc_time_sleep_ms(100);
    }
    snprintf(errstr, errstr_size, "mock cluster not ready after %d ms: %s", timeout_ms, missing);
    return -1;
}

/* Records topics that exist but were not created here: a client's Metadata request
 * auto-created them with the mock's default of 4 partitions. */
static void note_auto_created(cdc_dbk_cluster_t *cl, const struct rd_kafka_metadata *md)
{
    pthread_mutex_lock(&cl->lock);
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        int seen = 0;
        if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        for (size_t k = 0; k < cl->known.count && !seen; k++)
            seen = strcmp(cl->known.items[k].name, t->topic) == 0;
        if (seen)
            continue;
        cdc_dbk_topics_append(&cl->known, t->topic, t->partition_cnt, "auto-created");
        cdc_log_warn("topic '%s' was auto-created with %d partitions by a client's metadata "
                     "request (the mock cluster cannot refuse this; set "
                     "allow.auto.create.topics=false in that client)",
                     t->topic, t->partition_cnt);
    }
    pthread_mutex_unlock(&cl->lock);
}

static void *watcher_main(void *arg)
{
    cdc_dbk_cluster_t *cl = arg;

    pthread_mutex_lock(&cl->lock);
    while (!cl->stopping) {
        const struct rd_kafka_metadata *md;
        struct timespec until;

        pthread_mutex_unlock(&cl->lock);
        md = fetch_metadata(cl, PROBE_TIMEOUT_MS);
        if (md != NULL) {
            note_auto_created(cl, md);
            rd_kafka_metadata_destroy(md);
        }
        pthread_mutex_lock(&cl->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WATCH_INTERVAL_MS / 1000;
        while (!cl->stopping && pthread_cond_timedwait(&cl->wake, &cl->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&cl->lock);
    return NULL;
}

int cdc_dbk_cluster_create_topics(cdc_dbk_cluster_t *cl, const cdc_dbk_topics_t *topics,
                                  int timeout_ms, char *errstr, size_t errstr_size)
{
    int replication = cl->broker_cnt < 3 ? cl->broker_cnt : 3;

    for (size_t i = 0; i < topics->count; i++) {
        const cdc_dbk_topic_t *t = &topics->items[i];
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(cl->mock, t->name, t->partitions, replication);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errstr, errstr_size, "creating topic '%s' (%d partitions, from %s): %s",
                     t->name, t->partitions, t->origin, rd_kafka_err2str(err));
            return -1;
        }
        pthread_mutex_lock(&cl->lock);
        cdc_dbk_topics_append(&cl->known, t->name, t->partitions, t->origin);
        pthread_mutex_unlock(&cl->lock);
        cdc_log_info("created topic %s with %d partitions (from %s)", t->name, t->partitions,
                     t->origin);
    }
    if (wait_visible(cl, topics, timeout_ms, errstr, errstr_size) != 0)
        return -1;
    if (pthread_create(&cl->watcher, NULL, watcher_main, cl) != 0) {
        snprintf(errstr, errstr_size, "cannot start the topic watcher thread: %s", strerror(errno));
        return -1;
    }
    cl->watcher_started = 1;
    return 0;
}

const char *cdc_dbk_cluster_bootstraps(const cdc_dbk_cluster_t *cl)
{
    return cl->bootstraps;
}

int cdc_dbk_cluster_broker_count(const cdc_dbk_cluster_t *cl)
{
    return cl->broker_cnt;
}

int cdc_dbk_cluster_broker_addr(const cdc_dbk_cluster_t *cl, int id, struct sockaddr_in *out)
{
    if (id < 1 || id > cl->broker_cnt)
        return -1;
    *out = cl->addrs[id];
    return 0;
}

static int check_id(const cdc_dbk_cluster_t *cl, int id, char *errstr, size_t errstr_size)
{
    if (id >= 0 && id <= cl->broker_cnt)
        return 0;
    snprintf(errstr, errstr_size, "no broker %d (brokers are 1..%d)", id, cl->broker_cnt);
    return -1;
}

int cdc_dbk_cluster_set_up(cdc_dbk_cluster_t *cl, int id, int up, char *errstr, size_t errstr_size)
{
    if (check_id(cl, id, errstr, errstr_size) != 0)
        return -1;
    for (int b = id ? id : 1; b <= (id ? id : cl->broker_cnt); b++) {
        rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(cl->mock, b)
                                     : rd_kafka_mock_broker_set_down(cl->mock, b);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errstr, errstr_size, "broker %d: %s", b, rd_kafka_err2str(err));
            return -1;
        }
        cdc_log_info("broker %d is %s", b, up ? "up" : "down");
    }
    return 0;
}

int cdc_dbk_cluster_set_rtt(cdc_dbk_cluster_t *cl, int id, int rtt_ms, char *errstr,
                            size_t errstr_size)
{
    if (check_id(cl, id, errstr, errstr_size) != 0)
        return -1;
    for (int b = id ? id : 1; b <= (id ? id : cl->broker_cnt); b++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_rtt(cl->mock, b, rtt_ms);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errstr, errstr_size, "broker %d: %s", b, rd_kafka_err2str(err));
            return -1;
        }
        cdc_log_info("broker %d rtt %d ms", b, rtt_ms);
    }
    return 0;
}

char *cdc_dbk_cluster_topics_str(cdc_dbk_cluster_t *cl)
{
    size_t cap = 1, len = 0;
    char *out;

    pthread_mutex_lock(&cl->lock);
    for (size_t i = 0; i < cl->known.count; i++)
        cap += strlen(cl->known.items[i].name) + 16;
    out = cdc_malloc(cap);
    out[0] = '\0';
    for (size_t i = 0; i < cl->known.count; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s:%d", i ? "," : "",
                                cl->known.items[i].name, cl->known.items[i].partitions);
    pthread_mutex_unlock(&cl->lock);
    return out;
}

void cdc_dbk_cluster_destroy(cdc_dbk_cluster_t *cl)
{
    if (cl == NULL)
        return;
    if (cl->watcher_started) {
        pthread_mutex_lock(&cl->lock);
        cl->stopping = 1;
        pthread_cond_broadcast(&cl->wake);
        pthread_mutex_unlock(&cl->lock);
        pthread_join(cl->watcher, NULL);
    }
    /* Clients first, then the cluster they talk to, then the cluster's host handle. */
    if (cl->probe != NULL)
        rd_kafka_destroy(cl->probe);
    if (cl->mock != NULL)
        rd_kafka_mock_cluster_destroy(cl->mock);
    if (cl->host != NULL)
        rd_kafka_destroy(cl->host);
    cdc_dbk_topics_clear(&cl->known);
    free(cl->bootstraps);
    pthread_cond_destroy(&cl->wake);
    pthread_mutex_destroy(&cl->lock);
    free(cl);
}
