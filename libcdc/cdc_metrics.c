/*
 * cdc_metrics: the registry and the text format (see cdc_metrics.h).
 */
#include "cdc_metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_log.h"

#define MAX_HOOKS 8

const double cdc_metrics_latency_buckets[CDC_METRICS_LATENCY_BUCKETS_N] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

struct cdc_metric_s {
    cdc_metrics_t *reg;
    kind_t kind;
    char *name;
    char *help;
    char *labels; /* rendered: a="x",b="y" (no braces), "" when none */
    double value; /* counter / gauge */
    double *bounds;
    size_t nbounds;
    unsigned long long *buckets; /* per bound, not cumulative; [nbounds] is +Inf */
    unsigned long long count;
    double sum;
    struct cdc_metric_s *next;
};

struct cdc_metrics_s {
    pthread_mutex_t lock;
    cdc_metric_t *head, *tail; /* registration order: a family renders where it first appeared */
    void (*hook_fn[MAX_HOOKS])(cdc_metrics_t *, void *);
    void *hook_arg[MAX_HOOKS];
    int nhooks;
};

cdc_metrics_t *cdc_metrics_new(void)
{
    cdc_metrics_t *reg = cdc_calloc(1, sizeof *reg);
    pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

void cdc_metrics_destroy(cdc_metrics_t *reg)
{
    if (reg == NULL)
        return;
    for (cdc_metric_t *m = reg->head, *next; m != NULL; m = next) {
        next = m->next;
        free(m->name);
        free(m->help);
        free(m->labels);
        free(m->bounds);
        free(m->buckets);
        free(m);
    }
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

/* Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names without ':',
 * and label names starting with "__" are reserved. */
static int valid_name(const char *s, int label)
{
    if (s == NULL || *s == '\0' || (label && strncmp(s, "__", 2) == 0))
        return 0;
    for (const char *p = s; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
        int digit = *p >= '0' && *p <= '9';
        if (!(alpha || (digit && p != s) || (*p == ':' && !label)))
            return 0;
    }
    return 1;
}

/* Label values escape backslash, double quote and newline; HELP escapes \ and newline. */
static void put_escaped(cdc_buf_t *b, const char *s, int quote)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            cdc_buf_put_str(b, "\\\\");
        else if (*p == '\n')
            cdc_buf_put_str(b, "\\n");
        else if (*p == '"' && quote)
            cdc_buf_put_str(b, "\\\"");
        else
            cdc_buf_put_byte(b, (unsigned char)*p);
    }
}

/* Renders the NULL-terminated (name, value) pairs of ap; NULL when a name is invalid. */
static char *render_labels(const char *metric, va_list ap)
{
    cdc_buf_t b = CDC_BUF_INIT;
    const char *k;
    char *out = NULL;

    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (!valid_name(k, 1) || strcmp(k, "le") == 0 || v == NULL) {
            cdc_log_error("metrics: %s: invalid label \"%s\"", metric, k);
            goto out;
        }
        if (b.len > 0)
            cdc_buf_put_byte(&b, ',');
        cdc_buf_printf(&b, "%s=\"", k);
        put_escaped(&b, v, 1);
        cdc_buf_put_byte(&b, '"');
    }
    out = cdc_strdup(cdc_buf_cstr(&b));
out:
    cdc_buf_free(&b);
    return out;
}

static const char *kind_name(kind_t k)
{
    return k == KIND_COUNTER ? "counter" : k == KIND_GAUGE ? "gauge" : "histogram";
}

/* Finds or creates a series; takes ownership of labels. */
static cdc_metric_t *get_series(cdc_metrics_t *reg, kind_t kind, const char *name, const char *help,
                                char *labels, const double *bounds, size_t n)
{
    cdc_metric_t *m = NULL;

    if (reg == NULL || labels == NULL) {
        free(labels);
        return NULL;
    }
    if (!valid_name(name, 0)) {
        cdc_log_error("metrics: invalid metric name \"%s\"", name ? name : "(null)");
        free(labels);
        return NULL;
    }
    for (size_t i = 0; kind == KIND_HISTOGRAM && i < n; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
            cdc_log_error("metrics: %s: bucket bounds must be finite and increasing", name);
            free(labels);
            return NULL;
        }
    }
    pthread_mutex_lock(&reg->lock);
    for (cdc_metric_t *x = reg->head; x != NULL; x = x->next) {
        if (strcmp(x->name, name) != 0)
            continue;
        if (x->kind != kind) {
            cdc_log_error("metrics: %s is a %s, not a %s", name, kind_name(x->kind),
                          kind_name(kind));
            goto out;
        }
        if (strcmp(x->labels, labels) == 0) {
            if (kind == KIND_HISTOGRAM &&
                (x->nbounds != n || memcmp(x->bounds, bounds, n * sizeof *bounds) != 0)) {
                cdc_log_error("metrics: %s{%s} exists with other buckets", name, labels);
                goto out;
            }
            m = x;
            goto out;
        }
    }
    m = cdc_calloc(1, sizeof *m);
    m->reg = reg;
    m->kind = kind;
    m->name = cdc_strdup(name);
    m->help = cdc_strdup(help ? help : "");
    m->labels = labels;
    labels = NULL;
    if (kind == KIND_HISTOGRAM) {
        m->nbounds = n;
        m->bounds = cdc_calloc(n ? n : 1, sizeof *bounds);
        if (n)
            memcpy(m->bounds, bounds, n * sizeof *bounds);
        m->buckets = cdc_calloc(n + 1, sizeof *m->buckets);
    }
    /* Keep a family together: insert after the last series of the same name. */
    cdc_metric_t *after = NULL;
    for (cdc_metric_t *x = reg->head; x != NULL; x = x->next)
        if (strcmp(x->name, name) == 0)
            after = x;
    if (after == NULL) {
        if (reg->tail)
            reg->tail->next = m;
        else
            reg->head = m;
        reg->tail = m;
    } else {
        m->next = after->next;
        after->next = m;
        if (reg->tail == after)
            reg->tail = m;
    }
out:
    pthread_mutex_unlock(&reg->lock);
    free(labels);
    return m;
}

cdc_metric_t *cdc_metrics_counter(cdc_metrics_t *reg, const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    char *labels = render_labels(name, ap);
    va_end(ap);
    return get_series(reg, KIND_COUNTER, name, help, labels, NULL, 0);
}

cdc_metric_t *cdc_metrics_gauge(cdc_metrics_t *reg, const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    char *labels = render_labels(name, ap);
    va_end(ap);
    return get_series(reg, KIND_GAUGE, name, help, labels, NULL, 0);
}

cdc_metric_t *cdc_metrics_histogram(cdc_metrics_t *reg, const char *name, const char *help,
                                    const double *bounds, size_t n, ...)
{
    va_list ap;
    va_start(ap, n);
    char *labels = render_labels(name, ap);
    va_end(ap);
    return get_series(reg, KIND_HISTOGRAM, name, help, labels, bounds, n);
}

void cdc_metric_add(cdc_metric_t *m, double v)
{
    if (m == NULL || m->kind == KIND_HISTOGRAM || (m->kind == KIND_COUNTER && !(v >= 0)))
        return;
    pthread_mutex_lock(&m->reg->lock);
    m->value += v;
    pthread_mutex_unlock(&m->reg->lock);
}

void cdc_metric_set(cdc_metric_t *m, double v)
{
    if (m == NULL || m->kind != KIND_GAUGE)
        return;
    pthread_mutex_lock(&m->reg->lock);
    m->value = v;
    pthread_mutex_unlock(&m->reg->lock);
}

void cdc_metric_observe(cdc_metric_t *m, double v)
{
    size_t i;
    if (m == NULL || m->kind != KIND_HISTOGRAM)
        return;
    pthread_mutex_lock(&m->reg->lock);
    for (i = 0; i < m->nbounds && !(v <= m->bounds[i]); i++)
        ;
    m->buckets[i]++;
    m->count++;
    m->sum += v;
    pthread_mutex_unlock(&m->reg->lock);
}

double cdc_metric_value(const cdc_metric_t *m)
{
    double v;
    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->reg->lock);
    v = m->kind == KIND_HISTOGRAM ? m->sum : m->value;
    pthread_mutex_unlock(&m->reg->lock);
    return v;
}

int cdc_metrics_on_render(cdc_metrics_t *reg, void (*fn)(cdc_metrics_t *reg, void *arg), void *arg)
{
    int rc = -1;
    pthread_mutex_lock(&reg->lock);
    if (reg->nhooks < MAX_HOOKS) {
        reg->hook_fn[reg->nhooks] = fn;
        reg->hook_arg[reg->nhooks] = arg;
        reg->nhooks++;
        rc = 0;
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* The shortest text that reads back as exactly v (Prometheus parses Go floats). */
static void put_number(cdc_buf_t *b, double v)
{
    char tmp[40];
    if (isnan(v)) {
        cdc_buf_put_str(b, "NaN");
        return;
    }
    if (isinf(v)) {
        cdc_buf_put_str(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    cdc_buf_put_str(b, tmp);
}

static void put_series_name(cdc_buf_t *b, const char *name, const char *suffix, const char *labels,
                            const char *extra)
{
    cdc_buf_printf(b, "%s%s", name, suffix);
    if (*labels || extra) {
        cdc_buf_put_byte(b, '{');
        cdc_buf_put_str(b, labels);
        if (extra) {
            if (*labels)
                cdc_buf_put_byte(b, ',');
            cdc_buf_put_str(b, extra);
        }
        cdc_buf_put_byte(b, '}');
    }
    cdc_buf_put_byte(b, ' ');
}

char *cdc_metrics_render(cdc_metrics_t *reg)
{
    cdc_buf_t b = CDC_BUF_INIT;
    void (*fns[MAX_HOOKS])(cdc_metrics_t *, void *);
    void *args[MAX_HOOKS];
    int nhooks;
    const char *family = NULL;
    char *out;

    /* Hooks update gauges, which takes the lock: run them before holding it. */
    pthread_mutex_lock(&reg->lock);
    nhooks = reg->nhooks;
    memcpy(fns, reg->hook_fn, sizeof fns);
    memcpy(args, reg->hook_arg, sizeof args);
    pthread_mutex_unlock(&reg->lock);
    for (int i = 0; i < nhooks; i++)
        fns[i](reg, args[i]);

    pthread_mutex_lock(&reg->lock);
    for (const cdc_metric_t *m = reg->head; m != NULL; m = m->next) {
        if (family == NULL || strcmp(family, m->name) != 0) {
            family = m->name;
            cdc_buf_printf(&b, "# HELP %s ", m->name);
            put_escaped(&b, m->help, 0);
            cdc_buf_printf(&b, "\n# TYPE %s %s\n", m->name, kind_name(m->kind));
        }
        if (m->kind != KIND_HISTOGRAM) {
            put_series_name(&b, m->name, "", m->labels, NULL);
            put_number(&b, m->value);
            cdc_buf_put_byte(&b, '\n');
            continue;
        }
        unsigned long long cum = 0;
        for (size_t i = 0; i <= m->nbounds; i++) {
            cdc_buf_t le = CDC_BUF_INIT;
            cum += m->buckets[i];
            cdc_buf_put_str(&le, "le=\"");
            if (i < m->nbounds)
                put_number(&le, m->bounds[i]);
            else
                cdc_buf_put_str(&le, "+Inf");
            cdc_buf_put_byte(&le, '"');
            put_series_name(&b, m->name, "_bucket", m->labels, cdc_buf_cstr(&le));
            cdc_buf_printf(&b, "%llu\n", cum);
            cdc_buf_free(&le);
        }
        put_series_name(&b, m->name, "_sum", m->labels, NULL);
        put_number(&b, m->sum);
        cdc_buf_put_byte(&b, '\n');
        put_series_name(&b, m->name, "_count", m->labels, NULL);
        cdc_buf_printf(&b, "%llu\n", m->count);
    }
    pthread_mutex_unlock(&reg->lock);
    out = cdc_strdup(cdc_buf_cstr(&b));
    cdc_buf_free(&b);
    return out;
}
