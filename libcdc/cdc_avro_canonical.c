/*
 * cdc_avro_canonical: Parsing Canonical Form and CRC-64-AVRO (contract in the header).
 *
 * The schema JSON is parsed with jansson and written back out by one recursive walk that
 * applies the specification's transformations directly: primitives as bare names, named
 * types under their full names, only the attributes that matter for parsing, in the
 * fixed order name, type, fields, symbols, items, values, size, with no whitespace.
 * Named types are remembered so that a reference to a name never defined is refused
 * rather than fingerprinted.
 */
#include "cdc_avro_canonical.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdc_alloc.h"

#define CRC64_AVRO_EMPTY 0xc15d213aa4d7a795ULL

typedef struct {
    char *data;
    size_t len, cap;
} sbuf_t;

typedef struct {
    sbuf_t out;
    char **names; /* full names of the named types defined so far */
    size_t nnames, capnames;
    char *errstr;
    size_t errstr_size;
} canon_t;

static const char *const primitives[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

static void sb_putn(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = cdc_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

/* [STRINGS]: a JSON string with escapes only where JSON requires them, UTF-8 as is. */
static void sb_put_json_string(sbuf_t *b, const char *s)
{
    sb_putn(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];

        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            sb_putn(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            sb_puts(b, esc);
        } else {
            sb_putn(b, (const char *)p, 1);
        }
    }
    sb_putn(b, "\"", 1);
}

static int is_primitive(const char *name)
{
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
        if (strcmp(name, primitives[i]) == 0)
            return 1;
    return 0;
}

static int fail(canon_t *c, const char *fmt, const char *what)
{
    snprintf(c->errstr, c->errstr_size, fmt, what);
    return -1;
}

/* Full name of a name given in a schema: names with a dot are already full. */
static char *full_name(const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !ns[0])
        return cdc_strdup(name);
    return cdc_asprintf("%s.%s", ns, name);
}

static int is_defined(const canon_t *c, const char *full)
{
    for (size_t i = 0; i < c->nnames; i++)
        if (strcmp(c->names[i], full) == 0)
            return 1;
    return 0;
}

/* Registers a named type (before its body, so a record may refer to itself). Takes
 * ownership of full. */
static int define_name(canon_t *c, char *full)
{
    if (is_defined(c, full)) {
        fail(c, "schema defines the name \"%s\" twice", full);
        free(full);
        return -1;
    }
    if (c->nnames == c->capnames) {
        c->capnames = c->capnames ? c->capnames * 2 : 8;
        c->names = cdc_realloc(c->names, c->capnames * sizeof(*c->names));
    }
    c->names[c->nnames++] = full;
    return 0;
}

static int walk(canon_t *c, json_t *s, const char *ns);

/* A name used as a type: a primitive, or a reference to a defined named type. */
static int walk_name(canon_t *c, const char *name, const char *ns)
{
    char *full;
    int rc = -1;

    if (is_primitive(name)) {
        sb_put_json_string(&c->out, name);
        return 0;
    }
    full = full_name(name, ns);
    /* An unqualified name may also refer to a type in the null namespace. */
    if (!is_defined(c, full) && !strchr(name, '.') && is_defined(c, name)) {
        free(full);
        full = cdc_strdup(name);
    }
    if (!is_defined(c, full)) {
        fail(c, "unknown type name \"%s\"", full);
        goto out;
    }
    sb_put_json_string(&c->out, full);
    rc = 0;
out:
    free(full);
    return rc;
}

/* "name" (with "namespace") of a named type: defines it, writes "name":"<full>", and
 * returns the namespace its body sees (caller frees), or NULL on error. */
static char *walk_named_header(canon_t *c, json_t *s, const char *ns)
{
    json_t *jname = json_object_get(s, "name");
    json_t *jns = json_object_get(s, "namespace");
    const char *name, *dot;
    char *full;

    if (!json_is_string(jname)) {
        fail(c, "%s", "named type without a string \"name\"");
        return NULL;
    }
    name = json_string_value(jname);
    if (!strchr(name, '.') && json_is_string(jns))
        ns = json_string_value(jns);
    full = full_name(name, ns);
    sb_puts(&c->out, "{\"name\":");
    sb_put_json_string(&c->out, full);
    dot = strrchr(full, '.');
    if (define_name(c, full) != 0)
        return NULL;
    return dot ? cdc_strndup(full, (size_t)(dot - full)) : cdc_strdup("");
}

static int walk_record(canon_t *c, json_t *s, const char *type, const char *ns)
{
    json_t *fields = json_object_get(s, "fields");
    char *inner = NULL;
    int rc = -1;

    if (!json_is_array(fields))
        return fail(c, "%s without a \"fields\" array", type);
    inner = walk_named_header(c, s, ns);
    if (!inner)
        goto out;
    sb_puts(&c->out, ",\"type\":");
    sb_put_json_string(&c->out, type);
    sb_puts(&c->out, ",\"fields\":[");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        json_t *fname = json_object_get(f, "name");

        if (!json_is_string(fname) || !json_object_get(f, "type")) {
            fail(c, "%s field without a string \"name\" and a \"type\"", type);
            goto out;
        }
        sb_puts(&c->out, i ? ",{\"name\":" : "{\"name\":");
        sb_put_json_string(&c->out, json_string_value(fname));
        sb_puts(&c->out, ",\"type\":");
        if (walk(c, json_object_get(f, "type"), inner) != 0)
            goto out;
        sb_puts(&c->out, "}");
    }
    sb_puts(&c->out, "]}");
    rc = 0;
out:
    free(inner);
    return rc;
}

static int walk_enum(canon_t *c, json_t *s, const char *ns)
{
    json_t *symbols = json_object_get(s, "symbols");
    char *inner;

    if (!json_is_array(symbols))
        return fail(c, "%s", "enum without a \"symbols\" array");
    inner = walk_named_header(c, s, ns);
    if (!inner)
        return -1;
    free(inner);
    sb_puts(&c->out, ",\"type\":\"enum\",\"symbols\":[");
    for (size_t i = 0; i < json_array_size(symbols); i++) {
        json_t *sym = json_array_get(symbols, i);

        if (!json_is_string(sym))
            return fail(c, "%s", "enum symbol that is not a string");
        if (i)
            sb_puts(&c->out, ",");
        sb_put_json_string(&c->out, json_string_value(sym));
    }
    sb_puts(&c->out, "]}");
    return 0;
}

static int walk_fixed(canon_t *c, json_t *s, const char *ns)
{
    json_t *size = json_object_get(s, "size");
    char *inner;
    char num[32];

    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return fail(c, "%s", "fixed without a non-negative integer \"size\"");
    inner = walk_named_header(c, s, ns);
    if (!inner)
        return -1;
    free(inner);
    /* [INTEGERS]: plain decimal, no leading zeros, whatever the input looked like. */
    snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(size));
    sb_puts(&c->out, ",\"type\":\"fixed\",\"size\":");
    sb_puts(&c->out, num);
    sb_puts(&c->out, "}");
    return 0;
}

static int walk_object(canon_t *c, json_t *s, const char *ns)
{
    json_t *jtype = json_object_get(s, "type");
    const char *type;

    if (!json_is_string(jtype))
        return fail(c, "%s", "schema object without a string \"type\"");
    type = json_string_value(jtype);
    /* [PRIMITIVES] and [STRIP]: {"type":"long","logicalType":...} is just "long". */
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0)
        return walk_record(c, s, type, ns);
    if (strcmp(type, "enum") == 0)
        return walk_enum(c, s, ns);
    if (strcmp(type, "fixed") == 0)
        return walk_fixed(c, s, ns);
    if (strcmp(type, "array") == 0) {
        if (!json_object_get(s, "items"))
            return fail(c, "%s", "array without \"items\"");
        sb_puts(&c->out, "{\"type\":\"array\",\"items\":");
        if (walk(c, json_object_get(s, "items"), ns) != 0)
            return -1;
        sb_puts(&c->out, "}");
        return 0;
    }
    if (strcmp(type, "map") == 0) {
        if (!json_object_get(s, "values"))
            return fail(c, "%s", "map without \"values\"");
        sb_puts(&c->out, "{\"type\":\"map\",\"values\":");
        if (walk(c, json_object_get(s, "values"), ns) != 0)
            return -1;
        sb_puts(&c->out, "}");
        return 0;
    }
    return walk_name(c, type, ns);
}

static int walk(canon_t *c, json_t *s, const char *ns)
{
    if (json_is_string(s))
        return walk_name(c, json_string_value(s), ns);
    if (json_is_object(s))
        return walk_object(c, s, ns);
    if (json_is_array(s)) {
        sb_puts(&c->out, "[");
        for (size_t i = 0; i < json_array_size(s); i++) {
            if (i)
                sb_puts(&c->out, ",");
            if (walk(c, json_array_get(s, i), ns) != 0)
                return -1;
        }
        sb_puts(&c->out, "]");
        return 0;
    }
    return fail(c, "%s", "schema is neither a name, an object nor a union array");
}

char *cdc_avro_canonical_form(const char *json, size_t len, char *errstr, size_t errstr_size)
{
    canon_t c;
    json_error_t jerr;
    json_t *root = NULL;
    char *result = NULL;

    memset(&c, 0, sizeof(c));
    c.errstr = errstr;
    c.errstr_size = errstr_size;
    root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (!root) {
        snprintf(errstr, errstr_size, "schema is not JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        goto out;
    }
    sb_puts(&c.out, "");
    if (walk(&c, root, "") != 0)
        goto out;
    result = c.out.data;
    c.out.data = NULL;
out:
    free(c.out.data);
    for (size_t i = 0; i < c.nnames; i++)
        free(c.names[i]);
    free(c.names);
    json_decref(root);
    return result;
}

uint64_t cdc_avro_crc64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t fp = CRC64_AVRO_EMPTY;

    /* The specification's table-driven loop, one bit at a time: schemas are fingerprinted
     * once each, so a 2 KiB table buys nothing here. */
    for (size_t i = 0; i < len; i++) {
        fp ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & (0 - (fp & 1)));
    }
    return fp;
}

int cdc_avro_fingerprint(const char *json, size_t len, uint64_t *out, char *errstr,
                         size_t errstr_size)
{
    char *canonical = cdc_avro_canonical_form(json, len, errstr, errstr_size);

    if (!canonical)
        return -1;
    *out = cdc_avro_crc64(canonical, strlen(canonical));
    free(canonical);
    return 0;
}
