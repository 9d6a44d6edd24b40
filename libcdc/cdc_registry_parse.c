/*
 * cdc_registry_parse: request and response bodies of the Confluent Schema Registry REST
 * API (see cdc_registry_parse.h). Pure: jansson in, strings out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_registry.h"
#include "cdc_registry_parse.h"

char *cdc_registry_body_schema(const char *schema_json, char *errstr, size_t errstr_size)
{
    json_t *obj = NULL, *str;
    char *dumped = NULL, *out = NULL;

    /* json_stringn validates UTF-8 and keeps every byte of the text: the registry gets
     * exactly what we generated, escaped only as a JSON string must be. */
    str = json_stringn(schema_json, strlen(schema_json));
    if (str == NULL) {
        snprintf(errstr, errstr_size, "schema text is not valid UTF-8");
        goto out;
    }
    obj = json_object();
    json_object_set_new(obj, "schema", str);
    dumped = json_dumps(obj, JSON_COMPACT);
    if (dumped == NULL) {
        snprintf(errstr, errstr_size, "cannot serialize the request body");
        goto out;
    }
    out = cdc_strdup(dumped); /* cdc allocation policy: one allocator for the caller */
out:
    free(dumped);
    json_decref(obj);
    return out;
}

char *cdc_registry_body_level(const char *level)
{
    json_t *obj = json_pack("{s:s}", "compatibility", level);
    char *dumped = json_dumps(obj, JSON_COMPACT);
    char *out = cdc_strdup(dumped != NULL ? dumped : "{}");

    free(dumped);
    json_decref(obj);
    return out;
}

char *cdc_registry_path_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    cdc_buf_t b;
    const unsigned char *p;
    char *out;

    cdc_buf_init(&b);
    for (p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            cdc_buf_put_byte(&b, *p);
        } else {
            cdc_buf_put_byte(&b, '%');
            cdc_buf_put_byte(&b, (unsigned char)hex[*p >> 4]);
            cdc_buf_put_byte(&b, (unsigned char)hex[*p & 15]);
        }
    }
    out = cdc_strdup(cdc_buf_cstr(&b));
    cdc_buf_free(&b);
    return out;
}

static json_t *load_object(const char *body, size_t len, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);

    if (root == NULL) {
        snprintf(errstr, errstr_size, "answer is not JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(errstr, errstr_size, "answer is not a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

void cdc_registry_parse_error(const char *body, size_t len, int *error_code, char *msg,
                              size_t msg_size)
{
    json_t *root = json_loadb(body != NULL ? body : "", body != NULL ? len : 0, 0, NULL);
    const char *m = NULL;
    size_t i, n;

    *error_code = 0;
    if (msg_size > 0)
        msg[0] = '\0';
    if (json_is_object(root)) {
        json_t *code = json_object_get(root, "error_code");
        if (json_is_integer(code))
            *error_code = (int)json_integer_value(code);
        m = json_string_value(json_object_get(root, "message"));
        if (m != NULL)
            snprintf(msg, msg_size, "%s", m);
    } else if (body != NULL && msg_size > 0) {
        /* Not JSON (a proxy's HTML page): show its first bytes, one line, printable. */
        n = len < msg_size - 1 ? len : msg_size - 1;
        if (n > 200)
            n = 200;
        for (i = 0; i < n; i++)
            msg[i] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
        msg[n] = '\0';
    }
    json_decref(root);
}

int cdc_registry_parse_id(const char *body, size_t len, uint32_t *id, int *version, char *errstr,
                          size_t errstr_size)
{
    json_t *root = load_object(body, len, errstr, errstr_size);
    json_t *jid, *jver;
    json_int_t v;
    int rc = -1;

    if (root == NULL)
        goto out;
    jid = json_object_get(root, "id");
    if (!json_is_integer(jid)) {
        snprintf(errstr, errstr_size, "answer has no integer \"id\"");
        goto out;
    }
    v = json_integer_value(jid);
    /* Confluent ids are Java ints; the wire carries 4 bytes. Zero and negatives are never
     * handed out. */
    if (v <= 0 || v > (json_int_t)INT32_MAX) {
        snprintf(errstr, errstr_size, "answer has an out-of-range id %lld", (long long)v);
        goto out;
    }
    *id = (uint32_t)v;
    if (version != NULL) {
        jver = json_object_get(root, "version");
        *version = json_is_integer(jver) ? (int)json_integer_value(jver) : 0;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

char *cdc_registry_parse_schema(const char *body, size_t len, char *errstr, size_t errstr_size)
{
    json_t *root = load_object(body, len, errstr, errstr_size);
    json_t *js;
    char *out = NULL;

    if (root == NULL)
        goto out;
    js = json_object_get(root, "schema");
    if (!json_is_string(js)) {
        snprintf(errstr, errstr_size, "answer has no string \"schema\"");
        goto out;
    }
    /* A schema of type AVRO has no "schemaType" or "schemaType":"AVRO". */
    if (json_object_get(root, "schemaType") != NULL &&
        (json_string_value(json_object_get(root, "schemaType")) == NULL ||
         strcmp(json_string_value(json_object_get(root, "schemaType")), "AVRO") != 0)) {
        snprintf(errstr, errstr_size, "schema is not Avro (schemaType %s)",
                 json_string_value(json_object_get(root, "schemaType")) != NULL
                     ? json_string_value(json_object_get(root, "schemaType"))
                     : "?");
        goto out;
    }
    out = cdc_strndup(json_string_value(js), json_string_length(js));
out:
    json_decref(root);
    return out;
}

int cdc_registry_parse_compat(const char *body, size_t len, int *compatible, char *messages,
                              size_t messages_size, char *errstr, size_t errstr_size)
{
    json_t *root = load_object(body, len, errstr, errstr_size);
    json_t *jc, *jm, *item;
    cdc_buf_t b;
    size_t i;
    int rc = -1;

    cdc_buf_init(&b);
    if (messages_size > 0)
        messages[0] = '\0';
    if (root == NULL)
        goto out;
    jc = json_object_get(root, "is_compatible");
    if (!json_is_boolean(jc)) {
        snprintf(errstr, errstr_size, "answer has no boolean \"is_compatible\"");
        goto out;
    }
    *compatible = json_is_true(jc);
    jm = json_object_get(root, "messages");
    json_array_foreach(jm, i, item)
    {
        const char *s = json_string_value(item);
        char *dumped = NULL;

        if (s == NULL) /* some versions send objects: show them as JSON */
            s = dumped = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
        if (b.len > 0)
            cdc_buf_put_str(&b, "; ");
        cdc_buf_put_str(&b, s != NULL ? s : "?");
        free(dumped);
    }
    snprintf(messages, messages_size, "%s", cdc_buf_cstr(&b));
    rc = 0;
out:
    cdc_buf_free(&b);
    json_decref(root);
    return rc;
}

int cdc_registry_parse_level(const char *body, size_t len, char *level, size_t level_size,
                             char *errstr, size_t errstr_size)
{
    json_t *root = load_object(body, len, errstr, errstr_size);
    const char *s;
    int rc = -1;

    if (root == NULL)
        goto out;
    s = json_string_value(json_object_get(root, "compatibilityLevel"));
    if (s == NULL)
        s = json_string_value(json_object_get(root, "compatibility"));
    if (s == NULL) {
        snprintf(errstr, errstr_size, "answer has no \"compatibilityLevel\"");
        goto out;
    }
    if (!cdc_registry_level_valid(s)) {
        snprintf(errstr, errstr_size, "answer has an unknown compatibility level \"%s\"", s);
        goto out;
    }
    if ((size_t)snprintf(level, level_size, "%s", s) >= level_size) {
        snprintf(errstr, errstr_size, "level buffer too small for \"%s\"", s);
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}
