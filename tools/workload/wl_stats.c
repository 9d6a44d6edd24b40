#include "wl_stats.h"

#include "cdc_alloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void cdc_wl_stats_add_latency(cdc_wl_stats_t *stats, uint64_t us)
{
    if (stats->n_lat == stats->cap_lat) {
        stats->cap_lat = stats->cap_lat ? stats->cap_lat * 2 : 1024;
        stats->lat_us = cdc_realloc(stats->lat_us, stats->cap_lat * sizeof(*stats->lat_us));
    }
    stats->lat_us[stats->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t cdc_wl_stats_percentile(cdc_wl_stats_t *stats, double p)
{
    if (stats->n_lat == 0)
        return 0;
    qsort(stats->lat_us, stats->n_lat, sizeof(*stats->lat_us), u32_cmp);
    /* Nearest-rank: the smallest sample with at least p% of the samples at or below it. */
    size_t rank = (size_t)((p / 100.0) * (double)stats->n_lat + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > stats->n_lat)
        rank = stats->n_lat;
    return stats->lat_us[rank - 1];
}

static double per_second(uint64_t n, double elapsed)
{
    return elapsed > 0 ? (double)n / elapsed : 0.0;
}

void cdc_wl_stats_print(cdc_wl_stats_t *stats, FILE *out)
{
    fprintf(out,
            "ops=%llu commits=%llu inserts=%llu updates=%llu deletes=%llu key_changes=%llu "
            "failures=%llu busy_failures=%llu rejected=%llu constraint_retries=%llu "
            "constraint_giveups=%llu commit_p50_us=%llu commit_p99_us=%llu commits_per_s=%.1f "
            "ops_per_s=%.1f elapsed_s=%.3f files=%zu tables=%zu seed=%llu\n",
            (unsigned long long)stats->ops, (unsigned long long)stats->commits,
            (unsigned long long)stats->inserts, (unsigned long long)stats->updates,
            (unsigned long long)stats->deletes, (unsigned long long)stats->key_changes,
            (unsigned long long)stats->failures, (unsigned long long)stats->busy_failures,
            (unsigned long long)stats->rejected, (unsigned long long)stats->constraint_retries,
            (unsigned long long)stats->constraint_giveups,
            (unsigned long long)cdc_wl_stats_percentile(stats, 50),
            (unsigned long long)cdc_wl_stats_percentile(stats, 99),
            per_second(stats->commits, stats->elapsed_s), per_second(stats->ops, stats->elapsed_s),
            stats->elapsed_s, stats->files, stats->tables, (unsigned long long)stats->seed);
    fflush(out);
}

int cdc_wl_stats_write_json(cdc_wl_stats_t *stats, const char *path, char *errstr,
                            size_t errstr_size)
{
    int rc = -1;
    json_t *o = json_object();
    json_object_set_new(o, "ops", json_integer((json_int_t)stats->ops));
    json_object_set_new(o, "commits", json_integer((json_int_t)stats->commits));
    json_object_set_new(o, "inserts", json_integer((json_int_t)stats->inserts));
    json_object_set_new(o, "updates", json_integer((json_int_t)stats->updates));
    json_object_set_new(o, "deletes", json_integer((json_int_t)stats->deletes));
    json_object_set_new(o, "key_changes", json_integer((json_int_t)stats->key_changes));
    json_object_set_new(o, "failures", json_integer((json_int_t)stats->failures));
    json_object_set_new(o, "busy_failures", json_integer((json_int_t)stats->busy_failures));
    json_object_set_new(o, "rejected", json_integer((json_int_t)stats->rejected));
    json_object_set_new(o, "constraint_retries",
                        json_integer((json_int_t)stats->constraint_retries));
    json_object_set_new(o, "constraint_giveups",
                        json_integer((json_int_t)stats->constraint_giveups));
    json_object_set_new(o, "commit_p50_us",
                        json_integer((json_int_t)cdc_wl_stats_percentile(stats, 50)));
    json_object_set_new(o, "commit_p99_us",
                        json_integer((json_int_t)cdc_wl_stats_percentile(stats, 99)));
    json_object_set_new(o, "commits_per_s",
                        json_real(per_second(stats->commits, stats->elapsed_s)));
    json_object_set_new(o, "ops_per_s", json_real(per_second(stats->ops, stats->elapsed_s)));
    json_object_set_new(o, "elapsed_s", json_real(stats->elapsed_s));
    json_object_set_new(o, "files", json_integer((json_int_t)stats->files));
    json_object_set_new(o, "tables", json_integer((json_int_t)stats->tables));
    json_object_set_new(o, "seed", json_integer((json_int_t)stats->seed));
    if (json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        snprintf(errstr, errstr_size, "report %s: cannot write: %s", path,
                 errno ? strerror(errno) : "write failed");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

void cdc_wl_stats_clear(cdc_wl_stats_t *stats)
{
    free(stats->lat_us);
    stats->lat_us = NULL;
    stats->n_lat = stats->cap_lat = 0;
}
