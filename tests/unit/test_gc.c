/*
 * test_gc.c — the pack compactor over real temp data dirs: reclaiming deleted data (also the pack
 * being appended to and garbage of aborted puts), partial compaction keeping live objects intact,
 * a reader streaming across a compaction, the dedup race (a put that deduplicated against chunks
 * the compactor dropped), in-flight chunks in a compacted pack, recovery after a failed pack sync
 * (fdatasync interposed below), the free-space reserve, and a concurrent stress run checked by
 * fsck.
 *
 * Small chunking parameters (min 64 / avg 256 / max 1024) and 64 KiB packs give many chunks and
 * many packs from little data.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "cairn/err.h"
#include "cairn/gc.h"
#include "cairn/log.h"
#include "cairn/store.h"

#include "store_fixture.h"

/* ---- fdatasync interposed: fails for pack files while fail_pack_sync is set ---- */

static atomic_int fail_pack_sync;

static bool
fd_is_pack(int fd)
{
	char link[64], path[512];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return false;
	path[n] = 0;
	return strstr(path, "/packs/pack-") != NULL;
}

int
fdatasync(int fd)
{
	if (atomic_load(&fail_pack_sync) && fd_is_pack(fd)) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

/* ---- helpers ---- */

static const struct slice no_meta = {NULL, 0};

/* Begins a put and feeds it data (in 1000-byte writes); finishes it. */
static struct store_put *
put_start(struct store *st, const uint8_t *data, size_t len)
{
	struct store_put *put;
	size_t off, n;

	assert_int_equal(store_put_begin(st, &put), 0);
	for (off = 0; off < len; off += n) {
		n = len - off < 1000 ? len - off : 1000;
		assert_int_equal(store_put_write(put, data + off, n), 0);
	}
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	return put;
}

static int
put_commit(struct store_put *put, const char *key)
{
	struct store_object_info info;

	return store_put_commit(put, "b", S(key), no_meta, NULL, &info);
}

static int
put_bytes(struct store *st, const char *key, const uint8_t *data, size_t len)
{
	return put_commit(put_start(st, data, len), key);
}

/* Like put_bytes, returning the first error of any step. */
static int
put_try(struct store *st, const char *key, const uint8_t *data, size_t len)
{
	struct store_put *put;
	int rc;

	rc = store_put_begin(st, &put);
	if (rc < 0)
		return rc;
	rc = store_put_write(put, data, len);
	if (rc == 0)
		rc = store_put_finish(put, NULL, NULL);
	if (rc < 0) {
		store_put_abort(put);
		return rc;
	}
	return put_commit(put, key);
}

static void
assert_object(struct store *st, const char *key, const uint8_t *data, size_t len)
{
	struct store_get *g;
	uint8_t *p = malloc(len + 1);
	size_t n;

	assert_non_null(p);
	assert_int_equal(store_get_open(st, "b", S(key), &g), 0);
	assert_int_equal(store_get_info(g)->size, len);
	assert_int_equal(store_get_read(g, p, len + 1, &n), 0);
	store_get_close(g);
	assert_int_equal(n, len);
	assert_memory_equal(p, data, len);
	free(p);
}

static uint64_t
pack_bytes(struct store *st)
{
	struct store_stats s;

	assert_int_equal(store_stats(st, &s), 0);
	return s.pack_bytes;
}

static int
gc(struct store *st, uint32_t grace_ms, struct gc_result *res)
{
	struct gc_config cfg;

	gc_config_default(&cfg);
	cfg.grace_ms = grace_ms;
	return gc_run(st, &cfg, res);
}

/* ---- fixture ---- */

static int
fx_setup(void **state)
{
	struct store_fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cairn-test-gc-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	store_config_default(&fx->cfg);
	fx->cfg.data_dir = fx->dir;
	fx->cfg.chunking.min_size = 64;
	fx->cfg.chunking.avg_size = 256;
	fx->cfg.chunking.max_size = 1024;
	fx->cfg.pack_max_bytes = 64 << 10;
	fx->cfg.zstd_level = 1;
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

/* ---- tests ---- */

/* Unique data uploaded and deleted: every pack goes, the current one included. */
static void
test_gc_reclaims_all(void **state)
{
	struct store_fx *fx = *state;
	struct gc_result res;
	struct store_stats s;
	char key[16];
	uint8_t *d;
	int i;

	for (i = 0; i < 8; i++) {
		d = gen_data((uint64_t)i + 1, 100 << 10);
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put_bytes(fx->st, key, d, 100 << 10), 0);
		free(d);
	}
	assert_true(pack_bytes(fx->st) > 800 << 10);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(store_delete(fx->st, "b", S(key)), 0);
	}
	assert_int_equal(gc(fx->st, 1000, &res), 0);
	assert_true(res.packs_removed >= 12);
	assert_int_equal(res.packs_deferred, 0);
	assert_int_equal(res.chunks_moved, 0);
	assert_true(res.chunks_dropped > 2000);
	assert_int_equal(store_stats(fx->st, &s), 0);
	assert_int_equal(s.pack_bytes, 0);
	assert_int_equal(s.packs, 0);
	assert_int_equal(s.chunks, 0);
	assert_int_equal(s.dead_bytes, 0);
	store_fx_assert_fsck_clean(fx->st);
	/* Writing goes on into a fresh pack. */
	d = gen_data(99, 5000);
	assert_int_equal(put_bytes(fx->st, "again", d, 5000), 0);
	fx_reopen(fx);
	assert_object(fx->st, "again", d, 5000);
	store_fx_assert_fsck_clean(fx->st);
	free(d);
}

/* Half the objects deleted: their bytes go, the others read back intact, also after a reopen. */
static void
test_gc_partial(void **state)
{
	struct store_fx *fx = *state;
	uint8_t *d[10];
	struct gc_result res;
	struct store_stats s;
	uint64_t before, after;
	char key[16];
	int i;

	for (i = 0; i < 10; i++) {
		d[i] = gen_data((uint64_t)i + 100, 40 << 10);
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put_bytes(fx->st, key, d[i], 40 << 10), 0);
	}
	for (i = 0; i < 10; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(store_delete(fx->st, "b", S(key)), 0);
	}
	before = pack_bytes(fx->st);
	assert_int_equal(gc(fx->st, 1000, &res), 0);
	after = pack_bytes(fx->st);
	assert_true(res.chunks_moved > 0);
	assert_true(res.packs_removed > 0);
	assert_true(after < before * 7 / 10);
	assert_int_equal(store_stats(fx->st, &s), 0);
	assert_true(s.dead_bytes < before - after);
	for (i = 1; i < 10; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_object(fx->st, key, d[i], 40 << 10);
	}
	store_fx_assert_fsck_clean(fx->st);
	fx_reopen(fx);
	for (i = 1; i < 10; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_object(fx->st, key, d[i], 40 << 10);
	}
	store_fx_assert_fsck_clean(fx->st);
	for (i = 0; i < 10; i++)
		free(d[i]);
}

/* A get open across a compaction that moves its chunks reads the right bytes to the end. */
static void
test_gc_reader_across_move(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 200 << 10, n;
	uint8_t *a = gen_data(7, len), *b = gen_data(8, len), *p = malloc(len);
	struct gc_result res;
	struct store_get *g;

	assert_non_null(p);
	/* a and b interleave in the same packs. */
	assert_int_equal(put_bytes(fx->st, "b1", b, len / 2), 0);
	assert_int_equal(put_bytes(fx->st, "a", a, len), 0);
	assert_int_equal(put_bytes(fx->st, "b2", b + len / 2, len / 2), 0);
	assert_int_equal(store_delete(fx->st, "b", S("b1")), 0);
	assert_int_equal(store_delete(fx->st, "b", S("b2")), 0);
	assert_int_equal(store_get_open(fx->st, "b", S("a"), &g), 0);
	assert_int_equal(store_get_read(g, p, 10000, &n), 0);
	assert_int_equal(n, 10000);
	assert_int_equal(gc(fx->st, 1000, &res), 0);
	assert_true(res.chunks_moved > 0 && res.packs_removed > 0);
	assert_int_equal(store_get_read(g, p + 10000, len - 10000, &n), 0);
	assert_int_equal(n, len - 10000);
	store_get_close(g);
	assert_memory_equal(p, a, len);
	assert_object(fx->st, "a", a, len);
	store_fx_assert_fsck_clean(fx->st);
	free(a);
	free(b);
	free(p);
}

/*
 * The dedup race: a put deduplicates against chunks whose object was deleted (refcount 0); the
 * compactor drops those entries while the put is still open, and cannot delete the pack before
 * the put ends (deferred). The put commits through the tombstones; the next run moves the
 * revived chunks and deletes the pack.
 */
static void
test_gc_dedup_race(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 120 << 10;
	uint8_t *d = gen_data(11, len);
	struct store_put *put;
	struct gc_result res;
	struct store_stats s;

	assert_int_equal(put_bytes(fx->st, "x", d, len), 0);
	assert_int_equal(store_delete(fx->st, "b", S("x")), 0);
	put = put_start(fx->st, d, len); /* every chunk found in the index, dead */
	assert_int_equal(gc(fx->st, 50, &res), 0);
	assert_true(res.chunks_dropped > 100);
	assert_true(res.packs_deferred > 0);
	assert_int_equal(put_commit(put, "y"), 0);
	assert_object(fx->st, "y", d, len);
	assert_int_equal(gc(fx->st, 50, &res), 0);
	assert_true(res.packs_removed > 0);
	assert_int_equal(res.packs_deferred, 0);
	assert_true(res.chunks_moved > 0);
	assert_object(fx->st, "y", d, len);
	assert_int_equal(store_stats(fx->st, &s), 0);
	assert_int_equal(s.dead_bytes, 0);
	store_fx_assert_fsck_clean(fx->st);
	fx_reopen(fx);
	assert_object(fx->st, "y", d, len);
	store_fx_assert_fsck_clean(fx->st);
	free(d);
}

/*
 * In-flight chunks in a compacted pack: put A appends chunks into a pack that qualifies (it is
 * mostly dead) and is sealed; put B (begun after the compaction dropped the dead entries) pins
 * A's chunks; A aborts, so only the in-flight table knows them. Finishing the pack copies them
 * and repoints the table; B then commits them from there.
 */
static void
test_gc_inflight_rescue(void **state)
{
	struct store_fx *fx = *state;
	uint8_t *dead = gen_data(21, 20 << 10), *d = gen_data(22, 6000);
	struct store_put *a, *b;
	struct gc_result res;

	assert_int_equal(put_bytes(fx->st, "dead", dead, 20 << 10), 0);
	assert_int_equal(store_delete(fx->st, "b", S("dead")), 0);
	a = put_start(fx->st, d, 6000);
	assert_int_equal(gc(fx->st, 20, &res), 0);
	assert_true(res.packs_deferred > 0); /* a is older than the drop */
	b = put_start(fx->st, d, 6000);
	store_put_abort(a);
	assert_int_equal(gc(fx->st, 1000, &res), 0);
	assert_true(res.packs_removed > 0);
	assert_true(res.chunks_moved > 0); /* the rescued in-flight records */
	assert_int_equal(put_commit(b, "d"), 0);
	assert_object(fx->st, "d", d, 6000);
	store_fx_assert_fsck_clean(fx->st);
	fx_reopen(fx);
	assert_object(fx->st, "d", d, 6000);
	store_fx_assert_fsck_clean(fx->st);
	free(dead);
	free(d);
}

/* An aborted put's records are not in the index: pure garbage, reclaimed. */
static void
test_gc_garbage(void **state)
{
	struct store_fx *fx = *state;
	uint8_t *d = gen_data(31, 100 << 10);
	struct gc_result res;

	store_put_abort(put_start(fx->st, d, 100 << 10));
	assert_true(pack_bytes(fx->st) > 100 << 10);
	assert_int_equal(gc(fx->st, 1000, &res), 0);
	assert_int_equal(pack_bytes(fx->st), 0);
	assert_int_equal(res.chunks_moved, 0);
	store_fx_assert_fsck_clean(fx->st);
	free(d);
}

/* A failed fdatasync fails the puts that needed it, then writing recovers (no restart). */
static void
test_gc_sync_failure_recovers(void **state)
{
	struct store_fx *fx = *state;
	uint8_t *a = gen_data(41, 30000), *b = gen_data(42, 30000), *c = gen_data(43, 30000);

	assert_int_equal(put_bytes(fx->st, "a", a, 30000), 0);
	atomic_store(&fail_pack_sync, 1);
	assert_int_equal(put_bytes(fx->st, "b", b, 30000), -EIO);
	atomic_store(&fail_pack_sync, 0);
	assert_int_equal(put_bytes(fx->st, "b", b, 30000), 0);
	assert_int_equal(put_bytes(fx->st, "c", c, 30000), 0);
	assert_object(fx->st, "a", a, 30000);
	assert_object(fx->st, "b", b, 30000);
	assert_object(fx->st, "c", c, 30000);
	store_fx_assert_fsck_clean(fx->st);
	fx_reopen(fx);
	assert_object(fx->st, "b", b, 30000);
	store_fx_assert_fsck_clean(fx->st);
	free(a);
	free(b);
	free(c);
}

/* Below the free-space reserve new data is refused; reads, deletes and dedup'd puts work. */
static void
test_gc_min_free(void **state)
{
	struct store_fx *fx = *state;
	uint8_t *a = gen_data(51, 20000), *b = gen_data(52, 20000);

	assert_int_equal(put_bytes(fx->st, "a", a, 20000), 0);
	fx->cfg.min_free_bytes = UINT64_MAX / 2;
	fx_reopen(fx);
	assert_int_equal(put_try(fx->st, "b", b, 20000), -ENOSPC);
	assert_int_equal(put_bytes(fx->st, "a2", a, 20000), 0); /* no new chunk */
	assert_object(fx->st, "a", a, 20000);
	assert_int_equal(store_delete(fx->st, "b", S("a")), 0);
	fx->cfg.min_free_bytes = 0;
	fx_reopen(fx);
	assert_int_equal(put_bytes(fx->st, "b", b, 20000), 0);
	assert_object(fx->st, "a2", a, 20000);
	store_fx_assert_fsck_clean(fx->st);
	free(a);
	free(b);
}

/* fsck names the object that uses a damaged chunk; --repair deletes it and drops the chunk, so
 * that uploading the same bytes again stores a good copy. */
struct fsck_lines {
	int object_a;
	int problems;
};

static void
fsck_collect(const char *problem, void *arg)
{
	struct fsck_lines *l = arg;

	l->problems++;
	if (strstr(problem, "object b/a:") && strstr(problem, "unreadable chunk"))
		l->object_a++;
}

static void
test_fsck_repair(void **state)
{
	struct store_fx *fx = *state;
	uint8_t *a = gen_data(61, 40 << 10), *b = gen_data(62, 40 << 10), *p = malloc(40 << 10);
	struct store_fsck_result r;
	struct store_repair_result done;
	struct fsck_lines lines = {0};
	struct store_get *g;
	size_t n;

	assert_non_null(p);
	assert_int_equal(put_bytes(fx->st, "a", a, 40 << 10), 0); /* pack 1 */
	assert_int_equal(put_bytes(fx->st, "b", b, 40 << 10), 0); /* rolls into pack 2 */
	store_fx_flip_pack(fx->dir, 1, 20000, 0x40);
	assert_int_equal(store_get_open(fx->st, "b", S("a"), &g), 0);
	assert_int_equal(store_get_read(g, p, 40 << 10, &n), CAIRN_E_CORRUPT);
	store_get_close(g);
	assert_object(fx->st, "b", b, 40 << 10);
	assert_int_equal(store_fsck(fx->st, fsck_collect, &lines, &r), 0);
	assert_int_equal(r.problems, 1); /* one chunk; the object line details it */
	assert_int_equal(lines.object_a, 1);
	assert_int_equal(store_fsck_repair(fx->st, NULL, NULL, NULL, &r, &done), 0);
	assert_int_equal(done.objects_deleted, 1);
	assert_true(done.chunks_dropped >= 1);
	store_fx_assert_fsck_clean(fx->st);
	assert_int_equal(store_get_open(fx->st, "b", S("a"), &g), CAIRN_E_NOTFOUND);
	assert_object(fx->st, "b", b, 40 << 10);
	assert_int_equal(put_bytes(fx->st, "a", a, 40 << 10), 0);
	assert_object(fx->st, "a", a, 40 << 10);
	store_fx_assert_fsck_clean(fx->st);
	free(a);
	free(b);
	free(p);
}

/* Per-bucket stats: shared chunks are split by references; the buckets add up to the total. */
struct bsum {
	double stored, raw;
	uint64_t logical;
	int n;
};

static int
bstats_sum(const char *name, const struct store_bucket_stats *b, void *arg)
{
	struct bsum *s = arg;

	(void)name;
	s->stored += b->stored_bytes;
	s->raw += b->raw_bytes;
	s->logical += b->logical_bytes;
	s->n++;
	return 0;
}

static int
bstats_b2(const char *name, const struct store_bucket_stats *b, void *arg)
{
	struct store_bucket_stats *out = arg;

	if (strcmp(name, "b2") == 0)
		*out = *b;
	return 0;
}

static void
test_stats_buckets(void **state)
{
	struct store_fx *fx = *state;
	uint8_t *a = gen_data(71, 50000), *c = gen_data(72, 30000);
	struct store_bucket_stats b2 = {0};
	struct store_object_info info;
	struct store_stats t;
	struct bsum sum = {0};

	assert_int_equal(store_bucket_create(fx->st, "b2", "root", "", NULL), 0);
	assert_int_equal(put_bytes(fx->st, "a", a, 50000), 0);
	assert_int_equal(put_bytes(fx->st, "c", c, 30000), 0);
	assert_int_equal(
	    store_put_commit(put_start(fx->st, a, 50000), "b2", S("a"), no_meta, NULL, &info), 0);
	assert_int_equal(store_stats(fx->st, &t), 0);
	assert_int_equal(store_stats_buckets(fx->st, bstats_sum, &sum), 0);
	assert_int_equal(sum.n, 2);
	assert_int_equal(sum.logical, t.logical_bytes);
	assert_true(sum.stored > t.stored_bytes - 1 && sum.stored < t.stored_bytes + 1);
	assert_true(sum.raw > t.raw_bytes - 1 && sum.raw < t.raw_bytes + 1);
	assert_int_equal(store_stats_buckets(fx->st, bstats_b2, &b2), 0);
	assert_int_equal(b2.objects, 1);
	/* b2 holds one of two references to each of a's chunks: half of a. */
	assert_true(b2.raw_bytes > 24000 && b2.raw_bytes < 26000);
	free(a);
	free(c);
}

/* ---- concurrent stress ---- */

#define STRESS_KEYS 12
#define STRESS_SEEDS 24

struct stress {
	struct store *st;
	atomic_int stop;
	pthread_mutex_t mu;
	int seed[STRESS_KEYS]; /* -1: absent; the committed content of each key */
	bool busy[STRESS_KEYS];
	atomic_int gcs;
	atomic_int errors;
};

static size_t
stress_len(int seed)
{
	return (size_t)(2000 + (seed * 7919) % 30000);
}

/* Seeds share halves: content seed s is the first half of (s % 8) and the second of its own,
 * so puts dedup against live and dead chunks all the time. */
static uint8_t *
stress_data(int seed)
{
	size_t len = stress_len(seed), half = len / 2;
	uint8_t *p = malloc(len), *x = gen_data((uint64_t)(seed % 8) + 1000, half),
		*y = gen_data((uint64_t)seed + 2000, len - half);

	assert_non_null(p);
	memcpy(p, x, half);
	memcpy(p + half, y, len - half);
	free(x);
	free(y);
	return p;
}

static int
stress_take(struct stress *s, unsigned *rnd)
{
	int k;

	pthread_mutex_lock(&s->mu);
	do {
		k = (int)(rand_r(rnd) % STRESS_KEYS);
	} while (s->busy[k]);
	s->busy[k] = true;
	pthread_mutex_unlock(&s->mu);
	return k;
}

static void
stress_one(struct stress *s, unsigned *rnd)
{
	int k = stress_take(s, rnd), seed = (int)(rand_r(rnd) % STRESS_SEEDS), op = rand_r(rnd) % 4;
	char key[16];
	uint8_t *d;

	snprintf(key, sizeof(key), "s%d", k);
	if (op == 0) {
		if (store_delete(s->st, "b", S(key)) == 0)
			s->seed[k] = -1;
	} else if (op == 1 && s->seed[k] >= 0) {
		d = stress_data(s->seed[k]);
		assert_object(s->st, key, d, stress_len(s->seed[k]));
		free(d);
	} else {
		d = stress_data(seed);
		if (put_bytes(s->st, key, d, stress_len(seed)) == 0)
			s->seed[k] = seed;
		else
			atomic_fetch_add(&s->errors, 1);
		free(d);
	}
	pthread_mutex_lock(&s->mu);
	s->busy[k] = false;
	pthread_mutex_unlock(&s->mu);
}

static void *
stress_worker(void *arg)
{
	struct stress *s = arg;
	unsigned rnd = (unsigned)(uintptr_t)&rnd;

	while (!atomic_load(&s->stop))
		stress_one(s, &rnd);
	return NULL;
}

static void *
stress_gc(void *arg)
{
	struct stress *s = arg;
	struct gc_config cfg;
	struct gc_result res;

	gc_config_default(&cfg);
	cfg.threshold = 0.2;
	cfg.grace_ms = 30;
	while (!atomic_load(&s->stop)) {
		if (gc_run(s->st, &cfg, &res) != 0)
			atomic_fetch_add(&s->errors, 1);
		atomic_fetch_add(&s->gcs, 1);
	}
	return NULL;
}

static void
test_gc_concurrent(void **state)
{
	struct store_fx *fx = *state;
	struct stress s = {.st = fx->st};
	pthread_t w[3], g;
	struct gc_result res;
	char key[16];
	uint8_t *d;
	int i;

	pthread_mutex_init(&s.mu, NULL);
	for (i = 0; i < STRESS_KEYS; i++)
		s.seed[i] = -1;
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&w[i], NULL, stress_worker, &s), 0);
	assert_int_equal(pthread_create(&g, NULL, stress_gc, &s), 0);
	usleep(2500 * 1000);
	atomic_store(&s.stop, 1);
	for (i = 0; i < 3; i++)
		pthread_join(w[i], NULL);
	pthread_join(g, NULL);
	assert_int_equal(atomic_load(&s.errors), 0);
	assert_true(atomic_load(&s.gcs) > 3);
	assert_int_equal(gc(fx->st, 1000, &res), 0);
	for (i = 0; i < STRESS_KEYS; i++) {
		if (s.seed[i] < 0)
			continue;
		snprintf(key, sizeof(key), "s%d", i);
		d = stress_data(s.seed[i]);
		assert_object(fx->st, key, d, stress_len(s.seed[i]));
		free(d);
	}
	store_fx_assert_fsck_clean(fx->st);
	pthread_mutex_destroy(&s.mu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_gc_reclaims_all, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gc_partial, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gc_reader_across_move, fx_setup,
					    store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gc_dedup_race, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gc_inflight_rescue, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gc_garbage, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gc_sync_failure_recovers, fx_setup,
					    store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gc_min_free, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fsck_repair, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_stats_buckets, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gc_concurrent, fx_setup, store_fx_teardown),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
