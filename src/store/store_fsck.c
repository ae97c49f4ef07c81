/*
 * store_fsck.c — the consistency checker.
 *
 * One read snapshot gives a consistent picture of objects, pages, chunks and packs:
 *   1. every chunk entry is copied to an anonymous temp file (id, location, refcount), and the
 *      live/dead bytes its refcount implies are summed per pack and compared with the packs table;
 *   2. every object's pages (and every zombie's, and every multipart upload part's) are walked:
 *      chunks present, offsets increasing, last end == size, entries == nchunks; references are
 *      recounted and compared with the refcounts. The recount map is bounded: with many chunks,
 *      the id space is split into parts and the pages are walked once per part.
 * The snapshot then ends, and 3. every chunk record is read from its pack and verified
 * completely (checksum, and the SHA-256 of its raw bytes against its id). Records are never
 * rewritten, so this needs no snapshot (a record the compactor moves is followed). 4. When some
 * were unreadable, a new snapshot walks every object's and upload part's pages once more and
 * names each one that uses an unreadable chunk. Hooks (store_internal.h) hand the findings to
 * the repair (store_repair.c).
 * fsck holds one read transaction for steps 1-2: run it from `cairn fsck` (a separate process)
 * or accept that map growth waits for it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/err.h"
#include "store_internal.h"

#define FSCK_PART_CHUNKS (256u << 10) /* recount entries per pass */
#define FSCK_BATCH 1024		      /* temp file records per write/read */
#define FSCK_PACK_ID_MAX (1u << 22)

struct fsck_rec {
	struct chunk_id id;
	struct chunk_loc loc;
	uint64_t refcount;
};

struct fsck {
	struct store *st;
	void (*fn)(const char *problem, void *arg);
	void *arg;
	struct store_fsck_result *out;
	struct index_txn *txn;
	int fd;
	uint64_t nchunks;
	struct fsck_rec *batch;
	size_t nbatch;
	uint64_t *exp;	/* [2 * pack id]: live, [2 * pack id + 1]: dead */
	size_t exp_cap; /* pack ids covered */
	struct idmap map;
	uint32_t parts;
	uint32_t part;
	/* the object being walked */
	const char *bucket;
	struct slice key;
	uint64_t oid;
	uint64_t next_start;
	uint64_t entries;
	enum { FSCK_OBJECT, FSCK_ZOMBIE, FSCK_PART } kind;
	const char *upload_id;		      /* FSCK_PART */
	uint32_t part_number;		      /* FSCK_PART */
	const struct store_fsck_hooks *hooks; /* may be NULL */
	struct idmap bad;		      /* step 3: unreadable chunks, a = -error */
	uint64_t blamed;		      /* step 4: reports for the current object */
};

static void
fsck_line(struct fsck *f, bool problem, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (problem)
		f->out->problems++;
	if (f->fn)
		f->fn(line, f->arg);
}

static void __attribute__((format(printf, 2, 3))) fsck_report(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fsck_line(f, true, fmt, ap);
	va_end(ap);
}

/* A line that details a problem already counted (which objects an unreadable chunk affects). */
static void __attribute__((format(printf, 2, 3))) fsck_detail(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fsck_line(f, false, fmt, ap);
	va_end(ap);
}

static const char *
fsck_hex(const struct chunk_id *id, char hex[2 * CHUNK_ID_LEN + 1])
{
	chunk_id_hex(id, hex);
	return hex;
}

static int
fsck_flush(struct fsck *f)
{
	off_t off = (off_t)((f->nchunks - f->nbatch) * sizeof(struct fsck_rec));
	int rc = fileio_pwrite_all(f->fd, f->batch, f->nbatch * sizeof(struct fsck_rec), off);

	f->nbatch = 0;
	return rc;
}

/* Reads records [i, i + n) of the temp file into f->batch. */
static int
fsck_read_batch(struct fsck *f, uint64_t i, size_t n)
{
	return fileio_pread_all(f->fd, f->batch, n * sizeof(struct fsck_rec),
				(off_t)(i * sizeof(struct fsck_rec)));
}

/* ---- step 1: chunks and packs ---- */

static void
fsck_pack_expect(struct fsck *f, const struct fsck_rec *r)
{
	uint32_t id = r->loc.pack_id;
	size_t cap;

	if (id >= FSCK_PACK_ID_MAX)
		return; /* reported by the chunk check */
	if (id >= f->exp_cap) {
		cap = f->exp_cap ? f->exp_cap : 64;
		while (cap <= id)
			cap *= 2;
		f->exp = realloc(f->exp, 2 * cap * sizeof(*f->exp));
		if (!f->exp)
			abort();
		memset(f->exp + 2 * f->exp_cap, 0, 2 * (cap - f->exp_cap) * sizeof(*f->exp));
		f->exp_cap = cap;
	}
	f->exp[2 * id + (r->refcount ? 0 : 1)] += r->loc.record_len;
}

static int
fsck_chunk_entry(const struct chunk_id *id, const struct index_chunk *c, void *arg)
{
	struct fsck *f = arg;
	struct fsck_rec *r = &f->batch[f->nbatch++];
	char hex[2 * CHUNK_ID_LEN + 1];

	memset(r, 0, sizeof(*r));
	r->id = *id;
	r->loc = c->loc;
	r->refcount = c->refcount;
	f->nchunks++;
	if (c->loc.pack_id >= FSCK_PACK_ID_MAX || c->loc.raw_len > CHUNKER_MAX_SIZE_CEIL ||
	    c->loc.record_len < PACK_HEADER_SIZE + PACK_TRAILER_SIZE)
		fsck_report(f, "chunk %s: implausible location (pack %u offset %llu length %u)",
			    fsck_hex(id, hex), c->loc.pack_id, (unsigned long long)c->loc.offset,
			    c->loc.record_len);
	fsck_pack_expect(f, r);
	return f->nbatch == FSCK_BATCH ? fsck_flush(f) : 0;
}

static int
fsck_pack_entry(uint32_t pack_id, const struct index_pack *p, void *arg)
{
	struct fsck *f = arg;
	uint64_t live = 0, dead = 0;

	if (pack_id < f->exp_cap) {
		live = f->exp[2 * pack_id];
		dead = f->exp[2 * pack_id + 1];
		f->exp[2 * pack_id] = f->exp[2 * pack_id + 1] = 0; /* compared */
	}
	if (live != p->live_bytes || dead != p->dead_bytes)
		fsck_report(
		    f, "pack %u: index says %llu live / %llu dead bytes, chunks say %llu / %llu",
		    pack_id, (unsigned long long)p->live_bytes, (unsigned long long)p->dead_bytes,
		    (unsigned long long)live, (unsigned long long)dead);
	return 0;
}

static int
fsck_chunks_and_packs(struct fsck *f)
{
	size_t i;
	int rc;

	rc = index_chunk_iter(f->txn, fsck_chunk_entry, f);
	if (rc == 0 && f->nbatch)
		rc = fsck_flush(f);
	if (rc == 0)
		rc = index_pack_iter(f->txn, fsck_pack_entry, f);
	if (rc < 0)
		return rc;
	for (i = 0; i < f->exp_cap; i++) {
		if (f->exp[2 * i] || f->exp[2 * i + 1])
			fsck_report(f,
				    "pack %zu: chunks say %llu live / %llu dead bytes, the index "
				    "has no entry",
				    i, (unsigned long long)f->exp[2 * i],
				    (unsigned long long)f->exp[2 * i + 1]);
	}
	return 0;
}

/* ---- step 2: pages and refcounts ---- */

static uint32_t
fsck_part_of(const struct fsck *f, const struct chunk_id *id)
{
	uint32_t h = (uint32_t)id->b[0] << 8 | id->b[1];

	return (uint32_t)(((uint64_t)h * f->parts) >> 16);
}

static void
fsck_where(const struct fsck *f, char *out, size_t len, uint64_t oid)
{
	int klen = f->key.len > 200 ? 200 : (int)f->key.len;

	if (f->kind == FSCK_ZOMBIE)
		snprintf(out, len, "zombie object %llu", (unsigned long long)oid);
	else if (f->kind == FSCK_PART)
		snprintf(out, len, "upload %s part %u", f->upload_id, f->part_number);
	else
		snprintf(out, len, "object %s/%.*s", f->bucket, klen, (const char *)f->key.p);
}

/* Tells the hooks that the object (or part) being walked uses a missing or unreadable chunk. */
static void
fsck_hook_damaged(struct fsck *f)
{
	if (!f->hooks)
		return;
	if (f->kind == FSCK_OBJECT && f->hooks->object)
		f->hooks->object(f->bucket, f->key, f->hooks->arg);
	else if (f->kind == FSCK_PART && f->hooks->part)
		f->hooks->part(f->upload_id, f->hooks->arg);
}

/* Structure checks of one page (first pass only). */
static void
fsck_page_shape(struct fsck *f, uint64_t oid, uint64_t start, const struct index_page_entry *e,
		size_t n)
{
	char where[300];
	uint64_t prev = start;
	size_t i;

	fsck_where(f, where, sizeof(where), oid);
	if (start != f->next_start)
		fsck_report(f, "%s: page starts at %llu, expected %llu", where,
			    (unsigned long long)start, (unsigned long long)f->next_start);
	for (i = 0; i < n; i++) {
		if (e[i].end <= prev) {
			fsck_report(f, "%s: page at %llu: entry %zu ends at %llu, not after %llu",
				    where, (unsigned long long)start, i,
				    (unsigned long long)e[i].end, (unsigned long long)prev);
		}
		prev = e[i].end;
	}
	f->next_start = n ? e[n - 1].end : start;
}

static int
fsck_page(uint64_t start, const struct index_page_entry *e, size_t n, void *arg)
{
	struct fsck *f = arg;
	struct idmap_entry *m;
	char where[300], hex[2 * CHUNK_ID_LEN + 1];
	uint64_t oid = f->oid;
	size_t i;

	if (f->part == 0)
		fsck_page_shape(f, oid, start, e, n);
	f->entries += n;
	for (i = 0; i < n; i++) {
		if (fsck_part_of(f, &e[i].id) != f->part)
			continue;
		m = store_idmap_find(&f->map, &e[i].id);
		if (m) {
			m->b++;
			continue;
		}
		fsck_where(f, where, sizeof(where), oid);
		fsck_report(f, "%s: chunk %s (ending at %llu) is not in the index", where,
			    fsck_hex(&e[i].id, hex), (unsigned long long)e[i].end);
		fsck_hook_damaged(f);
	}
	return 0;
}

/* Walks the pages of oid, holding size bytes in nchunks entries (zombies: no expectations). */
static int
fsck_pages(struct fsck *f, uint64_t oid, uint64_t size, uint64_t nchunks)
{
	char where[300];
	int rc;

	f->oid = oid;
	f->next_start = 0;
	f->entries = 0;
	rc = index_page_iter(f->txn, oid, false, fsck_page, f);
	if (rc < 0 || f->part != 0 || f->kind == FSCK_ZOMBIE)
		return rc;
	fsck_where(f, where, sizeof(where), oid);
	if (f->next_start != size)
		fsck_report(f, "%s: chunks cover %llu bytes, size is %llu", where,
			    (unsigned long long)f->next_start, (unsigned long long)size);
	if (f->entries != nchunks)
		fsck_report(f, "%s: %llu chunk entries, the record says %llu", where,
			    (unsigned long long)f->entries, (unsigned long long)nchunks);
	return 0;
}

static int
fsck_object(struct fsck *f, struct slice key, const struct index_object *obj)
{
	f->key = key;
	f->kind = FSCK_OBJECT;
	if (f->part == 0)
		f->out->objects_checked++;
	return fsck_pages(f, obj->oid, obj->size, obj->nchunks);
}

static int
fsck_upload_part(const char *id, uint32_t number, const struct index_part *p, void *arg)
{
	struct fsck *f = arg;

	f->kind = FSCK_PART;
	f->upload_id = id;
	f->part_number = number;
	return fsck_pages(f, p->oid, p->size, p->nchunks);
}

static int
fsck_bucket(const char *name, const struct index_bucket *b, void *arg)
{
	struct fsck *f = arg;
	struct index_cursor *cur;
	struct index_object obj;
	struct slice key;
	int rc;

	(void)b;
	f->bucket = name;
	rc = index_object_cursor_open(f->txn, name, &cur);
	if (rc < 0)
		return rc;
	for (rc = index_object_cursor_seek(cur, (struct slice){NULL, 0}, &key, &obj); rc == 0;
	     rc = index_object_cursor_next(cur, &key, &obj)) {
		rc = fsck_object(f, key, &obj);
		if (rc < 0)
			break;
	}
	index_cursor_close(cur);
	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

static int
fsck_zombie(uint64_t oid, void *arg)
{
	struct fsck *f = arg;

	f->kind = FSCK_ZOMBIE;
	return fsck_pages(f, oid, 0, 0);
}

/* Loads the chunks of the current part into the recount map. */
static int
fsck_load_part(struct fsck *f)
{
	struct idmap_entry *m;
	uint64_t i;
	size_t n, j;
	int rc;

	store_idmap_fini(&f->map);
	for (i = 0; i < f->nchunks; i += n) {
		n = f->nchunks - i < FSCK_BATCH ? (size_t)(f->nchunks - i) : FSCK_BATCH;
		rc = fsck_read_batch(f, i, n);
		if (rc < 0)
			return rc;
		for (j = 0; j < n; j++) {
			if (fsck_part_of(f, &f->batch[j].id) != f->part)
				continue;
			m = store_idmap_insert(&f->map, &f->batch[j].id);
			m->a = f->batch[j].refcount;
		}
	}
	return 0;
}

static void
fsck_compare_part(struct fsck *f)
{
	char hex[2 * CHUNK_ID_LEN + 1];
	size_t i;

	for (i = 0; i < f->map.cap; i++) {
		if (!f->map.slots[i].used || f->map.slots[i].a == f->map.slots[i].b)
			continue;
		fsck_report(f, "chunk %s: refcount %llu in the index, %llu references found",
			    fsck_hex(&f->map.slots[i].id, hex),
			    (unsigned long long)f->map.slots[i].a,
			    (unsigned long long)f->map.slots[i].b);
		if (f->hooks && f->hooks->refcount)
			f->hooks->refcount(&f->map.slots[i].id, f->map.slots[i].b, f->hooks->arg);
	}
}

static int
fsck_recount(struct fsck *f)
{
	int rc;

	f->parts = 1;
	while (f->parts < 65536 && f->nchunks / f->parts > FSCK_PART_CHUNKS)
		f->parts *= 2;
	for (f->part = 0; f->part < f->parts; f->part++) {
		rc = fsck_load_part(f);
		if (rc < 0)
			return rc;
		rc = index_bucket_iter(f->txn, fsck_bucket, f);
		if (rc == 0)
			rc = index_zombie_iter(f->txn, fsck_zombie, f);
		if (rc == 0)
			rc = index_part_iter(f->txn, NULL, 0, fsck_upload_part, f);
		if (rc < 0)
			return rc;
		fsck_compare_part(f);
	}
	store_idmap_fini(&f->map);
	return 0;
}

/* ---- step 3: records ---- */

static void
fsck_record(struct fsck *f, const struct fsck_rec *r, struct buf *rec, struct buf *raw)
{
	struct pack_record_info info;
	char hex[2 * CHUNK_ID_LEN + 1];
	struct chunk_loc loc;
	int rc;

	fsck_hex(&r->id, hex);
	f->out->chunks_checked++;
	loc = r->loc; /* the compactor of a running cairnd may move the chunk meanwhile */
	rc = store_record_read(f->st, &r->id, &loc, rec);
	if (rc == 0)
		rc = pack_record_check(rec->p, rec->len, &info);
	if (rc == 0 && (!chunk_id_equal(&info.id, &r->id) || info.raw_len != r->loc.raw_len))
		rc = CAIRN_E_CORRUPT;
	if (rc == 0)
		rc = pack_record_decode(rec->p, rec->len, true, raw);
	if (rc == -ENOENT && store_chunk_indexed(f->st, &r->id, NULL) == 0)
		return; /* dropped by the compactor of a running cairnd since the snapshot */
	if (rc < 0) {
		fsck_report(f, "chunk %s (pack %u offset %llu length %u): %s", hex, r->loc.pack_id,
			    (unsigned long long)r->loc.offset, r->loc.record_len,
			    cairn_strerror(rc));
		store_idmap_insert(&f->bad, &r->id)->a = (uint64_t)-rc;
		if (f->hooks && f->hooks->chunk)
			f->hooks->chunk(&r->id, f->hooks->arg);
	}
}

/* ---- step 4: the objects that use unreadable chunks ---- */

#define FSCK_BLAME_PER_OBJECT 3

static int
fsck_blame_page(uint64_t start, const struct index_page_entry *e, size_t n, void *arg)
{
	struct fsck *f = arg;
	char where[300], hex[2 * CHUNK_ID_LEN + 1];
	struct idmap_entry *m;
	size_t i;

	for (i = 0; i < n; i++) {
		m = store_idmap_find(&f->bad, &e[i].id);
		if (!m)
			continue;
		if (f->blamed++ == 0)
			fsck_hook_damaged(f);
		if (f->blamed > FSCK_BLAME_PER_OBJECT)
			continue;
		fsck_where(f, where, sizeof(where), f->oid);
		fsck_detail(f, "%s: bytes %llu..%llu are in unreadable chunk %s (%s)", where,
			    (unsigned long long)(i ? e[i - 1].end : start),
			    (unsigned long long)e[i].end, fsck_hex(&e[i].id, hex),
			    cairn_strerror(-(int)m->a));
	}
	return 0;
}

static int
fsck_blame_pages(struct fsck *f, uint64_t oid)
{
	char where[300];
	int rc;

	f->oid = oid;
	f->blamed = 0;
	rc = index_page_iter(f->txn, oid, false, fsck_blame_page, f);
	if (rc == 0 && f->blamed > FSCK_BLAME_PER_OBJECT) {
		fsck_where(f, where, sizeof(where), oid);
		fsck_detail(f, "%s: %llu more unreadable chunk references", where,
			    (unsigned long long)(f->blamed - FSCK_BLAME_PER_OBJECT));
	}
	return rc;
}

static int
fsck_blame_bucket(const char *name, const struct index_bucket *b, void *arg)
{
	struct fsck *f = arg;
	struct index_cursor *cur;
	struct index_object obj;
	struct slice key;
	int rc;

	(void)b;
	f->bucket = name;
	f->kind = FSCK_OBJECT;
	rc = index_object_cursor_open(f->txn, name, &cur);
	if (rc < 0)
		return rc;
	for (rc = index_object_cursor_seek(cur, (struct slice){NULL, 0}, &key, &obj); rc == 0;
	     rc = index_object_cursor_next(cur, &key, &obj)) {
		f->key = key;
		rc = fsck_blame_pages(f, obj.oid);
		if (rc < 0)
			break;
	}
	index_cursor_close(cur);
	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

static int
fsck_blame_part(const char *id, uint32_t number, const struct index_part *p, void *arg)
{
	struct fsck *f = arg;

	f->kind = FSCK_PART;
	f->upload_id = id;
	f->part_number = number;
	return fsck_blame_pages(f, p->oid);
}

/* Names every object and upload part that uses a chunk step 3 found unreadable. */
static int
fsck_blame(struct fsck *f)
{
	int rc;

	if (f->bad.n == 0)
		return 0;
	rc = index_read_begin(f->st->ix, &f->txn);
	if (rc < 0)
		return rc;
	rc = index_bucket_iter(f->txn, fsck_blame_bucket, f);
	if (rc == 0)
		rc = index_part_iter(f->txn, NULL, 0, fsck_blame_part, f);
	index_read_end(f->txn);
	return rc;
}

static int
fsck_records(struct fsck *f)
{
	struct buf rec, raw;
	uint64_t i;
	size_t n, j;
	int rc = 0;

	buf_init(&rec, STORE_RECORD_MAX);
	buf_init(&raw, CHUNKER_MAX_SIZE_CEIL);
	for (i = 0; i < f->nchunks; i += n) {
		n = f->nchunks - i < FSCK_BATCH ? (size_t)(f->nchunks - i) : FSCK_BATCH;
		rc = fsck_read_batch(f, i, n);
		if (rc < 0)
			break;
		for (j = 0; j < n; j++)
			fsck_record(f, &f->batch[j], &rec, &raw);
	}
	buf_fini(&raw);
	buf_fini(&rec);
	return rc;
}

int
store_fsck(struct store *st, void (*fn)(const char *problem, void *arg), void *arg,
	   struct store_fsck_result *out)
{
	return store_fsck_run(st, fn, arg, out, NULL);
}

int
store_fsck_run(struct store *st, void (*fn)(const char *problem, void *arg), void *arg,
	       struct store_fsck_result *out, const struct store_fsck_hooks *hooks)
{
	struct fsck f = {.st = st, .fn = fn, .arg = arg, .out = out, .hooks = hooks};
	int rc;

	memset(out, 0, sizeof(*out));
	store_idmap_init(&f.map);
	store_idmap_init(&f.bad);
	f.batch = malloc(FSCK_BATCH * sizeof(*f.batch));
	if (!f.batch)
		abort();
	f.fd = store_tmpfile(st);
	if (f.fd < 0) {
		rc = f.fd;
		goto out_free;
	}
	rc = index_read_begin(st->ix, &f.txn);
	if (rc < 0)
		goto out_close;
	rc = fsck_chunks_and_packs(&f);
	if (rc == 0)
		rc = fsck_recount(&f);
	index_read_end(f.txn);
	if (rc == 0)
		rc = fsck_records(&f);
	if (rc == 0)
		rc = fsck_blame(&f);
out_close:
	close(f.fd);
out_free:
	store_idmap_fini(&f.bad);
	store_idmap_fini(&f.map);
	free(f.exp);
	free(f.batch);
	return rc;
}
