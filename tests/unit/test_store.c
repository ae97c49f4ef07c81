/*
 * test_store.c — the object store over real temp data dirs: puts, gets, ranges, deletes, aborts,
 * dedup, copies, concurrency (puts of the same content, reads during overwrites), conditions, the
 * data dir lock, fsck (clean and with a flipped pack byte), chunk-level operations, statistics.
 *
 * Small chunking parameters (min 64 / avg 256 / max 1024) give many chunks and many chunk-list
 * pages from little data, so everything stays fast.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/index.h"
#include "cairn/log.h"
#include "cairn/md5sha.h"
#include "cairn/pack.h"
#include "cairn/store.h"

#include "store_fixture.h"

/* ---- helpers ---- */

static void
md5_hex(const uint8_t *p, size_t len, char out[33])
{
	uint8_t md[16];
	unsigned int n = 0;

	assert_true(EVP_Digest(p, len, md, &n, EVP_md5(), NULL));
	hex_encode(md, 16, out);
}

static const struct slice no_meta = {NULL, 0};

/* Puts data as bucket/key, writing in pieces of step bytes. */
static int
put_bytes(struct store *st, const char *bucket, const char *key, const uint8_t *data, size_t len,
	  size_t step, const struct store_put_cond *cond, struct store_object_info *info)
{
	struct store_put *put;
	struct store_object_info tmp;
	uint8_t md5[16];
	uint64_t size;
	size_t off, n;
	int rc;

	rc = store_put_begin(st, &put);
	if (rc < 0)
		return rc;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		rc = store_put_write(put, data + off, n);
		if (rc < 0) {
			store_put_abort(put);
			return rc;
		}
	}
	rc = store_put_finish(put, &size, md5);
	if (rc < 0) {
		store_put_abort(put);
		return rc;
	}
	assert_int_equal(size, len);
	return store_put_commit(put, bucket, S(key), no_meta, cond, info ? info : &tmp);
}

/* Reads the whole object into *out (malloc'd). */
static int
get_all(struct store *st, const char *bucket, const char *key, uint8_t **out, size_t *len)
{
	struct store_get *g;
	uint8_t *p;
	size_t size, n;
	int rc;

	rc = store_get_open(st, bucket, S(key), &g);
	if (rc < 0)
		return rc;
	size = (size_t)store_get_info(g)->size;
	p = malloc(size + 1);
	assert_non_null(p);
	rc = store_get_read(g, p, size + 1, &n);
	store_get_close(g);
	if (rc < 0) {
		free(p);
		return rc;
	}
	assert_int_equal(n, size);
	*out = p;
	*len = n;
	return 0;
}

static void
assert_object(struct store *st, const char *bucket, const char *key, const uint8_t *data,
	      size_t len)
{
	uint8_t *got;
	size_t n;

	assert_int_equal(get_all(st, bucket, key, &got, &n), 0);
	assert_int_equal(n, len);
	assert_memory_equal(got, data, len);
	free(got);
}

static uint64_t
fsck_problems(struct store *st)
{
	struct store_fsck_result r;

	assert_int_equal(store_fsck(st, store_fx_fsck_print, NULL, &r), 0);
	return r.problems;
}

static void
stats(struct store *st, struct store_stats *s)
{
	assert_int_equal(store_stats(st, s), 0);
}

/* ---- fixture ---- */

static void
fx_config(struct store_fx *fx)
{
	store_config_default(&fx->cfg);
	fx->cfg.data_dir = fx->dir;
	fx->cfg.chunking.min_size = 64;
	fx->cfg.chunking.avg_size = 256;
	fx->cfg.chunking.max_size = 1024;
	fx->cfg.pack_max_bytes = 1 << 20;
	fx->cfg.zstd_level = 1;
}

static int
fx_setup(void **state)
{
	struct store_fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cairn-test-store-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	fx_config(fx);
	if (store_open(&fx->cfg, &fx->st) != 0)
		return -1;
	if (store_bucket_create(fx->st, "b", "root", "", NULL) != 0)
		return -1;
	*state = fx;
	return 0;
}

static void
fx_reopen(struct store_fx *fx)
{
	store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
}

/* ---- basic put / get ---- */

static void
test_put_get(void **state)
{
	struct store_fx *fx = *state;
	static const size_t steps[] = {1, 7, 1000, 4096, 1 << 20};
	struct store_object_info info, st_info;
	size_t len = 100 * 1024 + 17, i;
	uint8_t *data = gen_data(1, len);
	char key[32], hex[33], etag[40];

	md5_hex(data, len, hex);
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		assert_int_equal(put_bytes(fx->st, "b", key, data, len, steps[i], NULL, &info), 0);
		assert_int_equal(info.size, len);
		assert_string_equal(info.etag, etag);
		assert_object(fx->st, "b", key, data, len);
		assert_int_equal(store_stat(fx->st, "b", S(key), &st_info, NULL), 0);
		assert_int_equal(st_info.size, len);
		assert_string_equal(st_info.etag, etag);
		assert_int_equal(st_info.parts, 0);
	}
	assert_int_equal(store_stat(fx->st, "b", S("nope"), &st_info, NULL), CAIRN_E_NOTFOUND);
	assert_int_equal(store_stat(fx->st, "nob", S("k0"), &st_info, NULL), CAIRN_E_NOTFOUND);
	free(data);
	assert_int_equal(fsck_problems(fx->st), 0);
}

static void
test_empty_object(void **state)
{
	struct store_fx *fx = *state;
	struct store_object_info info;
	struct store_get *g;
	struct slice span;
	struct store_stats s;

	assert_int_equal(put_bytes(fx->st, "b", "empty", NULL, 0, 1, NULL, &info), 0);
	assert_string_equal(info.etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
	assert_int_equal(store_get_open(fx->st, "b", S("empty"), &g), 0);
	assert_int_equal(store_get_info(g)->size, 0);
	assert_int_equal(store_get_next(g, 100, &span), 0);
	assert_int_equal(span.len, 0);
	assert_int_equal(store_get_seek(g, 0), 0);
	assert_int_equal(store_get_seek(g, 1), CAIRN_E_INVAL);
	store_get_close(g);
	stats(fx->st, &s);
	assert_int_equal(s.objects, 1);
	assert_int_equal(s.chunks, 0);
	assert_int_equal(fsck_problems(fx->st), 0);
}

/* Reads [off, off + len) through seek + next/read and compares with data. */
static void
check_range(struct store_get *g, const uint8_t *data, uint64_t off, size_t len, bool use_next)
{
	uint8_t *buf = malloc(len + 1);
	struct slice span;
	size_t got = 0, n;

	assert_non_null(buf);
	assert_int_equal(store_get_seek(g, off), 0);
	while (got < len) {
		if (use_next) {
			assert_int_equal(store_get_next(g, len - got, &span), 0);
			if (span.len == 0)
				break;
			memcpy(buf + got, span.p, span.len);
			got += span.len;
		} else {
			assert_int_equal(store_get_read(g, buf + got, len - got, &n), 0);
			if (n == 0)
				break;
			got += n;
		}
	}
	assert_int_equal(got, len);
	assert_memory_equal(buf, data + off, len);
	free(buf);
}

static void
test_range(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 300 * 1024 + 3, i, n;
	uint8_t *data = gen_data(2, len);
	uint64_t x = 12345, off;
	struct store_get *g;
	struct slice span;

	assert_int_equal(put_bytes(fx->st, "b", "r", data, len, 65536, NULL, NULL), 0);
	assert_int_equal(store_get_open(fx->st, "b", S("r"), &g), 0);
	for (i = 0; i < 300; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		off = (x >> 20) % len;
		n = (size_t)((x >> 8) % 5000);
		if (off + n > len)
			n = len - off;
		check_range(g, data, off, n, i % 2 == 0);
	}
	check_range(g, data, len - 1, 1, true);
	check_range(g, data, 0, len, false);
	assert_int_equal(store_get_seek(g, len), 0);
	assert_int_equal(store_get_next(g, 10, &span), 0);
	assert_int_equal(span.len, 0);
	assert_int_equal(store_get_seek(g, len + 1), CAIRN_E_INVAL);
	store_get_close(g);
	free(data);
}

/* Over 1024 chunks: several chunk-list pages, spilled during the put. */
static void
test_many_pages(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 2 * 1024 * 1024 + 99, i;
	uint8_t *data = gen_data(3, len);
	struct store_stats s;
	struct store_get *g;
	uint64_t off;

	assert_int_equal(put_bytes(fx->st, "b", "big", data, len, 100000, NULL, NULL), 0);
	stats(fx->st, &s);
	assert_true(s.chunks > 3 * INDEX_PAGE_ENTRIES);
	assert_int_equal(s.chunk_refs, s.chunks);
	assert_int_equal(s.raw_bytes, len);
	assert_true(s.packs >= 2); /* 1 MiB packs */
	assert_object(fx->st, "b", "big", data, len);
	assert_int_equal(store_get_open(fx->st, "b", S("big"), &g), 0);
	for (i = 0; i < 64; i++) {
		off = (uint64_t)(len - 1) * i / 63;
		check_range(g, data, off, len - off < 3000 ? len - off : 3000, true);
	}
	for (i = 64; i-- > 0;) { /* backwards across pages */
		off = (uint64_t)(len - 1) * i / 63;
		check_range(g, data, off, len - off < 700 ? len - off : 700, false);
	}
	store_get_close(g);
	free(data);
	assert_int_equal(fsck_problems(fx->st), 0);
}

/* ---- delete, abort ---- */

static void
test_delete(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 64 * 1024;
	uint8_t *data = gen_data(4, len), *got;
	struct store_stats before, after;
	size_t n;

	assert_int_equal(put_bytes(fx->st, "b", "d", data, len, 8192, NULL, NULL), 0);
	stats(fx->st, &before);
	assert_int_equal(before.dead_bytes, 0);
	assert_int_equal(store_delete(fx->st, "b", S("d")), 0);
	assert_int_equal(get_all(fx->st, "b", "d", &got, &n), CAIRN_E_NOTFOUND);
	assert_int_equal(store_delete(fx->st, "b", S("d")), CAIRN_E_NOTFOUND);
	assert_int_equal(store_delete(fx->st, "nob", S("d")), CAIRN_E_NOTFOUND);
	stats(fx->st, &after);
	assert_int_equal(after.objects, 0);
	assert_int_equal(after.chunk_refs, 0);
	assert_int_equal(after.stored_bytes, 0);
	assert_int_equal(after.chunks, before.chunks); /* dead, not yet reclaimed */
	assert_int_equal(after.dead_bytes, before.stored_bytes);
	assert_int_equal(fsck_problems(fx->st), 0);
	/* The dead chunks are revived by a new put of the same bytes: nothing is appended. */
	assert_int_equal(put_bytes(fx->st, "b", "d2", data, len, 8192, NULL, NULL), 0);
	stats(fx->st, &after);
	assert_int_equal(after.dead_bytes, 0);
	assert_int_equal(after.stored_bytes, before.stored_bytes);
	assert_int_equal(after.pack_bytes, before.pack_bytes);
	assert_int_equal(fsck_problems(fx->st), 0);
	free(data);
}

static void
test_abort(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 200 * 1024;
	uint8_t *data = gen_data(5, len), *other = gen_data(55, len);
	struct store_stats before, after;
	struct store_put *put;

	assert_int_equal(put_bytes(fx->st, "b", "keep", other, len, 8192, NULL, NULL), 0);
	stats(fx->st, &before);
	assert_int_equal(store_put_begin(fx->st, &put), 0);
	assert_int_equal(store_put_write(put, data, len), 0);
	store_put_abort(put);
	assert_int_equal(store_put_begin(fx->st, &put), 0);
	assert_int_equal(store_put_write(put, data, len / 2), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	store_put_abort(put);
	store_put_abort(NULL);
	stats(fx->st, &after);
	/* Everything but the pack files is as before: the appended records are unreferenced
	 * space for the compactor, not in the index. */
	assert_int_equal(after.objects, before.objects);
	assert_int_equal(after.logical_bytes, before.logical_bytes);
	assert_int_equal(after.chunks, before.chunks);
	assert_int_equal(after.chunk_refs, before.chunk_refs);
	assert_int_equal(after.stored_bytes, before.stored_bytes);
	assert_int_equal(after.dead_bytes, before.dead_bytes);
	assert_true(after.pack_bytes > before.pack_bytes);
	assert_int_equal(fsck_problems(fx->st), 0);
	/* The same content afterwards is stored and read back correctly. */
	assert_int_equal(put_bytes(fx->st, "b", "again", data, len, 4096, NULL, NULL), 0);
	assert_object(fx->st, "b", "again", data, len);
	assert_int_equal(fsck_problems(fx->st), 0);
	free(data);
	free(other);
}

/* A put with more new chunks than STORE_PUT_PINS_MAX (8192) checkpoints them into the index
 * (refcount 0) while it runs; commit revives them, abort leaves them dead. Checkpoints run on a
 * thread beside the put, one at a time: 8 MiB of ~320-byte chunks makes three, and the second
 * began only once the first had committed, so the first shows in the stats mid-put. */
static void
test_checkpoint(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 8 * 1024 * 1024;
	uint8_t *data = gen_data(6, len);
	struct store_stats mid, after;
	struct store_put *put;

	assert_int_equal(store_put_begin(fx->st, &put), 0);
	assert_int_equal(store_put_write(put, data, len), 0);
	stats(fx->st, &mid);
	assert_true(mid.dead_bytes > 0);
	assert_int_equal(mid.chunk_refs, 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	assert_int_equal(store_put_commit(put, "b", S("cp"), no_meta, NULL, NULL), 0);
	stats(fx->st, &after);
	assert_int_equal(after.dead_bytes, 0);
	assert_int_equal(after.chunk_refs, after.chunks);
	assert_int_equal(after.raw_bytes, len);
	assert_object(fx->st, "b", "cp", data, len);
	assert_int_equal(fsck_problems(fx->st), 0);

	free(data);
	data = gen_data(66, len);
	assert_int_equal(store_put_begin(fx->st, &put), 0);
	assert_int_equal(store_put_write(put, data, len), 0);
	store_put_abort(put);
	mid = after;
	stats(fx->st, &after);
	assert_true(after.dead_bytes > 0);
	assert_true(after.chunks >= mid.chunks + 2 * 8192);
	assert_int_equal(after.chunk_refs, mid.chunk_refs);
	assert_int_equal(fsck_problems(fx->st), 0);
	free(data);
}

/* ---- overwrite while reading ---- */

static void
test_overwrite_while_reading(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 300 * 1024, half = 100 * 1024, n;
	uint8_t *a = gen_data(7, len), *b = gen_data(8, len / 2), *buf = malloc(len);
	struct store_stats s;
	struct store_get *g, *g2;

	assert_non_null(buf);
	assert_int_equal(put_bytes(fx->st, "b", "k", a, len, 10000, NULL, NULL), 0);
	assert_int_equal(store_get_open(fx->st, "b", S("k"), &g), 0);
	assert_int_equal(store_get_open(fx->st, "b", S("k"), &g2), 0);
	assert_int_equal(store_get_read(g, buf, half, &n), 0);
	assert_int_equal(n, half);
	/* Overwrite, then delete-and-recreate, while g and g2 are open on the first version. */
	assert_int_equal(put_bytes(fx->st, "b", "k", b, len / 2, 10000, NULL, NULL), 0);
	assert_object(fx->st, "b", "k", b, len / 2);
	assert_int_equal(store_delete(fx->st, "b", S("k")), 0);
	assert_int_equal(put_bytes(fx->st, "b", "k", b, len / 2, 10000, NULL, NULL), 0);
	assert_int_equal(store_get_read(g, buf + half, len, &n), 0);
	assert_int_equal(n, len - half);
	assert_memory_equal(buf, a, len);
	assert_int_equal(fsck_problems(fx->st), 0); /* the zombie's references count */
	store_get_close(g);
	stats(fx->st, &s);
	assert_true(s.chunk_refs > s.chunks / 2); /* g2 still holds the old version */
	check_range(g2, a, 0, len, true);
	store_get_close(g2);
	stats(fx->st, &s);
	assert_int_equal(s.objects, 1);
	assert_int_equal(s.logical_bytes, len / 2);
	assert_int_equal(s.raw_bytes, len / 2);
	assert_true(s.dead_bytes > 0);
	assert_int_equal(fsck_problems(fx->st), 0);
	free(a);
	free(b);
	free(buf);
}

/* A zombie left by a process that died with a reader open is released at the next open. */
static void
test_zombie_restart(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 50 * 1024;
	uint8_t *a = gen_data(9, len), *b = gen_data(10, len);
	struct store_stats s;
	struct store_get *g;
	pid_t pid;
	int status;

	store_close(fx->st);
	fx->st = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;

		if (store_open(&fx->cfg, &st) != 0 ||
		    put_bytes(st, "b", "z", a, len, 4096, NULL, NULL) != 0 ||
		    store_get_open(st, "b", S("z"), &g) != 0 ||
		    put_bytes(st, "b", "z", b, len, 4096, NULL, NULL) != 0)
			_exit(1);
		_exit(0); /* dies with the reader open: the old version stays a zombie */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	stats(fx->st, &s);
	assert_int_equal(s.objects, 1);
	assert_int_equal(s.raw_bytes, len);
	assert_true(s.dead_bytes > 0);
	assert_object(fx->st, "b", "z", b, len);
	assert_int_equal(fsck_problems(fx->st), 0);
	/* Only the new version holds references: deleting it leaves none. */
	assert_int_equal(store_delete(fx->st, "b", S("z")), 0);
	stats(fx->st, &s);
	assert_int_equal(s.chunk_refs, 0);
	assert_int_equal(s.stored_bytes, 0);
	free(a);
	free(b);
}

struct rw_arg {
	struct store *st;
	const uint8_t *v[2];
	size_t len[2];
	int iters;
	int failures;
};

static void *
rw_reader(void *p)
{
	struct rw_arg *a = p;
	uint8_t *got;
	size_t n;
	int i;

	for (i = 0; i < a->iters; i++) {
		if (get_all(a->st, "b", "rw", &got, &n) != 0) {
			a->failures++;
			continue;
		}
		if (!((n == a->len[0] && memcmp(got, a->v[0], n) == 0) ||
		      (n == a->len[1] && memcmp(got, a->v[1], n) == 0)))
			a->failures++;
		free(got);
	}
	return NULL;
}

/* Readers streaming while a writer keeps replacing the object: every read is one whole version. */
static void
test_readers_vs_writer(void **state)
{
	struct store_fx *fx = *state;
	struct rw_arg a = {.st = fx->st, .iters = 40};
	struct store_stats s;
	pthread_t th[2];
	int i;

	a.len[0] = 40 * 1024;
	a.len[1] = 24 * 1024;
	a.v[0] = gen_data(11, a.len[0]);
	a.v[1] = gen_data(12, a.len[1]);
	assert_int_equal(put_bytes(fx->st, "b", "rw", a.v[0], a.len[0], 4096, NULL, NULL), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, rw_reader, &a), 0);
	for (i = 0; i < 60; i++)
		assert_int_equal(
		    put_bytes(fx->st, "b", "rw", a.v[i % 2], a.len[i % 2], 8192, NULL, NULL), 0);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(a.failures, 0);
	stats(fx->st, &s);
	assert_int_equal(s.objects, 1);
	assert_int_equal(fsck_problems(fx->st), 0);
	free((void *)a.v[0]);
	free((void *)a.v[1]);
}

/* ---- dedup, copy ---- */

static void
test_dedup_identical(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 256 * 1024;
	uint8_t *data = gen_data(13, len);
	struct store_stats s1, s2;

	assert_int_equal(put_bytes(fx->st, "b", "x1", data, len, 5000, NULL, NULL), 0);
	stats(fx->st, &s1);
	assert_int_equal(put_bytes(fx->st, "b", "x2", data, len, 777, NULL, NULL), 0);
	stats(fx->st, &s2);
	assert_int_equal(s2.stored_bytes, s1.stored_bytes);
	assert_int_equal(s2.pack_bytes, s1.pack_bytes);
	assert_int_equal(s2.chunks, s1.chunks);
	assert_int_equal(s2.chunk_refs, 2 * s1.chunk_refs);
	assert_int_equal(s2.logical_bytes, 2 * len);
	assert_object(fx->st, "b", "x2", data, len);
	free(data);
}

static void
test_dedup_shifted(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 512 * 1024;
	uint8_t *data = gen_data(14, len + 5), *shifted;
	struct store_stats s1, s2;

	shifted = data; /* the second object is the first with 5 bytes in front */
	assert_int_equal(put_bytes(fx->st, "b", "s1", data + 5, len, 3000, NULL, NULL), 0);
	stats(fx->st, &s1);
	assert_int_equal(put_bytes(fx->st, "b", "s2", shifted, len + 5, 3000, NULL, NULL), 0);
	stats(fx->st, &s2);
	/* Content-defined boundaries resynchronise after the insertion: a handful of new chunks. */
	assert_true(s2.chunks - s1.chunks <= 4);
	assert_true(s2.stored_bytes - s1.stored_bytes < 8 * 1024);
	assert_object(fx->st, "b", "s2", shifted, len + 5);
	free(data);
}

/* ---- the MD5 memo ---- */

/* Puts data as key and checks that its ETag is the MD5 of data; returns the memo's lookups that
 * hit and missed during the put. */
static void
memo_put(struct store *st, const char *key, const uint8_t *data, size_t len, size_t step,
	 uint64_t *hits, uint64_t *misses)
{
	struct md5memo_stats before, after;
	struct store_object_info info;
	uint8_t ref[16];
	unsigned int n = 0;

	store_md5memo_stats(st, &before);
	assert_int_equal(put_bytes(st, "b", key, data, len, step, NULL, &info), 0);
	store_md5memo_stats(st, &after);
	assert_true(EVP_Digest(data, len, ref, &n, EVP_md5(), NULL));
	assert_memory_equal(info.md5, ref, 16);
	*hits = after.hits - before.hits;
	*misses = after.misses - before.misses;
}

/* A body put again follows the memo from its first chunk to its last (no MD5 over its whole
 * blocks); one that differs from the middle on follows it up to the chunk that differs; one
 * shifted by a byte misses at once. Every ETag is the body's MD5, whichever way it was reached,
 * with the stitched hashes and the portable ones; with the memo off nothing is looked up. */
static void
test_md5_memo(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 300000;
	uint8_t *data = NULL, *changed = malloc(len);
	uint64_t hits, misses;
	int pass;

	assert_non_null(changed);
	for (pass = 0; pass < 2; pass++) {
		/* new bytes for each pass: the memo is the store's, it remembers the first pass */
		free(data);
		data = gen_data(31 + (uint64_t)pass, len + 1);
		memcpy(changed, data, len);
		changed[len / 2] ^= 0x40;
		md5sha_use_extensions(pass == 0);
		memo_put(fx->st, pass ? "p1" : "s1", data, len, 777, &hits, &misses);
		memo_put(fx->st, pass ? "p2" : "s2", data, len, 5000, &hits, &misses);
		assert_int_equal(misses, 0);
		assert_true(hits > len / 1024); /* chunks of 64-1024 bytes, the last one excepted */
		memo_put(fx->st, pass ? "p3" : "s3", changed, len, 65536, &hits, &misses);
		assert_int_equal(misses, 1);
		assert_true(hits > len / 2 / 1024 - 2);
		memo_put(fx->st, pass ? "p4" : "s4", changed, len, 3, &hits, &misses);
		assert_int_equal(misses, 0);
		memo_put(fx->st, pass ? "p5" : "s5", data + 1, len, 4096, &hits, &misses);
		assert_int_equal(hits, 0);
		assert_int_equal(misses, 1);
	}
	md5sha_use_extensions(true);
	/* saved at close, read at open: a repeat after a restart is found whole */
	fx_reopen(fx);
	memo_put(fx->st, "reopened", data, len, 4096, &hits, &misses);
	assert_int_equal(misses, 0);
	assert_true(hits > len / 1024);
	/* a damaged file is left out: nothing found, the ETag still right */
	store_close(fx->st);
	store_fx_flip(fx->dir, "md5memo", 100, 0x01);
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	memo_put(fx->st, "damaged", data, len, 4096, &hits, &misses);
	assert_int_equal(hits, 0);
	assert_int_equal(misses, 1);
	store_close(fx->st);
	fx->cfg.md5_memo_bytes = 0;
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	memo_put(fx->st, "off", data, len, 1000, &hits, &misses);
	assert_int_equal(hits + misses, 0);
	assert_int_equal(fsck_problems(fx->st), 0);
	free(changed);
	free(data);
}

/* The inode of <dir>/md5memo (each save renames a new file over it), 0 when there is none. */
static ino_t
memo_file_ino(const struct store_fx *fx)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/md5memo", fx->dir);
	return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

/* Waits up to 20 s for <dir>/md5memo to be a file other than inode old; returns its inode. */
static ino_t
memo_file_wait_new(const struct store_fx *fx, ino_t old)
{
	struct timespec nap = {0, 20000000};
	ino_t ino = memo_file_ino(fx);

	for (int i = 0; i < 1000 && (ino == 0 || ino == old); i++) {
		nanosleep(&nap, NULL);
		ino = memo_file_ino(fx);
	}
	assert_true(ino != 0 && ino != old);
	return ino;
}

/* With md5_memo_save_s set, the memo reaches its file while the store is open, again after it
 * served a repeat, and not while nothing changes; that file alone (as a crash would leave it)
 * lets the next open find a repeat whole. */
static void
test_md5_memo_saved_while_open(void **state)
{
	struct store_fx *fx = *state;
	struct timespec nap = {2, 500000000};
	size_t len = 200000;
	uint8_t *data = gen_data(33, len);
	char path[256], kept[256];
	uint64_t hits, misses;
	ino_t ino;

	store_close(fx->st);
	fx->cfg.md5_memo_save_s = 1;
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	assert_int_equal(memo_file_ino(fx), 0);
	memo_put(fx->st, "first", data, len, 4096, &hits, &misses);
	ino = memo_file_wait_new(fx, 0);
	nanosleep(&nap, NULL); /* two more intervals without a change: no new file */
	assert_int_equal(memo_file_ino(fx), ino);
	memo_put(fx->st, "repeat", data, len, 4096, &hits, &misses);
	assert_int_equal(misses, 0);
	ino = memo_file_wait_new(fx, ino);
	/* keep the file as the periodic save left it; close saves nothing new after that */
	snprintf(path, sizeof(path), "%s/md5memo", fx->dir);
	snprintf(kept, sizeof(kept), "%s/md5memo.kept", fx->dir);
	assert_int_equal(link(path, kept), 0);
	store_close(fx->st);
	assert_int_equal(rename(kept, path), 0);
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	memo_put(fx->st, "after", data, len, 4096, &hits, &misses);
	assert_int_equal(misses, 0);
	assert_true(hits > len / 1024);
	free(data);
}

/* Bodies made of earlier bodies' prefixes (cut anywhere, mid-chunk included), new bytes and whole
 * repeats, written in random pieces, some through the portable hashes: every ETag is the body's
 * MD5 however much of it came from the memo. */
static void
test_md5_memo_random(void **state)
{
	struct store_fx *fx = *state;
	enum { BODIES = 40, MAXLEN = 120000 };
	uint8_t *bodies[BODIES], *fresh = gen_data(32, MAXLEN + 1000);
	size_t lens[BODIES], prefix, from, i;
	uint64_t x = 12345, hits, misses, total_hits = 0;
	char key[16];

	for (i = 0; i < BODIES; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		bodies[i] = malloc(MAXLEN);
		assert_non_null(bodies[i]);
		lens[i] = (size_t)(x >> 33) % MAXLEN;
		prefix = 0;
		if (i > 0) {
			from = (size_t)(x >> 20) % i;
			if ((x >> 8) % 4 == 0) /* a whole repeat */
				lens[i] = prefix = lens[from];
			else /* a prefix cut anywhere */
				prefix = (size_t)(x >> 40) % (lens[from] + 1);
			if (prefix > lens[i])
				prefix = lens[i];
			memcpy(bodies[i], bodies[from], prefix);
		}
		/* the rest: new bytes, from an offset that depends on i */
		memcpy(bodies[i] + prefix, fresh + (i * 977) % 1000, lens[i] - prefix);
		md5sha_use_extensions(i % 3 != 2);
		snprintf(key, sizeof(key), "r%zu", i);
		memo_put(fx->st, key, bodies[i], lens[i], 1 + (size_t)(x >> 45) % 20000, &hits,
			 &misses);
		total_hits += hits;
	}
	md5sha_use_extensions(true);
	assert_true(total_hits > 0);
	for (i = 0; i < BODIES; i++)
		free(bodies[i]);
	free(fresh);
}

static void
test_copy(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 128 * 1024;
	uint8_t *data = gen_data(15, len);
	struct store_object_info src, dst, info;
	struct store_stats s1, s2;
	struct store_put_cond cond = {.if_none_match_any = true};
	struct buf meta, got;
	struct slice v;

	buf_init(&meta, 4096);
	buf_init(&got, 4096);
	assert_int_equal(store_meta_add(&meta, "content-type", S("text/plain")), 0);
	assert_int_equal(put_bytes(fx->st, "b", "c1", data, len, 9000, NULL, &src), 0);
	stats(fx->st, &s1);
	assert_int_equal(store_copy(fx->st, "b", S("c1"), "b", S("c2"), NULL, NULL, &dst), 0);
	assert_string_equal(dst.etag, src.etag);
	assert_int_equal(dst.size, len);
	stats(fx->st, &s2);
	assert_int_equal(s2.stored_bytes, s1.stored_bytes);
	assert_int_equal(s2.pack_bytes, s1.pack_bytes);
	assert_int_equal(s2.chunk_refs, 2 * s1.chunk_refs);
	assert_int_equal(store_copy(fx->st, "b", S("c1"), "b", S("c2"), NULL, &cond, &dst),
			 CAIRN_E_PRECONDITION);
	assert_int_equal(store_copy(fx->st, "b", S("nope"), "b", S("c3"), NULL, NULL, &dst),
			 CAIRN_E_NOTFOUND);
	assert_int_equal(store_copy(fx->st, "b", S("c1"), "nob", S("c3"), NULL, NULL, &dst),
			 CAIRN_E_NOTFOUND);
	/* Copy onto itself with new metadata (how S3 replaces metadata). */
	v = buf_slice(&meta);
	assert_int_equal(store_copy(fx->st, "b", S("c1"), "b", S("c1"), &v, NULL, &dst), 0);
	assert_int_equal(store_stat(fx->st, "b", S("c1"), &info, &got), 0);
	assert_int_equal(store_meta_find(info.meta, "content-type", &v), 1);
	assert_int_equal(v.len, 10);
	assert_memory_equal(v.p, "text/plain", 10);
	stats(fx->st, &s2);
	assert_int_equal(s2.chunk_refs, 2 * s1.chunk_refs);
	assert_int_equal(store_delete(fx->st, "b", S("c1")), 0);
	assert_object(fx->st, "b", "c2", data, len);
	assert_int_equal(fsck_problems(fx->st), 0);
	buf_fini(&meta);
	buf_fini(&got);
	free(data);
}

struct conc_arg {
	struct store *st;
	const uint8_t *data;
	size_t len;
	int id;
	int rc;
};

static void *
conc_put(void *p)
{
	struct conc_arg *a = p;
	char key[16];

	snprintf(key, sizeof(key), "t%d", a->id);
	a->rc = put_bytes(a->st, "b", key, a->data, a->len, 512 + 100 * (size_t)a->id, NULL, NULL);
	return NULL;
}

/* Several threads put the same new content at once: each chunk is stored once. */
static void
test_concurrent_same(void **state)
{
	struct store_fx *fx = *state;
	enum { N = 4 };
	size_t len = 512 * 1024;
	uint8_t *data = gen_data(16, len);
	struct conc_arg a[N];
	struct store_stats s, one;
	pthread_t th[N];
	char key[16];
	int i;

	for (i = 0; i < N; i++) {
		a[i] = (struct conc_arg){fx->st, data, len, i, -1};
		assert_int_equal(pthread_create(&th[i], NULL, conc_put, &a[i]), 0);
	}
	for (i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].rc, 0);
	}
	stats(fx->st, &s);
	assert_int_equal(s.objects, N);
	assert_int_equal(s.chunk_refs, N * s.chunks); /* random data: no repeats inside */
	assert_int_equal(s.raw_bytes, len);
	assert_int_equal(s.dead_bytes, 0);
	assert_int_equal(s.pack_bytes, s.stored_bytes); /* nothing was appended twice */
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "t%d", i);
		assert_object(fx->st, "b", key, data, len);
	}
	/* Putting it once more adds no chunk. */
	assert_int_equal(put_bytes(fx->st, "b", "solo", data, len, 4096, NULL, NULL), 0);
	stats(fx->st, &one);
	assert_int_equal(one.chunks, s.chunks);
	assert_int_equal(fsck_problems(fx->st), 0);
	free(data);
}

/* ---- group commit ---- */

enum { GC_N = 12 };

struct gc_arg {
	struct store *st;
	const char *key;
	const uint8_t *data;
	size_t len;
	struct store_put_cond cond;
	char etag[64];
	int rc;
};

static void *
gc_put(void *p)
{
	struct gc_arg *a = p;

	a->rc = put_bytes(a->st, "b", a->key, a->data, a->len, 1000, &a->cond, NULL);
	return NULL;
}

struct gc_hold {
	struct store *st;
	uint64_t want; /* commits to wait for in the queue, once */
	bool timed_out;
};

/* The first leader waits until every thread has queued its commit (at most 10 s). */
static void
gc_hook(void *arg)
{
	struct gc_hold *h = arg;
	struct store_commit_counters c;
	int i;

	if (!h->want)
		return;
	for (i = 0; i < 10000; i++) {
		store_commit_counters(h->st, &c);
		if (c.queued >= h->want)
			break;
		usleep(1000);
	}
	h->timed_out = c.queued < h->want;
	h->want = 0;
}

/* Fills a[i] with a put of its own: new keys, and conditional writes over existing keys that
 * succeed or fail; two threads race If-None-Match on one new key. */
static void
gc_plan(struct store_fx *fx, struct gc_arg *a, char (*keys)[16], uint8_t **data, size_t len)
{
	struct store_object_info info;
	int i;

	for (i = 0; i < GC_N; i++) {
		data[i] = gen_data(100 + (uint64_t)i, len);
		a[i] = (struct gc_arg){.st = fx->st, .key = keys[i], .data = data[i], .len = len};
		snprintf(keys[i], sizeof(keys[i]), i % 4 == 0 ? "new%d" : "old%d", i);
		if (i % 4 == 0)
			continue;
		/* an existing object with other bytes */
		assert_int_equal(put_bytes(fx->st, "b", keys[i], data[0], len, len, NULL, &info),
				 0);
		if (i % 4 == 1)
			a[i].cond.if_none_match_any = true; /* fails: the key exists */
		else if (i % 4 == 2)
			snprintf(a[i].etag, sizeof(a[i].etag), "%s", info.etag); /* succeeds */
		else
			snprintf(a[i].etag, sizeof(a[i].etag), "\"%032d\"", 0); /* fails */
		a[i].cond.if_match = a[i].etag[0] ? a[i].etag : NULL;
	}
	/* the last two race for one new key */
	snprintf(keys[GC_N - 1], sizeof(keys[0]), "race");
	snprintf(keys[GC_N - 2], sizeof(keys[0]), "race");
	a[GC_N - 1].cond = (struct store_put_cond){.if_none_match_any = true};
	a[GC_N - 2].cond = (struct store_put_cond){.if_none_match_any = true};
}

/* Checks each thread's result and what the keys hold. */
static void
gc_verify(struct store_fx *fx, struct gc_arg *a, uint8_t **data, size_t len)
{
	int i, race = -1;

	for (i = 0; i < GC_N - 2; i++) {
		if (i % 4 == 1 || i % 4 == 3) {
			assert_int_equal(a[i].rc, CAIRN_E_PRECONDITION);
			assert_object(fx->st, "b", a[i].key, data[0], len); /* untouched */
		} else {
			assert_int_equal(a[i].rc, 0);
			assert_object(fx->st, "b", a[i].key, data[i], len);
		}
	}
	for (i = GC_N - 2; i < GC_N; i++) {
		if (a[i].rc == 0) {
			assert_int_equal(race, -1);
			race = i;
		} else {
			assert_int_equal(a[i].rc, CAIRN_E_PRECONDITION);
		}
	}
	assert_int_not_equal(race, -1);
	assert_object(fx->st, "b", "race", data[race], len);
	assert_int_equal(fsck_problems(fx->st), 0);
}

/* Runs the puts of a[GC_N] on threads of their own, their commits held until all have queued,
 * then reads the commit counters into *after. */
static void
gc_run_held(struct store_fx *fx, struct gc_arg *a, struct store_commit_counters *after)
{
	struct gc_hold hold = {.st = fx->st, .want = GC_N};
	pthread_t th[GC_N];
	int i;

	store_set_commit_hook(fx->st, gc_hook, &hold);
	for (i = 0; i < GC_N; i++)
		assert_int_equal(pthread_create(&th[i], NULL, gc_put, &a[i]), 0);
	for (i = 0; i < GC_N; i++)
		pthread_join(th[i], NULL);
	store_set_commit_hook(fx->st, NULL, NULL);
	assert_false(hold.timed_out);
	store_commit_counters(fx->st, after);
}

/* Concurrent commits held until all have queued go through one index transaction, and each
 * caller gets its own result: a failed precondition undoes only its own commit. */
static void
test_group_commit(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 6000;
	struct store_commit_counters c0, c1;
	struct gc_arg a[GC_N];
	char keys[GC_N][16];
	uint8_t *data[GC_N];
	int i;

	gc_plan(fx, a, keys, data, len);
	store_commit_counters(fx->st, &c0);
	assert_int_equal(c0.queued, 0);
	gc_run_held(fx, a, &c1);
	assert_int_equal(c1.commits - c0.commits, GC_N);
	assert_int_equal(c1.txns - c0.txns, 1); /* all of them in one transaction */
	assert_int_equal(c1.batch_max, GC_N);
	assert_int_equal(c1.queued, 0);
	gc_verify(fx, a, data, len);
	/* The results survive a reopen (the transaction committed). */
	fx_reopen(fx);
	gc_verify(fx, a, data, len);
	for (i = 0; i < GC_N; i++)
		free(data[i]);
}

/* A batch is also bounded by the chunk references it takes on: 12 held puts of ~5000 chunks each
 * (more than STORE_COMMIT_REFS_MAX, 32768, together) go through in more than one transaction. */
static void
test_group_commit_refs_cap(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 1536 * 1024;
	struct store_commit_counters c0, c1;
	struct gc_arg a[GC_N];
	char keys[GC_N][16];
	uint8_t *data[GC_N];
	int i;

	for (i = 0; i < GC_N; i++) {
		data[i] = gen_data(300 + (uint64_t)i, len);
		snprintf(keys[i], sizeof(keys[i]), "big%d", i);
		a[i] = (struct gc_arg){.st = fx->st, .key = keys[i], .data = data[i], .len = len};
	}
	store_commit_counters(fx->st, &c0);
	gc_run_held(fx, a, &c1);
	assert_int_equal(c1.commits - c0.commits, GC_N);
	assert_true(c1.txns - c0.txns >= 2);
	assert_true(c1.batch_max < GC_N);
	for (i = 0; i < GC_N; i++) {
		assert_int_equal(a[i].rc, 0);
		assert_object(fx->st, "b", keys[i], data[i], len);
		free(data[i]);
	}
	assert_int_equal(fsck_problems(fx->st), 0);
}

struct gc_storm {
	struct store *st;
	int id;
	int ok;
	int failed;
	int bad; /* results that were wrong */
};

/* Each round: a put of a fresh key (must succeed), then If-None-Match on it (must fail). */
static void *
gc_storm_run(void *p)
{
	struct gc_storm *g = p;
	struct store_put_cond none = {.if_none_match_any = true};
	uint8_t body[300];
	char key[32];
	int r, rc;

	for (r = 0; r < 25; r++) {
		snprintf(key, sizeof(key), "s%d-%d", g->id, r);
		memset(body, 'a' + (g->id + r) % 26, sizeof(body));
		rc = put_bytes(g->st, "b", key, body, sizeof(body), sizeof(body), NULL, NULL);
		g->ok += rc == 0;
		g->bad += rc != 0;
		rc = put_bytes(g->st, "b", key, body, 10, 10, &none, NULL);
		g->failed += rc == CAIRN_E_PRECONDITION;
		g->bad += rc != CAIRN_E_PRECONDITION;
	}
	return NULL;
}

/* Many threads committing at once with mixed outcomes: every result is right, the objects are
 * whole, and the index is consistent. */
static void
test_group_commit_storm(void **state)
{
	struct store_fx *fx = *state;
	enum { T = 8 };
	struct gc_storm g[T];
	struct store_commit_counters c;
	struct store_stats s;
	pthread_t th[T];
	int i;

	for (i = 0; i < T; i++) {
		g[i] = (struct gc_storm){.st = fx->st, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, gc_storm_run, &g[i]), 0);
	}
	for (i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(g[i].bad, 0);
		assert_int_equal(g[i].ok, 25);
		assert_int_equal(g[i].failed, 25);
	}
	store_commit_counters(fx->st, &c);
	assert_int_equal(c.commits, 2 * 25 * T);
	assert_true(c.txns >= 1 && c.txns <= c.commits);
	stats(fx->st, &s);
	assert_int_equal(s.objects, 25 * T);
	assert_int_equal(s.logical_bytes, 300 * 25 * T);
	assert_int_equal(fsck_problems(fx->st), 0);
}

/* ---- conditions, buckets, meta ---- */

static void
test_conditional(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 10 * 1024;
	uint8_t *a = gen_data(17, len), *b = gen_data(18, len);
	struct store_put_cond none = {.if_none_match_any = true}, match = {0};
	struct store_object_info ia, ib;
	struct store_stats s1, s2;
	char unquoted[40];

	assert_int_equal(put_bytes(fx->st, "b", "c", a, len, 4096, &none, &ia), 0);
	stats(fx->st, &s1);
	assert_int_equal(put_bytes(fx->st, "b", "c", b, len, 4096, &none, NULL),
			 CAIRN_E_PRECONDITION);
	stats(fx->st, &s2);
	assert_int_equal(s2.chunk_refs, s1.chunk_refs);
	assert_int_equal(s2.objects, 1);
	match.if_match = "\"0123456789abcdef0123456789abcdef\"";
	assert_int_equal(put_bytes(fx->st, "b", "c", b, len, 4096, &match, NULL),
			 CAIRN_E_PRECONDITION);
	match.if_match = ia.etag;
	assert_int_equal(put_bytes(fx->st, "b", "c", b, len, 4096, &match, &ib), 0);
	snprintf(unquoted, sizeof(unquoted), "%.32s", ib.etag + 1);
	match.if_match = unquoted;
	assert_int_equal(put_bytes(fx->st, "b", "c", a, len, 4096, &match, NULL), 0);
	match.if_match = "*";
	assert_int_equal(put_bytes(fx->st, "b", "c", a, len, 4096, &match, NULL), 0);
	/* If-Match on a key with no object: CAIRN_E_NOKEY (NoSuchKey), for "*" and an ETag alike */
	assert_int_equal(put_bytes(fx->st, "b", "new", a, len, 4096, &match, NULL), CAIRN_E_NOKEY);
	match.if_match = ia.etag;
	assert_int_equal(put_bytes(fx->st, "b", "new", a, len, 4096, &match, NULL), CAIRN_E_NOKEY);
	assert_int_equal(put_bytes(fx->st, "nob", "c", a, len, 4096, NULL, NULL), CAIRN_E_NOTFOUND);
	assert_int_equal(put_bytes(fx->st, "b", "", a, len, 4096, NULL, NULL), CAIRN_E_INVAL);
	assert_object(fx->st, "b", "c", a, len);
	assert_int_equal(fsck_problems(fx->st), 0);
	free(a);
	free(b);
}

static int
count_bucket(const char *name, const struct index_bucket *b, void *arg)
{
	(void)name;
	(void)b;
	(*(int *)arg)++;
	return 0;
}

static void
test_buckets(void **state)
{
	struct store_fx *fx = *state;
	struct index_bucket b;
	int n = 0;

	assert_int_equal(store_bucket_create(fx->st, "b", "alice", "", &b), CAIRN_E_EXISTS);
	assert_string_equal(b.owner, "root");
	assert_int_equal(store_bucket_create(fx->st, "b2", "alice", "eu-1", NULL), 0);
	assert_int_equal(store_bucket_get(fx->st, "b2", &b), 0);
	assert_string_equal(b.owner, "alice");
	assert_string_equal(b.region, "eu-1");
	assert_int_equal(store_bucket_list(fx->st, count_bucket, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(put_bytes(fx->st, "b2", "k", (const uint8_t *)"hello", 5, 5, NULL, NULL),
			 0);
	assert_int_equal(store_bucket_delete(fx->st, "b2"), CAIRN_E_NOTEMPTY);
	assert_int_equal(store_delete(fx->st, "b2", S("k")), 0);
	assert_int_equal(store_bucket_delete(fx->st, "b2"), 0);
	assert_int_equal(store_bucket_delete(fx->st, "b2"), CAIRN_E_NOTFOUND);
	assert_int_equal(store_bucket_get(fx->st, "b2", &b), CAIRN_E_NOTFOUND);
	assert_int_equal(store_bucket_create(fx->st, "", "x", "", NULL), CAIRN_E_INVAL);
}

static void
test_meta_blob(void **state)
{
	struct buf m;
	struct slice name, value;
	size_t pos = 0;
	uint8_t bad[] = {5, 0, 'a', 'b'};
	uint8_t bad2[] = {1, 0, 'a', 9, 0, 0, 0, 'x'};

	(void)state;
	buf_init(&m, 64);
	assert_int_equal(store_meta_add(&m, "a", S("1")), 0);
	assert_int_equal(store_meta_add(&m, "empty", S("")), 0);
	assert_int_equal(store_meta_add(&m, "x-amz-meta-k", S("value")), 0);
	assert_int_equal(store_meta_next(buf_slice(&m), &pos, &name, &value), 1);
	assert_int_equal(name.len, 1);
	assert_int_equal(store_meta_next(buf_slice(&m), &pos, &name, &value), 1);
	assert_int_equal(value.len, 0);
	assert_int_equal(store_meta_next(buf_slice(&m), &pos, &name, &value), 1);
	assert_memory_equal(value.p, "value", 5);
	assert_int_equal(store_meta_next(buf_slice(&m), &pos, &name, &value), 0);
	assert_int_equal(store_meta_find(buf_slice(&m), "x-amz-meta-k", &value), 1);
	assert_int_equal(store_meta_find(buf_slice(&m), "X-amz-meta-k", &value), 0);
	assert_int_equal(
	    store_meta_add(&m, "toolong", S("0123456789012345678901234567890123456789")),
	    CAIRN_E_TOOBIG);
	assert_int_equal(store_meta_find(buf_slice(&m), "x-amz-meta-k", &value), 1);
	pos = 0;
	assert_int_equal(store_meta_next((struct slice){bad, sizeof(bad)}, &pos, &name, &value),
			 CAIRN_E_CORRUPT);
	pos = 0;
	assert_int_equal(store_meta_next((struct slice){bad2, sizeof(bad2)}, &pos, &name, &value),
			 CAIRN_E_CORRUPT);
	pos = 0;
	assert_int_equal(store_meta_next((struct slice){bad, 1}, &pos, &name, &value),
			 CAIRN_E_CORRUPT);
	buf_fini(&m);
}

static void
test_meta_roundtrip(void **state)
{
	struct store_fx *fx = *state;
	struct store_object_info info;
	struct store_put *put;
	struct store_get *g;
	struct slice v;
	struct buf m;

	buf_init(&m, 4096);
	assert_int_equal(store_meta_add(&m, "content-type", S("image/png")), 0);
	assert_int_equal(store_put_begin(fx->st, &put), 0);
	assert_int_equal(store_put_write(put, "abc", 3), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	assert_int_equal(store_put_write(put, "d", 1), CAIRN_E_INVAL);
	assert_int_equal(store_put_commit(put, "b", S("m"), buf_slice(&m), NULL, &info), 0);
	assert_int_equal(store_get_open(fx->st, "b", S("m"), &g), 0);
	assert_int_equal(store_meta_find(store_get_info(g)->meta, "content-type", &v), 1);
	assert_memory_equal(v.p, "image/png", 9);
	store_get_close(g);
	buf_fini(&m);
}

/* ---- lock ---- */

static void
test_lock(void **state)
{
	struct store_fx *fx = *state;
	struct store_config cfg = fx->cfg;
	struct store *other;
	pid_t pid;
	int status;

	assert_int_equal(store_open(&cfg, &other), CAIRN_E_LOCKED);
	assert_null(other);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(store_open(&cfg, &other) == CAIRN_E_LOCKED ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Readers and index-only users work beside the writer. */
	assert_int_equal(put_bytes(fx->st, "b", "l", (const uint8_t *)"lock", 4, 4, NULL, NULL), 0);
	cfg.mode = STORE_MODE_READ;
	assert_int_equal(store_open(&cfg, &other), 0);
	assert_object(other, "b", "l", (const uint8_t *)"lock", 4);
	assert_int_equal(store_put_begin(other, &(struct store_put *){NULL}), CAIRN_E_READONLY);
	assert_int_equal(store_delete(other, "b", S("l")), CAIRN_E_READONLY);
	assert_int_equal(store_bucket_create(other, "x", "r", "", NULL), CAIRN_E_READONLY);
	store_close(other);
	cfg.mode = STORE_MODE_INDEX;
	assert_int_equal(store_open(&cfg, &other), 0);
	assert_int_equal(store_bucket_create(other, "fromindex", "r", "", NULL), 0);
	store_close(other);
	/* Once the writer is gone, another writer may open. */
	fx_reopen(fx);
	cfg.mode = STORE_MODE_READ;
	cfg.data_dir = "/tmp/cairn-test-store-does-not-exist";
	assert_int_equal(store_open(&cfg, &other), CAIRN_E_NOTFOUND);
	cfg.chunking.avg_size = 300;
	assert_int_equal(store_open(&cfg, &other), CAIRN_E_INVAL);
}

/* ---- the body buffer: linear start, then a ring the digests follow ---- */

struct ring_arg {
	struct store *st;
	int n;
	const uint8_t *data;
	size_t len;
	size_t step;
};

/* Puts data as ring<n> in pieces of step bytes with a SHA-256 as second digest, then checks the
 * size, the MD5 (ETag), the SHA-256 and the bytes read back. */
static void *
ring_put(void *arg)
{
	struct ring_arg *ra = arg;
	uint8_t md5[16], sha[32], want[32];
	struct store_object_info info;
	unsigned int shan = 0;
	struct store_put *put;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char key[32], hex[33], etag[40];
	uint64_t size;
	size_t off, n;

	assert_non_null(ctx);
	assert_true(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
	assert_int_equal(store_put_begin(ra->st, &put), 0);
	assert_int_equal(store_put_digest_also(put, ctx), 0);
	for (off = 0; off < ra->len; off += n) {
		n = ra->len - off < ra->step ? ra->len - off : ra->step;
		assert_int_equal(store_put_write(put, ra->data + off, n), 0);
	}
	assert_int_equal(store_put_finish(put, &size, md5), 0);
	assert_int_equal(size, ra->len);
	assert_true(EVP_DigestFinal_ex(ctx, sha, &shan));
	assert_true(EVP_Digest(ra->data, ra->len, want, &shan, EVP_sha256(), NULL));
	assert_memory_equal(sha, want, 32);
	snprintf(key, sizeof(key), "ring%d", ra->n);
	assert_int_equal(store_put_commit(put, "b", S(key), no_meta, NULL, &info), 0);
	md5_hex(ra->data, ra->len, hex);
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	assert_string_equal(info.etag, etag);
	assert_object(ra->st, "b", key, ra->data, ra->len);
	EVP_MD_CTX_free(ctx);
	return NULL;
}

/* Bodies around the linear buffer's end and far past the ring, written in pieces from 1 byte to
 * the whole body, four puts at a time so that they share the digest workers and wait for them to
 * pass bytes (and return chunk ids) before overwriting them; with the given chunk sizes, and the
 * chunk ids and MD5 computed together (stitched) or apart. */
static void
put_ring_run(struct store_fx *fx, struct chunker_params chunking, bool stitched)
{
	static const size_t lens[] = {0, 1, 65535, 65536, 65537, 262144, 262145, 3u << 20};
	static const size_t steps[] = {1000, 32768, 1 << 20, 4 << 20};
	struct ring_arg ra[4];
	pthread_t th[4];
	uint8_t *data[4];
	size_t li, si;
	int i, n = 0;

	store_close(fx->st);
	store_config_default(&fx->cfg);
	fx->cfg.data_dir = fx->dir;
	fx->cfg.chunking = chunking;
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	md5sha_use_extensions(stitched);
	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		for (si = 0; si < sizeof(steps) / sizeof(steps[0]); si++) {
			for (i = 0; i < 4; i++) {
				data[i] = gen_data((uint64_t)(100 + n), lens[li]);
				ra[i] = (struct ring_arg){fx->st, n++, data[i], lens[li],
							  steps[si] + (size_t)i * 7};
				assert_int_equal(pthread_create(&th[i], NULL, ring_put, &ra[i]), 0);
			}
			for (i = 0; i < 4; i++) {
				pthread_join(th[i], NULL);
				free(data[i]);
			}
		}
	}
	md5sha_use_extensions(true);
	assert_int_equal(fsck_problems(fx->st), 0);
}

/* Default chunk sizes: a 256 KiB ring, a few chunks in it at a time. */
static void
test_put_ring(void **state)
{
	struct chunker_params p;

	chunker_params_default(&p);
	put_ring_run(*state, p, true);
}

/* The same through the portable path (chunk_id_compute beside md5_blocks), which CPUs without
 * SHA extensions take. */
static void
test_put_ring_portable(void **state)
{
	struct chunker_params p;

	chunker_params_default(&p);
	put_ring_run(*state, p, false);
}

/* The smallest chunks the chunker allows: a 4 KiB ring holding dozens of cuts at once, so the
 * cut table runs full circle many times per put. */
static void
test_put_ring_tiny_chunks(void **state)
{
	struct chunker_params p = {.min_size = 64, .avg_size = 256, .max_size = 1024};

	put_ring_run(*state, p, true);
	put_ring_run(*state, p, false);
}

/* ---- fsck and corruption ---- */

static void
chunk_of(struct store *st, const char *key, size_t i, struct chunk_id *id, struct chunk_loc *loc)
{
	struct index_page_entry *e = calloc(INDEX_PAGE_ENTRIES, sizeof(*e));
	struct index_object obj;
	struct index_chunk c;
	struct index_txn *txn;
	uint64_t start;
	size_t n;

	assert_non_null(e);
	assert_int_equal(index_read_begin(store_index(st), &txn), 0);
	assert_int_equal(index_object_get(txn, "b", S(key), &obj), 0);
	assert_int_equal(index_page_find(txn, obj.oid, 0, &start, e, &n), 0);
	assert_true(i < n);
	*id = e[i].id;
	assert_int_equal(index_chunk_get(txn, id, &c), 0);
	*loc = c.loc;
	index_read_end(txn);
	free(e);
}

static void
test_fsck_corrupt(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 64 * 1024, n;
	uint8_t *a = gen_data(19, len), *b = gen_data(20, len), *got;
	struct store_fsck_result r;
	struct chunk_loc loc;
	struct chunk_id id;

	assert_int_equal(put_bytes(fx->st, "b", "a", a, len, 4096, NULL, NULL), 0);
	assert_int_equal(put_bytes(fx->st, "b", "bb", b, len, 4096, NULL, NULL), 0);
	assert_int_equal(store_fsck(fx->st, store_fx_fsck_print, NULL, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.objects_checked, 2);
	assert_true(r.chunks_checked > 100);
	chunk_of(fx->st, "a", 7, &id, &loc);
	store_fx_flip_pack(fx->dir, loc.pack_id, (off_t)(loc.offset + PACK_HEADER_SIZE + 3), 0x40);
	assert_int_equal(store_fsck(fx->st, NULL, NULL, &r), 0);
	assert_int_equal(r.problems, 1);
	assert_int_equal(get_all(fx->st, "b", "a", &got, &n), CAIRN_E_CORRUPT);
	assert_object(fx->st, "b", "bb", b, len);
	/* Flipped back, all is well; a flipped header byte (in the record's id) is caught too. */
	store_fx_flip_pack(fx->dir, loc.pack_id, (off_t)(loc.offset + PACK_HEADER_SIZE + 3), 0x40);
	assert_int_equal(fsck_problems(fx->st), 0);
	chunk_of(fx->st, "bb", 2, &id, &loc);
	store_fx_flip_pack(fx->dir, loc.pack_id, (off_t)(loc.offset + 20), 0x40);
	assert_int_equal(store_fsck(fx->st, NULL, NULL, &r), 0);
	assert_int_equal(r.problems, 1);
	assert_object(fx->st, "b", "a", a, len);
	free(a);
	free(b);
}

/* A damaged index is reported: a refcount that does not match the pages. */
static int
bump_refcount_fn(struct index_txn *txn, void *arg)
{
	struct index_chunk c;
	int rc = index_chunk_get(txn, arg, &c);

	if (rc < 0)
		return rc;
	c.refcount += 2;
	return index_chunk_put(txn, arg, &c);
}

static void
test_fsck_refcount(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 16 * 1024;
	uint8_t *a = gen_data(21, len);
	struct store_fsck_result r;
	struct chunk_loc loc;
	struct chunk_id id;

	assert_int_equal(put_bytes(fx->st, "b", "a", a, len, 4096, NULL, NULL), 0);
	chunk_of(fx->st, "a", 1, &id, &loc);
	assert_int_equal(index_write(store_index(fx->st), bump_refcount_fn, &id), 0);
	assert_int_equal(store_fsck(fx->st, NULL, NULL, &r), 0);
	assert_int_equal(r.problems, 1);
	free(a);
}

/* ---- chunk-level operations ---- */

static void
test_chunk_ops(void **state)
{
	struct store_fx *fx = *state;
	struct store_fx fx2;
	size_t len = 8 * 1024;
	uint8_t *a = gen_data(22, len);
	struct store_stats s;
	struct chunk_loc loc;
	struct chunk_id id, wrong;
	struct pack_encoder *enc;
	struct buf rec, bad;

	buf_init(&rec, 1 << 20);
	buf_init(&bad, 1 << 20);
	assert_int_equal(put_bytes(fx->st, "b", "a", a, len, 4096, NULL, NULL), 0);
	chunk_of(fx->st, "a", 0, &id, &loc);
	assert_true(store_chunk_has(fx->st, &id));
	memset(&wrong, 0xab, sizeof(wrong));
	assert_false(store_chunk_has(fx->st, &wrong));
	assert_int_equal(store_chunk_read_stored(fx->st, &wrong, &rec), CAIRN_E_NOTFOUND);
	assert_int_equal(store_chunk_read_stored(fx->st, &id, &rec), 0);
	assert_int_equal(rec.len, loc.record_len);

	memset(&fx2, 0, sizeof(fx2));
	snprintf(fx2.dir, sizeof(fx2.dir), "/tmp/cairn-test-store2-XXXXXX");
	assert_non_null(mkdtemp(fx2.dir));
	fx_config(&fx2);
	assert_int_equal(store_open(&fx2.cfg, &fx2.st), 0);
	assert_int_equal(store_chunk_write_stored(fx2.st, rec.p, rec.len), 0);
	assert_int_equal(store_chunk_write_stored(fx2.st, rec.p, rec.len), 0); /* present already */
	assert_true(store_chunk_has(fx2.st, &id));
	stats(fx2.st, &s);
	assert_int_equal(s.chunks, 1);
	assert_int_equal(s.chunk_refs, 0);
	assert_int_equal(s.dead_bytes, rec.len);
	assert_int_equal(s.pack_bytes, rec.len);
	/* A damaged record and a record whose id does not match its bytes are refused. */
	assert_int_equal(buf_append(&bad, rec.p, rec.len), 0);
	bad.p[PACK_HEADER_SIZE + 1] ^= 1;
	assert_int_equal(store_chunk_write_stored(fx2.st, bad.p, bad.len), CAIRN_E_CORRUPT);
	enc = pack_encoder_new(0);
	assert_int_equal(pack_record_encode(enc, &wrong, a, 100, &bad), 0);
	assert_int_equal(store_chunk_write_stored(fx2.st, bad.p, bad.len), CAIRN_E_CORRUPT);
	assert_int_equal(store_chunk_write_stored(fx2.st, bad.p, 10), CAIRN_E_CORRUPT);
	pack_encoder_free(enc);
	assert_false(store_chunk_has(fx2.st, &wrong));
	/* The whole object into the second store: the replicated chunk is revived, not rewritten.
	 */
	assert_int_equal(store_bucket_create(fx2.st, "b", "root", "", NULL), 0);
	assert_int_equal(put_bytes(fx2.st, "b", "a", a, len, 4096, NULL, NULL), 0);
	stats(fx2.st, &s);
	assert_int_equal(s.dead_bytes, 0);
	assert_int_equal(s.pack_bytes, s.stored_bytes);
	assert_object(fx2.st, "b", "a", a, len);
	assert_int_equal(fsck_problems(fx2.st), 0);
	store_fx_close(&fx2);
	buf_fini(&rec);
	buf_fini(&bad);
	free(a);
}

/* ---- statistics, compression, hook, list ---- */

static void
test_stats_numbers(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 200 * 1024, i;
	uint8_t *text = malloc(len);
	struct store_stats s;

	assert_non_null(text);
	for (i = 0; i < len; i++) /* compressible, without repeats a chunker would dedup */
		text[i] = (uint8_t)("abcdefgh"[(i * 7 + i / 13) % 8]);
	assert_int_equal(put_bytes(fx->st, "b", "t1", text, len, 10000, NULL, NULL), 0);
	assert_int_equal(put_bytes(fx->st, "b", "t2", text, len, 10000, NULL, NULL), 0);
	stats(fx->st, &s);
	assert_int_equal(s.buckets, 1);
	assert_int_equal(s.objects, 2);
	assert_int_equal(s.logical_bytes, 2 * len);
	assert_true(s.raw_bytes <= len);
	assert_true(s.stored_bytes < s.raw_bytes); /* compressed */
	assert_int_equal(s.pack_bytes, s.stored_bytes);
	assert_true(s.chunk_refs >= 2 * s.chunks);
	assert_true(s.packs >= 1);
	assert_true(s.index_bytes > 0);
	assert_object(fx->st, "b", "t2", text, len);
	free(text);
}

static void
hook_count(const struct chunk_id *id, void *arg)
{
	(void)id;
	(*(int *)arg)++;
}

static void
test_read_hook_and_list(void **state)
{
	struct store_fx *fx = *state;
	struct store_object_info info;
	struct store_list *l;
	struct slice key;
	int calls = 0, n = 0;
	uint8_t *a = gen_data(23, 4096);
	static const char *const keys[] = {"a/1", "a/2", "b", "c/x/y"};
	size_t i;

	for (i = 0; i < 4; i++)
		assert_int_equal(
		    put_bytes(fx->st, "b", keys[i], a, 1000 * (i + 1), 999, NULL, NULL), 0);
	store_set_read_hook(fx->st, hook_count, &calls);
	assert_object(fx->st, "b", "a/1", a, 1000);
	assert_true(calls >= 1000 / 1024 + 1);
	store_set_read_hook(fx->st, NULL, NULL);
	n = calls;
	assert_object(fx->st, "b", "a/1", a, 1000);
	assert_int_equal(calls, n);

	assert_int_equal(store_list_open(fx->st, "nob", &l), CAIRN_E_NOTFOUND);
	assert_int_equal(store_list_open(fx->st, "b", &l), 0);
	assert_int_equal(store_list_seek(l, S("a/2"), &key, &info), 0);
	assert_int_equal(key.len, 3);
	assert_memory_equal(key.p, "a/2", 3);
	assert_int_equal(info.size, 2000);
	for (n = 1; store_list_next(l, &key, &info) == 0; n++)
		;
	assert_int_equal(n, 3);
	assert_int_equal(store_list_seek(l, S("d"), &key, &info), CAIRN_E_NOTFOUND);
	store_list_close(l);
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_get, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_put_ring, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_put_ring_portable, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_put_ring_tiny_chunks, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_empty_object, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_range, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_many_pages, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_delete, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_abort, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoint, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_overwrite_while_reading, fx_setup,
					    store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_zombie_restart, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_readers_vs_writer, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_identical, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_shifted, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_md5_memo, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_md5_memo_random, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_md5_memo_saved_while_open, fx_setup,
					    store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_copy, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_same, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_conditional, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_buckets, fx_setup, store_fx_teardown),
	    cmocka_unit_test(test_meta_blob),
	    cmocka_unit_test_setup_teardown(test_meta_roundtrip, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_lock, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fsck_corrupt, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fsck_refcount, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_chunk_ops, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_stats_numbers, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_read_hook_and_list, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_group_commit, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_group_commit_refs_cap, fx_setup,
					    store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_group_commit_storm, fx_setup, store_fx_teardown),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
