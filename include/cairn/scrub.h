/*
 * scrub.h — the background scrubber: re-reads every chunk record the index names and verifies it
 * completely (XXH3 checksum, decompression, SHA-256 of the raw bytes against the chunk id), at a
 * bounded rate, round after round. Damage is logged with the chunk id, pack and offset (and
 * counted in the status); `cairn fsck` then names the objects that use the chunk and
 * `cairn fsck --repair` removes them. The scrubber reads the index in short transactions of a
 * few dozen chunks, so it never holds a snapshot for long.
 */
#ifndef CAIRN_SCRUB_H
#define CAIRN_SCRUB_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/store.h"

struct scrub_status {
	bool enabled;
	uint64_t rate;	      /* bytes per second */
	uint64_t passes;      /* rounds completed */
	uint64_t chunks;      /* records verified, all rounds */
	uint64_t bytes;	      /* their bytes */
	uint64_t errors;      /* records that failed, all rounds */
	uint64_t pass_chunks; /* records verified in the current round */
	char last_bad[65];    /* hex id of the last damaged chunk ("" when none) */
	int64_t last_bad_ns;  /* when it was found */
};

/* Starts the scrubber thread of st at rate bytes/s (> 0). One per store; stopped by scrub_stop()
 * or store_close(). Returns 0, CAIRN_E_EXISTS, CAIRN_E_INVAL or -errno. */
int scrub_start(struct store *st, uint64_t rate);

/* Stops the scrubber (promptly: a sleep is interrupted). No-op when none runs. */
void scrub_stop(struct store *st);

/* Fills out (enabled false when no scrubber runs). */
void scrub_status(struct store *st, struct scrub_status *out);

/* Appends the status as one JSON object to out. Returns 0 or CAIRN_E_TOOBIG. */
int scrub_status_json(const struct scrub_status *s, struct buf *out);

#endif
