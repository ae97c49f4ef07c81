/*
 * index_uploads.c — the multipart upload tables: uploads, parts, and heals (completed multipart
 * objects whose part seams wait for re-chunking) (index.h).
 *
 * Value layouts (after the version byte; integers little-endian):
 *   upload  initiated_ns i64, checksum_algo u8, checksum_type u8, owner (u8 length + bytes),
 *           key (u16 length + bytes), meta (u32 length + bytes)
 *   part    oid u64, size u64, mtime_ns i64, md5 16 bytes, nchunks u64,
 *           checksum (u8 length + bytes)
 *   heal    bucket, NUL, key bytes (keyed by the object's oid, u64 BE)
 * Keys: upload "bucket NUL id" (at most 63 + 1 + 32 bytes, well inside LMDB's key limit); part
 * "id, number u32 BE", so one upload's parts are adjacent and in number order.
 *
 * The walks re-seek from the last key they reported after every callback, so a callback may
 * delete the record it was given (abort, the sweep) or add others.
 */
#include <string.h>

#include "cairn/err.h"
#include "index_priv.h"

#define UPLOAD_KEY_MAX (INDEX_BUCKET_NAME_MAX + 1 + INDEX_UPLOAD_ID_LEN)
#define PART_KEY_LEN (INDEX_UPLOAD_ID_LEN + 4)
#define PART_VALUE_LEN (1 + 8 + 8 + 8 + 16 + 8 + 1)

static bool
upload_id_is_valid(const char *id, size_t len)
{
	size_t i;

	if (len != INDEX_UPLOAD_ID_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static bool
upload_tables_absent(const struct index_txn *t)
{
	return t->ix->absent[INDEX_DB_UPLOADS] || t->ix->absent[INDEX_DB_PARTS];
}

/* Builds "bucket NUL id" into kb[UPLOAD_KEY_MAX]. Returns 0 or CAIRN_E_INVAL. */
static int
upload_key(uint8_t *kb, const char *bucket, const char *id, MDB_val *k)
{
	size_t blen = bucket ? strnlen(bucket, INDEX_BUCKET_NAME_MAX + 1) : 0;
	size_t ilen = id ? strnlen(id, INDEX_UPLOAD_ID_LEN + 1) : 0;

	if (blen == 0 || blen > INDEX_BUCKET_NAME_MAX || !upload_id_is_valid(id, ilen))
		return CAIRN_E_INVAL;
	memcpy(kb, bucket, blen);
	kb[blen] = 0;
	memcpy(kb + blen + 1, id, ilen);
	k->mv_data = kb;
	k->mv_size = blen + 1 + ilen;
	return 0;
}

static int
upload_decode(const MDB_val *v, struct index_upload *out)
{
	const uint8_t *owner;
	struct index_rd r;
	size_t n;
	int rc = index_rd_begin(&r, v);

	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->initiated_ns = (int64_t)index_rd_u64(&r);
	out->checksum_algo = index_rd_u8(&r);
	out->checksum_type = index_rd_u8(&r);
	n = index_rd_u8(&r);
	if (n > INDEX_OWNER_MAX)
		return CAIRN_E_CORRUPT;
	owner = index_rd_bytes(&r, n);
	if (owner && n)
		memcpy(out->owner, owner, n);
	out->owner[n] = 0;
	out->key.len = index_rd_u16(&r);
	out->key.p = index_rd_bytes(&r, out->key.len);
	out->meta.len = index_rd_u32(&r);
	out->meta.p = index_rd_bytes(&r, out->meta.len);
	rc = index_rd_end(&r);
	if (rc == 0 && (out->key.len == 0 || out->key.len > INDEX_KEY_MAX))
		rc = CAIRN_E_CORRUPT;
	return rc;
}

int
index_upload_get(struct index_txn *txn, const char *bucket, const char *id,
		 struct index_upload *out)
{
	uint8_t kb[UPLOAD_KEY_MAX];
	MDB_val k, v;
	int rc;

	if (upload_tables_absent(txn) || upload_key(kb, bucket, id, &k) < 0)
		return CAIRN_E_NOTFOUND;
	rc = index_db_get(txn, INDEX_DB_UPLOADS, &k, &v);
	if (rc < 0)
		return rc;
	return upload_decode(&v, out);
}

int
index_upload_put(struct index_txn *txn, const char *bucket, const char *id,
		 const struct index_upload *u)
{
	uint8_t kb[UPLOAD_KEY_MAX];
	size_t olen = strnlen(u->owner, INDEX_OWNER_MAX + 1), len;
	struct index_wr w;
	MDB_val k;
	uint8_t *p;
	int rc;

	if (upload_key(kb, bucket, id, &k) < 0 || olen > INDEX_OWNER_MAX || u->key.len == 0 ||
	    u->key.len > INDEX_KEY_MAX || u->meta.len > UINT32_MAX)
		return CAIRN_E_INVAL;
	len = 1 + 8 + 1 + 1 + 1 + olen + 2 + u->key.len + 4 + u->meta.len;
	rc = index_db_put(txn, INDEX_DB_UPLOADS, &k, len, &p);
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, len);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_u64(&w, (uint64_t)u->initiated_ns);
	index_wr_u8(&w, u->checksum_algo);
	index_wr_u8(&w, u->checksum_type);
	index_wr_u8(&w, (uint8_t)olen);
	index_wr_bytes(&w, u->owner, olen);
	index_wr_u16(&w, (uint16_t)u->key.len);
	index_wr_bytes(&w, u->key.p, u->key.len);
	index_wr_u32(&w, (uint32_t)u->meta.len);
	index_wr_bytes(&w, u->meta.p, u->meta.len);
	index_wr_done(&w);
	return 0;
}

int
index_upload_del(struct index_txn *txn, const char *bucket, const char *id)
{
	uint8_t kb[UPLOAD_KEY_MAX];
	MDB_val k;

	if (upload_tables_absent(txn) || upload_key(kb, bucket, id, &k) < 0)
		return CAIRN_E_NOTFOUND;
	return index_db_del(txn, INDEX_DB_UPLOADS, &k);
}

/* One walk over a table: where it starts, the last key it reported, and what it calls. */
struct walk {
	const uint8_t *from; /* before any report: start at the first key >= from[0..from_len) */
	size_t from_len;
	uint8_t last[UPLOAD_KEY_MAX]; /* the last key reported (last_len 0: none yet) */
	size_t last_len;
	int (*one)(const MDB_val *k, const MDB_val *v, void *arg);
	void *arg;
};

/*
 * Positions c on the first record with a key > w->last (last_len 0: >= w->from).
 * Returns 0 or CAIRN_E_NOTFOUND at the end of the table.
 */
static int
walk_seek(struct index_txn *t, MDB_cursor *c, const struct walk *w, MDB_val *k, MDB_val *v)
{
	int rc;

	if (w->last_len == 0) {
		k->mv_data = (void *)w->from;
		k->mv_size = w->from_len;
		if (w->from_len == 0)
			return index_cur_get(t, c, k, v, MDB_FIRST);
		return index_cur_get(t, c, k, v, MDB_SET_RANGE);
	}
	k->mv_data = (void *)w->last;
	k->mv_size = w->last_len;
	rc = index_cur_get(t, c, k, v, MDB_SET_RANGE);
	if (rc == 0 && k->mv_size == w->last_len && memcmp(k->mv_data, w->last, w->last_len) == 0)
		rc = index_cur_get(t, c, k, v, MDB_NEXT);
	return rc;
}

/*
 * Calls w->one for each record of table db from where w says, re-seeking after every call (so one
 * may delete or add records). A key longer than w->last is CAIRN_E_CORRUPT; one checks the rest.
 * Returns 0 at the end of the table, one's first nonzero value, or a negative error.
 */
static int
walk_table(struct index_txn *t, enum index_db db, struct walk *w)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	rc = index_db_cursor(t, db, &c);
	if (rc < 0)
		return rc;
	for (;;) {
		rc = walk_seek(t, c, w, &k, &v);
		if (rc < 0)
			break;
		if (k.mv_size > sizeof(w->last)) {
			rc = CAIRN_E_CORRUPT;
			break;
		}
		memcpy(w->last, k.mv_data, k.mv_size);
		w->last_len = k.mv_size;
		rc = w->one(&k, &v, w->arg);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

struct upload_walk {
	const char *bucket; /* NULL: every bucket */
	bool past;	    /* the walk left the bucket */
	int (*fn)(const char *bucket, const char *id, const struct index_upload *u, void *arg);
	void *arg;
};

/* Splits an uploads key and calls the walk's fn. Returns fn's value, 1 with uw->past set past
 * the bucket, or CAIRN_E_CORRUPT. */
static int
upload_walk_one(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct upload_walk *uw = arg;
	char bucket[INDEX_BUCKET_NAME_MAX + 1], id[INDEX_UPLOAD_ID_LEN + 1];
	const uint8_t *kp = k->mv_data, *nul = memchr(kp, 0, k->mv_size);
	struct index_upload u;
	size_t blen;
	int rc;

	if (!nul)
		return CAIRN_E_CORRUPT;
	blen = (size_t)(nul - kp);
	if (blen == 0 || blen > INDEX_BUCKET_NAME_MAX ||
	    !upload_id_is_valid((const char *)nul + 1, k->mv_size - blen - 1))
		return CAIRN_E_CORRUPT;
	memcpy(bucket, kp, blen);
	bucket[blen] = 0;
	if (uw->bucket && strcmp(bucket, uw->bucket) != 0) {
		uw->past = true;
		return 1;
	}
	memcpy(id, nul + 1, INDEX_UPLOAD_ID_LEN);
	id[INDEX_UPLOAD_ID_LEN] = 0;
	rc = upload_decode(v, &u);
	return rc < 0 ? rc : uw->fn(bucket, id, &u, uw->arg);
}

int
index_upload_iter(struct index_txn *txn, const char *bucket,
		  int (*fn)(const char *bucket, const char *id, const struct index_upload *u,
			    void *arg),
		  void *arg)
{
	struct upload_walk uw = {.bucket = bucket, .fn = fn, .arg = arg};
	struct walk w = {.one = upload_walk_one, .arg = &uw};
	uint8_t from[INDEX_BUCKET_NAME_MAX + 1];
	int rc;

	if (upload_tables_absent(txn))
		return 0;
	if (bucket) {
		w.from_len = strnlen(bucket, INDEX_BUCKET_NAME_MAX + 1);
		if (w.from_len == 0 || w.from_len > INDEX_BUCKET_NAME_MAX)
			return 0;
		memcpy(from, bucket, w.from_len);
		from[w.from_len++] = 0;
		w.from = from;
	}
	rc = walk_table(txn, INDEX_DB_UPLOADS, &w);
	return uw.past ? 0 : rc;
}

/* ---- parts ---- */

static int
part_key(uint8_t kb[PART_KEY_LEN], const char *id, uint32_t number, MDB_val *k)
{
	size_t ilen = id ? strnlen(id, INDEX_UPLOAD_ID_LEN + 1) : 0;

	if (!upload_id_is_valid(id, ilen))
		return CAIRN_E_INVAL;
	memcpy(kb, id, INDEX_UPLOAD_ID_LEN);
	index_be32_put(kb + INDEX_UPLOAD_ID_LEN, number);
	k->mv_data = kb;
	k->mv_size = PART_KEY_LEN;
	return 0;
}

static int
part_decode(const MDB_val *v, struct index_part *out)
{
	struct index_rd r;
	const uint8_t *p;
	int rc = index_rd_begin(&r, v);

	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->oid = index_rd_u64(&r);
	out->size = index_rd_u64(&r);
	out->mtime_ns = (int64_t)index_rd_u64(&r);
	p = index_rd_bytes(&r, 16);
	if (p)
		memcpy(out->md5, p, 16);
	out->nchunks = index_rd_u64(&r);
	out->checksum_len = index_rd_u8(&r);
	if (out->checksum_len > INDEX_PART_CHECKSUM_MAX)
		return CAIRN_E_CORRUPT;
	p = index_rd_bytes(&r, out->checksum_len);
	if (p && out->checksum_len)
		memcpy(out->checksum, p, out->checksum_len);
	return index_rd_end(&r);
}

int
index_part_get(struct index_txn *txn, const char *id, uint32_t number, struct index_part *out)
{
	uint8_t kb[PART_KEY_LEN];
	MDB_val k, v;
	int rc;

	if (upload_tables_absent(txn) || part_key(kb, id, number, &k) < 0)
		return CAIRN_E_NOTFOUND;
	rc = index_db_get(txn, INDEX_DB_PARTS, &k, &v);
	if (rc < 0)
		return rc;
	return part_decode(&v, out);
}

int
index_part_put(struct index_txn *txn, const char *id, uint32_t number, const struct index_part *p)
{
	uint8_t kb[PART_KEY_LEN];
	size_t len = PART_VALUE_LEN + p->checksum_len;
	struct index_wr w;
	MDB_val k;
	uint8_t *q;
	int rc;

	if (part_key(kb, id, number, &k) < 0 || p->checksum_len > INDEX_PART_CHECKSUM_MAX)
		return CAIRN_E_INVAL;
	rc = index_db_put(txn, INDEX_DB_PARTS, &k, len, &q);
	if (rc < 0)
		return rc;
	index_wr_init(&w, q, len);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_u64(&w, p->oid);
	index_wr_u64(&w, p->size);
	index_wr_u64(&w, (uint64_t)p->mtime_ns);
	index_wr_bytes(&w, p->md5, 16);
	index_wr_u64(&w, p->nchunks);
	index_wr_u8(&w, p->checksum_len);
	index_wr_bytes(&w, p->checksum, p->checksum_len);
	index_wr_done(&w);
	return 0;
}

int
index_part_del(struct index_txn *txn, const char *id, uint32_t number)
{
	uint8_t kb[PART_KEY_LEN];
	MDB_val k;

	if (upload_tables_absent(txn) || part_key(kb, id, number, &k) < 0)
		return CAIRN_E_NOTFOUND;
	return index_db_del(txn, INDEX_DB_PARTS, &k);
}

struct part_walk {
	const char *want; /* NULL: every upload */
	bool past;	  /* the walk left upload want */
	int (*fn)(const char *id, uint32_t number, const struct index_part *p, void *arg);
	void *arg;
};

/* Decodes the part at k/v and calls the walk's fn. Returns fn's value, 1 with pw->past set past
 * upload want (when given), or CAIRN_E_CORRUPT. */
static int
part_walk_one(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct part_walk *pw = arg;
	char id[INDEX_UPLOAD_ID_LEN + 1];
	struct index_part p;
	int rc;

	if (k->mv_size != PART_KEY_LEN || !upload_id_is_valid(k->mv_data, INDEX_UPLOAD_ID_LEN))
		return CAIRN_E_CORRUPT;
	if (pw->want && memcmp(k->mv_data, pw->want, INDEX_UPLOAD_ID_LEN) != 0) {
		pw->past = true;
		return 1;
	}
	memcpy(id, k->mv_data, INDEX_UPLOAD_ID_LEN);
	id[INDEX_UPLOAD_ID_LEN] = 0;
	rc = part_decode(v, &p);
	if (rc < 0)
		return rc;
	return pw->fn(id, index_be32_get((const uint8_t *)k->mv_data + INDEX_UPLOAD_ID_LEN), &p,
		      pw->arg);
}

int
index_part_iter(struct index_txn *txn, const char *id, uint32_t after,
		int (*fn)(const char *id, uint32_t number, const struct index_part *p, void *arg),
		void *arg)
{
	struct part_walk pw = {.want = id, .fn = fn, .arg = arg};
	struct walk w = {.one = part_walk_one, .arg = &pw};
	MDB_val k;
	int rc;

	if (upload_tables_absent(txn))
		return 0;
	if (id) {
		if (part_key(w.last, id, after, &k) < 0)
			return 0;
		w.last_len = PART_KEY_LEN; /* start strictly after part number `after` */
	}
	rc = walk_table(txn, INDEX_DB_PARTS, &w);
	return pw.past ? 0 : rc;
}

/* ---- heals ---- */

#define HEAL_VALUE_MAX (1 + INDEX_BUCKET_NAME_MAX + 1 + INDEX_KEY_MAX)

int
index_heal_put(struct index_txn *txn, uint64_t oid, const char *bucket, struct slice key)
{
	size_t blen = bucket ? strnlen(bucket, INDEX_BUCKET_NAME_MAX + 1) : 0, len;
	uint8_t kb[8];
	MDB_val k = {.mv_size = 8, .mv_data = kb};
	struct index_wr w;
	uint8_t *p;
	int rc;

	if (blen == 0 || blen > INDEX_BUCKET_NAME_MAX || key.len == 0 || key.len > INDEX_KEY_MAX)
		return CAIRN_E_INVAL;
	len = 1 + blen + 1 + key.len;
	index_be64_put(kb, oid);
	rc = index_db_put(txn, INDEX_DB_HEALS, &k, len, &p);
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, len);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_bytes(&w, bucket, blen);
	index_wr_u8(&w, 0);
	index_wr_bytes(&w, key.p, key.len);
	index_wr_done(&w);
	return 0;
}

int
index_heal_del(struct index_txn *txn, uint64_t oid)
{
	uint8_t kb[8];
	MDB_val k = {.mv_size = 8, .mv_data = kb};

	if (txn->ix->absent[INDEX_DB_HEALS])
		return CAIRN_E_NOTFOUND;
	index_be64_put(kb, oid);
	return index_db_del(txn, INDEX_DB_HEALS, &k);
}

struct heal_walk {
	int (*fn)(uint64_t oid, const char *bucket, struct slice key, void *arg);
	void *arg;
};

/* Splits a heal value and calls the walk's fn. Returns fn's value, CAIRN_E_CORRUPT or
 * CAIRN_E_VERSION. */
static int
heal_walk_one(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct heal_walk *hw = arg;
	char bucket[INDEX_BUCKET_NAME_MAX + 1];
	const uint8_t *p = v->mv_data, *nul;
	struct slice key;
	size_t blen;

	if (k->mv_size != 8 || v->mv_size < 4 || v->mv_size > HEAL_VALUE_MAX)
		return CAIRN_E_CORRUPT;
	if (p[0] != INDEX_RECORD_VERSION)
		return CAIRN_E_VERSION;
	nul = memchr(p + 1, 0, v->mv_size - 1);
	if (!nul)
		return CAIRN_E_CORRUPT;
	blen = (size_t)(nul - p - 1);
	key.p = nul + 1;
	key.len = v->mv_size - 2 - blen;
	if (blen == 0 || blen > INDEX_BUCKET_NAME_MAX || key.len == 0)
		return CAIRN_E_CORRUPT;
	memcpy(bucket, p + 1, blen);
	bucket[blen] = 0;
	return hw->fn(index_be64_get(k->mv_data), bucket, key, hw->arg);
}

int
index_heal_iter(struct index_txn *txn,
		int (*fn)(uint64_t oid, const char *bucket, struct slice key, void *arg), void *arg)
{
	struct heal_walk hw = {.fn = fn, .arg = arg};
	struct walk w = {.one = heal_walk_one, .arg = &hw};

	if (txn->ix->absent[INDEX_DB_HEALS])
		return 0;
	return walk_table(txn, INDEX_DB_HEALS, &w);
}
