/*
 * scrub.c — the background scrubber (scrub.h).
 *
 * Pacing: the thread keeps the bytes verified since the start of a round at or below rate times
 * the time elapsed, sleeping on a condition variable (so stopping is immediate). A chunk that
 * vanished between the listing and the read (dropped by the compactor) is skipped silently; a
 * moved one is followed (store_record_read).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "cairn/scrub.h"
#include "gc_priv.h"

#define SCRUB_BATCH 64
#define SCRUB_IDLE_S 10 /* pause between rounds */

struct scrub {
	struct store *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct scrub_status s;
	uint64_t round_errors; /* s.errors when the round began */
	/* the thread's own */
	struct chunk_id ids[SCRUB_BATCH];
	struct chunk_loc locs[SCRUB_BATCH];
	size_t n;
	struct chunk_id after;
	bool have_after;
	struct buf rec;
	struct buf raw;
};

static int64_t
scrub_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps until the monotonic time t (ns) or stop. Returns false when stopping. */
static bool
scrub_sleep_until(struct scrub *sc, int64_t t)
{
	int64_t left = t - scrub_now_ns(CLOCK_MONOTONIC), at;
	struct timespec deadline;
	bool go;

	pthread_mutex_lock(&sc->mu);
	if (left > 0 && !sc->stop) {
		at = scrub_now_ns(CLOCK_REALTIME) + left;
		deadline.tv_sec = (time_t)(at / 1000000000);
		deadline.tv_nsec = (long)(at % 1000000000);
		while (!sc->stop &&
		       pthread_cond_timedwait(&sc->cv, &sc->mu, &deadline) != ETIMEDOUT)
			;
	}
	go = !sc->stop;
	pthread_mutex_unlock(&sc->mu);
	return go;
}

static int
scrub_collect(const struct chunk_id *id, const struct index_chunk *c, void *arg)
{
	struct scrub *sc = arg;

	sc->ids[sc->n] = *id;
	sc->locs[sc->n] = c->loc;
	return ++sc->n == SCRUB_BATCH ? 1 : 0;
}

/* The next batch of chunk entries after the last one seen (a short read txn). */
static int
scrub_next_batch(struct scrub *sc)
{
	struct index_txn *txn;
	int rc;

	sc->n = 0;
	rc = index_read_begin(sc->st->ix, &txn);
	if (rc < 0)
		return rc;
	rc = index_chunk_iter_after(txn, sc->have_after ? &sc->after : NULL, scrub_collect, sc);
	index_read_end(txn);
	if (rc < 0)
		return rc;
	if (sc->n) {
		sc->after = sc->ids[sc->n - 1];
		sc->have_after = true;
	}
	return 0;
}

/* Verifies one record completely. Returns its bytes (0 when it vanished). */
static uint64_t
scrub_one(struct scrub *sc, size_t i)
{
	char hex[2 * CHUNK_ID_LEN + 1];
	struct chunk_loc loc = sc->locs[i];
	int rc;

	rc = store_record_read(sc->st, &sc->ids[i], &loc, &sc->rec);
	if (rc == 0)
		rc = pack_record_decode(sc->rec.p, sc->rec.len, true, &sc->raw);
	if (rc == -ENOENT && store_chunk_indexed(sc->st, &sc->ids[i], NULL) == 0)
		return 0; /* dropped by the compactor meanwhile */
	pthread_mutex_lock(&sc->mu);
	sc->s.chunks++;
	sc->s.pass_chunks++;
	sc->s.bytes += loc.record_len;
	if (rc < 0) {
		chunk_id_hex(&sc->ids[i], hex);
		sc->s.errors++;
		memcpy(sc->s.last_bad, hex, sizeof(hex));
		sc->s.last_bad_ns = scrub_now_ns(CLOCK_REALTIME);
	}
	pthread_mutex_unlock(&sc->mu);
	if (rc < 0)
		log_error("scrub: chunk %s (pack %" PRIu32 " offset %" PRIu64 " length %" PRIu32
			  "): %s; `cairn fsck` names the objects that use it",
			  hex, loc.pack_id, loc.offset, loc.record_len, cairn_strerror(rc));
	return loc.record_len;
}

/* Ends a round; logs it (at info when it found damage). Returns false when stopping. */
static bool
scrub_round_end(struct scrub *sc)
{
	pthread_mutex_lock(&sc->mu);
	sc->s.passes++;
	if (sc->s.errors > sc->round_errors)
		log_info("scrub: round %" PRIu64 " done: %" PRIu64 " chunks verified, %" PRIu64
			 " damaged",
			 sc->s.passes, sc->s.pass_chunks, sc->s.errors - sc->round_errors);
	sc->round_errors = sc->s.errors;
	sc->s.pass_chunks = 0;
	pthread_mutex_unlock(&sc->mu);
	sc->have_after = false;
	return scrub_sleep_until(sc, scrub_now_ns(CLOCK_MONOTONIC) +
					 (int64_t)SCRUB_IDLE_S * 1000000000);
}

static void *
scrub_main(void *arg)
{
	struct scrub *sc = arg;
	int64_t t0 = scrub_now_ns(CLOCK_MONOTONIC), budget_ns;
	uint64_t done = 0;
	size_t i;

	for (;;) {
		if (scrub_next_batch(sc) < 0 || sc->n == 0) {
			if (!scrub_round_end(sc))
				break;
			t0 = scrub_now_ns(CLOCK_MONOTONIC);
			done = 0;
			continue;
		}
		for (i = 0; i < sc->n; i++) {
			done += scrub_one(sc, i);
			budget_ns = (int64_t)((double)done * 1e9 / (double)sc->s.rate);
			if (!scrub_sleep_until(sc, t0 + budget_ns))
				return NULL;
		}
	}
	return NULL;
}

int
scrub_start(struct store *st, uint64_t rate)
{
	struct scrub *sc;
	int rc;

	if (rate == 0)
		return CAIRN_E_INVAL;
	if (st->gc->scrub)
		return CAIRN_E_EXISTS;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		abort();
	sc->st = st;
	sc->s.enabled = true;
	sc->s.rate = rate;
	buf_init(&sc->rec, STORE_RECORD_MAX);
	buf_init(&sc->raw, CHUNKER_MAX_SIZE_CEIL);
	if (pthread_mutex_init(&sc->mu, NULL) != 0 || pthread_cond_init(&sc->cv, NULL) != 0)
		abort();
	rc = -pthread_create(&sc->thread, NULL, scrub_main, sc);
	if (rc < 0) {
		pthread_cond_destroy(&sc->cv);
		pthread_mutex_destroy(&sc->mu);
		buf_fini(&sc->raw);
		buf_fini(&sc->rec);
		free(sc);
		return rc;
	}
	st->gc->scrub = sc;
	return 0;
}

void
scrub_stop(struct store *st)
{
	struct scrub *sc = st->gc ? st->gc->scrub : NULL;

	if (!sc)
		return;
	pthread_mutex_lock(&sc->mu);
	sc->stop = true;
	pthread_cond_broadcast(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
	pthread_join(sc->thread, NULL);
	st->gc->scrub = NULL;
	pthread_cond_destroy(&sc->cv);
	pthread_mutex_destroy(&sc->mu);
	buf_fini(&sc->raw);
	buf_fini(&sc->rec);
	free(sc);
}

void
scrub_status(struct store *st, struct scrub_status *out)
{
	struct scrub *sc = st->gc ? st->gc->scrub : NULL;

	memset(out, 0, sizeof(*out));
	if (!sc)
		return;
	pthread_mutex_lock(&sc->mu);
	*out = sc->s;
	pthread_mutex_unlock(&sc->mu);
}

int
scrub_status_json(const struct scrub_status *s, struct buf *out)
{
	char line[512];

	snprintf(line, sizeof(line),
		 "{\"enabled\":%s,\"rate\":%" PRIu64 ",\"passes\":%" PRIu64 ",\"chunks\":%" PRIu64
		 ",\"bytes\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"pass_chunks\":%" PRIu64
		 ",\"last_bad\":\"%s\",\"last_bad_ns\":%" PRId64 "}",
		 s->enabled ? "true" : "false", s->rate, s->passes, s->chunks, s->bytes, s->errors,
		 s->pass_chunks, s->last_bad, (int64_t)s->last_bad_ns);
	return buf_append_str(out, line);
}
