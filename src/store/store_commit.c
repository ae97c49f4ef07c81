/*
 * store_commit.c — making a finished put visible, and the group commit every put and part commit
 * goes through.
 *
 * A put's commit: fdatasync the packs (concurrent callers share one, packstore_sync), then in
 * the index check the bucket and the conditions, write the pages, take one reference per chunk
 * entry, switch the key to the new object and retire the old one. The transaction function may
 * run more than once (index_write reruns it after growing the map), so it computes everything
 * from the put's state and the transaction, and marks nothing outside them except dying pins,
 * which store_pin_settle() clears whatever the outcome.
 *
 * Group commit. An LMDB commit costs two synchronous writes (the pages, then the meta page), so
 * one transaction per put caps small puts at a few hundred a second. Instead, callers queue;
 * the first that finds no leader running becomes the leader: it takes the whole queue, runs one
 * index_write whose function applies each queued commit in its own nested transaction (so one
 * commit's failed precondition undoes only its own changes), and hands every caller its own
 * result. Callers that queued meanwhile form the next batch, led by the first of them. Every
 * caller completed its pack appends before it queued, so the leader's one packstore_sync() after
 * taking the batch makes all of their data durable before the transaction that references it;
 * no commit returns before that transaction is durable too. (Measured: a sync by each caller
 * before queueing, overlapping the leader's transaction, formed smaller batches and did half the
 * puts per second of this.)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "store_internal.h"

struct commit_req {
	int (*fn)(struct index_txn *txn, void *arg);
	void *arg;
	uint64_t refs;
	int rc;
	bool done;
	pthread_cond_t cv; /* signalled when done, or when this caller is to lead */
	struct commit_req *next;
};

void
store_committer_init(struct committer *q)
{
	memset(q, 0, sizeof(*q));
	if (pthread_mutex_init(&q->mu, NULL) != 0)
		abort();
}

void
store_committer_fini(struct committer *q)
{
	pthread_mutex_destroy(&q->mu);
}

void
store_set_commit_hook(struct store *st, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&st->commit.mu);
	st->commit.hook = fn;
	st->commit.hook_arg = arg;
	pthread_mutex_unlock(&st->commit.mu);
}

void
store_commit_counters(struct store *st, struct store_commit_counters *out)
{
	pthread_mutex_lock(&st->commit.mu);
	*out = st->commit.counters;
	pthread_mutex_unlock(&st->commit.mu);
}

/* The leader's transaction function: every commit of the batch in its own nested transaction.
 * A nested commit that fills the map marks the whole transaction (index_write grows the map and
 * calls this again, which recomputes every result). */
static int
commit_batch_fn(struct index_txn *txn, void *arg)
{
	struct commit_req *r;

	for (r = arg; r; r = r->next)
		r->rc = index_write_nested(txn, r->fn, r->arg);
	return 0;
}

/* Takes requests off the queue: the first, then more while the batch stays within
 * STORE_COMMIT_BATCH_MAX commits and STORE_COMMIT_REFS_MAX references. Under q->mu. */
static struct commit_req *
commit_batch_take(struct committer *q, size_t *n)
{
	struct commit_req *head = q->head, *r = head;
	uint64_t refs = 0;

	*n = 1;
	while (r->next && *n < STORE_COMMIT_BATCH_MAX &&
	       refs + r->next->refs <= STORE_COMMIT_REFS_MAX) {
		r = r->next;
		refs += r->refs;
		(*n)++;
	}
	q->head = r->next;
	if (!q->head)
		q->tail = NULL;
	r->next = NULL;
	q->counters.queued -= *n;
	return head;
}

/* Applies one batch as leader: called and returns with q->mu held. */
static void
commit_lead(struct store *st)
{
	struct committer *q = &st->commit;
	struct commit_req *batch, *r, *next;
	size_t n;
	int rc;

	q->leading = true;
	if (q->hook) {
		pthread_mutex_unlock(&q->mu);
		q->hook(q->hook_arg);
		pthread_mutex_lock(&q->mu);
	}
	batch = commit_batch_take(q, &n);
	pthread_mutex_unlock(&q->mu);
	/* Every commit of the batch finished its appends before it queued: one sync covers all. */
	rc = packstore_sync(st->ps);
	if (rc == 0)
		rc = index_write(st->ix, commit_batch_fn, batch);
	pthread_mutex_lock(&q->mu);
	q->counters.commits += n;
	q->counters.txns++;
	if (n > q->counters.batch_max)
		q->counters.batch_max = n;
	for (r = batch; r; r = next) {
		next = r->next; /* r may be gone once its caller sees done */
		if (rc < 0 && r->rc == 0)
			r->rc = rc; /* the packs did not sync, or the transaction did not commit */
		r->done = true;
		pthread_cond_signal(&r->cv);
	}
	q->leading = false;
	if (q->head)
		pthread_cond_signal(&q->head->cv); /* the next batch's leader */
}

int
store_commit_group(struct store *st, int (*fn)(struct index_txn *txn, void *arg), void *arg,
		   uint64_t refs)
{
	struct committer *q = &st->commit;
	struct commit_req req = {.fn = fn, .arg = arg, .refs = refs};

	if (pthread_cond_init(&req.cv, NULL) != 0)
		abort();
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = &req;
	else
		q->head = &req;
	q->tail = &req;
	q->counters.queued++;
	while (!req.done) {
		if (!q->leading && q->head == &req)
			commit_lead(st);
		else
			pthread_cond_wait(&req.cv, &q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	pthread_cond_destroy(&req.cv);
	return req.rc;
}

struct commit_ctx {
	struct store_wctx w;
	struct store_put *put;
	const char *bucket;
	struct slice key;
	struct slice meta;
	const struct store_put_cond *cond;
	int64_t mtime_ns;
	uint64_t oid;
};

static int
commit_page(struct commit_ctx *c, struct index_txn *txn, uint64_t start,
	    const struct index_page_entry *e, size_t n)
{
	size_t i;
	int rc;

	/* References first: a new chunk's record must exist for the page to name it by its
	 * sequence number (index_chunks.c), else the entry carries the whole id. */
	for (i = 0; i < n; i++) {
		rc = store_ref_inc(&c->w, txn, &e[i].id);
		if (rc < 0)
			return rc;
	}
	return index_page_put(txn, c->oid, start, e, n);
}

static int
commit_pages(struct commit_ctx *c, struct index_txn *txn)
{
	struct store_put *put = c->put;
	uint64_t i, start = 0;
	int rc;

	for (i = 0; i < put->spilled; i++) {
		rc = store_put_spill_read(put, i, c->w.scratch);
		if (rc < 0)
			return rc;
		rc = commit_page(c, txn, start, c->w.scratch, INDEX_PAGE_ENTRIES);
		if (rc < 0)
			return rc;
		start = c->w.scratch[INDEX_PAGE_ENTRIES - 1].end;
	}
	if (put->page_n == 0)
		return 0;
	return commit_page(c, txn, start, put->page, put->page_n);
}

static int
commit_fn(struct index_txn *txn, void *arg)
{
	struct commit_ctx *c = arg;
	struct index_object old, obj;
	struct index_bucket b;
	bool exists;
	int rc;

	store_wctx_reset(&c->w);
	rc = index_bucket_get(txn, c->bucket, &b);
	if (rc < 0)
		return rc;
	rc = index_object_get(txn, c->bucket, c->key, &old);
	if (rc < 0 && rc != CAIRN_E_NOTFOUND)
		return rc;
	exists = rc == 0;
	rc = store_cond_check(c->cond, exists, &old);
	if (rc < 0)
		return rc;
	rc = index_next_oid(txn, &c->oid);
	if (rc < 0)
		return rc;
	rc = commit_pages(c, txn);
	if (rc < 0)
		return rc;
	memset(&obj, 0, sizeof(obj));
	obj.oid = c->oid;
	obj.size = c->put->received;
	obj.mtime_ns = c->mtime_ns;
	memcpy(obj.md5, c->put->md5sum, 16);
	obj.nchunks = c->put->nchunks;
	obj.meta = c->meta;
	return store_obj_install(&c->w, txn, c->bucket, c->key, &obj, exists ? &old : NULL);
}

int
store_put_commit(struct store_put *put, const char *bucket, struct slice key, struct slice meta,
		 const struct store_put_cond *cond, struct store_object_info *out)
{
	struct store *st = put->st;
	struct commit_ctx c = {.put = put, .bucket = bucket, .key = key, .meta = meta};
	int rc;

	c.cond = cond;
	rc = put->err ? put->err : put->finished ? 0 : CAIRN_E_INVAL;
	if (rc < 0)
		goto out_free_put;
	rc = store_key_check(key);
	if (rc < 0)
		goto out_free_put;
	c.mtime_ns = store_now_ns();
	store_wctx_init(&c.w, st);
	rc = store_commit_group(st, commit_fn, &c, put->nchunks);
	store_pin_settle(&c.w);
	store_wctx_fini(&c.w);
	if (rc == 0 && out) {
		memset(out, 0, sizeof(*out));
		out->size = put->received;
		out->mtime_ns = c.mtime_ns;
		memcpy(out->md5, put->md5sum, 16);
		store_etag_format(out->md5, 0, out->etag);
	}
out_free_put:
	/* The index now holds every chunk the put pinned (or the put failed): unpin. */
	store_put_free(put);
	return rc;
}
