/*
 * gc_state.c — what the compactor shares with the rest of the store: put generations (the grace
 * period a run waits for before deleting a pack), tombstones of dropped chunks, reads that follow
 * a moved chunk, the free-space reserve, and recovery from a failed pack sync.
 *
 * Generations: every put registers at begin in the current generation and leaves at free. A run
 * that dropped unreferenced chunk entries takes a barrier (the generation number, then bumps it):
 * a put registered later began after the drop committed, so it can never have seen a dropped
 * entry in the index. Puts of generations up to the barrier may have: their commits find the
 * dropped chunks' old locations in the tombstones until the run has waited for all of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "cairn/scrub.h"
#include "gc_priv.h"

/* Relocations a read tries before it gives up (each needs the chunk to have moved again). */
#define GC_READ_TRIES 4
/* The free-space check is cached this long. */
#define GC_SPACE_CHECK_NS (20 * 1000 * 1000)

int
store_gc_init(struct store *st)
{
	struct store_gc *gc = calloc(1, sizeof(*gc));

	if (!gc)
		abort();
	if (pthread_mutex_init(&gc->mu, NULL) != 0 || pthread_cond_init(&gc->cv, NULL) != 0 ||
	    pthread_mutex_init(&gc->run_mu, NULL) != 0 ||
	    pthread_mutex_init(&gc->space_mu, NULL) != 0)
		abort();
	store_idmap_init(&gc->tombs);
	gc->gen = 1;
	st->gc = gc;
	return 0;
}

void
store_gc_fini(struct store *st)
{
	struct store_gc *gc = st->gc;

	if (!gc)
		return;
	gc_service_stop(st);
	scrub_stop(st);
	store_idmap_fini(&gc->tombs);
	free(gc->active);
	free(gc->retired);
	pthread_mutex_destroy(&gc->space_mu);
	pthread_mutex_destroy(&gc->run_mu);
	pthread_cond_destroy(&gc->cv);
	pthread_mutex_destroy(&gc->mu);
	free(gc);
	st->gc = NULL;
}

/*
 * After a failed fdatasync the pack store refuses every append (pack.c). Writing may go on once
 * nothing can reference a record of unknown durability: no put in progress (the caller is the
 * first), no pin in the in-flight table, no compaction copy waiting for its sync. Under gc->mu.
 */
static void
gc_recover_writes_locked(struct store *st)
{
	int rc;

	if (st->gc->nputs > 0 || st->gc->copying || packstore_error(st->ps) == 0)
		return;
	pthread_mutex_lock(&st->fl.mu);
	if (st->fl.map.n == 0) {
		rc = packstore_recover(st->ps);
		if (rc < 0)
			log_warn(
			    "store: writes resume after a failed pack sync (%s); appends go to "
			    "pack %u",
			    cairn_strerror(rc), packstore_current(st->ps) + 1);
	}
	pthread_mutex_unlock(&st->fl.mu);
}

void
store_gc_put_enter(struct store *st, uint64_t *gen)
{
	struct store_gc *gc = st->gc;

	pthread_mutex_lock(&gc->mu);
	gc_recover_writes_locked(st);
	*gen = gc->gen;
	if (gc->nactive == 0 || gc->active[gc->nactive - 1].gen != gc->gen) {
		if (gc->nactive == gc->active_cap) {
			gc->active_cap = gc->active_cap ? 2 * gc->active_cap : 8;
			gc->active = realloc(gc->active, gc->active_cap * sizeof(*gc->active));
			if (!gc->active)
				abort();
		}
		gc->active[gc->nactive].gen = gc->gen;
		gc->active[gc->nactive].n = 0;
		gc->nactive++;
	}
	gc->active[gc->nactive - 1].n++;
	gc->nputs++;
	pthread_mutex_unlock(&gc->mu);
}

void
store_gc_put_leave(struct store *st, uint64_t gen)
{
	struct store_gc *gc = st->gc;
	size_t i;

	pthread_mutex_lock(&gc->mu);
	for (i = 0; i < gc->nactive && gc->active[i].gen != gen; i++)
		;
	if (i == gc->nactive) {
		log_error("store: a put left generation %llu it was not in",
			  (unsigned long long)gen);
	} else if (--gc->active[i].n == 0) {
		memmove(&gc->active[i], &gc->active[i + 1],
			(gc->nactive - i - 1) * sizeof(*gc->active));
		gc->nactive--;
	}
	gc->nputs--;
	pthread_cond_broadcast(&gc->cv);
	pthread_mutex_unlock(&gc->mu);
}

uint64_t
gc_barrier(struct store_gc *gc)
{
	uint64_t b;

	pthread_mutex_lock(&gc->mu);
	b = gc->gen++;
	pthread_mutex_unlock(&gc->mu);
	return b;
}

bool
gc_grace_passed_locked(const struct store_gc *gc, uint64_t barrier)
{
	return gc->nactive == 0 || gc->active[0].gen > barrier;
}

bool
gc_grace_wait(struct store_gc *gc, uint64_t barrier, uint32_t ms)
{
	struct timespec deadline;
	bool passed;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&gc->mu);
	while (!(passed = gc_grace_passed_locked(gc, barrier)) && !gc->stopping) {
		if (pthread_cond_timedwait(&gc->cv, &gc->mu, &deadline) == ETIMEDOUT) {
			passed = gc_grace_passed_locked(gc, barrier);
			break;
		}
	}
	pthread_mutex_unlock(&gc->mu);
	return passed;
}

void
gc_set_copying(struct store_gc *gc, bool on)
{
	pthread_mutex_lock(&gc->mu);
	gc->copying = on;
	pthread_mutex_unlock(&gc->mu);
}

void
gc_tomb_add(struct store_gc *gc, const struct chunk_id *id, const struct chunk_loc *loc)
{
	pthread_mutex_lock(&gc->mu);
	store_idmap_insert(&gc->tombs, id)->loc = *loc;
	pthread_mutex_unlock(&gc->mu);
}

void
gc_tomb_forget_pack(struct store_gc *gc, uint32_t pack_id)
{
	struct idmap_entry *e;
	size_t i = 0;

	pthread_mutex_lock(&gc->mu);
	/* Backward-shift deletion may move a later entry into slot i: look at i again. */
	while (i < gc->tombs.cap) {
		e = &gc->tombs.slots[i];
		if (e->used && e->loc.pack_id == pack_id)
			store_idmap_remove(&gc->tombs, e);
		else
			i++;
	}
	pthread_mutex_unlock(&gc->mu);
}

int
store_gc_tomb_loc(struct store *st, const struct chunk_id *id, struct chunk_loc *loc)
{
	struct idmap_entry *e;
	int rc = CAIRN_E_NOTFOUND;

	pthread_mutex_lock(&st->gc->mu);
	e = store_idmap_find(&st->gc->tombs, id);
	if (e) {
		*loc = e->loc;
		rc = 0;
	}
	pthread_mutex_unlock(&st->gc->mu);
	return rc;
}

/* Where id is now: the index, else the in-flight table, else a tombstone. */
static int
gc_locate(struct store *st, const struct chunk_id *id, struct chunk_loc *loc)
{
	struct index_chunk c;
	int rc;

	rc = store_chunk_indexed(st, id, &c);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		*loc = c.loc;
		return 0;
	}
	if (store_inflight_loc(st, id, loc) == 0)
		return 0;
	if (!st->gc)
		return CAIRN_E_NOTFOUND;
	return store_gc_tomb_loc(st, id, loc);
}

static bool
gc_loc_equal(const struct chunk_loc *a, const struct chunk_loc *b)
{
	return a->pack_id == b->pack_id && a->offset == b->offset && a->record_len == b->record_len;
}

int
store_record_read(struct store *st, const struct chunk_id *id, struct chunk_loc *loc,
		  struct buf *rec)
{
	struct chunk_loc again;
	bool stale;
	int rc, tries;

	for (tries = 0;; tries++) {
		rc = packstore_read(st->ps, loc, rec);
		stale = rc == -ENOENT;
		if (rc == 0 && memcmp(rec->p + GC_RECORD_ID_OFF, id->b, CHUNK_ID_LEN) != 0) {
			buf_reset(rec);
			rc = CAIRN_E_CORRUPT;
			stale = true;
		}
		if (rc == 0 || !stale || tries == GC_READ_TRIES)
			return rc;
		if (gc_locate(st, id, &again) < 0 || gc_loc_equal(&again, loc))
			return rc;
		*loc = again;
	}
}

static int64_t
gc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Measures the free space and logs when the reserve is crossed either way. Under space_mu. */
static int
gc_space_measure(struct store *st)
{
	struct statvfs sv;
	uint64_t avail;
	int rc;

	if (statvfs(st->dir, &sv) != 0)
		return 0; /* cannot tell: let the write find out */
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	rc = avail < st->cfg.min_free_bytes ? -ENOSPC : 0;
	if (rc != st->gc->space_rc) {
		if (rc < 0)
			log_warn(
			    "store: %llu bytes free on %s, below the reserve of %llu: new data "
			    "is refused until space is freed",
			    (unsigned long long)avail, st->dir,
			    (unsigned long long)st->cfg.min_free_bytes);
		else
			log_info("store: %llu bytes free on %s again: writes accepted",
				 (unsigned long long)avail, st->dir);
	}
	return rc;
}

int
store_space_check(struct store *st)
{
	struct store_gc *gc = st->gc;
	int64_t now;
	int rc;

	if (st->cfg.min_free_bytes == 0)
		return 0;
	now = gc_mono_ns();
	pthread_mutex_lock(&gc->space_mu);
	if (gc->space_checked_ns == 0 || now - gc->space_checked_ns >= GC_SPACE_CHECK_NS) {
		gc->space_rc = gc_space_measure(st);
		gc->space_checked_ns = now;
	}
	rc = gc->space_rc;
	pthread_mutex_unlock(&gc->space_mu);
	return rc;
}
