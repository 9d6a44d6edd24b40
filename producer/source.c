/*
 * source: opening a source file, capture, the table list, acknowledgements and
 * heartbeats (source.h). Reading and sending records is in source_read.c.
 */
#include "source_int.h"

#include "capture.h"
#include "cdc_alloc.h"
#include "cdc_log.h"
#include "cdc_names.h"
#include "schema_files.h"
#include "signals.h"
#include "sqlite_util.h"
#include "stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Files up to this size get PRAGMA quick_check at start: a few ms for the fixtures, and a
 * damaged page anywhere (an index the snapshot never reads) is found before anything is
 * published. Bigger files rely on SQLITE_CORRUPT surfacing in the reads. */
#define QUICK_CHECK_MAX_BYTES (16 * 1024 * 1024)
#define FLUSH_INTERVAL_MS     100.0
#define ACK_TRY_LOCK_MS       50 /* how long a loop acknowledgement waits for the lock */

/* Opens the file read-write without ever creating it, and checks it is a readable
 * database. */
static cdc_src_err_t open_file(cdc_src_t *src, char *errstr, size_t errstr_size)
{
    const char *path = src->cs->path, *name = src->cs->name;
    struct stat sb;
    int64_t sv;
    int rc;

    if (stat(path, &sb) < 0) {
        snprintf(errstr, errstr_size, "source %s: file %s: %s", name, path, strerror(errno));
        return CDC_SRC_EOPER;
    }
    rc = sqlite3_open_v2(path, &src->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s: cannot open %s: %s", name, path,
                 src->db ? sqlite3_errmsg(src->db) : sqlite3_errstr(rc));
        return CDC_SRC_EOPER;
    }
    sqlite3_busy_timeout(src->db, 200);
    if (cdc_sqlite_schema_version(src->db, &sv, errstr, errstr_size) != SQLITE_OK) {
        rc = sqlite3_errcode(src->db);
        if (rc == SQLITE_NOTADB)
            snprintf(errstr, errstr_size, "source %s: %s is not a SQLite database", name, path);
        else if (rc == SQLITE_CORRUPT)
            snprintf(errstr, errstr_size, "source %s: %s is corrupt (%s)", name, path,
                     sqlite3_errmsg(src->db));
        return CDC_SRC_EOPER;
    }
    if (sb.st_size <= QUICK_CHECK_MAX_BYTES) {
        sqlite3_stmt *st = NULL;
        const char *res = NULL;
        rc = sqlite3_prepare_v2(src->db, "PRAGMA quick_check(1)", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
            res = (const char *)sqlite3_column_text(st, 0);
        if (rc != SQLITE_ROW || res == NULL || strcmp(res, "ok") != 0) {
            snprintf(errstr, errstr_size, "source %s: %s is corrupt: quick_check says: %s", name,
                     path, res ? res : sqlite3_errmsg(src->db));
            sqlite3_finalize(st);
            return CDC_SRC_EOPER;
        }
        sqlite3_finalize(st);
    }
    return CDC_SRC_OK;
}

void cdc_src_table_free(src_table_t *t)
{
    cdc_table_info_destroy(t->ti);
    cdc_table_codec_destroy(t->codec);
    free(t->vals);
    cdc_key_clear(&t->cursor);
    cdc_progress_destroy(t->progress);
    memset(t, 0, sizeof *t);
}

static cdc_src_err_t ensure_schema(cdc_src_t *src, const char *json, uint64_t fp, char *errstr,
                                   size_t errstr_size)
{
    for (int attempt = 0; attempt < 6; attempt++) {
        cdc_publisher_status_t st = cdc_publisher_ensure_schema(src->pub, json, strlen(json), fp);
        if (st == CDC_PUB_OK)
            return CDC_SRC_OK;
        if (st != CDC_PUB_TIMEOUT)
            break;
        cdc_log_warn("source %s: schema %016llx not confirmed yet, waiting", src->cs->name,
                     (unsigned long long)fp);
    }
    snprintf(errstr, errstr_size, "source %s: publishing a schema to %s.schemas: %s", src->cs->name,
             src->conf->topic_prefix, cdc_publisher_error(src->pub));
    return CDC_SRC_EOPER;
}

/* With a schema registry: registers the table's key and envelope schemas under their
 * subjects of the domain topic and switches the codec to the Confluent framing. A version
 * the subject's compatibility level refuses stops the producer with the registry's reason
 * (docs/schema-registry.md "Evolution"): its records must not be sent unregistered. */
static cdc_src_err_t register_table(cdc_src_t *src, src_table_t *t, char *errstr,
                                    size_t errstr_size)
{
    char *topic = cdc_asprintf("%s.%s", src->conf->topic_prefix, src->cs->domain);
    uint32_t key_id = 0, value_id = 0;
    char msg[1536];
    cdc_registry_err_t err;

    err = cdc_regwire_register(src->registry, topic, cdc_table_codec_key_schema(t->codec),
                               cdc_table_codec_envelope_schema(t->codec), &key_id, &value_id, msg,
                               sizeof msg);
    free(topic);
    if (err != CDC_REGISTRY_OK) {
        snprintf(errstr, errstr_size, "source %s: table %s: %s", src->cs->name, t->ti->name, msg);
        return err == CDC_REGISTRY_UNAVAILABLE ? CDC_SRC_EOPER : CDC_SRC_ECONFIG;
    }
    cdc_table_codec_set_schema_ids(t->codec, key_id, value_id);
    cdc_log_debug("source %s: table %s: registry ids key %u, envelope %u", src->cs->name,
                  t->ti->name, (unsigned)key_id, (unsigned)value_id);
    return CDC_SRC_OK;
}

/* Loads a table's description and builds its codec (cdc_schema_codec_new: what
 * --write-schemas writes is what is sent), then publishes its key and envelope schemas. */
static cdc_src_err_t build_table(cdc_src_t *src, const char *name, src_table_t *t, char *errstr,
                                 size_t errstr_size)
{
    cdc_src_err_t rc = CDC_SRC_EOPER;

    memset(t, 0, sizeof *t);
    if (cdc_table_info_load(src->db, name, cdc_schema_config_keys(src->cs, name), &t->ti, errstr,
                            errstr_size) != CDC_TABLE_INFO_OK)
        goto out;
    t->rowid_extra = t->ti->key_kind == CDC_KEY_ROWID;
    int index_error; /* the fingerprint index (schema_index.h) unusable: operational */
    t->codec = cdc_schema_codec_new_unique(src->conf, src->cs, t->ti, &t->n_cols, &index_error,
                                           errstr, errstr_size);
    if (t->codec == NULL) {
        rc = index_error ? CDC_SRC_EOPER : CDC_SRC_ECONFIG;
        goto out;
    }
    t->vals = cdc_calloc(t->n_cols + 1, sizeof *t->vals);
    if (t->ti->warning)
        cdc_log_warn("source %s: %s", src->cs->name, t->ti->warning);
    rc = ensure_schema(src, cdc_table_codec_key_schema(t->codec),
                       cdc_table_codec_key_fingerprint(t->codec), errstr, errstr_size);
    if (rc == CDC_SRC_OK)
        rc = ensure_schema(src, cdc_table_codec_envelope_schema(t->codec),
                           cdc_table_codec_envelope_fingerprint(t->codec), errstr, errstr_size);
    if (rc == CDC_SRC_OK && src->registry != NULL)
        rc = register_table(src, t, errstr, errstr_size);
out:
    if (rc != CDC_SRC_OK) {
        if (rc == CDC_SRC_EOPER && t->ti == NULL) {
            char tmp[1024];
            snprintf(tmp, sizeof tmp, "source %s: %s", src->cs->name, errstr);
            snprintf(errstr, errstr_size, "%s", tmp);
        }
        cdc_src_table_free(t);
    }
    return rc;
}

void cdc_src_table_restart_snapshot(cdc_src_t *src, src_table_t *t)
{
    cdc_pstate_table_t *e = cdc_pstate_table(src->state, t->ti->name, 1);

    t->gen++;
    t->snap_wanted = 1;
    t->snap_started = 0;
    t->rows = 0;
    cdc_key_clear(&t->cursor);
    cdc_progress_destroy(t->progress);
    t->progress = NULL;
    cdc_pstate_table_restart(e);
    src->state_dirty = 1;
}

/* A table captured before: resume its snapshot from the state file, or leave it done. */
static void resume_from_state(cdc_src_t *src, src_table_t *t)
{
    cdc_pstate_table_t *e = cdc_pstate_table(src->state, t->ti->name, 0);

    if (e == NULL || (!e->done && !e->started)) {
        cdc_src_table_restart_snapshot(src, t);
        return;
    }
    if (e->done)
        return;
    t->gen++;
    t->snap_wanted = 1;
    t->snap_started = 1;
    t->snap_epoch = e->epoch;
    t->h0 = e->h0;
    t->rows = e->rows;
    cdc_key_copy(&t->cursor, e->last_key.values, e->last_key.n);
    cdc_log_info("source %s: resuming the snapshot of %s after %lld row(s) (H0 %lld:%lld)",
                 src->cs->name, t->ti->name, (long long)e->rows, (long long)e->epoch,
                 (long long)e->h0);
}

static int status_captured(cdc_capture_status_t s)
{
    return s != CDC_CAPTURE_TABLE_DROPPED && s != CDC_CAPTURE_NOT_CONFIGURED &&
           s != CDC_CAPTURE_REFUSED;
}

/* Refuses two tables of the source whose Avro record names collide once mangled. */
static cdc_src_err_t check_collisions(cdc_src_t *src, const cdc_capture_report_t *rep, char *errstr,
                                      size_t errstr_size)
{
    const char **names = cdc_calloc(rep->n_tables + 1, sizeof *names);
    size_t n = 0, a, b;
    cdc_src_err_t rc = CDC_SRC_OK;

    for (size_t i = 0; i < rep->n_tables; i++)
        if (status_captured(rep->tables[i].status))
            names[n++] = rep->tables[i].table;
    if (cdc_names_find_collision(names, n, cdc_names_record, &a, &b)) {
        snprintf(errstr, errstr_size,
                 "source %s: tables \"%s\" and \"%s\" get the same Avro record name; capture "
                 "only one of them (tables: [...]) or rename one",
                 src->cs->name, names[a], names[b]);
        rc = CDC_SRC_ECONFIG;
    }
    free(names);
    return rc;
}

static void rebuild_infos(cdc_src_t *src)
{
    free(src->infos);
    src->infos = cdc_calloc(src->n_tables + 1, sizeof *src->infos);
    for (size_t i = 0; i < src->n_tables; i++)
        src->infos[i] = src->tables[i].ti;
}

/* Converges capture (install writes nothing when nothing changed) and the table list. */
cdc_src_err_t cdc_src_refresh(cdc_src_t *src, int at_start, char *errstr, size_t errstr_size)
{
    cdc_capture_report_t *rep = NULL;
    cdc_capture_err_t cerr;
    src_table_t *tables = NULL;
    size_t n = 0, reinstalled = 0;
    cdc_src_err_t rc = CDC_SRC_OK;
    char msg[2048];

    /* A file handed to PostgreSQL by cdc-ctl cutover is never captured again (signals.h). */
    if (cdc_src_cut_over(src->db, msg, sizeof msg)) {
        snprintf(errstr, errstr_size, "source %s (%s): %s", src->cs->name, src->cs->path, msg);
        if (at_start)
            return CDC_SRC_ECONFIG;
        cdc_log_warn("%s; not reinstalling capture", errstr);
        src->need_refresh = 0;
        cdc_sqlite_schema_version(src->db, &src->schema_version, msg, sizeof msg);
        return CDC_SRC_OK;
    }
    src->spec.min_epoch = src->state->acked.epoch;
    cerr = cdc_capture_install(src->db, &src->spec, &rep, msg, sizeof msg);
    if (cerr != CDC_CAPTURE_EOK) {
        int config = cerr == CDC_CAPTURE_ENOTFOUND || cerr == CDC_CAPTURE_EREFUSED;
        snprintf(errstr, errstr_size, "source %s (%s): capture: %s", src->cs->name, src->cs->path,
                 msg);
        if (at_start) {
            rc = config ? CDC_SRC_ECONFIG : CDC_SRC_EOPER;
        } else if (config || cerr == CDC_CAPTURE_EBUSY) {
            /* Keep streaming what is captured; look again at the next schema change. */
            cdc_log_error("%s (still streaming the tables captured before)", errstr);
            src->need_refresh = cerr == CDC_CAPTURE_EBUSY;
            cdc_sqlite_schema_version(src->db, &src->schema_version, msg, sizeof msg);
        } else {
            rc = CDC_SRC_EOPER;
        }
        goto out;
    }
    if ((rc = check_collisions(src, rep, errstr, errstr_size)) != CDC_SRC_OK)
        goto out;
    if (rep->tx.hold_ms > src->max_hold_ms)
        src->max_hold_ms = rep->tx.hold_ms;
    cdc_pmetrics_lock_hold(src->metrics, CDC_PMETRICS_INSTALL, rep->tx.hold_ms);
    tables = cdc_calloc(rep->n_tables + 1, sizeof *tables);
    for (size_t i = 0; i < rep->n_tables; i++) {
        const cdc_capture_table_t *ct = &rep->tables[i];
        src_table_t *old = NULL;
        if (!status_captured(ct->status)) {
            if (ct->status == CDC_CAPTURE_TABLE_DROPPED || ct->status == CDC_CAPTURE_NOT_CONFIGURED)
                cdc_log_warn("source %s: table %s: %s: capture removed", src->cs->name, ct->table,
                             cdc_capture_status_name(ct->status));
            cdc_pstate_remove_table(src->state, ct->table);
            src->state_dirty = 1;
            continue;
        }
        reinstalled += ct->reinstalled != 0;
        for (size_t j = 0; j < src->n_tables; j++)
            if (src->tables[j].ti && strcmp(src->tables[j].ti->name, ct->table) == 0)
                old = &src->tables[j];
        if (old && !ct->reinstalled) {
            tables[n++] = *old;
            memset(old, 0, sizeof *old);
            continue;
        }
        if (!at_start && ct->reinstalled)
            cdc_log_warn("source %s: table %s: %s%s%s: capture reinstalled, re-snapshotting it",
                         src->cs->name, ct->table, cdc_capture_status_name(ct->status),
                         ct->detail ? ": " : "", ct->detail ? ct->detail : "");
        if ((rc = build_table(src, ct->table, &tables[n], errstr, errstr_size)) != CDC_SRC_OK)
            goto out;
        if (ct->reinstalled)
            cdc_src_table_restart_snapshot(src, &tables[n]);
        else
            resume_from_state(src, &tables[n]);
        n++;
    }
    cdc_log_info("source %s: capture epoch %lld%s, %zu table(s), %zu (re)installed, write lock "
                 "held %.2f ms (%d attempt(s), %d busy)",
                 src->cs->name, (long long)rep->epoch, rep->new_epoch ? " (new)" : "", n,
                 reinstalled, rep->tx.hold_ms, rep->tx.attempts, rep->tx.busy_retries);
    for (size_t j = 0; j < src->n_tables; j++)
        cdc_src_table_free(&src->tables[j]);
    free(src->tables);
    src->tables = tables;
    src->n_tables = n;
    tables = NULL;
    rebuild_infos(src);
    src->epoch = rep->epoch;
    if (src->state->acked.epoch < src->epoch) {
        /* The file moved to a new epoch (it has it now): recording it at once keeps a
         * restart from taking the file for a new one and re-snapshotting every table. */
        src->state->acked.epoch = src->epoch;
        src->state_dirty = 1;
    }
    src->need_refresh = 0;
    if (cdc_sqlite_schema_version(src->db, &src->schema_version, errstr, errstr_size) != SQLITE_OK)
        rc = CDC_SRC_EOPER;
out:
    if (tables) {
        for (size_t j = 0; j < n; j++)
            cdc_src_table_free(&tables[j]);
        free(tables);
    }
    cdc_capture_report_destroy(rep);
    return rc;
}

/* Compares the file with the acknowledged position; an older copy is refused unless the
 * operator asked for a new epoch. *full: every table must be snapshotted. */
static cdc_src_err_t check_position(cdc_src_t *src, const cdc_src_opts_t *opts, int *full,
                                    char *errstr, size_t errstr_size)
{
    cdc_position_state_t ps;
    char msg[1024];
    int inst = cdc_capture_installed(src->db, msg, sizeof msg);

    *full = 1;
    if (inst < 0) {
        snprintf(errstr, errstr_size, "source %s: %s", src->cs->name, msg);
        return CDC_SRC_EOPER;
    }
    if (inst == 0)
        return CDC_SRC_OK; /* install starts an epoch above the one we acknowledged */
    if (cdc_position_read(src->db, &ps, msg, sizeof msg) != CDC_CAPTURE_EOK) {
        snprintf(errstr, errstr_size, "source %s: %s", src->cs->name, msg);
        return CDC_SRC_EOPER;
    }
    switch (cdc_position_compare(&ps, &src->state->acked)) {
    case CDC_POSITION_SAME_EPOCH:
        *full = opts->new_epoch;
        break;
    case CDC_POSITION_NEW_EPOCH:
        break;
    case CDC_POSITION_BEHIND:
        if (!opts->new_epoch) {
            cdc_position_behind_message(src->cs->name, src->cs->path, src->conf->path, &ps,
                                        &src->state->acked, errstr, errstr_size);
            return CDC_SRC_EOPER;
        }
        break;
    }
    if (opts->new_epoch) {
        cdc_sqlite_txstats_t tx = {0};
        int64_t epoch = 0;
        if (cdc_position_new_epoch(src->db, src->state->acked.epoch,
                                   src->conf->producer.lock_timeout_ms, &epoch, &tx, msg,
                                   sizeof msg) != CDC_CAPTURE_EOK) {
            snprintf(errstr, errstr_size, "source %s: new epoch: %s", src->cs->name, msg);
            return CDC_SRC_EOPER;
        }
        cdc_pmetrics_lock_hold(src->metrics, CDC_PMETRICS_NEW_EPOCH, tx.hold_ms);
        cdc_log_warn("source %s: new epoch %lld started on request (--new-epoch): every table "
                     "is re-snapshotted; write lock held %.2f ms",
                     src->cs->name, (long long)epoch, tx.hold_ms);
    }
    return CDC_SRC_OK;
}

cdc_src_t *cdc_src_open(const cdc_config_t *conf, const cdc_source_t *cs, cdc_publisher_t *pub,
                        cdc_ack_tracker_t *tracker, const cdc_src_opts_t *opts, cdc_src_err_t *err,
                        char *errstr, size_t errstr_size)
{
    cdc_src_t *src = cdc_calloc(1, sizeof *src);
    cdc_position_state_t ps;
    char msg[1024];
    int full = 1;

    src->conf = conf;
    src->cs = cs;
    src->pub = pub;
    src->tracker = tracker;
    src->registry = opts->registry;
    src->metrics = opts->metrics;
    src->data_version = -1;
    src->spec_tables = cdc_calloc(cs->tables.count + 1, sizeof *src->spec_tables);
    for (size_t i = 0; i < cs->tables.count; i++)
        src->spec_tables[i] = cs->tables.items[i];
    src->spec.tables = src->spec_tables;
    src->spec.n_tables = cs->tables.count;
    src->spec.keys = cs->keys;
    src->spec.n_keys = cs->n_keys;
    src->spec.lock_timeout_ms = conf->producer.lock_timeout_ms;
    if ((*err = open_file(src, errstr, errstr_size)) != CDC_SRC_OK)
        goto fail;
    src->state = cdc_pstate_load(conf->producer.state_dir, cs->name, errstr, errstr_size);
    *err = CDC_SRC_EOPER;
    if (src->state == NULL)
        goto fail;
    if ((*err = check_position(src, opts, &full, errstr, errstr_size)) != CDC_SRC_OK)
        goto fail;
    if ((*err = cdc_src_refresh(src, 1, errstr, errstr_size)) != CDC_SRC_OK)
        goto fail;
    *err = CDC_SRC_EOPER;
    if (cdc_position_read(src->db, &ps, msg, sizeof msg) != CDC_CAPTURE_EOK) {
        snprintf(errstr, errstr_size, "source %s: %s", cs->name, msg);
        goto fail;
    }
    src->epoch = ps.epoch;
    src->stream_after = ps.acked_seq;
    if (full) {
        for (size_t i = 0; i < src->n_tables; i++)
            cdc_src_table_restart_snapshot(src, &src->tables[i]);
        src->state->acked.epoch = ps.epoch;
        src->state->acked.h = ps.acked_seq;
    }
    /* State entries of tables no longer captured go. */
    for (size_t i = src->state->n_tables; i-- > 0;) {
        const char *name = src->state->tables[i].table;
        int found = 0;
        for (size_t j = 0; j < src->n_tables; j++)
            found |= strcmp(src->tables[j].ti->name, name) == 0;
        if (!found)
            cdc_pstate_remove_table(src->state, name);
    }
    if (cdc_pstate_save(src->state, errstr, errstr_size) < 0)
        goto fail;
    src->state_dirty = 0;
    cdc_log_info("source %s: %s opened: epoch %lld, streaming after seq %lld, %zu table(s)%s",
                 cs->name, cs->path, (long long)src->epoch, (long long)src->stream_after,
                 src->n_tables, full ? ", full snapshot" : "");
    *err = CDC_SRC_OK;
    return src;
fail:
    cdc_src_destroy(src);
    return NULL;
}

void cdc_src_destroy(cdc_src_t *src)
{
    if (src == NULL)
        return;
    while (src->tags)
        cdc_src_tag_free(src->tags);
    for (size_t i = 0; i < src->n_tables; i++)
        cdc_src_table_free(&src->tables[i]);
    free(src->tables);
    free(src->infos);
    free(src->spec_tables);
    cdc_pstate_destroy(src->state);
    cdc_buf_free(&src->canon);
    cdc_buf_free(&src->scratch);
    cdc_buf_free(&src->keyjson);
    if (src->db)
        sqlite3_close(src->db);
    free(src);
}

const char *cdc_src_name(const cdc_src_t *src)
{
    return src->cs->name;
}

double cdc_src_max_hold_ms(const cdc_src_t *src)
{
    return src->max_hold_ms;
}

cdc_src_err_t cdc_src_flush(cdc_src_t *src, int force, char *errstr, size_t errstr_size)
{
    double now = cdc_sqlite_now_ms();
    char msg[1024];

    if (!force && now - src->last_flush_ms < FLUSH_INTERVAL_MS)
        return CDC_SRC_OK;
    src->last_flush_ms = now;
    if (src->ack_pending > src->state->acked.h) {
        cdc_pos_t pos = {src->epoch, src->ack_pending};
        cdc_position_ack_t res = {0};
        /* In the loop an acknowledgement only tries briefly for the write lock and is
         * postponed to the next flush otherwise: an application holding the lock for
         * seconds must not stop streaming and heartbeats. At shutdown (force) it waits the
         * configured lock timeout, to leave as little as possible to re-send. */
        int timeout = src->conf->producer.lock_timeout_ms;
        if (!force && timeout > ACK_TRY_LOCK_MS)
            timeout = ACK_TRY_LOCK_MS;
        cdc_capture_err_t e =
            cdc_position_acknowledge(src->db, &pos, 0, timeout, &res, msg, sizeof msg);
        if (e == CDC_CAPTURE_EBUSY) {
            cdc_pmetrics_src_error(src->metrics, CDC_PMETRICS_RETRIABLE);
            cdc_log_debug("source %s: acknowledge %lld:%lld postponed: %s", src->cs->name,
                          (long long)pos.epoch, (long long)pos.h, msg);
        } else if (e != CDC_CAPTURE_EOK) {
            snprintf(errstr, errstr_size, "source %s: acknowledge %lld:%lld: %s", src->cs->name,
                     (long long)pos.epoch, (long long)pos.h, msg);
            return CDC_SRC_EOPER;
        } else {
            cdc_pmetrics_lock_hold(src->metrics, CDC_PMETRICS_ACKNOWLEDGE, res.max_hold_ms);
            if (res.max_hold_ms > src->max_hold_ms) {
                src->max_hold_ms = res.max_hold_ms;
                cdc_log_info("source %s: longest write-lock hold so far %.2f ms (acknowledge "
                             "%lld:%lld, %lld row(s) pruned)",
                             src->cs->name, res.max_hold_ms, (long long)pos.epoch, (long long)pos.h,
                             (long long)res.pruned);
            }
            src->state->acked = pos;
            src->state_dirty = 1;
        }
    }
    if (src->state_dirty) {
        if (cdc_pstate_save(src->state, errstr, errstr_size) < 0)
            return CDC_SRC_EOPER;
        src->state_dirty = 0;
    }
    return CDC_SRC_OK;
}

void cdc_src_heartbeat(cdc_src_t *src, int force)
{
    double now = cdc_sqlite_now_ms();
    sqlite3_stmt *st = NULL;
    int64_t backlog = 0, age = 0;
    cdc_publisher_status_t ps;

    if (!force && now - src->last_heartbeat_ms < src->conf->producer.heartbeat_ms)
        return;
    src->last_heartbeat_ms = now;
    if (sqlite3_prepare_v2(src->db,
                           "SELECT count(*), CAST(coalesce((julianday('now') - min(ts)) * "
                           "86400000.0, 0) AS INTEGER) FROM \"_cdc_changes\" WHERE seq > ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, src->state->acked.h);
        if (sqlite3_step(st) == SQLITE_ROW) {
            backlog = sqlite3_column_int64(st, 0);
            age = sqlite3_column_int64(st, 1);
        }
    }
    sqlite3_finalize(st);
    cdc_pmetrics_backlog(src->metrics, backlog, age < 0 ? 0 : age, src->state->acked.h);
    ps = cdc_publisher_heartbeat(src->pub, src->cs->name, src->epoch, src->state->acked.h, backlog,
                                 age < 0 ? 0 : age);
    if (ps != CDC_PUB_OK && ps != CDC_PUB_FAILED)
        cdc_log_warn("source %s: heartbeat: %s", src->cs->name, cdc_publisher_error(src->pub));
}

void cdc_src_wait(cdc_src_t *src, int timeout_ms)
{
    (void)cdc_stream_wait(src->db, &src->data_version, timeout_ms);
}

cdc_src_err_t cdc_src_uninstall(const cdc_config_t *conf, const cdc_source_t *cs, char *errstr,
                                size_t errstr_size)
{
    cdc_src_t tmp = {.conf = conf, .cs = cs};
    cdc_sqlite_txstats_t tx = {0};
    char msg[1024];
    cdc_src_err_t rc = open_file(&tmp, errstr, errstr_size);

    if (rc == CDC_SRC_OK) {
        if (cdc_capture_uninstall(tmp.db, conf->producer.lock_timeout_ms, &tx, msg, sizeof msg) !=
            CDC_CAPTURE_EOK) {
            snprintf(errstr, errstr_size, "source %s (%s): uninstall: %s", cs->name, cs->path, msg);
            rc = CDC_SRC_EOPER;
        } else {
            cdc_log_info("source %s: capture removed from %s, write lock held %.2f ms", cs->name,
                         cs->path, tx.hold_ms);
        }
    }
    if (tmp.db)
        sqlite3_close(tmp.db);
    return rc;
}
