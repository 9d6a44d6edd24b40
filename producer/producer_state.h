/*
 * producer_state: what the producer remembers about one source outside the source file
 * (DESIGN.md invariant 3; docs/producer.md "State file").
 *
 * One JSON file per source, <state_dir>/<source>.state.json:
 *   - the last position acknowledged (epoch, seq): written only after the file itself
 *     recorded it (cdc_position_acknowledge), so a file found below it can only be an
 *     older copy (cdc_position_compare);
 *   - per table, the progress of its current snapshot: epoch and start position H0, the
 *     last key whose chunk Kafka confirmed (typed: storage class kept, text and blobs as
 *     hex, reals as their exact bit pattern), the rows sent, and whether it finished.
 * Saving is atomic: a temporary file, fsync, rename over the old one, fsync of the
 * directory; a crash leaves either the old or the new state, never a torn one.
 */
#ifndef CDC_PRODUCER_STATE_H
#define CDC_PRODUCER_STATE_H

#include "position.h"
#include "snapshot.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cdc_pstate_table_s {
    char *table;        /* SQLite table name, exactly */
    int64_t epoch;      /* epoch of the snapshot's first chunk */
    int64_t h0;         /* its start position H0 (first chunk's high-water mark) */
    int started;        /* 0: no chunk confirmed yet (h0 unknown) */
    int done;           /* the end marker was confirmed */
    cdc_key_t last_key; /* key of the last confirmed row (n == 0: none) */
    int64_t rows;       /* rows confirmed so far */
} cdc_pstate_table_t;

typedef struct cdc_pstate_s {
    char *path;      /* the state file */
    char *source;    /* source name */
    cdc_pos_t acked; /* last acknowledged position; epoch 0: none yet */
    size_t n_tables;
    cdc_pstate_table_t *tables;
} cdc_pstate_t;

/*
 * Loads the state of source from state_dir (created if missing). A missing file is an
 * empty state (epoch 0). A file that cannot be read or parsed is an error naming it:
 * never guessed around, since the position check depends on it. Caller frees with
 * cdc_pstate_destroy().
 */
cdc_pstate_t *cdc_pstate_load(const char *state_dir, const char *source, char *errstr,
                              size_t errstr_size);
void cdc_pstate_destroy(cdc_pstate_t *st);

/* The file name used for source in state_dir. Caller frees with free(). */
char *cdc_pstate_path(const char *state_dir, const char *source);

/* Writes st atomically (tmp + fsync + rename + directory fsync). Returns 0, or -1 with the
 * file and the reason in errstr. */
int cdc_pstate_save(const cdc_pstate_t *st, char *errstr, size_t errstr_size);

/* The entry of table (exact name), created empty when create is set; NULL otherwise.
 * Valid until the next call that adds or removes an entry. */
cdc_pstate_table_t *cdc_pstate_table(cdc_pstate_t *st, const char *table, int create);

/* Removes the entry of table, if any. */
void cdc_pstate_remove_table(cdc_pstate_t *st, const char *table);

/*
 * Takes the exclusive lock of state_dir (<state_dir>/producer.lock, flock; created with the
 * directory if missing), so two producers never run on one state directory. Returns the
 * descriptor to keep open for the life of the process (the kernel releases the lock when
 * it ends, even by kill -9), or -1 with the reason in errstr.
 */
int cdc_pstate_lock(const char *state_dir, char *errstr, size_t errstr_size);

/* Restarts the snapshot record of an entry: not started, not done, no key, 0 rows. */
void cdc_pstate_table_restart(cdc_pstate_table_t *t);

#endif
