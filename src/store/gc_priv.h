/*
 * gc_priv.h — the compaction state a store carries (struct store_gc), shared by gc.c (runs),
 * gc_state.c (put generations, tombstones, relocating reads, the free-space reserve) and
 * gc_service.c (cairnd's background thread). Not an API.
 */
#ifndef CAIRN_GC_PRIV_H
#define CAIRN_GC_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn/gc.h"
#include "store_internal.h"

/* A record's chunk id sits at this offset of its header (the format in pack.h). */
#define GC_RECORD_ID_OFF 16

/* Puts registered in one generation. */
struct gc_gen_count {
	uint64_t gen;
	uint64_t n;
};

/* A pack whose dead chunks were dropped but whose file waits for older puts to finish. */
struct gc_retired {
	uint32_t pack_id;
	uint64_t barrier; /* puts of generations <= barrier may still use its tombstones */
};

struct gc_svc; /* gc_service.c */
struct scrub;  /* scrub.c */

struct store_gc {
	pthread_mutex_t mu;	     /* guards everything below but run_mu and space */
	pthread_cond_t cv;	     /* broadcast when a put leaves or stopping is set */
	uint64_t gen;		     /* generation new puts register in */
	struct gc_gen_count *active; /* in increasing gen order */
	size_t nactive;
	size_t active_cap;
	uint64_t nputs;	    /* puts in progress */
	bool copying;	    /* a run has copies no sync has covered yet: no write recovery now */
	bool stopping;	    /* the service is stopping: a run stops waiting for grace */
	struct idmap tombs; /* dropped chunk id -> its old location (the pack still exists) */
	struct gc_retired *retired;
	size_t nretired;
	size_t retired_cap;
	pthread_mutex_t run_mu; /* one run at a time */
	pthread_mutex_t space_mu;
	int64_t space_checked_ns;
	int space_rc;
	struct gc_svc *svc;  /* the background service, when started */
	struct scrub *scrub; /* the scrubber, when started (scrub.c) */
};

/* gc_state.c */
/* Starts a new generation and returns the last one: once no put of a generation <= the returned
 * barrier is left, no put can still reference what was dropped before the call. */
uint64_t gc_barrier(struct store_gc *gc);
/* True when no put of a generation <= barrier is in progress. Under gc->mu. */
bool gc_grace_passed_locked(const struct store_gc *gc, uint64_t barrier);
/* Waits up to ms for the grace of barrier (false on timeout or stopping). */
bool gc_grace_wait(struct store_gc *gc, uint64_t barrier, uint32_t ms);
/* Tombstones: add (inside the write txn that drops the entry) and forget a whole pack's. */
void gc_tomb_add(struct store_gc *gc, const struct chunk_id *id, const struct chunk_loc *loc);
void gc_tomb_forget_pack(struct store_gc *gc, uint32_t pack_id);
/* Marks (true) or clears the window in which a run has unsynced copies. */
void gc_set_copying(struct store_gc *gc, bool on);

#endif
