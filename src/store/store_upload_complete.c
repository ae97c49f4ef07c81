/*
 * store_upload_complete.c — CompleteMultipartUpload in one index transaction, and the part
 * boundaries a completed object keeps in its metadata.
 *
 * The transaction checks the upload, the bucket, the conditions and every listed part (it must be
 * the part the S3 layer validated: same MD5 and size), then walks the parts in order and moves
 * their page entries into the new object's pages, each shifted by the part's offset in the
 * object, deleting the part's pages and record as it goes. The references move with the entries:
 * no refcount changes, no chunk data touched. Parts not listed are released, the upload record
 * goes, the key switches to the new object and the old one is retired (store_pin.c), as in a put
 * commit. An object of several parts is queued for seam healing (store_upload_heal.c).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cairn/err.h"
#include "store_upload_priv.h"

struct complete_ctx {
	struct store_wctx w;
	struct upload_pw pw;
	const char *bucket;
	struct slice key;
	const char *id;
	const struct store_complete_part *parts;
	size_t n;
	const struct store_put_cond *cond;
	struct buf meta; /* the caller's metadata plus STORE_META_PARTS */
	struct index_object obj;
};

/* Every listed part must be stored and be the one the caller described. */
static int
complete_validate(struct complete_ctx *c, struct index_txn *txn)
{
	struct index_part p;
	size_t i;
	int rc;

	for (i = 0; i < c->n; i++) {
		rc = index_part_get(txn, c->id, c->parts[i].number, &p);
		if (rc == CAIRN_E_NOTFOUND)
			return CAIRN_E_BADDIGEST;
		if (rc < 0)
			return rc;
		if (p.size != c->parts[i].size || memcmp(p.md5, c->parts[i].md5, 16) != 0)
			return CAIRN_E_BADDIGEST;
	}
	return 0;
}

static int
complete_page(uint64_t start, const struct index_page_entry *e, size_t n, void *arg)
{
	struct upload_pw *pw = arg;

	(void)start;
	return upload_pw_add(pw, e, n);
}

/* Moves each listed part's entries into the object's pages and forgets the part. */
static int
complete_stitch(struct complete_ctx *c, struct index_txn *txn)
{
	struct index_part p;
	uint64_t base = 0;
	size_t i;
	int rc;

	upload_pw_begin(&c->pw, txn, c->obj.oid);
	for (i = 0; i < c->n; i++) {
		rc = index_part_get(txn, c->id, c->parts[i].number, &p);
		if (rc < 0)
			return rc;
		c->pw.delta = base;
		rc = index_page_iter(txn, p.oid, true, complete_page, &c->pw);
		if (rc < 0)
			return rc;
		if (c->pw.end != base + p.size)
			return CAIRN_E_CORRUPT;
		rc = index_part_del(txn, c->id, c->parts[i].number);
		if (rc < 0)
			return rc;
		base += p.size;
	}
	return upload_pw_flush(&c->pw);
}

/* Switches the key to the stitched object, retiring what it replaces. */
static int
complete_switch(struct complete_ctx *c, struct index_txn *txn, bool exists, uint64_t old_oid)
{
	int rc;

	c->obj.nchunks = c->pw.nchunks;
	c->obj.meta = buf_slice(&c->meta);
	rc = index_object_put(txn, c->bucket, c->key, &c->obj);
	if (rc == 0 && c->n > 1) /* seams to re-chunk (store_upload_heal.c) */
		rc = index_heal_put(txn, c->obj.oid, c->bucket, c->key);
	if (rc < 0)
		return rc;
	if (exists) {
		rc = store_pin_retire(&c->w, txn, old_oid);
		if (rc < 0)
			return rc;
	}
	return store_ref_flush(&c->w, txn);
}

static int
complete_fn(struct index_txn *txn, void *arg)
{
	struct complete_ctx *c = arg;
	struct index_object old = {0};
	struct index_upload u;
	struct index_bucket b;
	bool exists;
	int rc;

	store_wctx_reset(&c->w);
	rc = upload_check(txn, c->bucket, c->id, c->key, &u);
	if (rc == 0)
		rc = index_bucket_get(txn, c->bucket, &b);
	if (rc < 0)
		return rc;
	rc = index_object_get(txn, c->bucket, c->key, &old);
	if (rc < 0 && rc != CAIRN_E_NOTFOUND)
		return rc;
	exists = rc == 0;
	rc = store_cond_check(c->cond, exists, &old);
	if (rc == 0)
		rc = complete_validate(c, txn);
	if (rc == 0)
		rc = index_next_oid(txn, &c->obj.oid);
	if (rc == 0)
		rc = complete_stitch(c, txn);
	if (rc == 0)
		rc = upload_release_parts(&c->w, txn, c->id);
	if (rc == 0)
		rc = index_upload_del(txn, c->bucket, c->id);
	if (rc < 0)
		return rc;
	return complete_switch(c, txn, exists, old.oid);
}

/* Appends STORE_META_PARTS: runs of equal part sizes, "size*count" joined by commas. */
static int
complete_parts_meta(struct buf *meta, const struct store_complete_part *parts, size_t n)
{
	struct buf runs;
	size_t i, j;
	int rc = 0;

	buf_init(&runs, 24 * STORE_PARTS_MAX + 64);
	for (i = 0; i < n && rc == 0; i = j) {
		for (j = i + 1; j < n && parts[j].size == parts[i].size; j++)
			;
		rc = buf_printf(&runs, "%s%llu*%zu", i ? "," : "",
				(unsigned long long)parts[i].size, j - i);
	}
	if (rc == 0)
		rc = store_meta_add(meta, STORE_META_PARTS, buf_slice(&runs));
	buf_fini(&runs);
	return rc;
}

/* Checks the part list and computes the object's size and MD5 (of the parts' binary MD5s). */
static int
complete_prepare(struct complete_ctx *c)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	size_t i;

	if (!md || !EVP_DigestInit_ex(md, EVP_md5(), NULL))
		abort();
	for (i = 0; i < c->n; i++) {
		const struct store_complete_part *p = &c->parts[i];

		if (p->number == 0 || p->number > STORE_PARTS_MAX ||
		    (i && p->number <= c->parts[i - 1].number) || p->size > STORE_PART_SIZE_MAX)
			break;
		c->obj.size += p->size;
		if (!EVP_DigestUpdate(md, p->md5, 16))
			abort();
	}
	if (!EVP_DigestFinal_ex(md, c->obj.md5, &len) || len != 16)
		abort();
	EVP_MD_CTX_free(md);
	if (i < c->n)
		return CAIRN_E_INVAL;
	return c->obj.size > STORE_MULTIPART_OBJECT_MAX ? CAIRN_E_TOOBIG : 0;
}

int
store_upload_complete(struct store *st, const char *bucket, struct slice key, const char *id,
		      const struct store_complete_part *parts, size_t n, struct slice meta,
		      const struct store_put_cond *cond, struct store_object_info *out)
{
	struct complete_ctx c = {.bucket = bucket, .key = key, .id = id, .parts = parts, .n = n};
	struct slice v;
	int rc;

	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	if (n == 0 || n > STORE_PARTS_MAX || store_key_check(key) < 0 ||
	    store_meta_find(meta, STORE_META_PARTS, &v) == 1)
		return CAIRN_E_INVAL;
	c.cond = cond;
	rc = complete_prepare(&c);
	if (rc < 0)
		return rc;
	c.obj.parts = (uint32_t)n;
	c.obj.mtime_ns = store_now_ns();
	buf_init(&c.meta, STORE_META_MAX);
	rc = buf_append(&c.meta, meta.p, meta.len);
	if (rc == 0)
		rc = complete_parts_meta(&c.meta, parts, n);
	if (rc < 0)
		goto out_free_meta;
	store_wctx_init(&c.w, st);
	upload_pw_init(&c.pw, &c.w, false);
	rc = index_write(st->ix, complete_fn, &c);
	store_pin_settle(&c.w);
	upload_pw_fini(&c.pw);
	store_wctx_fini(&c.w);
	if (rc == 0 && out) {
		store_info_from_object(&c.obj, out);
		out->meta.p = NULL;
		out->meta.len = 0;
	}
out_free_meta:
	buf_fini(&c.meta);
	return rc;
}

/* ---- part boundaries ---- */

/* Parses a decimal number at *p (before end); advances *p. Returns 0 or CAIRN_E_CORRUPT. */
static int
parts_num(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	const uint8_t *q = *p;

	if (q == end || *q < '0' || *q > '9')
		return CAIRN_E_CORRUPT;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > (UINT64_MAX - 9) / 10)
			return CAIRN_E_CORRUPT;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	*p = q;
	*out = v;
	return 0;
}

int
store_meta_part_range(struct slice meta, uint32_t n, uint64_t *start, uint64_t *len,
		      uint32_t *count)
{
	const uint8_t *p, *end;
	uint64_t size, k, off = 0, seen = 0;
	bool found = false;
	struct slice v;

	if (count)
		*count = 0;
	if (store_meta_find(meta, STORE_META_PARTS, &v) != 1)
		return CAIRN_E_NOTFOUND;
	for (p = v.p, end = v.p + v.len; p < end;) {
		if (seen && *p++ != ',')
			return CAIRN_E_CORRUPT;
		if (parts_num(&p, end, &size) < 0 || p == end || *p++ != '*' ||
		    parts_num(&p, end, &k) < 0 || k == 0 || k > STORE_PARTS_MAX - seen)
			return CAIRN_E_CORRUPT;
		if (!found && n > seen && n <= seen + k) {
			*start = off + (n - 1 - seen) * size;
			*len = size;
			found = true;
		}
		off += k * size;
		seen += k;
	}
	if (count)
		*count = (uint32_t)seen;
	return found ? 0 : CAIRN_E_INVAL;
}
