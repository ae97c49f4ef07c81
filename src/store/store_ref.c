/*
 * store_ref.c — chunk reference counts and the packs table's live/dead byte accounting, inside
 * write transactions.
 *
 * A chunk's refcount counts the page entries (of live objects and zombies) naming it. At 0 the
 * chunk's record stays in its pack as dead bytes until a compactor reclaims it; it is still found
 * by dedup and revived (dead -> live) when referenced again. Pack byte changes are gathered per
 * transaction and applied once per pack (store_ref_flush), not once per chunk.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "store_internal.h"

void
store_wctx_init(struct store_wctx *w, struct store *st)
{
	memset(w, 0, sizeof(*w));
	w->st = st;
	w->scratch = malloc(STORE_PAGE_BYTES);
	if (!w->scratch)
		abort();
}

void
store_wctx_fini(struct store_wctx *w)
{
	free(w->scratch);
	w->scratch = NULL;
}

void
store_wctx_reset(struct store_wctx *w)
{
	w->ndeltas = 0;
}

static int64_t
ref_apply(uint64_t cur, int64_t d, uint32_t pack_id, const char *what)
{
	if (d < 0 && (uint64_t)-d > cur) {
		log_warn("store: pack %u %s bytes would go below zero; fsck will report it",
			 pack_id, what);
		return 0;
	}
	return (int64_t)(cur + (uint64_t)d);
}

int
store_ref_flush(struct store_wctx *w, struct index_txn *txn)
{
	struct index_pack p;
	struct pack_delta *d;
	size_t i;
	int rc;

	for (i = 0; i < w->ndeltas; i++) {
		d = &w->deltas[i];
		if (d->live == 0 && d->dead == 0)
			continue;
		rc = index_pack_get(txn, d->pack_id, &p);
		if (rc < 0)
			return rc;
		p.live_bytes = (uint64_t)ref_apply(p.live_bytes, d->live, d->pack_id, "live");
		p.dead_bytes = (uint64_t)ref_apply(p.dead_bytes, d->dead, d->pack_id, "dead");
		rc = index_pack_put(txn, d->pack_id, &p);
		if (rc < 0)
			return rc;
	}
	w->ndeltas = 0;
	return 0;
}

static int
ref_delta(struct store_wctx *w, struct index_txn *txn, const struct chunk_loc *loc, int64_t live,
	  int64_t dead)
{
	size_t i;
	int rc;

	for (i = 0; i < w->ndeltas; i++)
		if (w->deltas[i].pack_id == loc->pack_id)
			break;
	if (i == w->ndeltas) {
		if (w->ndeltas == STORE_DELTAS) {
			rc = store_ref_flush(w, txn);
			if (rc < 0)
				return rc;
			i = 0;
		}
		w->deltas[i].pack_id = loc->pack_id;
		w->deltas[i].live = 0;
		w->deltas[i].dead = 0;
		w->ndeltas = i + 1;
	}
	w->deltas[i].live += live;
	w->deltas[i].dead += dead;
	return 0;
}

/* Creates the index entry of a chunk that only the in-flight table knows. */
static int
ref_create(struct store_wctx *w, struct index_txn *txn, const struct chunk_id *id,
	   uint64_t refcount)
{
	struct index_chunk c;
	char hex[2 * CHUNK_ID_LEN + 1];
	int rc;

	rc = store_inflight_loc(w->st, id, &c.loc);
	if (rc == CAIRN_E_NOTFOUND) /* dropped by the compactor after this put saw it (gc.c) */
		rc = store_gc_tomb_loc(w->st, id, &c.loc);
	if (rc == CAIRN_E_NOTFOUND) {
		/* The compactor's grace period should make this impossible (gc.c). */
		chunk_id_hex(id, hex);
		log_error("store: chunk %s vanished before its put committed", hex);
		return CAIRN_E_RETRY;
	}
	c.refcount = refcount;
	rc = index_chunk_put(txn, id, &c);
	if (rc < 0)
		return rc;
	return refcount ? ref_delta(w, txn, &c.loc, c.loc.record_len, 0)
			: ref_delta(w, txn, &c.loc, 0, c.loc.record_len);
}

int
store_ref_inc(struct store_wctx *w, struct index_txn *txn, const struct chunk_id *id)
{
	struct index_chunk c;
	int64_t rl;
	int rc;

	rc = index_chunk_get(txn, id, &c);
	if (rc == CAIRN_E_NOTFOUND)
		return ref_create(w, txn, id, 1);
	if (rc < 0)
		return rc;
	if (c.refcount == 0) {
		rl = c.loc.record_len;
		rc = ref_delta(w, txn, &c.loc, rl, -rl);
		if (rc < 0)
			return rc;
	}
	c.refcount++;
	return index_chunk_put(txn, id, &c);
}

int
store_ref_ensure(struct store_wctx *w, struct index_txn *txn, const struct chunk_id *id)
{
	struct index_chunk c;
	int rc;

	rc = index_chunk_get(txn, id, &c);
	if (rc == CAIRN_E_NOTFOUND)
		return ref_create(w, txn, id, 0);
	return rc;
}

int
store_ref_dec(struct store_wctx *w, struct index_txn *txn, const struct chunk_id *id)
{
	char hex[2 * CHUNK_ID_LEN + 1];
	struct index_chunk c;
	int64_t rl;
	int rc;

	rc = index_chunk_get(txn, id, &c);
	if (rc < 0 && rc != CAIRN_E_NOTFOUND)
		return rc;
	if (rc == CAIRN_E_NOTFOUND || c.refcount == 0) {
		/* Releasing must not get stuck on a damaged entry: log it, fsck reports it. */
		chunk_id_hex(id, hex);
		log_error("store: releasing a reference to chunk %s that %s", hex,
			  rc ? "is not in the index" : "has no references");
		return 0;
	}
	if (--c.refcount == 0) {
		rl = c.loc.record_len;
		rc = ref_delta(w, txn, &c.loc, -rl, rl);
		if (rc < 0)
			return rc;
	}
	return index_chunk_put(txn, id, &c);
}

struct release_arg {
	struct store_wctx *w;
	struct index_txn *txn;
};

static int
release_page(uint64_t start, const struct index_page_entry *e, size_t n, void *arg)
{
	struct release_arg *ra = arg;
	size_t i;
	int rc;

	(void)start;
	if (n > INDEX_PAGE_ENTRIES)
		return CAIRN_E_CORRUPT;
	/* Work from a copy: the entries point into the map, which the updates below may touch. */
	memcpy(ra->w->scratch, e, n * sizeof(*e));
	for (i = 0; i < n; i++) {
		rc = store_ref_dec(ra->w, ra->txn, &ra->w->scratch[i].id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
store_ref_release_pages(struct store_wctx *w, struct index_txn *txn, uint64_t oid)
{
	struct release_arg ra = {w, txn};

	return index_page_iter(txn, oid, true, release_page, &ra);
}
