#include "dbk_control.h"

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "cdc_time.h"
#include "dbk_command.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS  (CDC_DBK_CONTROL_MAX_FDS - 1)
#define LINE_MAX_LEN 512

typedef struct client_s {
    int fd; /* -1: free slot */
    size_t len;
    char line[LINE_MAX_LEN];
} client_t;

struct cdc_dbk_control_s {
    char *path;
    int listen_fd;
    cdc_dbk_cluster_t *cluster;
    client_t clients[MAX_CLIENTS];
};

int cdc_dbk_control_path_check(const char *path, char *errstr, size_t errstr_size)
{
    struct sockaddr_un sun;

    if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(errstr, errstr_size,
                 "control socket path '%s' must be 1..%zu characters (a unix socket limit)", path,
                 sizeof(sun.sun_path) - 1);
        return -1;
    }
    return 0;
}

static void make_addr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, strlen(path) + 1);
}

/* A socket file left behind by a killed devbroker is harmless and replaced; one that
 * still accepts belongs to a running devbroker, which must not be hijacked. */
static int clear_stale(const char *path, char *errstr, size_t errstr_size)
{
    struct stat st;
    struct sockaddr_un sun;
    int fd, live;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(errstr, errstr_size, "control socket path '%s' exists and is not a socket", path);
        return -1;
    }
    make_addr(path, &sun);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(fd);
    if (live) {
        snprintf(errstr, errstr_size,
                 "control socket '%s' is in use by another process (another cdc-devbroker?)", path);
        return -1;
    }
    unlink(path);
    return 0;
}

cdc_dbk_control_t *cdc_dbk_control_open(const char *path, cdc_dbk_cluster_t *cl, char *errstr,
                                        size_t errstr_size)
{
    cdc_dbk_control_t *ctl = cdc_calloc(1, sizeof(*ctl));
    struct sockaddr_un sun;

    ctl->listen_fd = -1;
    ctl->cluster = cl;
    for (int i = 0; i < MAX_CLIENTS; i++)
        ctl->clients[i].fd = -1;
    if (cdc_dbk_control_path_check(path, errstr, errstr_size) != 0)
        goto fail;
    errstr[0] = '\0';
    if (clear_stale(path, errstr, errstr_size) != 0) {
        if (errstr[0] == '\0')
            snprintf(errstr, errstr_size, "control socket '%s': %s", path, strerror(errno));
        goto fail;
    }
    make_addr(path, &sun);
    ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ctl->listen_fd < 0 || bind(ctl->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        snprintf(errstr, errstr_size, "control socket '%s': %s", path, strerror(errno));
        goto fail;
    }
    ctl->path = cdc_strdup(path); /* from here on, close() removes the file */
    if (listen(ctl->listen_fd, 8) != 0) {
        snprintf(errstr, errstr_size, "control socket '%s': listen: %s", path, strerror(errno));
        goto fail;
    }
    cdc_log_info("control socket %s", path);
    return ctl;
fail:
    cdc_dbk_control_close(ctl);
    return NULL;
}

size_t cdc_dbk_control_pollfds(const cdc_dbk_control_t *ctl, struct pollfd *out)
{
    size_t n = 0;

    out[n++] = (struct pollfd){.fd = ctl->listen_fd, .events = POLLIN};
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (ctl->clients[i].fd >= 0)
            out[n++] = (struct pollfd){.fd = ctl->clients[i].fd, .events = POLLIN};
    }
    return n;
}

static void client_drop(client_t *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* Replies are one short line; a client too slow to take it is dropped, not waited for. */
static int client_reply(client_t *c, const char *reply)
{
    char *msg = cdc_asprintf("%s\n", reply);
    size_t len = strlen(msg);
    ssize_t n = send(c->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);

    free(msg);
    return n == (ssize_t)len ? 0 : -1;
}

/* Reads what arrived and executes each complete line. */
static void client_read(cdc_dbk_control_t *ctl, client_t *c)
{
    ssize_t n = recv(c->fd, c->line + c->len, sizeof(c->line) - c->len, MSG_DONTWAIT);
    char *nl;

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        client_drop(c);
        return;
    }
    if (n < 0)
        return;
    c->len += (size_t)n;
    while ((nl = memchr(c->line, '\n', c->len)) != NULL) {
        size_t used = (size_t)(nl - c->line) + 1;
        char *reply;
        *nl = '\0';
        if (nl > c->line && nl[-1] == '\r')
            nl[-1] = '\0';
        reply = cdc_dbk_command_execute(ctl->cluster, c->line);
        if (client_reply(c, reply) != 0) {
            free(reply);
            client_drop(c);
            return;
        }
        free(reply);
        memmove(c->line, c->line + used, c->len - used);
        c->len -= used;
    }
    if (c->len == sizeof(c->line)) {
        client_reply(c, "error: command line too long");
        client_drop(c);
    }
}

static void accept_client(cdc_dbk_control_t *ctl)
{
    int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (ctl->clients[i].fd < 0) {
            ctl->clients[i].fd = fd;
            ctl->clients[i].len = 0;
            return;
        }
    }
    cdc_log_warn("control socket %s: %d clients connected already, refusing one more", ctl->path,
                 MAX_CLIENTS);
    close(fd);
}

void cdc_dbk_control_serve(cdc_dbk_control_t *ctl, const struct pollfd *fds, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (fds[k].revents == 0)
            continue;
        if (fds[k].fd == ctl->listen_fd) {
            accept_client(ctl);
            continue;
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (ctl->clients[i].fd == fds[k].fd) {
                client_read(ctl, &ctl->clients[i]);
                break;
            }
        }
    }
}

void cdc_dbk_control_close(cdc_dbk_control_t *ctl)
{
    if (ctl == NULL)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (ctl->clients[i].fd >= 0)
            client_drop(&ctl->clients[i]);
    }
    if (ctl->listen_fd >= 0)
        close(ctl->listen_fd);
    if (ctl->path != NULL)
        unlink(ctl->path);
    free(ctl->path);
    free(ctl);
}

int cdc_dbk_control_send(const char *path, const char *cmd, int timeout_ms, char **reply,
                         char *errstr, size_t errstr_size)
{
    struct sockaddr_un sun;
    char buf[4096];
    size_t len = 0;
    long long deadline = cdc_time_now_ms() + timeout_ms;
    char *msg = NULL;
    int fd = -1;
    int rc = -1;

    *reply = NULL;
    if (cdc_dbk_control_path_check(path, errstr, errstr_size) != 0)
        goto out;
    make_addr(path, &sun);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        snprintf(errstr, errstr_size, "cannot connect to control socket '%s': %s", path,
                 strerror(errno));
        goto out;
    }
    msg = cdc_asprintf("%s\n", cmd);
    if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) != (ssize_t)strlen(msg)) {
        snprintf(errstr, errstr_size, "control socket '%s': send: %s", path, strerror(errno));
        goto out;
    }
    while (memchr(buf, '\n', len) == NULL) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long long left = deadline - cdc_time_now_ms();
        ssize_t n;
        if (len == sizeof(buf) - 1 || left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            snprintf(errstr, errstr_size, "control socket '%s': no reply within %d ms", path,
                     timeout_ms);
            goto out;
        }
        n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0) {
            snprintf(errstr, errstr_size, "control socket '%s': connection closed before reply",
                     path);
            goto out;
        }
        len += (size_t)n;
    }
    *reply = cdc_strndup(buf, (size_t)((char *)memchr(buf, '\n', len) - buf));
    rc = 0;
out:
    free(msg);
    if (fd >= 0)
        close(fd);
    return rc;
}
