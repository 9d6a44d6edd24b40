/*
 * cdc_metrics_http: the GET /metrics endpoint of cdc_metrics.h, one thread, plain sockets.
 *
 * The thread polls the listening socket every 100 ms so that a stop request is noticed
 * without signals; each accepted connection is read until the end of the request head
 * (at most 8 KiB, 2 s), answered and closed. Sequential on purpose: a scrape is a few KiB
 * every few seconds, and one thread cannot be made to pile up connections.
 */
#include "cdc_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cdc_alloc.h"
#include "cdc_log.h"

#define REQUEST_MAX     8192
#define READ_TIMEOUT_MS 2000
#define POLL_MS         100

struct cdc_metrics_server_s {
    cdc_metrics_t *reg;
    int fd;
    int port;
    atomic_int stop;
    pthread_t thread;
};

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the scraper went away: nothing to tell anyone */
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, const char *status, const char *ctype, const char *body, int head)
{
    size_t len = strlen(body);
    char *hdr = cdc_asprintf("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                             "Connection: close\r\n\r\n",
                             status, ctype, len);
    write_all(fd, hdr, strlen(hdr));
    if (!head)
        write_all(fd, body, len);
    free(hdr);
}

/* Reads the request head; returns its length, or -1 when the client sent none in time. */
static ssize_t read_head(int fd, char *buf, size_t size)
{
    size_t len = 0;
    struct timeval tv = {READ_TIMEOUT_MS / 1000, (READ_TIMEOUT_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (len + 1 < size) {
        ssize_t r = recv(fd, buf + len, size - 1 - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return len > 0 ? (ssize_t)len : -1;
        len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            break;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

static void serve_one(cdc_metrics_server_t *srv, int fd)
{
    char buf[REQUEST_MAX];
    char method[16], target[1024];
    ssize_t n = read_head(fd, buf, sizeof buf);

    if (n < 0)
        return;
    if (sscanf(buf, "%15s %1023s", method, target) != 2) {
        respond(fd, "400 Bad Request", "text/plain; charset=utf-8", "bad request\n", 0);
        return;
    }
    int head = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head) {
        respond(fd, "405 Method Not Allowed", "text/plain; charset=utf-8", "use GET /metrics\n", 0);
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q = '\0';
    if (strcmp(target, "/metrics") != 0) {
        respond(fd, "404 Not Found", "text/plain; charset=utf-8", "metrics are at /metrics\n",
                head);
        return;
    }
    char *body = cdc_metrics_render(srv->reg);
    respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, head);
    free(body);
}

static void *server_main(void *arg)
{
    cdc_metrics_server_t *srv = arg;
    sigset_t all;

    /* Signals are the main thread's business (SIGINT/SIGTERM handlers set stop flags). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&srv->stop)) {
        struct pollfd pfd = {srv->fd, POLLIN, 0};
        int r = poll(&pfd, 1, POLL_MS);
        if (r <= 0)
            continue;
        int c = accept(srv->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_one(srv, c);
        close(c);
    }
    return NULL;
}

cdc_metrics_server_t *cdc_metrics_serve(cdc_metrics_t *reg, const char *addr, int port,
                                        char *errstr, size_t errstr_size)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    cdc_metrics_server_t *srv = NULL;
    int fd = -1, one = 1;

    if (addr == NULL)
        addr = "127.0.0.1";
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (port < 0 || port > 65535 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(errstr, errstr_size, "metrics endpoint %s:%d: not an IPv4 address and port", addr,
                 port);
        goto fail;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
        snprintf(errstr, errstr_size, "metrics endpoint %s:%d: %s", addr, port, strerror(errno));
        goto fail;
    }
    srv = cdc_calloc(1, sizeof *srv);
    srv->reg = reg;
    srv->fd = fd;
    srv->port = ntohs(sa.sin_port);
    atomic_init(&srv->stop, 0);
    if (pthread_create(&srv->thread, NULL, server_main, srv) != 0) {
        snprintf(errstr, errstr_size, "metrics endpoint %s:%d: cannot start its thread", addr,
                 port);
        goto fail;
    }
    cdc_log_info("metrics at http://%s:%d/metrics", addr, srv->port);
    return srv;
fail:
    if (fd >= 0)
        close(fd);
    free(srv);
    return NULL;
}

int cdc_metrics_server_port(const cdc_metrics_server_t *srv)
{
    return srv->port;
}

void cdc_metrics_server_stop(cdc_metrics_server_t *srv)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stop, 1);
    pthread_join(srv->thread, NULL);
    close(srv->fd);
    free(srv);
}
