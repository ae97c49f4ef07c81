/*
 * test_index_trim.c — the index map's resident part (src/store/index_trim.c): the map is
 * read-only (the assumption the trim's safety rests on), a trim drops RssFile, readers beside
 * repeated trims and map growth see every value right, the periodic thread trims past its
 * budget, and the cairnd setting that sets that budget.
 */
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cairn/conf.h"
#include "cairn/err.h"
#include "cairn/index.h"

#include "test_data.h"

#define SMALL_KEYS 30000u
#define SMALL_META 64u
#define BLOB (1u << 20)
#define BLOBS_PER_TXN 4u
#define BLOBS 80u /* 80 MiB: the 64 MiB map doubles once while readers and trims run */
#define READERS 2

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

/* True when p[n] is test_fill's stream of seed (no cmocka assertion: reader threads call it). */
static bool
pattern_check(const uint8_t *p, size_t n, uint64_t seed)
{
	uint8_t small[SMALL_META], *want = n <= sizeof(small) ? small : malloc(n);
	bool same;

	if (!want)
		return false;
	test_fill(want, n, seed);
	same = memcmp(p, want, n) == 0;
	if (want != small)
		free(want);
	return same;
}

static struct slice
sl(const char *s)
{
	return (struct slice){(const uint8_t *)s, strlen(s)};
}

static struct index_object
obj_make(uint64_t oid, const uint8_t *meta, size_t len)
{
	struct index_object o = {.oid = oid, .size = oid * 3, .mtime_ns = (int64_t)oid * 1000};

	o.meta = (struct slice){meta, len};
	return o;
}

static int
small_write(struct index_txn *txn, void *arg)
{
	uint8_t meta[SMALL_META];
	char key[32];

	(void)arg;
	for (uint32_t i = 1; i <= SMALL_KEYS; i++) {
		struct index_object o;
		int rc;

		test_fill(meta, sizeof(meta), i);
		o = obj_make(i, meta, sizeof(meta));
		snprintf(key, sizeof(key), "k/%08u", i);
		rc = index_object_put(txn, "small", sl(key), &o);
		if (rc)
			return rc;
	}
	return 0;
}

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cairn-test-trim-XXXXXX");
	if (!mkdtemp(fx->dir) || index_open(fx->dir, false, &fx->ix) != 0)
		return -1;
	if (index_write(fx->ix, small_write, NULL) != 0)
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

/* Walks every small key in order, checking each key and value. Returns the keys seen, or -1 at
 * the first wrong one (no cmocka assertion: reader threads call it too). */
static long
small_walk_check(struct index *ix)
{
	struct index_cursor *cur;
	struct index_txn *txn;
	struct index_object o;
	struct slice key;
	char want[32];
	long n = 0;
	int rc;

	if (index_read_begin(ix, &txn) != 0)
		return -1;
	rc = index_object_cursor_open(txn, "small", &cur);
	if (rc == 0)
		rc = index_object_cursor_seek(cur, (struct slice){NULL, 0}, &key, &o);
	while (rc == 0) {
		n++;
		snprintf(want, sizeof(want), "k/%08ld", n);
		if (key.len != strlen(want) || memcmp(key.p, want, key.len) != 0 ||
		    o.oid != (uint64_t)n || o.size != (uint64_t)n * 3 ||
		    o.mtime_ns != (int64_t)n * 1000 || o.meta.len != SMALL_META ||
		    !pattern_check(o.meta.p, SMALL_META, (uint64_t)n)) {
			rc = -1;
			break;
		}
		rc = index_object_cursor_next(cur, &key, &o);
	}
	if (rc != CAIRN_E_NOTFOUND)
		n = -1;
	index_cursor_close(cur);
	index_read_end(txn);
	return n;
}

static void
small_walk(struct index *ix)
{
	assert_int_equal(small_walk_check(ix), SMALL_KEYS);
}

/* RssFile of this process in bytes (/proc/self/status). */
static uint64_t
rss_file(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/self/status", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "RssFile:", 8) == 0) {
			char *end;

			kb = strtoull(line + 8, &end, 10);
			break;
		}
	}
	fclose(f);
	assert_true(kb > 0);
	return kb << 10;
}

/* The trim's safety argument: LMDB maps data.mdb shared and never writable (no WRITEMAP). */
static void
test_map_is_read_only(void **state)
{
	struct fx *fx = *state;
	char line[512], perms[8], path[128];
	int found = 0;
	FILE *f;

	small_walk(fx->ix);
	snprintf(path, sizeof(path), "%s/data.mdb", fx->dir);
	f = fopen("/proc/self/maps", "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, path))
			continue;
		assert_int_equal(sscanf(line, "%*x-%*x %7s", perms), 1);
		assert_int_equal(perms[1], '-'); /* not writable */
		assert_int_equal(perms[3], 's'); /* shared: the page cache's own pages */
		found++;
	}
	fclose(f);
	assert_int_equal(found, 1);
}

static void
test_trim_drops_rss(void **state)
{
	struct fx *fx = *state;
	uint64_t before, after, again;

	assert_int_equal(index_map_trim(fx->ix), 0);
	small_walk(fx->ix);
	before = rss_file();
	assert_int_equal(index_map_trim(fx->ix), 0);
	after = rss_file();
	/* 30,000 keys of ~140 bytes: the walk maps ~4 MiB of leaves */
	print_message("RssFile %llu KiB after the walk, %llu KiB after the trim\n",
		      (unsigned long long)before >> 10, (unsigned long long)after >> 10);
	assert_true(after + (2u << 20) < before);
	assert_int_equal(index_map_trims(fx->ix), 2);
	/* the pages come back on the next walk, with the same values */
	small_walk(fx->ix);
	again = rss_file();
	assert_true(again > after + (2u << 20));
}

/* ---- readers beside repeated trims and a writer that grows the map ---- */

struct conc {
	struct index *ix;
	pthread_mutex_t mu;
	bool done;	/* the writer finished */
	uint64_t blobs; /* blobs committed */
	uint64_t trims, walks;
	int trim_rc;	   /* first unexpected index_map_trim() return */
	unsigned failures; /* wrong values read, failed writes */
};

struct blob_batch {
	uint64_t first;
	uint8_t *buf;
};

static int
blob_write(struct index_txn *txn, void *arg)
{
	struct blob_batch *bb = arg;
	char key[32];

	for (uint64_t i = bb->first; i < bb->first + BLOBS_PER_TXN; i++) {
		struct index_object o;
		int rc;

		test_fill(bb->buf, BLOB, i);
		o = obj_make(i, bb->buf, BLOB);
		snprintf(key, sizeof(key), "b/%08llu", (unsigned long long)i);
		rc = index_object_put(txn, "big", sl(key), &o);
		if (rc)
			return rc;
	}
	return 0;
}

static bool
conc_done(struct conc *c)
{
	bool done;

	pthread_mutex_lock(&c->mu);
	done = c->done;
	pthread_mutex_unlock(&c->mu);
	return done;
}

static void *
conc_writer(void *arg)
{
	struct conc *c = arg;
	struct blob_batch bb = {.buf = malloc(BLOB)};

	if (!bb.buf)
		abort();
	for (bb.first = 1; bb.first <= BLOBS; bb.first += BLOBS_PER_TXN) {
		int rc = index_write(c->ix, blob_write, &bb);

		pthread_mutex_lock(&c->mu);
		if (rc == 0)
			c->blobs = bb.first + BLOBS_PER_TXN - 1;
		else
			c->failures++;
		pthread_mutex_unlock(&c->mu);
	}
	free(bb.buf);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void *
conc_trimmer(void *arg)
{
	struct conc *c = arg;
	struct timespec nap = {0, 200 * 1000};

	while (!conc_done(c)) {
		int rc = index_map_trim(c->ix);

		pthread_mutex_lock(&c->mu);
		c->trims++;
		if (rc != 0 && c->trim_rc == 0)
			c->trim_rc = rc;
		pthread_mutex_unlock(&c->mu);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* Reads the newest committed blob whole and checks every byte. */
static bool
blob_check_last(struct conc *c)
{
	struct index_txn *txn;
	struct index_object o;
	char key[32];
	uint64_t last;
	bool ok;

	pthread_mutex_lock(&c->mu);
	last = c->blobs;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return true;
	snprintf(key, sizeof(key), "b/%08llu", (unsigned long long)last);
	if (index_read_begin(c->ix, &txn) != 0)
		return false;
	ok = index_object_get(txn, "big", sl(key), &o) == 0 && o.oid == last &&
	     o.meta.len == BLOB && pattern_check(o.meta.p, BLOB, last);
	index_read_end(txn);
	return ok;
}

static void *
conc_reader(void *arg)
{
	struct conc *c = arg;

	while (!conc_done(c)) {
		bool ok = small_walk_check(c->ix) == SMALL_KEYS && blob_check_last(c);

		pthread_mutex_lock(&c->mu);
		c->walks++;
		c->failures += !ok;
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

static void
test_trim_beside_readers_and_growth(void **state)
{
	struct fx *fx = *state;
	struct conc c = {.ix = fx->ix};
	pthread_t w, t, r[READERS];

	assert_int_equal(pthread_mutex_init(&c.mu, NULL), 0);
	assert_int_equal(pthread_create(&t, NULL, conc_trimmer, &c), 0);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, conc_reader, &c), 0);
	assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
	assert_int_equal(pthread_join(w, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_join(r[i], NULL), 0);
	print_message("%llu trims, %llu walks beside %u MiB of writes\n",
		      (unsigned long long)c.trims, (unsigned long long)c.walks, BLOBS);
	assert_int_equal(c.failures, 0);
	assert_int_equal(c.trim_rc, 0);
	assert_true(c.trims > 10);
	assert_true(c.walks > 0);
	/* the map grew past 64 MiB meanwhile: trims after the resize found the new map */
	assert_true(index_disk_bytes(fx->ix) > 80ull << 20);
	assert_int_equal(index_map_trim(fx->ix), 0);
	small_walk(fx->ix);
	pthread_mutex_destroy(&c.mu);
}

/* ---- the periodic thread ---- */

static void
test_trimmer_thread(void **state)
{
	struct fx *fx = *state;
	uint64_t t0;

	assert_int_equal(index_trimmer_start(fx->ix, 0), 0); /* budget 0: nothing started */
	assert_int_equal(index_map_trims(fx->ix), 0);
	assert_int_equal(index_trimmer_start(fx->ix, 1u << 20), 0);
	assert_int_equal(index_trimmer_start(fx->ix, 1u << 20), -EALREADY);
	/* each walk maps ~4 MiB anew after a trim: the 1 MiB budget is passed again and again */
	for (int i = 0; i < 20; i++) {
		struct timespec nap = {0, 30 * 1000 * 1000};

		small_walk(fx->ix);
		nanosleep(&nap, NULL);
	}
	t0 = index_map_trims(fx->ix);
	print_message("%llu trims in 20 walks\n", (unsigned long long)t0);
	assert_true(t0 >= 3);
	index_trimmer_stop(fx->ix);
	index_trimmer_stop(fx->ix); /* a no-op */
	small_walk(fx->ix);
	assert_int_equal(index_map_trims(fx->ix), t0);
	/* started again, and left running: index_close() stops it */
	assert_int_equal(index_trimmer_start(fx->ix, 1u << 20), 0);
}

static void
test_conf_knob(void **state)
{
	struct conf c;

	(void)state;
	conf_default(&c);
	assert_int_equal(c.index_resident_max, 64u << 20);
	assert_int_equal(conf_set(&c, "index_resident_max", "0"), 0);
	assert_int_equal(c.index_resident_max, 0);
	assert_int_equal(conf_set(&c, "index-resident-max", "1048576"), 0);
	assert_int_equal(c.index_resident_max, 1u << 20);
	assert_int_equal(conf_set(&c, "index_resident_max", "-1"), CAIRN_E_INVAL);
	assert_int_equal(conf_set(&c, "index_resident_max", "64M"), CAIRN_E_INVAL);
	assert_int_equal(c.index_resident_max, 1u << 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_map_is_read_only, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_trim_drops_rss, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_trim_beside_readers_and_growth, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_trimmer_thread, fx_setup, fx_teardown),
	    cmocka_unit_test(test_conf_knob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
