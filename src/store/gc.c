/*
 * gc.c — the pack compactor (gc.h has the contract, gc_state.c the state it shares with puts
 * and readers).
 *
 * One run:
 *   plan     list the pack files and their sizes; one read snapshot of the chunk table sums the
 *            record bytes of referenced chunks per pack (live); dead = size - live. Packs below
 *            the one being appended to qualify at the threshold; the current pack is sealed
 *            (appends move on to a new pack) when it qualifies itself.
 *   per pack P:
 *     move   the entries located in P (one snapshot scan) are worked in batches: referenced
 *            records are read, appended to the current pack and fdatasynced, then one write txn
 *            points each entry that still names its old place at the copy; unreferenced entries
 *            are deleted in the same txn, each leaving a tombstone (its old location, valid while
 *            P exists).
 *     grace  a barrier, then wait until every put registered before it has ended (gc_state.c).
 *     finish P's tombstones go; in-flight entries located in P (a long put that began before P
 *            was sealed, or pins outliving the put that appended) are copied and repointed; a
 *            last snapshot scan finds entries still in P (revived from a tombstone, or committed
 *            from an in-flight location before it was repointed) and moves them; P's row in the
 *            packs table goes; the file is deleted.
 * A pack whose grace does not come within cfg->grace_ms is deferred: the next run finishes it.
 * A referenced record that cannot be read keeps its pack (logged; `cairn fsck --repair`).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "gc_priv.h"

#define GC_BATCH 256 /* records copied per sync and write txn */

/* A pack file as the plan sees it. */
struct gc_pack {
	uint32_t id;
	uint64_t size;
	uint64_t live;
};

/* One chunk entry located in the pack being compacted. */
struct gc_ent {
	struct chunk_id id;
	struct chunk_loc loc; /* where the entry pointed when it was collected */
	struct chunk_loc to;  /* the copy (moves) */
	uint64_t refcount;
	bool moved; /* a copy exists */
	bool done;  /* the write txn applied it */
};

/* Per-pack byte deltas of one write txn. */
#define GC_DELTAS 8

struct gc_delta {
	uint32_t pack_id;
	int64_t live;
	int64_t dead;
};

struct gc_run {
	struct store *st;
	const struct gc_config *cfg;
	struct gc_result *res;
	struct gc_pack *packs;
	size_t npacks;
	size_t packs_cap;
	uint32_t pack_id; /* the pack being worked */
	struct gc_ent *ents;
	size_t nents;
	size_t ents_cap;
	bool keep;	/* P has a referenced record that could not be read */
	bool move_dead; /* finishing: unreferenced entries are moved too, never dropped */
	struct buf rec;
	/* the write txn */
	struct gc_ent *batch;
	size_t nbatch;
	struct gc_delta deltas[GC_DELTAS];
	size_t ndeltas;
};

void
gc_config_default(struct gc_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->threshold = GC_DEFAULT_THRESHOLD;
	cfg->grace_ms = GC_DEFAULT_GRACE_MS;
}

static int64_t
gc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- plan ---- */

static int
gc_pack_add(uint32_t pack_id, void *arg)
{
	struct gc_run *r = arg;

	if (r->npacks == r->packs_cap) {
		r->packs_cap = r->packs_cap ? 2 * r->packs_cap : 64;
		r->packs = realloc(r->packs, r->packs_cap * sizeof(*r->packs));
		if (!r->packs)
			abort();
	}
	r->packs[r->npacks].id = pack_id;
	r->packs[r->npacks].size = 0;
	r->packs[r->npacks].live = 0;
	r->npacks++;
	return 0;
}

static int
gc_pack_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct gc_pack *)a)->id, y = ((const struct gc_pack *)b)->id;

	return x < y ? -1 : x > y;
}

static struct gc_pack *
gc_pack_find(struct gc_run *r, uint32_t pack_id)
{
	struct gc_pack key = {.id = pack_id};

	if (r->npacks == 0) /* r->packs may be NULL, which bsearch must not get */
		return NULL;
	return bsearch(&key, r->packs, r->npacks, sizeof(*r->packs), gc_pack_cmp);
}

static int
gc_count_live(const struct chunk_id *id, const struct index_chunk *c, void *arg)
{
	struct gc_run *r = arg;
	struct gc_pack *p;

	(void)id;
	if (c->refcount == 0)
		return 0;
	p = gc_pack_find(r, c->loc.pack_id);
	if (p)
		p->live += c->loc.record_len;
	return 0;
}

/* Chunks puts are writing count as live (they are not in the index yet). */
static void
gc_count_inflight(struct gc_run *r)
{
	struct inflight *fl = &r->st->fl;
	struct gc_pack *p;
	size_t i;

	pthread_mutex_lock(&fl->mu);
	for (i = 0; i < fl->map.cap; i++) {
		if (!fl->map.slots[i].used)
			continue;
		p = gc_pack_find(r, fl->map.slots[i].loc.pack_id);
		if (p)
			p->live += fl->map.slots[i].loc.record_len;
	}
	pthread_mutex_unlock(&fl->mu);
}

/* True when pack_id waits for its grace (an earlier run finishes it). */
static bool
gc_is_retired(struct store_gc *gc, uint32_t pack_id)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&gc->mu);
	for (i = 0; i < gc->nretired && !found; i++)
		found = gc->retired[i].pack_id == pack_id;
	pthread_mutex_unlock(&gc->mu);
	return found;
}

/* Lists the pack files with their sizes and live bytes. */
static int
gc_plan_scan(struct gc_run *r)
{
	struct index_txn *txn;
	size_t i;
	int rc;

	rc = packstore_list(r->st->ps, gc_pack_add, r);
	if (rc < 0)
		return rc;
	if (r->npacks > 1) /* with no pack at all r->packs is NULL, which qsort must not get */
		qsort(r->packs, r->npacks, sizeof(*r->packs), gc_pack_cmp);
	for (i = 0; i < r->npacks; i++) {
		rc = packstore_pack_size(r->st->ps, r->packs[i].id, &r->packs[i].size);
		if (rc == CAIRN_E_NOTFOUND)
			r->packs[i].size = 0; /* removed meanwhile */
		else if (rc < 0)
			return rc;
		r->res->bytes_before += r->packs[i].size;
	}
	rc = index_read_begin(r->st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_chunk_iter(txn, gc_count_live, r);
	index_read_end(txn);
	if (rc == 0)
		gc_count_inflight(r);
	return rc;
}

static uint64_t
gc_dead(const struct gc_pack *p)
{
	return p->size > p->live ? p->size - p->live : 0;
}

static bool
gc_qualifies(const struct gc_run *r, const struct gc_pack *p)
{
	uint64_t dead = gc_dead(p);

	if (p->size == 0)
		return true;
	return dead > 0 && (double)dead >= r->cfg->threshold * (double)p->size;
}

/* Orders the selected packs by dead bytes, most first. */
static int
gc_dead_cmp(const void *a, const void *b)
{
	uint64_t x = gc_dead(a), y = gc_dead(b);

	return x > y ? -1 : x < y;
}

/* Keeps the packs to compact at the front of r->packs (r->npacks of them). The current pack is
 * sealed when it qualifies, so that it becomes one of them. */
static int
gc_plan(struct gc_run *r)
{
	uint32_t cur = packstore_current(r->st->ps), sealed;
	size_t i, n = 0;
	int rc;

	rc = gc_plan_scan(r);
	if (rc < 0)
		return rc;
	r->res->packs = r->npacks;
	for (i = 0; i < r->npacks; i++) {
		r->res->dead_bytes_seen += gc_dead(&r->packs[i]);
		if (r->packs[i].id > cur || !gc_qualifies(r, &r->packs[i]) ||
		    gc_is_retired(r->st->gc, r->packs[i].id))
			continue;
		if (r->packs[i].id == cur) {
			rc = packstore_seal(r->st->ps, &sealed);
			if (rc < 0)
				return rc;
			if (sealed != cur)
				continue;
		}
		r->packs[n++] = r->packs[i];
	}
	r->npacks = n;
	if (n > 1)
		qsort(r->packs, n, sizeof(*r->packs), gc_dead_cmp);
	if (r->cfg->max_packs && r->npacks > r->cfg->max_packs)
		r->npacks = r->cfg->max_packs;
	return 0;
}

/* ---- collecting the entries located in a pack ---- */

static int
gc_collect_one(const struct chunk_id *id, const struct index_chunk *c, void *arg)
{
	struct gc_run *r = arg;
	struct gc_ent *e;

	if (c->loc.pack_id != r->pack_id)
		return 0;
	if (r->nents == r->ents_cap) {
		r->ents_cap = r->ents_cap ? 2 * r->ents_cap : 256;
		r->ents = realloc(r->ents, r->ents_cap * sizeof(*r->ents));
		if (!r->ents)
			abort();
	}
	e = &r->ents[r->nents++];
	memset(e, 0, sizeof(*e));
	e->id = *id;
	e->loc = c->loc;
	e->refcount = c->refcount;
	return 0;
}

/* Fills r->ents with the index entries located in r->pack_id (one snapshot). */
static int
gc_collect(struct gc_run *r)
{
	struct index_txn *txn;
	int rc;

	r->nents = 0;
	rc = index_read_begin(r->st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_chunk_iter(txn, gc_collect_one, r);
	index_read_end(txn);
	return rc;
}

/* ---- the write txn of a batch ---- */

static int gc_flush_deltas(struct gc_run *r, struct index_txn *txn);

static int
gc_delta(struct gc_run *r, struct index_txn *txn, uint32_t pack_id, int64_t bytes, bool live)
{
	size_t i;
	int rc;

	for (i = 0; i < r->ndeltas && r->deltas[i].pack_id != pack_id; i++)
		;
	if (i == r->ndeltas) {
		if (i == GC_DELTAS) {
			rc = gc_flush_deltas(r, txn);
			if (rc < 0)
				return rc;
			i = 0;
		}
		r->deltas[i].pack_id = pack_id;
		r->deltas[i].live = 0;
		r->deltas[i].dead = 0;
		r->ndeltas = i + 1;
	}
	if (live)
		r->deltas[i].live += bytes;
	else
		r->deltas[i].dead += bytes;
	return 0;
}

static uint64_t
gc_apply_delta(uint64_t cur, int64_t d, uint32_t pack_id)
{
	if (d < 0 && (uint64_t)-d > cur) {
		log_warn("gc: pack %" PRIu32 " accounting would go below zero; fsck will tell",
			 pack_id);
		return 0;
	}
	return cur + (uint64_t)d;
}

static int
gc_flush_deltas(struct gc_run *r, struct index_txn *txn)
{
	struct index_pack p;
	size_t i;
	int rc;

	for (i = 0; i < r->ndeltas; i++) {
		rc = index_pack_get(txn, r->deltas[i].pack_id, &p);
		if (rc < 0)
			return rc;
		p.live_bytes =
		    gc_apply_delta(p.live_bytes, r->deltas[i].live, r->deltas[i].pack_id);
		p.dead_bytes =
		    gc_apply_delta(p.dead_bytes, r->deltas[i].dead, r->deltas[i].pack_id);
		rc = index_pack_put(txn, r->deltas[i].pack_id, &p);
		if (rc < 0)
			return rc;
	}
	r->ndeltas = 0;
	return 0;
}

static bool
gc_loc_is(const struct chunk_loc *a, const struct chunk_loc *b)
{
	return a->pack_id == b->pack_id && a->offset == b->offset && a->record_len == b->record_len;
}

/* Applies one entry: a moved one is repointed at its copy, an unreferenced one is dropped
 * (leaving a tombstone). Entries that changed since they were collected are left alone: the
 * finish step looks at P again. */
static int
gc_apply_one(struct gc_run *r, struct index_txn *txn, struct gc_ent *e)
{
	struct index_chunk c;
	int64_t len = e->loc.record_len;
	int rc;

	rc = index_chunk_get(txn, &e->id, &c);
	if (rc == CAIRN_E_NOTFOUND || (rc == 0 && !gc_loc_is(&c.loc, &e->loc)))
		return 0;
	if (rc < 0)
		return rc;
	if (e->moved) {
		c.loc = e->to;
		rc = index_chunk_put(txn, &e->id, &c);
		if (rc == 0)
			rc = gc_delta(r, txn, e->loc.pack_id, -len, c.refcount > 0);
		if (rc == 0)
			rc = gc_delta(r, txn, e->to.pack_id, len, c.refcount > 0);
	} else if (c.refcount == 0) {
		rc = index_chunk_del(txn, &e->id);
		if (rc == 0)
			rc = gc_delta(r, txn, e->loc.pack_id, -len, false);
		if (rc == 0)
			gc_tomb_add(r->st->gc, &e->id, &e->loc);
	} else {
		return 0; /* revived since it was collected: moved by the finish step */
	}
	if (rc == 0)
		e->done = true;
	return rc;
}

static int
gc_apply_fn(struct index_txn *txn, void *arg)
{
	struct gc_run *r = arg;
	size_t i;
	int rc;

	r->ndeltas = 0;
	for (i = 0; i < r->nbatch; i++) {
		r->batch[i].done = false;
		rc = gc_apply_one(r, txn, &r->batch[i]);
		if (rc < 0)
			return rc;
	}
	return gc_flush_deltas(r, txn);
}

/* ---- copying ---- */

/* Copies e's record to the current pack. An unreadable record keeps the pack (logged). */
static int
gc_copy_one(struct gc_run *r, struct gc_ent *e)
{
	char hex[2 * CHUNK_ID_LEN + 1];
	int rc;

	rc = packstore_read(r->st->ps, &e->loc, &r->rec);
	if (rc == 0 && memcmp(r->rec.p + GC_RECORD_ID_OFF, e->id.b, CHUNK_ID_LEN) != 0)
		rc = CAIRN_E_CORRUPT;
	if (rc < 0 && rc != -ENOENT) {
		chunk_id_hex(&e->id, hex);
		log_error("gc: chunk %s (pack %" PRIu32 " offset %" PRIu64 ") cannot be read: %s; "
			  "the pack is kept (see cairn fsck)",
			  hex, e->loc.pack_id, e->loc.offset, cairn_strerror(rc));
		r->keep = true;
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = packstore_append(r->st->ps, r->rec.p, r->rec.len, &e->to);
	if (rc < 0)
		return rc;
	e->moved = true;
	return 0;
}

/* Copies the referenced records of batch[n], syncs, and applies the batch in one txn. */
static int
gc_batch(struct gc_run *r, struct gc_ent *batch, size_t n)
{
	bool copies = false;
	size_t i;
	int rc = 0;

	gc_set_copying(r->st->gc, true);
	for (i = 0; i < n && rc == 0; i++) {
		if (batch[i].refcount > 0 || r->move_dead) {
			rc = gc_copy_one(r, &batch[i]);
			copies |= batch[i].moved;
		}
	}
	if (rc == 0 && copies)
		rc = packstore_sync(r->st->ps);
	if (rc == 0) {
		r->batch = batch;
		r->nbatch = n;
		rc = index_write(r->st->ix, gc_apply_fn, r);
	}
	gc_set_copying(r->st->gc, false);
	for (i = 0; rc == 0 && i < n; i++) {
		if (!batch[i].done)
			continue;
		if (batch[i].moved) {
			r->res->chunks_moved++;
			r->res->bytes_moved += batch[i].loc.record_len;
		} else {
			r->res->chunks_dropped++;
		}
	}
	return rc;
}

/* Collects the entries located in r->pack_id and works them in batches. */
static int
gc_move_all(struct gc_run *r)
{
	size_t i, n;
	int rc;

	rc = gc_collect(r);
	for (i = 0; rc == 0 && i < r->nents; i += n) {
		n = r->nents - i < GC_BATCH ? r->nents - i : GC_BATCH;
		rc = gc_batch(r, r->ents + i, n);
	}
	return rc;
}

/* ---- finishing a pack ---- */

/* Copies in-flight entries located in pack_id and repoints them (the table's entries must name
 * live records for as long as they exist: a commit may turn one into an index entry). */
static int
gc_rescue_inflight(struct gc_run *r)
{
	struct inflight *fl = &r->st->fl;
	struct idmap_entry *m;
	size_t i, n = 0;
	int rc = 0;

	pthread_mutex_lock(&fl->mu);
	for (i = 0; i < fl->map.cap; i++) {
		m = &fl->map.slots[i];
		if (!m->used || m->loc.pack_id != r->pack_id)
			continue;
		gc_collect_one(&m->id, &(struct index_chunk){.loc = m->loc, .refcount = 1}, r);
		n++;
	}
	pthread_mutex_unlock(&fl->mu);
	if (n == 0)
		return 0;
	gc_set_copying(r->st->gc, true);
	for (i = 0; rc == 0 && i < r->nents; i++)
		rc = gc_copy_one(r, &r->ents[i]);
	if (rc == 0)
		rc = packstore_sync(r->st->ps);
	gc_set_copying(r->st->gc, false);
	pthread_mutex_lock(&fl->mu);
	for (i = 0; rc == 0 && i < r->nents; i++) {
		m = store_idmap_find(&fl->map, &r->ents[i].id);
		if (!r->ents[i].moved)
			continue;
		r->res->chunks_moved++;
		r->res->bytes_moved += r->ents[i].loc.record_len;
		if (m && gc_loc_is(&m->loc, &r->ents[i].loc))
			m->loc = r->ents[i].to;
	}
	pthread_mutex_unlock(&fl->mu);
	return rc;
}

static int
gc_drop_row_fn(struct index_txn *txn, void *arg)
{
	struct gc_run *r = arg;
	struct index_pack p;
	int rc;

	rc = index_pack_get(txn, r->pack_id, &p);
	if (rc < 0)
		return rc;
	if (p.live_bytes || p.dead_bytes)
		log_warn("gc: pack %" PRIu32 " is empty but was accounted %" PRIu64
			 " live / %" PRIu64 " dead bytes",
			 r->pack_id, p.live_bytes, p.dead_bytes);
	rc = index_pack_del(txn, r->pack_id);
	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

/* After the grace period: nothing can make a new reference to pack_id; empty it and delete it. */
static int
gc_finish(struct gc_run *r, uint32_t pack_id)
{
	int rc;

	r->pack_id = pack_id;
	r->nents = 0;
	r->keep = false;
	gc_tomb_forget_pack(r->st->gc, pack_id);
	rc = gc_rescue_inflight(r);
	/* An entry still here was revived or committed after the move; a put of the new
	 * generation may have deduplicated against it: move it even if it is unreferenced. */
	r->move_dead = true;
	if (rc == 0)
		rc = gc_move_all(r);
	r->move_dead = false;
	if (rc == 0 && !r->keep)
		rc = gc_collect(r); /* what is left must be nothing */
	if (rc < 0)
		return rc;
	if (r->keep || r->nents > 0) {
		log_warn("gc: pack %" PRIu32 " kept: %zu chunk entries still point into it",
			 pack_id, r->nents);
		r->res->packs_kept++;
		return 0;
	}
	rc = index_write(r->st->ix, gc_drop_row_fn, r);
	if (rc == 0)
		rc = packstore_remove(r->st->ps, pack_id);
	if (rc == CAIRN_E_NOTFOUND)
		rc = 0;
	if (rc == 0)
		r->res->packs_removed++;
	return rc;
}

static void
gc_retire(struct gc_run *r, uint32_t pack_id, uint64_t barrier)
{
	struct store_gc *gc = r->st->gc;

	pthread_mutex_lock(&gc->mu);
	if (gc->nretired == gc->retired_cap) {
		gc->retired_cap = gc->retired_cap ? 2 * gc->retired_cap : 8;
		gc->retired = realloc(gc->retired, gc->retired_cap * sizeof(*gc->retired));
		if (!gc->retired)
			abort();
	}
	gc->retired[gc->nretired].pack_id = pack_id;
	gc->retired[gc->nretired].barrier = barrier;
	gc->nretired++;
	pthread_mutex_unlock(&gc->mu);
	r->res->packs_deferred++;
	log_info("gc: pack %" PRIu32 " waits for older uploads; a later run deletes it", pack_id);
}

/* Finishes the packs of earlier runs whose grace has come. */
static int
gc_finish_retired(struct gc_run *r)
{
	struct store_gc *gc = r->st->gc;
	uint32_t pack_id;
	bool ready;
	size_t i = 0;
	int rc;

	for (;;) {
		pthread_mutex_lock(&gc->mu);
		while (i < gc->nretired && !gc_grace_passed_locked(gc, gc->retired[i].barrier))
			i++;
		ready = i < gc->nretired;
		if (ready) {
			pack_id = gc->retired[i].pack_id;
			gc->retired[i] = gc->retired[--gc->nretired];
		}
		pthread_mutex_unlock(&gc->mu);
		if (!ready)
			return 0;
		r->res->packs_selected++;
		rc = gc_finish(r, pack_id);
		if (rc < 0)
			return rc;
	}
}

/* Compacts one pack: move and drop, grace, finish (or defer). */
static int
gc_pack(struct gc_run *r, uint32_t pack_id)
{
	uint64_t barrier;
	int rc;

	r->pack_id = pack_id;
	r->keep = false;
	rc = gc_move_all(r);
	if (rc < 0)
		return rc;
	if (r->keep) {
		r->res->packs_kept++;
		return 0;
	}
	barrier = gc_barrier(r->st->gc);
	if (!gc_grace_wait(r->st->gc, barrier, r->cfg->grace_ms)) {
		gc_retire(r, pack_id, barrier);
		return 0;
	}
	return gc_finish(r, pack_id);
}

static int
gc_size_after(uint32_t pack_id, void *arg)
{
	struct gc_run *r = arg;
	uint64_t size;

	if (packstore_pack_size(r->st->ps, pack_id, &size) == 0)
		r->res->bytes_after += size;
	return 0;
}

static int
gc_run_locked(struct gc_run *r)
{
	size_t i;
	int rc;

	rc = gc_finish_retired(r);
	if (rc == 0)
		rc = gc_plan(r);
	for (i = 0; rc == 0 && i < r->npacks; i++) {
		r->res->packs_selected++;
		rc = gc_pack(r, r->packs[i].id);
	}
	packstore_list(r->st->ps, gc_size_after, r);
	return rc;
}

int
gc_run(struct store *st, const struct gc_config *cfg, struct gc_result *out)
{
	struct gc_run r = {.st = st, .cfg = cfg, .res = out};
	int64_t t0 = gc_now_ms();
	int rc;

	memset(out, 0, sizeof(*out));
	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	if (!(cfg->threshold > 0 && cfg->threshold <= 1))
		return CAIRN_E_INVAL;
	buf_init(&r.rec, STORE_RECORD_MAX);
	pthread_mutex_lock(&st->gc->run_mu);
	rc = gc_run_locked(&r);
	pthread_mutex_unlock(&st->gc->run_mu);
	buf_fini(&r.rec);
	free(r.packs);
	free(r.ents);
	out->ms = (uint64_t)(gc_now_ms() - t0);
	if (rc < 0)
		log_error("gc: run failed: %s", cairn_strerror(rc));
	else if (out->packs_selected)
		log_info("gc: %" PRIu64 " packs compacted, %" PRIu64 " removed, %" PRIu64
			 " moved chunks (%" PRIu64 " bytes), %" PRIu64
			 " dropped; pack bytes %" PRIu64 " -> %" PRIu64 " in %" PRIu64 " ms",
			 out->packs_selected, out->packs_removed, out->chunks_moved,
			 out->bytes_moved, out->chunks_dropped, out->bytes_before, out->bytes_after,
			 out->ms);
	return rc;
}

int
gc_result_json(const struct gc_result *g, struct buf *out)
{
	char s[768];

	snprintf(s, sizeof(s),
		 "{\"packs\":%" PRIu64 ",\"packs_selected\":%" PRIu64 ",\"packs_removed\":%" PRIu64
		 ",\"packs_deferred\":%" PRIu64 ",\"packs_kept\":%" PRIu64
		 ",\"chunks_moved\":%" PRIu64 ",\"bytes_moved\":%" PRIu64
		 ",\"chunks_dropped\":%" PRIu64 ",\"bytes_before\":%" PRIu64
		 ",\"bytes_after\":%" PRIu64 ",\"dead_bytes_seen\":%" PRIu64 ",\"ms\":%" PRIu64 "}",
		 g->packs, g->packs_selected, g->packs_removed, g->packs_deferred, g->packs_kept,
		 g->chunks_moved, g->bytes_moved, g->chunks_dropped, g->bytes_before,
		 g->bytes_after, g->dead_bytes_seen, g->ms);
	return buf_append_str(out, s);
}
