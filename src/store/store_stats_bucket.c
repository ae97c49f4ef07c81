/*
 * store_stats_bucket.c — per-bucket statistics (store.h: store_stats_buckets): one read snapshot,
 * every object's and upload part's chunk list walked, each reference looked up for its chunk's
 * lengths and refcount, the chunk's bytes shared out by references.
 */
#include <string.h>

#include "cairn/err.h"
#include "store_internal.h"

struct bstats_ctx {
	struct index_txn *txn;
	struct store_bucket_stats s;
	int (*fn)(const char *name, const struct store_bucket_stats *s, void *arg);
	void *arg;
};

static int
bstats_page(uint64_t start, const struct index_page_entry *e, size_t n, void *arg)
{
	struct bstats_ctx *c = arg;
	struct index_chunk ch;
	size_t i;
	int rc;

	(void)start;
	for (i = 0; i < n; i++) {
		rc = index_chunk_get(c->txn, &e[i].id, &ch);
		if (rc == CAIRN_E_NOTFOUND || (rc == 0 && ch.refcount == 0))
			continue; /* fsck reports it */
		if (rc < 0)
			return rc;
		c->s.raw_bytes += (double)ch.loc.raw_len / (double)ch.refcount;
		c->s.stored_bytes += (double)ch.loc.record_len / (double)ch.refcount;
	}
	return 0;
}

static int
bstats_part(const char *id, uint32_t number, const struct index_part *p, void *arg)
{
	struct bstats_ctx *c = arg;

	(void)id;
	(void)number;
	c->s.upload_bytes += p->size;
	return index_page_iter(c->txn, p->oid, false, bstats_page, c);
}

static int
bstats_upload(const char *bucket, const char *id, const struct index_upload *u, void *arg)
{
	struct bstats_ctx *c = arg;

	(void)bucket;
	(void)u;
	c->s.uploads++;
	return index_part_iter(c->txn, id, 0, bstats_part, c);
}

static int
bstats_bucket(const char *name, const struct index_bucket *b, void *arg)
{
	struct bstats_ctx *c = arg;
	struct index_cursor *cur;
	struct index_object obj;
	struct slice key;
	int rc;

	(void)b;
	memset(&c->s, 0, sizeof(c->s));
	rc = index_object_cursor_open(c->txn, name, &cur);
	if (rc < 0)
		return rc;
	for (rc = index_object_cursor_seek(cur, (struct slice){NULL, 0}, &key, &obj); rc == 0;
	     rc = index_object_cursor_next(cur, &key, &obj)) {
		c->s.objects++;
		c->s.logical_bytes += obj.size;
		rc = index_page_iter(c->txn, obj.oid, false, bstats_page, c);
		if (rc < 0)
			break;
	}
	index_cursor_close(cur);
	if (rc != CAIRN_E_NOTFOUND)
		return rc;
	rc = index_upload_iter(c->txn, name, bstats_upload, c);
	return rc < 0 ? rc : c->fn(name, &c->s, c->arg);
}

int
store_stats_buckets(struct store *st,
		    int (*fn)(const char *name, const struct store_bucket_stats *s, void *arg),
		    void *arg)
{
	struct bstats_ctx c = {.fn = fn, .arg = arg};
	int rc;

	rc = index_read_begin(st->ix, &c.txn);
	if (rc < 0)
		return rc;
	rc = index_bucket_iter(c.txn, bstats_bucket, &c);
	index_read_end(c.txn);
	return rc;
}
