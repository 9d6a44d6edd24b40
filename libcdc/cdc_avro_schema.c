/*
 * cdc_avro_schema: builds the schema texts laid out in cdc_avro_schema.h, and reads the
 * columns back from a row schema.
 *
 * Texts are built as jansson objects in a fixed insertion order and dumped compact with
 * JSON_PRESERVE_ORDER, so one table always yields the same bytes. Names that reach the
 * JSON as strings (original SQLite names, declared types) must be valid UTF-8, because
 * JSON text cannot carry anything else: such a name is an error that names the table.
 */
#include "cdc_avro_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdc_alloc.h"
#include "cdc_names.h"

/* Values are fixed for the life of a deployment: consumers dispatch on them. */
static const char control_json[] =
    "{\"type\":\"record\",\"name\":\"Control\",\"namespace\":\"cdc\",\"fields\":["
    "{\"name\":\"op\",\"type\":\"string\"},"
    "{\"name\":\"source\",\"type\":\"string\"},"
    "{\"name\":\"partition\",\"type\":\"int\"},"
    "{\"name\":\"epoch\",\"type\":\"long\"},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"},"
    "{\"name\":\"heartbeat\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Heartbeat\","
    "\"fields\":[{\"name\":\"acked_position\",\"type\":\"long\"},"
    "{\"name\":\"backlog_entries\",\"type\":\"long\"},"
    "{\"name\":\"oldest_unacked_age_ms\",\"type\":\"long\"}]}],\"default\":null},"
    "{\"name\":\"snapshot_end\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
    "\"SnapshotEnd\",\"fields\":[{\"name\":\"table\",\"type\":\"string\"},"
    "{\"name\":\"start_position\",\"type\":\"long\"},"
    "{\"name\":\"rows\",\"type\":\"long\"}]}],\"default\":null}]}";

static const char control_key_json[] =
    "{\"type\":\"record\",\"name\":\"ControlKey\",\"namespace\":\"cdc\",\"fields\":["
    "{\"name\":\"source\",\"type\":\"string\"},"
    "{\"name\":\"partition\",\"type\":\"int\"}]}";

const char *cdc_avro_schema_control_json(void)
{
    return control_json;
}

const char *cdc_avro_schema_control_key_json(void)
{
    return control_key_json;
}

/* The shape shared by every schema here: the fields of a record, in order. */
static json_t *new_record(const char *name, const char *ns)
{
    json_t *r = json_object();

    json_object_set_new(r, "type", json_string("record"));
    json_object_set_new(r, "name", json_string(name));
    if (ns)
        json_object_set_new(r, "namespace", json_string(ns));
    return r;
}

static void add_field(json_t *fields, const char *name, json_t *type)
{
    json_t *f = json_object();

    json_object_set_new(f, "name", json_string(name));
    json_object_set_new(f, "type", type);
    json_array_append_new(fields, f);
}

static json_t *nullable(json_t *type)
{
    return json_pack("[so]", "null", type);
}

/* The Avro type X of a kind (table in cdc_avro_schema.h). */
static json_t *kind_type(const cdc_col_type_t *t)
{
    switch (t->kind) {
    case CDC_COL_LONG:
        return json_string("long");
    case CDC_COL_DOUBLE:
        return json_string("double");
    case CDC_COL_DECIMAL:
        return json_pack("{s:s,s:s,s:i,s:i}", "type", "bytes", "logicalType", "decimal",
                         "precision", t->precision, "scale", t->scale);
    case CDC_COL_NUMERIC:
        return json_pack("{s:s,s:s}", "type", "string", "cdc.type", "numeric");
    case CDC_COL_BOOLEAN:
        return json_string("boolean");
    case CDC_COL_TIMESTAMP:
        return json_pack("{s:s,s:s}", "type", "long", "logicalType", "timestamp-micros");
    case CDC_COL_DATE:
        return json_pack("{s:s,s:s}", "type", "int", "logicalType", "date");
    case CDC_COL_TEXT:
        if (t->max_length > 0)
            return json_pack("{s:s,s:i}", "type", "string", "cdc.maxLength", t->max_length);
        return json_string("string");
    case CDC_COL_JSON:
        return json_pack("{s:s,s:s}", "type", "string", "cdc.type", "json");
    case CDC_COL_BLOB:
        return json_string("bytes");
    }
    return NULL;
}

/* Everything a schema needs about one table, checked once. */
typedef struct {
    char *ns;          /* "cdc.<mangled source>" */
    char *record;      /* mangled table name */
    char **avro_names; /* per column */
    size_t ncols;
} names_t;

static void names_free(names_t *nm)
{
    free(nm->ns);
    free(nm->record);
    for (size_t i = 0; nm->avro_names && i < nm->ncols; i++)
        free(nm->avro_names[i]);
    free(nm->avro_names);
    memset(nm, 0, sizeof(*nm));
}

static int names_prepare(names_t *nm, const char *source, const char *table,
                         const cdc_column_t *cols, size_t ncols, char *errstr, size_t errstr_size)
{
    char *src = NULL;
    int rc = -1;

    memset(nm, 0, sizeof(*nm));
    src = cdc_names_namespace(source);
    nm->ns = cdc_asprintf("cdc.%s", src);
    nm->record = cdc_names_record(table);
    nm->ncols = ncols;
    nm->avro_names = cdc_calloc(ncols ? ncols : 1, sizeof(char *));
    for (size_t i = 0; i < ncols; i++) {
        nm->avro_names[i] =
            cols[i].avro_name ? cdc_strdup(cols[i].avro_name) : cdc_names_field(cols[i].name);
        if (!cdc_names_is_valid(nm->avro_names[i])) {
            snprintf(errstr, errstr_size, "%s.%s: column \"%s\" has an invalid Avro name \"%s\"",
                     source, table, cols[i].name ? cols[i].name : "", nm->avro_names[i]);
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(nm->avro_names[i], nm->avro_names[j]) == 0) {
                snprintf(errstr, errstr_size,
                         "%s.%s: columns \"%s\" and \"%s\" both map to the Avro name \"%s\"",
                         source, table, cols[j].name ? cols[j].name : "",
                         cols[i].name ? cols[i].name : "", nm->avro_names[i]);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(src);
    if (rc != 0)
        names_free(nm);
    return rc;
}

/* A string for the JSON; NULL when s is not valid UTF-8 (jansson refuses it). */
static json_t *utf8_string(const char *s)
{
    return json_string(s ? s : "");
}

/* One column field: {"name","type"[,"default"],"cdc.name","cdc.decl"[,"cdc.pk"]}. */
static json_t *column_field(const cdc_column_t *col, const char *avro_name, int in_key)
{
    json_t *f = json_object();
    json_t *type = kind_type(&col->type);
    json_t *name = utf8_string(col->name);
    json_t *decl = utf8_string(col->decl_type);

    if (!type || !name || !decl) {
        json_decref(type);
        json_decref(name);
        json_decref(decl);
        json_decref(f);
        return NULL;
    }
    json_object_set_new(f, "name", json_string(avro_name));
    if (!in_key && !col->not_null && col->pk_index == 0) {
        json_object_set_new(f, "type", nullable(type));
        json_object_set_new(f, "default", json_null());
    } else {
        json_object_set_new(f, "type", type);
    }
    json_object_set_new(f, "cdc.name", name);
    json_object_set_new(f, "cdc.decl", decl);
    if (col->pk_index > 0)
        json_object_set_new(f, "cdc.pk", json_integer(col->pk_index));
    return f;
}

/* The row record, named nm->record + suffix (suffix NULL: none; docs/records.md
 * "Fingerprint collisions"). */
static json_t *row_record(const names_t *nm, const char *suffix, const char *source,
                          const char *table, const cdc_column_t *cols, size_t ncols, char *errstr,
                          size_t errstr_size)
{
    char *rname = cdc_asprintf("%s%s", nm->record, suffix ? suffix : "");
    json_t *r = new_record(rname, nm->ns);
    json_t *fields = json_array();
    json_t *jsrc = utf8_string(source), *jtab = utf8_string(table);

    free(rname);

    if (!jsrc || !jtab) {
        snprintf(errstr, errstr_size, "source or table name is not valid UTF-8 (table %s)",
                 nm->record);
        goto fail;
    }
    json_object_set_new(r, "cdc.source", jsrc);
    json_object_set_new(r, "cdc.table", jtab);
    jsrc = jtab = NULL;
    for (size_t i = 0; i < ncols; i++) {
        json_t *f = column_field(&cols[i], nm->avro_names[i], 0);

        if (!f) {
            snprintf(errstr, errstr_size,
                     "%s.%s: column %zu: name or declared type is not valid UTF-8", source, table,
                     i + 1);
            goto fail;
        }
        json_array_append_new(fields, f);
    }
    json_object_set_new(r, "fields", fields);
    return r;
fail:
    json_decref(jsrc);
    json_decref(jtab);
    json_decref(fields);
    json_decref(r);
    return NULL;
}

static char *dump(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *out;

    if (!text)
        return NULL;
    /* jansson allocates with its own malloc; hand out memory of our policy. */
    out = cdc_strdup(text);
    free(text);
    return out;
}

/* A row record suffix: empty or Avro name characters only, so the name stays valid. */
static int suffix_ok(const char *suffix, char *errstr, size_t errstr_size)
{
    for (const char *p = suffix ? suffix : ""; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_')) {
            snprintf(errstr, errstr_size, "row record suffix \"%s\" is not an Avro name part",
                     suffix);
            return 0;
        }
    }
    return 1;
}

char *cdc_avro_schema_row_json(const char *source, const char *table, const cdc_column_t *cols,
                               size_t ncols, char *errstr, size_t errstr_size)
{
    return cdc_avro_schema_row_json_suffixed(source, table, cols, ncols, NULL, errstr, errstr_size);
}

char *cdc_avro_schema_row_json_suffixed(const char *source, const char *table,
                                        const cdc_column_t *cols, size_t ncols,
                                        const char *row_suffix, char *errstr, size_t errstr_size)
{
    names_t nm;
    json_t *r = NULL;
    char *out = NULL;

    if (!suffix_ok(row_suffix, errstr, errstr_size) ||
        names_prepare(&nm, source, table, cols, ncols, errstr, errstr_size) != 0)
        return NULL;
    r = row_record(&nm, row_suffix, source, table, cols, ncols, errstr, errstr_size);
    if (r)
        out = dump(r);
    json_decref(r);
    names_free(&nm);
    return out;
}

char *cdc_avro_schema_key_json(const char *source, const char *table, const cdc_column_t *cols,
                               size_t ncols, char *errstr, size_t errstr_size)
{
    names_t nm;
    json_t *key = NULL, *pk = NULL, *fields = NULL, *pkfields = NULL;
    char *name = NULL, *out = NULL;
    size_t nkey = 0;

    if (names_prepare(&nm, source, table, cols, ncols, errstr, errstr_size) != 0)
        return NULL;
    for (size_t i = 0; i < ncols; i++)
        nkey += cols[i].pk_index > 0;
    if (nkey == 0) {
        snprintf(errstr, errstr_size, "%s.%s: no key column", source, table);
        goto out;
    }
    pkfields = json_array();
    /* Key order, not column order: position k holds the column with pk_index k. */
    for (size_t k = 1; k <= nkey; k++) {
        size_t found = ncols;
        json_t *f;

        for (size_t i = 0; i < ncols; i++) {
            if (cols[i].pk_index == (int)k) {
                if (found != ncols) {
                    snprintf(errstr, errstr_size, "%s.%s: two columns at key position %zu", source,
                             table, k);
                    goto out;
                }
                found = i;
            }
        }
        if (found == ncols) {
            snprintf(errstr, errstr_size, "%s.%s: no column at key position %zu (of %zu)", source,
                     table, k, nkey);
            goto out;
        }
        f = column_field(&cols[found], nm.avro_names[found], 1);
        if (!f) {
            snprintf(errstr, errstr_size, "%s.%s: key column %zu: name is not valid UTF-8", source,
                     table, k);
            goto out;
        }
        json_array_append_new(pkfields, f);
    }
    name = cdc_asprintf("%s_pk", nm.record);
    pk = new_record(name, NULL);
    json_object_set_new(pk, "fields", pkfields);
    pkfields = NULL;
    free(name);
    name = cdc_asprintf("%s_key", nm.record);
    key = new_record(name, nm.ns);
    fields = json_array();
    add_field(fields, "source", json_string("string"));
    add_field(fields, "table", json_string("string"));
    add_field(fields, "pk", pk);
    pk = NULL;
    json_object_set_new(key, "fields", fields);
    out = dump(key);
out:
    free(name);
    json_decref(pkfields);
    json_decref(pk);
    json_decref(key);
    names_free(&nm);
    return out;
}

static json_t *source_record(void)
{
    json_t *r = new_record("Source", "cdc");
    json_t *fields = json_array();
    json_t *stmt = json_object();

    add_field(fields, "name", json_string("string"));
    add_field(fields, "table", json_string("string"));
    add_field(fields, "epoch", json_string("long"));
    add_field(fields, "position", json_string("long"));
    add_field(fields, "snapshot", json_string("boolean"));
    json_object_set_new(stmt, "name", json_string("stmt_time_us"));
    json_object_set_new(stmt, "type", json_pack("[ss]", "null", "long"));
    json_object_set_new(stmt, "default", json_null());
    json_array_append_new(fields, stmt);
    json_object_set_new(r, "fields", fields);
    return r;
}

char *cdc_avro_schema_envelope_json(const char *source, const char *table, const cdc_column_t *cols,
                                    size_t ncols, char *errstr, size_t errstr_size)
{
    return cdc_avro_schema_envelope_json_suffixed(source, table, cols, ncols, NULL, errstr,
                                                  errstr_size);
}

char *cdc_avro_schema_envelope_json_suffixed(const char *source, const char *table,
                                             const cdc_column_t *cols, size_t ncols,
                                             const char *row_suffix, char *errstr,
                                             size_t errstr_size)
{
    names_t nm;
    json_t *env = NULL, *row = NULL, *fields, *f;
    char *name = NULL, *out = NULL;

    if (!suffix_ok(row_suffix, errstr, errstr_size) ||
        names_prepare(&nm, source, table, cols, ncols, errstr, errstr_size) != 0)
        return NULL;
    row = row_record(&nm, row_suffix, source, table, cols, ncols, errstr, errstr_size);
    if (!row)
        goto out;
    name = cdc_asprintf("%s_envelope", nm.record);
    env = new_record(name, nm.ns);
    fields = json_array();
    add_field(fields, "op", json_string("string"));
    f = json_object();
    json_object_set_new(f, "name", json_string("after"));
    json_object_set_new(f, "type", nullable(row));
    json_object_set_new(f, "default", json_null());
    json_array_append_new(fields, f);
    row = NULL;
    add_field(fields, "source", source_record());
    f = json_object();
    json_object_set_new(f, "name", json_string("row_hash"));
    json_object_set_new(f, "type", json_pack("[ss]", "null", "bytes"));
    json_object_set_new(f, "default", json_null());
    json_array_append_new(fields, f);
    add_field(fields, "ts_ms", json_string("long"));
    json_object_set_new(env, "fields", fields);
    out = dump(env);
out:
    free(name);
    json_decref(row);
    json_decref(env);
    names_free(&nm);
    return out;
}

static const char *str_or_empty(json_t *j)
{
    const char *s = json_string_value(j);

    return s ? s : "";
}

/* Kind of a field type X (the reverse of kind_type()); -1 when X is none of ours. */
static int parse_kind(json_t *x, cdc_col_type_t *t)
{
    const char *type, *logical, *cdctype;

    memset(t, 0, sizeof(*t));
    if (json_is_string(x)) {
        type = json_string_value(x);
        logical = cdctype = "";
    } else if (json_is_object(x) && json_is_string(json_object_get(x, "type"))) {
        type = json_string_value(json_object_get(x, "type"));
        logical = json_string_value(json_object_get(x, "logicalType"));
        cdctype = json_string_value(json_object_get(x, "cdc.type"));
        logical = logical ? logical : "";
        cdctype = cdctype ? cdctype : "";
    } else {
        return -1;
    }
    if (strcmp(type, "long") == 0 && strcmp(logical, "timestamp-micros") == 0)
        t->kind = CDC_COL_TIMESTAMP;
    else if (strcmp(type, "long") == 0)
        t->kind = CDC_COL_LONG;
    else if (strcmp(type, "double") == 0)
        t->kind = CDC_COL_DOUBLE;
    else if (strcmp(type, "boolean") == 0)
        t->kind = CDC_COL_BOOLEAN;
    else if (strcmp(type, "int") == 0 && strcmp(logical, "date") == 0)
        t->kind = CDC_COL_DATE;
    else if (strcmp(type, "bytes") == 0 && strcmp(logical, "decimal") == 0) {
        t->kind = CDC_COL_DECIMAL;
        t->precision = (int)json_integer_value(json_object_get(x, "precision"));
        t->scale = (int)json_integer_value(json_object_get(x, "scale"));
        if (t->precision < 1 || t->scale < 0 || t->scale > t->precision)
            return -1;
    } else if (strcmp(type, "bytes") == 0)
        t->kind = CDC_COL_BLOB;
    else if (strcmp(type, "string") == 0 && strcmp(cdctype, "numeric") == 0)
        t->kind = CDC_COL_NUMERIC;
    else if (strcmp(type, "string") == 0 && strcmp(cdctype, "json") == 0)
        t->kind = CDC_COL_JSON;
    else if (strcmp(type, "string") == 0) {
        t->kind = CDC_COL_TEXT;
        if (json_is_object(x))
            t->max_length = (int)json_integer_value(json_object_get(x, "cdc.maxLength"));
    } else
        return -1;
    return 0;
}

/* The row record of a row schema or of an envelope schema ("after": ["null", row]). */
static json_t *find_row_record(json_t *root)
{
    json_t *fields = json_object_get(root, "fields");
    const char *name = json_string_value(json_object_get(root, "name"));
    size_t n = strlen(name ? name : "");

    if (!json_is_array(fields))
        return NULL;
    if (n >= 9 && strcmp(name + n - 9, "_envelope") == 0) {
        for (size_t i = 0; i < json_array_size(fields); i++) {
            json_t *f = json_array_get(fields, i);
            json_t *u = json_object_get(f, "type");

            if (strcmp(str_or_empty(json_object_get(f, "name")), "after") == 0)
                return json_is_array(u) ? json_array_get(u, 1) : NULL;
        }
        return NULL;
    }
    return root;
}

int cdc_avro_schema_parse_columns(const char *json, cdc_column_t **cols_out, size_t *ncols_out,
                                  char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr), *row, *fields;
    cdc_column_t *cols = NULL;
    size_t n = 0;
    int rc = -1;

    if (!root) {
        snprintf(errstr, errstr_size, "schema is not JSON: %s", jerr.text);
        goto out;
    }
    row = find_row_record(root);
    fields = json_object_get(row, "fields");
    if (!json_is_array(fields)) {
        snprintf(errstr, errstr_size, "schema is neither a row nor an envelope record");
        goto out;
    }
    n = json_array_size(fields);
    cols = cdc_calloc(n ? n : 1, sizeof(*cols));
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(fields, i);
        json_t *type = json_object_get(f, "type");
        const char *avro_name = json_string_value(json_object_get(f, "name"));
        const char *orig = json_string_value(json_object_get(f, "cdc.name"));
        const char *decl = json_string_value(json_object_get(f, "cdc.decl"));

        if (!avro_name) {
            snprintf(errstr, errstr_size, "field %zu has no name", i + 1);
            goto out;
        }
        cols[i].avro_name = cdc_strdup(avro_name);
        cols[i].name = cdc_strdup(orig ? orig : avro_name);
        cols[i].decl_type = cdc_strdup(decl ? decl : "");
        cols[i].pk_index = (int)json_integer_value(json_object_get(f, "cdc.pk"));
        cols[i].not_null = 1;
        if (json_is_array(type) && json_array_size(type) == 2 &&
            strcmp(str_or_empty(json_array_get(type, 0)), "null") == 0) {
            cols[i].not_null = 0;
            type = json_array_get(type, 1);
        }
        if (parse_kind(type, &cols[i].type) != 0) {
            snprintf(errstr, errstr_size, "field \"%s\" has a type no column maps to", avro_name);
            goto out;
        }
    }
    *cols_out = cols;
    *ncols_out = n;
    cols = NULL;
    rc = 0;
out:
    cdc_avro_schema_columns_free(cols, n);
    json_decref(root);
    return rc;
}

void cdc_avro_schema_columns_free(cdc_column_t *cols, size_t ncols)
{
    if (!cols)
        return;
    for (size_t i = 0; i < ncols; i++) {
        free(cols[i].name);
        free(cols[i].avro_name);
        free(cols[i].decl_type);
    }
    free(cols);
}
