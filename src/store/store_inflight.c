/*
 * store_inflight.c — the table of chunks that puts have appended to packs but not yet committed
 * to the index.
 *
 * Why: two puts receiving the same new chunk at the same moment would both miss it in the index
 * and both append it. Every chunk a put appends, or finds here, is pinned in this table until the
 * put commits (the index then holds it) or aborts; the check for an existing entry and the append
 * of a new record happen under one mutex, so a chunk is appended once. Encoding and hashing
 * happen before, outside the lock; only the append (a pwrite into the page cache) runs under it.
 *
 * The epoch: an entry leaves the table when its last pin goes, usually because the put that
 * wrote it committed. A put that checked the index before that commit and the table after it would
 * find the chunk in neither; the epoch (bumped on every removal) tells it to look in the index
 * again before appending a copy.
 */
#include <stdlib.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "store_internal.h"

/* After this many index re-checks under heavy commit traffic, append anyway: a duplicate record
 * wastes space (the compactor reclaims it) but is never wrong. */
#define INFLIGHT_RECHECKS 4

int
store_inflight_init(struct inflight *fl)
{
	if (pthread_mutex_init(&fl->mu, NULL) != 0)
		abort();
	store_idmap_init(&fl->map);
	fl->epoch = 0;
	return 0;
}

void
store_inflight_fini(struct inflight *fl)
{
	store_idmap_fini(&fl->map);
	pthread_mutex_destroy(&fl->mu);
}

int
store_chunk_indexed(struct store *st, const struct chunk_id *id, struct index_chunk *out)
{
	struct index_chunk c;
	struct index_txn *txn;
	int rc;

	rc = index_read_begin(st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_chunk_get(txn, id, out ? out : &c);
	index_read_end(txn);
	if (rc == CAIRN_E_NOTFOUND)
		return 0;
	return rc < 0 ? rc : 1;
}

bool
store_inflight_pin(struct store *st, const struct chunk_id *id, uint64_t *epoch)
{
	struct idmap_entry *e;
	bool pinned = false;

	pthread_mutex_lock(&st->fl.mu);
	e = store_idmap_find(&st->fl.map, id);
	if (e) {
		e->a++;
		pinned = true;
	}
	*epoch = st->fl.epoch;
	pthread_mutex_unlock(&st->fl.mu);
	return pinned;
}

/* Under fl.mu: pins an existing entry, or appends rec and enters it. Returns 0 (pinned), 1 (the
 * epoch moved: look in the index again), or an append error. */
static int
inflight_add_locked(struct store *st, const struct chunk_id *id, const uint8_t *rec, size_t len,
		    uint64_t *epoch, bool force)
{
	struct idmap_entry *e = store_idmap_find(&st->fl.map, id);
	struct chunk_loc loc;
	int rc;

	if (e) {
		e->a++;
		return 0;
	}
	if (!force && st->fl.epoch != *epoch) {
		*epoch = st->fl.epoch;
		return 1;
	}
	rc = packstore_append(st->ps, rec, len, &loc);
	if (rc < 0)
		return rc;
	e = store_idmap_insert(&st->fl.map, id);
	e->loc = loc;
	e->a = 1;
	return 0;
}

int
store_inflight_add(struct store *st, const struct chunk_id *id, const uint8_t *rec, size_t len,
		   uint64_t epoch)
{
	int rc, tries;

	for (tries = 0;; tries++) {
		pthread_mutex_lock(&st->fl.mu);
		rc = inflight_add_locked(st, id, rec, len, &epoch, tries >= INFLIGHT_RECHECKS);
		pthread_mutex_unlock(&st->fl.mu);
		if (rc != 1)
			return rc;
		rc = store_chunk_indexed(st, id, NULL);
		if (rc != 0)
			return rc; /* 1: the index has it now; or an error */
	}
}

void
store_inflight_unpin(struct store *st, const struct chunk_id *ids, size_t n)
{
	struct idmap_entry *e;
	size_t i;

	pthread_mutex_lock(&st->fl.mu);
	for (i = 0; i < n; i++) {
		e = store_idmap_find(&st->fl.map, &ids[i]);
		if (!e || e->a == 0) {
			log_error("store: unpin of a chunk that is not pinned");
			continue;
		}
		if (--e->a == 0) {
			store_idmap_remove(&st->fl.map, e);
			st->fl.epoch++;
		}
	}
	pthread_mutex_unlock(&st->fl.mu);
}

int
store_inflight_loc(struct store *st, const struct chunk_id *id, struct chunk_loc *loc)
{
	struct idmap_entry *e;
	int rc = CAIRN_E_NOTFOUND;

	pthread_mutex_lock(&st->fl.mu);
	e = store_idmap_find(&st->fl.map, id);
	if (e) {
		*loc = e->loc;
		rc = 0;
	}
	pthread_mutex_unlock(&st->fl.mu);
	return rc;
}
