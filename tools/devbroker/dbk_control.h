/*
 * dbk_control: the unix stream socket through which tests inject faults
 * (`cdc-devbroker -s PATH --send "down all"`), both ends.
 *
 * The server is driven by the caller's poll loop (the main thread), so commands run one
 * at a time and never race the shutdown. Each client sends lines and gets one reply line
 * per command line (see dbk_command.h).
 */
#ifndef DBK_CONTROL_H
#define DBK_CONTROL_H

#include "dbk_cluster.h"

#include <poll.h>
#include <stddef.h>

typedef struct cdc_dbk_control_s cdc_dbk_control_t;

/* Most pollfds the server ever asks for (listener + clients). */
#define CDC_DBK_CONTROL_MAX_FDS 17

/* Returns 0 if path fits a unix socket address, else -1 with a message naming it. */
int cdc_dbk_control_path_check(const char *path, char *errstr, size_t errstr_size);

/*
 * Listens on path. A stale socket file (nobody accepting) is replaced; a live one, or
 * a path that exists and is not a socket, is an error naming the path. Commands act on
 * cl, which must outlive the server. Caller frees with cdc_dbk_control_close().
 */
cdc_dbk_control_t *cdc_dbk_control_open(const char *path, cdc_dbk_cluster_t *cl, char *errstr,
                                        size_t errstr_size);

/* Fills out[] with the fds to poll (at most CDC_DBK_CONTROL_MAX_FDS); returns the count. */
size_t cdc_dbk_control_pollfds(const cdc_dbk_control_t *ctl, struct pollfd *out);

/* Serves whatever poll reported on the fds from cdc_dbk_control_pollfds(). */
void cdc_dbk_control_serve(cdc_dbk_control_t *ctl, const struct pollfd *fds, size_t n);

/* Closes every connection and removes the socket file. NULL is a no-op. */
void cdc_dbk_control_close(cdc_dbk_control_t *ctl);

/*
 * Client side: connects to path, sends cmd, and waits up to timeout_ms for the reply
 * line, returned in *reply without newline (caller frees with free()). Returns -1 with a
 * message naming the path when it cannot connect or gets no reply.
 */
int cdc_dbk_control_send(const char *path, const char *cmd, int timeout_ms, char **reply,
                         char *errstr, size_t errstr_size);

#endif
