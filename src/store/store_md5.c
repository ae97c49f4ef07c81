/*
 * store_md5.c — a small store-wide pool of threads computing body digests beside chunking: the
 * MD5 of every put (the S3 ETag), and another digest a caller asks for (the x-amz-content-sha256
 * check of a signed payload).
 *
 * A digest is serial over the body, so a put cannot split it; what it can do is run it beside
 * its own work. A job follows one digest along the put's buffer: the put moves the job's limit
 * forward as bytes arrive, and a worker hashes from the job's position up to the limit in steps,
 * until it has caught up. A job is queued at most once, so its bytes are hashed in order; a worker
 * goes on with the same job while no other job waits, else it requeues it behind them (puts
 * share the workers fairly). The put waits for its jobs to pass bytes before it overwrites them
 * (a ring buffer) and to catch up before it frees them.
 */
#include <stdint.h>
#include <stdlib.h>

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

/* Hashes an idle job (or one without workers) up to limit on the calling thread. */
static void
md5_hash_inline(struct md5_job *job, size_t limit)
{
	size_t n;

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

/* Hashes job until it has caught up with its limit, or until another job waits. Called and
 * returns with the pool's mutex held. */
static void
md5_run(struct md5_pool *pool, struct md5_job *job)
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
store_md5_job_fini(struct md5_job *job)
{
	pthread_cond_destroy(&job->cv);
}

void
store_md5_rebase(struct md5_job *job, const uint8_t *base, size_t ring, size_t pos)
{
	job->base = base;
	job->ring = ring;
	job->pos = job->limit = pos;
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
	if (!job->busy && job->pos < limit) {
		job->busy = true;
		md5_enqueue(pool, job);
		pthread_cond_signal(&pool->work_cv);
	}
	pthread_mutex_unlock(&pool->mu);
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

void
store_md5_wait_pos(struct md5_pool *pool, struct md5_job *job, size_t pos)
{
	if (pool->nthreads == 0)
		return;
	pthread_mutex_lock(&pool->mu);
	while (job->busy && job->pos < pos)
		md5_wait_step(pool, job);
	pthread_mutex_unlock(&pool->mu);
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
