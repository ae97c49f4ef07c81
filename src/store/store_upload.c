/*
 * store_upload.c — multipart uploads: creating, looking up, walking and aborting uploads,
 * committing a streamed part, listing parts, and the page writer the other store_upload*.c files
 * share (store_upload_priv.h).
 *
 * A part's references are taken when it commits, in the same transaction that writes its pages
 * and its record, so the upload holds its chunks like an object: a concurrent delete of another
 * object naming the same chunks cannot make them dead, and abort gives back exactly what the
 * commits took. Transaction functions may run twice (index_write() reruns them after growing the
 * map): they recompute everything from their context and the transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "store_upload_priv.h"

/* ---- the page writer ---- */

void
upload_pw_init(struct upload_pw *pw, struct store_wctx *w, bool take_refs)
{
	memset(pw, 0, sizeof(*pw));
	pw->w = w;
	pw->take_refs = take_refs;
	pw->e = malloc(STORE_PAGE_BYTES);
	if (!pw->e)
		abort();
}

void
upload_pw_fini(struct upload_pw *pw)
{
	free(pw->e);
	pw->e = NULL;
}

void
upload_pw_begin(struct upload_pw *pw, struct index_txn *txn, uint64_t oid)
{
	pw->txn = txn;
	pw->oid = oid;
	pw->delta = 0;
	pw->n = 0;
	pw->start = 0;
	pw->end = 0;
	pw->nchunks = 0;
}

int
upload_pw_flush(struct upload_pw *pw)
{
	int rc;

	if (pw->n == 0)
		return 0;
	rc = index_page_put(pw->txn, pw->oid, pw->start, pw->e, pw->n);
	if (rc < 0)
		return rc;
	pw->start = pw->end;
	pw->n = 0;
	return 0;
}

int
upload_pw_add(struct upload_pw *pw, const struct index_page_entry *e, size_t n)
{
	uint64_t end;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		end = e[i].end + pw->delta;
		if (end <= pw->end)
			return CAIRN_E_CORRUPT;
		if (pw->take_refs) {
			rc = store_ref_inc(pw->w, pw->txn, &e[i].id);
			if (rc < 0)
				return rc;
		}
		pw->e[pw->n].id = e[i].id;
		pw->e[pw->n].end = end;
		pw->end = end;
		pw->nchunks++;
		if (++pw->n == INDEX_PAGE_ENTRIES) {
			rc = upload_pw_flush(pw);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int
upload_pw_add_put(struct upload_pw *pw, struct store_put *put)
{
	uint64_t i;
	int rc;

	for (i = 0; i < put->spilled; i++) {
		rc = store_put_spill_read(put, i, pw->w->scratch);
		if (rc < 0)
			return rc;
		rc = upload_pw_add(pw, pw->w->scratch, INDEX_PAGE_ENTRIES);
		if (rc < 0)
			return rc;
	}
	return upload_pw_add(pw, put->page, put->page_n);
}

/* ---- shared transaction steps ---- */

static bool
upload_key_is(const struct index_upload *u, struct slice key)
{
	return !key.p || (u->key.len == key.len && memcmp(u->key.p, key.p, key.len) == 0);
}

int
upload_check(struct index_txn *txn, const char *bucket, const char *id, struct slice key,
	     struct index_upload *out)
{
	int rc = index_upload_get(txn, bucket, id, out);

	if (rc == 0 && !upload_key_is(out, key))
		rc = CAIRN_E_NOTFOUND;
	return rc;
}

int
upload_part_store(struct store_wctx *w, struct index_txn *txn, const char *id, uint32_t number,
		  const struct index_part *p)
{
	struct index_part old;
	int rc;

	rc = index_part_get(txn, id, number, &old);
	if (rc < 0 && rc != CAIRN_E_NOTFOUND)
		return rc;
	if (rc == 0) {
		/* Nobody reads a part's pages outside write transactions: release now. */
		rc = store_ref_release_pages(w, txn, old.oid);
		if (rc < 0)
			return rc;
	}
	return index_part_put(txn, id, number, p);
}

struct release_ctx {
	struct store_wctx *w;
	struct index_txn *txn;
};

static int
release_one_part(const char *id, uint32_t number, const struct index_part *p, void *arg)
{
	struct release_ctx *rel = arg;
	uint64_t oid = p->oid;
	int rc;

	rc = store_ref_release_pages(rel->w, rel->txn, oid);
	if (rc < 0)
		return rc;
	return index_part_del(rel->txn, id, number);
}

int
upload_release_parts(struct store_wctx *w, struct index_txn *txn, const char *id)
{
	struct release_ctx c = {w, txn};

	return index_part_iter(txn, id, 0, release_one_part, &c);
}

struct bucket_release_ctx {
	struct store_wctx *w;
	struct index_txn *txn;
};

static int
release_bucket_upload(const char *bucket, const char *id, const struct index_upload *u, void *arg)
{
	struct bucket_release_ctx *c = arg;
	int rc;

	(void)u;
	rc = upload_release_parts(c->w, c->txn, id);
	return rc < 0 ? rc : index_upload_del(c->txn, bucket, id);
}

int
upload_release_bucket(struct store_wctx *w, struct index_txn *txn, const char *bucket)
{
	struct bucket_release_ctx c = {w, txn};

	return index_upload_iter(txn, bucket, release_bucket_upload, &c);
}

/* ---- create ---- */

/* Hex of the creation time (so ids sort by age, as S3 lists one key's uploads) + 64 random bits. */
static void
upload_new_id(char id[STORE_UPLOAD_ID_LEN + 1])
{
	uint8_t b[16];
	uint64_t now = (uint64_t)store_now_ns();
	size_t got = 0;
	ssize_t n;
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(now >> (56 - 8 * i));
	while (got < 8) {
		n = getrandom(b + 8 + got, 8 - got, 0);
		if (n < 0 && errno != EINTR)
			abort();
		if (n > 0)
			got += (size_t)n;
	}
	hex_encode(b, 16, id);
	id[STORE_UPLOAD_ID_LEN] = 0;
}

struct create_ctx {
	const char *bucket;
	const char *id;
	struct index_upload u;
};

static int
create_fn(struct index_txn *txn, void *arg)
{
	struct create_ctx *c = arg;
	struct index_upload old;
	struct index_bucket b;
	int rc;

	rc = index_bucket_get(txn, c->bucket, &b);
	if (rc < 0)
		return rc;
	if (index_upload_get(txn, c->bucket, c->id, &old) == 0)
		return CAIRN_E_RETRY; /* same ns and same 64 random bits: draw again */
	return index_upload_put(txn, c->bucket, c->id, &c->u);
}

int
store_upload_create(struct store *st, const char *bucket, struct slice key, const char *owner,
		    const struct store_upload_info *settings, char id[STORE_UPLOAD_ID_LEN + 1])
{
	struct create_ctx c = {.bucket = bucket, .id = id};
	int rc, tries = 0;

	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	if (store_key_check(key) < 0 || !owner || strlen(owner) > INDEX_OWNER_MAX)
		return CAIRN_E_INVAL;
	snprintf(c.u.owner, sizeof(c.u.owner), "%s", owner);
	c.u.checksum_algo = settings ? settings->checksum_algo : 0;
	c.u.checksum_type = settings ? settings->checksum_type : 0;
	c.u.key = key;
	c.u.meta = settings ? settings->meta : (struct slice){NULL, 0};
	if (c.u.meta.len > STORE_META_MAX)
		return CAIRN_E_TOOBIG;
	do {
		upload_new_id(id);
		c.u.initiated_ns = store_now_ns();
		rc = index_write(st->ix, create_fn, &c);
	} while (rc == CAIRN_E_RETRY && ++tries < 8);
	return rc;
}

/* ---- look up, walk ---- */

static void
upload_info_fill(struct store_upload_info *info, const char *bucket, const char *id,
		 const struct index_upload *u)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->id, sizeof(info->id), "%s", id);
	snprintf(info->bucket, sizeof(info->bucket), "%s", bucket);
	snprintf(info->owner, sizeof(info->owner), "%s", u->owner);
	info->initiated_ns = u->initiated_ns;
	info->checksum_algo = u->checksum_algo;
	info->checksum_type = u->checksum_type;
	info->key = u->key;
	info->meta = u->meta;
}

static int
upload_copy_out(struct buf *b, struct slice s, struct slice *out)
{
	int rc;

	out->p = NULL;
	out->len = 0;
	if (!b)
		return 0;
	buf_reset(b);
	rc = buf_append(b, s.p, s.len);
	if (rc == 0)
		*out = buf_slice(b);
	return rc;
}

int
store_upload_get(struct store *st, const char *bucket, const char *id, struct slice key,
		 struct store_upload_info *info, struct buf *key_out, struct buf *meta_out)
{
	struct index_upload u;
	struct index_txn *txn;
	int rc;

	rc = index_read_begin(st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = upload_check(txn, bucket, id, key, &u);
	if (rc == 0) {
		upload_info_fill(info, bucket, id, &u);
		rc = upload_copy_out(key_out, u.key, &info->key);
		if (rc == 0)
			rc = upload_copy_out(meta_out, u.meta, &info->meta);
	}
	index_read_end(txn);
	return rc;
}

struct walk_ctx {
	int (*fn)(const struct store_upload_info *info, void *arg);
	void *arg;
};

static int
walk_one(const char *bucket, const char *id, const struct index_upload *u, void *arg)
{
	struct walk_ctx *c = arg;
	struct store_upload_info info;

	upload_info_fill(&info, bucket, id, u);
	return c->fn(&info, c->arg);
}

int
store_upload_walk(struct store *st, const char *bucket,
		  int (*fn)(const struct store_upload_info *info, void *arg), void *arg)
{
	struct walk_ctx c = {fn, arg};
	struct index_txn *txn;
	int rc;

	rc = index_read_begin(st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_upload_iter(txn, bucket, walk_one, &c);
	index_read_end(txn);
	return rc;
}

/* ---- abort ---- */

struct abort_ctx {
	struct store_wctx w;
	const char *bucket;
	const char *id;
};

static int
abort_fn(struct index_txn *txn, void *arg)
{
	struct abort_ctx *c = arg;
	struct index_upload u;
	int rc;

	store_wctx_reset(&c->w);
	rc = index_upload_get(txn, c->bucket, c->id, &u);
	if (rc < 0)
		return rc;
	rc = upload_release_parts(&c->w, txn, c->id);
	if (rc < 0)
		return rc;
	rc = index_upload_del(txn, c->bucket, c->id);
	if (rc < 0)
		return rc;
	return store_ref_flush(&c->w, txn);
}

int
store_upload_abort(struct store *st, const char *bucket, const char *id)
{
	struct abort_ctx c = {.bucket = bucket, .id = id};
	int rc;

	if (st->cfg.mode == STORE_MODE_READ)
		return CAIRN_E_READONLY;
	store_wctx_init(&c.w, st);
	rc = index_write(st->ix, abort_fn, &c);
	store_wctx_fini(&c.w);
	return rc;
}

/* ---- part commit ---- */

struct part_ctx {
	struct store_wctx w;
	struct upload_pw pw;
	struct store_put *put;
	const char *bucket;
	struct slice key;
	const char *id;
	uint32_t number;
	struct index_part part;
};

static int
part_fn(struct index_txn *txn, void *arg)
{
	struct part_ctx *c = arg;
	struct index_upload u;
	int rc;

	store_wctx_reset(&c->w);
	rc = upload_check(txn, c->bucket, c->id, c->key, &u);
	if (rc < 0)
		return rc;
	rc = index_next_oid(txn, &c->part.oid);
	if (rc < 0)
		return rc;
	upload_pw_begin(&c->pw, txn, c->part.oid);
	rc = upload_pw_add_put(&c->pw, c->put);
	if (rc == 0)
		rc = upload_pw_flush(&c->pw);
	if (rc < 0)
		return rc;
	if (c->pw.end != c->part.size)
		return CAIRN_E_CORRUPT;
	c->part.nchunks = c->pw.nchunks;
	rc = upload_part_store(&c->w, txn, c->id, c->number, &c->part);
	if (rc < 0)
		return rc;
	return store_ref_flush(&c->w, txn);
}

static void
part_out(const struct index_part *p, uint32_t number, struct store_part *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->number = number;
	out->size = p->size;
	out->mtime_ns = p->mtime_ns;
	memcpy(out->md5, p->md5, 16);
	out->checksum_len = p->checksum_len;
	memcpy(out->checksum, p->checksum, p->checksum_len);
}

static int
part_commit_check(const struct store_put *put, uint32_t number, size_t checksum_len)
{
	if (put->err)
		return put->err;
	if (!put->finished || number == 0 || number > STORE_PARTS_MAX ||
	    checksum_len > INDEX_PART_CHECKSUM_MAX)
		return CAIRN_E_INVAL;
	return put->received > STORE_PART_SIZE_MAX ? CAIRN_E_TOOBIG : 0;
}

int
store_upload_part_commit(struct store_put *put, const char *bucket, struct slice key,
			 const char *id, uint32_t number, const uint8_t *checksum,
			 size_t checksum_len, struct store_part *out)
{
	struct store *st = put->st;
	struct part_ctx c = {.put = put, .bucket = bucket, .key = key, .id = id, .number = number};
	int rc;

	rc = part_commit_check(put, number, checksum_len);
	if (rc < 0)
		goto out_free_put;
	c.part.size = put->received;
	c.part.mtime_ns = store_now_ns();
	memcpy(c.part.md5, put->md5sum, 16);
	c.part.checksum_len = (uint8_t)checksum_len;
	if (checksum_len)
		memcpy(c.part.checksum, checksum, checksum_len);
	store_wctx_init(&c.w, st);
	upload_pw_init(&c.pw, &c.w, true);
	rc = store_commit_group(st, part_fn, &c, put->nchunks);
	upload_pw_fini(&c.pw);
	store_wctx_fini(&c.w);
	if (rc == 0)
		part_out(&c.part, number, out);
out_free_put:
	/* The index holds every chunk the put pinned now (or the part failed): unpin. */
	store_put_free(put);
	return rc;
}

/* ---- ListParts ---- */

struct parts_ctx {
	size_t max;
	size_t n;
	bool truncated;
	int (*fn)(const struct store_part *p, void *arg);
	void *arg;
};

static int
parts_one(const char *id, uint32_t number, const struct index_part *p, void *arg)
{
	struct parts_ctx *c = arg;
	struct store_part sp;

	(void)id;
	if (c->n == c->max) {
		c->truncated = true;
		return 1;
	}
	c->n++;
	part_out(p, number, &sp);
	return c->fn(&sp, c->arg);
}

int
store_upload_parts(struct store *st, const char *bucket, struct slice key, const char *id,
		   uint32_t after, size_t max, int (*fn)(const struct store_part *p, void *arg),
		   void *arg, bool *truncated)
{
	struct parts_ctx c = {.max = max, .fn = fn, .arg = arg};
	struct index_upload u;
	struct index_txn *txn;
	int rc;

	rc = index_read_begin(st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = upload_check(txn, bucket, id, key, &u);
	if (rc == 0)
		rc = index_part_iter(txn, id, after, parts_one, &c);
	index_read_end(txn);
	if (rc == 1 && c.truncated)
		rc = 0;
	if (truncated)
		*truncated = c.truncated;
	return rc;
}
