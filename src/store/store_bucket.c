/*
 * store_bucket.c — buckets: create, get, delete (only when empty), list.
 */
#include <string.h>

#include "cairn/err.h"
#include "store_internal.h"
#include "store_upload_priv.h"

struct bucket_ctx {
	const char *name;
	const char *owner;
	const char *region;
	struct index_bucket *existing;
};

static int
bucket_create_fn(struct index_txn *txn, void *arg)
{
	struct bucket_ctx *c = arg;
	struct index_bucket b;
	int rc;

	rc = index_bucket_get(txn, c->name, &b);
	if (rc == 0) {
		if (c->existing)
			*c->existing = b;
		return CAIRN_E_EXISTS;
	}
	if (rc != CAIRN_E_NOTFOUND)
		return rc;
	memset(&b, 0, sizeof(b));
	memcpy(b.owner, c->owner, strlen(c->owner));
	memcpy(b.region, c->region, strlen(c->region));
	b.ctime_ns = store_now_ns();
	return index_bucket_put(txn, c->name, &b);
}

int
store_bucket_create(struct store *st, const char *name, const char *owner, const char *region,
		    struct index_bucket *existing)
{
	struct bucket_ctx c = {name, owner ? owner : "", region ? region : "", existing};
	size_t n = strlen(name);

	if (st->cfg.mode == STORE_MODE_READ)
		return CAIRN_E_READONLY;
	if (n == 0 || n > INDEX_BUCKET_NAME_MAX || strlen(c.owner) > INDEX_OWNER_MAX ||
	    strlen(c.region) > INDEX_REGION_MAX)
		return CAIRN_E_INVAL;
	return index_write(st->ix, bucket_create_fn, &c);
}

int
store_bucket_get(struct store *st, const char *name, struct index_bucket *out)
{
	struct index_txn *txn;
	int rc;

	rc = index_read_begin(st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_bucket_get(txn, name, out);
	index_read_end(txn);
	return rc;
}

struct bucket_delete_ctx {
	const char *name;
	struct store_wctx w;
};

static int
bucket_delete_fn(struct index_txn *txn, void *arg)
{
	struct bucket_delete_ctx *c = arg;
	const char *name = c->name;
	struct index_cursor *cur;
	struct index_object obj;
	struct index_bucket b;
	struct slice key;
	int rc;

	rc = index_bucket_get(txn, name, &b);
	if (rc < 0)
		return rc;
	rc = index_object_cursor_open(txn, name, &cur);
	if (rc < 0)
		return rc;
	rc = index_object_cursor_seek(cur, (struct slice){NULL, 0}, &key, &obj);
	index_cursor_close(cur);
	if (rc == 0)
		return CAIRN_E_NOTEMPTY;
	if (rc != CAIRN_E_NOTFOUND)
		return rc;
	store_wctx_reset(&c->w);
	rc = upload_release_bucket(&c->w, txn, name); /* multipart uploads in progress go too */
	if (rc == 0)
		rc = index_bucket_del(txn, name);
	return rc == 0 ? store_ref_flush(&c->w, txn) : rc;
}

int
store_bucket_delete(struct store *st, const char *name)
{
	struct bucket_delete_ctx c = {.name = name};
	int rc;

	if (st->cfg.mode == STORE_MODE_READ)
		return CAIRN_E_READONLY;
	store_wctx_init(&c.w, st);
	rc = index_write(st->ix, bucket_delete_fn, &c);
	store_wctx_fini(&c.w);
	return rc;
}

int
store_bucket_list(struct store *st,
		  int (*fn)(const char *name, const struct index_bucket *b, void *arg), void *arg)
{
	struct index_txn *txn;
	int rc;

	rc = index_read_begin(st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_bucket_iter(txn, fn, arg);
	index_read_end(txn);
	return rc;
}
