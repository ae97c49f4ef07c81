/*
 * store_upload_copy.c — UploadPartCopy: a byte range of an object becomes a part.
 *
 * The source is opened like a get (store_get pins its oid, so its pages outlive a concurrent
 * overwrite). Chunk boundaries decide what is copied: the chunks lying wholly inside the range
 * [start, end) — between the first boundary a >= start and the last boundary b <= end — are only
 * referenced; the bytes [start, a) and [b, end) belong to chunks that stick out of the range and
 * are read and put again through the put pipeline (they are chunked afresh, and deduplicated like
 * any put). When no whole chunk lies inside, the whole range is such an edge.
 *
 * The range is read once anyway for the part's MD5 (its ETag) and the S3 layer's checksum,
 * unless the whole of a single-PUT object is copied with no checksum wanted (its MD5 is known).
 *
 * The commit transaction then writes the part's pages from the head put's chunks, the source's
 * entries in [a, b) (shifted to part offsets) and the tail put's chunks, takes one reference per
 * entry, and records the part as store_upload_part_commit() does.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cairn/err.h"
#include "store_upload_priv.h"

struct copy_ctx {
	struct store_wctx w;
	struct upload_pw pw;
	struct store *st;
	const char *bucket;
	struct slice key;
	const char *id;
	uint32_t number;
	struct store_part_copy *src;
	struct store_get *g;
	uint64_t src_oid;
	uint64_t start, end; /* the range */
	uint64_t a, b;	     /* whole chunks [a, b); a == b == end when none */
	struct store_put *head;
	struct store_put *tail;
	struct index_part part;
};

/* The chunk boundary at or after off (up) or at or before off (down), off inside the object. */
static int
copy_boundary(struct copy_ctx *c, struct index_txn *txn, uint64_t off, bool up, uint64_t *out)
{
	struct index_page_entry *e = c->w.scratch;
	uint64_t pstart, cs;
	size_t n, i;
	int rc;

	rc = index_page_find(txn, c->src_oid, off, &pstart, e, &n);
	if (rc < 0)
		return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
	for (i = 0; i < n && e[i].end <= off; i++)
		;
	if (i == n)
		return CAIRN_E_CORRUPT;
	cs = i ? e[i - 1].end : pstart;
	*out = cs == off ? off : up ? e[i].end : cs;
	return 0;
}

/* Finds the whole chunks [a, b) of the range. */
static int
copy_plan(struct copy_ctx *c)
{
	struct index_txn *txn;
	int rc;

	c->a = c->b = c->end;
	if (c->end == c->start)
		return 0;
	rc = index_read_begin(c->st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = copy_boundary(c, txn, c->start, true, &c->a);
	if (rc == 0 && c->end < c->src->src_info.size)
		rc = copy_boundary(c, txn, c->end, false, &c->b);
	index_read_end(txn);
	if (rc == 0 && c->a >= c->b)
		c->a = c->b = c->end;
	return rc;
}

/* Hands span bytes at object offset pos to the put of their region (head or tail). */
static int
copy_route(struct copy_ctx *c, uint64_t pos, struct slice span)
{
	struct store_put **put = pos < c->a ? &c->head : pos >= c->b ? &c->tail : NULL;
	int rc;

	if (!put)
		return 0;
	if (!*put) {
		rc = store_put_begin(c->st, put);
		if (rc < 0)
			return rc;
	}
	return store_put_write(*put, span.p, span.len);
}

/* Reads [from, to) of the source: MD5 (md may be NULL), data_fn, and the edge puts. */
static int
copy_read(struct copy_ctx *c, uint64_t from, uint64_t to, EVP_MD_CTX *md)
{
	uint64_t pos = from, stop;
	struct slice span;
	int rc;

	rc = store_get_seek(c->g, from);
	while (rc == 0 && pos < to) {
		/* Spans never cross a region boundary, so each goes to one place. */
		stop = pos < c->a ? c->a : pos < c->b ? c->b : to;
		if (stop > to)
			stop = to;
		rc = store_get_next(c->g, stop - pos > (1u << 20) ? (1u << 20) : stop - pos, &span);
		if (rc < 0)
			break;
		if (span.len == 0)
			return CAIRN_E_CORRUPT;
		if (md && !EVP_DigestUpdate(md, span.p, span.len))
			abort();
		if (c->src->data_fn)
			c->src->data_fn(c->src->arg, span.p, span.len);
		rc = copy_route(c, pos, span);
		pos += span.len;
	}
	return rc;
}

static int
copy_finish_put(struct store_put *put)
{
	return put ? store_put_finish(put, NULL, NULL) : 0;
}

/* Reads what must be read: the whole range (MD5, checksum) or only its edges. */
static int
copy_data(struct copy_ctx *c)
{
	const struct store_object_info *si = &c->src->src_info;
	bool known = c->src->whole && si->parts == 0 && !c->src->data_fn;
	EVP_MD_CTX *md = NULL;
	unsigned int len = 0;
	int rc;

	if (known) {
		memcpy(c->part.md5, si->md5, 16);
		rc = copy_read(c, c->start, c->a, NULL);
		if (rc == 0)
			rc = copy_read(c, c->b, c->end, NULL);
	} else {
		md = EVP_MD_CTX_new();
		if (!md || !EVP_DigestInit_ex(md, EVP_md5(), NULL))
			abort();
		rc = copy_read(c, c->start, c->end, md);
		if (!EVP_DigestFinal_ex(md, c->part.md5, &len) || len != 16)
			abort();
		EVP_MD_CTX_free(md);
	}
	if (rc == 0)
		rc = copy_finish_put(c->head);
	if (rc == 0)
		rc = copy_finish_put(c->tail);
	if (rc == 0 && c->src->checksum_fn)
		c->part.checksum_len = (uint8_t)c->src->checksum_fn(c->src->arg, c->part.checksum);
	return rc;
}

/* Adds the source's entries lying in [a, b). */
static int
copy_middle(struct copy_ctx *c, struct index_txn *txn)
{
	struct index_page_entry *e = c->w.scratch;
	uint64_t off = c->a, pstart;
	size_t n, i, j;
	int rc;

	c->pw.delta = (uint64_t)0 - c->start;
	while (off < c->b) {
		rc = index_page_find(txn, c->src_oid, off, &pstart, e, &n);
		if (rc < 0)
			return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
		for (i = 0; i < n && e[i].end <= off; i++)
			;
		for (j = i; j < n && e[j].end <= c->b; j++)
			;
		if (j == i)
			return CAIRN_E_CORRUPT;
		off = e[j - 1].end;
		rc = upload_pw_add(&c->pw, e + i, j - i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
copy_fn(struct index_txn *txn, void *arg)
{
	struct copy_ctx *c = arg;
	struct index_upload u;
	int rc;

	store_wctx_reset(&c->w);
	rc = upload_check(txn, c->bucket, c->id, c->key, &u);
	if (rc == 0)
		rc = index_next_oid(txn, &c->part.oid);
	if (rc < 0)
		return rc;
	upload_pw_begin(&c->pw, txn, c->part.oid);
	if (c->head)
		rc = upload_pw_add_put(&c->pw, c->head);
	if (rc == 0 && c->a < c->b)
		rc = copy_middle(c, txn);
	c->pw.delta = c->b - c->start;
	if (rc == 0 && c->tail)
		rc = upload_pw_add_put(&c->pw, c->tail);
	if (rc == 0)
		rc = upload_pw_flush(&c->pw);
	if (rc == 0 && c->pw.end != c->part.size)
		rc = CAIRN_E_CORRUPT;
	if (rc < 0)
		return rc;
	c->part.nchunks = c->pw.nchunks;
	rc = upload_part_store(&c->w, txn, c->id, c->number, &c->part);
	if (rc < 0)
		return rc;
	return store_ref_flush(&c->w, txn);
}

/* Opens the source and settles the range. */
static int
copy_open(struct copy_ctx *c)
{
	struct store_part_copy *src = c->src;
	int rc;

	rc = store_get_open(c->st, src->src_bucket, src->src_key, &c->g);
	if (rc == CAIRN_E_NOTFOUND)
		src->src_missing = true;
	if (rc < 0)
		return rc;
	src->src_info = *store_get_info(c->g);
	src->src_info.meta.p = NULL;
	src->src_info.meta.len = 0;
	c->src_oid = store_get_oid(c->g);
	c->start = src->whole ? 0 : src->start;
	c->end = src->whole ? src->src_info.size : src->start + src->len;
	if (!src->whole && (src->len == 0 || c->end < c->start || c->end > src->src_info.size))
		return CAIRN_E_INVAL;
	return c->end - c->start > STORE_PART_SIZE_MAX ? CAIRN_E_TOOBIG : 0;
}

int
store_upload_part_copy(struct store *st, const char *bucket, struct slice key, const char *id,
		       uint32_t number, struct store_part_copy *src, struct store_part *out)
{
	struct copy_ctx c = {.st = st, .bucket = bucket, .key = key, .id = id, .number = number};
	int rc;

	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	if (number == 0 || number > STORE_PARTS_MAX)
		return CAIRN_E_INVAL;
	c.src = src;
	src->src_missing = false;
	store_wctx_init(&c.w, st);
	upload_pw_init(&c.pw, &c.w, true);
	rc = copy_open(&c);
	if (rc == 0)
		rc = copy_plan(&c);
	if (rc == 0)
		rc = copy_data(&c);
	if (rc == 0)
		rc = packstore_sync(st->ps);
	c.part.size = c.end - c.start;
	c.part.mtime_ns = store_now_ns();
	if (rc == 0)
		rc = index_write(st->ix, copy_fn, &c);
	if (rc == 0 && out) {
		memset(out, 0, sizeof(*out));
		out->number = number;
		out->size = c.part.size;
		out->mtime_ns = c.part.mtime_ns;
		memcpy(out->md5, c.part.md5, 16);
		out->checksum_len = c.part.checksum_len;
		memcpy(out->checksum, c.part.checksum, c.part.checksum_len);
	}
	store_put_abort(c.head);
	store_put_abort(c.tail);
	store_get_close(c.g);
	upload_pw_fini(&c.pw);
	store_wctx_fini(&c.w);
	return rc;
}
