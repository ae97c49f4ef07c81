/*
 * store_md5.c — a small store-wide pool of threads computing body MD5s (the S3 ETag).
 *
 * MD5 is serial over the body, so a put cannot split it; what it can do is run it beside its
 * own work: while the put's thread chunks and SHA-256-hashes a region of its buffer, a worker
 * MD5s the same region. A put has at most one job outstanding, which keeps its MD5 in body order.
 */
#include <stdlib.h>

#include "store_internal.h"

static void *
md5_worker(void *arg)
{
	struct md5_pool *pool = arg;
	struct md5_job *job;

	pthread_mutex_lock(&pool->mu);
	for (;;) {
		while (!pool->head && !pool->stop)
			pthread_cond_wait(&pool->work_cv, &pool->mu);
		if (!pool->head)
			break;
		job = pool->head;
		pool->head = job->next;
		if (!pool->head)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->mu);
		if (!EVP_DigestUpdate(job->ctx, job->p, job->len))
			abort();
		pthread_mutex_lock(&pool->mu);
		job->busy = false;
		pthread_cond_broadcast(&pool->done_cv);
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

int
store_md5_start(struct md5_pool *pool)
{
	int i, rc;

	if (pthread_mutex_init(&pool->mu, NULL) != 0 || pthread_cond_init(&pool->work_cv, NULL) ||
	    pthread_cond_init(&pool->done_cv, NULL))
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
	pthread_cond_destroy(&pool->done_cv);
	pthread_mutex_destroy(&pool->mu);
}

void
store_md5_submit(struct md5_pool *pool, struct md5_job *job, EVP_MD_CTX *ctx, const uint8_t *p,
		 size_t len)
{
	job->ctx = ctx;
	job->p = p;
	job->len = len;
	job->next = NULL;
	if (pool->nthreads == 0) {
		if (!EVP_DigestUpdate(ctx, p, len))
			abort();
		return;
	}
	pthread_mutex_lock(&pool->mu);
	job->busy = true;
	if (pool->tail)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pthread_cond_signal(&pool->work_cv);
	pthread_mutex_unlock(&pool->mu);
}

void
store_md5_wait(struct md5_pool *pool, struct md5_job *job)
{
	if (pool->nthreads == 0)
		return;
	pthread_mutex_lock(&pool->mu);
	while (job->busy)
		pthread_cond_wait(&pool->done_cv, &pool->mu);
	pthread_mutex_unlock(&pool->mu);
}

bool
store_md5_is_busy(struct md5_pool *pool, struct md5_job *job)
{
	bool busy;

	if (pool->nthreads == 0)
		return false;
	pthread_mutex_lock(&pool->mu);
	busy = job->busy;
	pthread_mutex_unlock(&pool->mu);
	return busy;
}
