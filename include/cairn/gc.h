/*
 * gc.h — giving disk space back: the pack compactor, and its background service in cairnd.
 *
 * A chunk whose last reference goes (overwrite, delete, aborted upload) stays in its pack as dead
 * bytes, still found by dedup, until the compactor reclaims it. Pack bytes that no index entry
 * names (puts that were aborted or crashed) are dead too: a pack's dead bytes are its file size
 * minus the record bytes of its referenced chunks, counted from the index at every run.
 *
 * A run selects the packs whose dead share reaches the threshold (the pack being appended to is
 * sealed first when it qualifies itself), and for each: copies its referenced records to the
 * current pack, makes them durable, points their index entries at the copies, drops the entries
 * of its unreferenced chunks, waits until no PUT that began before the drop is still running
 * (such a PUT may have deduplicated against a dropped chunk; its commit finds it through a
 * tombstone that keeps the old location valid), moves whatever such PUTs revived, and deletes the
 * pack file. Readers never wait: a reader that looked a chunk up before it moved and finds the
 * pack gone looks it up again. docs/architecture.md ("Why compaction is safe against concurrent
 * dedup") gives the argument; docs/operations.md the knobs.
 *
 * Thread safety: any thread may call gc_run(); runs are serialised per store.
 */
#ifndef CAIRN_GC_H
#define CAIRN_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/store.h"

#define GC_DEFAULT_THRESHOLD 0.5
#define GC_DEFAULT_GRACE_MS 60000u

struct gc_config {
	double threshold;   /* compact a pack when (size - live) / size >= threshold (0 < t <= 1) */
	uint32_t max_packs; /* packs compacted per run at most (0: no limit) */
	uint32_t grace_ms;  /* how long a run waits for older PUTs before it defers a pack to the
			       next run (its dead chunks are dropped already; only the file stays) */
};

/* What a run did. Byte counts are pack file bytes. */
struct gc_result {
	uint64_t packs;		  /* pack files seen */
	uint64_t packs_selected;  /* packs compacted (or finished from an earlier run) */
	uint64_t packs_removed;	  /* pack files deleted */
	uint64_t packs_deferred;  /* waiting for older PUTs: the next run deletes them */
	uint64_t packs_kept;	  /* not deletable: a referenced record was unreadable (logged) */
	uint64_t chunks_moved;	  /* referenced records copied */
	uint64_t bytes_moved;	  /* their bytes */
	uint64_t chunks_dropped;  /* unreferenced chunk entries removed from the index */
	uint64_t bytes_before;	  /* pack bytes before the run */
	uint64_t bytes_after;	  /* pack bytes after it */
	uint64_t dead_bytes_seen; /* dead bytes of all packs when the run started */
	uint64_t ms;		  /* duration */
};

/* Fills cfg with the defaults (threshold 0.5, no pack limit, 60 s grace). */
void gc_config_default(struct gc_config *cfg);

/*
 * Runs one compaction over st (opened STORE_MODE_WRITE). Reads and writes go on meanwhile.
 * Fills out (also after an error, with what was done). Returns 0, CAIRN_E_READONLY,
 * CAIRN_E_INVAL (bad threshold), -ENOSPC (no room for the copies: nothing is lost, the pack
 * stays), or another error from the pack store or the index.
 */
int gc_run(struct store *st, const struct gc_config *cfg, struct gc_result *out);

/* Writes out as one JSON object (no newline) into buf. Returns 0 or CAIRN_E_TOOBIG. */
int gc_result_json(const struct gc_result *r, struct buf *out);

/* ---- the background service (cairnd) ---- */

/* What the service has done. */
struct gc_status {
	bool enabled;	       /* a service runs in this process */
	bool running;	       /* a run is under way */
	bool pending;	       /* a run was requested and has not started */
	uint64_t runs;	       /* runs finished */
	int last_rc;	       /* the last run's return */
	int64_t last_end_ns;   /* when it ended (0: never) */
	struct gc_result last; /* what it did */
	uint64_t interval_s;   /* periodic runs (0: only on request) */
};

/* Starts the service thread of st: a run every interval_s seconds (0: only when triggered),
 * with cfg (copied). One service per store. Returns 0, CAIRN_E_EXISTS, CAIRN_E_READONLY,
 * CAIRN_E_INVAL or -errno. */
int gc_service_start(struct store *st, const struct gc_config *cfg, uint64_t interval_s);

/* Stops the service (waits for a run under way to end; a run waiting for old PUTs gives up and
 * defers its pack). No-op without a service. */
void gc_service_stop(struct store *st);

/* Asks the service for a run (coalesced with one already pending). When wait_s > 0, waits up to
 * that many seconds for a run that started after the request to finish. Returns 0 (requested,
 * or finished when waiting: status says how), CAIRN_E_NOTFOUND (no service), -ETIMEDOUT. */
int gc_service_trigger(struct store *st, uint32_t wait_s, struct gc_status *status);

/* Fills out (enabled false when there is no service). */
void gc_service_status(struct store *st, struct gc_status *out);

/* Writes the status as one JSON object into out. Returns 0 or CAIRN_E_TOOBIG. */
int gc_status_json(const struct gc_status *s, struct buf *out);

#endif
