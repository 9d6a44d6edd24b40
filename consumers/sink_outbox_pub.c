/*
 * sink_outbox_pub: when and which _cdc_parity_outbox rows are published, and marking them
 * sent (sink_outbox.h). Two ways:
 *   own:   the batch transactions this worker committed (their txids come back from the
 *          apply step), published asynchronously from the worker's loop: no PostgreSQL
 *          transaction and no advisory lock is held while Kafka confirms; rows are marked
 *          sent by one autocommit UPDATE once every record was confirmed;
 *   sweep: every unsent row of the domain (at start: what a crashed worker left; every
 *          30 s: rows older than 30 s, i.e. orphans), synchronously under the domain's
 *          advisory lock, as one transaction per round. Off the hot path.
 */
#include "sink_outbox_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_log.h"

#define OUTBOX_ROUND_TX     16    /* batch transactions per sweep round */
#define OUTBOX_MAX_ROUNDS   1000  /* per sweep: a larger backlog waits for the next one */
#define OUTBOX_OWN_TX_MAX   64    /* own transactions per publication */
#define OUTBOX_PUBLISH_MS   250   /* own results wait at most this long while busy */
#define OUTBOX_INFLIGHT_MAX 4     /* own publications awaiting confirmation */
#define OUTBOX_SWEEP_MS     30000 /* orphan sweeps, at most this often */
#define OUTBOX_ORPHAN_AGE_S "30"  /* rows older than this are orphans to the sweep */
#define OUTBOX_PRUNE_MS     60000 /* deleting old sent rows, at most this often */
#define OUTBOX_RETRY_MIN_MS 1000
#define OUTBOX_RETRY_MAX_MS 30000
/* Serializes the sweeps of one domain (pg_advisory_xact_lock(int, int) space, apart
 * from the sink's one-bigint DDL lock). "cdcp". */
#define OUTBOX_LOCK_CLASS 0x63646370

static int exec_ok(PGconn *conn, const char *sql, int n, const char *const *p, PGresult **res,
                   char *errstr, size_t errstr_size)
{
    return cdc_sink_pg_exec(conn, sql, n, p, res, errstr, errstr_size) == CDC_SINK_PG_OK ? 0 : -1;
}

static void put_txs(cdc_buf_t *b, const int64_t *txs, size_t n)
{
    cdc_buf_put_byte(b, '{');
    for (size_t i = 0; i < n; i++)
        cdc_buf_printf(b, "%s%" PRId64, i > 0 ? "," : "", txs[i]);
    cdc_buf_put_byte(b, '}');
}

/* Marks the rows of txs sent; *marked: rows changed. */
static int mark_sent(cdc_sink_outbox_t *o, PGconn *conn, const int64_t *txs, size_t n, long *marked,
                     char *errstr, size_t errstr_size)
{
    cdc_buf_t arr = CDC_BUF_INIT;
    const char *p[2];
    int rc;

    put_txs(&arr, txs, n);
    p[0] = o->domain;
    p[1] = cdc_buf_cstr(&arr);
    rc = cdc_sink_pg_exec_count(conn,
                                "UPDATE _cdc_parity_outbox SET sent = true WHERE domain = $1"
                                " AND NOT sent AND batch_tx = ANY($2::bigint[])",
                                2, p, marked, errstr, errstr_size) == CDC_SINK_PG_OK
             ? 0
             : -1;
    cdc_buf_free(&arr);
    return rc;
}

static void crash_hook(cdc_sink_outbox_t *o)
{
    if (o->crash_before_mark > 0 && ++o->rounds >= o->crash_before_mark) {
        cdc_log_warn("test hook CDC_SINK_CRASH_BEFORE_MARK=%ld: killing this worker after "
                     "publication %ld was confirmed, before marking its rows sent",
                     o->crash_before_mark, o->rounds);
        raise(SIGKILL);
    }
}

static void pub_unlink(cdc_sink_outbox_t *o, outbox_pub_t *p)
{
    for (outbox_pub_t **pp = &o->pubs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p->txs);
    free(p);
}

static void own_add(cdc_sink_outbox_t *o, const int64_t *txs, size_t n)
{
    if (n > 0 && o->nown == 0)
        o->own_since = cdc_sink_outbox_mono_ms();
    if (o->nown + n > o->own_cap) {
        o->own_cap = (o->nown + n) * 2;
        o->own = cdc_realloc(o->own, o->own_cap * sizeof(*o->own));
    }
    memcpy(o->own + o->nown, txs, n * sizeof(*txs));
    o->nown += n;
}

static void backoff(cdc_sink_outbox_t *o)
{
    o->retry_at = cdc_sink_outbox_mono_ms() + o->retry_ms;
    o->retry_ms = o->retry_ms * 2 > OUTBOX_RETRY_MAX_MS ? OUTBOX_RETRY_MAX_MS : o->retry_ms * 2;
}

/* Completed own publications: mark their rows sent, or queue them again. */
static void reap(cdc_sink_outbox_t *o, cdc_sink_db_t *db)
{
    outbox_pub_t *p = o->pubs, *next;
    char err[1024];

    for (; p; p = next) {
        long marked = 0;
        next = p->next;
        if (!outbox_pub_complete(p) || (!p->own && !p->abandoned))
            continue; /* a synchronous round reaps its own publication */
        if (p->abandoned) {
            pub_unlink(o, p);
            continue;
        }
        if (p->failed > 0) {
            o->schema_sent = 0;
            cdc_log_warn("parity records of domain %s to %s: %" PRIu64 " of %" PRIu64
                         " not confirmed (%s); published again in %d ms",
                         o->domain, o->topic, p->failed, p->queued, rd_kafka_err2str(p->last_err),
                         o->retry_ms);
            own_add(o, p->txs, p->ntx);
            backoff(o);
        } else {
            crash_hook(o);
            if (mark_sent(o, db->conn, p->txs, p->ntx, &marked, err, sizeof err) < 0) {
                /* Confirmed but not marked: published again later (the validator counts
                 * a record once, by its batch id). */
                cdc_log_warn("parity outbox of domain %s: marking rows sent (published again "
                             "in %d ms): %s",
                             o->domain, o->retry_ms, err);
                own_add(o, p->txs, p->ntx);
                backoff(o);
            } else {
                o->rows_sent += (uint64_t)p->rows;
                o->records_sent += p->records;
                o->retry_ms = OUTBOX_RETRY_MIN_MS;
                cdc_log_debug("parity outbox of domain %s: %ld results in %" PRIu64
                              " records to %s, %ld rows marked sent",
                              o->domain, p->rows, p->records, o->topic, marked);
            }
        }
        pub_unlink(o, p);
    }
}

static size_t inflight(const cdc_sink_outbox_t *o)
{
    size_t n = 0;
    for (const outbox_pub_t *p = o->pubs; p; p = p->next)
        n += p->own;
    return n;
}

/* Starts the publication of (up to OUTBOX_OWN_TX_MAX of) this worker's own transactions. */
static int publish_own(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr, size_t errstr_size)
{
    size_t n = o->nown < OUTBOX_OWN_TX_MAX ? o->nown : OUTBOX_OWN_TX_MAX;
    int64_t taken[OUTBOX_OWN_TX_MAX];
    cdc_buf_t arr = CDC_BUF_INIT;
    const char *p[2];
    PGresult *res = NULL;
    outbox_pub_t *pub;
    int rc = -1;

    memcpy(taken, o->own, n * sizeof(*taken));
    put_txs(&arr, taken, n);
    p[0] = o->domain;
    p[1] = cdc_buf_cstr(&arr);
    if (exec_ok(db->conn, cdc_sink_outbox_select_sql(1), 2, p, &res, errstr, errstr_size) < 0)
        goto out;
    /* Taken off the queue: from here on the publication owns them (queued again if it
     * fails). Transactions without unsent rows were swept by someone else. */
    memmove(o->own, o->own + n, (o->nown - n) * sizeof(*o->own));
    o->nown -= n;
    o->own_since = cdc_sink_outbox_mono_ms();
    if (PQntuples(res) == 0) {
        rc = 0;
        goto out;
    }
    pub = cdc_sink_outbox_pub_new(o, 1);
    if (cdc_sink_outbox_queue_rows(o, db, res, pub, errstr, errstr_size) < 0) {
        /* What was queued still reports; the rows are taken again later. */
        pub->own = 0;
        pub->abandoned = 1;
        own_add(o, taken, n);
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    cdc_buf_free(&arr);
    return rc;
}

/*
 * One sweep round: lock, read up to OUTBOX_ROUND_TX transactions' rows at least min_age
 * seconds old, publish, wait for confirmation, mark sent, commit. Sets *nrows to the rows
 * published (0: nothing left).
 */
static int sweep_round(cdc_sink_outbox_t *o, cdc_sink_db_t *db, const char *min_age, long *nrows,
                       char *errstr, size_t errstr_size)
{
    PGconn *conn = db->conn;
    PGresult *res = NULL;
    char limit[16], lock_class[16];
    const char *sel_p[3] = {o->domain, limit, min_age};
    const char *lock_p[2] = {lock_class, o->domain};
    outbox_pub_t *pub = NULL;
    long marked = 0;
    int rc = -1, n;

    *nrows = 0;
    snprintf(limit, sizeof limit, "%d", OUTBOX_ROUND_TX);
    snprintf(lock_class, sizeof lock_class, "%d", OUTBOX_LOCK_CLASS);
    if (exec_ok(conn, "BEGIN", 0, NULL, NULL, errstr, errstr_size) < 0 ||
        exec_ok(conn, "SELECT pg_advisory_xact_lock($1::int, hashtext($2))", 2, lock_p, NULL,
                errstr, errstr_size) < 0 ||
        exec_ok(conn, cdc_sink_outbox_select_sql(0), 3, sel_p, &res, errstr, errstr_size) < 0)
        goto out;
    n = PQntuples(res);
    if (n == 0) {
        rc = exec_ok(conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size);
        goto out;
    }
    pub = cdc_sink_outbox_pub_new(o, 0);
    if (cdc_sink_outbox_queue_rows(o, db, res, pub, errstr, errstr_size) < 0)
        goto out;
    /* Every record of the round must be confirmed before any row is marked sent. */
    rd_kafka_flush(o->rk, OUTBOX_FLUSH_MS);
    if (pub->delivered != pub->queued) {
        snprintf(errstr, errstr_size,
                 "parity records to %s: %" PRIu64 " of %" PRIu64 " confirmed within %d ms%s%s",
                 o->topic, pub->delivered, pub->queued, OUTBOX_FLUSH_MS,
                 pub->failed ? ", last error: " : "",
                 pub->failed ? rd_kafka_err2str(pub->last_err) : "");
        goto out;
    }
    crash_hook(o);
    if (mark_sent(o, conn, pub->txs, pub->ntx, &marked, errstr, errstr_size) < 0 ||
        exec_ok(conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size) < 0)
        goto out;
    if (marked != n)
        cdc_log_warn("parity outbox of domain %s: %d rows published, %ld marked sent", o->domain, n,
                     marked);
    o->rows_sent += (uint64_t)pub->rows;
    o->records_sent += pub->records;
    *nrows = n;
    cdc_log_debug("parity outbox of domain %s: swept %ld results (%d rows) in %" PRIu64
                  " records to %s",
                  o->domain, pub->rows, n, pub->records, o->topic);
    rc = 0;
out:
    if (rc < 0 && PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    if (rc < 0 && pub != NULL)
        o->schema_sent = 0;
    if (pub != NULL) {
        if (outbox_pub_complete(pub))
            pub_unlink(o, pub);
        else
            pub->abandoned = 1; /* late reports still count into it; reap() frees it */
    }
    PQclear(res);
    return rc;
}

/* Sent rows are kept an hour for inspection, then deleted (at most once a minute). */
static void prune(cdc_sink_outbox_t *o, cdc_sink_db_t *db)
{
    const char *p[1] = {o->domain};
    char err[512];
    long n = 0;

    if (o->pruned_at && cdc_sink_outbox_mono_ms() - o->pruned_at < OUTBOX_PRUNE_MS)
        return;
    o->pruned_at = cdc_sink_outbox_mono_ms();
    if (cdc_sink_pg_exec_count(db->conn,
                               "DELETE FROM _cdc_parity_outbox WHERE domain = $1 AND sent"
                               " AND created_at < now() - interval '1 hour'",
                               1, p, &n, err, sizeof err) != CDC_SINK_PG_OK)
        cdc_log_warn("parity outbox of domain %s: deleting old sent rows: %s", o->domain, err);
    else if (n > 0)
        cdc_log_debug("parity outbox of domain %s: %ld old sent rows deleted", o->domain, n);
}

/*
 * The grouping column (sink_outbox.h): added when missing. Checked in the catalog first,
 * because ALTER TABLE takes an exclusive lock even when the column exists, and every
 * worker comes here at start. Rows already present get the ALTER's own transaction id:
 * they form one group, consistently from then on.
 */
static int ensure_column(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr, size_t errstr_size)
{
    PGresult *res = NULL;
    int rc = -1;

    if (o->column_ok)
        return 0;
    if (exec_ok(db->conn,
                "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('_cdc_parity_outbox')"
                " AND attname = 'batch_tx' AND NOT attisdropped",
                0, NULL, &res, errstr, errstr_size) < 0)
        goto out;
    /* Under the sink's DDL lock (sink_schema.c), so concurrent workers do not race on the
     * catalog; IF NOT EXISTS makes the loser of the race a no-op. */
    if (PQntuples(res) == 0 &&
        (exec_ok(db->conn, "BEGIN", 0, NULL, NULL, errstr, errstr_size) < 0 ||
         exec_ok(db->conn, "SELECT pg_advisory_xact_lock(28266710541855595)", 0, NULL, NULL, errstr,
                 errstr_size) < 0 ||
         exec_ok(db->conn,
                 "ALTER TABLE _cdc_parity_outbox ADD COLUMN IF NOT EXISTS batch_tx bigint"
                 " NOT NULL DEFAULT txid_current()",
                 0, NULL, NULL, errstr, errstr_size) < 0 ||
         exec_ok(db->conn,
                 "CREATE INDEX IF NOT EXISTS _cdc_parity_outbox_unsent_tx ON _cdc_parity_outbox"
                 " (domain, batch_tx) WHERE NOT sent",
                 0, NULL, NULL, errstr, errstr_size) < 0 ||
         exec_ok(db->conn, "COMMIT", 0, NULL, NULL, errstr, errstr_size) < 0)) {
        PQclear(PQexec(db->conn, "ROLLBACK"));
        goto out;
    }
    o->column_ok = 1;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/* A sweep of the rows at least min_age seconds old ("0": all). */
static int sweep(cdc_sink_outbox_t *o, cdc_sink_db_t *db, const char *min_age, char *errstr,
                 size_t errstr_size)
{
    long n = 0;

    o->swept_at = cdc_sink_outbox_mono_ms();
    if (cdc_sink_db_ensure(db, errstr, errstr_size) != CDC_SINK_OK ||
        ensure_column(o, db, errstr, errstr_size) < 0)
        goto fail;
    for (int round = 0; round < OUTBOX_MAX_ROUNDS; round++) {
        if (sweep_round(o, db, min_age, &n, errstr, errstr_size) < 0)
            goto fail;
        if (n == 0)
            break;
    }
    prune(o, db);
    o->pending = 0;
    o->retry_ms = OUTBOX_RETRY_MIN_MS;
    return 0;
fail:
    o->pending = 1;
    backoff(o);
    return -1;
}

int cdc_sink_outbox_publish(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr,
                            size_t errstr_size)
{
    return sweep(o, db, "0", errstr, errstr_size);
}

void cdc_sink_outbox_after_commit(cdc_sink_outbox_t *o, int64_t batch_tx)
{
    o->commits++;
    if (o->crash_after > 0 && o->commits >= o->crash_after) {
        cdc_log_warn("test hook CDC_SINK_CRASH_AFTER_COMMIT=%ld: killing this worker after "
                     "commit %ld, before publishing",
                     o->crash_after, o->commits);
        raise(SIGKILL);
    }
    if (batch_tx != 0)
        own_add(o, &batch_tx, 1);
}

void cdc_sink_outbox_tick(cdc_sink_outbox_t *o, cdc_sink_db_t *db, int idle)
{
    char err[1024];
    int64_t now;

    rd_kafka_poll(o->rk, 0); /* delivery reports */
    reap(o, db);
    now = cdc_sink_outbox_mono_ms();
    if (now < o->retry_at)
        return; /* backing off after a failure: the rows wait in the outbox */
    if (o->pending || now - o->swept_at >= OUTBOX_SWEEP_MS) {
        int was_pending = o->pending;
        if (sweep(o, db, was_pending ? "0" : OUTBOX_ORPHAN_AGE_S, err, sizeof err) < 0)
            cdc_log_warn("parity outbox of domain %s not published (retrying in %d ms): %s",
                         o->domain, (int)(o->retry_at - cdc_sink_outbox_mono_ms()), err);
        else if (was_pending)
            cdc_log_info("parity outbox of domain %s published after an earlier failure",
                         o->domain);
        return;
    }
    while (o->nown > 0 && inflight(o) < OUTBOX_INFLIGHT_MAX &&
           (idle || o->nown >= OUTBOX_OWN_TX_MAX || now - o->own_since >= OUTBOX_PUBLISH_MS)) {
        if (publish_own(o, db, err, sizeof err) < 0) {
            backoff(o);
            cdc_log_warn("parity outbox of domain %s not published (retrying in %d ms; the "
                         "results wait in _cdc_parity_outbox): %s",
                         o->domain, (int)(o->retry_at - cdc_sink_outbox_mono_ms()), err);
            break;
        }
    }
}

int cdc_sink_outbox_finish(cdc_sink_outbox_t *o, cdc_sink_db_t *db, char *errstr,
                           size_t errstr_size)
{
    int64_t deadline = cdc_sink_outbox_mono_ms() + OUTBOX_FLUSH_MS;

    o->retry_at = 0;
    while (o->nown > 0 && publish_own(o, db, errstr, errstr_size) == 0)
        ;
    for (;;) {
        rd_kafka_poll(o->rk, 50);
        reap(o, db);
        if (inflight(o) == 0 || cdc_sink_outbox_mono_ms() > deadline)
            break;
    }
    if (o->nown > 0 || inflight(o) > 0) {
        snprintf(errstr, errstr_size,
                 "parity results of %zu batch transaction(s) not queued and %zu publication(s) "
                 "not confirmed by Kafka within %d ms",
                 o->nown, inflight(o), OUTBOX_FLUSH_MS);
        return -1;
    }
    if (o->pending)
        return sweep(o, db, "0", errstr, errstr_size);
    return 0;
}

int cdc_sink_outbox_pending(const cdc_sink_outbox_t *o)
{
    return o->pending || o->nown > 0 || inflight(o) > 0;
}

uint64_t cdc_sink_outbox_rows_sent(const cdc_sink_outbox_t *o)
{
    return o->rows_sent;
}

uint64_t cdc_sink_outbox_records_sent(const cdc_sink_outbox_t *o)
{
    return o->records_sent;
}
