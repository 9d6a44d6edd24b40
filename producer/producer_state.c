/*
 * producer_state: the producer's own state file per source (see producer_state.h).
 */
#include "producer_state.h"

#include "cdc_alloc.h"
#include "cdc_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PSTATE_VERSION 1

/* Source names become file names: keep [A-Za-z0-9_.-], replace anything else by '%XX'
 * so two names never share a file. A leading '.' is escaped too (no hidden files). */
char *cdc_pstate_path(const char *state_dir, const char *source)
{
    size_t n = strlen(source);
    char *name = cdc_malloc(n * 3 + 1), *p = name, *out;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)source[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-' || (c == '.' && i > 0))
            *p++ = (char)c;
        else
            p += sprintf(p, "%%%02X", c);
    }
    *p = '\0';
    out = cdc_asprintf("%s/%s.state.json", state_dir, name);
    free(name);
    return out;
}

static int mkdir_p(const char *dir, char *errstr, size_t errstr_size)
{
    char *tmp = cdc_strdup(dir);
    int rc = 0;

    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            break; /* the final mkdir reports it */
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
        snprintf(errstr, errstr_size, "state directory %s (producer.state_dir): %s", dir,
                 strerror(errno));
        rc = -1;
    }
    free(tmp);
    return rc;
}

static char *hex_of(const unsigned char *p, size_t n)
{
    char *s = cdc_malloc(n * 2 + 1);
    cdc_hash_hex(p, n, s);
    return s;
}

static int unhex(const char *s, unsigned char **out, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *b;

    if (n % 2)
        return -1;
    b = cdc_malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            free(b);
            return -1;
        }
        b[i] = (unsigned char)v;
    }
    b[n / 2] = '\0';
    *out = b;
    *len = n / 2;
    return 0;
}

/* A typed key value as JSON: {"t":"i","v":42}, {"t":"r","v":"<16 hex digits of the
 * bits>"}, {"t":"s"|"b","v":"<hex bytes>"}, {"t":"n"}. Hex keeps text that is not UTF-8
 * (jansson refuses it) and reals exactly. */
static json_t *value_json(const cdc_value_t *v)
{
    char *hex;
    json_t *o;

    switch (v->type) {
    case CDC_VAL_INTEGER:
        return json_pack("{s:s,s:I}", "t", "i", "v", (json_int_t)v->i);
    case CDC_VAL_REAL: {
        uint64_t bits;
        char buf[17];
        memcpy(&bits, &v->r, sizeof bits);
        snprintf(buf, sizeof buf, "%016llx", (unsigned long long)bits);
        return json_pack("{s:s,s:s}", "t", "r", "v", buf);
    }
    case CDC_VAL_TEXT:
    case CDC_VAL_BLOB:
        hex = hex_of(v->p, v->len);
        o = json_pack("{s:s,s:s}", "t", v->type == CDC_VAL_TEXT ? "s" : "b", "v", hex);
        free(hex);
        return o;
    default:
        return json_pack("{s:s}", "t", "n");
    }
}

/* Parses a key array into k (owned copies). */
static int key_from_json(json_t *arr, cdc_key_t *k)
{
    size_t n = json_array_size(arr);
    cdc_value_t *vals = cdc_calloc(n ? n : 1, sizeof *vals);
    unsigned char **bytes = cdc_calloc(n ? n : 1, sizeof *bytes);
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i), *v = json_object_get(o, "v");
        const char *t = json_string_value(json_object_get(o, "t"));
        if (t == NULL)
            goto out;
        if (strcmp(t, "i") == 0 && json_is_integer(v)) {
            vals[i].type = CDC_VAL_INTEGER;
            vals[i].i = json_integer_value(v);
        } else if (strcmp(t, "r") == 0 && json_is_string(v)) {
            unsigned long long bits;
            if (sscanf(json_string_value(v), "%16llx", &bits) != 1)
                goto out;
            uint64_t b64 = bits;
            vals[i].type = CDC_VAL_REAL;
            memcpy(&vals[i].r, &b64, sizeof b64);
        } else if ((strcmp(t, "s") == 0 || strcmp(t, "b") == 0) && json_is_string(v)) {
            if (unhex(json_string_value(v), &bytes[i], &vals[i].len) < 0)
                goto out;
            vals[i].type = t[0] == 's' ? CDC_VAL_TEXT : CDC_VAL_BLOB;
            vals[i].p = bytes[i];
        } else if (strcmp(t, "n") == 0) {
            vals[i].type = CDC_VAL_NULL;
        } else {
            goto out;
        }
    }
    cdc_key_copy(k, vals, n);
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(bytes[i]);
    free(bytes);
    free(vals);
    return rc;
}

static int parse(cdc_pstate_t *st, json_t *root, char *errstr, size_t errstr_size)
{
    json_t *acked = json_object_get(root, "acked"), *tables = json_object_get(root, "tables");
    const char *name;
    json_t *t;

    if (json_integer_value(json_object_get(root, "version")) != PSTATE_VERSION ||
        !json_is_object(acked) || !json_is_object(tables)) {
        snprintf(errstr, errstr_size, "state file %s: not a version %d producer state", st->path,
                 PSTATE_VERSION);
        return -1;
    }
    st->acked.epoch = json_integer_value(json_object_get(acked, "epoch"));
    st->acked.h = json_integer_value(json_object_get(acked, "seq"));
    json_object_foreach(tables, name, t)
    {
        cdc_pstate_table_t *e = cdc_pstate_table(st, name, 1);
        e->epoch = json_integer_value(json_object_get(t, "epoch"));
        e->h0 = json_integer_value(json_object_get(t, "h0"));
        e->started = json_is_true(json_object_get(t, "started"));
        e->done = json_is_true(json_object_get(t, "done"));
        e->rows = json_integer_value(json_object_get(t, "rows"));
        if (key_from_json(json_object_get(t, "last_key"), &e->last_key) < 0) {
            snprintf(errstr, errstr_size, "state file %s: table %s: malformed last_key", st->path,
                     name);
            return -1;
        }
    }
    return 0;
}

cdc_pstate_t *cdc_pstate_load(const char *state_dir, const char *source, char *errstr,
                              size_t errstr_size)
{
    cdc_pstate_t *st = cdc_calloc(1, sizeof *st);
    json_t *root = NULL;
    json_error_t jerr;

    st->source = cdc_strdup(source);
    st->path = cdc_pstate_path(state_dir, source);
    if (mkdir_p(state_dir, errstr, errstr_size) < 0)
        goto fail;
    if (access(st->path, F_OK) < 0 && errno == ENOENT)
        return st;
    root = json_load_file(st->path, 0, &jerr);
    if (root == NULL) {
        snprintf(errstr, errstr_size,
                 "state file %s: %s (line %d); it is written atomically, "
                 "so this is not a torn write: restore it or remove it to start over",
                 st->path, jerr.text, jerr.line);
        goto fail;
    }
    if (parse(st, root, errstr, errstr_size) < 0)
        goto fail;
    json_decref(root);
    return st;
fail:
    json_decref(root);
    cdc_pstate_destroy(st);
    return NULL;
}

void cdc_pstate_destroy(cdc_pstate_t *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n_tables; i++) {
        free(st->tables[i].table);
        cdc_key_clear(&st->tables[i].last_key);
    }
    free(st->tables);
    free(st->path);
    free(st->source);
    free(st);
}

static json_t *to_json(const cdc_pstate_t *st)
{
    json_t *tables = json_object();

    for (size_t i = 0; i < st->n_tables; i++) {
        const cdc_pstate_table_t *e = &st->tables[i];
        json_t *key = json_array();
        for (size_t k = 0; k < e->last_key.n; k++)
            json_array_append_new(key, value_json(&e->last_key.values[k]));
        json_object_set_new(tables, e->table,
                            json_pack("{s:I,s:I,s:b,s:b,s:I,s:o}", "epoch", (json_int_t)e->epoch,
                                      "h0", (json_int_t)e->h0, "started", e->started, "done",
                                      e->done, "rows", (json_int_t)e->rows, "last_key", key));
    }
    return json_pack("{s:i,s:s,s:{s:I,s:I},s:o}", "version", PSTATE_VERSION, "source", st->source,
                     "acked", "epoch", (json_int_t)st->acked.epoch, "seq", (json_int_t)st->acked.h,
                     "tables", tables);
}

int cdc_pstate_save(const cdc_pstate_t *st, char *errstr, size_t errstr_size)
{
    json_t *root = to_json(st);
    char *text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(1));
    char *tmp = cdc_asprintf("%s.tmp", st->path);
    char *dir = cdc_strdup(st->path), *slash = strrchr(dir, '/');
    size_t len = strlen(text), off = 0;
    int fd = -1, dfd = -1, rc = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto err;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto err;
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        goto err;
    }
    fd = -1;
    if (rename(tmp, st->path) < 0)
        goto err;
    if (slash)
        *slash = '\0';
    dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd); /* best effort: some filesystems refuse fsync on directories */
    rc = 0;
    goto out;
err:
    snprintf(errstr, errstr_size, "state file %s: %s", st->path, strerror(errno));
    unlink(tmp);
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    free(dir);
    free(tmp);
    free(text);
    json_decref(root);
    return rc;
}

cdc_pstate_table_t *cdc_pstate_table(cdc_pstate_t *st, const char *table, int create)
{
    cdc_pstate_table_t *e;

    for (size_t i = 0; i < st->n_tables; i++)
        if (strcmp(st->tables[i].table, table) == 0)
            return &st->tables[i];
    if (!create)
        return NULL;
    st->tables = cdc_realloc(st->tables, (st->n_tables + 1) * sizeof *st->tables);
    e = &st->tables[st->n_tables++];
    memset(e, 0, sizeof *e);
    e->table = cdc_strdup(table);
    return e;
}

void cdc_pstate_remove_table(cdc_pstate_t *st, const char *table)
{
    for (size_t i = 0; i < st->n_tables; i++) {
        if (strcmp(st->tables[i].table, table) != 0)
            continue;
        free(st->tables[i].table);
        cdc_key_clear(&st->tables[i].last_key);
        memmove(&st->tables[i], &st->tables[i + 1], (st->n_tables - i - 1) * sizeof *st->tables);
        st->n_tables--;
        return;
    }
}

void cdc_pstate_table_restart(cdc_pstate_table_t *t)
{
    t->epoch = 0;
    t->h0 = 0;
    t->started = 0;
    t->done = 0;
    t->rows = 0;
    cdc_key_clear(&t->last_key);
}

int cdc_pstate_lock(const char *state_dir, char *errstr, size_t errstr_size)
{
    char *path = cdc_asprintf("%s/producer.lock", state_dir);
    int fd = -1;

    if (mkdir_p(state_dir, errstr, errstr_size) < 0)
        goto out;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "lock file %s: %s", path, strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(errstr, errstr_size,
                 "%s: another cdc-producer runs with state directory %s (producer.state_dir)%s",
                 path, state_dir, errno == EWOULDBLOCK ? "" : strerror(errno));
        close(fd);
        fd = -1;
    }
out:
    free(path);
    return fd;
}
