/*
 * index_chunks.c — the chunk tables, and the chunk-list pages that name chunks through them.
 *
 * Layout (format 2). A chunk gets a sequence number (seq) when it is first recorded, from the
 * meta counter "next_chunk"; a seq is never reused.
 *   chunks    seq (5 bytes BE)
 *             -> version, chunk id (32 bytes), varints pack_id, offset, record_len, raw_len,
 *                refcount
 *   chunkids  one key, the layout version byte, whose sorted fixed-size duplicates are
 *             (first CHUNK_PFX_LEN bytes of the id, seq (5 bytes BE)): 9 bytes a chunk, which
 *             LMDB's MDB_DUPFIXED packs without per-item overhead. A lookup by id visits the
 *             items sharing its prefix (almost always at most one) and compares the whole id
 *             kept in chunks.
 *   pages     object id (u64 BE), start offset (u64 BE)
 *             -> version, count varint, then each entry: a tag varint — even: zigzag(seq -
 *                previous entry's seq) << 1, a recorded chunk; PAGE_TAG_ID: the chunk id follows
 *                (a chunk not recorded yet when the page was written) — and the chunk's length
 *                varint (its end offset less the previous end; the first from start).
 *
 * Why: an index must stay a small fraction of the stored bytes. With 32 KiB chunks, keying the
 * chunk records by id cost ~107 bytes a chunk (a random-order B-tree is ~2/3 full) and each page
 * entry 40 bytes; worse, as LMDB copies every page a transaction touches and reuses a freed page
 * only two transactions later, a file keeps about twice the pages one commit touches free — and
 * a commit touching a chunk of every leaf (one refcount each) touched the whole id-keyed table.
 * Here the randomly ordered table holds 9 bytes a chunk, the records are appended in seq order
 * (full leaves, and an object's references mostly touch a few neighbouring leaves) and a page
 * entry is 2..5 bytes. (Measured numbers: bench/README.md.)
 *
 * Writers record a chunk (index_chunk_put) before writing pages that name it, or the entry
 * carries the whole id. A chunk is deleted only when no page names it (refcount 0), so a seq
 * in a page that names no record means damage: CAIRN_E_CORRUPT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "index_priv.h"

#define CHUNK_SEQ_LEN 5
#define CHUNK_SEQ_MAX ((1ull << (8 * CHUNK_SEQ_LEN)) - 1)
#define CHUNK_PFX_LEN 4
#define CHUNK_ITEM_LEN (CHUNK_PFX_LEN + CHUNK_SEQ_LEN)
#define CHUNK_VALUE_MAX (1 + CHUNK_ID_LEN + 5 * INDEX_VARINT_MAX)
#define PAGE_KEY_LEN 16
#define PAGE_TAG_ID 1u
/* Encoded bytes of one page entry at most: an id tag and id, or a seq tag; a length. */
#define PAGE_ENTRY_MAX (1 + CHUNK_ID_LEN + INDEX_VARINT_MAX)

static const uint8_t chunk_ids_key_byte = INDEX_CHUNKIDS_VERSION;

/* ---- keys and items ---- */

static void
chunk_seq_key(uint8_t kb[CHUNK_SEQ_LEN], uint64_t seq, MDB_val *k)
{
	for (int i = 0; i < CHUNK_SEQ_LEN; i++)
		kb[i] = (uint8_t)(seq >> (8 * (CHUNK_SEQ_LEN - 1 - i)));
	k->mv_data = kb;
	k->mv_size = CHUNK_SEQ_LEN;
}

static uint64_t
chunk_seq_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < CHUNK_SEQ_LEN; i++)
		v = v << 8 | p[i];
	return v;
}

static void
chunk_ids_key(MDB_val *k)
{
	k->mv_data = (void *)&chunk_ids_key_byte;
	k->mv_size = 1;
}

static void
chunk_item(uint8_t item[CHUNK_ITEM_LEN], const struct chunk_id *id, uint64_t seq, MDB_val *v)
{
	uint8_t kb[CHUNK_SEQ_LEN];
	MDB_val k;

	memcpy(item, id->b, CHUNK_PFX_LEN);
	chunk_seq_key(kb, seq, &k);
	memcpy(item + CHUNK_PFX_LEN, kb, CHUNK_SEQ_LEN);
	v->mv_data = item;
	v->mv_size = CHUNK_ITEM_LEN;
}

/* ---- records ---- */

/* Decodes a chunks value into *id and *out (either may be NULL). */
static int
chunk_decode(const MDB_val *v, struct chunk_id *id, struct index_chunk *out)
{
	struct index_rd r;
	struct index_chunk c;
	const uint8_t *p;
	int rc = index_rd_begin_v(&r, v, INDEX_CHUNK_VERSION);

	if (rc < 0)
		return rc;
	p = index_rd_bytes(&r, CHUNK_ID_LEN);
	c.loc.pack_id = (uint32_t)index_rd_varint(&r, UINT32_MAX);
	c.loc.offset = index_rd_varint(&r, UINT64_MAX);
	c.loc.record_len = (uint32_t)index_rd_varint(&r, UINT32_MAX);
	c.loc.raw_len = (uint32_t)index_rd_varint(&r, UINT32_MAX);
	c.refcount = index_rd_varint(&r, UINT64_MAX);
	rc = index_rd_end(&r);
	if (rc < 0)
		return rc;
	if (id)
		memcpy(id->b, p, CHUNK_ID_LEN);
	if (out)
		*out = c;
	return 0;
}

/* Writes the record of seq (flags: 0 or MDB_APPEND). */
static int
chunk_write(struct index_txn *t, uint64_t seq, const struct chunk_id *id,
	    const struct index_chunk *c, unsigned flags)
{
	uint8_t kb[CHUNK_SEQ_LEN];
	struct index_wr w;
	size_t len;
	MDB_val k;
	uint8_t *p;
	int rc;

	len = 1 + CHUNK_ID_LEN + index_varint_len(c->loc.pack_id) +
	      index_varint_len(c->loc.offset) + index_varint_len(c->loc.record_len) +
	      index_varint_len(c->loc.raw_len) + index_varint_len(c->refcount);
	chunk_seq_key(kb, seq, &k);
	rc = index_db_put_flags(t, INDEX_DB_CHUNKS, &k, len, flags, &p);
	if (rc == -EEXIST && flags)
		rc = index_db_put_flags(t, INDEX_DB_CHUNKS, &k, len, 0, &p); /* not the last key */
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, len);
	index_wr_u8(&w, INDEX_CHUNK_VERSION);
	index_wr_bytes(&w, id->b, CHUNK_ID_LEN);
	index_wr_varint(&w, c->loc.pack_id);
	index_wr_varint(&w, c->loc.offset);
	index_wr_varint(&w, c->loc.record_len);
	index_wr_varint(&w, c->loc.raw_len);
	index_wr_varint(&w, c->refcount);
	index_wr_done(&w);
	return 0;
}

/* The record of seq (into txn memory): CAIRN_E_CORRUPT when there is none (see the top). */
static int
chunk_by_seq(struct index_txn *t, uint64_t seq, MDB_val *v)
{
	uint8_t kb[CHUNK_SEQ_LEN];
	MDB_val k;
	int rc;

	chunk_seq_key(kb, seq, &k);
	rc = index_db_get(t, INDEX_DB_CHUNKS, &k, v);
	return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
}

void
index_txn_cursors_close(struct index_txn *t)
{
	if (t->ids_cur)
		mdb_cursor_close(t->ids_cur);
	t->ids_cur = NULL;
}

/*
 * Finds chunk id: its seq and its record (into txn memory, valid until the next write).
 * Returns 0, CAIRN_E_NOTFOUND, CAIRN_E_CORRUPT (an item naming no record), or an error.
 */
static int
chunk_find(struct index_txn *t, const struct chunk_id *id, uint64_t *seq, MDB_val *val)
{
	uint8_t item[CHUNK_ITEM_LEN];
	MDB_cursor_op op = MDB_GET_BOTH_RANGE;
	MDB_val k, v;
	int rc;

	if (!t->ids_cur) {
		rc = index_db_cursor(t, INDEX_DB_CHUNKIDS, &t->ids_cur);
		if (rc < 0)
			return rc;
	}
	chunk_ids_key(&k);
	chunk_item(item, id, 0, &v);
	for (;; op = MDB_NEXT_DUP) {
		rc = index_cur_get(t, t->ids_cur, &k, &v, op);
		if (rc < 0)
			return rc;
		if (v.mv_size != CHUNK_ITEM_LEN)
			return CAIRN_E_CORRUPT;
		if (memcmp(v.mv_data, id->b, CHUNK_PFX_LEN) != 0)
			return CAIRN_E_NOTFOUND;
		*seq = chunk_seq_get((const uint8_t *)v.mv_data + CHUNK_PFX_LEN);
		rc = chunk_by_seq(t, *seq, val);
		if (rc == 0 && (val->mv_size <= CHUNK_ID_LEN ||
				*(const uint8_t *)val->mv_data != INDEX_CHUNK_VERSION))
			rc = chunk_decode(val, NULL, NULL); /* says what is wrong with it */
		if (rc < 0)
			return rc;
		if (memcmp((const uint8_t *)val->mv_data + 1, id->b, CHUNK_ID_LEN) == 0)
			return 0;
	}
}

int
index_chunk_get(struct index_txn *txn, const struct chunk_id *id, struct index_chunk *out)
{
	uint64_t seq;
	MDB_val v;
	int rc = chunk_find(txn, id, &seq, &v);

	return rc < 0 ? rc : chunk_decode(&v, NULL, out);
}

int
index_chunk_put(struct index_txn *txn, const struct chunk_id *id, const struct index_chunk *c)
{
	uint8_t item[CHUNK_ITEM_LEN];
	uint64_t seq;
	MDB_val k, v;
	int rc = chunk_find(txn, id, &seq, &v);

	if (rc == 0)
		return chunk_write(txn, seq, id, c, 0);
	if (rc != CAIRN_E_NOTFOUND)
		return rc;
	rc = index_meta_counter_next(txn, "next_chunk", &seq);
	if (rc == 0 && seq > CHUNK_SEQ_MAX)
		rc = -EOVERFLOW;
	if (rc == 0)
		rc = chunk_write(txn, seq, id, c, MDB_APPEND);
	if (rc < 0)
		return rc;
	chunk_ids_key(&k);
	chunk_item(item, id, seq, &v);
	return index_db_put_dup(txn, INDEX_DB_CHUNKIDS, &k, &v);
}

int
index_chunk_del(struct index_txn *txn, const struct chunk_id *id)
{
	uint8_t item[CHUNK_ITEM_LEN], kb[CHUNK_SEQ_LEN];
	uint64_t seq;
	MDB_val k, v;
	int rc = chunk_find(txn, id, &seq, &v);

	if (rc < 0)
		return rc;
	chunk_seq_key(kb, seq, &k);
	rc = index_db_del(txn, INDEX_DB_CHUNKS, &k);
	if (rc < 0)
		return rc;
	chunk_ids_key(&k);
	chunk_item(item, id, seq, &v);
	return index_db_del_dup(txn, INDEX_DB_CHUNKIDS, &k, &v);
}

/* ---- walking the chunks ---- */

struct chunk_walk {
	struct index_txn *t;
	MDB_cursor *c;
	uint8_t item[CHUNK_ITEM_LEN]; /* the last item visited, or where to start */
	bool skip;		      /* item was visited: start after it */
	bool at_item;		      /* c is on item (it has moved since the walk began) */
};

/* Moves to the next item. In a write transaction fn may have changed the table: seek again. */
static int
chunk_walk_next(struct chunk_walk *cw, MDB_val *v)
{
	MDB_val k;
	int rc;

	chunk_ids_key(&k);
	if (cw->at_item && !cw->t->write)
		return index_cur_get(cw->t, cw->c, &k, v, MDB_NEXT_DUP);
	v->mv_data = cw->item;
	v->mv_size = CHUNK_ITEM_LEN;
	rc = index_cur_get(cw->t, cw->c, &k, v, MDB_GET_BOTH_RANGE);
	if (rc == 0 && cw->skip && v->mv_size == CHUNK_ITEM_LEN &&
	    memcmp(v->mv_data, cw->item, CHUNK_ITEM_LEN) == 0)
		rc = index_cur_get(cw->t, cw->c, &k, v, MDB_NEXT_DUP);
	return rc;
}

static int
chunk_walk_run(struct chunk_walk *cw,
	       int (*fn)(const struct chunk_id *id, const struct index_chunk *c, void *arg),
	       void *arg)
{
	struct index_chunk c;
	struct chunk_id id;
	MDB_val v, rec;
	int rc;

	for (;;) {
		rc = chunk_walk_next(cw, &v);
		if (rc == CAIRN_E_NOTFOUND)
			return 0;
		if (rc < 0)
			return rc;
		if (v.mv_size != CHUNK_ITEM_LEN)
			return CAIRN_E_CORRUPT;
		memcpy(cw->item, v.mv_data, CHUNK_ITEM_LEN);
		cw->skip = true;
		cw->at_item = true;
		rc = chunk_by_seq(cw->t, chunk_seq_get(cw->item + CHUNK_PFX_LEN), &rec);
		if (rc == 0)
			rc = chunk_decode(&rec, &id, &c);
		if (rc == 0 && memcmp(id.b, cw->item, CHUNK_PFX_LEN) != 0)
			rc = CAIRN_E_CORRUPT; /* the item and the record disagree */
		if (rc == 0)
			rc = fn(&id, &c, arg);
		if (rc != 0)
			return rc;
	}
}

/*
 * Walks in chunkids order: by the ids' first CHUNK_PFX_LEN bytes, then by seq. A walk resumed
 * after a chunk that was deleted meanwhile starts at its prefix, so it may visit again the rare
 * chunks sharing that prefix, but skips none.
 */
int
index_chunk_iter_after(struct index_txn *txn, const struct chunk_id *after,
		       int (*fn)(const struct chunk_id *id, const struct index_chunk *c, void *arg),
		       void *arg)
{
	struct chunk_walk cw = {.t = txn};
	uint64_t seq = 0;
	MDB_val v;
	int rc;

	if (after) {
		rc = chunk_find(txn, after, &seq, &v);
		if (rc < 0 && rc != CAIRN_E_NOTFOUND)
			return rc;
		cw.skip = rc == 0;
		chunk_item(cw.item, after, cw.skip ? seq : 0, &v);
	}
	rc = index_db_cursor(txn, INDEX_DB_CHUNKIDS, &cw.c);
	if (rc < 0)
		return rc;
	rc = chunk_walk_run(&cw, fn, arg);
	mdb_cursor_close(cw.c);
	return rc;
}

int
index_chunk_iter(struct index_txn *txn,
		 int (*fn)(const struct chunk_id *id, const struct index_chunk *c, void *arg),
		 void *arg)
{
	return index_chunk_iter_after(txn, NULL, fn, arg);
}

/* ---- pages ---- */

static void
page_key(uint8_t kb[PAGE_KEY_LEN], uint64_t oid, uint64_t start, MDB_val *k)
{
	index_be64_put(kb, oid);
	index_be64_put(kb + 8, start);
	k->mv_data = kb;
	k->mv_size = PAGE_KEY_LEN;
}

/* Ends must rise strictly from start: every chunk holds at least one byte. */
static bool
page_is_valid(uint64_t start, const struct index_page_entry *e, size_t n)
{
	uint64_t prev = start;

	if (n < 1 || n > INDEX_PAGE_ENTRIES)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (e[i].end <= prev)
			return false;
		prev = e[i].end;
	}
	return true;
}

/* A seq difference as a small number either way: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ... */
static uint64_t
page_zigzag(uint64_t d)
{
	return d >> 63 ? ~(d << 1) : d << 1;
}

static uint64_t
page_unzigzag(uint64_t z)
{
	return z & 1 ? ~(z >> 1) : z >> 1;
}

/* Encodes the entries into w (room for PAGE_ENTRY_MAX bytes each). */
static int
page_encode(struct index_txn *t, uint64_t start, const struct index_page_entry *e, size_t n,
	    struct index_wr *w)
{
	uint64_t prev = 0, end = start, seq;
	MDB_val v;
	int rc;

	for (size_t i = 0; i < n; i++) {
		rc = chunk_find(t, &e[i].id, &seq, &v);
		if (rc == 0) {
			index_wr_varint(w, page_zigzag(seq - prev) << 1);
			prev = seq;
		} else if (rc == CAIRN_E_NOTFOUND) {
			index_wr_varint(w, PAGE_TAG_ID);
			index_wr_bytes(w, e[i].id.b, CHUNK_ID_LEN);
		} else {
			return rc;
		}
		index_wr_varint(w, e[i].end - end);
		end = e[i].end;
	}
	return 0;
}

int
index_page_put(struct index_txn *txn, uint64_t oid, uint64_t start,
	       const struct index_page_entry *e, size_t n)
{
	uint8_t kb[PAGE_KEY_LEN], *buf, *p;
	struct index_wr w;
	MDB_val k;
	int rc;

	if (!page_is_valid(start, e, n))
		return CAIRN_E_INVAL;
	buf = malloc(1 + INDEX_VARINT_MAX + n * PAGE_ENTRY_MAX);
	if (!buf)
		abort();
	index_wr_init(&w, buf, 1 + INDEX_VARINT_MAX + n * PAGE_ENTRY_MAX);
	index_wr_u8(&w, INDEX_PAGE_VERSION);
	index_wr_varint(&w, n);
	rc = page_encode(txn, start, e, n, &w);
	if (rc < 0)
		goto out_free;
	page_key(kb, oid, start, &k);
	/* An object's pages are written in offset order, objects mostly in oid order: appending
	 * leaves full leaves behind. */
	rc = index_db_put_flags(txn, INDEX_DB_PAGES, &k, w.off, MDB_APPEND, &p);
	if (rc == -EEXIST)
		rc = index_db_put(txn, INDEX_DB_PAGES, &k, w.off, &p);
	if (rc == 0)
		memcpy(p, buf, w.off);
out_free:
	free(buf);
	return rc;
}

/* Decodes one entry's chunk id: a seq (resolved through chunks) or the id itself. */
static void
page_decode_id(struct index_txn *t, struct index_rd *r, uint64_t *prev, struct chunk_id *out,
	       int *rc)
{
	uint64_t tag = index_rd_varint(r, UINT64_MAX);
	const uint8_t *p;
	MDB_val v;

	if (r->bad)
		return;
	if (tag == PAGE_TAG_ID) {
		p = index_rd_bytes(r, CHUNK_ID_LEN);
		if (p)
			memcpy(out->b, p, CHUNK_ID_LEN);
		return;
	}
	*prev += page_unzigzag(tag >> 1);
	if ((tag & 1) || *prev == 0 || *prev > CHUNK_SEQ_MAX) {
		r->bad = true;
		return;
	}
	*rc = chunk_by_seq(t, *prev, &v);
	if (*rc == 0)
		*rc = chunk_decode(&v, out, NULL);
}

/* Decodes a page value into out[INDEX_PAGE_ENTRIES]. */
static int
page_decode(struct index_txn *t, const MDB_val *v, uint64_t start, struct index_page_entry *out,
	    size_t *n)
{
	uint64_t prev = 0, end = start, len;
	struct index_rd r;
	size_t count;
	int rc = index_rd_begin_v(&r, v, INDEX_PAGE_VERSION);

	if (rc < 0)
		return rc;
	count = index_rd_varint(&r, INDEX_PAGE_ENTRIES);
	if (count < 1)
		return CAIRN_E_CORRUPT;
	for (size_t i = 0; i < count && !r.bad && rc == 0; i++) {
		page_decode_id(t, &r, &prev, &out[i].id, &rc);
		len = index_rd_varint(&r, UINT64_MAX - end);
		if (len == 0)
			r.bad = true;
		end += len;
		out[i].end = end;
	}
	if (rc == 0)
		rc = index_rd_end(&r);
	*n = count;
	return rc;
}

int
index_page_del(struct index_txn *txn, uint64_t oid, uint64_t start)
{
	uint8_t kb[PAGE_KEY_LEN];
	MDB_val k;

	page_key(kb, oid, start, &k);
	return index_db_del(txn, INDEX_DB_PAGES, &k);
}

/* Positions c on the last page of oid starting at or before off; CAIRN_E_NOTFOUND if none. */
static int
page_seek(struct index_txn *txn, MDB_cursor *c, uint64_t oid, uint64_t off, MDB_val *k, MDB_val *v)
{
	uint8_t kb[PAGE_KEY_LEN];
	int rc;

	page_key(kb, oid, off, k);
	rc = index_cur_get(txn, c, k, v, MDB_SET_RANGE);
	if (rc == CAIRN_E_NOTFOUND)
		rc = index_cur_get(txn, c, k, v, MDB_LAST);
	else if (rc == 0 && (k->mv_size != PAGE_KEY_LEN || memcmp(k->mv_data, kb, PAGE_KEY_LEN)))
		rc = index_cur_get(txn, c, k, v, MDB_PREV); /* first page past off: step back */
	if (rc < 0)
		return rc;
	if (k->mv_size != PAGE_KEY_LEN)
		return CAIRN_E_CORRUPT;
	if (index_be64_get(k->mv_data) != oid || index_be64_get((uint8_t *)k->mv_data + 8) > off)
		return CAIRN_E_NOTFOUND;
	return 0;
}

int
index_page_find(struct index_txn *txn, uint64_t oid, uint64_t off, uint64_t *start,
		struct index_page_entry *out, size_t *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t s;
	int rc;

	rc = index_db_cursor(txn, INDEX_DB_PAGES, &c);
	if (rc < 0)
		return rc;
	rc = page_seek(txn, c, oid, off, &k, &v);
	if (rc < 0)
		goto out_close;
	s = index_be64_get((uint8_t *)k.mv_data + 8);
	rc = page_decode(txn, &v, s, out, n);
	if (rc < 0)
		goto out_close;
	if (off >= out[*n - 1].end) {
		rc = CAIRN_E_NOTFOUND; /* past the end of the object (or a hole) */
		goto out_close;
	}
	*start = s;
out_close:
	mdb_cursor_close(c);
	return rc;
}

static int
page_iter_one(struct index_txn *txn, MDB_cursor *c, uint64_t oid, uint64_t *next,
	      struct index_page_entry *e, bool del,
	      int (*fn)(uint64_t, const struct index_page_entry *, size_t, void *), void *arg)
{
	uint8_t kb[PAGE_KEY_LEN];
	uint64_t start;
	MDB_val k, v;
	size_t n;
	int rc;

	page_key(kb, oid, *next, &k);
	rc = index_cur_get(txn, c, &k, &v, MDB_SET_RANGE);
	if (rc < 0)
		return rc;
	if (k.mv_size != PAGE_KEY_LEN)
		return CAIRN_E_CORRUPT;
	if (index_be64_get(k.mv_data) != oid)
		return CAIRN_E_NOTFOUND;
	start = index_be64_get((uint8_t *)k.mv_data + 8);
	rc = page_decode(txn, &v, start, e, &n);
	if (rc < 0)
		return rc;
	rc = fn(start, e, n, arg);
	if (rc != 0)
		return rc;
	if (del) {
		/* fn may have written to the txn: find the page again before deleting it. */
		page_key(kb, oid, start, &k);
		rc = index_cur_get(txn, c, &k, &v, MDB_SET);
		if (rc == 0)
			rc = index_cur_del(txn, c);
		if (rc < 0)
			return rc;
	}
	if (start == UINT64_MAX)
		return CAIRN_E_NOTFOUND;
	*next = start + 1;
	return 0;
}

int
index_page_iter(struct index_txn *txn, uint64_t oid, bool del,
		int (*fn)(uint64_t start, const struct index_page_entry *e, size_t n, void *arg),
		void *arg)
{
	struct index_page_entry *e;
	uint64_t next = 0;
	MDB_cursor *c;
	int rc;

	rc = index_db_cursor(txn, INDEX_DB_PAGES, &c);
	if (rc < 0)
		return rc;
	e = malloc(INDEX_PAGE_ENTRIES * sizeof(*e));
	if (!e)
		abort();
	do
		rc = page_iter_one(txn, c, oid, &next, e, del, fn, arg);
	while (rc == 0);
	free(e);
	mdb_cursor_close(c);
	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}
