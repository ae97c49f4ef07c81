/*
 * store_md5.c — a small store-wide pool of threads computing body digests beside chunking: the
 * MD5 of every put (the S3 ETag) together with the ids of its chunks, and another digest a caller
 * asks for (the x-amz-content-sha256 check of a signed payload).
 *
 * A digest is serial over the body, so a put cannot split it; what it can do is run it beside
 * its own work. A job follows one digest along the put's buffer: the put moves the job's limit
 * forward as bytes arrive, and a worker hashes from the job's position up to the limit in steps,
 * until it has caught up. A job is queued at most once, so its bytes are hashed in order; a worker
 * goes on with the same job while no other job waits, else it requeues it behind them (puts
 * share the workers fairly). The put waits for its jobs to pass bytes before it overwrites them
 * (a ring buffer) and to catch up before it frees them.
 *
 * The put's own job is a chunk job: the put queues the chunker's cuts and hands over the bytes
 * received; the worker computes each chunk's SHA-256 (its id) stitched with the body's MD5 over
 * the same chunk, and publishes the ids, which the put then looks up and stores. The connection
 * thread is left receiving, chunking and storing; both hash chains run on the worker in about
 * the time MD5 alone took (docs/performance.md). The MD5 stops at each chunk's end so that the
 * state there can be recorded in, or taken from, the store's MD5 memo (md5memo.h): a body the
 * store has hashed before costs the worker the SHA-256 of its chunks alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/chunk.h"

#include "store_internal.h"

/* Bytes a worker hashes between looks at the queue. */
#define MD5_STEP (64u << 10)

static void
md5_enqueue(struct md5_pool *pool, struct md5_job *job)
{
	job->next = NULL;
	if (pool->tail)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
}

static struct md5_job *
md5_dequeue(struct md5_pool *pool)
{
	struct md5_job *job = pool->head;

	pool->head = job->next;
	if (!pool->head)
		pool->tail = NULL;
	return job;
}

/* Where body byte pos of job is in memory. */
static const uint8_t *
md5_at(const struct md5_job *job, size_t pos)
{
	return job->base + (job->ring ? pos % job->ring : pos);
}

/* The bytes a job may hash in one go from its position: at most max, and within one ring's
 * length so that they read contiguously from the doubled mapping. */
static size_t
md5_span(const struct md5_job *job, size_t max)
{
	size_t n = job->limit - job->pos;

	if (n > max)
		n = max;
	if (job->ring && n > job->ring)
		n = job->ring;
	return n;
}

/* The oldest body byte a chunk job still needs: where its MD5 stands, or the first byte of the
 * first chunk without an id. */
static size_t
md5_chunks_low(const struct chunk_hash *h)
{
	return h->md5_at < h->id_end ? h->md5_at : h->id_end;
}

/* Chunk job: the MD5 alone from where it stands up to body byte to (a block boundary). */
static void
md5_advance(const struct md5_job *job, uint64_t to)
{
	struct chunk_hash *h = job->chunks;

	md5_blocks(&h->md5, md5_at(job, h->md5_at), (size_t)(to - h->md5_at) / MD5SHA_BLOCK);
	h->md5_at = to;
}

/* The id of chunk [start, end) by SHA-256 alone. */
static void
md5_chunk_id_alone(const struct md5_job *job, uint64_t start, uint64_t end, struct chunk_id *id)
{
	size_t n = (size_t)(end - start) / MD5SHA_BLOCK;
	struct sha256_state sha;

	if (!job->chunks->stitched) {
		chunk_id_compute(md5_at(job, start), (size_t)(end - start), id);
		return;
	}
	sha256_init(&sha);
	sha256_blocks(&sha, md5_at(job, start), n);
	sha256_final(&sha, md5_at(job, start + n * MD5SHA_BLOCK),
		     (size_t)(end - start) - n * MD5SHA_BLOCK, id->b);
}

/* The id of chunk [start, end) and the MD5 on to the chunk's last block boundary, stitched for
 * as many blocks as both have (the MD5 starts up to 63 bytes before the chunk, so the two differ
 * by at most one). Without SHA extensions, chunk_id_compute then md5_blocks. */
static void
md5_chunk_both(const struct md5_job *job, uint64_t start, uint64_t end, struct chunk_id *id)
{
	struct chunk_hash *h = job->chunks;
	uint64_t to = end / MD5SHA_BLOCK * MD5SHA_BLOCK;
	size_t nm = (size_t)(to - h->md5_at) / MD5SHA_BLOCK;
	size_t ns = (size_t)(end - start) / MD5SHA_BLOCK;
	size_t n = nm < ns ? nm : ns;
	struct sha256_state sha;

	if (!h->stitched) {
		chunk_id_compute(md5_at(job, start), (size_t)(end - start), id);
		md5_advance(job, to);
		return;
	}
	sha256_init(&sha);
	md5sha_blocks(&h->md5, md5_at(job, h->md5_at), &sha, md5_at(job, start), n);
	h->md5_at += n * MD5SHA_BLOCK;
	sha256_blocks(&sha, md5_at(job, start + n * MD5SHA_BLOCK), ns - n);
	md5_advance(job, to);
	sha256_final(&sha, md5_at(job, start + ns * MD5SHA_BLOCK),
		     (size_t)(end - start) - ns * MD5SHA_BLOCK, id->b);
}

/* Chunk job: the id of chunk [start, end), which begins where the previous one ended, and the MD5
 * on to the chunk's last block boundary (it stands at most 63 bytes before start). While the
 * body's chain is in the memo (every chunk so far found there), the id comes first, by SHA-256
 * alone, and the MD5 state after the chunk is looked up; at the first miss the MD5 runs over the
 * chunk and the chain ends: from a state never recorded, no later chunk's fact can be found.
 * After that both hashes run stitched as without a memo, and each chunk's fact is recorded. */
static void
md5_chunk_one(const struct md5_job *job, uint64_t start, uint64_t end, struct chunk_id *id)
{
	struct chunk_hash *h = job->chunks;
	uint64_t to = end / MD5SHA_BLOCK * MD5SHA_BLOCK, from = h->md5_at;
	uint8_t key[MD5MEMO_KEY_LEN];
	struct md5_state before;

	/* a body's last chunk, shorter than the chunker's minimum, is hashed as without a memo */
	if (!h->memo || end - start < h->memo_min) {
		md5_chunk_both(job, start, end, id);
		return;
	}
	if (h->chain) {
		uint32_t after[4];

		md5_chunk_id_alone(job, start, end, id);
		md5memo_key(&h->md5, md5_at(job, from), (size_t)(start - from), id->b, key);
		if (md5memo_get(h->memo, key, after)) {
			memcpy(h->md5.h, after, sizeof(after));
			h->md5.nbytes = to;
			h->md5_at = to;
			return;
		}
		h->chain = false;
		md5_advance(job, to);
	} else {
		before = h->md5;
		md5_chunk_both(job, start, end, id);
		md5memo_key(&before, md5_at(job, from), (size_t)(start - from), id->b, key);
	}
	md5memo_put(h->memo, key, h->md5.h);
}

/* Chunk job: hashes cuts from its nid on, up to ncut, until about max bytes are done. Runs
 * without the pool's mutex: the job is this thread's (running, or idle and the put's own).
 * Returns the number of cuts that now have ids; id_end and md5_at have moved. */
static uint64_t
md5_chunks_step(const struct md5_job *job, uint64_t ncut, size_t max)
{
	struct chunk_hash *h = job->chunks;
	uint64_t i = h->nid, done = 0;

	while (done < max && i < ncut) {
		struct put_cut *c = &h->cuts[i % h->cap];

		md5_chunk_one(job, h->id_end, c->end, &c->id);
		done += c->end - h->id_end;
		h->id_end = c->end;
		i++;
	}
	return i;
}

/* True when chunk job h has cuts without ids. */
static bool
md5_chunks_pending(const struct chunk_hash *h)
{
	return h->nid < h->ncut;
}

/* Hashes an idle job (or one without workers) on the calling thread: a stream job up to limit,
 * a chunk job over its queued cuts. */
static void
md5_hash_inline(struct md5_job *job, size_t limit)
{
	size_t n;

	if (job->chunks) {
		job->chunks->nid = md5_chunks_step(job, job->chunks->ncut, SIZE_MAX);
		job->pos = md5_chunks_low(job->chunks);
		return;
	}
	if (limit > job->limit)
		job->limit = limit;
	while ((n = md5_span(job, SIZE_MAX)) > 0) {
		if (!EVP_DigestUpdate(job->ctx, md5_at(job, job->pos), n))
			abort();
		job->pos += n;
	}
}

/* Wakes the put waiting for job, if any (only its own put: with many uploads at once, a wake-up
 * for all of them at every step would cost more than the hashing). Called with the pool's mutex
 * held. */
static void
md5_wake(struct md5_job *job)
{
	if (job->nwaiting)
		pthread_cond_broadcast(&job->cv);
}

/* Wait for job's cv; called with the pool's mutex held. */
static void
md5_wait_step(struct md5_pool *pool, struct md5_job *job)
{
	job->nwaiting++;
	pthread_cond_wait(&job->cv, &pool->mu);
	job->nwaiting--;
}

/* Hashes stream job until it has caught up with its limit, or until another job waits. Called
 * and returns with the pool's mutex held. */
static void
md5_run_stream(struct md5_pool *pool, struct md5_job *job)
{
	const uint8_t *p;
	size_t n;

	for (;;) {
		n = md5_span(job, MD5_STEP);
		if (n == 0) {
			job->busy = false;
			md5_wake(job);
			return;
		}
		p = md5_at(job, job->pos);
		pthread_mutex_unlock(&pool->mu);
		if (!EVP_DigestUpdate(job->ctx, p, n))
			abort();
		pthread_mutex_lock(&pool->mu);
		job->pos += n;
		md5_wake(job);
		if (job->pos < job->limit && pool->head) {
			md5_enqueue(pool, job); /* others wait: take turns, one step each */
			return;
		}
	}
}

/* Hashes chunk job until every queued cut has its id (and the MD5 has passed it), or until
 * another job waits; publishes ids and the oldest byte it still needs after each step. Called
 * and returns with the pool's mutex held. */
static void
md5_run_chunks(struct md5_pool *pool, struct md5_job *job)
{
	struct chunk_hash *h = job->chunks;
	uint64_t ncut, nid;

	for (;;) {
		if (!md5_chunks_pending(h)) {
			job->busy = false;
			md5_wake(job);
			return;
		}
		ncut = h->ncut;
		pthread_mutex_unlock(&pool->mu);
		nid = md5_chunks_step(job, ncut, MD5_STEP);
		pthread_mutex_lock(&pool->mu);
		h->nid = nid;
		job->pos = md5_chunks_low(h);
		md5_wake(job);
		if (md5_chunks_pending(h) && pool->head) {
			md5_enqueue(pool, job);
			return;
		}
	}
}

static void
md5_run(struct md5_pool *pool, struct md5_job *job)
{
	if (job->chunks)
		md5_run_chunks(pool, job);
	else
		md5_run_stream(pool, job);
}

static void *
md5_worker(void *arg)
{
	struct md5_pool *pool = arg;

	pthread_mutex_lock(&pool->mu);
	for (;;) {
		while (!pool->head && !pool->stop)
			pthread_cond_wait(&pool->work_cv, &pool->mu);
		if (!pool->head)
			break;
		md5_run(pool, md5_dequeue(pool));
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

int
store_md5_start(struct md5_pool *pool)
{
	int i, rc;

	if (pthread_mutex_init(&pool->mu, NULL) != 0 || pthread_cond_init(&pool->work_cv, NULL))
		abort();
	pool->head = pool->tail = NULL;
	pool->stop = false;
	pool->nthreads = 0;
	for (i = 0; i < STORE_MD5_THREADS; i++) {
		rc = pthread_create(&pool->threads[i], NULL, md5_worker, pool);
		if (rc != 0) {
			store_md5_stop(pool);
			return -rc;
		}
		pool->nthreads++;
	}
	return 0;
}

/* Stops the workers once the queue is empty. A pool never started (nthreads 0, mutex never
 * initialised because the store was not opened for writing) is left alone. */
void
store_md5_stop(struct md5_pool *pool)
{
	int i;

	if (pool->nthreads == 0)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stop = true;
	pthread_cond_broadcast(&pool->work_cv);
	pthread_mutex_unlock(&pool->mu);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pool->nthreads = 0;
	pthread_cond_destroy(&pool->work_cv);
	pthread_mutex_destroy(&pool->mu);
}

void
store_md5_job_init(struct md5_job *job, EVP_MD_CTX *ctx)
{
	job->ctx = ctx;
	job->chunks = NULL;
	job->base = NULL;
	job->ring = 0;
	job->pos = job->limit = 0;
	job->busy = false;
	job->nwaiting = 0;
	job->next = NULL;
	if (pthread_cond_init(&job->cv, NULL) != 0)
		abort();
}

void
store_md5_chunks_init(struct md5_job *job, struct chunk_hash *h, struct md5memo *memo,
		      size_t memo_min)
{
	store_md5_job_init(job, NULL);
	job->chunks = h;
	md5_init(&h->md5);
	h->ncut = h->nid = h->id_end = h->md5_at = 0;
	h->stitched = md5sha_stitched_available();
	h->memo = memo;
	h->memo_min = memo_min;
	h->chain = memo != NULL;
}

void
store_md5_job_fini(struct md5_job *job)
{
	pthread_cond_destroy(&job->cv);
}

void
store_md5_rebase(struct md5_job *job, const uint8_t *base, size_t ring)
{
	job->base = base;
	job->ring = ring;
}

/* Queues an idle job that has work; called with the pool's mutex held. */
static void
md5_kick(struct md5_pool *pool, struct md5_job *job, bool has_work)
{
	if (!job->busy && has_work) {
		job->busy = true;
		md5_enqueue(pool, job);
		pthread_cond_signal(&pool->work_cv);
	}
}

void
store_md5_feed(struct md5_pool *pool, struct md5_job *job, size_t limit)
{
	if (pool->nthreads == 0) {
		md5_hash_inline(job, limit);
		return;
	}
	pthread_mutex_lock(&pool->mu);
	job->limit = limit;
	md5_kick(pool, job, job->pos < limit);
	pthread_mutex_unlock(&pool->mu);
}

uint64_t
store_md5_feed_cuts(struct md5_pool *pool, struct md5_job *job, uint64_t ncut)
{
	struct chunk_hash *h = job->chunks;
	uint64_t nid;

	if (pool->nthreads == 0) {
		h->ncut = ncut;
		md5_hash_inline(job, 0);
		return h->nid;
	}
	pthread_mutex_lock(&pool->mu);
	h->ncut = ncut;
	if (!job->busy)
		md5_kick(pool, job, md5_chunks_pending(h));
	nid = h->nid;
	pthread_mutex_unlock(&pool->mu);
	return nid;
}

void
store_md5_sync(struct md5_pool *pool, struct md5_job *job, size_t limit)
{
	bool busy = false;

	if (pool->nthreads > 0) {
		pthread_mutex_lock(&pool->mu);
		busy = job->busy;
		if (busy)
			job->limit = limit;
		while (job->busy)
			md5_wait_step(pool, job);
		pthread_mutex_unlock(&pool->mu);
	}
	/* An idle job: the rest (less than a feed's worth) costs less here than waking a worker
	 * and sleeping until it is done. */
	if (!busy)
		md5_hash_inline(job, limit);
}

size_t
store_md5_wait_pos(struct md5_pool *pool, struct md5_job *job, size_t pos)
{
	size_t at;

	if (pool->nthreads == 0)
		return job->pos;
	pthread_mutex_lock(&pool->mu);
	while (job->busy && job->pos < pos)
		md5_wait_step(pool, job);
	at = job->pos;
	pthread_mutex_unlock(&pool->mu);
	return at;
}

void
store_md5_wait(struct md5_pool *pool, struct md5_job *job)
{
	if (pool->nthreads == 0)
		return;
	pthread_mutex_lock(&pool->mu);
	while (job->busy)
		md5_wait_step(pool, job);
	pthread_mutex_unlock(&pool->mu);
}

uint64_t
store_md5_ids(struct md5_pool *pool, struct md5_job *job)
{
	uint64_t n;

	if (pool->nthreads == 0)
		return job->chunks->nid;
	pthread_mutex_lock(&pool->mu);
	n = job->chunks->nid;
	pthread_mutex_unlock(&pool->mu);
	return n;
}
