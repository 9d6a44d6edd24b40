#include "dbk_forward.h"

#include "cdc_alloc.h"
#include "cdc_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_PAIRS 128
#define BUF_SIZE  (64 * 1024)

/* One relayed connection. Side 0 is the client, side 1 the broker; buf[i] holds bytes
 * read from fd[i] that still have to be written to fd[1 - i]. */
typedef struct pair_s {
    int fd[2];
    char *buf[2];
    size_t len[2];
    size_t off[2];
    int eof[2];
} pair_t;

struct cdc_dbk_forward_s {
    int port;
    int listen_fd;
    int wake[2]; /* a byte on wake[1] tells the thread to stop */
    struct sockaddr_in *upstreams;
    int n_upstreams;
    pair_t *pairs[MAX_PAIRS];
    int started;
    pthread_t thread;
};

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Connects to the first upstream that accepts. The brokers are on loopback, so a
 * refusal (broker down) is immediate; SO_SNDTIMEO bounds a connect to a stalled one. */
static int connect_upstream(const cdc_dbk_forward_t *fw)
{
    struct timeval tv = {1, 0};

    for (int i = 0; i < fw->n_upstreams; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (const struct sockaddr *)&fw->upstreams[i], sizeof(fw->upstreams[i])) == 0)
            return fd;
        cdc_log_debug("forward: broker %d refused: %s", i + 1, strerror(errno));
        close(fd);
    }
    return -1;
}

static void pair_close(pair_t *p)
{
    close(p->fd[0]);
    close(p->fd[1]);
    free(p->buf[0]);
    free(p->buf[1]);
    free(p);
}

static void accept_one(cdc_dbk_forward_t *fw)
{
    int cfd = accept4(fw->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    int ufd;
    int slot = -1;

    if (cfd < 0)
        return;
    for (int i = 0; i < MAX_PAIRS && slot < 0; i++) {
        if (fw->pairs[i] == NULL)
            slot = i;
    }
    if (slot < 0) {
        cdc_log_warn("forward: %d connections on port %d already, refusing one more", MAX_PAIRS,
                     fw->port);
        close(cfd);
        return;
    }
    ufd = connect_upstream(fw);
    if (ufd < 0 || set_nonblocking(ufd) != 0) {
        /* Every broker down: reset the client's connection (SO_LINGER 0 sends RST), so it
         * reports a transport failure, as it would for a dead broker, instead of an
         * orderly close that librdkafka would blame on a protocol mismatch. */
        struct linger lg = {1, 0};
        cdc_log_debug("forward: no broker accepts connections, resetting the client");
        if (ufd >= 0)
            close(ufd);
        setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(cfd);
        return;
    }
    fw->pairs[slot] = cdc_calloc(1, sizeof(pair_t));
    fw->pairs[slot]->fd[0] = cfd;
    fw->pairs[slot]->fd[1] = ufd;
    fw->pairs[slot]->buf[0] = cdc_malloc(BUF_SIZE);
    fw->pairs[slot]->buf[1] = cdc_malloc(BUF_SIZE);
}

/* Moves bytes for one side of a pair after poll; returns -1 when the pair is finished. */
static int pair_io(pair_t *p, int side, short revents)
{
    int other = 1 - side;

    if ((revents & (POLLIN | POLLHUP)) && !p->eof[side] && p->len[side] < BUF_SIZE) {
        ssize_t n = recv(p->fd[side], p->buf[side] + p->len[side], BUF_SIZE - p->len[side], 0);
        if (n > 0)
            p->len[side] += (size_t)n;
        else if (n == 0)
            p->eof[side] = 1;
        else if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
    if (revents & POLLERR)
        return -1;
    /* Write what the other side sent us (POLLOUT on this fd). */
    if ((revents & POLLOUT) && p->off[other] < p->len[other]) {
        ssize_t n = send(p->fd[side], p->buf[other] + p->off[other], p->len[other] - p->off[other],
                         MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n > 0)
            p->off[other] += (size_t)n;
        if (p->off[other] == p->len[other])
            p->off[other] = p->len[other] = 0;
    }
    /* Kafka never half-closes: once either side is gone and its bytes are delivered, the
     * connection is over. */
    for (int i = 0; i < 2; i++) {
        if (p->eof[i] && p->len[i] == 0)
            return -1;
    }
    return 0;
}

static void *forward_main(void *arg)
{
    cdc_dbk_forward_t *fw = arg;
    struct pollfd *pfd = cdc_calloc(2 + 2 * MAX_PAIRS, sizeof(*pfd));
    int owner[2 * MAX_PAIRS]; /* pair slot of pfd[2 + k] */

    for (;;) {
        int n = 2;
        pfd[0] = (struct pollfd){.fd = fw->wake[0], .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = fw->listen_fd, .events = POLLIN};
        for (int i = 0; i < MAX_PAIRS; i++) {
            pair_t *p = fw->pairs[i];
            if (p == NULL)
                continue;
            for (int side = 0; side < 2; side++) {
                short ev = 0;
                if (!p->eof[side] && p->len[side] < BUF_SIZE)
                    ev |= POLLIN;
                if (p->off[1 - side] < p->len[1 - side])
                    ev |= POLLOUT;
                owner[n - 2] = i;
                pfd[n++] = (struct pollfd){.fd = p->fd[side], .events = ev};
            }
        }
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            cdc_log_error("forward: poll: %s", strerror(errno));
            break;
        }
        if (pfd[0].revents)
            break;
        for (int k = 2; k < n; k++) {
            int slot = owner[k - 2];
            pair_t *p = fw->pairs[slot];
            int side;
            if (p == NULL || pfd[k].revents == 0)
                continue;
            side = pfd[k].fd == p->fd[0] ? 0 : 1;
            if (pair_io(p, side, pfd[k].revents) != 0) {
                pair_close(p);
                fw->pairs[slot] = NULL;
            }
        }
        if (pfd[1].revents & POLLIN)
            accept_one(fw);
    }
    free(pfd);
    return NULL;
}

cdc_dbk_forward_t *cdc_dbk_forward_start(int port, const struct sockaddr_in *upstreams, int n,
                                         char *errstr, size_t errstr_size)
{
    cdc_dbk_forward_t *fw = cdc_calloc(1, sizeof(*fw));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int on = 1;

    fw->port = port;
    fw->listen_fd = fw->wake[0] = fw->wake[1] = -1;
    fw->upstreams = cdc_calloc((size_t)n, sizeof(*upstreams));
    memcpy(fw->upstreams, upstreams, (size_t)n * sizeof(*upstreams));
    fw->n_upstreams = n;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    fw->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fw->listen_fd < 0) {
        snprintf(errstr, errstr_size, "port %d: socket: %s", port, strerror(errno));
        goto fail;
    }
    /* SO_REUSEADDR lets a restarted devbroker take its port back from TIME_WAIT; it does
     * not let two listeners share a port on Linux, so "in use" is still detected. */
    setsockopt(fw->listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fw->listen_fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(fw->listen_fd, 64) != 0) {
        snprintf(errstr, errstr_size, "cannot listen on 127.0.0.1:%d: %s%s", port, strerror(errno),
                 errno == EADDRINUSE ? " (port in use)" : "");
        goto fail;
    }
    if (pipe2(fw->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(errstr, errstr_size, "port %d: pipe: %s", port, strerror(errno));
        goto fail;
    }
    if (pthread_create(&fw->thread, NULL, forward_main, fw) != 0) {
        snprintf(errstr, errstr_size, "port %d: cannot start the forwarder thread", port);
        goto fail;
    }
    fw->started = 1;
    cdc_log_info("bootstrap port 127.0.0.1:%d forwards to the mock brokers", port);
    return fw;
fail:
    cdc_dbk_forward_stop(fw);
    return NULL;
}

void cdc_dbk_forward_stop(cdc_dbk_forward_t *fw)
{
    if (fw == NULL)
        return;
    if (fw->started) {
        char b = 1;
        while (write(fw->wake[1], &b, 1) < 0 && errno == EINTR)
            ;
        pthread_join(fw->thread, NULL);
    }
    for (int i = 0; i < MAX_PAIRS; i++) {
        if (fw->pairs[i] != NULL)
            pair_close(fw->pairs[i]);
    }
    if (fw->listen_fd >= 0)
        close(fw->listen_fd);
    if (fw->wake[0] >= 0)
        close(fw->wake[0]);
    if (fw->wake[1] >= 0)
        close(fw->wake[1]);
    free(fw->upstreams);
    free(fw);
}
