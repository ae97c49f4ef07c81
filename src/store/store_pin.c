/*
 * store_pin.c — readers' pins on object ids, and what happens to an object that stops being
 * reachable (overwritten or deleted) while someone reads it.
 *
 * An object's chunk references live in its pages, named by its oid. A get reads pages in short
 * transactions as it streams, so the pages must outlive the object's visibility for as long as a
 * get has it open. Design:
 *
 *   get_open   looks the key up (read txn), counts itself as a reader of the oid under pins.mu,
 *              then looks the key up again in a new read txn: the oid must be the same
 *              (pin-then-verify; store_get.c explains why this closes every window). pins.mu is
 *              never held across a read txn begin (the index's resize gate could deadlock).
 *   retire     (inside the write txn that replaces or deletes the object, under pins.mu) checks
 *              the oid's readers: with readers, the oid becomes a zombie (recorded in the index's
 *              zombies table in the same txn, and flagged on the pin); without, the txn releases
 *              the pages itself, after marking the oid "dying" in the pin table.
 *   dying      a get_open that finds a dying oid waits on pins.cv until the mark is cleared
 *              (after index_write returned, whatever the outcome), then looks the key up again.
 *   drop       the last reader of a zombie releases it in its own write txn: it deletes the
 *              zombie record and the pages. If the txn that made the zombie did not commit, there
 *              is no record, and nothing happens (the object is still live).
 *   restart    zombies recorded in the index are released when the store opens for writing
 *              (readers do not survive a restart).
 * Pins are in-process: a READ-mode process (cairn cat) beside the writer is not seen by it; such a
 * reader can fail with CAIRN_E_NOTFOUND if the object is replaced under it, never read wrong bytes
 * (oids are never reused).
 */
#include <stdlib.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "store_internal.h"

int
store_pins_init(struct pins *pins)
{
	if (pthread_mutex_init(&pins->mu, NULL) != 0 || pthread_cond_init(&pins->cv, NULL) != 0)
		abort();
	pins->v = NULL;
	pins->n = 0;
	pins->cap = 0;
	return 0;
}

void
store_pins_fini(struct pins *pins)
{
	free(pins->v);
	pthread_cond_destroy(&pins->cv);
	pthread_mutex_destroy(&pins->mu);
}

/* A linear table: it holds one entry per object being read at this moment. */
struct pin *
store_pin_find(struct pins *pins, uint64_t oid)
{
	size_t i;

	for (i = 0; i < pins->n; i++)
		if (pins->v[i].oid == oid)
			return &pins->v[i];
	return NULL;
}

struct pin *
store_pin_get(struct pins *pins, uint64_t oid)
{
	struct pin *p = store_pin_find(pins, oid);

	if (p)
		return p;
	if (pins->n == pins->cap) {
		pins->cap = pins->cap ? pins->cap * 2 : 16;
		pins->v = realloc(pins->v, pins->cap * sizeof(*pins->v));
		if (!pins->v)
			abort();
	}
	p = &pins->v[pins->n++];
	p->oid = oid;
	p->readers = 0;
	p->zombie = false;
	p->dying = false;
	return p;
}

void
store_pin_remove(struct pins *pins, struct pin *p)
{
	*p = pins->v[--pins->n];
}

static int
pin_mark_dying(struct store_wctx *w, uint64_t oid)
{
	size_t i;

	for (i = 0; i < w->ndying; i++)
		if (w->dying[i] == oid)
			break;
	if (i == w->ndying) {
		if (w->ndying == STORE_DYING_MAX)
			return CAIRN_E_RETRY;
		w->dying[w->ndying++] = oid;
	}
	store_pin_get(&w->st->pins, oid)->dying = true;
	return 0;
}

int
store_pin_retire(struct store_wctx *w, struct index_txn *txn, uint64_t oid)
{
	struct pins *pins = &w->st->pins;
	struct pin *p;
	int rc;

	pthread_mutex_lock(&pins->mu);
	p = store_pin_find(pins, oid);
	if (p && p->readers > 0) {
		p->zombie = true;
		pthread_mutex_unlock(&pins->mu);
		return index_zombie_add(txn, oid);
	}
	rc = pin_mark_dying(w, oid);
	pthread_mutex_unlock(&pins->mu);
	if (rc < 0)
		return rc;
	return store_ref_release_pages(w, txn, oid);
}

void
store_pin_settle(struct store_wctx *w)
{
	struct pins *pins = &w->st->pins;
	struct pin *p;
	size_t i;

	if (w->ndying == 0)
		return;
	pthread_mutex_lock(&pins->mu);
	for (i = 0; i < w->ndying; i++) {
		p = store_pin_find(pins, w->dying[i]);
		if (!p)
			continue;
		p->dying = false;
		if (p->readers == 0)
			store_pin_remove(pins, p);
	}
	w->ndying = 0;
	pthread_cond_broadcast(&pins->cv);
	pthread_mutex_unlock(&pins->mu);
}

struct zombie_one {
	struct store_wctx w;
	uint64_t oid;
};

static int
zombie_release_fn(struct index_txn *txn, void *arg)
{
	struct zombie_one *z = arg;
	struct store_wctx *w = &z->w;
	int rc;

	store_wctx_reset(w);
	rc = index_zombie_del(txn, z->oid);
	if (rc == CAIRN_E_NOTFOUND)
		return 0; /* the txn that made it a zombie did not commit: the object lives on */
	if (rc < 0)
		return rc;
	rc = store_ref_release_pages(w, txn, z->oid);
	if (rc < 0)
		return rc;
	return store_ref_flush(w, txn);
}

static void
pin_release_zombie(struct store *st, uint64_t oid)
{
	struct zombie_one z;
	int rc;

	store_wctx_init(&z.w, st);
	z.oid = oid;
	rc = index_write(st->ix, zombie_release_fn, &z);
	if (rc < 0)
		log_error(
		    "store: releasing replaced object %llu failed (%s); retried at next start",
		    (unsigned long long)oid, cairn_strerror(rc));
	store_wctx_fini(&z.w);
}

void
store_pin_drop(struct store *st, uint64_t oid)
{
	struct pin *p;
	bool zombie = false;

	pthread_mutex_lock(&st->pins.mu);
	p = store_pin_find(&st->pins, oid);
	if (!p || p->readers == 0) {
		pthread_mutex_unlock(&st->pins.mu);
		log_error("store: dropping a pin that is not held (oid %llu)",
			  (unsigned long long)oid);
		return;
	}
	if (--p->readers == 0) {
		zombie = p->zombie;
		store_pin_remove(&st->pins, p);
	}
	pthread_mutex_unlock(&st->pins.mu);
	if (zombie && store_is_writer(st))
		pin_release_zombie(st, oid);
}

#define ZOMBIE_BATCH 64

struct zombie_batch {
	struct store_wctx w;
	uint64_t oids[ZOMBIE_BATCH];
	size_t n;
};

static int
zombie_collect(uint64_t oid, void *arg)
{
	struct zombie_batch *zb = arg;

	zb->oids[zb->n++] = oid;
	return zb->n == ZOMBIE_BATCH ? 1 : 0;
}

static int
zombie_batch_fn(struct index_txn *txn, void *arg)
{
	struct zombie_batch *zb = arg;
	size_t i;
	int rc;

	store_wctx_reset(&zb->w);
	zb->n = 0;
	rc = index_zombie_iter(txn, zombie_collect, zb);
	if (rc < 0)
		return rc;
	for (i = 0; i < zb->n; i++) {
		rc = index_zombie_del(txn, zb->oids[i]);
		if (rc < 0)
			return rc;
		rc = store_ref_release_pages(&zb->w, txn, zb->oids[i]);
		if (rc < 0)
			return rc;
	}
	return store_ref_flush(&zb->w, txn);
}

int
store_zombies_release_all(struct store *st)
{
	struct zombie_batch *zb = calloc(1, sizeof(*zb));
	int rc;

	if (!zb)
		abort();
	store_wctx_init(&zb->w, st);
	do {
		rc = index_write(st->ix, zombie_batch_fn, zb);
		if (rc == 0 && zb->n > 0)
			log_info("store: released %zu objects replaced while being read", zb->n);
	} while (rc == 0 && zb->n == ZOMBIE_BATCH);
	store_wctx_fini(&zb->w);
	free(zb);
	return rc;
}
