/*
 * schema_index: fingerprint -> text hash, persistent in the state directory
 * (schema_index.h).
 */
#include "schema_index.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc_alloc.h"
#include "cdc_hash.h"

#define INDEX_FILE "schema-fingerprints"
/* Any fixed seed: the hash only tells texts apart, it is never compared across builds. */
#define TEXT_SEED 0x63646373u

char *cdc_schema_index_path(const char *state_dir)
{
    return cdc_asprintf("%s/%s", state_dir, INDEX_FILE);
}

/* Reads the whole file (it holds one short line per envelope text ever built). */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = cdc_malloc(cap + 1);
    ssize_t r;

    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = cdc_realloc(buf, cap + 1);
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    if (r < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The hash recorded for fp in the file's text, or 0 with *found = 0. Lines that do not
 * parse (a torn last line after a crash) are skipped: their fingerprint is claimed again. */
static uint64_t lookup(const char *text, uint64_t fp, int *found)
{
    const char *p = text;

    *found = 0;
    while (*p) {
        unsigned long long f, h;
        const char *nl = strchr(p, '\n');
        if (nl != NULL && sscanf(p, "%16llx %16llx", &f, &h) == 2 && (uint64_t)f == fp) {
            *found = 1;
            return (uint64_t)h;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return 0;
}

cdc_schema_index_result_t cdc_schema_index_claim(const char *state_dir, uint64_t fp,
                                                 const char *text, char *errstr, size_t errstr_size)
{
    char *path = cdc_schema_index_path(state_dir), *content = NULL, line[40];
    uint64_t hash = cdc_hash_xxh64(text, strlen(text), TEXT_SEED), have;
    cdc_schema_index_result_t res = CDC_SCHEMA_INDEX_ERROR;
    size_t len = 0;
    int fd = -1, found, n;
    const char *what = "open";

    if (mkdir(state_dir, 0777) < 0 && errno != EEXIST) {
        what = "create the directory of";
        goto out;
    }
    fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        goto out;
    what = "lock";
    if (flock(fd, LOCK_EX) < 0)
        goto out;
    what = "read";
    if ((content = read_all(fd, &len)) == NULL)
        goto out;
    have = lookup(content, fp, &found);
    if (found) {
        res = have == hash ? CDC_SCHEMA_INDEX_SAME : CDC_SCHEMA_INDEX_COLLISION;
        goto out;
    }
    what = "append to";
    /* A torn last line (crash mid-write) gets its own line end first. */
    n = snprintf(line, sizeof line, "%s%016" PRIx64 " %016" PRIx64 "\n",
                 len > 0 && content[len - 1] != '\n' ? "\n" : "", fp, hash);
    if (write(fd, line, (size_t)n) != n || fsync(fd) < 0)
        goto out;
    res = CDC_SCHEMA_INDEX_NEW;
out:
    if (res == CDC_SCHEMA_INDEX_ERROR)
        snprintf(errstr, errstr_size,
                 "cannot %s the schema fingerprint index %s (producer.state_dir): %s", what, path,
                 strerror(errno));
    if (fd >= 0)
        close(fd); /* releases the lock */
    free(content);
    free(path);
    return res;
}
