/*
 * store_put.c — the put pipeline: body bytes in, chunks out.
 *
 * store_put_write() copies the caller's bytes into the put's own buffer (growing up to 2 x the
 * maximum chunk size), hands the new region to the digest pool (the MD5, and a digest the caller
 * added) and, at the same time, runs the chunker over it. Each complete chunk is hashed (SHA-256,
 * its id), looked up (in-flight table, then index), and only when new encoded with an encoder
 * lent for that chunk and appended (store_inflight.c). The chunk's
 * id and end offset join the put's chunk list: the list's last page stays in memory, full pages
 * go to an anonymous spill file, so a put of any size holds a bounded amount of memory; commit
 * streams the pages back into the index.
 *
 * Bytes the buffer holds are never moved or overwritten while a digest job covering them may run:
 * the moves (compaction of the partial chunk to the front, growth) first wait for the jobs.
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
 * The body buffer: STORE_PUT_BUF_MIN bytes from malloc, which every put has; past that (large
 * bodies) an anonymous mapping that grows with mremap and goes back to the kernel with munmap
 * when the put ends. From malloc, a burst of concurrent large puts would leave its buffers in the
 * allocator's arenas, resident for the life of the process.
 */
static bool
put_buf_is_mapped(const struct store_put *put)
{
	return put->alloc > STORE_PUT_BUF_MIN;
}

static void
put_buf_grow(struct store_put *put, size_t n)
{
	void *p;

	if (put_buf_is_mapped(put)) {
		p = mremap(put->buf, put->alloc, n, MREMAP_MAYMOVE);
	} else {
		p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			memcpy(p, put->buf, put->fill);
			free(put->buf);
		}
	}
	if (p == MAP_FAILED)
		abort(); /* like malloc failing: the size is bounded by the chunking limits */
	put->buf = p;
	put->alloc = n;
}

static void
put_buf_free(struct store_put *put)
{
	if (put_buf_is_mapped(put))
		munmap(put->buf, put->alloc);
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
	put->buf = malloc(put->alloc);
	put->page = malloc(STORE_PAGE_BYTES);
	put->md5 = EVP_MD_CTX_new();
	if (!put->buf || !put->page || !put->md5 || !EVP_DigestInit_ex(put->md5, EVP_md5(), NULL))
		abort();
	store_md5_job_init(&put->jobs[0], put->md5);
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

void
store_put_free(struct store_put *put)
{
	put_digest_wait(put);
	if (put->npinned)
		store_inflight_unpin(put->st, put->pinned, put->npinned);
	if (put->spill_fd >= 0)
		close(put->spill_fd);
	EVP_MD_CTX_free(put->md5);
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

struct checkpoint_arg {
	struct store_put *put;
	struct store_wctx w;
};

static int
checkpoint_fn(struct index_txn *txn, void *arg)
{
	struct checkpoint_arg *ca = arg;
	struct store_put *put = ca->put;
	struct store_wctx *w = &ca->w;
	size_t i;
	int rc;

	store_wctx_reset(w);
	for (i = 0; i < put->npinned; i++) {
		rc = store_ref_ensure(w, txn, &put->pinned[i]);
		if (rc < 0)
			return rc;
	}
	return store_ref_flush(w, txn);
}

/* Records the put's pinned chunks in the index with no references (durable pack bytes first), so
 * it can let go of its pins: the table holds at most STORE_PUT_PINS_MAX entries per put. Commit
 * later finds these chunks in the index at refcount 0 and revives them. */
static int
put_checkpoint(struct store_put *put)
{
	struct checkpoint_arg ca = {.put = put};
	int rc;

	rc = packstore_sync(put->st->ps);
	if (rc < 0)
		return rc;
	store_wctx_init(&ca.w, put->st);
	rc = index_write(put->st->ix, checkpoint_fn, &ca);
	store_wctx_fini(&ca.w);
	if (rc < 0)
		return rc;
	store_inflight_unpin(put->st, put->pinned, put->npinned);
	put->npinned = 0;
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

static int
put_write_all(int fd, const void *p, size_t len, off_t off)
{
	const uint8_t *q = p;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, q, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		q += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int
store_put_spill_read(struct store_put *put, uint64_t i, struct index_page_entry *out)
{
	uint8_t *q = (uint8_t *)out;
	size_t left = STORE_PAGE_BYTES;
	off_t off = (off_t)(i * STORE_PAGE_BYTES);
	ssize_t n;

	while (left > 0) {
		n = pread(put->spill_fd, q, left, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		q += n;
		left -= (size_t)n;
		off += n;
	}
	return 0;
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
	rc = put_write_all(put->spill_fd, put->page, STORE_PAGE_BYTES,
			   (off_t)(put->spilled * STORE_PAGE_BYTES));
	if (rc < 0)
		return rc;
	put->spilled++;
	put->page_n = 0;
	return 0;
}

static int
put_chunk(struct store_put *put, const uint8_t *p, size_t len)
{
	struct chunk_id id;
	int rc;

	chunk_id_compute(p, len, &id);
	rc = put_store_chunk(put, &id, p, len);
	if (rc < 0)
		return rc;
	rc = put_page_add(put, &id, put->chunked + len);
	if (rc < 0)
		return rc;
	put->chunked += len;
	put->nchunks++;
	return 0;
}

/* The buffer invariants: the partial chunk, the scanned bytes and the bytes handed to the digests
 * all lie within the filled part, and the partial chunk is shorter than a maximum chunk. */
static bool
put_check(const struct store_put *put)
{
	return put->start <= put->scan && put->scan <= put->fill && put->fill <= put->alloc &&
	       put->alloc <= put->cap && put->fed <= put->fill &&
	       put->fill - put->start <= put->cap &&
	       put->chunked + (put->fill - put->start) == put->received;
}

/* Hands the bytes up to fill to every digest job. */
static void
put_digest_feed(struct store_put *put)
{
	int i;

	for (i = 0; i < put->njobs; i++)
		store_md5_feed(&put->st->md5, &put->jobs[i], put->fill);
	put->fed = put->fill;
}

/* Every digest covers every byte received; the jobs are idle (the buffer may move). */
static void
put_digest_sync(struct store_put *put)
{
	int i;

	for (i = 0; i < put->njobs; i++)
		store_md5_sync(&put->st->md5, &put->jobs[i], put->fill);
	put->fed = put->fill;
}

static void
put_digest_rebase(struct store_put *put)
{
	int i;

	for (i = 0; i < put->njobs; i++)
		store_md5_rebase(&put->jobs[i], put->buf, put->fill);
	put->fed = put->fill;
}

/* Makes room for more bytes: grows the buffer while it is below its cap, else moves the partial
 * chunk to the front (after the digests of every byte are done). */
static void
put_make_room(struct store_put *put)
{
	size_t keep = put->fill - put->start;

	put_digest_sync(put);
	if (put->alloc < put->cap) {
		put_buf_grow(put, put->alloc * 2 < put->cap ? put->alloc * 2 : put->cap);
	} else {
		memmove(put->buf, put->buf + put->start, keep);
		put->scan -= put->start;
		put->fill = keep;
		put->start = 0;
	}
	put_digest_rebase(put);
}

static int
put_scan(struct store_put *put)
{
	bool cut;
	size_t n;
	int rc;

	while (put->scan < put->fill) {
		n = chunker_scan(&put->ck, put->buf + put->scan, put->fill - put->scan, &cut);
		put->scan += n;
		if (!cut)
			break;
		rc = put_chunk(put, put->buf + put->start, put->scan - put->start);
		if (rc < 0)
			return rc;
		put->start = put->scan;
	}
	return 0;
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
		if (put->fill == put->alloc)
			put_make_room(put);
		n = put->alloc - put->fill;
		if (n > len)
			n = len;
		memcpy(put->buf + put->fill, q, n);
		put->fill += n;
		put->received += n;
		q += n;
		len -= n;
		if (put->fill - put->fed >= STORE_DIGEST_FEED)
			put_digest_feed(put);
		rc = put_scan(put);
		if (rc < 0) {
			put->err = rc;
			return rc;
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
	store_md5_rebase(&put->jobs[put->njobs], put->buf, put->fill);
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
	unsigned int n = 0;
	int rc;

	if (put->err)
		return put->err;
	if (put->finished)
		return CAIRN_E_INVAL;
	put_digest_sync(put);
	if (!EVP_DigestFinal_ex(put->md5, put->md5sum, &n) || n != 16)
		abort();
	if (put->fill > put->start) {
		rc = put_chunk(put, put->buf + put->start, put->fill - put->start);
		if (rc < 0) {
			put->err = rc;
			return rc;
		}
		put->start = put->fill;
	}
	put->finished = true;
	if (size)
		*size = put->received;
	if (md5)
		memcpy(md5, put->md5sum, 16);
	return 0;
}
