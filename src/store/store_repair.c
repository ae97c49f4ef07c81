/*
 * store_repair.c — `cairn fsck --repair`: acting on what the checker found (store_fsck_run's
 * hooks), with the data dir opened for writing (no other writer).
 *
 * S3 has no "damaged object" state, so an object that uses a missing or unreadable chunk is
 * deleted (each one logged and reported): its bytes cannot be served, and leaving it would make
 * every GET of it fail forever. A multipart upload with such a part is aborted. Then:
 *   - refcounts are set to the recount (before the deletions, which then release correctly);
 *   - the entries of unreadable chunks that nothing references any more are dropped, so that a
 *     later upload of the same bytes stores them afresh instead of deduplicating against a
 *     damaged record;
 *   - the packs table is rebuilt from the chunk entries.
 * Nothing is repaired unless asked: store_fsck() only reports.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "cairn/store_upload.h"
#include "store_internal.h"

#define REPAIR_BATCH 256

struct repair_key {
	char bucket[INDEX_BUCKET_NAME_MAX + 1];
	uint8_t *key;
	size_t len;
};

struct repair_fix {
	struct chunk_id id;
	uint64_t refcount;
};

struct repair {
	struct store *st;
	void (*fn)(const char *line, void *arg);
	void *arg;
	struct store_repair_result *done;
	struct repair_key *objs;
	size_t nobjs, objs_cap;
	char (*uploads)[INDEX_UPLOAD_ID_LEN + 1];
	size_t nuploads, uploads_cap;
	struct chunk_id *bad;
	size_t nbad, bad_cap;
	struct repair_fix *fixes;
	size_t nfixes, fixes_cap;
	size_t pos; /* batch position for the txn functions */
	int err;
};

static void *
repair_grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? 2 * *cap : 64;
	p = realloc(p, *cap * size);
	if (!p)
		abort();
	return p;
}

static void __attribute__((format(printf, 2, 3))) repair_say(struct repair *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warn("fsck repair: %s", line);
	if (r->fn)
		r->fn(line, r->arg);
}

/* ---- hooks ---- */

static void
repair_hook_object(const char *bucket, struct slice key, void *arg)
{
	struct repair *r = arg;
	struct repair_key *k;

	if (r->nobjs && strcmp(r->objs[r->nobjs - 1].bucket, bucket) == 0 &&
	    r->objs[r->nobjs - 1].len == key.len &&
	    memcmp(r->objs[r->nobjs - 1].key, key.p, key.len) == 0)
		return; /* the same object again */
	r->objs = repair_grow(r->objs, &r->objs_cap, r->nobjs, sizeof(*r->objs));
	k = &r->objs[r->nobjs++];
	snprintf(k->bucket, sizeof(k->bucket), "%s", bucket);
	k->key = malloc(key.len + 1);
	if (!k->key)
		abort();
	memcpy(k->key, key.p, key.len);
	k->len = key.len;
}

static void
repair_hook_part(const char *upload_id, void *arg)
{
	struct repair *r = arg;

	if (r->nuploads && strcmp(r->uploads[r->nuploads - 1], upload_id) == 0)
		return;
	r->uploads = repair_grow(r->uploads, &r->uploads_cap, r->nuploads, sizeof(*r->uploads));
	snprintf(r->uploads[r->nuploads++], INDEX_UPLOAD_ID_LEN + 1, "%s", upload_id);
}

static void
repair_hook_chunk(const struct chunk_id *id, void *arg)
{
	struct repair *r = arg;

	r->bad = repair_grow(r->bad, &r->bad_cap, r->nbad, sizeof(*r->bad));
	r->bad[r->nbad++] = *id;
}

static void
repair_hook_refcount(const struct chunk_id *id, uint64_t found, void *arg)
{
	struct repair *r = arg;

	r->fixes = repair_grow(r->fixes, &r->fixes_cap, r->nfixes, sizeof(*r->fixes));
	r->fixes[r->nfixes].id = *id;
	r->fixes[r->nfixes].refcount = found;
	r->nfixes++;
}

/* ---- refcounts ---- */

static int
repair_refcount_fn(struct index_txn *txn, void *arg)
{
	struct repair *r = arg;
	struct index_chunk c;
	size_t i, end = r->pos + REPAIR_BATCH < r->nfixes ? r->pos + REPAIR_BATCH : r->nfixes;
	int rc;

	for (i = r->pos; i < end; i++) {
		rc = index_chunk_get(txn, &r->fixes[i].id, &c);
		if (rc == CAIRN_E_NOTFOUND)
			continue;
		if (rc < 0)
			return rc;
		c.refcount = r->fixes[i].refcount;
		rc = index_chunk_put(txn, &r->fixes[i].id, &c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
repair_refcounts(struct repair *r)
{
	int rc = 0;

	for (r->pos = 0; rc == 0 && r->pos < r->nfixes; r->pos += REPAIR_BATCH)
		rc = index_write(r->st->ix, repair_refcount_fn, r);
	if (rc == 0 && r->nfixes)
		repair_say(r, "%zu refcounts set to the references found", r->nfixes);
	r->done->refcounts_fixed = rc == 0 ? r->nfixes : 0;
	return rc;
}

/* ---- objects and uploads ---- */

static int
repair_objects(struct repair *r)
{
	struct repair_key *k;
	size_t i;
	int rc;

	for (i = 0; i < r->nobjs; i++) {
		k = &r->objs[i];
		rc = store_delete(r->st, k->bucket, (struct slice){k->key, k->len});
		if (rc == CAIRN_E_NOTFOUND)
			continue;
		if (rc < 0)
			return rc;
		r->done->objects_deleted++;
		repair_say(r, "deleted object %s/%.*s: it uses a missing or unreadable chunk",
			   k->bucket, k->len > 200 ? 200 : (int)k->len, (const char *)k->key);
	}
	return 0;
}

struct upload_find {
	const char *id;
	char bucket[INDEX_BUCKET_NAME_MAX + 1];
};

static int
repair_upload_find(const char *bucket, const char *id, const struct index_upload *u, void *arg)
{
	struct upload_find *uf = arg;

	(void)u;
	if (strcmp(id, uf->id) != 0)
		return 0;
	snprintf(uf->bucket, sizeof(uf->bucket), "%s", bucket);
	return 1;
}

static int
repair_uploads(struct repair *r)
{
	struct upload_find uf;
	struct index_txn *txn;
	size_t i;
	int rc;

	for (i = 0; i < r->nuploads; i++) {
		uf.id = r->uploads[i];
		uf.bucket[0] = 0;
		rc = index_read_begin(r->st->ix, &txn);
		if (rc < 0)
			return rc;
		rc = index_upload_iter(txn, NULL, repair_upload_find, &uf);
		index_read_end(txn);
		if (rc < 0)
			return rc;
		if (!uf.bucket[0])
			continue;
		rc = store_upload_abort(r->st, uf.bucket, uf.id);
		if (rc < 0 && rc != CAIRN_E_NOTFOUND)
			return rc;
		r->done->uploads_aborted++;
		repair_say(r,
			   "aborted upload %s (bucket %s): a part uses a missing or unreadable "
			   "chunk",
			   uf.id, uf.bucket);
	}
	return 0;
}

/* ---- unreadable chunks ---- */

static int
repair_bad_fn(struct index_txn *txn, void *arg)
{
	struct repair *r = arg;
	char hex[2 * CHUNK_ID_LEN + 1];
	struct index_chunk c;
	size_t i;
	int rc;

	r->done->chunks_dropped = 0;
	for (i = 0; i < r->nbad; i++) {
		rc = index_chunk_get(txn, &r->bad[i], &c);
		if (rc == CAIRN_E_NOTFOUND)
			continue;
		if (rc < 0)
			return rc;
		if (c.refcount > 0) {
			chunk_id_hex(&r->bad[i], hex);
			log_warn("fsck repair: unreadable chunk %s still has %llu references", hex,
				 (unsigned long long)c.refcount);
			continue;
		}
		rc = index_chunk_del(txn, &r->bad[i]);
		if (rc < 0)
			return rc;
		r->done->chunks_dropped++;
	}
	return 0;
}

/* ---- the packs table ---- */

struct pack_sum {
	uint32_t id;
	struct index_pack p;
};

struct pack_sums {
	struct pack_sum *v;
	size_t n, cap;
	struct index_txn *txn;
};

static int
pack_sum_add(const struct chunk_id *id, const struct index_chunk *c, void *arg)
{
	struct pack_sums *s = arg;
	size_t lo = 0, hi = s->n, mid;

	(void)id;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->v[mid].id < c->loc.pack_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->n || s->v[lo].id != c->loc.pack_id) {
		s->v = repair_grow(s->v, &s->cap, s->n, sizeof(*s->v));
		memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof(*s->v));
		memset(&s->v[lo], 0, sizeof(*s->v));
		s->v[lo].id = c->loc.pack_id;
		s->n++;
	}
	if (c->refcount)
		s->v[lo].p.live_bytes += c->loc.record_len;
	else
		s->v[lo].p.dead_bytes += c->loc.record_len;
	return 0;
}

static int
pack_row_drop(uint32_t pack_id, const struct index_pack *p, void *arg)
{
	struct pack_sums *s = arg;

	(void)p;
	return index_pack_del(s->txn, pack_id);
}

static int
repair_packs_fn(struct index_txn *txn, void *arg)
{
	struct pack_sums *s = arg;
	size_t i;
	int rc;

	s->n = 0;
	s->txn = txn;
	rc = index_chunk_iter(txn, pack_sum_add, s);
	if (rc == 0)
		rc = index_pack_iter(txn, pack_row_drop, s);
	for (i = 0; rc == 0 && i < s->n; i++)
		rc = index_pack_put(txn, s->v[i].id, &s->v[i].p);
	return rc;
}

static int
repair_apply(struct repair *r)
{
	struct pack_sums sums = {0};
	int rc;

	rc = repair_refcounts(r);
	if (rc == 0)
		rc = repair_objects(r);
	if (rc == 0)
		rc = repair_uploads(r);
	if (rc == 0 && r->nbad)
		rc = index_write(r->st->ix, repair_bad_fn, r);
	if (rc == 0 && r->done->chunks_dropped)
		repair_say(r, "%llu unreadable chunk entries dropped",
			   (unsigned long long)r->done->chunks_dropped);
	if (rc == 0)
		rc = index_write(r->st->ix, repair_packs_fn, &sums);
	free(sums.v);
	return rc;
}

int
store_fsck_repair(struct store *st, void (*problem_fn)(const char *problem, void *arg),
		  void (*repair_fn)(const char *line, void *arg), void *arg,
		  struct store_fsck_result *found, struct store_repair_result *done)
{
	struct repair r = {.st = st, .fn = repair_fn, .arg = arg, .done = done};
	struct store_fsck_hooks hooks = {repair_hook_object, repair_hook_part, repair_hook_chunk,
					 repair_hook_refcount, &r};
	size_t i;
	int rc;

	memset(done, 0, sizeof(*done));
	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	rc = store_fsck_run(st, problem_fn, arg, found, &hooks);
	if (rc == 0 && found->problems)
		rc = repair_apply(&r);
	for (i = 0; i < r.nobjs; i++)
		free(r.objs[i].key);
	free(r.objs);
	free(r.uploads);
	free(r.bad);
	free(r.fixes);
	return rc;
}
