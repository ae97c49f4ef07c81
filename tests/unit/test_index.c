#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <lmdb.h>

#include "cairn/err.h"
#include "cairn/index.h"

/* ---- fixture: a fresh index in a temp dir ---- */

struct fx {
	char dir[64];
	struct index *ix;
};

static void
dir_remove(const char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cairn-test-index-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	if (index_open(fx->dir, false, &fx->ix) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;

	index_close(fx->ix);
	dir_remove(fx->dir);
	free(fx);
	return 0;
}

/* Closes the fixture's index (for tests that touch the files directly). */
static void
fx_close(struct fx *fx)
{
	index_close(fx->ix);
	fx->ix = NULL;
}

static void
fx_reopen(struct fx *fx, bool readonly)
{
	fx_close(fx);
	assert_int_equal(index_open(fx->dir, readonly, &fx->ix), 0);
}

static struct slice
sl(const char *s)
{
	return (struct slice){.p = (const uint8_t *)s, .len = strlen(s)};
}

static void
pattern_fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static bool
pattern_check(const uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (uint8_t)(seed * 131 + i * 7 + (i >> 9)))
			return false;
	}
	return true;
}

static struct index_object
obj_make(uint64_t oid, const uint8_t *meta, size_t mlen)
{
	struct index_object o = {.oid = oid,
				 .size = oid * 1000 + 7,
				 .mtime_ns = -(int64_t)oid * 3,
				 .parts = (uint32_t)(oid % 5),
				 .nchunks = oid + 11,
				 .meta = {.p = meta, .len = mlen}};

	for (int i = 0; i < 16; i++)
		o.md5[i] = (uint8_t)(oid + (uint64_t)i);
	return o;
}

static void
obj_expect(const struct index_object *o, uint64_t oid)
{
	struct index_object e = obj_make(oid, NULL, 0);

	assert_int_equal(o->oid, e.oid);
	assert_int_equal(o->size, e.size);
	assert_int_equal(o->mtime_ns, e.mtime_ns);
	assert_int_equal(o->parts, e.parts);
	assert_int_equal(o->nchunks, e.nchunks);
	assert_memory_equal(o->md5, e.md5, 16);
}

/* ---- open ---- */

static int
write_nothing(struct index_txn *txn, void *arg)
{
	(void)txn;
	(void)arg;
	return 0;
}

static void
test_open(void **state)
{
	struct fx *fx = *state;
	struct index *ro;
	struct stat st;
	char sub[128];

	assert_int_equal(stat(fx->dir, &st), 0);
	snprintf(sub, sizeof(sub), "%s/sub", fx->dir);
	assert_int_equal(index_open(sub, true, &ro), -ENOENT);
	assert_null(ro);
	assert_int_equal(index_open(sub, false, &ro), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(index_disk_bytes(ro) > 0);
	index_close(ro);
	dir_remove(sub);
	index_close(NULL);
	assert_int_equal(index_open("", false, &ro), CAIRN_E_INVAL);

	fx_reopen(fx, true);
	assert_int_equal(index_write(fx->ix, write_nothing, NULL), CAIRN_E_READONLY);
	fx_reopen(fx, false);
	assert_int_equal(index_write(fx->ix, write_nothing, NULL), 0);
}

/* ---- buckets ---- */

static int
bucket_fill(struct index_txn *txn, void *arg)
{
	struct index_bucket b = {.ctime_ns = -42, .flags = 0x80000001};
	char big[80];
	int rc;

	(void)arg;
	memset(big, 'x', sizeof(big));
	big[INDEX_BUCKET_NAME_MAX] = 0;
	memset(b.owner, 'w', INDEX_OWNER_MAX);
	b.owner[INDEX_OWNER_MAX] = 0;
	snprintf(b.region, sizeof(b.region), "eu-west-1");
	rc = index_bucket_put(txn, "zeta", &b);
	b.owner[0] = 'o';
	b.ctime_ns = 7;
	rc = rc ? rc : index_bucket_put(txn, "alpha", &b);
	rc = rc ? rc : index_bucket_put(txn, big, &b); /* 63 bytes: fine */
	rc = rc ? rc : index_bucket_put(txn, "mid", &b);
	if (rc)
		return rc;
	assert_int_equal(index_bucket_put(txn, "", &b), CAIRN_E_INVAL);
	big[INDEX_BUCKET_NAME_MAX] = 'x';
	big[INDEX_BUCKET_NAME_MAX + 1] = 0;
	assert_int_equal(index_bucket_put(txn, big, &b), CAIRN_E_INVAL);
	memset(b.region, 'r', sizeof(b.region)); /* not NUL-terminated within its max */
	assert_int_equal(index_bucket_put(txn, "bad", &b), CAIRN_E_INVAL);
	return 0;
}

struct names {
	char v[8][INDEX_BUCKET_NAME_MAX + 1];
	int n;
	int stop_at;
};

static int
bucket_collect(const char *name, const struct index_bucket *b, void *arg)
{
	struct names *ns = arg;

	assert_string_equal(b->region, "eu-west-1");
	snprintf(ns->v[ns->n], sizeof(ns->v[0]), "%s", name);
	ns->n++;
	return ns->n == ns->stop_at ? 99 : 0;
}

static int
bucket_drop(struct index_txn *txn, void *arg)
{
	(void)arg;
	assert_int_equal(index_bucket_del(txn, "missing"), CAIRN_E_NOTFOUND);
	return index_bucket_del(txn, "mid");
}

static void
test_buckets(void **state)
{
	struct fx *fx = *state;
	struct index_txn *txn;
	struct index_bucket b;
	struct names ns = {.n = 0};

	assert_int_equal(index_write(fx->ix, bucket_fill, NULL), 0);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_bucket_get(txn, "zeta", &b), 0);
	assert_int_equal(strlen(b.owner), INDEX_OWNER_MAX);
	assert_string_equal(b.region, "eu-west-1");
	assert_int_equal(b.ctime_ns, -42);
	assert_int_equal(b.flags, 0x80000001);
	assert_int_equal(index_bucket_get(txn, "alpha", &b), 0);
	assert_int_equal(b.owner[0], 'o');
	assert_int_equal(b.ctime_ns, 7);
	assert_int_equal(index_bucket_get(txn, "nope", &b), CAIRN_E_NOTFOUND);
	assert_int_equal(index_bucket_iter(txn, bucket_collect, &ns), 0);
	assert_int_equal(ns.n, 4);
	assert_string_equal(ns.v[0], "alpha");
	assert_string_equal(ns.v[1], "mid");
	assert_int_equal(ns.v[2][0], 'x');
	assert_string_equal(ns.v[3], "zeta");
	ns.n = 0;
	ns.stop_at = 2;
	assert_int_equal(index_bucket_iter(txn, bucket_collect, &ns), 99);
	assert_int_equal(ns.n, 2);
	index_read_end(txn);

	assert_int_equal(index_write(fx->ix, bucket_drop, NULL), 0);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_bucket_get(txn, "mid", &b), CAIRN_E_NOTFOUND);
	index_read_end(txn);
}

/* ---- objects ---- */

struct obj_op {
	const char *bucket;
	struct slice key;
	struct index_object obj;
	bool del;
	int want;
};

static int
obj_apply(struct index_txn *txn, void *arg)
{
	struct obj_op *op = arg;

	if (op->del)
		return index_object_del(txn, op->bucket, op->key);
	return index_object_put(txn, op->bucket, op->key, &op->obj);
}

static void
obj_put(struct fx *fx, const char *bucket, struct slice key, uint64_t oid, const uint8_t *meta,
	size_t mlen)
{
	struct obj_op op = {.bucket = bucket, .key = key, .obj = obj_make(oid, meta, mlen)};

	assert_int_equal(index_write(fx->ix, obj_apply, &op), 0);
}

static int
obj_bad_args(struct index_txn *txn, void *arg)
{
	static uint8_t big[INDEX_KEY_MAX + 1];
	struct index_object o = obj_make(1, NULL, 0);
	struct slice empty = {.p = big, .len = 0}, toolong = {.p = big, .len = sizeof(big)};

	(void)arg;
	assert_int_equal(index_object_put(txn, "b", empty, &o), CAIRN_E_INVAL);
	assert_int_equal(index_object_put(txn, "b", toolong, &o), CAIRN_E_INVAL);
	assert_int_equal(index_object_put(txn, "", sl("k"), &o), CAIRN_E_INVAL);
	assert_int_equal(index_object_get(txn, "b", toolong, &o), CAIRN_E_INVAL);
	assert_int_equal(index_object_del(txn, "b", empty), CAIRN_E_INVAL);
	assert_int_equal(index_object_del(txn, "b", sl("absent")), CAIRN_E_NOTFOUND);
	o.meta.len = (16u << 20) + 1;
	o.meta.p = big;
	assert_int_equal(index_object_put(txn, "b", sl("k"), &o), CAIRN_E_TOOBIG);
	return 0;
}

static void
test_objects(void **state)
{
	struct fx *fx = *state;
	struct index_txn *txn;
	struct index_object o;
	uint8_t meta[3000], key[INDEX_KEY_MAX];
	struct slice bin = {.p = key, .len = 5};
	struct obj_op del = {.bucket = "b", .key = sl("obj"), .del = true};

	pattern_fill(meta, sizeof(meta), 9);
	memcpy(key, "a\0b\xff\x01", 5); /* keys are bytes, NULs included */
	obj_put(fx, "b", sl("obj"), 5, meta, sizeof(meta));
	obj_put(fx, "b", bin, 6, NULL, 0);
	obj_put(fx, "c", sl("obj"), 7, meta, 10);
	assert_int_equal(index_write(fx->ix, obj_bad_args, NULL), 0);

	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_object_get(txn, "b", sl("obj"), &o), 0);
	obj_expect(&o, 5);
	assert_int_equal(o.meta.len, sizeof(meta));
	assert_true(pattern_check(o.meta.p, o.meta.len, 9));
	assert_int_equal(index_object_get(txn, "b", bin, &o), 0);
	obj_expect(&o, 6);
	assert_int_equal(o.meta.len, 0);
	assert_int_equal(index_object_get(txn, "c", sl("obj"), &o), 0);
	obj_expect(&o, 7);
	assert_int_equal(o.meta.len, 10);
	assert_int_equal(index_object_get(txn, "b", sl("ob"), &o), CAIRN_E_NOTFOUND);
	assert_int_equal(index_object_get(txn, "bb", sl("obj"), &o), CAIRN_E_NOTFOUND);
	index_read_end(txn);

	obj_put(fx, "b", sl("obj"), 8, NULL, 0); /* overwrite */
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_object_get(txn, "b", sl("obj"), &o), 0);
	obj_expect(&o, 8);
	index_read_end(txn);
	assert_int_equal(index_write(fx->ix, obj_apply, &del), 0);
	assert_int_equal(index_write(fx->ix, obj_apply, &del), CAIRN_E_NOTFOUND);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_object_get(txn, "b", sl("obj"), &o), CAIRN_E_NOTFOUND);
	assert_int_equal(index_object_get(txn, "c", sl("obj"), &o), 0);
	index_read_end(txn);
}

/* Collects a bucket's keys through the cursor, starting at from. */
static size_t
list_keys(struct index_txn *txn, const char *bucket, struct slice from, uint8_t (*keys)[1024],
	  size_t *lens, size_t max)
{
	struct index_cursor *cur;
	struct index_object o;
	struct slice k;
	size_t n = 0;
	int rc;

	assert_int_equal(index_object_cursor_open(txn, bucket, &cur), 0);
	for (rc = index_object_cursor_seek(cur, from, &k, &o); rc == 0;
	     rc = index_object_cursor_next(cur, &k, &o)) {
		assert_true(n < max);
		assert_true(k.len <= 1024);
		memcpy(keys[n], k.p, k.len);
		lens[n] = k.len;
		assert_int_equal(o.oid, 1000 + k.len);
		n++;
	}
	assert_int_equal(rc, CAIRN_E_NOTFOUND);
	assert_int_equal(index_object_cursor_next(cur, &k, &o), CAIRN_E_NOTFOUND);
	index_cursor_close(cur);
	return n;
}

static void
test_cursor_buckets(void **state)
{
	static const char *const buckets[] = {"a", "a-", "ab", "b", "a\x01"};
	static const char *const keys[] = {"x", "y", "\x01", "yy", "zz/1", "zz/2"};
	struct fx *fx = *state;
	struct index_txn *txn;
	struct index_cursor *cur;
	struct index_object o;
	struct slice k;
	uint8_t(*got)[1024] = malloc(16 * 1024);
	size_t lens[16];

	for (size_t b = 0; b < 5; b++) {
		for (size_t i = 0; i < 6; i++)
			obj_put(fx, buckets[b], sl(keys[i]), 1000 + strlen(keys[i]), NULL, 0);
	}
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	for (size_t b = 0; b < 5; b++) {
		assert_int_equal(list_keys(txn, buckets[b], sl(""), got, lens, 16), 6);
		assert_memory_equal(got[0], "\x01", 1);
		assert_memory_equal(got[1], "x", 1);
		assert_memory_equal(got[5], "zz/2", 4);
	}
	assert_int_equal(list_keys(txn, "none", sl(""), got, lens, 16), 0);
	assert_int_equal(list_keys(txn, "a", sl("y"), got, lens, 16), 4);
	assert_int_equal(
	    list_keys(txn, "a", (struct slice){(const uint8_t *)"y", 2}, got, lens, 16), 3);
	assert_memory_equal(got[0], "yy", 2);
	assert_int_equal(list_keys(txn, "a", sl("zz/"), got, lens, 16), 2);
	assert_int_equal(list_keys(txn, "a", sl("zz/2"), got, lens, 16), 1);
	assert_int_equal(list_keys(txn, "a", sl("zz/3"), got, lens, 16), 0);
	assert_int_equal(list_keys(txn, "ab", sl("\xff"), got, lens, 16), 0);

	/* next without a seek starts at the first key; seek repositions */
	assert_int_equal(index_object_cursor_open(txn, "ab", &cur), 0);
	assert_int_equal(index_object_cursor_next(cur, &k, &o), 0);
	assert_memory_equal(k.p, "\x01", 1);
	assert_int_equal(index_object_cursor_seek(cur, sl("yy"), &k, &o), 0);
	assert_int_equal(k.len, 2);
	assert_int_equal(index_object_cursor_seek(cur, sl("zzz"), &k, &o), CAIRN_E_NOTFOUND);
	assert_int_equal(index_object_cursor_seek(cur, sl(""), &k, &o), 0);
	assert_memory_equal(k.p, "\x01", 1);
	index_cursor_close(cur);
	assert_int_equal(index_object_cursor_open(txn, "", &cur), CAIRN_E_INVAL);
	index_read_end(txn);
	free(got);
}

/* ---- long keys: exact byte order across the segment trie ---- */

#define LK_MAX 700

/* Bucket prefixes that sort next to each other; the last is as long as a name may be. */
static const char *const lk_buckets[] = {
    "bk", "bkk", "bj", "b123456789012345678901234567890123456789012345678901234567890xy"};

struct lkey {
	uint8_t b[INDEX_KEY_MAX];
	size_t len;
};

struct lk_set {
	struct lkey *k;
	size_t n;
	const char *bucket;
	size_t lo, hi; /* range to apply */
	bool del;
};

static int
lkey_cmp(const void *a, const void *b)
{
	const struct lkey *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->b, y->b, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Keys built to stress segment edges: shared long prefixes, proper prefixes of each other,
 * lengths straddling 500 and 1000 bytes with either bucket prefix, bytes 00/01/61/fe/ff. */
static size_t
lkeys_make(struct lkey *k, size_t want, uint64_t seed)
{
	static const uint8_t alpha[] = {0x00, 0x01, 'a', 0xfe, 0xff};
	static const size_t edges[] = {1,   2,	 435, 436, 437, 496, 497, 498,	499,  500, 501,
				       935, 936, 937, 996, 997, 998, 999, 1000, 1023, 1024};
	size_t n = 0;

	while (n < want) {
		struct lkey *x = &k[n];
		uint64_t r = rnd(&seed);

		if (n > 0 && r % 3 != 0) {
			const struct lkey *base = &k[rnd(&seed) % n];
			size_t keep = base->len ? rnd(&seed) % (base->len + 1) : 0;
			size_t add = rnd(&seed) % 4 == 0 ? rnd(&seed) % 600 : rnd(&seed) % 4;

			memcpy(x->b, base->b, keep);
			x->len = keep + add > INDEX_KEY_MAX ? INDEX_KEY_MAX : keep + add;
		} else {
			x->len = edges[rnd(&seed) % (sizeof(edges) / sizeof(edges[0]))];
			memset(x->b, 'a', x->len);
		}
		for (size_t i = x->len ? rnd(&seed) % x->len : 0; i < x->len; i++) {
			if (rnd(&seed) % 3 == 0)
				x->b[i] = alpha[rnd(&seed) % sizeof(alpha)];
		}
		if (x->len == 0)
			continue;
		n++;
	}
	qsort(k, n, sizeof(*k), lkey_cmp);
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u == 0 || lkey_cmp(&k[u - 1], &k[i]) != 0)
			k[u++] = k[i];
	}
	return u;
}

static int
lk_apply(struct index_txn *txn, void *arg)
{
	struct lk_set *s = arg;

	for (size_t i = s->lo; i < s->hi; i++) {
		struct slice key = {.p = s->k[i].b, .len = s->k[i].len};
		struct index_object o = obj_make(1000 + s->k[i].len, s->k[i].b, i % 7);
		int rc = s->del ? index_object_del(txn, s->bucket, key)
				: index_object_put(txn, s->bucket, key, &o);

		if (rc)
			return rc;
	}
	return 0;
}

/* Lists bucket and compares with the live keys (those with live[i]) in order. */
static void
lk_verify_list(struct fx *fx, const char *bucket, const struct lkey *k, size_t n, const bool *live)
{
	struct index_txn *txn;
	struct index_cursor *cur;
	struct index_object o;
	struct slice key;
	size_t i = 0;
	int rc;

	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_object_cursor_open(txn, bucket, &cur), 0);
	for (rc = index_object_cursor_seek(cur, (struct slice){0}, &key, &o); rc == 0;
	     rc = index_object_cursor_next(cur, &key, &o)) {
		while (i < n && !live[i])
			i++;
		assert_true(i < n);
		assert_int_equal(key.len, k[i].len);
		assert_memory_equal(key.p, k[i].b, key.len);
		assert_int_equal(o.oid, 1000 + k[i].len);
		assert_int_equal(o.meta.len, i % 7);
		i++;
	}
	assert_int_equal(rc, CAIRN_E_NOTFOUND);
	while (i < n && !live[i])
		i++;
	assert_int_equal(i, n);
	index_cursor_close(cur);
	index_read_end(txn);
}

/* First live index >= target, or n. */
static size_t
lk_lower_bound(const struct lkey *k, size_t n, const bool *live, const struct lkey *target)
{
	for (size_t i = 0; i < n; i++) {
		if (live[i] && lkey_cmp(&k[i], target) >= 0)
			return i;
	}
	return n;
}

static void
lk_verify_seeks(struct fx *fx, const char *bucket, const struct lkey *k, size_t n, const bool *live,
		uint64_t seed)
{
	struct index_txn *txn;
	struct index_cursor *cur;
	struct index_object o;
	struct slice key;
	struct lkey t;

	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_object_cursor_open(txn, bucket, &cur), 0);
	for (int round = 0; round < 300; round++) {
		const struct lkey *base = &k[rnd(&seed) % n];
		size_t want, m = rnd(&seed) % 4;

		t = *base;
		if (m == 1 && t.len > 1)
			t.len = 1 + rnd(&seed) % (t.len - 1); /* a proper prefix */
		else if (m == 2 && t.len < INDEX_KEY_MAX)
			t.b[t.len++] = 0x00; /* just past base */
		else if (m == 3)
			t.b[rnd(&seed) % t.len] ^= 0x01;
		want = lk_lower_bound(k, n, live, &t);
		int rc = index_object_cursor_seek(cur, (struct slice){t.b, t.len}, &key, &o);
		for (int step = 0; step < 3; step++) {
			if (want == n) {
				assert_int_equal(rc, CAIRN_E_NOTFOUND);
				break;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(key.len, k[want].len);
			assert_memory_equal(key.p, k[want].b, key.len);
			do
				want++;
			while (want < n && !live[want]);
			rc = index_object_cursor_next(cur, &key, &o);
		}
	}
	index_cursor_close(cur);
	index_read_end(txn);
}

/* Records the trie holds for sorted keys k under a bucket prefix of plen bytes (see
 * index_objects.c): level-0 slots (short leaves + distinct 500-byte prefixes) into *top, deeper
 * slots (one leaf per long key + distinct 1000-byte prefixes) into *deep. */
static void
lk_expected(const struct lkey *k, size_t n, size_t plen, size_t *top, size_t *deep)
{
	for (size_t i = 0; i < n; i++) {
		size_t f = plen + k[i].len;
		bool p500 =
		    i > 0 && plen + k[i - 1].len >= 500 && !memcmp(k[i - 1].b, k[i].b, 500 - plen);
		bool p1000 = i > 0 && plen + k[i - 1].len >= 1000 &&
			     !memcmp(k[i - 1].b, k[i].b, 1000 - plen);

		if (f < 500) {
			(*top)++;
			continue;
		}
		*top += !p500;
		*deep += 1 + (f >= 1000 && !p1000);
	}
}

/* Opens the index files with LMDB itself and counts the records of table name. */
static size_t
raw_count(const char *dir, const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return st.ms_entries;
}

static void
lk_insert_all(struct fx *fx, struct lkey *k, size_t n)
{
	for (size_t b = 0; b < 4; b++) {
		/* in a scrambled order, in several transactions */
		for (size_t part = 0; part < 4; part++) {
			struct lk_set s = {.k = k, .n = n, .bucket = lk_buckets[b]};

			s.lo = (part * 7 % 4) * n / 4;
			s.hi = ((part * 7 % 4) + 1) * n / 4;
			assert_int_equal(index_write(fx->ix, lk_apply, &s), 0);
		}
	}
}

/* Checks gets, and the number of trie records against lk_expected(). */
static void
lk_verify_records(struct fx *fx, const struct lkey *k, size_t n)
{
	struct index_txn *txn;
	struct index_object o;
	size_t top = 0, deep = 0;

	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(index_object_get(txn, "bk", (struct slice){k[i].b, k[i].len}, &o),
				 0);
		assert_int_equal(o.oid, 1000 + k[i].len);
		assert_memory_equal(o.meta.p, k[i].b, i % 7);
	}
	index_read_end(txn);
	for (size_t b = 0; b < 4; b++)
		lk_expected(k, n, strlen(lk_buckets[b]) + 1, &top, &deep);
	assert_true(top < 4 * n && deep > n / 2);
	fx_close(fx);
	assert_int_equal(raw_count(fx->dir, "objects"), top);
	assert_int_equal(raw_count(fx->dir, "objtails"), deep);
	fx_reopen(fx, false);
}

static void
lk_delete(struct fx *fx, const char *bucket, struct lkey *k, size_t i)
{
	struct lk_set s = {.k = k, .bucket = bucket, .lo = i, .hi = i + 1, .del = true};

	assert_int_equal(index_write(fx->ix, lk_apply, &s), 0);
}

static void
test_long_keys(void **state)
{
	struct fx *fx = *state;
	struct lkey *k = malloc(LK_MAX * sizeof(*k));
	bool *live = malloc(LK_MAX), *all = malloc(LK_MAX);
	size_t n = lkeys_make(k, 560, 0x9e3779b97f4a7c15ull);

	assert_true(n > 400);
	assert_int_equal(strlen(lk_buckets[3]), INDEX_BUCKET_NAME_MAX);
	memset(live, 1, n);
	memset(all, 1, n);
	lk_insert_all(fx, k, n);
	for (size_t b = 0; b < 4; b++) {
		lk_verify_list(fx, lk_buckets[b], k, n, live);
		lk_verify_seeks(fx, lk_buckets[b], k, n, live, 77 + b);
	}
	lk_verify_records(fx, k, n);

	/* delete every third key of "bk", then everything */
	for (size_t i = 0; i < n; i += 3) {
		lk_delete(fx, "bk", k, i);
		live[i] = false;
	}
	lk_verify_list(fx, "bk", k, n, live);
	lk_verify_seeks(fx, "bk", k, n, live, 5);
	lk_verify_list(fx, "bkk", k, n, all);
	for (size_t b = 0; b < 4; b++) {
		for (size_t i = 0; i < n; i++) {
			if (b > 0 || i % 3)
				lk_delete(fx, lk_buckets[b], k, i);
		}
	}
	memset(live, 0, n);
	lk_verify_list(fx, "bk", k, n, live);
	fx_close(fx);
	/* no record and no continuation group may be left behind */
	assert_int_equal(raw_count(fx->dir, "objects"), 0);
	assert_int_equal(raw_count(fx->dir, "objtails"), 0);
	fx_reopen(fx, false);
	free(all);
	free(live);
	free(k);
}

/* ---- pages ---- */

struct page_spec {
	uint64_t oid;
	uint64_t starts[4];
	size_t counts[4];
	size_t npages;
};

/* Page p of oid holds counts[p] chunks; chunk j of the object is 100 + j bytes long. */
static uint64_t
chunk_end(size_t j)
{
	return (uint64_t)(j + 1) * 100 + (uint64_t)j * (j + 1) / 2;
}

static int
page_fill(struct index_txn *txn, void *arg)
{
	struct page_spec *ps = arg;
	struct index_page_entry e[INDEX_PAGE_ENTRIES];
	size_t j = 0;
	int rc;

	for (size_t p = 0; p < ps->npages; p++) {
		ps->starts[p] = j ? chunk_end(j - 1) : 0;
		for (size_t i = 0; i < ps->counts[p]; i++, j++) {
			memset(e[i].id.b, (int)(j & 0xff), CHUNK_ID_LEN);
			e[i].id.b[0] = (uint8_t)ps->oid;
			e[i].end = chunk_end(j);
		}
		rc = index_page_put(txn, ps->oid, ps->starts[p], e, ps->counts[p]);
		if (rc)
			return rc;
	}
	return 0;
}

static int
page_bad(struct index_txn *txn, void *arg)
{
	struct index_page_entry e[2] = {{.end = 10}, {.end = 10}};

	(void)arg;
	assert_int_equal(index_page_put(txn, 1, 0, e, 0), CAIRN_E_INVAL);
	assert_int_equal(index_page_put(txn, 1, 0, e, INDEX_PAGE_ENTRIES + 1), CAIRN_E_INVAL);
	assert_int_equal(index_page_put(txn, 1, 0, e, 2), CAIRN_E_INVAL); /* empty chunk */
	assert_int_equal(index_page_put(txn, 1, 10, e, 1), CAIRN_E_INVAL);
	return 0;
}

static void
page_expect(struct index_txn *txn, uint64_t oid, uint64_t off, uint64_t want_start, size_t want_n)
{
	struct index_page_entry out[INDEX_PAGE_ENTRIES];
	uint64_t start = 12345;
	size_t n = 0;

	assert_int_equal(index_page_find(txn, oid, off, &start, out, &n), 0);
	assert_int_equal(start, want_start);
	assert_int_equal(n, want_n);
	assert_true(start <= off && off < out[n - 1].end);
	assert_int_equal(out[0].id.b[0], (uint8_t)oid);
}

struct page_seen {
	uint64_t starts[8];
	size_t n;
	size_t stop_at;
};

static int
page_collect(uint64_t start, const struct index_page_entry *e, size_t n, void *arg)
{
	struct page_seen *ps = arg;

	assert_true(n > 0 && e[n - 1].end > start);
	ps->starts[ps->n++] = start;
	return ps->n == ps->stop_at ? 5 : 0;
}

struct page_del {
	uint64_t oid;
	struct page_seen seen;
};

static int
page_delete(struct index_txn *txn, void *arg)
{
	struct page_del *pd = arg;

	return index_page_iter(txn, pd->oid, true, page_collect, &pd->seen);
}

/* Finds every boundary of object ps (3 pages): each page's first byte, its first chunk's first,
 * second and last byte, its second chunk's first byte, the page's last byte, the object's last
 * byte and one past it; plus neighbours 41 (one 100-byte chunk) and 43 (two chunks). */
static void
pages_expect_bounds(struct index_txn *txn, const struct page_spec *ps)
{
	struct index_page_entry out[INDEX_PAGE_ENTRIES];
	size_t first = 0, n;
	uint64_t start, total;

	for (size_t p = 0; p < ps->npages; first += ps->counts[p], p++) {
		uint64_t s = ps->starts[p], last = chunk_end(first + ps->counts[p] - 1);

		page_expect(txn, ps->oid, s, s, ps->counts[p]);
		page_expect(txn, ps->oid, s + 1, s, ps->counts[p]);
		page_expect(txn, ps->oid, chunk_end(first) - 1, s, ps->counts[p]);
		page_expect(txn, ps->oid, chunk_end(first), s, ps->counts[p]);
		page_expect(txn, ps->oid, last - 1, s, ps->counts[p]);
	}
	total = chunk_end(first - 1);
	page_expect(txn, ps->oid, total - 1, ps->starts[ps->npages - 1],
		    ps->counts[ps->npages - 1]);
	assert_int_equal(index_page_find(txn, ps->oid, total, &start, out, &n), CAIRN_E_NOTFOUND);
	assert_int_equal(index_page_find(txn, ps->oid, UINT64_MAX, &start, out, &n),
			 CAIRN_E_NOTFOUND);
	page_expect(txn, 41, 0, 0, 1);
	page_expect(txn, 41, 99, 0, 1);
	assert_int_equal(index_page_find(txn, 41, 100, &start, out, &n), CAIRN_E_NOTFOUND);
	page_expect(txn, 43, 0, 0, 2);
	page_expect(txn, 43, chunk_end(1) - 1, 0, 2);
	assert_int_equal(index_page_find(txn, 43, chunk_end(1), &start, out, &n), CAIRN_E_NOTFOUND);
	assert_int_equal(index_page_find(txn, 40, 0, &start, out, &n), CAIRN_E_NOTFOUND);
	assert_int_equal(index_page_find(txn, 44, 0, &start, out, &n), CAIRN_E_NOTFOUND);
	assert_int_equal(index_page_find(txn, 0, 0, &start, out, &n), CAIRN_E_NOTFOUND);
	assert_int_equal(index_page_find(txn, UINT64_MAX, 5, &start, out, &n), CAIRN_E_NOTFOUND);
}

static void
test_pages(void **state)
{
	struct fx *fx = *state;
	struct page_spec a = {.oid = 41, .counts = {1}, .npages = 1};
	struct page_spec b = {.oid = 42, .counts = {3, INDEX_PAGE_ENTRIES, 2}, .npages = 3};
	struct page_spec c = {.oid = 43, .counts = {2}, .npages = 1};
	struct page_del pd = {.oid = 42};
	struct index_page_entry out[INDEX_PAGE_ENTRIES];
	struct page_seen seen = {.n = 0};
	struct index_txn *txn;
	uint64_t start, total;
	size_t n;

	assert_int_equal(index_write(fx->ix, page_fill, &a), 0);
	assert_int_equal(index_write(fx->ix, page_fill, &b), 0);
	assert_int_equal(index_write(fx->ix, page_fill, &c), 0);
	assert_int_equal(index_write(fx->ix, page_bad, NULL), 0);
	total = chunk_end(3 + INDEX_PAGE_ENTRIES + 2 - 1);

	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	pages_expect_bounds(txn, &b);
	assert_int_equal(index_page_iter(txn, 42, false, page_collect, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.starts[0], 0);
	assert_int_equal(seen.starts[1], b.starts[1]);
	assert_int_equal(seen.starts[2], b.starts[2]);
	seen = (struct page_seen){.stop_at = 2};
	assert_int_equal(index_page_iter(txn, 42, false, page_collect, &seen), 5);
	assert_int_equal(seen.n, 2);
	seen = (struct page_seen){.n = 0};
	assert_int_equal(index_page_iter(txn, 7, false, page_collect, &seen), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(index_page_iter(txn, 42, true, page_collect, &seen), CAIRN_E_READONLY);
	index_read_end(txn);

	pd.seen.stop_at = 2; /* the stopping page stays */
	assert_int_equal(index_write(fx->ix, page_delete, &pd), 5);
	pd.seen = (struct page_seen){.n = 0}; /* the txn was aborted: all three pages remain */
	assert_int_equal(index_write(fx->ix, page_delete, &pd), 0);
	assert_int_equal(pd.seen.n, 3);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_page_find(txn, 42, 0, &start, out, &n), CAIRN_E_NOTFOUND);
	assert_int_equal(index_page_find(txn, 42, total - 1, &start, out, &n), CAIRN_E_NOTFOUND);
	page_expect(txn, 41, 0, 0, 1);
	page_expect(txn, 43, 0, 0, 2);
	index_read_end(txn);
}

/* ---- chunks, packs ---- */

static struct chunk_id
cid(uint32_t i)
{
	struct chunk_id id;

	memset(id.b, 0, sizeof(id.b));
	id.b[0] = (uint8_t)(i >> 8);
	id.b[1] = (uint8_t)i;
	id.b[31] = 0x5a;
	return id;
}

static int
chunk_fill(struct index_txn *txn, void *arg)
{
	int rc = 0;

	(void)arg;
	for (uint32_t i = 0; i < 2000 && !rc; i++) {
		struct index_chunk c = {.loc = {.pack_id = i / 100,
						.record_len = 4096 + i,
						.offset = (uint64_t)i << 33,
						.raw_len = 8192 + i},
					.refcount = i % 3};
		struct chunk_id id = cid(i);

		rc = index_chunk_put(txn, &id, &c);
	}
	for (uint32_t p = 0; p < 20 && !rc; p++) {
		struct index_pack pk = {.live_bytes = p * 1000ull, .dead_bytes = (uint64_t)p << 40};

		rc = index_pack_put(txn, p * 17, &pk);
	}
	return rc;
}

struct chunk_walk {
	uint32_t next;
	struct index_txn *txn; /* set: delete chunks with refcount 0 while walking */
	uint32_t deleted;
};

static int
chunk_visit(const struct chunk_id *id, const struct index_chunk *c, void *arg)
{
	struct chunk_walk *w = arg;
	struct chunk_id want = cid(w->next);

	assert_memory_equal(id->b, want.b, CHUNK_ID_LEN);
	assert_int_equal(c->loc.record_len, 4096 + w->next);
	assert_int_equal(c->loc.offset, (uint64_t)w->next << 33);
	assert_int_equal(c->loc.raw_len, 8192 + w->next);
	assert_int_equal(c->loc.pack_id, w->next / 100);
	assert_int_equal(c->refcount, w->next % 3);
	w->next++;
	if (w->txn && c->refcount == 0) {
		w->deleted++;
		return index_chunk_del(w->txn, id);
	}
	return 0;
}

static int
chunk_sweep(struct index_txn *txn, void *arg)
{
	struct chunk_walk *w = arg;

	w->txn = txn;
	w->next = 0;
	w->deleted = 0;
	return index_chunk_iter(txn, chunk_visit, w);
}

static int
pack_visit(uint32_t pack_id, const struct index_pack *p, void *arg)
{
	uint32_t *next = arg;

	assert_int_equal(pack_id, *next * 17);
	assert_int_equal(p->live_bytes, *next * 1000ull);
	assert_int_equal(p->dead_bytes, (uint64_t)*next << 40);
	(*next)++;
	return 0;
}

static void
test_chunks_packs(void **state)
{
	struct fx *fx = *state;
	struct chunk_walk w = {.next = 0};
	struct index_txn *txn;
	struct index_chunk c;
	struct index_pack pk;
	struct chunk_id id = cid(5), absent = cid(9999);
	uint32_t next = 0;

	assert_int_equal(index_write(fx->ix, chunk_fill, NULL), 0);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_chunk_get(txn, &id, &c), 0);
	assert_int_equal(c.loc.raw_len, 8197);
	assert_int_equal(index_chunk_get(txn, &absent, &c), CAIRN_E_NOTFOUND);
	assert_int_equal(index_chunk_iter(txn, chunk_visit, &w), 0);
	assert_int_equal(w.next, 2000);
	assert_int_equal(index_pack_get(txn, 34, &pk), 0);
	assert_int_equal(pk.live_bytes, 2000);
	pk.live_bytes = 1;
	assert_int_equal(index_pack_get(txn, 35, &pk), 0); /* never recorded: zeros */
	assert_int_equal(pk.live_bytes, 0);
	assert_int_equal(pk.dead_bytes, 0);
	assert_int_equal(index_pack_iter(txn, pack_visit, &next), 0);
	assert_int_equal(next, 20);
	index_read_end(txn);

	/* deleting while iterating (GC's sweep) visits every chunk exactly once */
	assert_int_equal(index_write(fx->ix, chunk_sweep, &w), 0);
	assert_int_equal(w.next, 2000);
	assert_int_equal(w.deleted, 667);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	for (uint32_t i = 0; i < 2000; i++) {
		id = cid(i);
		assert_int_equal(index_chunk_get(txn, &id, &c), i % 3 ? 0 : CAIRN_E_NOTFOUND);
	}
	index_read_end(txn);
}

/* ---- zombies, users, next oid ---- */

static int
zombie_fill(struct index_txn *txn, void *arg)
{
	static const uint64_t oids[] = {300, 2, 1ull << 40, 299, 2};
	int rc = 0;

	(void)arg;
	for (size_t i = 0; i < 5 && !rc; i++)
		rc = index_zombie_add(txn, oids[i]);
	if (rc)
		return rc;
	assert_int_equal(index_zombie_del(txn, 299), 0);
	assert_int_equal(index_zombie_del(txn, 299), CAIRN_E_NOTFOUND);
	return 0;
}

static int
zombie_visit(uint64_t oid, void *arg)
{
	uint64_t *seen = arg;

	seen[++seen[0]] = oid;
	return 0;
}

static int
user_fill(struct index_txn *txn, void *arg)
{
	struct index_user u = {.ctime_ns = 1700000000123456789};
	int rc;

	(void)arg;
	snprintf(u.name, sizeof(u.name), "alice");
	snprintf(u.access_key, sizeof(u.access_key), "AKIAZZZZ");
	memset(u.secret_key, 's', 64);
	rc = index_user_put(txn, &u);
	snprintf(u.name, sizeof(u.name), "bob");
	snprintf(u.access_key, sizeof(u.access_key), "AKIAAAAA");
	snprintf(u.secret_key, sizeof(u.secret_key), "short");
	rc = rc ? rc : index_user_put(txn, &u);
	if (rc)
		return rc;
	u.access_key[0] = 0;
	assert_int_equal(index_user_put(txn, &u), CAIRN_E_INVAL);
	memset(u.access_key, 'k', sizeof(u.access_key)); /* unterminated */
	assert_int_equal(index_user_put(txn, &u), CAIRN_E_INVAL);
	return 0;
}

static int
user_visit(const struct index_user *u, void *arg)
{
	int *n = arg;

	assert_string_equal(u->access_key, *n == 0 ? "AKIAAAAA" : "AKIAZZZZ");
	assert_string_equal(u->name, *n == 0 ? "bob" : "alice");
	(*n)++;
	return 0;
}

static int
user_drop(struct index_txn *txn, void *arg)
{
	(void)arg;
	return index_user_del(txn, "AKIAAAAA");
}

static int
oid_take(struct index_txn *txn, void *arg)
{
	uint64_t *out = arg;

	for (int i = 0; i < 3; i++) {
		int rc = index_next_oid(txn, &out[i]);

		if (rc)
			return rc;
	}
	return 0;
}

static void
test_zombies_users_oids(void **state)
{
	struct fx *fx = *state;
	struct index_txn *txn;
	struct index_user u;
	uint64_t seen[8] = {0}, oids[3];
	int n = 0;

	assert_int_equal(index_write(fx->ix, zombie_fill, NULL), 0);
	assert_int_equal(index_write(fx->ix, user_fill, NULL), 0);
	assert_int_equal(index_write(fx->ix, oid_take, oids), 0);
	assert_int_equal(oids[0], 1);
	assert_int_equal(oids[2], 3);

	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_zombie_iter(txn, zombie_visit, seen), 0);
	assert_int_equal(seen[0], 3); /* numeric order, duplicates collapsed */
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 300);
	assert_int_equal(seen[3], 1ull << 40);
	assert_int_equal(index_user_get(txn, "AKIAZZZZ", &u), 0);
	assert_string_equal(u.name, "alice");
	assert_int_equal(strlen(u.secret_key), 64);
	assert_int_equal(u.ctime_ns, 1700000000123456789);
	assert_int_equal(index_user_get(txn, "AKIAXXXX", &u), CAIRN_E_NOTFOUND);
	assert_int_equal(index_user_iter(txn, user_visit, &n), 0);
	assert_int_equal(n, 2);
	index_read_end(txn);
	assert_int_equal(index_write(fx->ix, user_drop, NULL), 0);
	assert_int_equal(index_write(fx->ix, user_drop, NULL), CAIRN_E_NOTFOUND);

	fx_reopen(fx, false); /* counters persist */
	assert_int_equal(index_write(fx->ix, oid_take, oids), 0);
	assert_int_equal(oids[0], 4);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_user_get(txn, "AKIAAAAA", &u), CAIRN_E_NOTFOUND);
	index_read_end(txn);
}

/* ---- version byte and length checks: bad values written with LMDB directly ---- */

static void
raw_put(const char *dir, const char *table, const void *k, size_t klen, const void *v, size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val key = {.mv_size = klen, .mv_data = (void *)k};
	MDB_val val = {.mv_size = vlen, .mv_data = (void *)v};

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static int
corrupt_seed(struct index_txn *txn, void *arg)
{
	struct index_chunk c = {.refcount = 1};
	struct chunk_id id = cid(1);
	struct index_pack pk = {.live_bytes = 1};
	struct index_page_entry e = {.end = 10};
	struct index_object o = obj_make(3, NULL, 0);
	int rc;

	(void)arg;
	rc = index_chunk_put(txn, &id, &c);
	rc = rc ? rc : index_pack_put(txn, 1, &pk);
	rc = rc ? rc : index_page_put(txn, 1, 0, &e, 1);
	rc = rc ? rc : index_object_put(txn, "b", sl("k"), &o);
	return rc;
}

static int
read_chunk_rc(struct index *ix)
{
	struct index_txn *txn;
	struct index_chunk c;
	struct chunk_id id = cid(1);
	int rc;

	assert_int_equal(index_read_begin(ix, &txn), 0);
	rc = index_chunk_get(txn, &id, &c);
	index_read_end(txn);
	return rc;
}

/* Replaces the record of chunk 1 (the first recorded: sequence number 1) with len bytes of v
 * and reads it back through the index. */
static int
chunk_reread(struct fx *fx, const uint8_t *v, size_t len)
{
	static const uint8_t seq1[5] = {0, 0, 0, 0, 1};

	fx_close(fx);
	raw_put(fx->dir, "chunks", seq1, sizeof(seq1), v, len);
	assert_int_equal(index_open(fx->dir, false, &fx->ix), 0);
	return read_chunk_rc(fx->ix);
}

/* A chunk record: version 2, the id, varints pack, offset, record length, raw length, refcount
 * (here 0, 0, 0, 0, 1: what corrupt_seed wrote). */
static size_t
chunk_raw(uint8_t *v, uint8_t version, const struct chunk_id *id)
{
	v[0] = version;
	memcpy(v + 1, id->b, CHUNK_ID_LEN);
	memcpy(v + 1 + CHUNK_ID_LEN, (uint8_t[]){0, 0, 0, 0, 1}, 5);
	return 1 + CHUNK_ID_LEN + 5;
}

static void
test_version_chunk(void **state)
{
	struct fx *fx = *state;
	struct chunk_id id = cid(1), other = cid(2);
	uint8_t good[64] = {0}, v[64];
	size_t n = chunk_raw(good, 2, &id);

	assert_int_equal(index_write(fx->ix, corrupt_seed, NULL), 0);
	assert_int_equal(read_chunk_rc(fx->ix), 0);
	assert_int_equal(chunk_reread(fx, good, n), 0);
	chunk_raw(v, 3, &id);
	assert_int_equal(chunk_reread(fx, v, n), CAIRN_E_VERSION);
	assert_int_equal(chunk_reread(fx, good, n + 1), CAIRN_E_CORRUPT); /* oversized */
	assert_int_equal(chunk_reread(fx, good, n - 1), CAIRN_E_CORRUPT); /* short */
	assert_int_equal(chunk_reread(fx, good, 0), CAIRN_E_CORRUPT);	  /* empty */
	memcpy(v, good, n);
	v[n - 1] = 0x81; /* refcount 1 as an overlong varint: 0x81 0x00 */
	v[n] = 0;
	assert_int_equal(chunk_reread(fx, v, n + 1), CAIRN_E_CORRUPT);
	memcpy(v, good, n);
	memcpy(v + 1 + CHUNK_ID_LEN, (uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x10}, 5); /* pack 2^32 */
	memcpy(v + 1 + CHUNK_ID_LEN + 5, (uint8_t[]){0, 0, 0, 1}, 4);
	assert_int_equal(chunk_reread(fx, v, n + 4), CAIRN_E_CORRUPT);
	/* the record of the chunk's sequence number names another chunk: not found */
	chunk_raw(v, 2, &other);
	assert_int_equal(chunk_reread(fx, v, n), CAIRN_E_NOTFOUND);
}

static void
test_corrupt_tables(void **state)
{
	struct fx *fx = *state;
	uint8_t good[29] = {1}, v2[17] = {2}, branch[500];
	uint8_t pk_key[4] = {0, 0, 0, 1}, pg_key[16] = {0, 0, 0, 0, 0, 0, 0, 1};
	uint8_t pg_short[10] = {2, 1, 1}; /* one entry, its id cut short */
	struct index_page_entry out[INDEX_PAGE_ENTRIES];
	struct index_cursor *cur;
	struct index_txn *txn;
	struct index_object o;
	struct index_pack pk;
	struct index_bucket b;
	struct chunk_id id;
	struct slice key;
	uint64_t start;
	size_t n;

	assert_int_equal(index_write(fx->ix, corrupt_seed, NULL), 0);
	fx_close(fx);
	raw_put(fx->dir, "packs", pk_key, 4, v2, sizeof(v2));
	raw_put(fx->dir, "pages", pg_key, 16, pg_short, sizeof(pg_short));
	raw_put(fx->dir, "pages", pg_key + 1, 15, (uint8_t[]){2, 0, 0}, 3); /* a 15-byte key */
	pg_key[7] = 2;
	raw_put(fx->dir, "pages", pg_key, 16, (uint8_t[]){2, 0, 0}, 3); /* page count 0 */
	pg_key[7] = 3; /* seq 99 (zigzag 198, tagged 396), which names no chunk */
	raw_put(fx->dir, "pages", pg_key, 16, (uint8_t[]){2, 1, 0x8c, 0x03, 10}, 5);
	pg_key[7] = 4;
	raw_put(fx->dir, "pages", pg_key, 16, (uint8_t[]){2, 1, 3, 10}, 4); /* odd tag, not 1 */
	pg_key[7] = 5;
	raw_put(fx->dir, "pages", pg_key, 16, (uint8_t[]){2, 1, 4, 0}, 4); /* seq 1, 0 bytes */
	pg_key[7] = 6;
	raw_put(fx->dir, "pages", pg_key, 16, (uint8_t[]){2, 1, 4, 7}, 4); /* seq 1, 7 bytes */
	pg_key[7] = 7;
	raw_put(fx->dir, "pages", pg_key, 16, (uint8_t[]){1, 1, 4, 7}, 4); /* version 1 */
	raw_put(fx->dir, "buckets", "bk", 2, good, 5); /* owner length 0, then truncated */
	raw_put(fx->dir, "objects", "b\0k", 3, good, 20);
	/* a level-0 branch whose group does not exist: listing must not silently skip it */
	memset(branch, 'z', sizeof(branch));
	memcpy(branch, "b\0", 2);
	raw_put(fx->dir, "objects", branch, sizeof(branch),
		(uint8_t[]){1, 0xe7, 3, 0, 0, 0, 0, 0, 0}, 9);
	assert_int_equal(index_open(fx->dir, false, &fx->ix), 0);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_pack_get(txn, 1, &pk), CAIRN_E_VERSION);
	assert_int_equal(index_page_find(txn, 1, 0, &start, out, &n), CAIRN_E_CORRUPT);
	assert_int_equal(index_page_find(txn, 2, 0, &start, out, &n), CAIRN_E_CORRUPT);
	assert_int_equal(index_page_find(txn, 3, 0, &start, out, &n), CAIRN_E_CORRUPT);
	assert_int_equal(index_page_find(txn, 4, 0, &start, out, &n), CAIRN_E_CORRUPT);
	assert_int_equal(index_page_find(txn, 5, 0, &start, out, &n), CAIRN_E_CORRUPT);
	assert_int_equal(index_page_find(txn, 6, 3, &start, out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].end, 7);
	id = cid(1);
	assert_memory_equal(out[0].id.b, id.b, CHUNK_ID_LEN);
	assert_int_equal(index_page_find(txn, 7, 0, &start, out, &n), CAIRN_E_VERSION);
	assert_int_equal(index_page_find(txn, 1ull << 56, 0, &start, out, &n), CAIRN_E_CORRUPT);
	assert_int_equal(index_bucket_get(txn, "bk", &b), CAIRN_E_CORRUPT);
	assert_int_equal(index_object_get(txn, "b", sl("k"), &o), CAIRN_E_CORRUPT);
	assert_int_equal(index_object_cursor_open(txn, "b", &cur), 0);
	assert_int_equal(index_object_cursor_seek(cur, sl("y"), &key, &o), CAIRN_E_CORRUPT);
	assert_int_equal(index_object_cursor_next(cur, &key, &o), CAIRN_E_CORRUPT); /* sticky */
	index_cursor_close(cur);
	index_read_end(txn);
}

static void
test_format_version(void **state)
{
	struct fx *fx = *state;

	fx_close(fx);
	raw_put(fx->dir, "meta", "format", 6, (uint8_t[]){1, 3, 0, 0, 0}, 5); /* a later format */
	assert_int_equal(index_open(fx->dir, false, &fx->ix), CAIRN_E_VERSION);
	assert_int_equal(index_open(fx->dir, true, &fx->ix), CAIRN_E_VERSION);
	raw_put(fx->dir, "meta", "format", 6, (uint8_t[]){1, 1, 0, 0, 0}, 5); /* format 1 */
	assert_int_equal(index_open(fx->dir, false, &fx->ix), CAIRN_E_VERSION);
	assert_int_equal(index_open(fx->dir, true, &fx->ix), CAIRN_E_VERSION);
	raw_put(fx->dir, "meta", "format", 6, (uint8_t[]){2, 2, 0, 0, 0}, 5);
	assert_int_equal(index_open(fx->dir, false, &fx->ix), CAIRN_E_VERSION);
	raw_put(fx->dir, "meta", "format", 6, (uint8_t[]){1, 2, 0, 0}, 4);
	assert_int_equal(index_open(fx->dir, false, &fx->ix), CAIRN_E_CORRUPT);
	raw_put(fx->dir, "meta", "format", 6, (uint8_t[]){1, 2, 0, 0, 0}, 5);
	assert_int_equal(index_open(fx->dir, false, &fx->ix), 0);
}

/* ---- chunks by sequence number: lookups, shared prefixes, dense pages ---- */

#define SEQ_CHUNKS 3000

/* A pseudo-random chunk id; ids i and i ^ 1 (i < 64) share their first 8 bytes. */
static struct chunk_id
rid(uint32_t i)
{
	struct chunk_id id;
	uint64_t x = (i < 64 ? i >> 1 : i) * 0x9e3779b97f4a7c15ull + 1;

	for (int j = 0; j < CHUNK_ID_LEN; j++) {
		if (j == 8)
			x ^= (uint64_t)i * 0xbf58476d1ce4e5b9ull + 7;
		x ^= x >> 29;
		x *= 0x94d049bb133111ebull;
		id.b[j] = (uint8_t)(x >> 56);
	}
	return id;
}

static struct index_chunk
rid_chunk(uint32_t i)
{
	return (struct index_chunk){.loc = {.pack_id = i / 1000,
					    .record_len = 30000 + i,
					    .offset = (uint64_t)i * 31000,
					    .raw_len = 65000 + i},
				    .refcount = i + 1};
}

static void
rid_expect(const struct index_chunk *c, uint32_t i)
{
	struct index_chunk want = rid_chunk(i);

	assert_int_equal(c->loc.pack_id, want.loc.pack_id);
	assert_int_equal(c->loc.record_len, want.loc.record_len);
	assert_int_equal(c->loc.offset, want.loc.offset);
	assert_int_equal(c->loc.raw_len, want.loc.raw_len);
	assert_int_equal(c->refcount, want.refcount);
}

static int
seq_fill(struct index_txn *txn, void *arg)
{
	int rc = 0;

	(void)arg;
	for (uint32_t i = 0; i < SEQ_CHUNKS && rc == 0; i++) {
		struct chunk_id id = rid(i);
		struct index_chunk c = rid_chunk(i);

		rc = index_chunk_put(txn, &id, &c);
	}
	return rc;
}

/* Entry i of object 77: recorded chunks in a scrambled order, every 7th an unrecorded id. */
static struct index_page_entry
seq_entry(uint32_t i)
{
	struct index_page_entry e;

	e.id = i % 7 == 3 ? rid(SEQ_CHUNKS + i) : rid((i * 337) % SEQ_CHUNKS);
	e.end = (uint64_t)(i + 1) * 40000 - (i % 5) * 1000;
	return e;
}

/* Object 77: INDEX_PAGE_ENTRIES entries from seq_entry; object 78: chunks 2000.. in order. */
static int
seq_pages(struct index_txn *txn, void *arg)
{
	struct index_page_entry *e = arg;
	int rc;

	for (uint32_t i = 0; i < INDEX_PAGE_ENTRIES; i++)
		e[i] = seq_entry(i);
	rc = index_page_put(txn, 77, 0, e, INDEX_PAGE_ENTRIES);
	for (uint32_t i = 0; i < 1000; i++) {
		e[i].id = rid(2000 + i);
		e[i].end = (uint64_t)(i + 1) * 9000;
	}
	return rc ? rc : index_page_put(txn, 78, 0, e, 1000);
}

/* Bytes of the raw value of key in table (LMDB directly). */
static size_t
raw_len(const char *dir, const char *table, const void *k, size_t klen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val key = {.mv_size = klen, .mv_data = (void *)k}, val;
	size_t n;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &key, &val), 0);
	n = val.mv_size;
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return n;
}

static void
test_pages_by_seq(void **state)
{
	struct fx *fx = *state;
	struct index_page_entry *e = calloc(INDEX_PAGE_ENTRIES, sizeof(*e)), *out;
	uint8_t k77[16] = {0, 0, 0, 0, 0, 0, 0, 77}, k78[16] = {0, 0, 0, 0, 0, 0, 0, 78};
	struct index_txn *txn;
	uint64_t start;
	size_t n, unrecorded = 0;

	out = calloc(INDEX_PAGE_ENTRIES, sizeof(*out));
	assert_non_null(e);
	assert_non_null(out);
	assert_int_equal(index_write(fx->ix, seq_fill, NULL), 0);
	assert_int_equal(index_write(fx->ix, seq_pages, e), 0);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_page_find(txn, 77, 12345, &start, out, &n), 0);
	assert_int_equal(start, 0);
	assert_int_equal(n, INDEX_PAGE_ENTRIES);
	for (uint32_t i = 0; i < INDEX_PAGE_ENTRIES; i++) {
		struct index_page_entry want = seq_entry(i);

		assert_memory_equal(out[i].id.b, want.id.b, CHUNK_ID_LEN);
		assert_int_equal(out[i].end, want.end);
		unrecorded += i % 7 == 3;
	}
	assert_int_equal(index_page_find(txn, 78, 0, &start, out, &n), 0);
	assert_int_equal(n, 1000);
	for (uint32_t i = 0; i < 1000; i++) {
		struct chunk_id want = rid(2000 + i);

		assert_memory_equal(out[i].id.b, want.b, CHUNK_ID_LEN);
		assert_int_equal(out[i].end, (uint64_t)(i + 1) * 9000);
	}
	index_read_end(txn);
	/* Density: a recorded chunk costs its seq delta and its length (here 2..3 + 2..3 bytes),
	 * an unrecorded one its 32-byte id beside. Consecutive chunks: 1 + 2 bytes. */
	fx_close(fx);
	assert_true(raw_len(fx->dir, "pages", k77, 16) <=
		    1 + 2 + INDEX_PAGE_ENTRIES * 6 + unrecorded * CHUNK_ID_LEN);
	assert_int_equal(raw_len(fx->dir, "pages", k78, 16), 1 + 2 + (2 + 2) + 999 * (1 + 2));
	assert_int_equal(index_open(fx->dir, false, &fx->ix), 0);
	free(out);
	free(e);
}

struct seq_walk {
	uint32_t seen[SEQ_CHUNKS]; /* visits per chunk */
	size_t n, stop;		   /* visits so far; stop after this many (0: never) */
	struct chunk_id last;
	struct index_txn *del_txn; /* set: delete every chunk below 64 visited */
};

static uint32_t
rid_index(const struct chunk_id *id)
{
	for (uint32_t i = 0; i < SEQ_CHUNKS; i++) {
		struct chunk_id want = rid(i);

		if (memcmp(want.b, id->b, CHUNK_ID_LEN) == 0)
			return i;
	}
	fail_msg("unknown chunk id");
	return 0;
}

static int
seq_visit(const struct chunk_id *id, const struct index_chunk *c, void *arg)
{
	struct seq_walk *w = arg;
	uint32_t i = rid_index(id);

	rid_expect(c, i);
	w->seen[i]++;
	w->last = *id;
	if (w->del_txn && i < 64)
		assert_int_equal(index_chunk_del(w->del_txn, id), 0);
	return ++w->n == w->stop ? 9 : 0;
}

static int
seq_sweep(struct index_txn *txn, void *arg)
{
	struct seq_walk *w = arg;

	w->del_txn = txn;
	return index_chunk_iter(txn, seq_visit, w);
}

/* Walks all chunks in batches of 100 resumed with index_chunk_iter_after; before batch 5 the
 * chunk the walk stopped at is deleted (as the compactor may). No chunk may be skipped. */
static int
seq_drop(struct index_txn *txn, void *arg)
{
	return index_chunk_del(txn, arg);
}

static void
seq_walk_batches(struct fx *fx, struct seq_walk *w)
{
	struct index_txn *txn;
	int rc = 9;

	for (int batch = 0; rc == 9; batch++) {
		if (batch == 5)
			assert_int_equal(index_write(fx->ix, seq_drop, &w->last), 0);
		w->stop = w->n + 100;
		assert_int_equal(index_read_begin(fx->ix, &txn), 0);
		rc = index_chunk_iter_after(txn, batch ? &w->last : NULL, seq_visit, w);
		index_read_end(txn);
		assert_true(rc == 0 || rc == 9);
	}
}

static void
test_chunks_by_seq(void **state)
{
	struct fx *fx = *state;
	struct seq_walk *w = calloc(1, sizeof(*w));
	struct chunk_id a = rid(10), b = rid(11), far = rid(5000);
	struct index_txn *txn;
	struct index_chunk c;

	assert_non_null(w);
	assert_memory_equal(a.b, b.b, 8); /* ids sharing a prefix */
	assert_memory_not_equal(a.b, b.b, CHUNK_ID_LEN);
	assert_int_equal(index_write(fx->ix, seq_fill, NULL), 0);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	for (uint32_t i = 0; i < SEQ_CHUNKS; i++) {
		struct chunk_id id = rid(i);

		assert_int_equal(index_chunk_get(txn, &id, &c), 0);
		rid_expect(&c, i);
	}
	assert_int_equal(index_chunk_get(txn, &far, &c), CAIRN_E_NOTFOUND);
	assert_int_equal(index_chunk_iter(txn, seq_visit, w), 0);
	for (uint32_t i = 0; i < SEQ_CHUNKS; i++)
		assert_int_equal(w->seen[i], 1);
	index_read_end(txn);

	/* resumed walks in short transactions skip nothing, also past a deleted chunk */
	memset(w, 0, sizeof(*w));
	seq_walk_batches(fx, w);
	for (uint32_t i = 0; i < SEQ_CHUNKS; i++)
		assert_true(w->seen[i] >= 1);
	assert_true(w->n <= SEQ_CHUNKS + 2);

	/* deleting while walking (GC's sweep): each chunk once; a prefix-sharing one survives
	 * its twin */
	memset(w, 0, sizeof(*w));
	assert_int_equal(index_write(fx->ix, seq_sweep, w), 0);
	for (uint32_t i = 0; i < SEQ_CHUNKS; i++)
		assert_true(w->seen[i] <= 1);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	for (uint32_t i = 0; i < 128; i++) {
		struct chunk_id id = rid(i);

		assert_int_equal(index_chunk_get(txn, &id, &c), i < 64 ? CAIRN_E_NOTFOUND : 0);
	}
	index_read_end(txn);
	free(w);
}

static int
seq_one(struct index_txn *txn, void *arg)
{
	struct chunk_id id = rid(1);
	struct index_chunk c = rid_chunk(1);

	(void)arg;
	return index_chunk_put(txn, &id, &c);
}

static uint64_t
read_rid1_refcount(struct index *ix)
{
	struct chunk_id id = rid(1);
	struct index_txn *txn;
	struct index_chunk c;

	assert_int_equal(index_read_begin(ix, &txn), 0);
	assert_int_equal(index_chunk_get(txn, &id, &c), 0);
	index_read_end(txn);
	return c.refcount;
}

static void
test_chunk_seq_limit(void **state)
{
	struct fx *fx = *state;
	/* next_chunk: version 1, u64 LE 2^40 - 1 (the last 5-byte sequence number), then 2^40 */
	uint8_t last[9] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0};
	uint8_t over[9] = {1, 0, 0, 0, 0, 0, 1, 0, 0};

	fx_close(fx);
	raw_put(fx->dir, "meta", "next_chunk", 10, last, sizeof(last));
	assert_int_equal(index_open(fx->dir, false, &fx->ix), 0);
	assert_int_equal(index_write(fx->ix, seq_one, NULL), 0);
	assert_int_equal(index_write(fx->ix, seq_one, NULL), 0); /* found: no new number */
	assert_int_equal(read_rid1_refcount(fx->ix), 2);
	fx_close(fx);
	raw_put(fx->dir, "meta", "next_chunk", 10, over, sizeof(over));
	assert_int_equal(index_open(fx->dir, false, &fx->ix), 0);
	assert_int_equal(index_write(fx->ix, seq_fill, NULL), -EOVERFLOW);
}

/* ---- map growth ---- */

#define BLOB (1u << 20)

struct blob_batch {
	uint64_t first; /* objects first .. first + count - 1, each with a BLOB-byte meta */
	size_t count;
	uint8_t *buf;
	int runs;
	bool swallow; /* pretend fn ignores put errors */
};

static int
blob_write(struct index_txn *txn, void *arg)
{
	struct blob_batch *bb = arg;
	char key[32];

	bb->runs++;
	for (size_t i = 0; i < bb->count; i++) {
		uint64_t oid = bb->first + i;
		struct index_object o;
		int rc;

		pattern_fill(bb->buf, BLOB, oid);
		o = obj_make(oid, bb->buf, BLOB);
		snprintf(key, sizeof(key), "blob/%08llu", (unsigned long long)oid);
		rc = index_object_put(txn, "big", sl(key), &o);
		if (rc && !bb->swallow)
			return rc;
	}
	return 0;
}

static void
blobs_verify(struct index *ix, uint64_t first, size_t count)
{
	struct index_txn *txn;
	struct index_object o;
	char key[32];

	assert_int_equal(index_read_begin(ix, &txn), 0);
	for (size_t i = 0; i < count; i++) {
		snprintf(key, sizeof(key), "blob/%08llu", (unsigned long long)(first + i));
		assert_int_equal(index_object_get(txn, "big", sl(key), &o), 0);
		obj_expect(&o, first + i);
		assert_int_equal(o.meta.len, BLOB);
		assert_true(pattern_check(o.meta.p, BLOB, first + i));
	}
	index_read_end(txn);
}

static void
test_map_growth(void **state)
{
	struct fx *fx = *state;
	struct blob_batch bb = {.buf = malloc(BLOB)};

	/* one transaction larger than the whole initial map: several doublings, one commit */
	bb.first = 1;
	bb.count = 72;
	assert_int_equal(index_write(fx->ix, blob_write, &bb), 0);
	assert_true(bb.runs >= 2);
	blobs_verify(fx->ix, 1, 72);
	/* then many modest transactions to 200 MiB, by a careless fn that ignores put errors:
	 * the map still grows (at 128 MiB) and the batch that hit the limit is rerun */
	bb.runs = 0;
	bb.swallow = true;
	for (uint64_t first = 73; first < 201; first += 8) {
		bb.first = first;
		bb.count = 8;
		assert_int_equal(index_write(fx->ix, blob_write, &bb), 0);
	}
	assert_true(bb.runs > 16);
	assert_true(index_disk_bytes(fx->ix) > 200ull << 20);
	blobs_verify(fx->ix, 1, 200);
	fx_reopen(fx, false);
	blobs_verify(fx->ix, 1, 200);
	fx_reopen(fx, true);
	blobs_verify(fx->ix, 1, 200);
	free(bb.buf);
}

/* ---- write failures ---- */

static int
write_then_fail(struct index_txn *txn, void *arg)
{
	struct index_object o = obj_make(9, NULL, 0);
	int rc = index_object_put(txn, "b", sl("doomed"), &o);

	(void)arg;
	return rc ? rc : -EPERM;
}

static void
test_write_abort(void **state)
{
	struct fx *fx = *state;
	struct index_txn *txn;
	struct index_object o;

	assert_int_equal(index_write(fx->ix, write_then_fail, NULL), -EPERM);
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_object_get(txn, "b", sl("doomed"), &o), CAIRN_E_NOTFOUND);
	o = obj_make(1, NULL, 0);
	assert_int_equal(index_object_put(txn, "b", sl("x"), &o), CAIRN_E_READONLY);
	index_read_end(txn);
}

/* ---- threads: readers beside a writer that commits and grows the map ---- */

#define CONC_KEYS 8
#define CONC_ROUNDS 40

struct conc {
	struct index *ix;
	uint8_t *buf;
	uint64_t round;
	volatile int done;
	int failures;
	long reads;
	pthread_mutex_t mu;
};

static int
conc_write(struct index_txn *txn, void *arg)
{
	struct conc *c = arg;
	char key[16];
	int rc = 0;

	for (int i = 0; i < CONC_KEYS && !rc; i++) {
		struct index_object o = obj_make(c->round, NULL, 0);

		snprintf(key, sizeof(key), "k%d", i);
		rc = index_object_put(txn, "conc", sl(key), &o);
	}
	if (!rc) {
		struct index_object o = obj_make(c->round, c->buf, 2 * BLOB);

		snprintf(key, sizeof(key), "blob%llu", (unsigned long long)c->round);
		rc = index_object_put(txn, "conc", sl(key), &o);
	}
	return rc;
}

static void *
conc_writer(void *arg)
{
	struct conc *c = arg;

	for (uint64_t r = 1; r <= CONC_ROUNDS; r++) {
		c->round = r;
		pattern_fill(c->buf, 2 * BLOB, r);
		if (index_write(c->ix, conc_write, c) != 0)
			__atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* One snapshot: all CONC_KEYS keys carry the same round, whose blob is complete. */
static bool
conc_check(struct index_txn *txn, uint64_t *last)
{
	struct index_object o;
	uint64_t round = 0;
	char key[16];

	for (int i = 0; i < CONC_KEYS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		int rc = index_object_get(txn, "conc", sl(key), &o);

		if (rc == CAIRN_E_NOTFOUND && round == 0 && i == 0)
			return true; /* before the first commit */
		if (rc != 0 || (i > 0 && o.oid != round))
			return false;
		round = o.oid;
	}
	if (round < *last)
		return false;
	*last = round;
	snprintf(key, sizeof(key), "blob%llu", (unsigned long long)round);
	if (index_object_get(txn, "conc", sl(key), &o) != 0 || o.meta.len != 2 * BLOB)
		return false;
	return o.meta.p[0] == (uint8_t)(round * 131) &&
	       o.meta.p[2 * BLOB - 1] ==
		   (uint8_t)(round * 131 + (2 * BLOB - 1) * 7 + ((2 * BLOB - 1) >> 9));
}

static void *
conc_reader(void *arg)
{
	struct conc *c = arg;
	struct index_txn *txn;
	uint64_t last = 0;

	while (!__atomic_load_n(&c->done, __ATOMIC_SEQ_CST)) {
		bool ok = index_read_begin(c->ix, &txn) == 0;

		ok = ok && conc_check(txn, &last);
		index_read_end(txn);
		if (!ok)
			__atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&c->reads, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

struct handoff {
	struct index_txn *txn;
	int rc;
};

static void *
handoff_use(void *arg)
{
	struct handoff *h = arg;
	struct index_object o;

	h->rc = index_object_get(h->txn, "conc", sl("k0"), &o);
	return NULL;
}

static void *
handoff_end(void *arg)
{
	struct handoff *h = arg;

	index_read_end(h->txn);
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct fx *fx = *state;
	struct conc c = {.ix = fx->ix, .buf = malloc(2 * BLOB)};
	struct handoff h;
	pthread_t w, r[3], t;

	assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&r[i], NULL, conc_reader, &c), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(r[i], NULL);
	assert_int_equal(c.failures, 0);
	assert_true(c.reads > 10);
	assert_true(index_disk_bytes(fx->ix) > 64ull << 20); /* the map grew under the readers */

	/* a read transaction begun on this thread, used on another, ended on a third */
	assert_int_equal(index_read_begin(fx->ix, &h.txn), 0);
	assert_int_equal(pthread_create(&t, NULL, handoff_use, &h), 0);
	pthread_join(t, NULL);
	assert_int_equal(h.rc, 0);
	assert_int_equal(pthread_create(&t, NULL, handoff_end, &h), 0);
	pthread_join(t, NULL);
	assert_int_equal(index_write(fx->ix, write_nothing, NULL), 0); /* no leaked gate hold */
	free(c.buf);
}

/* ---- snapshots never go back: many short read txns beside a stream of tiny commits ---- */

#define TICK_COMMITS 1500
#define TICK_READERS 16

struct tick {
	struct index *ix;
	uint64_t n;
	int done;
	int failures;
	long reads;
};

static int
tick_write(struct index_txn *txn, void *arg)
{
	struct tick *t = arg;
	struct index_user u = {.ctime_ns = (int64_t)t->n};

	snprintf(u.name, sizeof(u.name), "tick");
	snprintf(u.access_key, sizeof(u.access_key), "AKTICK");
	snprintf(u.secret_key, sizeof(u.secret_key), "secret");
	return index_user_put(txn, &u);
}

static void *
tick_writer(void *arg)
{
	struct tick *t = arg;

	for (t->n = 1; t->n <= TICK_COMMITS; t->n++)
		if (index_write(t->ix, tick_write, t) != 0)
			__atomic_add_fetch(&t->failures, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Each new read transaction sees the commit its predecessor saw or a later one. */
static void *
tick_reader(void *arg)
{
	struct tick *t = arg;
	struct index_txn *txn;
	struct index_user u;
	int64_t last = 0;

	while (!__atomic_load_n(&t->done, __ATOMIC_SEQ_CST)) {
		int rc = index_read_begin(t->ix, &txn);

		if (rc == 0)
			rc = index_user_get(txn, "AKTICK", &u);
		index_read_end(txn);
		if (rc == CAIRN_E_NOTFOUND && last == 0)
			continue; /* before the first commit */
		if (rc != 0 || u.ctime_ns < last)
			__atomic_add_fetch(&t->failures, 1, __ATOMIC_SEQ_CST);
		else
			last = u.ctime_ns;
		__atomic_add_fetch(&t->reads, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* LMDB 0.9 takes a reader's snapshot from the meta page named by the last committed txnid
 * without checking that page again; a reader delayed there for two commits copies a meta page
 * being rewritten, a snapshot newer than the txnid it holds, and its next transaction then
 * goes back in time. More readers than cores make such delays common. */
static void
test_snapshots_monotonic(void **state)
{
	struct fx *fx = *state;
	struct tick t = {.ix = fx->ix};
	pthread_t w, r[TICK_READERS];

	assert_int_equal(pthread_create(&w, NULL, tick_writer, &t), 0);
	for (int i = 0; i < TICK_READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, tick_reader, &t), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < TICK_READERS; i++)
		pthread_join(r[i], NULL);
	assert_int_equal(t.failures, 0);
	assert_true(t.reads > TICK_COMMITS);
}

/* ---- processes: a read-only opener and a second writer beside this one ---- */

static void
child_wait(int fd)
{
	char ch;

	if (read(fd, &ch, 1) != 1)
		_exit(10);
}

static void
child_signal(int fd)
{
	if (write(fd, "x", 1) != 1)
		_exit(11);
}

static int
user_add_n(struct index_txn *txn, void *arg)
{
	int *i = arg;
	struct index_user u = {.ctime_ns = *i};

	snprintf(u.name, sizeof(u.name), "child");
	snprintf(u.access_key, sizeof(u.access_key), "AKCHILD%04d", *i);
	snprintf(u.secret_key, sizeof(u.secret_key), "secret");
	return index_user_put(txn, &u);
}

/* Read-only child: opens beside the writer, then reads data written after the map grew. */
static void
child_reader(const char *dir, int in, int out)
{
	struct index *ix;
	struct index_txn *txn;
	struct index_object o;
	char key[32];

	child_wait(in);
	if (index_open(dir, true, &ix) != 0)
		_exit(20);
	if (index_read_begin(ix, &txn) != 0 ||
	    index_object_get(txn, "big", sl("blob/00000001"), &o) != 0)
		_exit(21);
	index_read_end(txn);
	child_signal(out);
	child_wait(in); /* the writer has grown the map past ours */
	if (index_read_begin(ix, &txn) != 0)
		_exit(22);
	for (uint64_t oid = 1; oid <= 100; oid++) {
		snprintf(key, sizeof(key), "blob/%08llu", (unsigned long long)oid);
		if (index_object_get(txn, "big", sl(key), &o) != 0 || o.meta.len != BLOB ||
		    !pattern_check(o.meta.p, BLOB, oid))
			_exit(23);
	}
	index_read_end(txn);
	if (index_write(ix, write_nothing, NULL) != CAIRN_E_READONLY)
		_exit(24);
	index_close(ix);
	_exit(0);
}

/* Writing child: adds users while the parent writes blobs. */
static void
child_writer(const char *dir, int in)
{
	struct index *ix;

	child_wait(in);
	if (index_open(dir, false, &ix) != 0)
		_exit(30);
	for (int i = 0; i < 50; i++) {
		if (index_write(ix, user_add_n, &i) != 0)
			_exit(31);
	}
	index_close(ix);
	_exit(0);
}

static int
user_count(const struct index_user *u, void *arg)
{
	(void)u;
	(*(int *)arg)++;
	return 0;
}

static void
test_multiprocess(void **state)
{
	struct fx *fx = *state;
	struct blob_batch bb = {.buf = malloc(BLOB)};
	int to_r[2], from_r[2], to_w[2], status, users = 0;
	struct index_txn *txn;
	pid_t reader, writer;
	char ch;

	index_close(fx->ix); /* fork with no LMDB state: children open their own */
	fx->ix = NULL;
	assert_int_equal(pipe(to_r), 0);
	assert_int_equal(pipe(from_r), 0);
	assert_int_equal(pipe(to_w), 0);
	reader = fork();
	assert_true(reader >= 0);
	if (reader == 0)
		child_reader(fx->dir, to_r[0], from_r[1]);
	writer = fork();
	assert_true(writer >= 0);
	if (writer == 0)
		child_writer(fx->dir, to_w[0]);

	assert_int_equal(index_open(fx->dir, false, &fx->ix), 0);
	bb.first = 1;
	bb.count = 4;
	assert_int_equal(index_write(fx->ix, blob_write, &bb), 0);
	assert_int_equal(write(to_r[1], "g", 1), 1);
	assert_int_equal(read(from_r[0], &ch, 1), 1); /* the reader mapped the small map */
	assert_int_equal(write(to_w[1], "g", 1), 1);
	for (bb.first = 5; bb.first <= 100; bb.first += 8) {
		bb.count = bb.first + 8 > 101 ? 101 - bb.first : 8;
		assert_int_equal(index_write(fx->ix, blob_write, &bb), 0);
	}
	assert_int_equal(write(to_r[1], "g", 1), 1);
	assert_int_equal(waitpid(reader, &status, 0), reader);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(waitpid(writer, &status, 0), writer);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* the other writer's commits are visible here, the map size it may have set adopted */
	assert_int_equal(index_read_begin(fx->ix, &txn), 0);
	assert_int_equal(index_user_iter(txn, user_count, &users), 0);
	index_read_end(txn);
	assert_int_equal(users, 50);
	blobs_verify(fx->ix, 1, 100);
	for (int i = 0; i < 2; i++) {
		close(to_r[i]);
		close(from_r[i]);
		close(to_w[i]);
	}
	free(bb.buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_buckets, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_objects, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_cursor_buckets, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_long_keys, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_pages, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_chunks_packs, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_zombies_users_oids, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_version_chunk, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_tables, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_format_version, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_pages_by_seq, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_chunks_by_seq, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_chunk_seq_limit, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_write_abort, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_map_growth, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_snapshots_monotonic, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_multiprocess, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
