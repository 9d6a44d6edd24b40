/*
 * validator_setup: what cdc-validator's consume loop runs against (validator_consume_int.h):
 * the selected domains grouped by target database (one parity state connection per
 * database, opened with retries, since a validator usually starts with its targets), and
 * the consumer of <prefix>.validation; and their teardown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_kafka.h"
#include "cdc_log.h"
#include "validator_consume_int.h"

#define START_DB_TRIES 8

/* Selected domains grouped by target conninfo, each target opened (with retries). */
static int open_targets(validator_t *v, char *errstr, size_t errstr_size)
{
    const cdc_config_t *c = v->conf;

    v->domains = cdc_calloc(c->n_domains + 1, sizeof(*v->domains));
    v->dom_db = cdc_calloc(c->n_domains + 1, sizeof(*v->dom_db));
    v->dom_local = cdc_calloc(c->n_domains + 1, sizeof(*v->dom_local));
    v->dbs = cdc_calloc(c->n_domains + 1, sizeof(*v->dbs));
    for (size_t i = 0; i < c->n_domains; i++) {
        const cdc_domain_t *dm = &c->domains[i];
        size_t g;
        if (v->opts->domain && strcmp(v->opts->domain, dm->name) != 0)
            continue;
        for (g = 0; g < v->ndbs; g++)
            if (strcmp(v->dbs[g].conninfo, dm->target) == 0)
                break;
        if (g == v->ndbs) {
            v->dbs[g].conninfo = dm->target;
            v->dbs[g].names = cdc_calloc(c->n_domains, sizeof(char *));
            v->dbs[g].gidx = cdc_calloc(c->n_domains, sizeof(size_t));
            v->ndbs++;
        }
        v->dom_db[v->ndomains] = g;
        v->dom_local[v->ndomains] = v->dbs[g].n;
        v->dbs[g].names[v->dbs[g].n] = dm->name;
        v->dbs[g].gidx[v->dbs[g].n++] = v->ndomains;
        v->domains[v->ndomains++] = dm->name;
    }
    if (v->ndomains == 0) {
        snprintf(errstr, errstr_size, "no domain to validate (--domain %s not in %s)",
                 v->opts->domain ? v->opts->domain : "?", c->path ? c->path : "the config");
        return -1;
    }
    for (size_t g = 0; g < v->ndbs; g++) {
        int backoff = BACKOFF_FIRST_MS * 4;
        for (int attempt = 1;; attempt++) {
            cdc_sink_status_t st = cdc_vstate_open(v->dbs[g].conninfo, v->dbs[g].names, v->dbs[g].n,
                                                   &v->dbs[g].st, errstr, errstr_size);
            if (st == CDC_SINK_OK)
                break;
            if (st != CDC_SINK_RETRIABLE || attempt >= START_DB_TRIES || stopping(v)) {
                char why[768];
                snprintf(why, sizeof why, "%s", errstr);
                snprintf(errstr, errstr_size, "target database of domain %s: %s",
                         v->dbs[g].names[0], why);
                return -1;
            }
            cdc_log_warn("target database of domain %s (retrying in %d ms): %s", v->dbs[g].names[0],
                         backoff, errstr);
            cdc_time_sleep_ms(backoff);
            backoff = cdc_time_backoff(backoff, BACKOFF_MAX_MS);
        }
    }
    return 0;
}

int cdc_validator_setup(validator_t *v, char *errstr, size_t errstr_size)
{
    char *group = v->opts->domain
                      ? cdc_asprintf("%s.validator.%s", v->conf->topic_prefix, v->opts->domain)
                      : cdc_asprintf("%s.validator", v->conf->topic_prefix);
    rd_kafka_conf_t *kc = NULL;
    cdc_topic_spec_t *all = NULL;
    size_t nall = 0;
    char err[512];
    int rc = -1;

    v->topic = cdc_asprintf("%s.validation", v->conf->topic_prefix);
    if (open_targets(v, errstr, errstr_size) < 0)
        goto out;
    kc = cdc_kafka_conf_new(v->conf, CDC_KAFKA_CONSUMER, group, errstr, errstr_size);
    if (!kc)
        goto out;
    rd_kafka_conf_set_rebalance_cb(kc, cdc_validator_rebalance_cb);
    rd_kafka_conf_set_opaque(kc, v);
    v->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!v->rk) {
        rd_kafka_conf_destroy(kc);
        snprintf(errstr, errstr_size, "cannot create the consumer of %s: %s", v->topic, err);
        goto out;
    }
    rd_kafka_poll_set_consumer(v->rk);
    nall = cdc_config_topics(v->conf, &all);
    for (size_t i = 0; i < nall; i++)
        if (all[i].kind == CDC_TOPIC_VALIDATION &&
            cdc_kafka_check_topics(v->rk, &all[i], 1, KAFKA_TIMEOUT_MS, err, sizeof err) < 0) {
            snprintf(errstr, errstr_size, "Kafka cluster: %s", err);
            goto out;
        }
    if (cdc_kafka_subscribe(v->rk, v->topic, errstr, errstr_size) < 0)
        goto out;
    cdc_log_info("validator: group %s, topic %s, %zu domain(s) in %zu target database(s)", group,
                 v->topic, v->ndomains, v->ndbs);
    rc = 0;
out:
    cdc_config_topics_free(all, nall);
    free(group);
    return rc;
}

void cdc_validator_teardown(validator_t *v)
{
    if (v->rk) {
        rd_kafka_consumer_close(v->rk);
        rd_kafka_destroy(v->rk);
    }
    for (int32_t i = 0; i < v->nparts; i++) {
        cdc_validator_drop_batch(&v->parts[i]);
        free(v->parts[i].next);
        free(v->parts[i].msgs);
        free(v->parts[i].recs);
        free(v->parts[i].dom);
    }
    free(v->parts);
    for (size_t g = 0; g < v->ndbs; g++) {
        cdc_vstate_close(v->dbs[g].st);
        free(v->dbs[g].names);
        free(v->dbs[g].gidx);
    }
    free(v->dbs);
    free(v->domains);
    free(v->dom_db);
    free(v->dom_local);
    free(v->topic);
}
