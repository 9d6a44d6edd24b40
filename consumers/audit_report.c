/*
 * audit_report: the audit's two outputs, both written once everything was compared (the
 * results are small: counts, digests and at most max_keys keys per table). The human
 * report is for operators; the JSON document (schema in docs/audit.md) is for tools: its
 * "resnapshot" array lists the real differences per (source, table) in the form
 * `cdc-ctl resnapshot --keys FILE` takes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_int.h"
#include "cdc_alloc.h"

const char *audit_tstatus_name(audit_tstatus_t st)
{
    switch (st) {
    case AUDIT_T_MATCH:
        return "match";
    case AUDIT_T_IN_FLIGHT:
        return "in_flight";
    case AUDIT_T_DIFFER:
        return "differ";
    default:
        return "error";
    }
}

static const char *kind_name(char kind)
{
    switch (kind) {
    case 'm':
        return "missing";
    case 'x':
        return "extra";
    case 'd':
        return "different";
    default:
        return "misfit";
    }
}

static const char *result_name(int result)
{
    return result == CDC_AUDIT_MATCH ? "match" : result == CDC_AUDIT_DIFFER ? "differ" : "error";
}

static void sha_hex(const audit_tres_t *t, const audit_side_t *s, char out[2 * CDC_SHA256_SIZE + 1])
{
    if (t->unordered)
        snprintf(out, 2 * CDC_SHA256_SIZE + 1, "n/a");
    else
        cdc_hash_hex(s->sha, CDC_SHA256_SIZE, out);
}

/* A kept key is a real difference (listed for resnapshot) unless the re-check explained it. */
static int real_key(const audit_key_t *k)
{
    return k->kind != 'f' && k->in_flight == 0;
}

void audit_report_human(const audit_report_t *r, int result, FILE *out)
{
    size_t counts[4] = {0, 0, 0, 0}, checks_ok = 0;
    char hs[2 * CDC_SHA256_SIZE + 1], hg[2 * CDC_SHA256_SIZE + 1];

    for (size_t i = 0; i < r->ntables; i++) {
        const audit_tres_t *t = &r->tables[i];
        counts[t->status]++;
        fprintf(out, "%s / %s / %s -> %s: %s%s\n", t->domain, t->source, t->table, t->target,
                audit_tstatus_name(t->status), t->target_absent ? " (target table absent)" : "");
        if (t->error != NULL) {
            fprintf(out, "  error: %s\n", t->error);
            continue;
        }
        sha_hex(t, &t->s, hs);
        sha_hex(t, &t->g, hg);
        fprintf(out, "  rows      source %" PRIu64 "  target %" PRIu64 "\n", t->s.rows, t->g.rows);
        fprintf(out, "  checksum  source %016" PRIx64 "  target %016" PRIx64 "\n", t->s.sum,
                t->g.sum);
        fprintf(out, "  sha256    source %s\n            target %s\n", hs, hg);
        if (t->note != NULL)
            fprintf(out, "  note: %s\n", t->note);
        if (t->missing + t->extra + t->different + t->misfit == 0)
            continue;
        fprintf(out,
                "  differences: %" PRIu64 " missing, %" PRIu64 " extra, %" PRIu64
                " different, %" PRIu64 " misfit; re-check: %" PRIu64 " in flight, %" PRIu64
                " settled, %" PRIu64 " not re-checked\n",
                t->missing, t->extra, t->different, t->misfit, t->in_flight, t->settled,
                t->unchecked);
        for (size_t k = 0; k < t->nkeys_kept; k++) {
            const audit_key_t *key = &t->keys[k];
            fprintf(out, "    %-9s %s%s%s%s\n", kind_name(key->kind), key->json,
                    key->in_flight == 1   ? "  (in flight: a newer change is not applied yet)"
                    : key->in_flight == 2 ? "  (in flight: equal now)"
                                          : "",
                    key->why ? "  " : "", key->why ? key->why : "");
        }
        if (t->missing + t->extra + t->different + t->misfit > t->nkeys_kept)
            fprintf(out, "    ... and %" PRIu64 " more not listed\n",
                    t->missing + t->extra + t->different + t->misfit - t->nkeys_kept);
    }
    for (size_t i = 0; i < r->nchecks; i++) {
        const audit_cres_t *c = &r->checks[i];
        if (c->error != NULL) {
            fprintf(out, "check %s: error: %s\n", c->check->name, c->error);
            continue;
        }
        checks_ok += (size_t)c->ok;
        fprintf(out, "check %s: source %s target %s %s\n", c->check->name,
                c->sval ? c->sval : "NULL", c->tval ? c->tval : "NULL", c->ok ? "ok" : "DIFFERS");
    }
    for (size_t i = 0; i < r->nerrors; i++)
        fprintf(out, "error: %s\n", r->errors[i]);
    fprintf(out,
            "summary: %zu tables (%zu match, %zu differ, %zu in flight, %zu error); %zu checks "
            "(%zu ok); result: %s\n",
            r->ntables, counts[AUDIT_T_MATCH], counts[AUDIT_T_DIFFER], counts[AUDIT_T_IN_FLIGHT],
            counts[AUDIT_T_ERROR], r->nchecks, checks_ok, result_name(result));
}

static json_t *key_value(const audit_key_t *k)
{
    json_t *v = json_loads(k->json, JSON_DECODE_ANY, NULL);
    return v != NULL ? v : json_string(k->json);
}

static json_t *side_json(const audit_tres_t *t, const audit_side_t *s)
{
    char sum[17], hex[2 * CDC_SHA256_SIZE + 1];
    snprintf(sum, sizeof sum, "%016" PRIx64, s->sum);
    sha_hex(t, s, hex);
    return json_pack("{s:I, s:s, s:s}", "rows", (json_int_t)s->rows, "checksum", sum, "sha256",
                     hex);
}

static json_t *table_json(const audit_tres_t *t, json_t *resnap)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "domain", t->domain, "source",
                          t->source, "table", t->table, "target_table", t->target, "status",
                          audit_tstatus_name(t->status), "target_absent", t->target_absent);
    json_t *keys = json_array(), *real = json_array();

    if (t->error != NULL) {
        json_object_set_new(o, "error", json_string(t->error));
        json_decref(keys);
        json_decref(real);
        return o;
    }
    json_object_set_new(o, "source_position",
                        json_pack("{s:I, s:I, s:I}", "epoch", (json_int_t)t->pos_last.epoch,
                                  "first", (json_int_t)t->pos_first.h, "last",
                                  (json_int_t)t->pos_last.h));
    json_object_set_new(o, "source_stats", side_json(t, &t->s));
    json_object_set_new(o, "target_stats", side_json(t, &t->g));
    json_object_set_new(o, "missing", json_integer((json_int_t)t->missing));
    json_object_set_new(o, "extra", json_integer((json_int_t)t->extra));
    json_object_set_new(o, "different", json_integer((json_int_t)t->different));
    json_object_set_new(o, "misfit", json_integer((json_int_t)t->misfit));
    json_object_set_new(o, "in_flight", json_integer((json_int_t)t->in_flight));
    json_object_set_new(o, "settled", json_integer((json_int_t)t->settled));
    json_object_set_new(o, "not_rechecked", json_integer((json_int_t)t->unchecked));
    if (t->note != NULL)
        json_object_set_new(o, "note", json_string(t->note));
    for (size_t k = 0; k < t->nkeys_kept; k++) {
        const audit_key_t *key = &t->keys[k];
        json_t *e = json_pack("{s:s, s:o, s:s}", "kind", kind_name(key->kind), "key",
                              key_value(key), "recheck",
                              key->kind == 'f'      ? "none"
                              : key->in_flight == 1 ? "in_flight"
                              : key->in_flight == 2 ? "settled"
                                                    : "real");
        if (key->why != NULL)
            json_object_set_new(e, "reason", json_string(key->why));
        json_array_append_new(keys, e);
        if (real_key(key))
            json_array_append_new(real, key_value(key));
    }
    json_object_set_new(o, "keys", keys);
    if (json_array_size(real) > 0)
        json_array_append_new(resnap, json_pack("{s:s, s:s, s:o}", "source", t->source, "table",
                                                t->table, "keys", real));
    else
        json_decref(real);
    return o;
}

void audit_report_json(const audit_report_t *r, int result, FILE *out)
{
    json_t *root = json_object(), *tables = json_array(), *checks = json_array();
    json_t *resnap = json_array(), *errors = json_array();

    for (size_t i = 0; i < r->ntables; i++)
        json_array_append_new(tables, table_json(&r->tables[i], resnap));
    for (size_t i = 0; i < r->nchecks; i++) {
        const audit_cres_t *c = &r->checks[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", c->check->name, "domain",
                              c->check->domain, "source", c->check->source, "status",
                              c->error ? "error"
                              : c->ok  ? "ok"
                                       : "differ");
        json_object_set_new(o, "source_value", c->sval ? json_string(c->sval) : json_null());
        json_object_set_new(o, "target_value", c->tval ? json_string(c->tval) : json_null());
        if (c->error != NULL)
            json_object_set_new(o, "error", json_string(c->error));
        json_array_append_new(checks, o);
    }
    for (size_t i = 0; i < r->nerrors; i++)
        json_array_append_new(errors, json_string(r->errors[i]));
    json_object_set_new(root, "result", json_string(result_name(result)));
    json_object_set_new(root, "tables", tables);
    json_object_set_new(root, "checks", checks);
    json_object_set_new(root, "resnapshot", resnap);
    json_object_set_new(root, "errors", errors);
    json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(root);
}
