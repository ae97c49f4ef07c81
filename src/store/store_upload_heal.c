/*
 * store_upload_heal.c — seam healing: making a completed multipart object's chunk list what a
 * single streaming put of its bytes would have produced.
 *
 * Each part is chunked on its own, so at every part boundary (seam) the chunking is unnatural:
 * the part's last chunk is cut short by the end of the part, and the next part's chunker starts
 * afresh at the seam, agreeing again with the natural chunking only after a chunk or three. Those
 * chunks exist nowhere else, so uploading the same bytes with another part size, or by a single
 * PUT, stores them again (about 3 chunks, ~200 KB, per seam of either upload: 1.6% of a file sent
 * in 8 MiB parts, then in 24 MiB parts).
 *
 * Healing re-chunks only around the seams, after completion, in the background (completion itself
 * never reads data). For each seam B: start at s, the first byte of the chunk that ends at B (a
 * natural cut: the chunking left of B agreed with the natural one); feed the object's bytes from s,
 * chunk by chunk, to a fresh put; stop at the first existing cut point E >= B where the put also
 * cuts — from E on, both chunkers are in the same state (a chunker's state is reset at every cut),
 * so every later cut of the part agrees. The entries [s, E) are replaced by the put's, in place,
 * in the object's pages. The bytes are unchanged; chunks only the unnatural list used become dead
 * bytes. Regions go in batches (one put, one transaction each), so memory stays bounded.
 *
 * Readers: the transaction gives up (retried later) when a reader has the object pinned, and marks
 * the oid dying meanwhile, so a get opening during the rewrite waits and then sees the new pages.
 * A completed object is queued in the heals table by the completing transaction; the entry goes
 * when the object is healed, or is found replaced or deleted.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "store_upload_priv.h"

#define HEAL_BATCH 32			      /* regions per put and transaction */
#define HEAL_REGION_MAX (16u << 20)	      /* bytes fed for one seam before giving up */
#define HEAL_OLD_MAX (8 * INDEX_PAGE_ENTRIES) /* old entries one region may span */

struct heal_region {
	uint64_t s, e;	 /* the object range replaced */
	uint64_t rel;	 /* put offset of s */
	uint64_t ia, ib; /* the put's entries [ia, ib) */
};

struct heal {
	struct store *st;
	uint64_t oid;
	const char *bucket;
	struct slice key;
	uint64_t size;
	uint64_t *seams; /* part boundaries, ascending, inside (0, size) */
	size_t nseams;
	size_t next;	 /* the first seam not healed yet */
	uint64_t synced; /* end of the last region: a natural cut */
	struct store_get *g;
	struct store_put *put;
	struct heal_region reg[HEAL_BATCH];
	size_t nreg;
	/* transaction state */
	struct store_wctx w;
	struct upload_pw pw;
	struct index_page_entry *old;  /* HEAL_OLD_MAX */
	struct index_page_entry *ebuf; /* a page of the put's entries */
	uint64_t ebuf_page;
	struct buf meta;
	int64_t delta_chunks;
	bool last; /* this batch ends the object: drop its heals entry */
	uint64_t healed, fed;
};

/* ---- reading the object ---- */

/* The chunk of the object holding byte off: [*cs, *ce). */
static int
heal_chunk_at(struct heal *h, uint64_t off, uint64_t *cs, uint64_t *ce)
{
	struct index_page_entry *e = h->w.scratch;
	struct index_txn *txn;
	uint64_t start;
	size_t n, i;
	int rc;

	rc = index_read_begin(h->st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_page_find(txn, h->oid, off, &start, e, &n);
	index_read_end(txn);
	if (rc < 0)
		return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
	for (i = 0; i < n && e[i].end <= off; i++)
		;
	if (i == n)
		return CAIRN_E_CORRUPT;
	*cs = i ? e[i - 1].end : start;
	*ce = e[i].end;
	return 0;
}

/* Feeds the object's bytes [from, to) (g positioned at from) to the put. */
static int
heal_feed(struct heal *h, uint64_t from, uint64_t to)
{
	struct slice span;
	int rc = 0;

	while (rc == 0 && from < to) {
		rc = store_get_next(h->g, to - from > (1u << 20) ? (1u << 20) : to - from, &span);
		if (rc == 0 && span.len == 0)
			rc = CAIRN_E_CORRUPT;
		if (rc == 0)
			rc = store_put_write(h->put, span.p, span.len);
		from += span.len;
	}
	return rc;
}

/* Re-chunks from the chunk ending at seam h->seams[h->next] until the put cuts where the object
 * does; records the region and moves h->next past every seam it covered. */
static int
heal_region(struct heal *h)
{
	uint64_t b = h->seams[h->next], s, pos, cs, ce;
	struct heal_region *r = &h->reg[h->nreg];
	int rc;

	rc = heal_chunk_at(h, b - 1, &s, &ce);
	if (rc < 0)
		return rc;
	if (s < h->synced)
		s = h->synced;
	r->s = s;
	r->rel = h->put->received;
	r->ia = h->put->ncut; /* the put's chunk-list entry of its next cut */
	rc = store_get_seek(h->g, s);
	for (pos = s; rc == 0;) {
		rc = heal_chunk_at(h, pos, &cs, &ce);
		if (rc == 0 && cs != pos)
			rc = CAIRN_E_CORRUPT;
		if (rc == 0)
			rc = heal_feed(h, pos, ce);
		if (rc < 0)
			return rc;
		h->fed += ce - pos;
		pos = ce;
		/* the put cut where the object does (its chunks are stored later, as their ids
		 * come back from the digest worker: the cuts are what counts here) */
		if (pos == h->size || (pos >= b && h->put->cut_end == h->put->received))
			break;
		if (pos - s > HEAL_REGION_MAX)
			return CAIRN_E_INVAL; /* no agreement: leave the object as it is */
	}
	r->e = pos;
	r->ib = h->put->ncut;
	h->synced = pos;
	while (h->next < h->nseams && h->seams[h->next] <= pos) {
		h->next++;
		h->healed++;
	}
	h->nreg++;
	return 0;
}

/* ---- the transaction ---- */

/* Copies the put's entry k into *out. */
static int
heal_put_entry(struct heal *h, uint64_t k, struct index_page_entry *out)
{
	uint64_t page = k / INDEX_PAGE_ENTRIES;
	int rc;

	if (page == h->put->spilled) {
		*out = h->put->page[k % INDEX_PAGE_ENTRIES];
		return 0;
	}
	if (page != h->ebuf_page) {
		rc = store_put_spill_read(h->put, page, h->ebuf);
		if (rc < 0)
			return rc;
		h->ebuf_page = page;
	}
	*out = h->ebuf[k % INDEX_PAGE_ENTRIES];
	return 0;
}

/* Collects (and deletes) the object's pages overlapping [r->s, r->e) into h->old. */
static int
heal_take_pages(struct heal *h, struct index_txn *txn, const struct heal_region *r, size_t *n,
		uint64_t *first)
{
	uint64_t off = r->s, start;
	size_t got;
	int rc;

	*n = 0;
	do {
		if (*n + INDEX_PAGE_ENTRIES > HEAL_OLD_MAX)
			return CAIRN_E_INVAL;
		rc = index_page_find(txn, h->oid, off, &start, h->old + *n, &got);
		if (rc == 0 && *n == 0)
			*first = start;
		if (rc == 0)
			rc = index_page_del(txn, h->oid, start);
		if (rc < 0)
			return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
		*n += got;
		off = h->old[*n - 1].end;
	} while (off < r->e);
	return 0;
}

/* Rewrites the pages around one region: old entries before s, the put's, old entries after e. */
static int
heal_apply(struct heal *h, struct index_txn *txn, const struct heal_region *r)
{
	struct index_page_entry e;
	uint64_t first = 0, k;
	size_t n, i;
	int rc;

	rc = heal_take_pages(h, txn, r, &n, &first);
	if (rc < 0)
		return rc;
	upload_pw_begin(&h->pw, txn, h->oid);
	h->pw.start = h->pw.end = first;
	for (i = 0; rc == 0 && i < n && h->old[i].end <= r->s; i++)
		rc = upload_pw_add(&h->pw, &h->old[i], 1);
	for (; rc == 0 && i < n && h->old[i].end <= r->e; i++, h->delta_chunks--)
		rc = store_ref_dec(&h->w, txn, &h->old[i].id);
	h->pw.take_refs = true;
	h->pw.delta = r->s - r->rel;
	for (k = r->ia; rc == 0 && k < r->ib; k++, h->delta_chunks++) {
		rc = heal_put_entry(h, k, &e);
		if (rc == 0)
			rc = upload_pw_add(&h->pw, &e, 1);
	}
	h->pw.take_refs = false;
	h->pw.delta = 0;
	if (rc == 0 && h->pw.end != r->e)
		rc = CAIRN_E_CORRUPT;
	if (rc == 0 && i < n)
		rc = upload_pw_add(&h->pw, h->old + i, n - i);
	return rc == 0 ? upload_pw_flush(&h->pw) : rc;
}

/* Under the pins' lock: no reader may have the object open; then new gets wait (dying). */
static int
heal_claim(struct heal *h)
{
	struct pins *pins = &h->st->pins;
	struct pin *p;
	int rc = 0;

	if (h->w.ndying)
		return 0; /* claimed by an earlier run of this transaction */
	pthread_mutex_lock(&pins->mu);
	p = store_pin_find(pins, h->oid);
	if (p && (p->readers > 0 || p->dying)) {
		rc = CAIRN_E_RETRY;
	} else {
		store_pin_get(pins, h->oid)->dying = true;
		h->w.dying[h->w.ndying++] = h->oid;
	}
	pthread_mutex_unlock(&pins->mu);
	return rc;
}

static int
heal_fn(struct index_txn *txn, void *arg)
{
	struct heal *h = arg;
	struct index_object obj;
	size_t i;
	int rc;

	store_wctx_reset(&h->w);
	h->delta_chunks = 0;
	h->ebuf_page = UINT64_MAX;
	rc = index_object_get(txn, h->bucket, h->key, &obj);
	if (rc == 0 && obj.oid != h->oid)
		rc = CAIRN_E_NOTFOUND;
	if (rc == 0)
		rc = heal_claim(h);
	buf_reset(&h->meta);
	if (rc == 0) /* the meta points into the map: copy it before writing */
		rc = buf_append(&h->meta, obj.meta.p, obj.meta.len);
	for (i = 0; rc == 0 && i < h->nreg; i++)
		rc = heal_apply(h, txn, &h->reg[i]);
	if (rc < 0)
		return rc;
	obj.nchunks = (uint64_t)((int64_t)obj.nchunks + h->delta_chunks);
	obj.meta = buf_slice(&h->meta);
	rc = index_object_put(txn, h->bucket, h->key, &obj);
	if (rc == 0 && h->last)
		rc = index_heal_del(txn, h->oid);
	return rc == 0 ? store_ref_flush(&h->w, txn) : rc;
}

static int
heal_commit(struct heal *h)
{
	int rc;

	rc = packstore_sync(h->st->ps);
	if (rc == 0)
		rc = index_write(h->st->ix, heal_fn, h);
	store_pin_settle(&h->w);
	return rc;
}

/* ---- one object ---- */

/* The seams from the part sizes recorded in meta. */
static int
heal_seams(struct heal *h, struct slice meta)
{
	uint64_t start, len;
	uint32_t count = 0, i;

	if (store_meta_part_range(meta, 1, &start, &len, &count) < 0 || count < 2)
		return CAIRN_E_NOTFOUND;
	h->seams = calloc(count, sizeof(*h->seams));
	if (!h->seams)
		abort();
	for (i = 2; i <= count; i++) {
		if (store_meta_part_range(meta, i, &start, &len, NULL) < 0)
			return CAIRN_E_CORRUPT;
		if (start > 0 && start < h->size &&
		    (h->nseams == 0 || start > h->seams[h->nseams - 1]))
			h->seams[h->nseams++] = start;
	}
	return 0;
}

/* One batch: up to HEAL_BATCH regions read through a fresh get and put, then committed. */
static int
heal_batch(struct heal *h)
{
	int rc;

	rc = store_get_open(h->st, h->bucket, h->key, &h->g);
	if (rc == 0 && store_get_oid(h->g) != h->oid)
		rc = CAIRN_E_NOTFOUND;
	if (rc == 0)
		rc = store_put_begin(h->st, &h->put);
	h->nreg = 0;
	while (rc == 0 && h->nreg < HEAL_BATCH && h->next < h->nseams)
		rc = heal_region(h);
	if (rc == 0)
		rc = store_put_finish(h->put, NULL, NULL);
	if (rc == 0 && h->nreg && h->reg[h->nreg - 1].e == h->size)
		h->reg[h->nreg - 1].ib = h->put->nchunks; /* the object's last chunk */
	store_get_close(h->g);
	h->g = NULL;
	h->last = h->next == h->nseams;
	if (rc == 0)
		rc = heal_commit(h);
	store_put_abort(h->put);
	h->put = NULL;
	return rc;
}

static int
heal_open(struct heal *h)
{
	struct store_get *g;
	int rc;

	rc = store_get_open(h->st, h->bucket, h->key, &g);
	if (rc < 0)
		return rc;
	if (store_get_oid(g) != h->oid)
		rc = CAIRN_E_NOTFOUND;
	h->size = store_get_info(g)->size;
	if (rc == 0)
		rc = heal_seams(h, store_get_info(g)->meta);
	store_get_close(g);
	return rc;
}

static int
heal_drop_fn(struct index_txn *txn, void *arg)
{
	int rc = index_heal_del(txn, *(const uint64_t *)arg);

	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

/*
 * Heals one queued object. Its heals entry goes with the last batch, or here when there is
 * nothing (more) to do: the object was replaced or deleted, has no seams, or its chunking does
 * not come back into agreement (left as it is). Returns 0, CAIRN_E_RETRY (a reader has it open:
 * the entry stays for a later round), or an error (the entry stays).
 */
static int
heal_object(struct store *st, uint64_t oid, const char *bucket, struct slice key, uint64_t *seams)
{
	struct heal h = {.st = st, .oid = oid, .bucket = bucket, .key = key};
	int rc;

	store_wctx_init(&h.w, st);
	upload_pw_init(&h.pw, &h.w, false);
	h.old = malloc(HEAL_OLD_MAX * sizeof(*h.old));
	h.ebuf = malloc(STORE_PAGE_BYTES);
	if (!h.old || !h.ebuf)
		abort();
	buf_init(&h.meta, STORE_META_MAX);
	rc = heal_open(&h);
	while (rc == 0 && h.next < h.nseams)
		rc = heal_batch(&h);
	if (rc == CAIRN_E_INVAL || rc == CAIRN_E_CORRUPT)
		log_warn("uploads: seams of %s/%.*s left as they are: %s", bucket,
			 key.len > 200 ? 200 : (int)key.len, (const char *)key.p,
			 cairn_strerror(rc));
	if (rc == CAIRN_E_NOTFOUND || rc == CAIRN_E_INVAL || rc == CAIRN_E_CORRUPT)
		rc = index_write(st->ix, heal_drop_fn, &oid);
	if (rc == 0 && h.healed)
		log_info("uploads: healed %llu seams of %s/%.*s (%llu bytes re-chunked)",
			 (unsigned long long)h.healed, bucket, key.len > 200 ? 200 : (int)key.len,
			 (const char *)key.p, (unsigned long long)h.fed);
	*seams += h.healed;
	buf_fini(&h.meta);
	free(h.ebuf);
	free(h.old);
	free(h.seams);
	upload_pw_fini(&h.pw);
	store_wctx_fini(&h.w);
	return rc;
}

/* ---- the queue ---- */

#define HEAL_QUEUE_BATCH 16

struct heal_queue {
	size_t n;
	uint64_t oid[HEAL_QUEUE_BATCH];
	char bucket[HEAL_QUEUE_BATCH][INDEX_BUCKET_NAME_MAX + 1];
	uint8_t key[HEAL_QUEUE_BATCH][INDEX_KEY_MAX];
	size_t key_len[HEAL_QUEUE_BATCH];
};

static int
heal_collect(uint64_t oid, const char *bucket, struct slice key, void *arg)
{
	struct heal_queue *q = arg;

	if (key.len > INDEX_KEY_MAX)
		return 0;
	q->oid[q->n] = oid;
	memcpy(q->bucket[q->n], bucket, strlen(bucket) + 1);
	memcpy(q->key[q->n], key.p, key.len);
	q->key_len[q->n] = key.len;
	return ++q->n == HEAL_QUEUE_BATCH ? 1 : 0;
}

int
store_upload_heal(struct store *st, uint64_t *objects, uint64_t *seams)
{
	struct heal_queue *q;
	struct index_txn *txn;
	uint64_t done = 0, healed = 0;
	size_t i;
	int rc;

	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	q = calloc(1, sizeof(*q));
	if (!q)
		abort();
	rc = index_read_begin(st->ix, &txn);
	if (rc == 0) {
		rc = index_heal_iter(txn, heal_collect, q);
		index_read_end(txn);
	}
	for (i = 0; rc >= 0 && i < q->n; i++) {
		rc = heal_object(st, q->oid[i], q->bucket[i],
				 (struct slice){q->key[i], q->key_len[i]}, &healed);
		if (rc == 0)
			done++;
		if (rc == CAIRN_E_RETRY)
			rc = 0; /* read right now: next round */
	}
	free(q);
	if (objects)
		*objects = done;
	if (seams)
		*seams = healed;
	return rc < 0 ? rc : 0;
}
