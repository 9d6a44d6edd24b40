/*
 * Unit tests of cdc_metrics: the exact text format (HELP/TYPE once per family, escaped
 * labels, cumulative buckets, shortest numbers), name checks, concurrent updates, and a
 * real HTTP scrape of the server thread parsed line by line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cdc_metrics.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_text_format(void **state)
{
    (void)state;
    cdc_metrics_t *reg = cdc_metrics_new();
    cdc_metric_t *rows = cdc_metrics_counter(reg, "cdc_sink_rows_applied_total",
                                             "Rows applied to the target.", "domain", "crm", NULL);
    cdc_metric_t *retr = cdc_metrics_counter(reg, "cdc_errors_total", "Errors by class.", "class",
                                             "retriable", NULL);
    cdc_metric_t *backlog = cdc_metrics_gauge(reg, "cdc_producer_backlog_entries",
                                              "Change-log entries not yet acknowledged.", NULL);
    const double b[] = {0.01, 0.1, 1};
    cdc_metric_t *lat = cdc_metrics_histogram(reg, "cdc_sink_batch_duration_seconds",
                                              "Batch apply time.", b, 3, NULL);
    cdc_metric_t *perm = cdc_metrics_counter(reg, "cdc_errors_total", "Errors by class.", "class",
                                             "perm\"a\\n\nent", NULL);
    /* the same series again */
    assert_ptr_equal(
        cdc_metrics_counter(reg, "cdc_sink_rows_applied_total", "x", "domain", "crm", NULL), rows);
    cdc_metric_add(rows, 3);
    cdc_metric_add(rows, 2);
    cdc_metric_add(rows, -7); /* counters never go down */
    cdc_metric_add(retr, 1);
    cdc_metric_add(perm, 2);
    cdc_metric_set(backlog, 0.1);
    cdc_metric_observe(lat, 0.005);
    cdc_metric_observe(lat, 0.01); /* le is inclusive */
    cdc_metric_observe(lat, 0.5);
    cdc_metric_observe(lat, 7);
    assert_true(cdc_metric_value(rows) == 5);

    char *text = cdc_metrics_render(reg);
    const char *want =
        "# HELP cdc_sink_rows_applied_total Rows applied to the target.\n"
        "# TYPE cdc_sink_rows_applied_total counter\n"
        "cdc_sink_rows_applied_total{domain=\"crm\"} 5\n"
        "# HELP cdc_errors_total Errors by class.\n"
        "# TYPE cdc_errors_total counter\n"
        "cdc_errors_total{class=\"retriable\"} 1\n"
        "cdc_errors_total{class=\"perm\\\"a\\\\n\\nent\"} 2\n"
        "# HELP cdc_producer_backlog_entries Change-log entries not yet acknowledged.\n"
        "# TYPE cdc_producer_backlog_entries gauge\n"
        "cdc_producer_backlog_entries 0.1\n"
        "# HELP cdc_sink_batch_duration_seconds Batch apply time.\n"
        "# TYPE cdc_sink_batch_duration_seconds histogram\n"
        "cdc_sink_batch_duration_seconds_bucket{le=\"0.01\"} 2\n"
        "cdc_sink_batch_duration_seconds_bucket{le=\"0.1\"} 2\n"
        "cdc_sink_batch_duration_seconds_bucket{le=\"1\"} 3\n"
        "cdc_sink_batch_duration_seconds_bucket{le=\"+Inf\"} 4\n"
        "cdc_sink_batch_duration_seconds_sum 7.515\n"
        "cdc_sink_batch_duration_seconds_count 4\n";
    assert_string_equal(text, want);
    free(text);
    cdc_metrics_destroy(reg);
}

static void test_invalid_names(void **state)
{
    (void)state;
    cdc_metrics_t *reg = cdc_metrics_new();
    assert_null(cdc_metrics_counter(reg, "9bad", "x", NULL));
    assert_null(cdc_metrics_counter(reg, "bad-name", "x", NULL));
    assert_null(cdc_metrics_counter(reg, "ok_total", "x", "bad:label", "v", NULL));
    assert_null(cdc_metrics_counter(reg, "ok_total", "x", "le", "v", NULL));
    assert_null(cdc_metrics_counter(reg, "ok_total", "x", "__reserved", "v", NULL));
    assert_non_null(cdc_metrics_counter(reg, "ok_total", "x", NULL));
    assert_null(cdc_metrics_gauge(reg, "ok_total", "x", NULL)); /* other type */
    const double bad[] = {1, 1};
    assert_null(cdc_metrics_histogram(reg, "h_seconds", "x", bad, 2, NULL));
    cdc_metric_add(NULL, 1); /* no-ops */
    cdc_metric_observe(NULL, 1);
    char *text = cdc_metrics_render(reg);
    assert_string_equal(text, "# HELP ok_total x\n# TYPE ok_total counter\nok_total 0\n");
    free(text);
    cdc_metrics_destroy(reg);
}

static void *bump(void *arg)
{
    for (int i = 0; i < 100000; i++)
        cdc_metric_add(arg, 1);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    cdc_metrics_t *reg = cdc_metrics_new();
    cdc_metric_t *c = cdc_metrics_counter(reg, "t_total", "x", NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, bump, c);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(cdc_metric_value(c) == 400000);
    cdc_metrics_destroy(reg);
}

static void on_render(cdc_metrics_t *reg, void *arg)
{
    (void)reg;
    cdc_metric_add(arg, 1);
}

/* Sends req to 127.0.0.1:port and returns the whole answer (caller frees). */
static char *http(int port, const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    size_t cap = 1 << 16, len = 0;
    char *buf = calloc(1, cap);
    ssize_t r;
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    while ((r = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)r;
    close(fd);
    return buf;
}

/* Parses the exposition body: every non-comment line is `name{labels} value`; returns the
 * value of the series named exactly `series`, NAN when absent. */
static double find_value(const char *body, const char *series)
{
    const char *p = body;
    while (*p) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol); /* every line ends with \n */
        if (*p != '#') {
            const char *sp = memchr(p, ' ', (size_t)(eol - p));
            assert_non_null(sp);
            char *end = NULL;
            double v = strtod(sp + 1, &end);
            assert_ptr_equal(end, eol); /* the value is the whole rest of the line */
            if ((size_t)(sp - p) == strlen(series) && memcmp(p, series, strlen(series)) == 0)
                return v;
        }
        p = eol + 1;
    }
    return NAN;
}

static void test_http_scrape(void **state)
{
    (void)state;
    char err[256];
    cdc_metrics_t *reg = cdc_metrics_new();
    cdc_metric_t *c =
        cdc_metrics_counter(reg, "cdc_dead_letters_total", "Dead letters.", "domain", "crm", NULL);
    cdc_metric_t *scrapes = cdc_metrics_counter(reg, "test_renders_total", "Renders.", NULL);
    const double b[] = {0.5};
    cdc_metric_t *h =
        cdc_metrics_histogram(reg, "cdc_sink_batch_duration_seconds", "x", b, 1, NULL);
    assert_int_equal(cdc_metrics_on_render(reg, on_render, scrapes), 0);
    cdc_metric_add(c, 7);
    cdc_metric_observe(h, 0.25);
    cdc_metrics_server_t *srv = cdc_metrics_serve(reg, "127.0.0.1", 0, err, sizeof err);
    assert_non_null(srv);
    int port = cdc_metrics_server_port(srv);
    assert_true(port > 0);

    for (int i = 1; i <= 3; i++) {
        char *resp = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
        assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
        const char *body = strstr(resp, "\r\n\r\n");
        assert_non_null(body);
        body += 4;
        const char *cl = strstr(resp, "Content-Length: ");
        assert_int_equal(strtol(cl + 16, NULL, 10), (long)strlen(body));
        assert_true(find_value(body, "cdc_dead_letters_total{domain=\"crm\"}") == 7);
        assert_true(find_value(body, "test_renders_total") == i);
        assert_true(find_value(body, "cdc_sink_batch_duration_seconds_bucket{le=\"0.5\"}") == 1);
        assert_true(find_value(body, "cdc_sink_batch_duration_seconds_count") == 1);
        free(resp);
    }
    char *resp = http(port, "GET / HTTP/1.0\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 404", 12) == 0);
    free(resp);
    resp = http(port, "POST /metrics HTTP/1.0\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 405", 12) == 0);
    free(resp);

    /* the port is taken now: a second server on it fails and names it */
    assert_null(cdc_metrics_serve(reg, "127.0.0.1", port, err, sizeof err));
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    assert_non_null(strstr(err, want));
    assert_null(cdc_metrics_serve(reg, "no-address", 0, err, sizeof err));
    cdc_metrics_server_stop(srv);
    cdc_metrics_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_format),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_http_scrape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
