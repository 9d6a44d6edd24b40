/*
 * source_int: what source.c (opening, capture, acknowledgements) and source_read.c
 * (stream batches, snapshot chunks, encoding and sending) share. Not a public API.
 */
#ifndef CDC_SOURCE_INT_H
#define CDC_SOURCE_INT_H

#include "cdc_buf.h"
#include "position.h"
#include "producer_state.h"
#include "progress.h"
#include "record.h"
#include "snapshot.h"
#include "source.h"
#include "table_info.h"

#include <sqlite3.h>

typedef enum {
    SRC_TAG_STREAM,        /* a stream batch: acknowledge up to prune_to */
    SRC_TAG_CHUNK,         /* a snapshot chunk: record progress */
    SRC_TAG_SNAPSHOT_DONE, /* the end marker: the table's snapshot is complete */
} src_tag_kind_t;

struct cdc_src_tag_s {
    cdc_src_tag_t *prev, *next; /* the source's list of outstanding tags */
    cdc_src_t *src;
    src_tag_kind_t kind;
    int64_t prune_to; /* stream */
    char *table;      /* chunk, snapshot_done */
    uint64_t gen;     /* the table's snapshot generation when the tag was made */
    int64_t snap_epoch, h0, rows;
    cdc_key_t last_key; /* chunk: last row sent */
};

/* One captured table. */
typedef struct src_table_s {
    cdc_table_info_t *ti;
    cdc_table_codec_t *codec;
    size_t n_cols;     /* codec columns: ti's, plus the rowid for rowid-keyed tables */
    int rowid_extra;   /* the last codec column is the rowid (key part 0) */
    cdc_value_t *vals; /* n_cols values handed to the codec */
    /* snapshot */
    int snap_wanted;  /* queued or running */
    int snap_started; /* h0 known */
    uint64_t gen;     /* bumps whenever the snapshot restarts: stale tags are ignored */
    int64_t snap_epoch, h0, rows;
    cdc_key_t cursor; /* key of the last row sent */
    cdc_progress_t *progress;
} src_table_t;

struct cdc_src_s {
    const cdc_config_t *conf;
    const cdc_source_t *cs;
    cdc_publisher_t *pub;
    cdc_ack_tracker_t *tracker;
    cdc_regwire_t *registry;     /* NULL: single-object framing */
    cdc_pmetrics_src_t *metrics; /* NULL: metrics off */
    sqlite3 *db;
    cdc_pstate_t *state;
    int state_dirty;
    const char **spec_tables;
    cdc_capture_spec_t spec;
    int64_t epoch; /* the file's epoch as last seen (install, reads) */
    int64_t schema_version;
    int64_t data_version;
    int64_t stream_after; /* the stream reads after this seq */
    int need_refresh;     /* ESTALE or schema change: run the capture check/install */
    src_table_t *tables;
    size_t n_tables;
    const cdc_table_info_t **infos; /* tables[i].ti, for cdc_stream_read */
    size_t snap_next;               /* round-robin start among tables to snapshot */
    /* acknowledgement */
    int64_t ack_pending; /* highest prune_to handed back, not yet acknowledged (0: none) */
    double last_flush_ms, last_heartbeat_ms;
    double last_signal_poll_ms; /* signals.c: _cdc_signals looked at */
    double max_hold_ms;
    cdc_src_tag_t *tags; /* outstanding */
    /* encoding scratch */
    cdc_buf_t canon, scratch;
    cdc_buf_t keyjson;
};

void cdc_src_table_free(src_table_t *t);
/* Creates a tag in the source's outstanding list. */
cdc_src_tag_t *cdc_src_tag_new(cdc_src_t *src, src_tag_kind_t kind);
void cdc_src_tag_free(cdc_src_tag_t *tag);
/* Queues a snapshot of t from the start (a new generation). */
void cdc_src_table_restart_snapshot(cdc_src_t *src, src_table_t *t);
/* Re-reads the capture state and rebuilds tables (schema watch). */
cdc_src_err_t cdc_src_refresh(cdc_src_t *src, int at_start, char *errstr, size_t errstr_size);
/* source_read.c: one stream batch / one snapshot chunk. *did: something was read. */
cdc_src_err_t cdc_src_stream_once(cdc_src_t *src, int *did, size_t *rows, char *errstr,
                                  size_t errstr_size);
cdc_src_err_t cdc_src_snapshot_once(cdc_src_t *src, int *did, char *errstr, size_t errstr_size);

#endif
