/*
 * ctl_finalize_schema: the per-table part of the cutover's target finalisation
 * (ctl_finalize_int.h): what the source schema declares for one table, translated for
 * PostgreSQL: NOT NULL and DEFAULT of its columns, its UNIQUE and secondary indexes, its
 * CHECK constraints. Each addition runs under a savepoint (ctl_fin_try), so what
 * PostgreSQL refuses is reported as untranslated rather than failing the cutover.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cdc_alloc.h"
#include "cdc_log.h"
#include "ctl.h"
#include "ctl_cutover.h"
#include "ctl_finalize_int.h"
#include "sink_pg.h"

/* The CHECK (...) expressions of a CREATE TABLE text, outside strings and comments. */
static size_t parse_checks(const char *sql, char ***out)
{
    size_t n = 0;
    const char *s = sql;
    *out = NULL;
    while (*s) {
        if (*s == '\'' || *s == '"' || *s == '`' || *s == '[') {
            char close = *s == '[' ? ']' : *s;
            for (s++; *s && *s != close; s++)
                ;
            if (*s)
                s++;
            continue;
        }
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
            continue;
        }
        if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            s = e ? e + 2 : s + strlen(s);
            continue;
        }
        int word_start = s == sql || !(s[-1] == '_' || (s[-1] >= '0' && s[-1] <= '9') ||
                                       ((s[-1] | 32) >= 'a' && (s[-1] | 32) <= 'z'));
        if (word_start && strncasecmp(s, "check", 5) == 0) {
            const char *p = s + 5;
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
            if (*p == '(') {
                const char *start = p + 1;
                int depth = 1;
                for (p++; *p && depth > 0; p++) {
                    if (*p == '\'') {
                        for (p++; *p && *p != '\''; p++)
                            ;
                        if (!*p)
                            break;
                    } else if (*p == '(') {
                        depth++;
                    } else if (*p == ')') {
                        depth--;
                    }
                }
                if (depth == 0) {
                    *out = cdc_realloc(*out, (n + 1) * sizeof **out);
                    (*out)[n++] = cdc_asprintf("%.*s", (int)(p - 1 - start), start);
                }
                s = *p ? p : p;
                continue;
            }
        }
        s++;
    }
    return n;
}

/* UNIQUE and secondary indexes of t from PRAGMA index_list / index_xinfo. */
int ctl_fin_add_indexes(sqlite3 *db, PGconn *conn, const fin_table_t *t, ctl_final_t *f,
                        char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL, *xi = NULL;
    char state[6], err[1024];
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT cid, name, desc FROM pragma_index_xinfo(?1) WHERE key = 1"
                           " ORDER BY seqno",
                           -1, &xi, NULL) != SQLITE_OK) {
        snprintf(errstr, errstr_size, "table %s: reading its indexes: %s", t->tbl,
                 sqlite3_errmsg(db));
        rc = -1;
        goto out;
    }
    sqlite3_bind_text(st, 1, t->tbl, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int unique = sqlite3_column_int(st, 1);
        const char *origin = (const char *)sqlite3_column_text(st, 2);
        if (strcmp(origin, "pk") == 0)
            continue; /* the target's primary key already */
        if (sqlite3_column_int(st, 3)) {
            ctl_fin_line(
                f, "%s: index %s not translated: partial index (its WHERE clause is SQLite's)",
                t->target, name);
            f->untranslated++;
            continue;
        }
        cdc_buf_t cols = CDC_BUF_INIT;
        int expr = 0;
        sqlite3_reset(xi);
        sqlite3_bind_text(xi, 1, name, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(xi) == SQLITE_ROW) {
            if (sqlite3_column_int(xi, 0) < 0) {
                expr = 1;
                continue;
            }
            char *q = cdc_sink_pg_ident_quote((const char *)sqlite3_column_text(xi, 1));
            cdc_buf_printf(&cols, "%s%s%s", cols.len ? ", " : "", q,
                           sqlite3_column_int(xi, 2) ? " DESC" : "");
            free(q);
        }
        if (expr || cols.len == 0) {
            ctl_fin_line(f, "%s: index %s not translated: it indexes an expression or the rowid",
                         t->target, name);
            f->untranslated++;
            cdc_buf_free(&cols);
            continue;
        }
        char *auto_suffix = strncmp(name, "sqlite_autoindex_", 17) == 0
                                ? cdc_asprintf("unique_%s", strrchr(name, '_') + 1)
                                : NULL;
        char *iname = ctl_fin_object_name(t->target, auto_suffix ? auto_suffix : name);
        free(auto_suffix);
        char *sql = cdc_asprintf("CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)",
                                 unique ? "UNIQUE " : "", iname, t->target_q, cdc_buf_cstr(&cols));
        int r = ctl_fin_try(conn, sql, state, err, sizeof err);
        if (r == 0) {
            ctl_fin_line(f, "%s: %s index %s (%s)", t->target, unique ? "UNIQUE" : "secondary",
                         iname, cdc_buf_cstr(&cols));
            if (unique)
                f->uniques++;
            else
                f->indexes++;
        } else if (r == -1) {
            ctl_fin_line(f, "%s: %s index %s (%s) NOT created: %s", t->target,
                         unique ? "UNIQUE" : "", name, cdc_buf_cstr(&cols), err);
            f->untranslated++;
        }
        free(sql);
        free(iname);
        cdc_buf_free(&cols);
        if (r == -2) {
            snprintf(errstr, errstr_size, "%s", err);
            rc = -1;
            goto out;
        }
    }
out:
    sqlite3_finalize(st);
    sqlite3_finalize(xi);
    return rc;
}

/* NOT NULL and DEFAULT of t's columns (PRAGMA table_info). A NOT NULL that existing rows
 * violate becomes a CHECK (c IS NOT NULL) NOT VALID, with the rows counted. */
int ctl_fin_add_columns(sqlite3 *db, PGconn *conn, const fin_table_t *t, ctl_final_t *f,
                        char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    char state[6], err[1024];
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(errstr, errstr_size, "table %s: %s", t->tbl, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, t->tbl, -1, SQLITE_TRANSIENT);
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        char *col = cdc_sink_pg_ident_quote((const char *)sqlite3_column_text(st, 0));
        const char *dflt = (const char *)sqlite3_column_text(st, 2);
        int r = 0;
        if (sqlite3_column_int(st, 1) && sqlite3_column_int(st, 3) == 0) {
            char *sql =
                cdc_asprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", t->target_q, col);
            r = ctl_fin_try(conn, sql, state, err, sizeof err);
            if (r == 0) {
                f->not_nulls++;
            } else if (r == -1) {
                char suffix[80];
                snprintf(suffix, sizeof suffix, "%s_not_null",
                         (const char *)sqlite3_column_text(st, 0));
                char *cname = ctl_fin_object_name(t->target, suffix);
                char *sql2 = cdc_asprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL)"
                                          " NOT VALID",
                                          t->target_q, cname, col);
                r = ctl_fin_try(conn, sql2, state, err, sizeof err);
                if (r == 0) {
                    ctl_fin_line(
                        f,
                        "%s: %s NOT NULL added as CHECK NOT VALID: existing rows hold NULL (kept)",
                        t->target, col);
                    f->checks_invalid++;
                } else if (r == -1) {
                    ctl_fin_line(f, "%s: %s NOT NULL not translated: %s", t->target, col, err);
                    f->untranslated++;
                    r = 0;
                }
                free(sql2);
                free(cname);
            }
            free(sql);
        }
        if (r == 0 && dflt != NULL) {
            char *sql = cdc_asprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", t->target_q,
                                     col, dflt);
            r = ctl_fin_try(conn, sql, state, err, sizeof err);
            if (r == -1 && strcmp(state, "42804") == 0 && strstr(err, "boolean") != NULL) {
                /* SQLite's 0/1 for a boolean column */
                free(sql);
                sql = cdc_asprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT CAST((%s) AS"
                                   " integer)::boolean",
                                   t->target_q, col, dflt);
                r = ctl_fin_try(conn, sql, state, err, sizeof err);
            }
            if (r == 0) {
                f->defaults++;
            } else if (r == -1) {
                ctl_fin_line(f, "%s: %s DEFAULT %s not translated: %s", t->target, col, dflt, err);
                f->untranslated++;
                r = 0;
            }
            free(sql);
        }
        if (r == -2) {
            snprintf(errstr, errstr_size, "%s", err);
            rc = -1;
        }
        free(col);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        ctl_fin_line(f, "%s: NOT NULL and DEFAULT of its columns as declared in the source",
                     t->target);
    return rc;
}

/* CHECK constraints of t's CREATE TABLE text. */
int ctl_fin_add_checks(sqlite3 *db, PGconn *conn, const fin_table_t *t, ctl_final_t *f,
                       char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    char **exprs = NULL;
    size_t n = 0;
    char state[6], err[1024];
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(errstr, errstr_size, "table %s: %s", t->tbl, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, t->tbl, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        n = parse_checks((const char *)sqlite3_column_text(st, 0), &exprs);
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, "src_check_%zu", i + 1);
        char *cname = ctl_fin_object_name(t->target, suffix);
        char *sql = cdc_asprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s)", t->target_q, cname,
                                 exprs[i]);
        int r = ctl_fin_try(conn, sql, state, err, sizeof err);
        if (r == 0) {
            ctl_fin_line(f, "%s: CHECK (%s)", t->target, exprs[i]);
            f->checks++;
        } else if (r == -1 && strcmp(state, "23514") == 0) {
            /* Existing rows violate it: enforce it for new writes, report the rows. */
            char *sql2 = cdc_asprintf("%s NOT VALID", sql);
            char *cnt =
                cdc_asprintf("SELECT count(*) FROM %s WHERE NOT (%s)", t->target_q, exprs[i]);
            PGresult *res = NULL;
            r = ctl_fin_try(conn, sql2, state, err, sizeof err);
            if (r == 0 && ctl_fin_run(conn, cnt, 0, NULL, &res, NULL, err, sizeof err) == 0) {
                ctl_fin_line(f,
                             "%s: CHECK (%s) added NOT VALID: %s existing row(s) violate it (kept)",
                             t->target, exprs[i], PQgetvalue(res, 0, 0));
                f->checks_invalid++;
                PQclear(res);
            } else if (r == -1) {
                ctl_fin_line(f, "%s: CHECK (%s) not translated: %s", t->target, exprs[i], err);
                f->untranslated++;
            }
            free(cnt);
            free(sql2);
        } else if (r == -1) {
            ctl_fin_line(f, "%s: CHECK (%s) not translated: %s", t->target, exprs[i], err);
            f->untranslated++;
        }
        if (r == -2) {
            snprintf(errstr, errstr_size, "%s", err);
            rc = -1;
        }
        free(sql);
        free(cname);
    }
    for (size_t i = 0; i < n; i++)
        free(exprs[i]);
    free(exprs);
    return rc;
}
