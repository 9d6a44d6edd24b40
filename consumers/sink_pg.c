/*
 * sink_pg: libpq helpers of the sink (see sink_pg.h).
 */
#include "sink_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "cdc_pgtext.h"

/* Notices (e.g. "relation already exists, skipping") are expected and not worth a line
 * on stderr each batch: they go to the debug log. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    cdc_log_debug("postgresql notice: %s", message);
}

static int pin(PGconn *conn, char *errstr, size_t errstr_size)
{
    PGresult *res;

    if (cdc_pgtext_pin_session(conn, errstr, errstr_size) != 0)
        return -1;
    /* A worker paused inside a batch transaction (SIGSTOP, a stalled VM) holds the row
     * lock on its partition's stored offset, and the worker that took the partition over
     * would block on it until the first one resumes. PostgreSQL ends such a session after
     * a minute of idleness, so the lock is released and the paused worker, once resumed,
     * finds its connection gone (retriable) and is then fenced. The limit stays well above
     * the longest wait inside a batch (one dead letter's delivery, 30 s). */
    res = PQexec(conn, "SET client_min_messages = warning; "
                       "SET idle_in_transaction_session_timeout = '60s'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_sink_pg_message(conn, res, errstr, errstr_size);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

PGconn *cdc_sink_pg_connect(const char *conninfo, char *errstr, size_t errstr_size)
{
    PGconn *conn = PQconnectdb(conninfo);

    if (conn == NULL) {
        snprintf(errstr, errstr_size, "cannot allocate a libpq connection");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
        msg[strcspn(msg, "\n")] = '\0';
        snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %s", msg);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, notice_to_log, NULL);
    if (pin(conn, errstr, errstr_size) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int cdc_sink_pg_reset(PGconn *conn, char *errstr, size_t errstr_size)
{
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
        msg[strcspn(msg, "\n")] = '\0';
        snprintf(errstr, errstr_size, "cannot reconnect to PostgreSQL: %s", msg);
        return -1;
    }
    return pin(conn, errstr, errstr_size);
}

cdc_sink_pg_class_t cdc_sink_pg_classify(PGconn *conn, const PGresult *res)
{
    const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (PQstatus(conn) != CONNECTION_OK)
        return CDC_SINK_PG_RETRIABLE;
    if (st == NULL || strlen(st) != 5)
        /* A client-side failure on a live connection (out of sync, bad COPY): our bug. */
        return res == NULL ? CDC_SINK_PG_RETRIABLE : CDC_SINK_PG_FATAL;
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 || strcmp(st, "40001") == 0 ||
        strcmp(st, "40P01") == 0 || strncmp(st, "57P0", 4) == 0 || strcmp(st, "55P03") == 0 ||
        strcmp(st, "57014") == 0)
        return CDC_SINK_PG_RETRIABLE;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 || strcmp(st, "21000") == 0 ||
        strcmp(st, "54000") == 0)
        return CDC_SINK_PG_PERMANENT;
    return CDC_SINK_PG_FATAL;
}

void cdc_sink_pg_message(PGconn *conn, const PGresult *res, char *errstr, size_t errstr_size)
{
    const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char buf[512];

    if (msg == NULL) {
        snprintf(buf, sizeof buf, "%s",
                 res != NULL && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                           : PQerrorMessage(conn));
        buf[strcspn(buf, "\n")] = '\0';
        msg = buf;
    }
    if (detail != NULL)
        snprintf(errstr, errstr_size, "SQLSTATE %s: %s (%s)", st != NULL ? st : "none", msg,
                 detail);
    else
        snprintf(errstr, errstr_size, "SQLSTATE %s: %s", st != NULL ? st : "none", msg);
}

cdc_sink_pg_class_t cdc_sink_pg_exec(PGconn *conn, const char *sql, int nparams,
                                     const char *const *params, PGresult **res_out, char *errstr,
                                     size_t errstr_size)
{
    PGresult *res;
    ExecStatusType st;
    cdc_sink_pg_class_t cls = CDC_SINK_PG_OK;

    if (res_out != NULL)
        *res_out = NULL;
    if (nparams > 0)
        res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    else
        res = PQexec(conn, sql);
    st = PQresultStatus(res);
    if (res == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
        cls = cdc_sink_pg_classify(conn, res);
        cdc_sink_pg_message(conn, res, errstr, errstr_size);
        PQclear(res);
        return cls;
    }
    if (res_out != NULL)
        *res_out = res;
    else
        PQclear(res);
    return cls;
}

cdc_sink_pg_class_t cdc_sink_pg_exec_count(PGconn *conn, const char *sql, int nparams,
                                           const char *const *params, long *affected, char *errstr,
                                           size_t errstr_size)
{
    PGresult *res = NULL;
    cdc_sink_pg_class_t cls =
        cdc_sink_pg_exec(conn, sql, nparams, params, &res, errstr, errstr_size);

    if (cls == CDC_SINK_PG_OK && affected != NULL)
        *affected = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return cls;
}

cdc_sink_pg_class_t cdc_sink_pg_copy(PGconn *conn, const char *copy_sql, const void *data,
                                     size_t len, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(conn, copy_sql);
    const char *p = data;
    cdc_sink_pg_class_t cls = CDC_SINK_PG_OK;
    int sent_ok = 1;

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        cls = cdc_sink_pg_classify(conn, res);
        cdc_sink_pg_message(conn, res, errstr, errstr_size);
        PQclear(res);
        return cls == CDC_SINK_PG_OK ? CDC_SINK_PG_FATAL : cls;
    }
    PQclear(res);
    /* libpq buffers internally; chunks of 1 MiB keep each call bounded. */
    while (len > 0 && sent_ok) {
        size_t n = len > (1u << 20) ? (1u << 20) : len;
        if (PQputCopyData(conn, p, (int)n) != 1)
            sent_ok = 0;
        p += n;
        len -= n;
    }
    if (PQputCopyEnd(conn, sent_ok ? NULL : "client failed to send COPY data") != 1)
        sent_ok = 0;
    res = PQgetResult(conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cls = cdc_sink_pg_classify(conn, res);
        cdc_sink_pg_message(conn, res, errstr, errstr_size);
        if (cls == CDC_SINK_PG_OK)
            cls = CDC_SINK_PG_FATAL;
    }
    PQclear(res);
    /* Drain: a COPY yields exactly one more result, NULL. */
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    if (!sent_ok && cls == CDC_SINK_PG_OK) {
        snprintf(errstr, errstr_size, "COPY: %s", PQerrorMessage(conn));
        cls = CDC_SINK_PG_RETRIABLE;
    }
    return cls;
}

size_t cdc_sink_pg_ident_len(const char *name)
{
    size_t len = strlen(name);

    if (len <= CDC_SINK_PG_IDENT_MAX)
        return len;
    len = CDC_SINK_PG_IDENT_MAX;
    /* Back off to the start of the character the cut would split (UTF-8 continuation
     * bytes are 10xxxxxx), as pg_mbcliplen does for a UTF8 database. */
    while (len > 0 && ((unsigned char)name[len] & 0xC0) == 0x80)
        len--;
    return len;
}

char *cdc_sink_pg_ident_clip(const char *name)
{
    return cdc_strndup(name, cdc_sink_pg_ident_len(name));
}

char *cdc_sink_pg_ident_quote(const char *name)
{
    size_t n = cdc_sink_pg_ident_len(name), j = 0;
    char *out = cdc_malloc(2 * n + 3);

    out[j++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            out[j++] = '"';
        out[j++] = name[i];
    }
    out[j++] = '"';
    out[j] = '\0';
    return out;
}
