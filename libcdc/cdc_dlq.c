#include "cdc_dlq.h"

#include "cdc_alloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding; caller frees. */
static char *base64(const unsigned char *p, size_t n)
{
    char *out = cdc_malloc(4 * ((n + 2) / 3) + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = b64[(v >> 18) & 63];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static void set_str(json_t *obj, const char *name, const char *value)
{
    if (value)
        json_object_set_new(obj, name, json_stringn_nocheck(value, strlen(value)));
}

char *cdc_dlq_value_json(const cdc_dlq_info_t *in)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(1));
    set_str(o, "stage", in->stage);
    set_str(o, "source", in->source);
    set_str(o, "table", in->table);
    if (in->key_json) {
        json_t *k = json_loads(in->key_json, JSON_DECODE_ANY, NULL);
        /* a key that is not valid JSON is still kept, as text */
        json_object_set_new(o, "key", k ? k : json_string(in->key_json));
    }
    set_str(o, "column", in->column);
    set_str(o, "reason", in->reason);
    if (in->has_position)
        json_object_set_new(o, "position",
                            json_pack("{s:I,s:I}", "epoch", (json_int_t)in->position.epoch, "h",
                                      (json_int_t)in->position.h));
    if (in->origin_topic)
        json_object_set_new(o, "origin",
                            json_pack("{s:s,s:i,s:I}", "topic", in->origin_topic, "partition",
                                      (int)in->origin_partition, "offset",
                                      (json_int_t)in->origin_offset));
    if (in->payload) {
        char *enc = base64(in->payload, in->payload_len);
        json_object_set_new(o, "payload_base64", json_string(enc));
        free(enc);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    char *copy = cdc_strdup(text); /* one allocation policy: callers free() our strings */
    free(text);
    return copy;
}

static void add_header(rd_kafka_headers_t *h, const char *name, const char *value)
{
    if (value)
        rd_kafka_header_add(h, name, -1, value, -1);
}

rd_kafka_headers_t *cdc_dlq_headers(const cdc_dlq_info_t *in)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    add_header(h, "cdc.stage", in->stage);
    add_header(h, "cdc.source", in->source);
    add_header(h, "cdc.table", in->table);
    add_header(h, "cdc.column", in->column);
    add_header(h, "cdc.reason", in->reason);
    if (in->has_position) {
        char pos[48];
        snprintf(pos, sizeof(pos), "%lld:%lld", (long long)in->position.epoch,
                 (long long)in->position.h);
        add_header(h, "cdc.position", pos);
    }
    return h;
}
