/*
 * runner: the loop over sources (runner.h).
 */
#include "runner.h"

#include "ack_tracker.h"
#include "cdc_alloc.h"
#include "cdc_framing.h"
#include "cdc_log.h"
#include "producer_state.h"
#include "publisher.h"
#include "registry_wire.h"
#include "schema_files.h"
#include "signals.h"
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDLE_WAIT_MS   100 /* one idle round sleeps about this long in all */
#define CLOSE_FLUSH_MS 10000

typedef struct runner_s {
    const cdc_config_t *conf;
    const cdc_runner_opts_t *opts;
    cdc_ack_tracker_t *tracker;
    cdc_publisher_t *pub;
    cdc_regwire_t *registry; /* NULL without schema_registry.url */
    cdc_src_t **srcs;
    size_t n;
} runner_t;

static int selected(const cdc_runner_opts_t *opts, const char *name)
{
    if (opts->n_only == 0)
        return 1;
    for (size_t i = 0; i < opts->n_only; i++)
        if (strcmp(opts->only[i], name) == 0)
            return 1;
    return 0;
}

/* Every --source and --new-epoch name must be a source of the config (and --new-epoch
 * one that runs). */
static int check_names(const cdc_config_t *conf, const cdc_runner_opts_t *opts)
{
    for (size_t i = 0; i < opts->n_only; i++)
        if (cdc_config_source(conf, opts->only[i]) == NULL) {
            cdc_log_error("--source %s: no such source in %s", opts->only[i], conf->path);
            return 2;
        }
    if (opts->new_epoch &&
        (cdc_config_source(conf, opts->new_epoch) == NULL || !selected(opts, opts->new_epoch))) {
        cdc_log_error("--new-epoch %s: no such source in %s%s", opts->new_epoch, conf->path,
                      opts->n_only ? " among the --source names" : "");
        return 2;
    }
    return 0;
}

/* Hands every batch Kafka fully confirmed (in order) back to its source. */
static void take_acks(runner_t *r)
{
    cdc_pos_t pos;
    void *tag;

    while (cdc_ack_tracker_take(r->tracker, &pos, &tag))
        cdc_src_apply_tag(tag);
}

static int flush_sources(runner_t *r, int force)
{
    char err[2048];

    for (size_t i = 0; i < r->n; i++)
        if (cdc_src_flush(r->srcs[i], force, err, sizeof err) != CDC_SRC_OK) {
            cdc_log_error("%s", err);
            return 1;
        }
    return 0;
}

/* One round; returns 0 to go on, 1 when --once is done, 2 stop (signal), -1 failure. */
static int round_once(runner_t *r)
{
    int any_busy = 0, all_idle = 1;
    char err[2048];

    for (size_t i = 0; i < r->n && !*r->opts->stop; i++) {
        int busy = 0, idle = 0;
        cdc_src_err_t rc = cdc_src_step(r->srcs[i], &busy, &idle, err, sizeof err);
        if (rc == CDC_SRC_ESTOP)
            return 2;
        if (rc != CDC_SRC_OK) {
            cdc_log_error("%s", err);
            return -1;
        }
        any_busy |= busy;
        all_idle &= idle;
    }
    if (cdc_publisher_poll(r->pub, 0) == CDC_PUB_FAILED) {
        cdc_log_error("Kafka: %s", cdc_publisher_error(r->pub));
        return -1;
    }
    take_acks(r);
    if (flush_sources(r, 0))
        return -1;
    for (size_t i = 0; i < r->n; i++)
        cdc_src_heartbeat(r->srcs[i], 0);
    for (size_t i = 0; i < r->n; i++) /* cdc-ctl resnapshot requests, once per heartbeat */
        if (cdc_src_signals_poll(r->srcs[i], 0, err, sizeof err) != CDC_SRC_OK) {
            cdc_log_error("%s", err);
            return -1;
        }
    if (*r->opts->stop)
        return 2;
    if (r->opts->once && all_idle)
        return 1;
    if (!any_busy) {
        int each = IDLE_WAIT_MS / (int)(r->n ? r->n : 1);
        for (size_t i = 0; i < r->n && !*r->opts->stop; i++)
            cdc_src_wait(r->srcs[i], each < 5 ? 5 : each);
    }
    return 0;
}

/* Flushes Kafka (bounded), then acknowledges everything it confirmed. */
static int finish(runner_t *r, int heartbeats)
{
    cdc_publisher_status_t st;

    if (heartbeats)
        for (size_t i = 0; i < r->n; i++)
            cdc_src_heartbeat(r->srcs[i], 1);
    st = cdc_publisher_flush(r->pub, CLOSE_FLUSH_MS);
    if (st == CDC_PUB_FAILED) {
        cdc_log_error("Kafka: %s", cdc_publisher_error(r->pub));
        return 1;
    }
    if (st == CDC_PUB_TIMEOUT)
        cdc_log_warn("Kafka: %d record(s) not confirmed within %d ms: their positions stay "
                     "unacknowledged and are sent again at the next start",
                     cdc_publisher_queued(r->pub), CLOSE_FLUSH_MS);
    take_acks(r);
    return flush_sources(r, 1);
}

/* With schema_registry.url: the registry client, and the control records' Confluent
 * headers (their schemas registered under every domain topic's subjects). Returns 0, or
 * the exit code (1: registry unreachable, 2: refused) with the reason in err. */
static int setup_registry(runner_t *r, char *err, size_t err_size)
{
    unsigned char kh[CDC_FRAMING_CONFLUENT_HEADER_SIZE], vh[CDC_FRAMING_CONFLUENT_HEADER_SIZE];
    uint32_t key_id = 0, value_id = 0;
    char msg[1536];
    cdc_registry_err_t rerr;

    r->registry = cdc_regwire_new(r->conf, err, err_size);
    if (r->registry == NULL)
        return 2;
    rerr = cdc_regwire_register_control(r->registry, &key_id, &value_id, msg, sizeof msg);
    if (rerr != CDC_REGISTRY_OK) {
        snprintf(err, err_size, "control schemas: %s", msg);
        return rerr == CDC_REGISTRY_UNAVAILABLE ? 1 : 2;
    }
    cdc_framing_confluent_encode(key_id, kh);
    cdc_framing_confluent_encode(value_id, vh);
    if (cdc_publisher_set_control_framing(r->pub, kh, sizeof kh, vh, sizeof vh) != CDC_PUB_OK) {
        snprintf(err, err_size, "control framing: %s", cdc_publisher_error(r->pub));
        return 1;
    }
    return 0;
}

int cdc_runner_run(const cdc_config_t *conf, const cdc_runner_opts_t *opts)
{
    runner_t r = {.conf = conf, .opts = opts};
    cdc_publisher_opts_t popts = {.stop = opts->stop};
    char err[2048];
    int code, rc = 0, lock_fd;
    double hold = 0;
    cdc_pmetrics_t *pm = NULL;

    if ((code = check_names(conf, opts)) != 0)
        return code;
    lock_fd = cdc_pstate_lock(conf->producer.state_dir, err, sizeof err);
    if (lock_fd < 0) {
        cdc_log_error("%s", err);
        return 1;
    }
    r.tracker = cdc_ack_tracker_new();
    pm = cdc_pmetrics_new(opts->metrics);
    r.pub = cdc_publisher_new(conf, r.tracker, &popts, err, sizeof err);
    if (r.pub == NULL) {
        cdc_log_error("%s", err);
        code = 1;
        goto out;
    }
    if (conf->registry_url != NULL && (code = setup_registry(&r, err, sizeof err)) != 0) {
        cdc_log_error("%s", err);
        goto out;
    }
    r.srcs = cdc_calloc(conf->n_sources + 1, sizeof *r.srcs);
    for (size_t i = 0; i < conf->n_sources; i++) {
        const cdc_source_t *cs = &conf->sources[i];
        cdc_src_opts_t so = {0};
        cdc_src_err_t se;
        if (!selected(opts, cs->name))
            continue;
        so.new_epoch = opts->new_epoch && strcmp(opts->new_epoch, cs->name) == 0;
        so.registry = r.registry;
        so.metrics = cdc_pmetrics_source(pm, cs->name, cs->domain);
        r.srcs[r.n] = cdc_src_open(conf, cs, r.pub, r.tracker, &so, &se, err, sizeof err);
        if (r.srcs[r.n] == NULL) {
            cdc_log_error("%s", err);
            code = se == CDC_SRC_ECONFIG ? 2 : 1;
            goto out;
        }
        r.n++;
    }
    cdc_log_info("producer running: %zu source(s)%s", r.n, opts->once ? ", --once" : "");
    while ((rc = round_once(&r)) == 0)
        ;
    if (rc < 0) {
        code = 1; /* nothing more is acknowledged: a restart resends from the last ack */
        goto out;
    }
    if (rc == 2)
        cdc_log_info("stop requested: flushing and acknowledging what Kafka confirmed");
    code = finish(&r, rc == 1);
out:
    if (code == 1)
        cdc_pmetrics_error(pm, CDC_PMETRICS_FATAL);
    for (size_t i = 0; i < r.n; i++)
        if (cdc_src_max_hold_ms(r.srcs[i]) > hold)
            hold = cdc_src_max_hold_ms(r.srcs[i]);
    if (r.n)
        cdc_log_info("producer stopping: exit %d, longest write-lock hold %.2f ms", code, hold);
    /* The publisher goes first: its final flush still counts deliveries in the tracker,
     * whose tags the sources own. */
    cdc_publisher_destroy(r.pub);
    for (size_t i = 0; i < r.n; i++)
        cdc_src_destroy(r.srcs[i]);
    free(r.srcs);
    cdc_regwire_destroy(r.registry);
    cdc_ack_tracker_destroy(r.tracker);
    cdc_pmetrics_destroy(pm);
    close(lock_fd);
    return code;
}

int cdc_runner_uninstall(const cdc_config_t *conf, const cdc_runner_opts_t *opts)
{
    char err[2048];
    int code;

    if ((code = check_names(conf, opts)) != 0)
        return code;
    for (size_t i = 0; i < conf->n_sources; i++) {
        if (!selected(opts, conf->sources[i].name))
            continue;
        if (cdc_src_uninstall(conf, &conf->sources[i], err, sizeof err) != CDC_SRC_OK) {
            cdc_log_error("%s", err);
            code = 1;
        }
    }
    return code;
}

int cdc_runner_write_schemas(const cdc_config_t *conf, const cdc_runner_opts_t *opts,
                             const char *dir)
{
    char err[2048];
    size_t written = 0;
    int code;

    if ((code = check_names(conf, opts)) != 0)
        return code;
    for (size_t i = 0; i < conf->n_sources; i++) {
        if (!selected(opts, conf->sources[i].name))
            continue;
        code = cdc_schema_files_write_source(&conf->sources[i], dir, &written, err, sizeof err);
        if (code != 0) {
            cdc_log_error("%s", err);
            return code;
        }
    }
    if (cdc_schema_files_write_control(dir, err, sizeof err) != 0) {
        cdc_log_error("%s", err);
        return 1;
    }
    cdc_log_info("wrote %zu table schema file(s) and the 2 control schemas under %s", written, dir);
    return 0;
}
