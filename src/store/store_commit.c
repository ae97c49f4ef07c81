/*
 * store_commit.c — making a finished put visible.
 *
 * Order: fdatasync the packs (group commit: concurrent commits share one), then one index
 * transaction that checks the bucket and the conditions, writes the pages, takes one reference
 * per chunk entry, switches the key to the new object and retires the old one. The transaction
 * function may run more than once (index_write reruns it after growing the map), so it computes
 * everything from the put's state and the transaction, and marks nothing outside them except
 * dying pins, which store_pin_settle() clears whatever the outcome.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "store_internal.h"

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

	rc = index_page_put(txn, c->oid, start, e, n);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		rc = store_ref_inc(&c->w, txn, &e[i].id);
		if (rc < 0)
			return rc;
	}
	return 0;
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
	rc = index_object_put(txn, c->bucket, c->key, &obj);
	if (rc < 0)
		return rc;
	if (exists) {
		rc = store_pin_retire(&c->w, txn, old.oid);
		if (rc < 0)
			return rc;
	}
	return store_ref_flush(&c->w, txn);
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
	rc = packstore_sync(st->ps);
	if (rc < 0)
		goto out_free_put;
	c.mtime_ns = store_now_ns();
	store_wctx_init(&c.w, st);
	rc = index_write(st->ix, commit_fn, &c);
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
