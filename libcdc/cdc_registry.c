/*
 * cdc_registry: the schema registry client (see cdc_registry.h): one reused curl easy
 * handle, retries with a doubling backoff, and the cache that keeps the hot path free of
 * HTTP. The bodies are built and read by cdc_registry_parse.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "cdc_alloc.h"
#include "cdc_buf.h"
#include "cdc_log.h"
#include "cdc_registry.h"
#include "cdc_registry_cache.h"
#include "cdc_registry_parse.h"

#define BACKOFF_CAP_MS 5000

struct cdc_registry_s {
    char *url;         /* base URL without a trailing '/' */
    char *display_url; /* the same with userinfo masked */
    char *username, *password, *ca_file, *cert_file, *key_file, *key_password;
    int tls_verify, max_attempts, backoff_ms, timeout_ms, connect_timeout_ms;
    CURL *curl;
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE];
    cdc_buf_t resp;
    long status; /* HTTP status of the last answer */
    cdc_registry_cache_t cache;
    cdc_registry_stats_t stats;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_global_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? cdc_strdup(s) : NULL;
}

static void free_secret(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void cdc_registry_opts_init(cdc_registry_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->tls_verify = 1;
    opts->max_attempts = 5;
    opts->backoff_ms = 100;
    opts->timeout_ms = 10000;
    opts->connect_timeout_ms = 5000;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cdc_buf_put((cdc_buf_t *)userdata, ptr, size * nmemb);
    return size * nmemb;
}

/* Sets the options that stay the same for every request; -1 with errstr on failure. */
static int setup_curl(cdc_registry_t *r, char *errstr, size_t errstr_size)
{
    CURL *c = r->curl;
    CURLcode rc = CURLE_OK;

    r->headers =
        curl_slist_append(r->headers, "Content-Type: application/vnd.schemaregistry.v1+json");
    r->headers =
        curl_slist_append(r->headers, "Accept: application/vnd.schemaregistry.v1+json, "
                                      "application/vnd.schemaregistry+json, application/json");
    if (r->headers == NULL) {
        snprintf(errstr, errstr_size, "cannot build the HTTP headers");
        return -1;
    }
#define SET(opt, val)                                                                              \
    if (rc == CURLE_OK)                                                                            \
    rc = curl_easy_setopt(c, opt, val)
    SET(CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM: safe in threaded workers */
    SET(CURLOPT_HTTPHEADER, r->headers);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &r->resp);
    SET(CURLOPT_ERRORBUFFER, r->curl_err);
    SET(CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L); /* never hand the credentials to another host */
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (r->username != NULL) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, r->username);
        SET(CURLOPT_PASSWORD, r->password != NULL ? r->password : "");
    }
    if (r->ca_file != NULL)
        SET(CURLOPT_CAINFO, r->ca_file);
    if (r->cert_file != NULL)
        SET(CURLOPT_SSLCERT, r->cert_file);
    if (r->key_file != NULL)
        SET(CURLOPT_SSLKEY, r->key_file);
    if (r->key_password != NULL)
        SET(CURLOPT_KEYPASSWD, r->key_password);
    SET(CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
#undef SET
    if (rc != CURLE_OK) {
        snprintf(errstr, errstr_size, "schema registry at %s: cannot set up libcurl: %s",
                 r->display_url, curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

cdc_registry_t *cdc_registry_new(const cdc_registry_opts_t *opts, char *errstr, size_t errstr_size)
{
    cdc_registry_t *r = NULL;
    size_t n;

    if (opts == NULL || opts->url == NULL || opts->url[0] == '\0') {
        snprintf(errstr, errstr_size, "schema_registry.url: not set");
        goto fail;
    }
    if (strncmp(opts->url, "http://", 7) != 0 && strncmp(opts->url, "https://", 8) != 0) {
        char *shown = cdc_strdup(opts->url);
        cdc_log_mask_secrets(shown);
        snprintf(errstr, errstr_size,
                 "schema_registry.url: \"%s\" is not an http:// or https:// URL", shown);
        free(shown);
        goto fail;
    }
    pthread_once(&curl_once, curl_global_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(errstr, errstr_size, "cannot initialize libcurl: %s",
                 curl_easy_strerror(curl_init_rc));
        goto fail;
    }
    r = cdc_calloc(1, sizeof(*r));
    r->url = cdc_strdup(opts->url);
    n = strlen(r->url);
    while (n > 0 && r->url[n - 1] == '/')
        r->url[--n] = '\0';
    r->display_url = cdc_strdup(r->url);
    cdc_log_mask_secrets(r->display_url);
    r->username = dup_or_null(opts->username);
    r->password = dup_or_null(opts->password);
    r->ca_file = dup_or_null(opts->ca_file);
    r->cert_file = dup_or_null(opts->cert_file);
    r->key_file = dup_or_null(opts->key_file);
    r->key_password = dup_or_null(opts->key_password);
    r->tls_verify = opts->tls_verify;
    r->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 5;
    r->backoff_ms = opts->backoff_ms > 0 ? opts->backoff_ms : 100;
    r->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    r->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 5000;
    cdc_buf_init(&r->resp);
    r->curl = curl_easy_init();
    if (r->curl == NULL) {
        snprintf(errstr, errstr_size, "schema registry at %s: curl_easy_init failed",
                 r->display_url);
        goto fail;
    }
    if (setup_curl(r, errstr, errstr_size) < 0)
        goto fail;
    if (!r->tls_verify && strncmp(r->url, "https://", 8) == 0)
        cdc_log_warn("schema registry at %s: TLS certificate verification is off", r->display_url);
    return r;
fail:
    cdc_registry_destroy(r);
    return NULL;
}

cdc_registry_t *cdc_registry_new_from_config(const cdc_config_t *conf, char *errstr,
                                             size_t errstr_size)
{
    cdc_registry_opts_t opts;

    cdc_registry_opts_init(&opts);
    if (conf == NULL || conf->registry_url == NULL) {
        snprintf(errstr, errstr_size, "%s: schema_registry.url is not set",
                 conf != NULL && conf->path != NULL ? conf->path : "config");
        return NULL;
    }
    opts.url = conf->registry_url;
    opts.username = conf->registry_username;
    opts.password = conf->registry_password;
    opts.ca_file = conf->registry_ca_file;
    opts.cert_file = conf->registry_cert_file;
    opts.key_file = conf->registry_key_file;
    opts.key_password = conf->registry_key_password;
    opts.tls_verify =
        conf->registry_tls_verify == NULL || strcmp(conf->registry_tls_verify, "false") != 0;
    return cdc_registry_new(&opts, errstr, errstr_size);
}

void cdc_registry_destroy(cdc_registry_t *r)
{
    if (r == NULL)
        return;
    cdc_registry_cache_free(&r->cache);
    if (r->curl != NULL)
        curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
    cdc_buf_free(&r->resp);
    free(r->url);
    free(r->display_url);
    free(r->username);
    free_secret(r->password);
    free(r->ca_file);
    free(r->cert_file);
    free(r->key_file);
    free_secret(r->key_password);
    free(r);
}

const char *cdc_registry_url(const cdc_registry_t *r)
{
    return r->display_url;
}

void cdc_registry_stats(const cdc_registry_t *r, cdc_registry_stats_t *out)
{
    *out = r->stats;
}

/* ---- HTTP ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Transport errors that a later attempt may not see (the registry restarting, a reset
 * connection, a timeout) are retried; a malformed URL or a TLS setup problem is not. */
static int curl_retriable(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_LOGIN_DENIED:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return 0;
    default:
        return 1;
    }
}

static int http_retriable(long status)
{
    return status >= 500 || status == 408 || status == 429;
}

static cdc_registry_err_t http_error(long status)
{
    if (status == 404)
        return CDC_REGISTRY_NOT_FOUND;
    if (status == 409)
        return CDC_REGISTRY_INCOMPATIBLE;
    if (status == 401 || status == 403)
        return CDC_REGISTRY_AUTH;
    if (http_retriable(status))
        return CDC_REGISTRY_UNAVAILABLE;
    if (status >= 400)
        return CDC_REGISTRY_INVALID;
    return CDC_REGISTRY_PROTOCOL; /* 1xx/3xx: nothing we asked for */
}

/*
 * One request with retries: method "GET", "POST" or "PUT", path starting with '/', body
 * for POST/PUT. OK for a 2xx answer, whose body is in r->resp; otherwise the error with a
 * message "schema registry at URL: WHAT: ..." naming the status, the registry's
 * error_code and message, and *error_code set (0 when there was none).
 */
static cdc_registry_err_t request(cdc_registry_t *r, const char *method, const char *path,
                                  const char *body, const char *what, int *error_code, char *errstr,
                                  size_t errstr_size)
{
    char *full = cdc_asprintf("%s%s", r->url, path);
    char why[768];
    cdc_registry_err_t err = CDC_REGISTRY_UNAVAILABLE;
    long delay = r->backoff_ms;
    int attempt, retriable = 0;
    CURLcode rc;

    *error_code = 0;
    for (attempt = 1; attempt <= r->max_attempts; attempt++) {
        cdc_buf_reset(&r->resp);
        r->curl_err[0] = '\0';
        r->status = 0;
        curl_easy_setopt(r->curl, CURLOPT_URL, full);
        curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, (char *)NULL);
        if (strcmp(method, "GET") == 0) {
            curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
        } else {
            curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
            curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE,
                             (long)(body != NULL ? strlen(body) : 0));
            if (strcmp(method, "POST") != 0)
                curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, method);
        }
        r->stats.http_requests++;
        if (attempt > 1)
            r->stats.retries++;
        rc = curl_easy_perform(r->curl);
        if (rc != CURLE_OK) {
            snprintf(why, sizeof(why), "%s",
                     r->curl_err[0] != '\0' ? r->curl_err : curl_easy_strerror(rc));
            cdc_log_mask_secrets(why);
            retriable = curl_retriable(rc);
            err = retriable ? CDC_REGISTRY_UNAVAILABLE : CDC_REGISTRY_INVALID;
        } else {
            char msg[512];

            curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
            if (r->status >= 200 && r->status < 300) {
                err = CDC_REGISTRY_OK;
                goto out;
            }
            cdc_registry_parse_error(r->resp.data != NULL ? (const char *)r->resp.data : "",
                                     r->resp.len, error_code, msg, sizeof(msg));
            if (*error_code != 0)
                snprintf(why, sizeof(why), "HTTP %ld (error_code %d): %s", r->status, *error_code,
                         msg[0] != '\0' ? msg : "(no message)");
            else
                snprintf(why, sizeof(why), "HTTP %ld: %s", r->status,
                         msg[0] != '\0' ? msg : "(no message)");
            retriable = http_retriable(r->status);
            err = http_error(r->status);
        }
        if (!retriable || attempt == r->max_attempts)
            break;
        cdc_log_warn("schema registry at %s: %s: %s; retry %d of %d in %ld ms", r->display_url,
                     what, why, attempt, r->max_attempts - 1, delay);
        sleep_ms(delay);
        delay = delay * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : delay * 2;
    }
    if (retriable && attempt > 1)
        snprintf(errstr, errstr_size, "schema registry at %s: %s: %s (gave up after %d attempts)",
                 r->display_url, what, why, r->max_attempts);
    else
        snprintf(errstr, errstr_size, "schema registry at %s: %s: %s", r->display_url, what, why);
out:
    free(full);
    return err;
}

static const char *resp_body(cdc_registry_t *r)
{
    return r->resp.data != NULL ? (const char *)r->resp.data : "";
}

/* A 2xx answer the parser refused: PROTOCOL, with what and why. */
static cdc_registry_err_t bad_answer(cdc_registry_t *r, const char *what, const char *why,
                                     char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "schema registry at %s: %s: unexpected answer (HTTP %ld): %s",
             r->display_url, what, r->status, why);
    return CDC_REGISTRY_PROTOCOL;
}

/* ---- operations ---- */

static cdc_registry_err_t subject_call(cdc_registry_t *r, int lookup, const char *subject,
                                       const char *schema_json, uint32_t *id, int *version,
                                       char *errstr, size_t errstr_size)
{
    const cdc_registry_cache_entry_t *hit;
    char *esc = NULL, *path = NULL, *body = NULL, *what = NULL;
    char why[256];
    cdc_registry_err_t err;
    int code = 0, ver = 0;

    hit = cdc_registry_cache_subject_get(&r->cache, subject, schema_json);
    if (hit != NULL) {
        r->stats.cache_hits++;
        *id = hit->id;
        if (version != NULL)
            *version = hit->version;
        return CDC_REGISTRY_OK;
    }
    what = cdc_asprintf("%s schema under subject \"%s\"", lookup ? "look up" : "register", subject);
    body = cdc_registry_body_schema(schema_json, why, sizeof(why));
    if (body == NULL) {
        snprintf(errstr, errstr_size, "schema registry at %s: %s: %s", r->display_url, what, why);
        err = CDC_REGISTRY_INVALID;
        goto out;
    }
    esc = cdc_registry_path_escape(subject);
    path = cdc_asprintf(lookup ? "/subjects/%s" : "/subjects/%s/versions", esc);
    err = request(r, "POST", path, body, what, &code, errstr, errstr_size);
    if (err != CDC_REGISTRY_OK)
        goto out;
    if (cdc_registry_parse_id(resp_body(r), r->resp.len, id, &ver, why, sizeof(why)) < 0) {
        err = bad_answer(r, what, why, errstr, errstr_size);
        goto out;
    }
    if (version != NULL)
        *version = ver;
    cdc_registry_cache_subject_put(&r->cache, subject, schema_json, *id, ver);
    cdc_registry_cache_id_put(&r->cache, *id, schema_json);
out:
    free(what);
    free(body);
    free(esc);
    free(path);
    return err;
}

cdc_registry_err_t cdc_registry_register(cdc_registry_t *r, const char *subject,
                                         const char *schema_json, uint32_t *id, char *errstr,
                                         size_t errstr_size)
{
    return subject_call(r, 0, subject, schema_json, id, NULL, errstr, errstr_size);
}

cdc_registry_err_t cdc_registry_lookup(cdc_registry_t *r, const char *subject,
                                       const char *schema_json, uint32_t *id, int *version,
                                       char *errstr, size_t errstr_size)
{
    return subject_call(r, 1, subject, schema_json, id, version, errstr, errstr_size);
}

cdc_registry_err_t cdc_registry_get_by_id(cdc_registry_t *r, uint32_t id, const char **schema_json,
                                          char *errstr, size_t errstr_size)
{
    const char *known = cdc_registry_cache_id_get(&r->cache, id);
    char *path = NULL, *what = NULL, *text = NULL;
    char why[256];
    cdc_registry_err_t err;
    int code = 0;

    if (known != NULL) {
        r->stats.cache_hits++;
        *schema_json = known;
        return CDC_REGISTRY_OK;
    }
    what = cdc_asprintf("get schema id %u", (unsigned)id);
    path = cdc_asprintf("/schemas/ids/%u", (unsigned)id);
    err = request(r, "GET", path, NULL, what, &code, errstr, errstr_size);
    if (err != CDC_REGISTRY_OK)
        goto out;
    text = cdc_registry_parse_schema(resp_body(r), r->resp.len, why, sizeof(why));
    if (text == NULL) {
        err = bad_answer(r, what, why, errstr, errstr_size);
        goto out;
    }
    *schema_json = cdc_registry_cache_id_put(&r->cache, id, text);
out:
    free(text);
    free(what);
    free(path);
    return err;
}

cdc_registry_err_t cdc_registry_check_compatibility(cdc_registry_t *r, const char *subject,
                                                    const char *schema_json, char *errstr,
                                                    size_t errstr_size)
{
    char *esc = NULL, *path = NULL, *body = NULL, *what = NULL;
    char why[256], messages[1024];
    cdc_registry_err_t err;
    int code = 0, compatible = 0;

    what = cdc_asprintf("check compatibility under subject \"%s\"", subject);
    body = cdc_registry_body_schema(schema_json, why, sizeof(why));
    if (body == NULL) {
        snprintf(errstr, errstr_size, "schema registry at %s: %s: %s", r->display_url, what, why);
        err = CDC_REGISTRY_INVALID;
        goto out;
    }
    esc = cdc_registry_path_escape(subject);
    path = cdc_asprintf("/compatibility/subjects/%s/versions/latest?verbose=true", esc);
    err = request(r, "POST", path, body, what, &code, errstr, errstr_size);
    /* 40401 subject / 40402 version not found: no earlier version, nothing to break. */
    if (err == CDC_REGISTRY_NOT_FOUND && (code == 40401 || code == 40402)) {
        err = CDC_REGISTRY_OK;
        goto out;
    }
    if (err != CDC_REGISTRY_OK)
        goto out;
    if (cdc_registry_parse_compat(resp_body(r), r->resp.len, &compatible, messages,
                                  sizeof(messages), why, sizeof(why)) < 0) {
        err = bad_answer(r, what, why, errstr, errstr_size);
        goto out;
    }
    if (!compatible) {
        snprintf(errstr, errstr_size,
                 "schema registry at %s: subject \"%s\": the schema is incompatible with the "
                 "latest version: %s",
                 r->display_url, subject, messages[0] != '\0' ? messages : "(no details given)");
        err = CDC_REGISTRY_INCOMPATIBLE;
    }
out:
    free(what);
    free(body);
    free(esc);
    free(path);
    return err;
}

cdc_registry_err_t cdc_registry_get_level(cdc_registry_t *r, const char *subject, char *level,
                                          size_t level_size, char *errstr, size_t errstr_size)
{
    char *esc = NULL, *path = NULL, *what = NULL;
    char why[256];
    cdc_registry_err_t err;
    int code = 0;

    if (subject != NULL) {
        what = cdc_asprintf("get compatibility level of subject \"%s\"", subject);
        esc = cdc_registry_path_escape(subject);
        path = cdc_asprintf("/config/%s?defaultToGlobal=true", esc);
        err = request(r, "GET", path, NULL, what, &code, errstr, errstr_size);
        /* Registries without defaultToGlobal answer 404 (40401/40408) for a subject with
         * no level of its own: the global level applies then. */
        if (err != CDC_REGISTRY_NOT_FOUND)
            goto parse;
        free(what);
        free(path);
        path = NULL;
    }
    what = cdc_asprintf("get the global compatibility level%s%s%s",
                        subject != NULL ? " (for subject \"" : "", subject != NULL ? subject : "",
                        subject != NULL ? "\")" : "");
    err =
        request(r, "GET", path != NULL ? path : "/config", NULL, what, &code, errstr, errstr_size);
parse:
    if (err != CDC_REGISTRY_OK)
        goto out;
    if (cdc_registry_parse_level(resp_body(r), r->resp.len, level, level_size, why, sizeof(why)) <
        0)
        err = bad_answer(r, what, why, errstr, errstr_size);
out:
    free(what);
    free(esc);
    free(path);
    return err;
}

cdc_registry_err_t cdc_registry_set_level(cdc_registry_t *r, const char *subject, const char *level,
                                          char *errstr, size_t errstr_size)
{
    char *esc = NULL, *path = NULL, *body = NULL, *what = NULL;
    char why[256], got[32];
    cdc_registry_err_t err;
    int code = 0;

    if (!cdc_registry_level_valid(level)) {
        snprintf(errstr, errstr_size,
                 "compatibility level \"%s\" is not one of NONE, BACKWARD, BACKWARD_TRANSITIVE, "
                 "FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE",
                 level != NULL ? level : "(null)");
        return CDC_REGISTRY_INVALID;
    }
    if (subject != NULL) {
        what = cdc_asprintf("set compatibility level %s on subject \"%s\"", level, subject);
        esc = cdc_registry_path_escape(subject);
        path = cdc_asprintf("/config/%s", esc);
    } else {
        what = cdc_asprintf("set the global compatibility level %s", level);
        path = cdc_strdup("/config");
    }
    body = cdc_registry_body_level(level);
    err = request(r, "PUT", path, body, what, &code, errstr, errstr_size);
    if (err != CDC_REGISTRY_OK)
        goto out;
    if (cdc_registry_parse_level(resp_body(r), r->resp.len, got, sizeof(got), why, sizeof(why)) <
        0) {
        err = bad_answer(r, what, why, errstr, errstr_size);
        goto out;
    }
    if (strcmp(got, level) != 0) {
        snprintf(why, sizeof(why), "the registry set %s instead", got);
        err = bad_answer(r, what, why, errstr, errstr_size);
    }
out:
    free(what);
    free(body);
    free(esc);
    free(path);
    return err;
}
