/*
 * test_nowait.c — who waits for whom in the store: while another writer holds the index write
 * transaction (here a thread parked inside index_write()), readers still open, stat, list and
 * stream objects, and a put still chunks, hashes, compresses and appends its whole body; only
 * its commit waits, and it completes once the transaction ends. A regression that makes readers
 * or the put pipeline take the writer's lock hangs: alarm() turns that into a failure.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cairn/err.h"
#include "cairn/index.h"
#include "cairn/log.h"
#include "cairn/store.h"
#include "store_fixture.h"

#define WATCHDOG_SECONDS 60

/* A writer parked inside its write transaction until released. */
struct holder {
	struct index *ix;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool holding, release;
	int rc;
};

static int
holder_fn(struct index_txn *txn, void *arg)
{
	struct holder *h = arg;

	(void)txn;
	pthread_mutex_lock(&h->mu);
	h->holding = true;
	pthread_cond_broadcast(&h->cv);
	while (!h->release)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

static void *
holder_main(void *arg)
{
	struct holder *h = arg;

	h->rc = index_write(h->ix, holder_fn, h);
	return NULL;
}

/* A put's commit, run on its own thread so the test can see it wait. */
struct committer {
	struct store_put *put;
	struct store_object_info info;
	bool done; /* atomic */
	int rc;
};

static void *
committer_main(void *arg)
{
	struct committer *c = arg;

	c->rc = store_put_commit(c->put, "b", S("new"), (struct slice){NULL, 0}, NULL, &c->info);
	__atomic_store_n(&c->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
put_all(struct store *st, const char *key, const uint8_t *p, size_t len)
{
	struct store_object_info info;
	struct store_put *put;

	assert_int_equal(store_put_begin(st, &put), 0);
	assert_int_equal(store_put_write(put, p, len), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	assert_int_equal(store_put_commit(put, "b", S(key), (struct slice){NULL, 0}, NULL, &info),
			 0);
}

static void
assert_reads_back(struct store *st, const char *key, const uint8_t *want, size_t len)
{
	struct store_get *g;
	uint8_t *got = malloc(len + 1);
	size_t n = 0;

	assert_non_null(got);
	assert_int_equal(store_get_open(st, "b", S(key), &g), 0);
	assert_int_equal(store_get_info(g)->size, len);
	assert_int_equal(store_get_read(g, got, len + 1, &n), 0);
	assert_int_equal(n, len);
	assert_memory_equal(got, want, len);
	/* and a range from the middle */
	assert_int_equal(store_get_seek(g, len / 3), 0);
	assert_int_equal(store_get_read(g, got, 1000, &n), 0);
	assert_int_equal(n, 1000);
	assert_memory_equal(got, want + len / 3, 1000);
	store_get_close(g);
	free(got);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
test_readers_and_put_pipeline_beside_writer(void **state)
{
	const size_t old_len = 3u << 20, new_len = 4u << 20;
	uint8_t *old = gen_data(1, old_len), *fresh = gen_data(2, new_len);
	struct holder h = {.rc = -1};
	struct committer c = {.rc = -1};
	struct store_object_info info;
	struct store_list *l;
	struct store_stats s;
	struct store_fx fx;
	struct slice key;
	pthread_t ht, ct;
	struct store *st;
	uint64_t size;

	(void)state;
	store_fx_open(&fx, "nowait");
	st = fx.st;
	put_all(st, "old", old, old_len);

	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	h.ix = store_index(st);
	assert_int_equal(pthread_create(&ht, NULL, holder_main, &h), 0);
	pthread_mutex_lock(&h.mu);
	while (!h.holding)
		pthread_cond_wait(&h.cv, &h.mu);
	pthread_mutex_unlock(&h.mu);

	alarm(WATCHDOG_SECONDS); /* a reader or the put pipeline waiting on the writer hangs */
	/* Readers: open, stream, seek, stat, list, statistics. */
	assert_reads_back(st, "old", old, old_len);
	assert_int_equal(store_stat(st, "b", S("old"), &info, NULL), 0);
	assert_int_equal(info.size, old_len);
	assert_int_equal(store_list_open(st, "b", &l), 0);
	assert_int_equal(store_list_next(l, &key, &info), 0);
	assert_int_equal(key.len, 3);
	store_list_close(l);
	assert_int_equal(store_stats(st, &s), 0);
	assert_int_equal(s.objects, 1);

	/* A put: its whole body is chunked, hashed, compressed (tried) and appended. */
	assert_int_equal(store_put_begin(st, &c.put), 0);
	for (size_t off = 0; off < new_len; off += 65536)
		assert_int_equal(store_put_write(c.put, fresh + off, 65536), 0);
	assert_int_equal(store_put_finish(c.put, &size, NULL), 0);
	assert_int_equal(size, new_len);
	assert_int_equal(store_stats(st, &s), 0);
	assert_true(s.pack_bytes >= s.stored_bytes + new_len); /* appended, not yet referenced */

	/* Its commit is where writers are serialised: it waits for the other transaction. */
	assert_int_equal(pthread_create(&ct, NULL, committer_main, &c), 0);
	sleep_ms(300);
	assert_false(__atomic_load_n(&c.done, __ATOMIC_SEQ_CST));
	assert_reads_back(st, "old", old, old_len); /* a queued writer blocks no reader either */
	assert_int_equal(store_stat(st, "b", S("new"), &info, NULL), CAIRN_E_NOTFOUND);
	alarm(0);

	pthread_mutex_lock(&h.mu);
	h.release = true;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	pthread_join(ht, NULL);
	assert_int_equal(h.rc, 0);
	pthread_join(ct, NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.info.size, new_len);
	assert_reads_back(st, "new", fresh, new_len);

	store_fx_close(&fx);
	pthread_cond_destroy(&h.cv);
	pthread_mutex_destroy(&h.mu);
	free(old);
	free(fresh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_readers_and_put_pipeline_beside_writer),
	};

	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
