/*
 * cdc_metrics: a tiny Prometheus registry (text exposition format 0.0.4) and the HTTP
 * endpoint that serves it (`--metrics-port` of the workers; docs/operate.md "Metrics").
 *
 * Series are created once (at start, with literal names) and then updated from any thread:
 * every update takes the registry's mutex, which costs far less than the batch it counts.
 * Names follow Prometheus conventions, which the registry checks: [a-zA-Z_:][a-zA-Z0-9_:]*,
 * base units (seconds, bytes), counters end in _total, e.g. cdc_sink_rows_applied_total,
 * cdc_sink_batch_duration_seconds (histogram), cdc_producer_backlog_entries (gauge),
 * cdc_errors_total{class="retriable"}. Series of one name share one HELP/TYPE block and
 * must have the same type. A series is identified by its name and label pairs: asking for
 * it again returns the same series.
 *
 * The server is one thread with plain sockets (no dependency): GET /metrics answers the
 * rendered registry, anything else 404/405; one connection at a time, each closed after
 * its answer, a 2 s read timeout so a silent client cannot stall the scrape.
 */
#ifndef CDC_METRICS_H
#define CDC_METRICS_H

#include <stddef.h>

typedef struct cdc_metrics_s cdc_metrics_t;
typedef struct cdc_metric_s cdc_metric_t;
typedef struct cdc_metrics_server_s cdc_metrics_server_t;

/* Buckets (seconds) for latencies from 1 ms to 10 s; CDC_METRICS_LATENCY_BUCKETS_N of them. */
extern const double cdc_metrics_latency_buckets[];
#define CDC_METRICS_LATENCY_BUCKETS_N 13

/* A new, empty registry. Caller frees with cdc_metrics_destroy(). */
cdc_metrics_t *cdc_metrics_new(void);

/* Frees the registry and every series (stop its server first); NULL is a no-op. */
void cdc_metrics_destroy(cdc_metrics_t *reg);

/*
 * The series of a counter/gauge named `name` with the label pairs that follow (label name,
 * label value, ..., terminated by NULL), created on first use with `help`. Returns NULL for
 * an invalid metric or label name, or a name already registered with another type (a
 * programming error: it is logged); updates of a NULL series are no-ops. The series
 * belongs to the registry and lives as long as it.
 */
cdc_metric_t *cdc_metrics_counter(cdc_metrics_t *reg, const char *name, const char *help, ...)
    __attribute__((sentinel));
cdc_metric_t *cdc_metrics_gauge(cdc_metrics_t *reg, const char *name, const char *help, ...)
    __attribute__((sentinel));

/*
 * A histogram series with the n upper bounds in bounds (strictly increasing, finite; +Inf is
 * implied), then label pairs as above. Same return rules; bounds are copied. A series asked
 * for again with other bounds returns NULL.
 */
cdc_metric_t *cdc_metrics_histogram(cdc_metrics_t *reg, const char *name, const char *help,
                                    const double *bounds, size_t n, ...) __attribute__((sentinel));

/* Counter: adds v (v < 0 is ignored: counters never go down). Gauge: adds v. */
void cdc_metric_add(cdc_metric_t *m, double v);
/* Gauge: sets the value (ignored for other types). */
void cdc_metric_set(cdc_metric_t *m, double v);
/* Histogram: counts one observation (ignored for other types). */
void cdc_metric_observe(cdc_metric_t *m, double v);
/* The current value of a counter or gauge (a histogram's sum); 0 for NULL. */
double cdc_metric_value(const cdc_metric_t *m);

/*
 * Registers fn to run (with arg) at the start of every render, before the registry is
 * read, so gauges that are cheaper to compute on demand (lag, backlog) are fresh. At most
 * 8 hooks; returns 0, or -1 when full. fn must not render the registry itself.
 */
int cdc_metrics_on_render(cdc_metrics_t *reg, void (*fn)(cdc_metrics_t *reg, void *arg), void *arg);

/* The registry in text exposition format 0.0.4. Caller frees with free(). */
char *cdc_metrics_render(cdc_metrics_t *reg);

/*
 * Starts the HTTP server thread on addr ("127.0.0.1", "0.0.0.0"; NULL = 127.0.0.1) and
 * port (0: any free port, read it back with cdc_metrics_server_port). Returns the server,
 * or NULL with the reason (naming address and port) in errstr. The registry is borrowed
 * and must outlive the server. Caller stops it with cdc_metrics_server_stop().
 */
cdc_metrics_server_t *cdc_metrics_serve(cdc_metrics_t *reg, const char *addr, int port,
                                        char *errstr, size_t errstr_size);

/* The port the server listens on. */
int cdc_metrics_server_port(const cdc_metrics_server_t *srv);

/* Stops the thread (within ~100 ms), closes the socket and frees srv; NULL is a no-op. */
void cdc_metrics_server_stop(cdc_metrics_server_t *srv);

#endif
