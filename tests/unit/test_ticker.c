#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "cairn/ticker.h"

struct counter {
	atomic_uint calls;
	atomic_bool inside; /* set during a call: two calls at once would find it set */
	atomic_bool overlapped;
};

static void
count_call(void *arg)
{
	struct counter *c = arg;
	struct timespec nap = {0, 2000000};

	if (atomic_exchange(&c->inside, true))
		atomic_store(&c->overlapped, true);
	nanosleep(&nap, NULL); /* longer than the interval: the next wait starts after the call */
	atomic_fetch_add(&c->calls, 1);
	atomic_store(&c->inside, false);
}

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Calls come one after another until the stop; none comes after it. */
static void
test_calls_until_stopped(void **state)
{
	struct counter c = {0};
	struct ticker *t;
	struct timespec nap = {0, 1000000};
	unsigned n;

	(void)state;
	assert_int_equal(ticker_start(1, count_call, &c, &t), 0);
	assert_non_null(t);
	for (int i = 0; i < 10000 && atomic_load(&c.calls) < 5; i++)
		nanosleep(&nap, NULL);
	assert_true(atomic_load(&c.calls) >= 5);
	assert_true(ticker_calls(t) >= 4); /* the count follows each call's end */
	ticker_stop(t);
	n = atomic_load(&c.calls);
	nanosleep(&nap, NULL);
	nanosleep(&nap, NULL);
	assert_int_equal(atomic_load(&c.calls), n);
	assert_false(atomic_load(&c.overlapped));
	assert_false(atomic_load(&c.inside));
}

/* A ticker with a long interval makes no call before it, and its stop does not wait it out. */
static void
test_stop_wakes_the_thread(void **state)
{
	struct counter c = {0};
	struct ticker *t;
	struct timespec nap = {0, 100000000};
	double t0;

	(void)state;
	assert_int_equal(ticker_start(60 * 1000, count_call, &c, &t), 0);
	nanosleep(&nap, NULL); /* so that the thread is waiting, not about to look at the flag */
	t0 = now_s();
	ticker_stop(t);
	assert_true(now_s() - t0 < 30);
	assert_int_equal(atomic_load(&c.calls), 0);
	ticker_stop(NULL);
}

static void
test_bad_arguments(void **state)
{
	struct counter c = {0};
	struct ticker *t = (struct ticker *)&c;

	(void)state;
	assert_int_equal(ticker_start(0, count_call, &c, &t), -EINVAL);
	assert_null(t);
	t = (struct ticker *)&c;
	assert_int_equal(ticker_start(86400ull * 1000 + 1, count_call, &c, &t), -EINVAL);
	assert_null(t);
	assert_int_equal(ticker_start(1000, NULL, &c, &t), -EINVAL);
	assert_null(t);
	assert_int_equal(ticker_start(86400ull * 1000, count_call, &c, &t), 0);
	ticker_stop(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_calls_until_stopped),
	    cmocka_unit_test(test_stop_wakes_the_thread),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
