/*
 * ticker.c — one thread per ticker, sleeping on a condition variable against CLOCK_MONOTONIC
 * (wall-clock jumps neither fire nor starve it) so that ticker_stop wakes it at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "cairn/ticker.h"

#define TICKER_INTERVAL_MAX_MS (86400ull * 1000)

struct ticker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled by ticker_stop */
	bool stop;	   /* under mu */
	uint64_t calls;	   /* under mu */
	uint64_t interval_ms;
	ticker_fn fn;
	void *arg;
};

/* The CLOCK_MONOTONIC time ms milliseconds from now. */
static struct timespec
ticker_deadline(uint64_t ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void *
ticker_main(void *arg)
{
	struct ticker *t = arg;
	struct timespec due;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		due = ticker_deadline(t->interval_ms);
		/* Spurious wakeups loop back here until the deadline or a stop. */
		while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &due) != ETIMEDOUT)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->mu);
		t->fn(t->arg);
		pthread_mutex_lock(&t->mu);
		t->calls++;
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static void
ticker_free(struct ticker *t)
{
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int
ticker_start(uint64_t interval_ms, ticker_fn fn, void *arg, struct ticker **out)
{
	struct ticker *t;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!fn || interval_ms == 0 || interval_ms > TICKER_INTERVAL_MAX_MS)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		abort();
	t->interval_ms = interval_ms;
	t->fn = fn;
	t->arg = arg;
	if (pthread_condattr_init(&ca) || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&t->cv, &ca) || pthread_mutex_init(&t->mu, NULL))
		abort();
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&t->thread, NULL, ticker_main, t);
	if (rc) {
		ticker_free(t);
		return -rc;
	}
	*out = t;
	return 0;
}

void
ticker_stop(struct ticker *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	ticker_free(t);
}

uint64_t
ticker_calls(struct ticker *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->mu);
	n = t->calls;
	pthread_mutex_unlock(&t->mu);
	return n;
}
