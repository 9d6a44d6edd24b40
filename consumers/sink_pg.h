/*
 * sink_pg: the sink's libpq helpers: a pinned connection to a domain's target, statement
 * execution that reports failures as one message, identifier quoting with PostgreSQL's
 * 63-byte truncation, and the classification of errors by SQLSTATE that decides between
 * retrying a batch and isolating a bad record (STYLE.md habit 2).
 */
#ifndef CDC_SINK_PG_H
#define CDC_SINK_PG_H

#include <stddef.h>

#include <libpq-fe.h>

/* PostgreSQL's NAMEDATALEN - 1: identifiers longer than this are truncated. */
#define CDC_SINK_PG_IDENT_MAX 63

typedef enum {
    CDC_SINK_PG_OK = 0,
    CDC_SINK_PG_RETRIABLE = 1, /* connection lost, 08xxx, 40001, 40P01, 57P0x, 53xxx, 55P03 */
    CDC_SINK_PG_PERMANENT = 2, /* the data: 22xxx, 23xxx, 21000, 54000 (retrying cannot help) */
    CDC_SINK_PG_FATAL = 3,     /* anything else: our statement or the schema is wrong */
} cdc_sink_pg_class_t;

/*
 * Connects with conninfo, pins the session for read-back hashing (cdc_pgtext_pin_session)
 * and quiets notices (client_min_messages = warning). Returns the connection (caller
 * frees with PQfinish) or NULL with libpq's message in errstr.
 */
PGconn *cdc_sink_pg_connect(const char *conninfo, char *errstr, size_t errstr_size);

/* Re-establishes a lost connection (PQreset) and pins it again; returns 0 or -1. */
int cdc_sink_pg_reset(PGconn *conn, char *errstr, size_t errstr_size);

/* Classifies a failed result (res may be NULL when libpq returned none). */
cdc_sink_pg_class_t cdc_sink_pg_classify(PGconn *conn, const PGresult *res);

/*
 * Writes "SQLSTATE xxxxx: message (detail)" of a failed result (or the connection's
 * message when res is NULL) into errstr.
 */
void cdc_sink_pg_message(PGconn *conn, const PGresult *res, char *errstr, size_t errstr_size);

/*
 * Runs sql with text parameters (params may be NULL when nparams is 0). On success
 * returns OK and, if res_out is not NULL, the result (caller frees with PQclear);
 * otherwise the class of the failure, its message in errstr, and *res_out is NULL.
 * Statements and parameters are borrowed.
 */
cdc_sink_pg_class_t cdc_sink_pg_exec(PGconn *conn, const char *sql, int nparams,
                                     const char *const *params, PGresult **res_out, char *errstr,
                                     size_t errstr_size);

/* Like cdc_sink_pg_exec for a statement that returns tuples, and also reads the number
 * of rows the statement affected (PQcmdTuples) into *affected when not NULL. */
cdc_sink_pg_class_t cdc_sink_pg_exec_count(PGconn *conn, const char *sql, int nparams,
                                           const char *const *params, long *affected, char *errstr,
                                           size_t errstr_size);

/* Sends len bytes of COPY text to `copy_sql` (a COPY ... FROM STDIN); same result
 * convention as cdc_sink_pg_exec. data is borrowed. */
cdc_sink_pg_class_t cdc_sink_pg_copy(PGconn *conn, const char *copy_sql, const void *data,
                                     size_t len, char *errstr, size_t errstr_size);

/* The number of bytes of name PostgreSQL keeps as an identifier: at most 63, never
 * cutting a UTF-8 character (pg_mbcliplen). */
size_t cdc_sink_pg_ident_len(const char *name);

/* A new string: name truncated as PostgreSQL truncates it. Caller frees with free(). */
char *cdc_sink_pg_ident_clip(const char *name);

/* A new string: name (first truncated like cdc_sink_pg_ident_clip) as a quoted
 * identifier ("a""b"). Caller frees with free(). */
char *cdc_sink_pg_ident_quote(const char *name);

#endif
