/*
 * store_upload_list.c — ListMultipartUploads, the sweep of abandoned uploads, and the
 * background worker that runs the sweep and seam healing (store_upload_heal.c).
 *
 * Uploads are keyed by (bucket, id) — ids sort by creation time — while S3 lists them by key,
 * then by initiation. Rather than keep a second index by key (keys pass LMDB's key size limit),
 * a listing walks the bucket's uploads once and keeps the q->max + 1 smallest entries in a sorted
 * array of pointers: memory is bounded by q->max whatever the number of uploads, and since an
 * entry only enters when it is smaller than the current largest, few are ever inserted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "store_upload_priv.h"

struct list_ent {
	struct store_upload_entry e; /* e.key points at name */
	uint8_t name[INDEX_KEY_MAX];
};

struct list_ctx {
	const struct store_upload_query *q;
	struct list_ent **v; /* sorted, cap = q->max + 1 slots */
	size_t n;
	size_t cap;
};

/* Orders by name bytes, then length, then id ("" for a common prefix). */
static int
list_cmp(struct slice a, const char *aid, struct slice b, const char *bid)
{
	size_t m = a.len < b.len ? a.len : b.len;
	int r = m ? memcmp(a.p, b.p, m) : 0;

	if (r != 0)
		return r;
	if (a.len != b.len)
		return a.len < b.len ? -1 : 1;
	return strcmp(aid, bid);
}

/* S3's markers: keys after key-marker, or that key's uploads after upload-id-marker; common
 * prefixes after key-marker. */
static bool
list_after_marker(const struct store_upload_query *q, struct slice name, const char *id,
		  bool is_prefix)
{
	bool idm = q->id_marker && q->id_marker[0] && !is_prefix;

	if (q->key_marker.len == 0)
		return true;
	return list_cmp(name, idm ? id : "", q->key_marker, idm ? q->id_marker : "") > 0;
}

/* The entry name of key: the key, or its common prefix (up to and including the delimiter
 * after q->prefix). Returns false when the key does not match the prefix. */
static bool
list_name(const struct store_upload_query *q, struct slice key, struct slice *name, bool *is_prefix)
{
	const struct slice *d = &q->delimiter;
	size_t i;

	*is_prefix = false;
	*name = key;
	if (key.len < q->prefix.len || (q->prefix.len && memcmp(key.p, q->prefix.p, q->prefix.len)))
		return false;
	if (d->len == 0)
		return true;
	for (i = q->prefix.len; i + d->len <= key.len; i++) {
		if (memcmp(key.p + i, d->p, d->len) == 0) {
			name->len = i + d->len;
			*is_prefix = true;
			break;
		}
	}
	return true;
}

/* Position where (name, id) belongs in the sorted array; *dup when a common prefix is there. */
static size_t
list_pos(const struct list_ctx *c, struct slice name, const char *id, bool *dup)
{
	size_t lo = 0, hi = c->n, mid;
	int r;

	*dup = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = list_cmp(c->v[mid]->e.key, c->v[mid]->e.id, name, id);
		if (r == 0) {
			*dup = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
list_one(const char *bucket, const char *id, const struct index_upload *u, void *arg)
{
	struct list_ctx *c = arg;
	struct list_ent *ent;
	struct slice name;
	bool is_prefix, dup;
	size_t pos;

	(void)bucket;
	if (!list_name(c->q, u->key, &name, &is_prefix) ||
	    !list_after_marker(c->q, name, id, is_prefix))
		return 0;
	pos = list_pos(c, name, is_prefix ? "" : id, &dup);
	if (dup || pos == c->cap)
		return 0;
	if (c->n == c->cap)
		ent = c->v[--c->n]; /* the largest leaves; its slot is reused */
	else if ((ent = malloc(sizeof(*ent))) == NULL)
		abort();
	memmove(c->v + pos + 1, c->v + pos, (c->n - pos) * sizeof(*c->v));
	c->v[pos] = ent;
	c->n++;
	memset(&ent->e, 0, sizeof(ent->e));
	memcpy(ent->name, name.p, name.len);
	ent->e.key = (struct slice){ent->name, name.len};
	ent->e.is_prefix = is_prefix;
	if (!is_prefix) {
		memcpy(ent->e.id, id, STORE_UPLOAD_ID_LEN + 1);
		memcpy(ent->e.owner, u->owner, sizeof(ent->e.owner));
		ent->e.initiated_ns = u->initiated_ns;
		ent->e.checksum_algo = u->checksum_algo;
		ent->e.checksum_type = u->checksum_type;
	}
	return 0;
}

int
store_upload_list(struct store *st, const char *bucket, const struct store_upload_query *q,
		  int (*fn)(const struct store_upload_entry *e, void *arg), void *arg,
		  bool *truncated)
{
	struct list_ctx c = {.q = q};
	struct index_txn *txn;
	size_t i;
	int rc;

	*truncated = false;
	if (q->max > STORE_UPLOAD_LIST_MAX)
		return CAIRN_E_INVAL;
	c.cap = q->max + 1;
	c.v = calloc(c.cap, sizeof(*c.v));
	if (!c.v)
		abort();
	rc = index_read_begin(st->ix, &txn);
	if (rc == 0) {
		rc = index_upload_iter(txn, bucket, list_one, &c);
		index_read_end(txn);
	}
	if (rc == 0 && c.n > q->max) {
		*truncated = true;
		c.n = q->max;
	}
	for (i = 0; i < c.n && rc == 0; i++)
		rc = fn(&c.v[i]->e, arg);
	for (i = 0; i < c.cap; i++)
		free(c.v[i]);
	free(c.v);
	return rc;
}

/* ---- the sweep ---- */

#define SWEEP_BATCH 64

struct sweep_batch {
	int64_t cutoff_ns;
	size_t n;
	char bucket[SWEEP_BATCH][INDEX_BUCKET_NAME_MAX + 1];
	char id[SWEEP_BATCH][STORE_UPLOAD_ID_LEN + 1];
};

static int
sweep_collect(const char *bucket, const char *id, const struct index_upload *u, void *arg)
{
	struct sweep_batch *b = arg;

	if (u->initiated_ns >= b->cutoff_ns)
		return 0;
	memcpy(b->bucket[b->n], bucket, strlen(bucket) + 1);
	memcpy(b->id[b->n], id, STORE_UPLOAD_ID_LEN + 1);
	return ++b->n == SWEEP_BATCH ? 1 : 0;
}

int
store_upload_sweep(struct store *st, int64_t cutoff_ns, uint64_t *n)
{
	struct sweep_batch *b = calloc(1, sizeof(*b));
	struct index_txn *txn;
	size_t i;
	int rc;

	if (!b)
		abort();
	if (n)
		*n = 0;
	b->cutoff_ns = cutoff_ns;
	do {
		b->n = 0;
		rc = index_read_begin(st->ix, &txn);
		if (rc < 0)
			break;
		rc = index_upload_iter(txn, NULL, sweep_collect, b);
		index_read_end(txn);
		for (i = 0; i < b->n && rc >= 0; i++) {
			rc = store_upload_abort(st, b->bucket[i], b->id[i]);
			if (rc == 0 && n)
				(*n)++;
			if (rc == CAIRN_E_NOTFOUND)
				rc = 0; /* completed or aborted meanwhile */
		}
	} while (rc >= 0 && b->n == SWEEP_BATCH);
	free(b);
	return rc < 0 ? rc : 0;
}

/* ---- the worker thread ---- */

#define WORKER_HEAL_INTERVAL_S 1

struct store_upload_worker {
	struct store *st;
	uint64_t max_age_s; /* 0: no sweep */
	uint64_t sweep_interval_s;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	bool stop;
};

static void
worker_sweep(struct store_upload_worker *wk)
{
	int64_t cutoff = store_now_ns() - (int64_t)wk->max_age_s * 1000000000;
	uint64_t n = 0;
	int rc;

	rc = store_upload_sweep(wk->st, cutoff, &n);
	if (rc < 0)
		log_error("uploads: sweep failed: %s", cairn_strerror(rc));
	if (n)
		log_info("uploads: aborted %llu upload(s) older than %llu s", (unsigned long long)n,
			 (unsigned long long)wk->max_age_s);
}

/* Heals until the queue is empty (or only holds objects being read), or stop is asked. */
static void
worker_heal(struct store_upload_worker *wk)
{
	uint64_t objects;
	bool stop;
	int rc;

	do {
		rc = store_upload_heal(wk->st, &objects, NULL);
		if (rc < 0)
			log_error("uploads: healing failed: %s", cairn_strerror(rc));
		pthread_mutex_lock(&wk->mu);
		stop = wk->stop;
		pthread_mutex_unlock(&wk->mu);
	} while (rc == 0 && objects > 0 && !stop);
}

static void *
worker_main(void *arg)
{
	struct store_upload_worker *wk = arg;
	struct timespec now, next_sweep, until;

	clock_gettime(CLOCK_MONOTONIC, &next_sweep);
	pthread_mutex_lock(&wk->mu);
	while (!wk->stop) {
		pthread_mutex_unlock(&wk->mu);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (wk->max_age_s && now.tv_sec >= next_sweep.tv_sec) {
			worker_sweep(wk);
			next_sweep.tv_sec = now.tv_sec + (time_t)wk->sweep_interval_s;
		}
		worker_heal(wk);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += WORKER_HEAL_INTERVAL_S;
		pthread_mutex_lock(&wk->mu);
		while (!wk->stop && pthread_cond_timedwait(&wk->cv, &wk->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&wk->mu);
	return NULL;
}

static uint64_t
worker_interval(uint64_t max_age_s, uint64_t interval_s)
{
	uint64_t v = interval_s ? interval_s : max_age_s / 4;

	if (v < 1)
		v = 1;
	if (!interval_s && v > 3600)
		v = 3600;
	return v;
}

int
store_upload_worker_start(struct store *st, uint64_t max_age_s, uint64_t sweep_interval_s,
			  struct store_upload_worker **out)
{
	struct store_upload_worker *wk;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (max_age_s > INT64_MAX / 1000000000)
		return CAIRN_E_INVAL;
	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	wk = calloc(1, sizeof(*wk));
	if (!wk)
		abort();
	wk->st = st;
	wk->max_age_s = max_age_s;
	wk->sweep_interval_s = worker_interval(max_age_s, sweep_interval_s);
	if (pthread_mutex_init(&wk->mu, NULL) || pthread_condattr_init(&ca) ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(&wk->cv, &ca))
		abort();
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&wk->thread, NULL, worker_main, wk);
	if (rc != 0) {
		pthread_cond_destroy(&wk->cv);
		pthread_mutex_destroy(&wk->mu);
		free(wk);
		return -rc;
	}
	*out = wk;
	return 0;
}

void
store_upload_worker_stop(struct store_upload_worker *wk)
{
	if (!wk)
		return;
	pthread_mutex_lock(&wk->mu);
	wk->stop = true;
	pthread_cond_signal(&wk->cv);
	pthread_mutex_unlock(&wk->mu);
	pthread_join(wk->thread, NULL);
	pthread_cond_destroy(&wk->cv);
	pthread_mutex_destroy(&wk->mu);
	free(wk);
}
