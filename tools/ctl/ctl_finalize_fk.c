/*
 * ctl_finalize_fk: foreign keys and identities of the cutover's target finalisation (see
 * ctl_finalize_int.h). A foreign key is added NOT VALID and then validated; when rows
 * reference a missing parent, validation fails and the constraint stays NOT VALID
 * (enforced for every new write) while the orphans are counted and named in the report:
 * they are the applications' data and never dropped (invariant 7).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "ctl_finalize_int.h"
#include "sink_pg.h"

#define MAX_ORPHAN_KEYS 10

/* The parent table of a foreign key: the source's own table of that name, else the one
 * table of that name among the domain's other sources (an application may declare a
 * reference into another file, as ab_testing's test_assignments does into posts). */
static const fin_table_t *find_table(const fin_table_t *ts, size_t n, const cdc_source_t *src,
                                     const char *tbl)
{
    const fin_table_t *other = NULL;
    size_t others = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ts[i].tbl, tbl) != 0)
            continue;
        if (ts[i].src == src)
            return &ts[i];
        other = &ts[i];
        others++;
    }
    return others == 1 ? other : NULL;
}

/* Counts (and names up to MAX_ORPHAN_KEYS of) the child rows whose reference is missing. */
static void report_orphans(PGconn *conn, const fin_table_t *child, const fin_table_t *parent,
                           const char *fk_name, const char *ccols, const char *cond, ctl_final_t *f)
{
    size_t npk = 0;
    char *pk = ctl_fin_pk_columns(conn, child->target_q, &npk);
    char err[1024];
    PGresult *r = NULL;
    /* the key of each orphan and the reference it holds */
    char *sql =
        cdc_asprintf("SELECT count(*) OVER (), row_to_json(k)::text FROM (SELECT %s%s%s FROM"
                     " %s c WHERE %s ORDER BY %s) k LIMIT %d",
                     pk && *pk ? pk : "", pk && *pk ? ", " : "", ccols, child->target_q, cond,
                     pk && *pk ? pk : ccols, MAX_ORPHAN_KEYS);
    if (ctl_fin_run(conn, sql, 0, NULL, &r, NULL, err, sizeof err) < 0) {
        ctl_fin_line(f, "%s: foreign key %s: orphans could not be listed: %s", child->target,
                     fk_name, err);
    } else {
        long cnt = PQntuples(r) ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
        f->orphans += cnt;
        ctl_fin_line(
            f, "%s: foreign key %s (%s) -> %s added NOT VALID: %ld ORPHAN row(s) reported, kept:",
            child->target, fk_name, ccols, parent->target, cnt);
        for (int i = 0; i < PQntuples(r); i++)
            ctl_fin_line(f, "    orphan %s %s", child->target, PQgetvalue(r, i, 1));
        if (cnt > PQntuples(r))
            ctl_fin_line(f, "    ... and %ld more", cnt - PQntuples(r));
        PQclear(r);
    }
    free(sql);
    free(pk);
}

/* Foreign keys of t (PRAGMA foreign_key_list), parents among the source's tables. */
int ctl_fin_add_fks(sqlite3 *db, PGconn *conn, const fin_table_t *ts, size_t nts,
                    const fin_table_t *t, ctl_final_t *f, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    char state[6], err[1024];
    int rc = 0, last_id = -1;
    cdc_buf_t ccols = CDC_BUF_INIT, pcols = CDC_BUF_INIT, cond = CDC_BUF_INIT, join = CDC_BUF_INIT;
    char *parent_tbl = NULL, *on_upd = NULL, *on_del = NULL;

    if (sqlite3_prepare_v2(db,
                           "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM"
                           " pragma_foreign_key_list(?1) ORDER BY id, seq",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(errstr, errstr_size, "table %s: reading its foreign keys: %s", t->tbl,
                 sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, t->tbl, -1, SQLITE_TRANSIENT);
    for (;;) {
        int step = sqlite3_step(st);
        int id = step == SQLITE_ROW ? sqlite3_column_int(st, 0) : -2;
        if (id != last_id && last_id >= 0) {
            /* one complete foreign key: add it */
            const fin_table_t *parent = find_table(ts, nts, t->src, parent_tbl);
            char suffix[32];
            snprintf(suffix, sizeof suffix, "fk_%d", last_id);
            char *fname = ctl_fin_object_name(t->target, suffix);
            if (parent == NULL) {
                ctl_fin_line(f,
                             "%s: foreign key (%s) -> %s not translated: %s is not a captured table"
                             " of the domain in the target",
                             t->target, cdc_buf_cstr(&ccols), parent_tbl, parent_tbl);
                f->untranslated++;
            } else {
                size_t npk = 0;
                char *ppk = NULL;
                if (pcols.len == 0) /* REFERENCES parent: its primary key */
                    ppk = ctl_fin_pk_columns(conn, parent->target_q, &npk);
                char *sql = cdc_asprintf(
                    "ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)"
                    " ON UPDATE %s ON DELETE %s NOT VALID",
                    t->target_q, fname, cdc_buf_cstr(&ccols), parent->target_q,
                    ppk ? ppk : cdc_buf_cstr(&pcols), on_upd, on_del);
                int r = ctl_fin_try(conn, sql, state, err, sizeof err);
                if (r == 0) {
                    char *val =
                        cdc_asprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", t->target_q, fname);
                    r = ctl_fin_try(conn, val, state, err, sizeof err);
                    if (r == 0) {
                        ctl_fin_line(f, "%s: foreign key %s (%s) -> %s", t->target, fname,
                                     cdc_buf_cstr(&ccols), parent->target);
                        f->fks++;
                    } else if (r == -1) {
                        /* the orphans' condition, on the parent's columns as referenced */
                        cdc_buf_t c2 = CDC_BUF_INIT;
                        cdc_buf_printf(&c2, "%s", cdc_buf_cstr(&cond));
                        if (ppk) {
                            /* single-column primary keys are the only implicit form SQLite
                             * resolves without naming columns; join on it */
                            cdc_buf_reset(&join);
                            cdc_buf_printf(&join, "p.%s = c.%s", ppk, cdc_buf_cstr(&ccols));
                        }
                        cdc_buf_printf(&c2, " AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)",
                                       parent->target_q, cdc_buf_cstr(&join));
                        report_orphans(conn, t, parent, fname, cdc_buf_cstr(&ccols),
                                       cdc_buf_cstr(&c2), f);
                        f->fks_orphaned++;
                        cdc_buf_free(&c2);
                        r = 0;
                    }
                    free(val);
                }
                if (r == -1) {
                    ctl_fin_line(f, "%s: foreign key (%s) -> %s not translated: %s", t->target,
                                 cdc_buf_cstr(&ccols), parent->target, err);
                    f->untranslated++;
                }
                free(sql);
                free(ppk);
                if (r == -2) {
                    snprintf(errstr, errstr_size, "%s", err);
                    rc = -1;
                }
            }
            free(fname);
            cdc_buf_reset(&ccols);
            cdc_buf_reset(&pcols);
            cdc_buf_reset(&cond);
            cdc_buf_reset(&join);
        }
        if (step != SQLITE_ROW || rc < 0)
            break;
        last_id = id;
        free(parent_tbl);
        free(on_upd);
        free(on_del);
        parent_tbl = cdc_strdup((const char *)sqlite3_column_text(st, 1));
        on_upd = cdc_strdup((const char *)sqlite3_column_text(st, 4));
        on_del = cdc_strdup((const char *)sqlite3_column_text(st, 5));
        char *cq = cdc_sink_pg_ident_quote((const char *)sqlite3_column_text(st, 2));
        cdc_buf_printf(&ccols, "%s%s", ccols.len ? ", " : "", cq);
        cdc_buf_printf(&cond, "%sc.%s IS NOT NULL", cond.len ? " AND " : "", cq);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            char *pq = cdc_sink_pg_ident_quote((const char *)sqlite3_column_text(st, 3));
            cdc_buf_printf(&pcols, "%s%s", pcols.len ? ", " : "", pq);
            cdc_buf_printf(&join, "%sp.%s = c.%s", join.len ? " AND " : "", pq, cq);
            free(pq);
        }
        free(cq);
    }
    sqlite3_finalize(st);
    cdc_buf_free(&ccols);
    cdc_buf_free(&pcols);
    cdc_buf_free(&cond);
    cdc_buf_free(&join);
    free(parent_tbl);
    free(on_upd);
    free(on_del);
    return rc;
}

/* An integer single-column key gets an identity (or its sequence a value) past its highest
 * key, so an INSERT through PostgreSQL without a key gets a fresh one. */
int ctl_fin_set_identity(PGconn *conn, const fin_table_t *t, ctl_final_t *f, char *errstr,
                         size_t errstr_size)
{
    const char *p[1] = {t->target_q};
    PGresult *r = NULL, *m = NULL;
    char err[1024], state[6];
    int rc = 0;
    if (ctl_fin_run(
            conn,
            "SELECT quote_ident(a.attname), a.attidentity <> '', pg_get_serial_sequence($1,"
            " a.attname) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND"
            " a.attnum = i.indkey[0] WHERE i.indrelid = $1::regclass AND i.indisprimary AND"
            " i.indnatts = 1 AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)",
            1, p, &r, NULL, err, sizeof err) < 0) {
        snprintf(errstr, errstr_size, "%s: reading its key: %s", t->target, err);
        return -1;
    }
    if (PQntuples(r) == 0)
        goto out; /* no integer key: nothing to generate */
    const char *col = PQgetvalue(r, 0, 0);
    char *mx = cdc_asprintf("SELECT coalesce(max(%s), 0) + 1 FROM %s", col, t->target_q);
    if (ctl_fin_run(conn, mx, 0, NULL, &m, NULL, err, sizeof err) < 0) {
        snprintf(errstr, errstr_size, "%s: highest key: %s", t->target, err);
        rc = -1;
    } else {
        const char *next = PQgetvalue(m, 0, 0);
        char *sql;
        if (!PQgetisnull(r, 0, 2)) {
            char *seq = PQescapeLiteral(conn, PQgetvalue(r, 0, 2), strlen(PQgetvalue(r, 0, 2)));
            sql = cdc_asprintf("SELECT setval(%s, %s, false)", seq, next);
            PQfreemem(seq);
        } else {
            sql = cdc_asprintf("ALTER TABLE %s ALTER COLUMN %s ADD GENERATED BY DEFAULT AS"
                               " IDENTITY (START WITH %s)",
                               t->target_q, col, next);
        }
        int x = ctl_fin_try(conn, sql, state, err, sizeof err);
        if (x == 0) {
            ctl_fin_line(f, "%s: key %s generated BY DEFAULT AS IDENTITY, next value %s", t->target,
                         col, next);
            f->identities++;
        } else if (x == -1) {
            ctl_fin_line(f, "%s: key %s: no identity: %s", t->target, col, err);
            f->untranslated++;
        } else {
            snprintf(errstr, errstr_size, "%s", err);
            rc = -1;
        }
        free(sql);
    }
    free(mx);
    PQclear(m);
out:
    PQclear(r);
    return rc;
}
