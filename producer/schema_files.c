/*
 * schema_files: table codecs as a run builds them, and --write-schemas (schema_files.h).
 */
#include "schema_files.h"

#include "capture_plan.h"
#include "cdc_alloc.h"
#include "cdc_avro_schema.h"
#include "cdc_hash.h"
#include "cdc_log.h"
#include "cdc_names.h"
#include "schema_index.h"
#include "sqlite_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const cdc_strlist_t *cdc_schema_config_keys(const cdc_source_t *cs, const char *table)
{
    for (size_t i = 0; i < cs->n_keys; i++)
        if (sqlite3_stricmp(cs->keys[i].table, table) == 0)
            return &cs->keys[i].columns;
    return NULL;
}

cdc_table_codec_t *cdc_schema_codec_new(const cdc_source_t *cs, const cdc_table_info_t *ti,
                                        size_t *n_cols, char *errstr, size_t errstr_size)
{
    size_t n = ti->n_columns;
    int rowid_extra = ti->key_kind == CDC_KEY_ROWID;
    cdc_column_t *cols = cdc_calloc(n + 1, sizeof *cols);
    cdc_table_codec_t *codec;

    /* Every non-key column is ["null", T] with "default": null, NOT NULL or not: a column
     * added later then always makes a BACKWARD compatible version (docs/schema-registry.md
     * "Evolution"), and a column whose NOT NULL is dropped or added later (a table rebuild)
     * keeps its field type. SQLite itself enforces NOT NULL, so no null is lost or
     * invented; the target carries only the primary key while streaming anyway. */
    for (size_t i = 0; i < n; i++) {
        cols[i] = ti->columns[i];
        cols[i].pk_index = 0;
        cols[i].not_null = 0;
    }
    for (size_t k = 0; k < ti->n_keys; k++) {
        int c = ti->key_columns[k];
        if (c >= 0) {
            cols[c].pk_index = (int)k + 1;
        } else {
            /* The rowid under the alias table_info chose, so it never shadows a column. */
            cols[n].name = (char *)(ti->rowid_alias ? ti->rowid_alias : "rowid");
            cols[n].decl_type = (char *)"INTEGER";
            cols[n].not_null = 1;
            cols[n].pk_index = (int)k + 1;
        }
    }
    *n_cols = n + (size_t)rowid_extra;
    codec =
        cdc_table_codec_new(cs->name, ti->name, cols, *n_cols, &cs->columns, errstr, errstr_size);
    free(cols);
    return codec;
}

/* Claims the codec's envelope fingerprint; on a collision without a registry, renames the
 * row record after the text's hash and claims again, once: a second collision is an error.
 * 0, or -1 (errstr). */
static int claim_fingerprint(const cdc_config_t *conf, const cdc_source_t *cs,
                             cdc_table_codec_t *codec, char *errstr, size_t errstr_size)
{
    const char *dir = conf->producer.state_dir;
    uint64_t fp = 0;
    char suffix[16];

    for (int attempt = 0; attempt < 2; attempt++) {
        const char *text = cdc_table_codec_envelope_schema(codec);

        fp = cdc_table_codec_envelope_fingerprint(codec);
        switch (cdc_schema_index_claim(dir, fp, text, errstr, errstr_size)) {
        case CDC_SCHEMA_INDEX_NEW:
        case CDC_SCHEMA_INDEX_SAME:
            return 0;
        case CDC_SCHEMA_INDEX_ERROR:
            return -1;
        case CDC_SCHEMA_INDEX_COLLISION:
            break;
        }
        if (attempt > 0)
            break;
        if (conf->registry_url != NULL) {
            cdc_log_info("source %s: table %s: the envelope text shares fingerprint %016llx "
                         "with an earlier text; records carry registry ids, so nothing is "
                         "renamed",
                         cs->name, cdc_table_codec_table(codec), (unsigned long long)fp);
            return 0;
        }
        /* Derived from the text, so every run names the same text the same way. */
        snprintf(suffix, sizeof suffix, "_v%08x",
                 (unsigned)(cdc_hash_xxh64(text, strlen(text), 0) & 0xffffffffu));
        if (cdc_table_codec_rename_row(codec, suffix, errstr, errstr_size) != 0)
            return -1;
        cdc_log_info("source %s: table %s: the envelope text shares fingerprint %016llx with "
                     "an earlier text of the table that differs only in logicalType or cdc.* "
                     "attributes; its row record is renamed with suffix %s: fingerprint %016llx",
                     cs->name, cdc_table_codec_table(codec), (unsigned long long)fp, suffix,
                     (unsigned long long)cdc_table_codec_envelope_fingerprint(codec));
    }
    snprintf(errstr, errstr_size,
             "source %s: table %s: the renamed envelope text still shares fingerprint %016llx "
             "with another text (see %s/schema-fingerprints)",
             cs->name, cdc_table_codec_table(codec), (unsigned long long)fp, dir);
    return -1;
}

cdc_table_codec_t *cdc_schema_codec_new_unique(const cdc_config_t *conf, const cdc_source_t *cs,
                                               const cdc_table_info_t *ti, size_t *n_cols,
                                               int *index_error, char *errstr, size_t errstr_size)
{
    cdc_table_codec_t *codec = cdc_schema_codec_new(cs, ti, n_cols, errstr, errstr_size);

    *index_error = 0;
    if (codec != NULL && claim_fingerprint(conf, cs, codec, errstr, errstr_size) != 0) {
        *index_error = 1;
        cdc_table_codec_destroy(codec);
        codec = NULL;
    }
    return codec;
}

/* --- files ---------------------------------------------------------------------------- */

/* A name as one path component: [A-Za-z0-9_.-] kept, anything else (and a leading '.')
 * as %XX, the rule of the producer's state files. Caller frees. */
static char *file_component(const char *name)
{
    size_t n = strlen(name);
    char *out = cdc_malloc(n * 3 + 1), *p = out;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-' || (c == '.' && i > 0))
            *p++ = (char)c;
        else
            p += sprintf(p, "%%%02X", c);
    }
    *p = '\0';
    return out;
}

static int make_dir(const char *dir, char *errstr, size_t errstr_size)
{
    char *tmp = cdc_strdup(dir);
    int rc = 0;

    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(tmp, 0777) < 0 && errno != EEXIST) {
            snprintf(errstr, errstr_size, "cannot create directory %s: %s", tmp, strerror(errno));
            rc = -1;
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(tmp);
    return rc;
}

/* Writes the text exactly, without a trailing newline: the file is what is published. */
static int write_text(const char *path, const char *text, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "wb");
    size_t len = strlen(text);
    int rc = 0;

    if (f == NULL) {
        snprintf(errstr, errstr_size, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    if (fwrite(text, 1, len, f) != len || ferror(f))
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        snprintf(errstr, errstr_size, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

int cdc_schema_files_write_control(const char *dir, char *errstr, size_t errstr_size)
{
    char *v = cdc_asprintf("%s/cdc.Control.avsc", dir);
    char *k = cdc_asprintf("%s/cdc.ControlKey.avsc", dir);
    int rc = -1;

    if (make_dir(dir, errstr, errstr_size) == 0 &&
        write_text(v, cdc_avro_schema_control_json(), errstr, errstr_size) == 0 &&
        write_text(k, cdc_avro_schema_control_key_json(), errstr, errstr_size) == 0)
        rc = 0;
    free(v);
    free(k);
    return rc < 0 ? 1 : 0;
}

/* --- one source --------------------------------------------------------------------- */

/* Opens the file read-only (never creating it) and checks it is a database. */
static sqlite3 *open_readonly(const cdc_source_t *cs, char *errstr, size_t errstr_size)
{
    sqlite3 *db = NULL;
    struct stat sb;
    int64_t sv;
    char msg[1024];

    if (stat(cs->path, &sb) < 0) {
        snprintf(errstr, errstr_size, "source %s: file %s: %s", cs->name, cs->path,
                 strerror(errno));
        return NULL;
    }
    if (sqlite3_open_v2(cs->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(errstr, errstr_size, "source %s: cannot open %s: %s", cs->name, cs->path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 1000);
    if (cdc_sqlite_schema_version(db, &sv, msg, sizeof msg) != SQLITE_OK) {
        if (sqlite3_errcode(db) == SQLITE_NOTADB)
            snprintf(errstr, errstr_size, "source %s: %s is not a SQLite database", cs->name,
                     cs->path);
        else
            snprintf(errstr, errstr_size, "source %s: %s: %s", cs->name, cs->path, msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* The plan's captured tables, refused like install refuses (a listed table missing, a
 * virtual table, colliding Avro names: config errors). */
static int plan_tables(sqlite3 *db, const cdc_source_t *cs, capture_plan_t *plan, char *errstr,
                       size_t errstr_size)
{
    const char **tables = cdc_calloc(cs->tables.count + 1, sizeof *tables);
    cdc_capture_spec_t spec = {0};
    const char **names = NULL;
    size_t n = 0, a, b;
    char msg[1024];
    int rc = 1;

    for (size_t i = 0; i < cs->tables.count; i++)
        tables[i] = cs->tables.items[i];
    spec.tables = tables;
    spec.n_tables = cs->tables.count;
    spec.keys = cs->keys;
    spec.n_keys = cs->n_keys;
    if (cdc_capture_plan_build(db, &spec, plan, msg, sizeof msg) != CDC_CAPTURE_EOK) {
        snprintf(errstr, errstr_size, "source %s (%s): %s", cs->name, cs->path, msg);
        goto out;
    }
    rc = 2;
    if (plan->refused || plan->missing) {
        snprintf(errstr, errstr_size, "source %s (%s): capture: %s", cs->name, cs->path,
                 plan->refused ? plan->refused : plan->missing);
        goto out;
    }
    names = cdc_calloc(plan->n_tables + 1, sizeof *names);
    for (size_t i = 0; i < plan->n_tables; i++)
        if (plan->tables[i].ti)
            names[n++] = plan->tables[i].name;
    if (cdc_names_find_collision(names, n, cdc_names_record, &a, &b)) {
        snprintf(errstr, errstr_size,
                 "source %s: tables \"%s\" and \"%s\" get the same Avro record name; capture "
                 "only one of them (tables: [...]) or rename one",
                 cs->name, names[a], names[b]);
        goto out;
    }
    rc = 0;
out:
    free(names);
    free(tables);
    return rc;
}

/* Writes the key and envelope schemas of one table. */
static int write_table(sqlite3 *db, const cdc_source_t *cs, const char *table, const char *dir,
                       size_t *written, char *errstr, size_t errstr_size)
{
    cdc_table_info_t *ti = NULL;
    cdc_table_codec_t *codec = NULL;
    char *base = file_component(table), *kpath = NULL, *epath = NULL;
    size_t n_cols;
    char msg[1024];
    int rc = 1;

    if (cdc_table_info_load(db, table, cdc_schema_config_keys(cs, table), &ti, msg, sizeof msg) !=
        CDC_TABLE_INFO_OK) {
        snprintf(errstr, errstr_size, "source %s: %s", cs->name, msg);
        goto out;
    }
    codec = cdc_schema_codec_new(cs, ti, &n_cols, msg, sizeof msg);
    if (codec == NULL) {
        snprintf(errstr, errstr_size, "%s", msg);
        rc = 2;
        goto out;
    }
    kpath = cdc_asprintf("%s/%s.key.avsc", dir, base);
    epath = cdc_asprintf("%s/%s.envelope.avsc", dir, base);
    if (write_text(kpath, cdc_table_codec_key_schema(codec), errstr, errstr_size) < 0 ||
        write_text(epath, cdc_table_codec_envelope_schema(codec), errstr, errstr_size) < 0)
        goto out;
    *written += 2;
    cdc_log_debug("source %s: table %s: key %016llx, envelope %016llx", cs->name, ti->name,
                  (unsigned long long)cdc_table_codec_key_fingerprint(codec),
                  (unsigned long long)cdc_table_codec_envelope_fingerprint(codec));
    rc = 0;
out:
    cdc_table_codec_destroy(codec);
    cdc_table_info_destroy(ti);
    free(base);
    free(kpath);
    free(epath);
    return rc;
}

int cdc_schema_files_write_source(const cdc_source_t *cs, const char *dir, size_t *written,
                                  char *errstr, size_t errstr_size)
{
    capture_plan_t plan = {0};
    sqlite3 *db = open_readonly(cs, errstr, errstr_size);
    char *comp = file_component(cs->name), *sdir = cdc_asprintf("%s/%s", dir, comp);
    int rc = 1;

    if (db == NULL)
        goto out;
    if ((rc = plan_tables(db, cs, &plan, errstr, errstr_size)) != 0)
        goto out;
    rc = 1;
    if (make_dir(sdir, errstr, errstr_size) < 0)
        goto out;
    for (size_t i = 0; i < plan.n_tables; i++) {
        if (plan.tables[i].ti == NULL)
            continue; /* captured before, dropped since: a run stops capturing it */
        if ((rc = write_table(db, cs, plan.tables[i].name, sdir, written, errstr, errstr_size)) !=
            0)
            goto out;
    }
    rc = 0;
out:
    cdc_capture_plan_free(&plan);
    if (db)
        sqlite3_close(db);
    free(comp);
    free(sdir);
    return rc;
}
