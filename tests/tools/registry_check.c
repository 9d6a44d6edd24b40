/*
 * registry_check: drives libcdc's schema registry client (cdc_registry.h) against the
 * stand-in (tests/registry_standin/registry_standin.py), for
 * tests/integration/registry_client.test.sh.
 *
 *   registry_check client URL              register, cache, by-id, lookup, compatibility,
 *                                          409, 404, 422, levels, 5xx and dropped
 *                                          connections then success, giving up, refused
 *   registry_check auth URL USER PASSWORD  the stand-in requires basic auth
 *   registry_check encode URL OUTDIR       encodes rows with the producer's table codec in
 *                                          the Confluent framing, with ids registered under
 *                                          topic-record-name subjects, for python3-avro
 *
 * The schemas are the producer's own (cdc_table_codec_*_schema), so the registry sees the
 * exact texts the pipeline will send. HTTP requests are counted on the stand-in
 * (GET /_stats), independently of the client's own counters.
 * Exit codes: 0 every check passed, 1 a check failed, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_framing.h"
#include "cdc_murmur2.h"
#include "cdc_registry.h"
#include "record.h"

#include "../unit/test_values.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, "registry_check: " __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

/* ---- the stand-in's test controls, over plain libcurl ---- */

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    cdc_buf_put((cdc_buf_t *)ud, p, size * n);
    return size * n;
}

static json_t *control(const char *url, const char *path, const char *post_body)
{
    CURL *c = curl_easy_init();
    cdc_buf_t b = CDC_BUF_INIT;
    char *full = cdc_asprintf("%s%s", url, path);
    json_t *doc;

    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (post_body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
    if (curl_easy_perform(c) != CURLE_OK)
        DIE("stand-in control %s failed", full);
    doc = json_loadb((const char *)b.data, b.len, 0, NULL);
    if (doc == NULL)
        DIE("stand-in control %s: not JSON", full);
    curl_easy_cleanup(c);
    cdc_buf_free(&b);
    free(full);
    return doc;
}

static long standin_requests(const char *url)
{
    json_t *doc = control(url, "/_stats", NULL);
    long n = (long)json_integer_value(json_object_get(doc, "requests"));

    json_decref(doc);
    return n;
}

static void standin_fault(const char *url, int status, int count)
{
    char body[64];

    snprintf(body, sizeof(body), "{\"status\":%d,\"count\":%d}", status, count);
    json_decref(control(url, "/_fault", body));
}

/* ---- schemas: the producer's codecs of one table in four shapes ---- */

static cdc_column_t cols_v1[] = {
    {"id", NULL, "INTEGER", {0, 0, 0, 0}, 1, 1},
    {"name", NULL, "TEXT", {0, 0, 0, 0}, 0, 0},
};
/* v2: a column added (nullable: BACKWARD compatible thanks to "default":null) */
static cdc_column_t cols_v2[] = {
    {"id", NULL, "INTEGER", {0, 0, 0, 0}, 1, 1},
    {"name", NULL, "TEXT", {0, 0, 0, 0}, 0, 0},
    {"note", NULL, "TEXT", {0, 0, 0, 0}, 0, 0},
};
/* v3: a NOT NULL column added (no default: not BACKWARD compatible) */
static cdc_column_t cols_v3[] = {
    {"id", NULL, "INTEGER", {0, 0, 0, 0}, 1, 1},
    {"name", NULL, "TEXT", {0, 0, 0, 0}, 0, 0},
    {"score", NULL, "INTEGER", {0, 0, 0, 0}, 1, 0},
};
/* v4: a column's type changed (text -> integer: never compatible) */
static cdc_column_t cols_v4[] = {
    {"id", NULL, "INTEGER", {0, 0, 0, 0}, 1, 1},
    {"name", NULL, "INTEGER", {0, 0, 0, 0}, 0, 0},
};

static cdc_table_codec_t *codec(const char *table, cdc_column_t *cols, size_t n)
{
    char err[512];
    cdc_table_codec_t *c = cdc_table_codec_new("epic7", table, cols, n, NULL, err, sizeof(err));

    if (c == NULL)
        DIE("codec of %s: %s", table, err);
    return c;
}

static char *subject_of(const char *topic, const char *schema)
{
    char full[256], err[256];
    char *s;

    if (cdc_registry_schema_fullname(schema, full, sizeof(full), err, sizeof(err)) < 0)
        DIE("full name: %s", err);
    s = cdc_registry_subject(CDC_REGISTRY_TOPIC_RECORD_NAME, topic, full, 0);
    if (s == NULL)
        DIE("no subject for %s", full);
    return s;
}

static cdc_registry_t *client(const char *url, const char *user, const char *password, int attempts)
{
    cdc_registry_opts_t o;
    char err[512];
    cdc_registry_t *r;

    cdc_registry_opts_init(&o);
    o.url = url;
    o.username = user;
    o.password = password;
    o.max_attempts = attempts;
    o.backoff_ms = 20; /* the schedule doubles; keep the test quick */
    o.connect_timeout_ms = 2000;
    r = cdc_registry_new(&o, err, sizeof(err));
    if (r == NULL)
        DIE("client: %s", err);
    return r;
}

static int run_client(const char *url)
{
    cdc_table_codec_t *v1 = codec("deals", cols_v1, 2), *v2 = codec("deals", cols_v2, 3);
    cdc_table_codec_t *v3 = codec("deals", cols_v3, 3), *v4 = codec("deals", cols_v4, 2);
    const char *s1 = cdc_table_codec_envelope_schema(v1);
    const char *s2 = cdc_table_codec_envelope_schema(v2);
    char *subject = subject_of("cdc.crm", s1), *key_subject = NULL;
    cdc_registry_t *r = client(url, NULL, NULL, 5), *r2 = NULL;
    cdc_registry_stats_t st;
    cdc_registry_err_t e;
    uint32_t id1 = 0, id = 0, id2 = 0, idk = 0;
    const char *text = NULL, *text2 = NULL;
    char err[2048], level[32];
    long before;
    int version = -1;

    CHECK(strcmp(subject, "cdc.crm-cdc.epic7.deals_envelope") == 0, "subject %s", subject);

    /* register: one request, then the cache */
    before = standin_requests(url);
    e = cdc_registry_register(r, subject, s1, &id1, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK, "register v1: %s", err);
    CHECK(standin_requests(url) == before + 1, "first register is one HTTP request");
    e = cdc_registry_register(r, subject, s1, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && id == id1, "second register: %s", err);
    CHECK(standin_requests(url) == before + 1, "second register does no HTTP (%ld requests)",
          standin_requests(url) - before);
    cdc_registry_stats(r, &st);
    CHECK(st.cache_hits == 1 && st.http_requests == 1, "client stats %" PRIu64 "/%" PRIu64,
          st.cache_hits, st.http_requests);
    /* the id's text is known from the register: no HTTP either */
    e = cdc_registry_get_by_id(r, id1, &text, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && strcmp(text, s1) == 0, "by id from cache: %s", err);
    CHECK(standin_requests(url) == before + 1, "by id after register does no HTTP");

    /* a second client: the registry answers the same id; by id fetches the exact text */
    r2 = client(url, NULL, NULL, 5);
    e = cdc_registry_register(r2, subject, s1, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && id == id1, "same schema, same id (%u vs %u)", id, id1);
    cdc_registry_destroy(r2);
    r2 = client(url, NULL, NULL, 5);
    before = standin_requests(url);
    e = cdc_registry_get_by_id(r2, id1, &text, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && strcmp(text, s1) == 0, "by id: exact text: %s", err);
    e = cdc_registry_get_by_id(r2, id1, &text2, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && text2 == text, "by id again: same cached pointer");
    CHECK(standin_requests(url) == before + 1, "by id twice is one HTTP request");
    e = cdc_registry_get_by_id(r2, 999999, &text, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_NOT_FOUND && strstr(err, "999999") && strstr(err, "40403"),
          "unknown id: %s: %s", cdc_registry_err_name(e), err);

    /* lookup */
    e = cdc_registry_lookup(r2, subject, s1, &id, &version, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && id == id1 && version == 1, "lookup: %s", err);
    e = cdc_registry_lookup(r2, subject, s2, &id, &version, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_NOT_FOUND && strstr(err, subject), "lookup unregistered: %s", err);
    e = cdc_registry_lookup(r2, "no-such-subject", s1, &id, NULL, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_NOT_FOUND && strstr(err, "40401"), "lookup unknown subject: %s", err);

    /* compatibility */
    e = cdc_registry_check_compatibility(r, subject, s2, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK, "v2 (nullable column added) is BACKWARD compatible: %s", err);
    e = cdc_registry_check_compatibility(r, subject, cdc_table_codec_envelope_schema(v3), err,
                                         sizeof(err));
    CHECK(e == CDC_REGISTRY_INCOMPATIBLE && strstr(err, subject) &&
              strstr(err, "READER_FIELD_MISSING_DEFAULT_VALUE") && strstr(err, "score"),
          "v3 (NOT NULL column added) incompatible: %s: %s", cdc_registry_err_name(e), err);
    e = cdc_registry_check_compatibility(r, subject, cdc_table_codec_envelope_schema(v4), err,
                                         sizeof(err));
    CHECK(e == CDC_REGISTRY_INCOMPATIBLE && strstr(err, "TYPE_MISMATCH"),
          "v4 (type change) incompatible: %s", err);
    e = cdc_registry_check_compatibility(r, "cdc.crm-nothing.here", s1, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK, "a subject without versions is compatible: %s", err);

    /* 409 on register names the subject and the registry's message */
    e = cdc_registry_register(r, subject, cdc_table_codec_envelope_schema(v3), &id, err,
                              sizeof(err));
    CHECK(e == CDC_REGISTRY_INCOMPATIBLE && strstr(err, subject) && strstr(err, "HTTP 409") &&
              strstr(err, "incompatible with an earlier schema"),
          "register v3: %s: %s", cdc_registry_err_name(e), err);
    CHECK(!cdc_registry_err_retriable(e), "409 is permanent");
    e = cdc_registry_register(r, subject, s2, &id2, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && id2 != id1, "register v2 (new version): %s", err);

    /* 422 */
    e = cdc_registry_register(r, subject, "{\"type\":\"record\",\"name\":\"x\"}", &id, err,
                              sizeof(err));
    CHECK(e == CDC_REGISTRY_INVALID && strstr(err, "42201"), "invalid schema: %s: %s",
          cdc_registry_err_name(e), err);

    /* levels */
    e = cdc_registry_get_level(r, subject, level, sizeof(level), err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && strcmp(level, "BACKWARD") == 0, "default level: %s %s", level,
          err);
    e = cdc_registry_set_level(r, subject, "NONE", err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK, "set NONE: %s", err);
    e = cdc_registry_get_level(r, subject, level, sizeof(level), err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && strcmp(level, "NONE") == 0, "subject level now %s", level);
    e = cdc_registry_get_level(r, NULL, level, sizeof(level), err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && strcmp(level, "BACKWARD") == 0, "global level %s", level);
    e = cdc_registry_register(r, subject, cdc_table_codec_envelope_schema(v4), &id, err,
                              sizeof(err));
    CHECK(e == CDC_REGISTRY_OK, "under NONE a type change registers: %s", err);
    before = standin_requests(url);
    e = cdc_registry_set_level(r, subject, "SIDEWAYS", err, sizeof(err));
    CHECK(e == CDC_REGISTRY_INVALID && strstr(err, "SIDEWAYS"), "bad level: %s", err);
    CHECK(standin_requests(url) == before, "a bad level is refused without HTTP");
    e = cdc_registry_set_level(r, NULL, "FULL", err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK, "set global FULL: %s", err);
    e = cdc_registry_get_level(r, "cdc.crm-other", level, sizeof(level), err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && strcmp(level, "FULL") == 0, "global applies: %s", level);
    e = cdc_registry_set_level(r, NULL, "BACKWARD", err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK, "set global BACKWARD: %s", err);

    /* 5xx twice, then success: 3 requests, 2 retries */
    cdc_registry_stats(r, &st);
    before = standin_requests(url);
    standin_fault(url, 503, 2);
    key_subject = subject_of("cdc.crm", cdc_table_codec_key_schema(v1));
    e = cdc_registry_register(r, key_subject, cdc_table_codec_key_schema(v1), &idk, err,
                              sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && idk > 0, "503 twice then success: %s", err);
    CHECK(standin_requests(url) == before + 3, "3 requests (%ld)", standin_requests(url) - before);
    {
        cdc_registry_stats_t st2;
        cdc_registry_stats(r, &st2);
        CHECK(st2.retries == st.retries + 2, "2 retries counted");
    }
    /* a dropped connection (no answer at all) is a transport error: retried. Two drops,
     * because libcurl itself silently retries once when a reused connection dies. */
    cdc_registry_stats(r2, &st);
    standin_fault(url, 0, 2);
    e = cdc_registry_get_by_id(r2, id2, &text, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && strcmp(text, s2) == 0, "dropped connection then success: %s",
          err);
    {
        cdc_registry_stats_t st2;
        cdc_registry_stats(r2, &st2);
        CHECK(st2.retries >= st.retries + 1, "the drop was retried by the client");
    }
    /* 5xx beyond the attempts: UNAVAILABLE, retriable, says so */
    cdc_registry_destroy(r2);
    r2 = client(url, NULL, NULL, 3);
    standin_fault(url, 500, 3);
    e = cdc_registry_register(r2, subject, s2, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_UNAVAILABLE && cdc_registry_err_retriable(e) &&
              strstr(err, "HTTP 500") && strstr(err, "after 3 attempts") && strstr(err, subject),
          "500 x3: %s: %s", cdc_registry_err_name(e), err);
    e = cdc_registry_register(r2, subject, s2, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && id == id2, "the fault is over: %s", err);
    cdc_registry_destroy(r2);

    /* nothing listening: transport error, retried, then UNAVAILABLE */
    r2 = client("http://127.0.0.1:1", NULL, NULL, 2);
    e = cdc_registry_register(r2, subject, s1, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_UNAVAILABLE && strstr(err, "127.0.0.1:1"), "refused: %s: %s",
          cdc_registry_err_name(e), err);

    cdc_registry_destroy(r2);
    cdc_registry_destroy(r);
    free(subject);
    free(key_subject);
    cdc_table_codec_destroy(v1);
    cdc_table_codec_destroy(v2);
    cdc_table_codec_destroy(v3);
    cdc_table_codec_destroy(v4);
    return failures ? 1 : 0;
}

static int run_auth(const char *url, const char *user, const char *password)
{
    cdc_table_codec_t *v1 = codec("deals", cols_v1, 2);
    const char *s1 = cdc_table_codec_envelope_schema(v1);
    cdc_registry_t *r;
    cdc_registry_err_t e;
    char err[1024], *with_userinfo;
    uint32_t id = 0;
    const char *scheme_end = strstr(url, "://");

    r = client(url, NULL, NULL, 5);
    e = cdc_registry_register(r, "auth-s", s1, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_AUTH && strstr(err, "HTTP 401"), "no credentials: %s: %s",
          cdc_registry_err_name(e), err);
    CHECK(!cdc_registry_err_retriable(e), "401 is permanent");
    cdc_registry_destroy(r);

    r = client(url, user, "wrong-password", 5);
    e = cdc_registry_register(r, "auth-s", s1, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_AUTH && !strstr(err, "wrong-password"), "wrong password: %s", err);
    cdc_registry_destroy(r);

    r = client(url, user, password, 5);
    e = cdc_registry_register(r, "auth-s", s1, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK && id > 0, "right credentials: %s", err);
    cdc_registry_destroy(r);

    /* credentials in the URL work too, and never show in messages */
    if (scheme_end == NULL)
        DIE("bad url %s", url);
    with_userinfo = cdc_asprintf("%.*s%s:%s@%s", (int)(scheme_end + 3 - url), url, user, password,
                                 scheme_end + 3);
    r = client(with_userinfo, NULL, NULL, 5);
    e = cdc_registry_register(r, "auth-s", s1, &id, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_OK, "userinfo credentials: %s", err);
    e = cdc_registry_get_by_id(r, 424242, &s1, err, sizeof(err));
    CHECK(e == CDC_REGISTRY_NOT_FOUND && strstr(err, "424242") && !strstr(err, password),
          "errors mask the password: %s", err);
    CHECK(!strstr(cdc_registry_url(r), password), "url masked: %s", cdc_registry_url(r));
    cdc_registry_destroy(r);
    free(with_userinfo);
    cdc_table_codec_destroy(v1);
    return failures ? 1 : 0;
}

/* ---- encode: Confluent-framed records for an independent decoder ---- */

#define EK_NCOLS 11
static cdc_column_t every_kind[EK_NCOLS] = TEST_EVERY_KIND_COLUMNS;
static const cdc_value_t rows[][EK_NCOLS] = {
    {VT("emea"), VI(1), VT("Acme GmbH"), VR(125000.0), VR(0.1), VI(1), VT("2024-03-05 12:34:56.5"),
     VT("2024-03-05"), VT("{\"tier\":\"platinum\"}"), VB("\x00\x01\xff"), VR(0.1)},
    {VT("\xc3\xa9t\xc3\xa9"), VI(-7), VT("Z\xc3\xbcrich"), VN, VN, VN, VN, VN, VN, VN, VN},
};

static void write_file(const char *dir, const char *name, const void *p, size_t len)
{
    char *path = cdc_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0)
        DIE("cannot write %s", path);
    free(path);
}

static int run_encode(const char *url, const char *dir)
{
    cdc_table_codec_t *c = codec("deals", every_kind, EK_NCOLS);
    cdc_table_codec_t *plain = codec("deals", every_kind, EK_NCOLS); /* single-object */
    const char *key_schema = cdc_table_codec_key_schema(c);
    const char *env_schema = cdc_table_codec_envelope_schema(c);
    char *key_subject = subject_of("cdc.crm", key_schema);
    char *env_subject = subject_of("cdc.crm", env_schema);
    cdc_registry_t *r = client(url, NULL, NULL, 5);
    json_t *manifest = json_object(), *records = json_array();
    uint32_t key_id = 0, env_id = 0;
    char err[1024], name[64], vname[64];
    size_t i;

    if (cdc_registry_register(r, key_subject, key_schema, &key_id, err, sizeof(err)) !=
            CDC_REGISTRY_OK ||
        cdc_registry_register(r, env_subject, env_schema, &env_id, err, sizeof(err)) !=
            CDC_REGISTRY_OK)
        DIE("register: %s", err);
    cdc_table_codec_set_schema_ids(c, key_id, env_id);
    write_file(dir, "key_schema.json", key_schema, strlen(key_schema));
    write_file(dir, "envelope_schema.json", env_schema, strlen(env_schema));

    for (i = 0; i <= sizeof(rows) / sizeof(rows[0]); i++) {
        /* rows..., then a delete of the first row's key */
        int is_delete = i == sizeof(rows) / sizeof(rows[0]);
        const cdc_value_t *vals = rows[is_delete ? 0 : i];
        cdc_value_t key_vals[2];
        cdc_record_meta_t meta = {{3, 100 + (int64_t)i}, -1, NULL, 0, 1700000000000LL};
        unsigned char hash[4] = {0xde, 0xad, 0xbe, (unsigned char)i};
        cdc_record_t rec, rec_plain;
        unsigned char *canon;
        size_t canon_len;
        uint32_t got_id = 0;
        size_t off = 0;
        size_t k;
        cdc_record_status_t st;

        for (k = 0; k < cdc_table_codec_key_count(c); k++)
            key_vals[k] = vals[cdc_table_codec_key_column(c, k)];
        if (!is_delete) {
            meta.row_hash = hash;
            meta.row_hash_len = sizeof(hash);
            meta.stmt_time_us = 1700000000123456LL;
        }
        st = is_delete ? cdc_table_codec_encode_delete(plain, key_vals, &meta, &rec_plain, NULL,
                                                       err, sizeof(err))
                       : cdc_table_codec_encode(plain, 'c', vals, &meta, &rec_plain, NULL, err,
                                                sizeof(err));
        if (st != CDC_RECORD_OK)
            DIE("encode (single-object) %zu: %s", i, err);
        canon = cdc_malloc(rec_plain.key_len);
        memcpy(canon, rec_plain.key, rec_plain.key_len);
        canon_len = rec_plain.key_len;

        st = is_delete
                 ? cdc_table_codec_encode_delete(c, key_vals, &meta, &rec, NULL, err, sizeof(err))
                 : cdc_table_codec_encode(c, 'c', vals, &meta, &rec, NULL, err, sizeof(err));
        if (st != CDC_RECORD_OK)
            DIE("encode %zu: %s", i, err);
        CHECK(cdc_framing_detect(rec.framed_value, rec.framed_value_len, NULL, &got_id, &off) ==
                      CDC_FRAMING_CONFLUENT &&
                  got_id == env_id && off == 5,
              "value %zu is Confluent framed with id %u", i, env_id);
        CHECK(cdc_framing_detect(rec.framed_key, rec.framed_key_len, NULL, &got_id, &off) ==
                      CDC_FRAMING_CONFLUENT &&
                  got_id == key_id,
              "key %zu is Confluent framed with id %u", i, key_id);
        /* invariant 4: the framing never moves a key to another partition */
        CHECK(rec.key_len == canon_len && memcmp(rec.key, canon, canon_len) == 0 &&
                  rec.framed_key_len == canon_len + 5 &&
                  memcmp(rec.framed_key + 5, canon, canon_len) == 0,
              "record %zu: same canonical key bytes in both framings", i);
        CHECK(cdc_murmur2_partition(rec.key, rec.key_len, 12) ==
                  cdc_murmur2_partition(canon, canon_len, 12),
              "record %zu: same partition", i);
        snprintf(name, sizeof(name), "rec%zu.key", i);
        snprintf(vname, sizeof(vname), "rec%zu.value", i);
        write_file(dir, name, rec.framed_key, rec.framed_key_len);
        write_file(dir, vname, rec.framed_value, rec.framed_value_len);
        json_array_append_new(records, json_pack("{s:s, s:s, s:s}", "key", name, "value", vname,
                                                 "op", is_delete ? "d" : "c"));
        free(canon);
    }
    json_object_set_new(manifest, "key_id", json_integer(key_id));
    json_object_set_new(manifest, "value_id", json_integer(env_id));
    json_object_set_new(manifest, "key_subject", json_string(key_subject));
    json_object_set_new(manifest, "value_subject", json_string(env_subject));
    json_object_set_new(manifest, "records", records);
    {
        char *path = cdc_asprintf("%s/manifest.json", dir);
        if (json_dump_file(manifest, path, JSON_INDENT(1)) != 0)
            DIE("cannot write %s", path);
        free(path);
    }
    json_decref(manifest);
    cdc_registry_destroy(r);
    free(key_subject);
    free(env_subject);
    cdc_table_codec_destroy(c);
    cdc_table_codec_destroy(plain);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    int rc = 2;

    if (argc == 3 && strcmp(argv[1], "client") == 0)
        rc = run_client(argv[2]);
    else if (argc == 5 && strcmp(argv[1], "auth") == 0)
        rc = run_auth(argv[2], argv[3], argv[4]);
    else if (argc == 4 && strcmp(argv[1], "encode") == 0)
        rc = run_encode(argv[2], argv[3]);
    else
        fprintf(stderr, "usage: registry_check client URL | auth URL USER PASSWORD | "
                        "encode URL OUTDIR\n");
    if (rc == 0)
        printf("registry_check %s: all checks passed\n", argv[1]);
    else if (rc == 1)
        fprintf(stderr, "registry_check %s: %d check(s) failed\n", argv[1], failures);
    return rc;
}
