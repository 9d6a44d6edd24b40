/*
 * cdc_registry: a client of a Confluent-compatible schema registry (docs/schema-registry.md,
 * DESIGN.md "Records", Wire), over libcurl + jansson. Confluent's own C client (libserdes)
 * is unmaintained and not packaged.
 *
 * What it does: register a schema under a subject (-> the registry's global schema id),
 * look a schema up by id, check a schema against a subject's compatibility rule, read and
 * set compatibility levels, and name subjects by the Confluent strategies.
 *
 * Exact text: the schema text sent is exactly the caller's JSON string (the producer's
 * generated text, with "default", "logicalType" and the cdc.* properties); it is never
 * re-serialized, because avro-c would drop those. A real Confluent registry stores its own
 * normalized form of the same schema (same properties, possibly another key order), so the
 * text cdc_registry_get_by_id() returns is that form, equal in meaning and fingerprint.
 *
 * Cache: (subject, exact text) -> id and id -> text are kept for the life of the client,
 * so after the first use of a schema the hot path does no HTTP. The cache key is the exact
 * text, not the Avro fingerprint: Parsing Canonical Form drops "default", which the
 * registry (and BACKWARD compatibility) does care about. Registering a text also caches
 * it under its id (the registry answers the same id only for the same schema).
 *
 * Errors: every call returns a cdc_registry_err_t and writes a message to errstr naming
 * the registry URL (userinfo masked), the operation, the subject or id, the HTTP status and
 * the registry's own error_code and message. 5xx, 408, 429 and transport failures
 * (connection refused or reset, timeouts) are retried with a doubling backoff up to
 * max_attempts; 4xx are answered at once. Passwords are never written to a message or
 * a log line.
 *
 * Threads: a client is not thread-safe (one reused curl easy handle, so connections are
 * kept alive); use one per thread.
 */
#ifndef CDC_REGISTRY_H
#define CDC_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "cdc_config.h"

typedef enum {
    CDC_REGISTRY_OK = 0,
    CDC_REGISTRY_NOT_FOUND = 1,    /* 404: unknown subject, version or schema id */
    CDC_REGISTRY_INCOMPATIBLE = 2, /* 409 on register, or is_compatible false on a check */
    CDC_REGISTRY_INVALID = 3,      /* 422 and other 4xx: the schema or request was refused */
    CDC_REGISTRY_AUTH = 4,         /* 401/403: credentials missing or refused */
    CDC_REGISTRY_UNAVAILABLE = 5,  /* 5xx/408/429 or transport error after every retry */
    CDC_REGISTRY_PROTOCOL = 6,     /* the answer was not what the API documents */
} cdc_registry_err_t;

/* Stable lowercase name of an error ("ok", "not-found", "incompatible", "invalid", "auth",
 * "unavailable", "protocol"). */
const char *cdc_registry_err_name(cdc_registry_err_t err);

/* 1 when err is worth retrying later (UNAVAILABLE), 0 when it is permanent. */
int cdc_registry_err_retriable(cdc_registry_err_t err);

/* ---- subject naming (pure) ---- */

typedef enum {
    CDC_REGISTRY_TOPIC_RECORD_NAME = 0, /* "<topic>-<record full name>" (our default) */
    CDC_REGISTRY_TOPIC_NAME = 1,        /* "<topic>-key" / "<topic>-value" */
    CDC_REGISTRY_RECORD_NAME = 2,       /* "<record full name>" */
} cdc_registry_strategy_t;

/* Parses "topic-record-name", "topic-name", "record-name" (also Confluent's class names
 * TopicRecordNameStrategy, TopicNameStrategy, RecordNameStrategy, with or without the
 * io.confluent.kafka.serializers.subject. package). Returns 0, or -1 for anything else. */
int cdc_registry_strategy_parse(const char *name, cdc_registry_strategy_t *out);

/* Stable name of a strategy ("topic-record-name", "topic-name", "record-name"). */
const char *cdc_registry_strategy_name(cdc_registry_strategy_t s);

/*
 * The subject of a key (is_key 1) or value schema under strategy, as Confluent's
 * serializers name it: TopicNameStrategy is the only one that looks at is_key
 * ("<topic>-key" / "<topic>-value"); the other two name the subject after the record's full
 * name alone, for keys and values alike, so the key/value distinction comes from the
 * record name (ours: ns.T_key vs ns.T_envelope). record_fullname is ignored by
 * topic-name; topic is ignored by record-name. Returns NULL when a needed argument is
 * NULL or empty. Caller frees with free().
 */
char *cdc_registry_subject(cdc_registry_strategy_t strategy, const char *topic,
                           const char *record_fullname, int is_key);

/*
 * The full name of the named type at the top of a schema text ("namespace.name", or "name"
 * when the name already contains a dot or there is no namespace), e.g. to name its subject.
 * Returns the length written (out is NUL-terminated, truncated to out_size - 1), or -1 with
 * the reason in errstr when json is not a record, enum or fixed schema.
 */
int cdc_registry_schema_fullname(const char *json, char *out, size_t out_size, char *errstr,
                                 size_t errstr_size);

/* 1 when level is one of the Confluent levels (NONE, BACKWARD, BACKWARD_TRANSITIVE,
 * FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE), else 0. */
int cdc_registry_level_valid(const char *level);

/* ---- the client ---- */

typedef struct cdc_registry_opts_s {
    const char *url;      /* required: http(s)://host:port[/path]; a trailing '/' is ignored */
    const char *username; /* basic auth when not NULL */
    const char *password;
    const char *ca_file;      /* TLS: CA bundle to verify the registry with (NULL: system) */
    const char *cert_file;    /* TLS client certificate (PEM), NULL for none */
    const char *key_file;     /* its private key (PEM) */
    const char *key_password; /* the key's passphrase, NULL for none */
    int tls_verify;           /* 1 (default) verify peer and host name; 0 don't (logged) */
    int max_attempts;         /* tries per request on retriable failures (default 5) */
    int backoff_ms;           /* first retry delay, doubled each time (default 100) */
    int timeout_ms;           /* per HTTP request (default 10000) */
    int connect_timeout_ms;   /* per connection attempt (default 5000) */
} cdc_registry_opts_t;

/* Fills opts with the defaults above (url and credentials NULL, tls_verify 1). */
void cdc_registry_opts_init(cdc_registry_opts_t *opts);

typedef struct cdc_registry_s cdc_registry_t;

/*
 * Creates a client (no HTTP happens yet). opts and its strings are copied. Returns NULL
 * with the reason in errstr when url is missing or not http(s), or curl cannot be set up.
 * Caller frees with cdc_registry_destroy().
 */
cdc_registry_t *cdc_registry_new(const cdc_registry_opts_t *opts, char *errstr, size_t errstr_size);

/* A client from the config's schema_registry section (url, username, password, tls_verify,
 * ca_file, cert_file, key_file, key_password; retries and timeouts at their defaults). NULL
 * with a reason in errstr when conf->registry_url is NULL. */
cdc_registry_t *cdc_registry_new_from_config(const cdc_config_t *conf, char *errstr,
                                             size_t errstr_size);

/* Frees the client and its cache; NULL is a no-op. */
void cdc_registry_destroy(cdc_registry_t *r);

/* The registry URL with any userinfo masked (for messages); valid for the client's life. */
const char *cdc_registry_url(const cdc_registry_t *r);

/*
 * Registers schema_json (the exact text, sent unchanged) under subject and sets *id to the
 * registry's schema id. The same text under the same subject is answered from the cache.
 * INCOMPATIBLE (HTTP 409): the message names the subject and carries the registry's
 * message; INVALID: the registry refused the schema (422) or the request.
 */
cdc_registry_err_t cdc_registry_register(cdc_registry_t *r, const char *subject,
                                         const char *schema_json, uint32_t *id, char *errstr,
                                         size_t errstr_size);

/*
 * Looks up whether schema_json is already registered under subject, without registering
 * it (POST /subjects/{subject}): for producers that must only use pre-registered schemas.
 * Sets *id (and *version when not NULL). NOT_FOUND when the subject or the schema is not
 * there. Cached like register.
 */
cdc_registry_err_t cdc_registry_lookup(cdc_registry_t *r, const char *subject,
                                       const char *schema_json, uint32_t *id, int *version,
                                       char *errstr, size_t errstr_size);

/*
 * The schema text of id (GET /schemas/ids/{id}), from the cache after the first time.
 * *schema_json is owned by the client and valid until it is destroyed. NOT_FOUND for an
 * unknown id.
 */
cdc_registry_err_t cdc_registry_get_by_id(cdc_registry_t *r, uint32_t id, const char **schema_json,
                                          char *errstr, size_t errstr_size);

/*
 * Checks schema_json against the latest version of subject under the subject's
 * compatibility level (POST /compatibility/subjects/{subject}/versions/latest?verbose=true).
 * OK: compatible, including a subject with no version yet (nothing to break).
 * INCOMPATIBLE: errstr names the subject and carries the registry's messages. Never cached
 * (the subject's latest version may change).
 */
cdc_registry_err_t cdc_registry_check_compatibility(cdc_registry_t *r, const char *subject,
                                                    const char *schema_json, char *errstr,
                                                    size_t errstr_size);

/*
 * The compatibility level of subject (its own, else the global one), or the global level
 * when subject is NULL, into level (e.g. "BACKWARD"; at least 20 bytes).
 */
cdc_registry_err_t cdc_registry_get_level(cdc_registry_t *r, const char *subject, char *level,
                                          size_t level_size, char *errstr, size_t errstr_size);

/* Sets the compatibility level of subject (the global one when subject is NULL). INVALID
 * without HTTP when level is not a Confluent level (cdc_registry_level_valid). */
cdc_registry_err_t cdc_registry_set_level(cdc_registry_t *r, const char *subject, const char *level,
                                          char *errstr, size_t errstr_size);

/* Counters, for logs and tests. */
typedef struct cdc_registry_stats_s {
    uint64_t http_requests; /* HTTP requests sent, retries included */
    uint64_t retries;       /* of those, the repeated ones */
    uint64_t cache_hits;    /* register/lookup/get_by_id answered without HTTP */
} cdc_registry_stats_t;

void cdc_registry_stats(const cdc_registry_t *r, cdc_registry_stats_t *out);

#endif
