/*
 * store_obj.c — delete and server-side copy, each one index transaction, and the install of a new
 * object version that copy and put commit share.
 *
 * Copy moves no data: the new object gets its own pages (same entries as the source) and takes
 * one more reference on every chunk.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "store_internal.h"

int
store_obj_install(struct store_wctx *w, struct index_txn *txn, const char *bucket, struct slice key,
		  const struct index_object *obj, const struct index_object *old)
{
	int rc;

	rc = index_object_put(txn, bucket, key, obj);
	if (rc < 0)
		return rc;
	if (old) {
		rc = store_pin_retire(w, txn, old->oid);
		if (rc < 0)
			return rc;
	}
	return store_ref_flush(w, txn);
}

struct delete_ctx {
	struct store_wctx w;
	const char *bucket;
	struct slice key;
};

static int
delete_fn(struct index_txn *txn, void *arg)
{
	struct delete_ctx *c = arg;
	struct index_object obj;
	struct index_bucket b;
	int rc;

	store_wctx_reset(&c->w);
	rc = index_bucket_get(txn, c->bucket, &b);
	if (rc < 0)
		return rc;
	rc = index_object_get(txn, c->bucket, c->key, &obj);
	if (rc < 0)
		return rc;
	rc = index_object_del(txn, c->bucket, c->key);
	if (rc < 0)
		return rc;
	rc = store_pin_retire(&c->w, txn, obj.oid);
	if (rc < 0)
		return rc;
	return store_ref_flush(&c->w, txn);
}

int
store_delete(struct store *st, const char *bucket, struct slice key)
{
	struct delete_ctx c = {.bucket = bucket, .key = key};
	int rc;

	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	if (key.len == 0 || key.len > INDEX_KEY_MAX)
		return CAIRN_E_NOTFOUND;
	store_wctx_init(&c.w, st);
	rc = index_write(st->ix, delete_fn, &c);
	store_pin_settle(&c.w);
	store_wctx_fini(&c.w);
	return rc;
}

struct copy_ctx {
	struct store_wctx w;
	const char *src_bucket;
	struct slice src_key;
	const char *dst_bucket;
	struct slice dst_key;
	const struct slice *meta;
	const struct store_put_cond *cond;
	struct buf src_meta; /* the source's meta, copied out of the map before any write */
	struct index_object obj;
};

/* Gives oid's pages to the new object, taking one reference per entry. */
static int
copy_pages(struct copy_ctx *c, struct index_txn *txn, uint64_t src_oid)
{
	uint64_t off = 0, start;
	size_t n, i;
	int rc;

	while (off < c->obj.size) {
		rc = index_page_find(txn, src_oid, off, &start, c->w.scratch, &n);
		if (rc < 0)
			return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
		if (n == 0 || start != off || c->w.scratch[n - 1].end <= off)
			return CAIRN_E_CORRUPT;
		rc = index_page_put(txn, c->obj.oid, start, c->w.scratch, n);
		if (rc < 0)
			return rc;
		for (i = 0; i < n; i++) {
			rc = store_ref_inc(&c->w, txn, &c->w.scratch[i].id);
			if (rc < 0)
				return rc;
		}
		off = c->w.scratch[n - 1].end;
	}
	return 0;
}

static int
copy_source(struct copy_ctx *c, struct index_txn *txn, uint64_t *src_oid)
{
	struct index_object src;
	int rc;

	rc = index_object_get(txn, c->src_bucket, c->src_key, &src);
	if (rc < 0)
		return rc;
	*src_oid = src.oid;
	c->obj = src;
	buf_reset(&c->src_meta);
	if (c->meta)
		return buf_append(&c->src_meta, c->meta->p, c->meta->len);
	return buf_append(&c->src_meta, src.meta.p, src.meta.len);
}

static int
copy_fn(struct index_txn *txn, void *arg)
{
	struct copy_ctx *c = arg;
	struct index_object old;
	struct index_bucket b;
	uint64_t src_oid;
	bool exists;
	int rc;

	store_wctx_reset(&c->w);
	rc = copy_source(c, txn, &src_oid);
	if (rc < 0)
		return rc;
	rc = index_bucket_get(txn, c->dst_bucket, &b);
	if (rc < 0)
		return rc;
	rc = index_object_get(txn, c->dst_bucket, c->dst_key, &old);
	if (rc < 0 && rc != CAIRN_E_NOTFOUND)
		return rc;
	exists = rc == 0;
	rc = store_cond_check(c->cond, exists, &old);
	if (rc < 0)
		return rc;
	rc = index_next_oid(txn, &c->obj.oid);
	if (rc < 0)
		return rc;
	rc = copy_pages(c, txn, src_oid);
	if (rc < 0)
		return rc;
	c->obj.mtime_ns = store_now_ns();
	c->obj.meta = buf_slice(&c->src_meta);
	return store_obj_install(&c->w, txn, c->dst_bucket, c->dst_key, &c->obj,
				 exists ? &old : NULL);
}

int
store_copy(struct store *st, const char *src_bucket, struct slice src_key, const char *dst_bucket,
	   struct slice dst_key, const struct slice *meta, const struct store_put_cond *cond,
	   struct store_object_info *out)
{
	struct copy_ctx c = {.src_bucket = src_bucket, .src_key = src_key};
	int rc;

	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	if (src_key.len == 0 || src_key.len > INDEX_KEY_MAX)
		return CAIRN_E_NOTFOUND;
	rc = store_key_check(dst_key);
	if (rc < 0)
		return rc;
	c.dst_bucket = dst_bucket;
	c.dst_key = dst_key;
	c.meta = meta;
	c.cond = cond;
	buf_init(&c.src_meta, STORE_META_MAX);
	store_wctx_init(&c.w, st);
	rc = index_write(st->ix, copy_fn, &c);
	store_pin_settle(&c.w);
	store_wctx_fini(&c.w);
	if (rc == 0 && out) {
		store_info_from_object(&c.obj, out);
		out->meta.p = NULL;
		out->meta.len = 0;
	}
	buf_fini(&c.src_meta);
	return rc;
}
