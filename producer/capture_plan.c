#include "capture_plan.h"

#include "cdc_alloc.h"
#include "sqlite_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct trigger_s {
    char *name, *tbl, *sql;
    int wanted; /* expected by a wanted table */
} trigger_t;

typedef struct record_s {
    char *tbl, *sql, *key_cols;
    int64_t key_since;
    int seen; /* matched by a wanted table */
} record_t;

typedef struct catalog_s {
    trigger_t *triggers;
    size_t n_triggers;
    record_t *records;
    size_t n_records;
} catalog_t;

static void catalog_free(catalog_t *c)
{
    for (size_t i = 0; i < c->n_triggers; i++) {
        free(c->triggers[i].name);
        free(c->triggers[i].tbl);
        free(c->triggers[i].sql);
    }
    for (size_t i = 0; i < c->n_records; i++) {
        free(c->records[i].tbl);
        free(c->records[i].sql);
        free(c->records[i].key_cols);
    }
    free(c->triggers);
    free(c->records);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return cdc_strdup(s ? s : "");
}

static int read_int_state(sqlite3 *db, const char *key, int64_t *out, char *errstr,
                          size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = cdc_sqlite_prepare(db, "SELECT value FROM \"_cdc_state\" WHERE \"key\"=?1", &st,
                                errstr, errstr_size);
    if (rc != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    else
        cdc_sqlite_error(db, rc, "reading _cdc_state", errstr, errstr_size);
out:
    sqlite3_finalize(st);
    return rc;
}

static int read_catalog(sqlite3 *db, capture_plan_t *plan, catalog_t *cat, char *errstr,
                        size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc;
    int e;
    if ((e = cdc_sqlite_table_exists(db, CDC_CAPTURE_STATE, errstr, errstr_size)) < 0)
        return SQLITE_ERROR;
    plan->has_state = e;
    if ((e = cdc_sqlite_table_exists(db, CDC_CAPTURE_TABLES, errstr, errstr_size)) < 0)
        return SQLITE_ERROR;
    plan->has_tables = e;
    if ((e = cdc_sqlite_table_exists(db, CDC_CAPTURE_CHANGES, errstr, errstr_size)) < 0)
        return SQLITE_ERROR;
    plan->has_changes = e;
    if (plan->has_state) {
        if ((rc = read_int_state(db, "capture_version", &plan->version, errstr, errstr_size)) !=
                SQLITE_OK ||
            (rc = read_int_state(db, "epoch", &plan->epoch, errstr, errstr_size)) != SQLITE_OK)
            return rc;
    }
    if (plan->has_changes) {
        rc = cdc_sqlite_prepare(db,
                                "SELECT count(*) FROM pragma_table_info('_cdc_changes','main') "
                                "WHERE name GLOB 'k[0-9]*'",
                                &st, errstr, errstr_size);
        if (rc != SQLITE_OK)
            goto out;
        if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
            cdc_sqlite_error(db, rc, "reading the columns of _cdc_changes", errstr, errstr_size);
            goto out;
        }
        plan->width = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        st = NULL;
    }
    rc = cdc_sqlite_prepare(db,
                            "SELECT name, tbl_name, sql FROM main.sqlite_master "
                            "WHERE type='trigger' AND name LIKE '\\_cdc\\_%' ESCAPE '\\' "
                            /* cdc-ctl freeze's triggers are not capture's: keep them */
                            "AND name NOT LIKE '\\_cdc\\_freeze\\_%' ESCAPE '\\' "
                            "ORDER BY name",
                            &st, errstr, errstr_size);
    if (rc != SQLITE_OK)
        goto out;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cat->n_triggers == cap) {
            cap = cap ? cap * 2 : 16;
            cat->triggers = cdc_realloc(cat->triggers, cap * sizeof(*cat->triggers));
        }
        trigger_t *t = &cat->triggers[cat->n_triggers++];
        t->name = col_dup(st, 0);
        t->tbl = col_dup(st, 1);
        t->sql = col_dup(st, 2);
        t->wanted = 0;
    }
    if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "listing capture triggers", errstr, errstr_size);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = SQLITE_OK;
    if (!plan->has_tables)
        goto out;
    rc = cdc_sqlite_prepare(db, "SELECT tbl, sql, key_cols, key_since FROM \"_cdc_tables\"", &st,
                            errstr, errstr_size);
    if (rc != SQLITE_OK)
        goto out;
    cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cat->n_records == cap) {
            cap = cap ? cap * 2 : 16;
            cat->records = cdc_realloc(cat->records, cap * sizeof(*cat->records));
        }
        record_t *r = &cat->records[cat->n_records++];
        r->tbl = col_dup(st, 0);
        r->sql = col_dup(st, 1);
        r->key_cols = col_dup(st, 2);
        r->key_since = sqlite3_column_int64(st, 3);
        r->seen = 0;
    }
    if (rc != SQLITE_DONE) {
        cdc_sqlite_error(db, rc, "reading _cdc_tables", errstr, errstr_size);
        goto out;
    }
    rc = SQLITE_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

static capture_plan_table_t *plan_add(capture_plan_t *plan, const char *name)
{
    if (plan->n_tables == plan->cap_tables) {
        plan->cap_tables = plan->cap_tables ? plan->cap_tables * 2 : 16;
        plan->tables = cdc_realloc(plan->tables, plan->cap_tables * sizeof(*plan->tables));
    }
    capture_plan_table_t *t = &plan->tables[plan->n_tables++];
    memset(t, 0, sizeof(*t));
    t->name = cdc_strdup(name);
    return t;
}

static capture_plan_table_t *plan_find(capture_plan_t *plan, const char *name)
{
    for (size_t i = 0; i < plan->n_tables; i++)
        if (sqlite3_stricmp(plan->tables[i].name, name) == 0)
            return &plan->tables[i];
    return NULL;
}

static record_t *record_find(catalog_t *cat, const char *name)
{
    for (size_t i = 0; i < cat->n_records; i++)
        if (sqlite3_stricmp(cat->records[i].tbl, name) == 0)
            return &cat->records[i];
    return NULL;
}

static trigger_t *trigger_find(catalog_t *cat, const char *name)
{
    for (size_t i = 0; i < cat->n_triggers; i++)
        if (strcmp(cat->triggers[i].name, name) == 0)
            return &cat->triggers[i];
    return NULL;
}

static const cdc_strlist_t *config_keys_for(const cdc_capture_spec_t *spec, const char *table)
{
    for (size_t i = 0; i < spec->n_keys; i++)
        if (sqlite3_stricmp(spec->keys[i].table, table) == 0)
            return &spec->keys[i].columns;
    return NULL;
}

static void set_status(capture_plan_table_t *t, cdc_capture_status_t status, char *detail)
{
    t->status = status;
    free(t->detail);
    t->detail = detail;
}

/* Decides the status of a wanted, capturable table from its record and triggers. */
static void judge_table(capture_plan_t *plan, capture_plan_table_t *t, record_t *rec,
                        catalog_t *cat)
{
    int missing = 0, changed = 0;
    for (int k = 0; k < CDC_TRIGGER_KINDS; k++) {
        t->trig_name[k] = cdc_capture_sql_trigger_name(t->ti->name, (cdc_trigger_kind_t)k);
        t->trig_sql[k] = cdc_capture_sql_trigger(t->ti, (cdc_trigger_kind_t)k);
        trigger_t *tr = trigger_find(cat, t->trig_name[k]);
        if (!tr) {
            missing++;
            continue;
        }
        tr->wanted = 1;
        if (strcmp(tr->sql, t->trig_sql[k]) != 0)
            changed++;
    }
    if (rec) {
        rec->seen = 1;
        t->has_record = 1;
        t->record_key_cols = cdc_strdup(rec->key_cols);
        t->record_key_since = rec->key_since;
    }
    int sql_changed = rec && strcmp(rec->sql, t->ti->sql) != 0;
    int key_changed = rec && strcmp(rec->key_cols, t->key_list) != 0;
    if (!rec || !plan->has_state) {
        set_status(t, CDC_CAPTURE_NEW_TABLE, cdc_strdup("not captured yet"));
    } else if (missing || !plan->has_changes) {
        set_status(t, CDC_CAPTURE_TRIGGERS_MISSING,
                   !plan->has_changes
                       ? cdc_strdup("the change log table _cdc_changes is missing")
                       : cdc_asprintf("%d of %d capture triggers are missing%s: changes made "
                                      "since were not logged",
                                      missing, CDC_TRIGGER_KINDS,
                                      sql_changed ? " and the table was rebuilt" : ""));
    } else if (sql_changed) {
        set_status(t, CDC_CAPTURE_SQL_CHANGED,
                   cdc_strdup("the CREATE TABLE text differs from the captured one"));
    } else if (key_changed) {
        set_status(t, CDC_CAPTURE_KEY_CHANGED,
                   cdc_asprintf("key was %s, now %s", rec->key_cols, t->key_list));
    } else if (changed || plan->version != CDC_CAPTURE_VERSION) {
        set_status(t, CDC_CAPTURE_TRIGGERS_CHANGED,
                   cdc_asprintf("%d capture trigger(s) differ from the ones this version "
                                "writes",
                                changed));
    } else {
        set_status(t, CDC_CAPTURE_OK, NULL);
    }
}

/* Adds one wanted table (listed or from "*"). */
static cdc_capture_err_t want_table(sqlite3 *db, const cdc_capture_spec_t *spec,
                                    capture_plan_t *plan, catalog_t *cat, const char *name,
                                    char *errstr, size_t errstr_size)
{
    if (plan_find(plan, name))
        return CDC_CAPTURE_EOK;
    char msg[1024];
    cdc_table_info_t *ti = NULL;
    cdc_table_info_err_t terr =
        cdc_table_info_load(db, name, config_keys_for(spec, name), &ti, msg, sizeof(msg));
    if (terr == CDC_TABLE_INFO_ESQLITE) {
        snprintf(errstr, errstr_size, "%s", msg);
        return CDC_CAPTURE_ESQLITE;
    }
    record_t *rec = record_find(cat, ti ? ti->name : name);
    capture_plan_table_t *t = plan_add(plan, ti ? ti->name : (rec ? rec->tbl : name));
    if (terr == CDC_TABLE_INFO_ENOTFOUND) {
        if (rec) {
            rec->seen = 1;
            t->has_record = 1;
            set_status(t, CDC_CAPTURE_TABLE_DROPPED,
                       cdc_strdup("captured, but the table no longer exists"));
        } else {
            set_status(t, CDC_CAPTURE_TABLE_DROPPED,
                       cdc_strdup("listed in tables: but does not exist"));
            if (!plan->missing)
                plan->missing = cdc_asprintf("%s (listed in tables:)", msg);
        }
        return CDC_CAPTURE_EOK;
    }
    if (terr == CDC_TABLE_INFO_OK && cdc_table_info_capturable(ti, msg, sizeof(msg)) != 0)
        terr = CDC_TABLE_INFO_EKEY;
    if (terr != CDC_TABLE_INFO_OK) {
        cdc_table_info_destroy(ti);
        if (rec) {
            rec->seen = 1;
            t->has_record = 1;
        }
        set_status(t, CDC_CAPTURE_REFUSED, cdc_strdup(msg));
        if (!plan->refused)
            plan->refused = cdc_asprintf("%s: %s", cdc_sqlite_path(db), msg);
        return CDC_CAPTURE_EOK;
    }
    t->ti = ti;
    t->key_list = cdc_table_info_key_list(ti);
    if ((int)ti->n_keys > plan->needed_width)
        plan->needed_width = (int)ti->n_keys;
    judge_table(plan, t, rec, cat);
    return CDC_CAPTURE_EOK;
}

static int spec_wants_all(const cdc_capture_spec_t *spec)
{
    if (!spec->tables || spec->n_tables == 0)
        return 1;
    for (size_t i = 0; i < spec->n_tables; i++)
        if (strcmp(spec->tables[i], "*") == 0)
            return 1;
    return 0;
}

static void add_stale(capture_plan_t *plan, const char *name)
{
    if (plan->n_stale == plan->cap_stale) {
        plan->cap_stale = plan->cap_stale ? plan->cap_stale * 2 : 8;
        plan->stale = cdc_realloc(plan->stale, plan->cap_stale * sizeof(char *));
    }
    plan->stale[plan->n_stale++] = cdc_strdup(name);
}

/* Records and triggers that no wanted table accounts for. */
static cdc_capture_err_t plan_leftovers(sqlite3 *db, capture_plan_t *plan, catalog_t *cat,
                                        char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < cat->n_records; i++) {
        record_t *r = &cat->records[i];
        if (r->seen)
            continue;
        int exists = cdc_sqlite_table_exists(db, r->tbl, errstr, errstr_size);
        if (exists < 0)
            return CDC_CAPTURE_ESQLITE;
        capture_plan_table_t *t = plan_add(plan, r->tbl);
        t->has_record = 1;
        if (exists)
            set_status(t, CDC_CAPTURE_NOT_CONFIGURED,
                       cdc_strdup("captured but no longer in tables:"));
        else
            set_status(t, CDC_CAPTURE_TABLE_DROPPED,
                       cdc_strdup("captured, but the table no longer exists"));
    }
    for (size_t i = 0; i < cat->n_triggers; i++) {
        trigger_t *tr = &cat->triggers[i];
        if (tr->wanted)
            continue;
        add_stale(plan, tr->name);
        capture_plan_table_t *t = plan_find(plan, tr->tbl);
        if (!t) {
            t = plan_add(plan, tr->tbl);
            set_status(t, CDC_CAPTURE_NOT_CONFIGURED,
                       cdc_strdup("carries capture triggers but is not captured (renamed?)"));
        } else if (t->status == CDC_CAPTURE_OK) {
            set_status(t, CDC_CAPTURE_TRIGGERS_CHANGED,
                       cdc_strdup("carries capture triggers of another table (renamed?)"));
        }
    }
    return CDC_CAPTURE_EOK;
}

cdc_capture_err_t cdc_capture_plan_build(sqlite3 *db, const cdc_capture_spec_t *spec,
                                         capture_plan_t *plan, char *errstr, size_t errstr_size)
{
    catalog_t cat = {0};
    char **all = NULL;
    size_t n_all = 0;
    int began = 0;
    cdc_capture_err_t err = CDC_CAPTURE_ESQLITE;
    memset(plan, 0, sizeof(*plan));
    plan->needed_width = 1;
    if (cdc_sqlite_read_begin(db, &began, errstr, errstr_size) != SQLITE_OK)
        goto out;
    if (cdc_sqlite_schema_version(db, &plan->schema_version, errstr, errstr_size) != SQLITE_OK)
        goto out;
    if (read_catalog(db, plan, &cat, errstr, errstr_size) != SQLITE_OK)
        goto out;
    if (plan->has_state && plan->version > CDC_CAPTURE_VERSION) {
        snprintf(errstr, errstr_size,
                 "%s: capture was installed by a newer version (capture_version %lld, this "
                 "producer knows %d): upgrade the producer",
                 cdc_sqlite_path(db), (long long)plan->version, CDC_CAPTURE_VERSION);
        err = CDC_CAPTURE_EVERSION;
        goto out;
    }
    if (spec_wants_all(spec)) {
        if (cdc_table_info_list(db, &all, &n_all, errstr, errstr_size) != 0)
            goto out;
        for (size_t i = 0; i < n_all; i++)
            if ((err = want_table(db, spec, plan, &cat, all[i], errstr, errstr_size)) !=
                CDC_CAPTURE_EOK)
                goto out;
    }
    for (size_t i = 0; spec->tables && i < spec->n_tables; i++) {
        if (strcmp(spec->tables[i], "*") == 0)
            continue;
        if ((err = want_table(db, spec, plan, &cat, spec->tables[i], errstr, errstr_size)) !=
            CDC_CAPTURE_EOK)
            goto out;
    }
    err = plan_leftovers(db, plan, &cat, errstr, errstr_size);
out:
    /* A read that found the file locked (rollback-journal mode, a writer committing) is
     * worth retrying, unlike a real SQLite error. */
    if (err == CDC_CAPTURE_ESQLITE && ((sqlite3_errcode(db) & 0xff) == SQLITE_BUSY ||
                                       (sqlite3_errcode(db) & 0xff) == SQLITE_LOCKED))
        err = CDC_CAPTURE_EBUSY;
    cdc_sqlite_read_end(db, began);
    cdc_table_info_free_names(all, n_all);
    catalog_free(&cat);
    return err;
}

void cdc_capture_plan_free(capture_plan_t *plan)
{
    for (size_t i = 0; i < plan->n_tables; i++) {
        capture_plan_table_t *t = &plan->tables[i];
        free(t->name);
        cdc_table_info_destroy(t->ti);
        free(t->key_list);
        for (int k = 0; k < CDC_TRIGGER_KINDS; k++) {
            free(t->trig_name[k]);
            free(t->trig_sql[k]);
        }
        free(t->detail);
        free(t->record_key_cols);
    }
    free(plan->tables);
    for (size_t i = 0; i < plan->n_stale; i++)
        free(plan->stale[i]);
    free(plan->stale);
    free(plan->refused);
    free(plan->missing);
    memset(plan, 0, sizeof(*plan));
}

int cdc_capture_plan_needs_write(const capture_plan_t *plan)
{
    if (!plan->has_state || !plan->has_tables || !plan->has_changes || plan->n_stale > 0 ||
        plan->width < plan->needed_width)
        return 1;
    for (size_t i = 0; i < plan->n_tables; i++) {
        const capture_plan_table_t *t = &plan->tables[i];
        if (cdc_capture_status_needs_install(t->status))
            return 1;
        if (t->has_record &&
            (t->status == CDC_CAPTURE_NOT_CONFIGURED || t->status == CDC_CAPTURE_TABLE_DROPPED))
            return 1;
    }
    return 0;
}
