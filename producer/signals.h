/*
 * signals: the producer's side of `cdc-ctl resnapshot` (docs/operate.md "cdc-ctl
 * resnapshot"). Operators write requests into the signal table _cdc_signals of a source
 * file (like Debezium's signal table: it survives restarts and needs nothing but the
 * file); the producer polls it and, while streaming continues, re-snapshots a whole source
 * or table (a new snapshot with its end marker, so the sink deletes rows not re-sent) or
 * re-sends listed keys' current rows at the current position, then marks the row done.
 */
#ifndef CDC_SIGNALS_H
#define CDC_SIGNALS_H

#include <stddef.h>

#include <sqlite3.h>

#include "source.h"

/* The signal table; capture never captures `_cdc_` tables and uninstall removes it. */
#define CDC_SIGNALS_DDL                                                                            \
    "CREATE TABLE IF NOT EXISTS _cdc_signals (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"         \
    " tbl TEXT, keys TEXT, requested_at TEXT NOT NULL, done_at TEXT, result TEXT)"

/*
 * 1 when `cdc-ctl cutover` marked the file (cutover_at in _cdc_state), with "cut over to
 * PostgreSQL at T (domain D): ..." in msg; 0 otherwise (also when it cannot tell).
 */
int cdc_src_cut_over(sqlite3 *db, char *msg, size_t msg_size);

/*
 * Looks for pending signals of src when its file changed since the last look (PRAGMA
 * data_version) or force is set (the runner forces it once per heartbeat), and acts on
 * them: a full re-snapshot is queued (marked done when queued: the snapshot itself is
 * tracked like any other), listed keys are read and sent at once. A request that cannot
 * be carried out (unknown table, a key that does not parse) is marked done with the reason
 * in result. Returns CDC_SRC_OK or an error with the reason in errstr.
 */
cdc_src_err_t cdc_src_signals_poll(cdc_src_t *src, int force, char *errstr, size_t errstr_size);

#endif
