/*
 * index_objects.c — objects under "bucket NUL key" in exact byte order, with keys longer than
 * an LMDB key may be.
 *
 * LMDB keys stop at 511 bytes, but a full key F = bucket NUL key reaches 63 + 1 + 1024 = 1088.
 * F is therefore stored as a path in a trie of SEG-byte (500) segments:
 *
 *   level 0, table objects:   F                 when |F| < SEG   leaf:   the object record
 *                             F[0, SEG)         otherwise        branch: child group id g1
 *   level i, table objtails:  g_i (u64 BE) R    when |R| < SEG   leaf (R = F[i*SEG, |F|))
 *                             g_i R[0, SEG)     otherwise        branch: child group g_i+1
 *
 * A leaf's segment is shorter than SEG and a branch's exactly SEG long, so a slot's key length
 * says which it is. Keys below 500 bytes (nearly all) are a single `objects` record keyed by
 * exactly "bucket NUL key". Leaves below level 0 also hold the object key in their value, which
 * is where the cursor returns it from.
 *
 * Order: inside one group, LMDB's order of the slots is the byte order of the full keys they
 * hold. Two leaves: plain byte order. Two branches P < Q (same length) differ inside their SEG
 * bytes, so all keys under P sort before all keys under Q. A leaf L against a branch P: if L is
 * a prefix of P, L sorts before P and before every key under P (a proper prefix of each);
 * otherwise they differ at a byte inside L, which decides both orders alike. All keys under P
 * start with P, so ordering them by remainder orders them by full key; an empty remainder is the
 * group's smallest slot (the bare group id). An in-order walk of the trie thus yields full keys
 * in byte order, and seeking descends along the target's own path. Groups are never empty:
 * deleting a group's last slot deletes its branch in the parent (an empty group reads as
 * CAIRN_E_CORRUPT). Group ids come from the meta counter "next_gid" and are never reused.
 *
 * Object value (after the version byte): oid u64, size u64, mtime_ns i64, md5[16], parts u32,
 * nchunks u64, meta length u32, meta bytes; below level 0 followed by key length u16, key bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "index_priv.h"

#define OBJ_SEG 500
#define OBJ_GID_LEN 8
#define OBJ_FULL_MAX (INDEX_BUCKET_NAME_MAX + 1 + INDEX_KEY_MAX)
#define OBJ_LEVELS (OBJ_FULL_MAX / OBJ_SEG + 1)
#define OBJ_SLOT_MAX (OBJ_GID_LEN + OBJ_SEG)
/* Largest meta blob accepted (the store keeps it far smaller). */
#define OBJ_META_MAX (16u << 20)
#define OBJ_FIXED_LEN (1 + 8 + 8 + 8 + 16 + 4 + 8 + 4)
#define OBJ_BRANCH_LEN (1 + 8)

_Static_assert(OBJ_SLOT_MAX <= 511, "a slot key must fit LMDB's default key size");
_Static_assert(INDEX_BUCKET_NAME_MAX + 1 < OBJ_SEG, "a bucket prefix must sit in level 0");
_Static_assert(OBJ_FULL_MAX < OBJ_LEVELS * OBJ_SEG, "OBJ_LEVELS levels must hold any key");

/* The full key: bucket NUL key. */
struct obj_full {
	uint8_t b[OBJ_FULL_MAX];
	size_t len;
	size_t plen; /* bucket NUL */
};

struct index_cursor {
	struct index_txn *txn;
	MDB_cursor *c[OBJ_LEVELS]; /* c[0] on objects, the rest on objtails */
	uint64_t gid[OBJ_LEVELS];  /* group each level's cursor walks (gid[0] unused) */
	uint8_t prefix[INDEX_BUCKET_NAME_MAX + 1];
	size_t plen;
	int depth; /* level of the current leaf */
	enum { OBJ_CUR_UNSET, OBJ_CUR_ON, OBJ_CUR_END, OBJ_CUR_FAILED } state;
	int err; /* the error that failed the cursor: returned again by _next() */
};

static int
obj_full_make(const char *bucket, struct slice key, struct obj_full *f)
{
	size_t blen;

	if (!bucket)
		return CAIRN_E_INVAL;
	blen = strnlen(bucket, INDEX_BUCKET_NAME_MAX + 1);
	if (blen == 0 || blen > INDEX_BUCKET_NAME_MAX || key.len > INDEX_KEY_MAX)
		return CAIRN_E_INVAL;
	memcpy(f->b, bucket, blen);
	f->b[blen] = 0;
	f->plen = blen + 1;
	if (key.len)
		memcpy(f->b + f->plen, key.p, key.len);
	f->len = f->plen + key.len;
	return 0;
}

static enum index_db
obj_db(int lv)
{
	return lv ? INDEX_DB_OBJTAILS : INDEX_DB_OBJECTS;
}

static size_t
obj_hdr(int lv)
{
	return lv ? OBJ_GID_LEN : 0;
}

/* Builds f's slot key at level lv in group gid into kb; returns true when it is a leaf. */
static bool
obj_slot_key(const struct obj_full *f, int lv, uint64_t gid, uint8_t kb[OBJ_SLOT_MAX], MDB_val *k)
{
	size_t off = (size_t)lv * OBJ_SEG, rest = f->len - off;
	size_t n = rest < OBJ_SEG ? rest : OBJ_SEG, h = obj_hdr(lv);

	if (lv)
		index_be64_put(kb, gid);
	memcpy(kb + h, f->b + off, n);
	k->mv_data = kb;
	k->mv_size = h + n;
	return rest < OBJ_SEG;
}

static bool
obj_slot_is_branch(int lv, const MDB_val *k)
{
	return k->mv_size == obj_hdr(lv) + OBJ_SEG;
}

static int
obj_branch_decode(const MDB_val *v, uint64_t *gid)
{
	struct index_rd r;
	int rc = index_rd_begin(&r, v);

	if (rc < 0)
		return rc;
	*gid = index_rd_u64(&r);
	rc = index_rd_end(&r);
	return rc == 0 && *gid == 0 ? CAIRN_E_CORRUPT : rc;
}

/* Creates a branch at slot k pointing to a fresh group, returned in *gid. */
static int
obj_branch_add(struct index_txn *t, int lv, const MDB_val *k, uint64_t *gid)
{
	struct index_wr w;
	uint8_t *p;
	int rc;

	rc = index_meta_counter_next(t, "next_gid", gid);
	if (rc == 0)
		rc = index_db_put(t, obj_db(lv), k, OBJ_BRANCH_LEN, &p);
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, OBJ_BRANCH_LEN);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_u64(&w, *gid);
	index_wr_done(&w);
	return 0;
}

/* Decodes a leaf of level lv; below level 0 *key gets the stored object key. */
static int
obj_decode(const MDB_val *v, int lv, struct slice *key, struct index_object *out)
{
	struct index_rd r;
	const uint8_t *md5;
	uint32_t mlen;
	int rc = index_rd_begin(&r, v);

	if (rc < 0)
		return rc;
	out->oid = index_rd_u64(&r);
	out->size = index_rd_u64(&r);
	out->mtime_ns = (int64_t)index_rd_u64(&r);
	md5 = index_rd_bytes(&r, sizeof(out->md5));
	if (md5)
		memcpy(out->md5, md5, sizeof(out->md5));
	out->parts = index_rd_u32(&r);
	out->nchunks = index_rd_u64(&r);
	mlen = index_rd_u32(&r);
	if (mlen > OBJ_META_MAX)
		return CAIRN_E_CORRUPT;
	out->meta.p = index_rd_bytes(&r, mlen);
	out->meta.len = mlen;
	if (lv > 0) {
		key->len = index_rd_u16(&r);
		key->p = index_rd_bytes(&r, key->len);
		if (key->len > INDEX_KEY_MAX)
			return CAIRN_E_CORRUPT;
	}
	return index_rd_end(&r);
}

static int
obj_encode_put(struct index_txn *t, int lv, const MDB_val *k, const struct index_object *obj,
	       struct slice key)
{
	size_t len = OBJ_FIXED_LEN + obj->meta.len + (lv ? 2 + key.len : 0);
	struct index_wr w;
	uint8_t *p;
	int rc;

	rc = index_db_put(t, obj_db(lv), k, len, &p);
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, len);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_u64(&w, obj->oid);
	index_wr_u64(&w, obj->size);
	index_wr_u64(&w, (uint64_t)obj->mtime_ns);
	index_wr_bytes(&w, obj->md5, sizeof(obj->md5));
	index_wr_u32(&w, obj->parts);
	index_wr_u64(&w, obj->nchunks);
	index_wr_u32(&w, (uint32_t)obj->meta.len);
	index_wr_bytes(&w, obj->meta.p, obj->meta.len);
	if (lv) {
		index_wr_u16(&w, (uint16_t)key.len);
		index_wr_bytes(&w, key.p, key.len);
	}
	index_wr_done(&w);
	return 0;
}

int
index_object_get(struct index_txn *txn, const char *bucket, struct slice key,
		 struct index_object *out)
{
	uint8_t kb[OBJ_SLOT_MAX];
	struct obj_full f;
	struct slice stored;
	uint64_t gid = 0;
	MDB_val k, v;
	int rc;

	rc = obj_full_make(bucket, key, &f);
	if (rc < 0 || key.len == 0)
		return CAIRN_E_INVAL;
	for (int lv = 0; lv < OBJ_LEVELS; lv++) {
		bool leaf = obj_slot_key(&f, lv, gid, kb, &k);

		rc = index_db_get(txn, obj_db(lv), &k, &v);
		if (rc < 0)
			return rc;
		if (!leaf) {
			rc = obj_branch_decode(&v, &gid);
			if (rc < 0)
				return rc;
			continue;
		}
		rc = obj_decode(&v, lv, &stored, out);
		if (rc == 0 && lv > 0 &&
		    (stored.len != key.len || memcmp(stored.p, key.p, key.len)))
			rc = CAIRN_E_CORRUPT;
		return rc;
	}
	return CAIRN_E_CORRUPT;
}

int
index_object_put(struct index_txn *txn, const char *bucket, struct slice key,
		 const struct index_object *obj)
{
	uint8_t kb[OBJ_SLOT_MAX];
	struct obj_full f;
	uint64_t gid = 0;
	MDB_val k, v;
	int rc;

	rc = obj_full_make(bucket, key, &f);
	if (rc < 0 || key.len == 0)
		return CAIRN_E_INVAL;
	if (obj->meta.len > OBJ_META_MAX)
		return CAIRN_E_TOOBIG;
	for (int lv = 0; lv < OBJ_LEVELS; lv++) {
		if (obj_slot_key(&f, lv, gid, kb, &k))
			return obj_encode_put(txn, lv, &k, obj, key);
		rc = index_db_get(txn, obj_db(lv), &k, &v);
		if (rc == CAIRN_E_NOTFOUND)
			rc = obj_branch_add(txn, lv, &k, &gid);
		else if (rc == 0)
			rc = obj_branch_decode(&v, &gid);
		if (rc < 0)
			return rc;
	}
	return CAIRN_E_CORRUPT;
}

/* True in *empty when group gid holds no slot. */
static int
obj_group_is_empty(struct index_txn *t, uint64_t gid, bool *empty)
{
	uint8_t kb[OBJ_GID_LEN];
	MDB_val k = {.mv_size = OBJ_GID_LEN, .mv_data = kb}, v;
	MDB_cursor *c;
	int rc;

	index_be64_put(kb, gid);
	rc = index_db_cursor(t, INDEX_DB_OBJTAILS, &c);
	if (rc < 0)
		return rc;
	rc = index_cur_get(t, c, &k, &v, MDB_SET_RANGE);
	*empty = rc == CAIRN_E_NOTFOUND ||
		 (rc == 0 && (k.mv_size < OBJ_GID_LEN || index_be64_get(k.mv_data) != gid));
	mdb_cursor_close(c);
	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

int
index_object_del(struct index_txn *txn, const char *bucket, struct slice key)
{
	uint8_t kb[OBJ_LEVELS][OBJ_SLOT_MAX];
	uint64_t gid[OBJ_LEVELS] = {0};
	MDB_val k[OBJ_LEVELS], v;
	struct obj_full f;
	bool empty;
	int lv, rc;

	rc = obj_full_make(bucket, key, &f);
	if (rc < 0 || key.len == 0)
		return CAIRN_E_INVAL;
	for (lv = 0; !obj_slot_key(&f, lv, gid[lv], kb[lv], &k[lv]); lv++) {
		if (lv + 1 == OBJ_LEVELS)
			return CAIRN_E_CORRUPT;
		rc = index_db_get(txn, obj_db(lv), &k[lv], &v);
		if (rc == 0)
			rc = obj_branch_decode(&v, &gid[lv + 1]);
		if (rc < 0)
			return rc;
	}
	rc = index_db_del(txn, obj_db(lv), &k[lv]);
	/* Prune the groups this delete emptied, deepest first. */
	while (rc == 0 && --lv >= 0) {
		rc = obj_group_is_empty(txn, gid[lv + 1], &empty);
		if (rc < 0 || !empty)
			break;
		rc = index_db_del(txn, obj_db(lv), &k[lv]);
	}
	return rc;
}

/* ---- cursor ---- */

static bool
obj_cur_in_group(const struct index_cursor *cur, int lv, const MDB_val *k)
{
	if (lv == 0)
		return k->mv_size >= cur->plen && !memcmp(k->mv_data, cur->prefix, cur->plen);
	return k->mv_size >= OBJ_GID_LEN && index_be64_get(k->mv_data) == cur->gid[lv];
}

/* Reads the leaf at slot (k, v) of level lv, checking a deep leaf's key against its path. */
static int
obj_cur_leaf(struct index_cursor *cur, int lv, const MDB_val *k, const MDB_val *v,
	     struct slice *key_out, struct index_object *obj_out)
{
	size_t seg, off;
	int rc = obj_decode(v, lv, key_out, obj_out);

	if (rc < 0)
		return rc;
	cur->depth = lv;
	if (lv == 0) {
		key_out->p = (const uint8_t *)k->mv_data + cur->plen;
		key_out->len = k->mv_size - cur->plen;
		return 0;
	}
	/* the stored key must end with this slot's segment, at this level's offset */
	off = (size_t)lv * OBJ_SEG - cur->plen;
	seg = k->mv_size - OBJ_GID_LEN;
	if (key_out->len != off + seg ||
	    memcmp(key_out->p + off, (const uint8_t *)k->mv_data + OBJ_GID_LEN, seg))
		return CAIRN_E_CORRUPT;
	return 0;
}

/* From slot (k, v) of level lv, descends to the first leaf beneath it and reads it. */
static int
obj_cur_descend(struct index_cursor *cur, int lv, MDB_val *k, MDB_val *v, struct slice *key_out,
		struct index_object *obj_out)
{
	uint8_t kb[OBJ_GID_LEN];
	int rc;

	while (obj_slot_is_branch(lv, k)) {
		if (lv + 1 == OBJ_LEVELS)
			return CAIRN_E_CORRUPT;
		rc = obj_branch_decode(v, &cur->gid[lv + 1]);
		if (rc < 0)
			return rc;
		lv++;
		index_be64_put(kb, cur->gid[lv]);
		k->mv_data = kb;
		k->mv_size = OBJ_GID_LEN;
		rc = index_cur_get(cur->txn, cur->c[lv], k, v, MDB_SET_RANGE);
		if (rc == CAIRN_E_NOTFOUND || (rc == 0 && !obj_cur_in_group(cur, lv, k)))
			return CAIRN_E_CORRUPT; /* groups are never empty */
		if (rc < 0)
			return rc;
	}
	return obj_cur_leaf(cur, lv, k, v, key_out, obj_out);
}

/* Moves to the next slot of level lv's group and its first leaf; CAIRN_E_NOTFOUND at the end. */
static int
obj_cur_group_next(struct index_cursor *cur, int lv, struct slice *key_out,
		   struct index_object *obj_out)
{
	MDB_val k, v;
	int rc = index_cur_get(cur->txn, cur->c[lv], &k, &v, MDB_NEXT);

	if (rc == 0 && !obj_cur_in_group(cur, lv, &k))
		rc = CAIRN_E_NOTFOUND;
	if (rc < 0)
		return rc;
	return obj_cur_descend(cur, lv, &k, &v, key_out, obj_out);
}

/* Positions level lv at the first leaf >= f within its group; CAIRN_E_NOTFOUND if none. */
static int
obj_cur_seek_level(struct index_cursor *cur, const struct obj_full *f, int lv,
		   struct slice *key_out, struct index_object *obj_out)
{
	uint8_t kb[OBJ_SLOT_MAX];
	MDB_val target, k, v;
	bool leaf = obj_slot_key(f, lv, cur->gid[lv], kb, &target);
	int rc;

	k = target;
	rc = index_cur_get(cur->txn, cur->c[lv], &k, &v, MDB_SET_RANGE);
	if (rc == 0 && !obj_cur_in_group(cur, lv, &k))
		rc = CAIRN_E_NOTFOUND;
	if (rc < 0)
		return rc;
	if (leaf || k.mv_size != target.mv_size || memcmp(k.mv_data, target.mv_data, k.mv_size))
		return obj_cur_descend(cur, lv, &k, &v, key_out, obj_out);
	/* The target's own branch: look inside it, and past it when it holds nothing >= f. */
	if (lv + 1 == OBJ_LEVELS)
		return CAIRN_E_CORRUPT;
	rc = obj_branch_decode(&v, &cur->gid[lv + 1]);
	if (rc < 0)
		return rc;
	rc = obj_cur_seek_level(cur, f, lv + 1, key_out, obj_out);
	if (rc != CAIRN_E_NOTFOUND)
		return rc;
	return obj_cur_group_next(cur, lv, key_out, obj_out);
}

int
index_object_cursor_open(struct index_txn *txn, const char *bucket, struct index_cursor **out)
{
	struct index_cursor *cur;
	size_t blen;
	int rc = 0;

	*out = NULL;
	if (!bucket)
		return CAIRN_E_INVAL;
	blen = strnlen(bucket, INDEX_BUCKET_NAME_MAX + 1);
	if (blen == 0 || blen > INDEX_BUCKET_NAME_MAX)
		return CAIRN_E_INVAL;
	cur = calloc(1, sizeof(*cur));
	if (!cur)
		abort();
	cur->txn = txn;
	memcpy(cur->prefix, bucket, blen);
	cur->prefix[blen] = 0;
	cur->plen = blen + 1;
	for (int lv = 0; lv < OBJ_LEVELS && rc == 0; lv++)
		rc = index_db_cursor(txn, obj_db(lv), &cur->c[lv]);
	if (rc < 0) {
		index_cursor_close(cur);
		return rc;
	}
	*out = cur;
	return 0;
}

int
index_object_cursor_seek(struct index_cursor *cur, struct slice from, struct slice *key_out,
			 struct index_object *obj_out)
{
	struct obj_full f;
	int rc;

	if (from.len > INDEX_KEY_MAX)
		return CAIRN_E_INVAL;
	memcpy(f.b, cur->prefix, cur->plen);
	if (from.len)
		memcpy(f.b + cur->plen, from.p, from.len);
	f.plen = cur->plen;
	f.len = cur->plen + from.len;
	rc = obj_cur_seek_level(cur, &f, 0, key_out, obj_out);
	cur->state = rc == 0 ? OBJ_CUR_ON : rc == CAIRN_E_NOTFOUND ? OBJ_CUR_END : OBJ_CUR_FAILED;
	cur->err = rc;
	return rc;
}

int
index_object_cursor_next(struct index_cursor *cur, struct slice *key_out,
			 struct index_object *obj_out)
{
	struct slice none = {.p = NULL, .len = 0};
	int lv, rc;

	if (cur->state == OBJ_CUR_UNSET)
		return index_object_cursor_seek(cur, none, key_out, obj_out);
	if (cur->state != OBJ_CUR_ON)
		return cur->err;
	lv = cur->depth;
	rc = obj_cur_group_next(cur, lv, key_out, obj_out);
	while (rc == CAIRN_E_NOTFOUND && lv > 0)
		rc = obj_cur_group_next(cur, --lv, key_out, obj_out);
	if (rc < 0) {
		cur->state = rc == CAIRN_E_NOTFOUND ? OBJ_CUR_END : OBJ_CUR_FAILED;
		cur->err = rc;
	}
	return rc;
}

void
index_cursor_close(struct index_cursor *cur)
{
	if (!cur)
		return;
	for (int lv = 0; lv < OBJ_LEVELS; lv++) {
		if (cur->c[lv])
			mdb_cursor_close(cur->c[lv]);
	}
	free(cur);
}
