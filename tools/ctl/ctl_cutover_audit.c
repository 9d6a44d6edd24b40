/*
 * ctl_cutover_audit: step 5 of `cdc-ctl cutover` (ctl_cutover.h): the audit of every source
 * of the domain through cdc_audit_run's JSON report, turned into report lines (figures per
 * table and business check) and a one-line reason naming every difference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "ctl_cutover.h"

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

/* The audit of one source of the domain (one run per source keeps each report section
 * short); figures ("source_stats" / "target_stats") go to the report, differences to the
 * reason (at *off). Returns 0 when everything matches. */
static int audit_source(const cdc_config_t *conf, const cdc_domain_t *d, const cdc_source_t *src,
                        cdc_buf_t *audit, char *reason, size_t reason_size, size_t *poff)
{
    cdc_audit_opts_t o;
    char *buf = NULL, err[2048] = "";
    size_t len = 0, off = *poff;
    FILE *mem = open_memstream(&buf, &len);
    json_error_t jerr;
    json_t *doc = NULL, *v;
    size_t i;

    cdc_audit_opts_init(&o);
    o.domain = d->name;
    o.source = src->name;
    o.json = 1;
    int res = cdc_audit_run(conf, &o, mem, err, sizeof err);
    fclose(mem);
    doc = json_loadb(buf, len, 0, &jerr);
    free(buf);
    if (doc == NULL) {
        off +=
            (size_t)snprintf(reason + off, off < reason_size ? reason_size - off : 0,
                             "%ssource %s: %s (no report: %s)", off ? "; " : "audit: ", src->name,
                             err[0] ? err : "failed", jerr.text);
        *poff = off;
        return -1;
    }
    json_array_foreach(json_object_get(doc, "tables"), i, v)
    {
        json_t *s = json_object_get(v, "source_stats"), *t = json_object_get(v, "target_stats");
        cdc_buf_printf(audit, "  %s/%s -> %s: %s\n", src->name, jstr(v, "table"),
                       jstr(v, "target_table"), jstr(v, "status"));
        if (json_is_object(s) && json_is_object(t))
            cdc_buf_printf(audit,
                           "      rows    source %" JSON_INTEGER_FORMAT
                           "  target %" JSON_INTEGER_FORMAT
                           "\n      sha256  source %s\n              target %s\n",
                           json_integer_value(json_object_get(s, "rows")),
                           json_integer_value(json_object_get(t, "rows")), jstr(s, "sha256"),
                           jstr(t, "sha256"));
        const char *st = jstr(v, "status");
        if (strcmp(st, "match") != 0 && strcmp(st, "in_flight") != 0) {
            size_t k;
            json_t *key;
            off += (size_t)snprintf(reason + off, off < reason_size ? reason_size - off : 0,
                                    "%s%s/%s -> %s %s", off ? "; " : "audit: ", src->name,
                                    jstr(v, "table"), jstr(v, "target_table"), st);
            if (json_object_get(v, "error"))
                off += (size_t)snprintf(reason + off, off < reason_size ? reason_size - off : 0,
                                        " (%s)", jstr(v, "error"));
            json_array_foreach(json_object_get(v, "keys"), k, key)
            {
                if (k >= 5)
                    break;
                char *kj = json_dumps(json_object_get(key, "key"), JSON_COMPACT | JSON_SORT_KEYS);
                off += (size_t)snprintf(reason + off, off < reason_size ? reason_size - off : 0,
                                        ", %s %s", jstr(key, "kind"), kj ? kj : "?");
                free(kj);
            }
        }
    }
    json_array_foreach(json_object_get(doc, "checks"), i, v)
    {
        cdc_buf_printf(audit, "  check %s: source %s  target %s  %s\n", jstr(v, "name"),
                       jstr(v, "source_value"), jstr(v, "target_value"), jstr(v, "status"));
        if (strcmp(jstr(v, "status"), "ok") != 0)
            off += (size_t)snprintf(
                reason + off, off < reason_size ? reason_size - off : 0,
                "%scheck %s: source %s target %s %s", off ? "; " : "audit: ", jstr(v, "name"),
                jstr(v, "source_value"), jstr(v, "target_value"), jstr(v, "status"));
    }
    json_array_foreach(json_object_get(doc, "errors"), i, v) off +=
        (size_t)snprintf(reason + off, off < reason_size ? reason_size - off : 0, "%s%s",
                         off ? "; " : "audit: ", json_string_value(v));
    json_decref(doc);
    if (res != CDC_AUDIT_MATCH && off == *poff)
        off += (size_t)snprintf(reason + off, off < reason_size ? reason_size - off : 0,
                                "%ssource %s: %s", off ? "; " : "audit: ", src->name,
                                err[0] ? err : "the target differs from the source");
    *poff = off;
    return res == CDC_AUDIT_MATCH ? 0 : -1;
}

int ctl_cutover_audit(const cdc_config_t *conf, const cdc_domain_t *d, cdc_buf_t *audit,
                      char *reason, size_t reason_size)
{
    size_t off = 0;
    int bad = 0;
    for (size_t i = 0; i < conf->n_sources; i++)
        if (strcmp(conf->sources[i].domain, d->name) == 0)
            bad |= audit_source(conf, d, &conf->sources[i], audit, reason, reason_size, &off) < 0;
    return bad ? -1 : 0;
}
