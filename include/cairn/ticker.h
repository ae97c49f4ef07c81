/*
 * ticker.h — a thread that calls one function at a fixed interval until it is stopped: the
 * shape of the engine's periodic housekeeping (saving the MD5 memo, trimming the index map).
 * Stopping wakes the thread at once, so a stop never waits out an interval.
 */
#ifndef CAIRN_TICKER_H
#define CAIRN_TICKER_H

#include <stdint.h>

struct ticker;

/* Called on the ticker's thread; never twice at once. */
typedef void (*ticker_fn)(void *arg);

/* Starts a thread that calls fn(arg) every interval_ms milliseconds, the first time one
 * interval after the start (the wait counts from the end of the previous call). On success *out
 * is the caller's, released by ticker_stop. Returns 0, -EINVAL (interval_ms 0 or above one day,
 * or fn NULL) or -errno from pthread_create. */
int ticker_start(uint64_t interval_ms, ticker_fn fn, void *arg, struct ticker **out);

/* Stops the thread (a call under way finishes first), joins it and frees t. NULL: nothing. */
void ticker_stop(struct ticker *t);

/* Number of calls of fn so far (for tests and statistics). */
uint64_t ticker_calls(struct ticker *t);

#endif
