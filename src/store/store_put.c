/*
 * store_put.c — the put pipeline: body bytes in, chunks out.
 *
 * store_put_write() copies the caller's bytes into the put's own buffer (a ring of 2 x the
 * maximum chunk size for all but small bodies) and runs the chunker over them. Each cut goes to
 * the put's chunk job on the digest pool, which computes the chunk's id (SHA-256) together with
 * the body's MD5 (md5sha_blocks); a digest the caller added gets the new bytes too. As ids
 * come back the put looks each chunk up (in-flight table, then index) and only when new encodes
 * it with an encoder lent for that chunk and appends it (store_inflight.c). The chunk's id and
 * end offset join the put's chunk list: the list's last page stays in memory, full pages go to an
 * anonymous spill file, so a put of any size holds a bounded amount of memory; commit streams the
 * pages back into the index.
 *
 * Bytes the buffer holds are never overwritten before every digest job has passed them and the
 * put has stored their chunk, and the move from the small linear buffer to the ring first waits
 * for the jobs to catch up.
 *
 * Abort: records the put appended stay in their packs with nothing referencing them (dead space
 * that is not in the index, except chunks a checkpoint recorded with refcount 0). The compactor
 * (a later issue) reclaims such bytes: a pack record whose index entry is missing or points
 * elsewhere is garbage.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cairn/err.h"
#include "store_internal.h"

/*
 * The body buffer. A body's first bytes go to a linear buffer from malloc (STORE_PUT_BUF_MIN,
 * which every put has). A body that outgrows it moves to a ring: an anonymous shared mapping of
 * ring bytes mapped twice in a row, so that the partial chunk and a digest's next bytes read
 * contiguously wherever they wrap. The writer fills the ring up to the oldest byte still needed,
 * either by the chunker (the partial chunk) or by a digest job that lags behind, and waits only
 * for that: nothing is ever moved, and MD5 on a worker overlaps chunking and SHA-256 instead of
 * catching up each time a buffer filled. munmap gives the ring back to the kernel when the put
 * ends (from malloc, a burst of large puts would stay resident in the allocator's arenas).
 */
static uint8_t *
put_at(const struct store_put *put, size_t pos)
{
	return put->buf + (put->ring ? pos % put->ring : pos);
}

/* Maps a ring of ring bytes (a multiple of the page size) twice in a row. Returns the first
 * mapping or NULL. */
static uint8_t *
put_ring_map(size_t ring)
{
	uint8_t *base;
	void *lo, *hi;

	base = mmap(NULL, 2 * ring, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	lo =
	    mmap(base, ring, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (lo == MAP_FAILED)
		goto unmap;
	/* old size 0 on a shared mapping: a second mapping of the same pages */
	hi = mremap(lo, 0, ring, MREMAP_MAYMOVE | MREMAP_FIXED, base + ring);
	if (hi == MAP_FAILED)
		goto unmap;
	return base;
unmap:
	munmap(base, 2 * ring);
	return NULL;
}

static void
put_buf_free(struct store_put *put)
{
	if (put->ring)
		munmap(put->buf, 2 * put->ring);
	else
		free(put->buf);
}

int
store_put_begin(struct store *st, struct store_put **out)
{
	struct store_put *put;

	*out = NULL;
	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	put = calloc(1, sizeof(*put));
	if (!put)
		abort();
	put->st = st;
	chunker_init(&put->ck, &st->cfg.chunking);
	put->cap = 2 * (size_t)st->cfg.chunking.max_size;
	put->alloc = put->cap < STORE_PUT_BUF_MIN ? put->cap : STORE_PUT_BUF_MIN;
	put->ring = 0;
	put->buf = malloc(put->alloc);
	put->page = malloc(STORE_PAGE_BYTES);
	/* room for every cut the buffer can hold: chunks have min_size bytes or more */
	put->hash.cap = (put->cap + (size_t)sysconf(_SC_PAGESIZE)) / st->cfg.chunking.min_size + 2;
	put->hash.cuts = malloc(put->hash.cap * sizeof(*put->hash.cuts));
	if (!put->buf || !put->page || !put->hash.cuts)
		abort();
	store_md5_chunks_init(&put->jobs[0], &put->hash, put->st->md5memo,
			      st->cfg.chunking.min_size);
	store_md5_rebase(&put->jobs[0], put->buf, 0);
	put->njobs = 1;
	put->spill_fd = -1;
	store_gc_put_enter(st, &put->gc_gen);
	*out = put;
	return 0;
}

/* Waits until every digest job has caught up with the bytes handed to it. */
static void
put_digest_wait(struct store_put *put)
{
	int i;

	for (i = 0; i < put->njobs; i++)
		store_md5_wait(&put->st->md5, &put->jobs[i]);
}

static int put_checkpoint_join(struct store_put *put);

void
store_put_free(struct store_put *put)
{
	int i;

	put_digest_wait(put);
	for (i = 0; i < put->njobs; i++)
		store_md5_job_fini(&put->jobs[i]);
	put_checkpoint_join(put);
	if (put->npinned)
		store_inflight_unpin(put->st, put->pinned, put->npinned);
	if (put->spill_fd >= 0)
		close(put->spill_fd);
	free(put->hash.cuts);
	free(put->pinned);
	free(put->page);
	put_buf_free(put);
	store_gc_put_leave(put->st, put->gc_gen);
	free(put);
}

void
store_put_abort(struct store_put *put)
{
	if (put)
		store_put_free(put);
}

/*
 * Checkpoints. A put that has pinned STORE_PUT_PINS_MAX new chunks records them in the index with
 * no references (durable pack bytes first), so that it can let go of their pins: the in-flight
 * table holds a bounded number of entries per put. Commit later finds these chunks in the index
 * at refcount 0 and revives them. The pack sync and the index commit take a few hundred
 * milliseconds on a disk that is writing the put's bytes, so they run on a thread of their own
 * while the put goes on receiving (a 1 GiB put of new data checkpoints four times); the chunks
 * stay pinned until the checkpoint is joined, at the next one or when the put finishes or ends.
 * At most one runs per put, so the put holds at most twice STORE_PUT_PINS_MAX pins.
 */
struct put_checkpoint {
	struct store *st;
	struct chunk_id *ids; /* owned: the pins it records */
	size_t n;
	pthread_t thread;
	bool threaded; /* false: pthread_create failed and it ran on the put's thread */
	int rc;
};

struct checkpoint_arg {
	struct put_checkpoint *ck;
	struct store_wctx w;
};

static int
checkpoint_fn(struct index_txn *txn, void *arg)
{
	struct checkpoint_arg *ca = arg;
	struct put_checkpoint *ck = ca->ck;
	struct store_wctx *w = &ca->w;
	size_t i;
	int rc;

	store_wctx_reset(w);
	for (i = 0; i < ck->n; i++) {
		rc = store_ref_ensure(w, txn, &ck->ids[i]);
		if (rc < 0)
			return rc;
	}
	return store_ref_flush(w, txn);
}

static void *
put_checkpoint_run(void *arg)
{
	struct put_checkpoint *ck = arg;
	struct checkpoint_arg ca = {.ck = ck};

	ck->rc = packstore_sync(ck->st->ps);
	if (ck->rc < 0)
		return NULL;
	store_wctx_init(&ca.w, ck->st);
	ck->rc = index_write(ck->st->ix, checkpoint_fn, &ca);
	store_wctx_fini(&ca.w);
	return NULL;
}

/* Waits for the put's running checkpoint, if any, and lets go of its pins (recorded in the
 * index, or the put fails: either way the put no longer needs them). Returns its result. */
static int
put_checkpoint_join(struct store_put *put)
{
	struct put_checkpoint *ck = put->ckpt;
	int rc;

	if (!ck)
		return 0;
	if (ck->threaded)
		pthread_join(ck->thread, NULL);
	rc = ck->rc;
	store_inflight_unpin(put->st, ck->ids, ck->n);
	free(ck->ids);
	free(ck);
	put->ckpt = NULL;
	return rc;
}

/* Hands the put's pins to a new checkpoint, once the previous one is done. */
static int
put_checkpoint(struct store_put *put)
{
	struct put_checkpoint *ck;
	int rc;

	rc = put_checkpoint_join(put);
	if (rc < 0)
		return rc;
	ck = calloc(1, sizeof(*ck));
	if (!ck)
		abort();
	ck->st = put->st;
	ck->ids = put->pinned;
	ck->n = put->npinned;
	put->pinned = NULL;
	put->npinned = 0;
	put->pinned_cap = 0;
	put->ckpt = ck;
	ck->threaded = pthread_create(&ck->thread, NULL, put_checkpoint_run, ck) == 0;
	if (!ck->threaded)
		put_checkpoint_run(ck);
	return 0;
}

static int
put_pinned_add(struct store_put *put, const struct chunk_id *id)
{
	if (put->npinned == put->pinned_cap) {
		put->pinned_cap = put->pinned_cap ? put->pinned_cap * 2 : 64;
		put->pinned = realloc(put->pinned, put->pinned_cap * sizeof(*put->pinned));
		if (!put->pinned)
			abort();
	}
	put->pinned[put->npinned++] = *id;
	if (put->npinned < STORE_PUT_PINS_MAX)
		return 0;
	return put_checkpoint(put);
}

/* Makes sure chunk id (raw bytes p[len]) is stored: found in flight (pinned), found in the
 * index, or encoded and appended (pinned). */
static int
put_store_chunk(struct store_put *put, const struct chunk_id *id, const uint8_t *p, size_t len)
{
	struct store *st = put->st;
	struct store_enc *e;
	uint64_t epoch;
	int rc;

	if (store_inflight_pin(st, id, &epoch))
		return put_pinned_add(put, id);
	rc = store_chunk_indexed(st, id, NULL);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = store_space_check(st);
	if (rc < 0)
		return rc;
	e = store_enc_get(st);
	rc = pack_record_encode(e->enc, id, p, len, &e->rec);
	if (rc == 0)
		rc = store_inflight_add(st, id, e->rec.p, e->rec.len, epoch);
	store_enc_put(st, e);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	return put_pinned_add(put, id);
}

int
store_put_spill_read(struct store_put *put, uint64_t i, struct index_page_entry *out)
{
	return fileio_pread_all(put->spill_fd, out, STORE_PAGE_BYTES,
				(off_t)(i * STORE_PAGE_BYTES));
}

static int
put_page_add(struct store_put *put, const struct chunk_id *id, uint64_t end)
{
	int rc;

	put->page[put->page_n].id = *id;
	put->page[put->page_n].end = end;
	if (++put->page_n < INDEX_PAGE_ENTRIES)
		return 0;
	if (put->spill_fd < 0) {
		put->spill_fd = store_tmpfile(put->st);
		if (put->spill_fd < 0)
			return put->spill_fd;
	}
	rc = fileio_pwrite_all(put->spill_fd, put->page, STORE_PAGE_BYTES,
			       (off_t)(put->spilled * STORE_PAGE_BYTES));
	if (rc < 0)
		return rc;
	put->spilled++;
	put->page_n = 0;
	return 0;
}

/* The oldest body byte still needed: the first of a chunk not stored yet, or one a digest has not
 * passed. */
static size_t
put_low(const struct store_put *put)
{
	return put->chunked < put->hashed ? put->chunked : put->hashed;
}

/* The buffer invariants: stored chunks, cuts, the scanned bytes and the bytes handed to the
 * digests all lie within the bytes received, which the buffer holds from the oldest one still
 * needed; the cut table holds every cut not stored yet. */
static bool
put_check(const struct store_put *put)
{
	return put->chunked <= put->cut_end && put->cut_end <= put->scan &&
	       put->scan <= put->received && put->hashed <= put->received &&
	       put->fed <= put->received && put->ncut - put->nchunks <= put->hash.cap &&
	       (put->ring ? put->received - put_low(put) <= put->ring
			  : put->received <= put->alloc);
}

/* Queues the cuts made since the last call to the chunk job (it hashes each chunk and the MD5
 * along with it); returns how many cuts have ids. */
static uint64_t
put_cuts_feed(struct store_put *put)
{
	return store_md5_feed_cuts(&put->st->md5, &put->jobs[0], put->ncut);
}

/* Stores the chunks whose ids have come back, up to cut nid. */
static int
put_store_ready(struct store_put *put, uint64_t nid)
{
	const struct put_cut *c;
	int rc;

	for (; put->nchunks < nid; put->nchunks++) {
		c = &put->hash.cuts[put->nchunks % put->hash.cap];
		rc = put_store_chunk(put, &c->id, put_at(put, put->chunked),
				     (size_t)(c->end - put->chunked));
		if (rc < 0)
			return rc;
		rc = put_page_add(put, &c->id, c->end);
		if (rc < 0)
			return rc;
		put->chunked = c->end;
	}
	return 0;
}

/* Records a cut before body byte end. */
static void
put_cut_add(struct store_put *put, uint64_t end)
{
	assert(put->ncut - put->nchunks < put->hash.cap);
	put->hash.cuts[put->ncut % put->hash.cap].end = end;
	put->ncut++;
	put->cut_end = end;
}

/* Hands every byte received to every stream digest job. */
static void
put_digest_feed(struct store_put *put)
{
	int i;

	for (i = 1; i < put->njobs; i++)
		store_md5_feed(&put->st->md5, &put->jobs[i], put->received);
	put->fed = put->received;
}

/* Every cut has its id and every stream digest covers every byte received; the jobs are idle
 * (their positions the put's to read). */
static void
put_digest_sync(struct store_put *put)
{
	size_t low = put->received;
	int i;

	put_cuts_feed(put);
	for (i = 0; i < put->njobs; i++) {
		store_md5_sync(&put->st->md5, &put->jobs[i], put->received);
		if (put->jobs[i].pos < low)
			low = put->jobs[i].pos;
	}
	put->fed = put->received;
	put->hashed = low;
}

/* Bytes that may be written after the last one received without overwriting one still needed. */
static size_t
put_room(const struct store_put *put)
{
	if (!put->ring)
		return put->alloc - put->received;
	return put->ring - (put->received - put_low(put));
}

/* The linear buffer is full: moves the bytes still needed into a new ring. Returns 0, -ENOMEM or
 * the error of storing a chunk. */
static int
put_ring_open(struct store_put *put)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t ring = (put->cap + page - 1) / page * page, low;
	uint8_t *base;
	int i, rc;

	base = put_ring_map(ring);
	if (!base)
		return -ENOMEM;
	put_digest_sync(put);
	rc = put_store_ready(put, put->ncut);
	if (rc < 0) {
		munmap(base, 2 * ring);
		return rc;
	}
	low = put_low(put);
	memcpy(base + low % ring, put->buf + low, put->received - low);
	free(put->buf);
	put->buf = base;
	put->ring = ring;
	for (i = 0; i < put->njobs; i++)
		store_md5_rebase(&put->jobs[i], put->buf, put->ring);
	return 0;
}

/* Makes room for more bytes: opens the ring, or waits until the digests have passed a quarter of
 * it more and stores the chunks whose ids came back (the partial chunk alone never fills a ring
 * of twice the largest chunk). */
static int
put_make_room(struct store_put *put)
{
	size_t target, at, low = SIZE_MAX;
	int i;

	if (!put->ring)
		return put_ring_open(put);
	put_digest_feed(put);
	put_cuts_feed(put);
	target = put_low(put) + put->ring / 4;
	if (target > put->received)
		target = put->received;
	for (i = 0; i < put->njobs; i++) {
		at = store_md5_wait_pos(&put->st->md5, &put->jobs[i], target);
		if (at < low)
			low = at;
	}
	put->hashed = low;
	return put_store_ready(put, store_md5_ids(&put->st->md5, &put->jobs[0]));
}

/* Runs the chunker over the bytes received, recording each cut. */
static void
put_scan(struct store_put *put)
{
	bool cut;
	size_t n;

	while (put->scan < put->received) {
		n = chunker_scan(&put->ck, put_at(put, put->scan), put->received - put->scan, &cut);
		put->scan += n;
		if (!cut)
			break;
		put_cut_add(put, put->scan);
	}
}

int
store_put_write(struct store_put *put, const void *p, size_t len)
{
	const uint8_t *q = p;
	size_t n;
	int rc;

	if (put->err)
		return put->err;
	if (put->finished)
		return CAIRN_E_INVAL;
	while (len > 0) {
		n = put_room(put);
		if (n == 0) {
			rc = put_make_room(put);
			if (rc < 0) {
				put->err = rc;
				return rc;
			}
			continue;
		}
		if (n > len)
			n = len;
		memcpy(put_at(put, put->received), q, n);
		put->received += n;
		q += n;
		len -= n;
		put_scan(put);
		/* in batches: a body smaller than one is hashed inline when it finishes, with no
		 * hand-over to a worker and back */
		if (put->received - put->fed >= STORE_DIGEST_FEED) {
			put_digest_feed(put);
			rc = put_store_ready(put, put_cuts_feed(put));
			if (rc < 0) {
				put->err = rc;
				return rc;
			}
		}
		assert(put_check(put));
	}
	return 0;
}

int
store_put_digest_also(struct store_put *put, struct evp_md_ctx_st *ctx)
{
	if (put->received > 0 || put->njobs == STORE_PUT_DIGESTS)
		return CAIRN_E_INVAL;
	store_md5_job_init(&put->jobs[put->njobs], ctx);
	store_md5_rebase(&put->jobs[put->njobs], put->buf, put->ring);
	put->njobs++;
	return 0;
}

void
store_put_digest_sync(struct store_put *put)
{
	put_digest_sync(put);
}

int
store_put_finish(struct store_put *put, uint64_t *size, uint8_t md5[16])
{
	int rc;

	if (put->err)
		return put->err;
	if (put->finished)
		return CAIRN_E_INVAL;
	if (put->received > put->cut_end)
		put_cut_add(put, put->received); /* the last, partial chunk */
	put_digest_sync(put);
	rc = put_store_ready(put, put->ncut);
	if (rc == 0)
		rc = put_checkpoint_join(put);
	if (rc < 0) {
		put->err = rc;
		return rc;
	}
	md5_final(&put->hash.md5, put_at(put, put->hash.md5_at), put->received - put->hash.md5_at,
		  put->md5sum);
	put->finished = true;
	if (size)
		*size = put->received;
	if (md5)
		memcpy(md5, put->md5sum, 16);
	return 0;
}
