/*
 * index_records.c — value codecs and the fixed-shape tables: buckets, packs, zombies and users.
 * (Chunks and pages: index_chunks.c.)
 *
 * Value layouts (after the version byte; integers little-endian, strings as u8 length + bytes):
 *   bucket  owner, region, ctime_ns i64, flags u32
 *   pack    live_bytes u64, dead_bytes u64
 *   zombie  nothing
 *   user    name, access_key, secret_key, ctime_ns i64
 * A value whose length does not match its layout reads as CAIRN_E_CORRUPT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "index_priv.h"

/* ---- writer / reader ---- */

void
index_wr_init(struct index_wr *w, uint8_t *p, size_t len)
{
	w->p = p;
	w->len = len;
	w->off = 0;
}

void
index_wr_bytes(struct index_wr *w, const void *p, size_t n)
{
	if (n > w->len - w->off)
		abort(); /* the reserved size was computed wrongly */
	if (n)
		memcpy(w->p + w->off, p, n);
	w->off += n;
}

void
index_wr_u8(struct index_wr *w, uint8_t v)
{
	index_wr_bytes(w, &v, 1);
}

void
index_wr_u16(struct index_wr *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	index_wr_bytes(w, b, sizeof(b));
}

void
index_wr_u32(struct index_wr *w, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	index_wr_bytes(w, b, sizeof(b));
}

void
index_wr_u64(struct index_wr *w, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	index_wr_bytes(w, b, sizeof(b));
}

void
index_wr_varint(struct index_wr *w, uint64_t v)
{
	uint8_t b[INDEX_VARINT_MAX];
	size_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	index_wr_bytes(w, b, n);
}

size_t
index_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void
index_wr_done(const struct index_wr *w)
{
	if (w->off != w->len)
		abort();
}

int
index_rd_begin_v(struct index_rd *r, const MDB_val *v, uint8_t version)
{
	r->p = v->mv_data;
	r->len = v->mv_size;
	r->off = 0;
	r->bad = false;
	if (r->len < 1)
		return CAIRN_E_CORRUPT;
	if (index_rd_u8(r) != version)
		return CAIRN_E_VERSION;
	return 0;
}

int
index_rd_begin(struct index_rd *r, const MDB_val *v)
{
	return index_rd_begin_v(r, v, INDEX_RECORD_VERSION);
}

const uint8_t *
index_rd_bytes(struct index_rd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t
index_rd_le(struct index_rd *r, size_t n)
{
	const uint8_t *p = index_rd_bytes(r, n);
	uint64_t v = 0;

	if (!p)
		return 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t
index_rd_u8(struct index_rd *r)
{
	return (uint8_t)index_rd_le(r, 1);
}

uint16_t
index_rd_u16(struct index_rd *r)
{
	return (uint16_t)index_rd_le(r, 2);
}

uint32_t
index_rd_u32(struct index_rd *r)
{
	return (uint32_t)index_rd_le(r, 4);
}

uint64_t
index_rd_u64(struct index_rd *r)
{
	return index_rd_le(r, 8);
}

uint64_t
index_rd_varint(struct index_rd *r, uint64_t max)
{
	uint64_t v = 0;
	const uint8_t *p;

	for (unsigned shift = 0; shift < 7 * INDEX_VARINT_MAX; shift += 7) {
		p = index_rd_bytes(r, 1);
		if (!p)
			return 0;
		/* the 10th byte may only carry the top bit of a u64 */
		if (shift == 63 && *p > 1)
			break;
		v |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80)) {
			if ((*p == 0 && shift > 0) || v > max)
				break;
			return v;
		}
	}
	r->bad = true;
	return 0;
}

int
index_rd_end(const struct index_rd *r)
{
	return r->bad || r->off != r->len ? CAIRN_E_CORRUPT : 0;
}

void
index_be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

uint64_t
index_be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
index_be32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

uint32_t
index_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- strings ---- */

/* Length of s when it is at most max bytes, else CAIRN_E_INVAL. */
static int
index_str_len(const char *s, size_t max, size_t *len)
{
	*len = strnlen(s, max + 1);
	return *len > max ? CAIRN_E_INVAL : 0;
}

static void
index_wr_str(struct index_wr *w, const char *s, size_t len)
{
	index_wr_u8(w, (uint8_t)len);
	index_wr_bytes(w, s, len);
}

/* Reads a u8-length string of at most max bytes into out[max + 1], NUL-terminated. */
static void
index_rd_str(struct index_rd *r, char *out, size_t max)
{
	size_t n = index_rd_u8(r);
	const uint8_t *p;

	out[0] = 0;
	if (n > max) {
		r->bad = true;
		return;
	}
	p = index_rd_bytes(r, n);
	if (!p)
		return;
	if (memchr(p, 0, n)) {
		r->bad = true;
		return;
	}
	memcpy(out, p, n);
	out[n] = 0;
}

/* A table key from a C string of 1..max bytes (CAIRN_E_INVAL otherwise). */
static int
index_str_key(const char *s, size_t max, MDB_val *k)
{
	size_t n;

	if (!s || index_str_len(s, max, &n) < 0 || n == 0)
		return CAIRN_E_INVAL;
	k->mv_data = (void *)s;
	k->mv_size = n;
	return 0;
}

/* ---- buckets ---- */

static int
index_bucket_decode(const MDB_val *v, struct index_bucket *out)
{
	struct index_rd r;
	int rc = index_rd_begin(&r, v);

	if (rc < 0)
		return rc;
	index_rd_str(&r, out->owner, INDEX_OWNER_MAX);
	index_rd_str(&r, out->region, INDEX_REGION_MAX);
	out->ctime_ns = (int64_t)index_rd_u64(&r);
	out->flags = index_rd_u32(&r);
	return index_rd_end(&r);
}

int
index_bucket_get(struct index_txn *txn, const char *name, struct index_bucket *out)
{
	MDB_val k, v;
	int rc = index_str_key(name, INDEX_BUCKET_NAME_MAX, &k);

	if (rc == 0)
		rc = index_db_get(txn, INDEX_DB_BUCKETS, &k, &v);
	if (rc == 0)
		rc = index_bucket_decode(&v, out);
	return rc;
}

int
index_bucket_put(struct index_txn *txn, const char *name, const struct index_bucket *b)
{
	size_t ol, rl;
	struct index_wr w;
	MDB_val k;
	uint8_t *p;
	int rc = index_str_key(name, INDEX_BUCKET_NAME_MAX, &k);

	if (rc == 0)
		rc = index_str_len(b->owner, INDEX_OWNER_MAX, &ol);
	if (rc == 0)
		rc = index_str_len(b->region, INDEX_REGION_MAX, &rl);
	if (rc == 0)
		rc = index_db_put(txn, INDEX_DB_BUCKETS, &k, 1 + 1 + ol + 1 + rl + 8 + 4, &p);
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, 1 + 1 + ol + 1 + rl + 8 + 4);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_str(&w, b->owner, ol);
	index_wr_str(&w, b->region, rl);
	index_wr_u64(&w, (uint64_t)b->ctime_ns);
	index_wr_u32(&w, b->flags);
	index_wr_done(&w);
	return 0;
}

int
index_bucket_del(struct index_txn *txn, const char *name)
{
	MDB_val k;
	int rc = index_str_key(name, INDEX_BUCKET_NAME_MAX, &k);

	return rc < 0 ? rc : index_db_del(txn, INDEX_DB_BUCKETS, &k);
}

/*
 * Walks table db in key order, calling each(k, v, arg) for every record; each returns non-zero
 * to stop, and that value is returned. Returns 0 at the end, or a translated error.
 */
static int
index_table_walk(struct index_txn *t, enum index_db db,
		 int (*each)(const MDB_val *k, const MDB_val *v, void *arg), void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	rc = index_db_cursor(t, db, &c);
	if (rc < 0)
		return rc;
	/* Write-txn cursors are tracked by LMDB: fn may add or delete records meanwhile. */
	for (MDB_cursor_op op = MDB_FIRST;; op = MDB_NEXT) {
		rc = index_cur_get(t, c, &k, &v, op);
		if (rc == CAIRN_E_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc == 0)
			rc = each(&k, &v, arg);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}

struct index_bucket_walk {
	int (*fn)(const char *name, const struct index_bucket *b, void *arg);
	void *arg;
};

static int
index_bucket_each(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct index_bucket_walk *bw = arg;
	char name[INDEX_BUCKET_NAME_MAX + 1];
	struct index_bucket b;
	int rc;

	if (k->mv_size == 0 || k->mv_size > INDEX_BUCKET_NAME_MAX ||
	    memchr(k->mv_data, 0, k->mv_size))
		return CAIRN_E_CORRUPT;
	memcpy(name, k->mv_data, k->mv_size);
	name[k->mv_size] = 0;
	rc = index_bucket_decode(v, &b);
	return rc < 0 ? rc : bw->fn(name, &b, bw->arg);
}

int
index_bucket_iter(struct index_txn *txn,
		  int (*fn)(const char *name, const struct index_bucket *b, void *arg), void *arg)
{
	struct index_bucket_walk bw = {.fn = fn, .arg = arg};

	return index_table_walk(txn, INDEX_DB_BUCKETS, index_bucket_each, &bw);
}

/* ---- packs ---- */

#define INDEX_PACK_VALUE_LEN (1 + 8 + 8)

static int
index_pack_decode(const MDB_val *v, struct index_pack *out)
{
	struct index_rd r;
	int rc = index_rd_begin(&r, v);

	if (rc < 0)
		return rc;
	out->live_bytes = index_rd_u64(&r);
	out->dead_bytes = index_rd_u64(&r);
	return index_rd_end(&r);
}

int
index_pack_get(struct index_txn *txn, uint32_t pack_id, struct index_pack *out)
{
	uint8_t kb[4];
	MDB_val k = {.mv_size = 4, .mv_data = kb}, v;
	int rc;

	index_be32_put(kb, pack_id);
	rc = index_db_get(txn, INDEX_DB_PACKS, &k, &v);
	if (rc == CAIRN_E_NOTFOUND) {
		out->live_bytes = 0;
		out->dead_bytes = 0;
		return 0;
	}
	return rc < 0 ? rc : index_pack_decode(&v, out);
}

int
index_pack_put(struct index_txn *txn, uint32_t pack_id, const struct index_pack *pk)
{
	uint8_t kb[4];
	MDB_val k = {.mv_size = 4, .mv_data = kb};
	struct index_wr w;
	uint8_t *p;
	int rc;

	index_be32_put(kb, pack_id);
	rc = index_db_put(txn, INDEX_DB_PACKS, &k, INDEX_PACK_VALUE_LEN, &p);
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, INDEX_PACK_VALUE_LEN);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_u64(&w, pk->live_bytes);
	index_wr_u64(&w, pk->dead_bytes);
	index_wr_done(&w);
	return 0;
}

int
index_pack_del(struct index_txn *txn, uint32_t pack_id)
{
	uint8_t kb[4];
	MDB_val k = {.mv_size = 4, .mv_data = kb};

	index_be32_put(kb, pack_id);
	return index_db_del(txn, INDEX_DB_PACKS, &k);
}

struct index_pack_walk {
	int (*fn)(uint32_t pack_id, const struct index_pack *p, void *arg);
	void *arg;
};

static int
index_pack_each(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct index_pack_walk *pw = arg;
	struct index_pack p;
	int rc;

	if (k->mv_size != 4)
		return CAIRN_E_CORRUPT;
	rc = index_pack_decode(v, &p);
	return rc < 0 ? rc : pw->fn(index_be32_get(k->mv_data), &p, pw->arg);
}

int
index_pack_iter(struct index_txn *txn,
		int (*fn)(uint32_t pack_id, const struct index_pack *p, void *arg), void *arg)
{
	struct index_pack_walk pw = {.fn = fn, .arg = arg};

	return index_table_walk(txn, INDEX_DB_PACKS, index_pack_each, &pw);
}

/* ---- zombies ---- */

int
index_zombie_add(struct index_txn *txn, uint64_t oid)
{
	uint8_t kb[8];
	MDB_val k = {.mv_size = 8, .mv_data = kb};
	uint8_t *p;
	int rc;

	index_be64_put(kb, oid);
	rc = index_db_put(txn, INDEX_DB_ZOMBIES, &k, 1, &p);
	if (rc == 0)
		p[0] = INDEX_RECORD_VERSION;
	return rc;
}

int
index_zombie_del(struct index_txn *txn, uint64_t oid)
{
	uint8_t kb[8];
	MDB_val k = {.mv_size = 8, .mv_data = kb};

	index_be64_put(kb, oid);
	return index_db_del(txn, INDEX_DB_ZOMBIES, &k);
}

struct index_zombie_walk {
	int (*fn)(uint64_t oid, void *arg);
	void *arg;
};

static int
index_zombie_each(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct index_zombie_walk *zw = arg;
	struct index_rd r;
	int rc;

	if (k->mv_size != 8)
		return CAIRN_E_CORRUPT;
	rc = index_rd_begin(&r, v);
	if (rc == 0)
		rc = index_rd_end(&r);
	return rc < 0 ? rc : zw->fn(index_be64_get(k->mv_data), zw->arg);
}

int
index_zombie_iter(struct index_txn *txn, int (*fn)(uint64_t oid, void *arg), void *arg)
{
	struct index_zombie_walk zw = {.fn = fn, .arg = arg};

	return index_table_walk(txn, INDEX_DB_ZOMBIES, index_zombie_each, &zw);
}

/* ---- users ---- */

#define INDEX_ACCESS_KEY_MAX 32
#define INDEX_SECRET_KEY_MAX 64

static int
index_user_decode(const MDB_val *k, const MDB_val *v, struct index_user *out)
{
	struct index_rd r;
	int rc = index_rd_begin(&r, v);

	if (rc < 0)
		return rc;
	index_rd_str(&r, out->name, INDEX_OWNER_MAX);
	index_rd_str(&r, out->access_key, INDEX_ACCESS_KEY_MAX);
	index_rd_str(&r, out->secret_key, INDEX_SECRET_KEY_MAX);
	out->ctime_ns = (int64_t)index_rd_u64(&r);
	rc = index_rd_end(&r);
	/* The record names its own key: a mismatch means the table is damaged. */
	if (rc == 0 && (strlen(out->access_key) != k->mv_size ||
			memcmp(out->access_key, k->mv_data, k->mv_size)))
		rc = CAIRN_E_CORRUPT;
	return rc;
}

int
index_user_get(struct index_txn *txn, const char *access_key, struct index_user *out)
{
	MDB_val k, v;
	int rc = index_str_key(access_key, INDEX_ACCESS_KEY_MAX, &k);

	if (rc == 0)
		rc = index_db_get(txn, INDEX_DB_USERS, &k, &v);
	return rc < 0 ? rc : index_user_decode(&k, &v, out);
}

int
index_user_put(struct index_txn *txn, const struct index_user *u)
{
	size_t nl, sl, len;
	struct index_wr w;
	MDB_val k;
	uint8_t *p;
	int rc = index_str_key(u->access_key, INDEX_ACCESS_KEY_MAX, &k);

	if (rc == 0)
		rc = index_str_len(u->name, INDEX_OWNER_MAX, &nl);
	if (rc == 0)
		rc = index_str_len(u->secret_key, INDEX_SECRET_KEY_MAX, &sl);
	if (rc < 0)
		return rc;
	len = 1 + (1 + nl) + (1 + k.mv_size) + (1 + sl) + 8;
	rc = index_db_put(txn, INDEX_DB_USERS, &k, len, &p);
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, len);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_str(&w, u->name, nl);
	index_wr_str(&w, u->access_key, k.mv_size);
	index_wr_str(&w, u->secret_key, sl);
	index_wr_u64(&w, (uint64_t)u->ctime_ns);
	index_wr_done(&w);
	return 0;
}

int
index_user_del(struct index_txn *txn, const char *access_key)
{
	MDB_val k;
	int rc = index_str_key(access_key, INDEX_ACCESS_KEY_MAX, &k);

	return rc < 0 ? rc : index_db_del(txn, INDEX_DB_USERS, &k);
}

struct index_user_walk {
	int (*fn)(const struct index_user *u, void *arg);
	void *arg;
};

static int
index_user_each(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct index_user_walk *uw = arg;
	struct index_user u;
	int rc = index_user_decode(k, v, &u);

	return rc < 0 ? rc : uw->fn(&u, uw->arg);
}

int
index_user_iter(struct index_txn *txn, int (*fn)(const struct index_user *u, void *arg), void *arg)
{
	struct index_user_walk uw = {.fn = fn, .arg = arg};

	return index_table_walk(txn, INDEX_DB_USERS, index_user_each, &uw);
}
