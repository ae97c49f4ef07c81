/*
 * gc_service.c — cairnd's compaction thread: a run every interval (when configured) and one
 * whenever the admin endpoint asks (requests coalesce). All runs of a store happen on this thread
 * once it is started, so an HTTP request never runs a compaction itself: it asks, and may wait.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "gc_priv.h"

struct gc_svc {
	struct store *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* state changes: request, run start/end, stop */
	struct gc_config cfg;
	uint64_t interval_s;
	bool stop;
	bool pending;
	bool running;
	uint64_t started; /* runs started */
	uint64_t runs;	  /* runs finished */
	int last_rc;
	int64_t last_end_ns;
	struct gc_result last;
};

static int64_t
gc_svc_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits for a request, the interval, or stop. Returns true when a run is due. Lock held. */
static bool
gc_svc_wait(struct gc_svc *svc)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)svc->interval_s;
	while (!svc->stop && !svc->pending) {
		if (svc->interval_s == 0) {
			pthread_cond_wait(&svc->cv, &svc->mu);
		} else if (pthread_cond_timedwait(&svc->cv, &svc->mu, &deadline) == ETIMEDOUT) {
			return !svc->stop;
		}
	}
	return !svc->stop;
}

static void *
gc_svc_main(void *arg)
{
	struct gc_svc *svc = arg;
	struct gc_result res;
	int rc;

	pthread_mutex_lock(&svc->mu);
	while (gc_svc_wait(svc)) {
		svc->pending = false;
		svc->running = true;
		svc->started++;
		pthread_cond_broadcast(&svc->cv);
		pthread_mutex_unlock(&svc->mu);
		rc = gc_run(svc->st, &svc->cfg, &res);
		pthread_mutex_lock(&svc->mu);
		svc->running = false;
		svc->runs++;
		svc->last_rc = rc;
		svc->last = res;
		svc->last_end_ns = gc_svc_wall_ns();
		pthread_cond_broadcast(&svc->cv);
	}
	pthread_mutex_unlock(&svc->mu);
	return NULL;
}

int
gc_service_start(struct store *st, const struct gc_config *cfg, uint64_t interval_s)
{
	struct gc_svc *svc;
	int rc;

	if (!store_is_writer(st))
		return CAIRN_E_READONLY;
	if (st->gc->svc)
		return CAIRN_E_EXISTS;
	if (!(cfg->threshold > 0 && cfg->threshold <= 1))
		return CAIRN_E_INVAL;
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		abort();
	svc->st = st;
	svc->cfg = *cfg;
	svc->interval_s = interval_s;
	if (pthread_mutex_init(&svc->mu, NULL) != 0 || pthread_cond_init(&svc->cv, NULL) != 0)
		abort();
	rc = -pthread_create(&svc->thread, NULL, gc_svc_main, svc);
	if (rc < 0) {
		pthread_cond_destroy(&svc->cv);
		pthread_mutex_destroy(&svc->mu);
		free(svc);
		return rc;
	}
	st->gc->svc = svc;
	return 0;
}

void
gc_service_stop(struct store *st)
{
	struct gc_svc *svc = st->gc ? st->gc->svc : NULL;

	if (!svc)
		return;
	pthread_mutex_lock(&st->gc->mu);
	st->gc->stopping = true; /* a run waiting for grace gives up (defers its pack) */
	pthread_cond_broadcast(&st->gc->cv);
	pthread_mutex_unlock(&st->gc->mu);
	pthread_mutex_lock(&svc->mu);
	svc->stop = true;
	pthread_cond_broadcast(&svc->cv);
	pthread_mutex_unlock(&svc->mu);
	pthread_join(svc->thread, NULL);
	pthread_mutex_lock(&st->gc->mu);
	st->gc->stopping = false;
	pthread_mutex_unlock(&st->gc->mu);
	st->gc->svc = NULL;
	pthread_cond_destroy(&svc->cv);
	pthread_mutex_destroy(&svc->mu);
	free(svc);
}

/* Fills out from svc. Lock held. */
static void
gc_svc_status_locked(const struct gc_svc *svc, struct gc_status *out)
{
	memset(out, 0, sizeof(*out));
	out->enabled = true;
	out->running = svc->running;
	out->pending = svc->pending;
	out->runs = svc->runs;
	out->last_rc = svc->last_rc;
	out->last_end_ns = svc->last_end_ns;
	out->last = svc->last;
	out->interval_s = svc->interval_s;
}

int
gc_service_trigger(struct store *st, uint32_t wait_s, struct gc_status *status)
{
	struct gc_svc *svc = st->gc ? st->gc->svc : NULL;
	struct timespec deadline;
	uint64_t want;
	int rc = 0;

	if (!svc)
		return CAIRN_E_NOTFOUND;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_s;
	pthread_mutex_lock(&svc->mu);
	/* The run that serves this request is the next one to start. */
	want = svc->started + 1;
	svc->pending = true;
	pthread_cond_broadcast(&svc->cv);
	while (wait_s > 0 && svc->runs < want && !svc->stop && rc == 0) {
		if (pthread_cond_timedwait(&svc->cv, &svc->mu, &deadline) == ETIMEDOUT)
			rc = -ETIMEDOUT;
	}
	if (rc == -ETIMEDOUT && svc->runs >= want)
		rc = 0;
	if (status)
		gc_svc_status_locked(svc, status);
	pthread_mutex_unlock(&svc->mu);
	return rc;
}

void
gc_service_status(struct store *st, struct gc_status *out)
{
	struct gc_svc *svc = st->gc ? st->gc->svc : NULL;

	memset(out, 0, sizeof(*out));
	if (!svc)
		return;
	pthread_mutex_lock(&svc->mu);
	gc_svc_status_locked(svc, out);
	pthread_mutex_unlock(&svc->mu);
}

int
gc_status_json(const struct gc_status *s, struct buf *out)
{
	char head[256];
	int rc;

	snprintf(head, sizeof(head),
		 "{\"enabled\":%s,\"running\":%s,\"pending\":%s,\"runs\":%" PRIu64
		 ",\"interval_s\":%" PRIu64 ",\"last_error\":\"%s\",\"last_end_ns\":%" PRId64
		 ",\"last\":",
		 s->enabled ? "true" : "false", s->running ? "true" : "false",
		 s->pending ? "true" : "false", s->runs, s->interval_s,
		 s->last_rc < 0 ? cairn_strerror(s->last_rc) : "", (int64_t)s->last_end_ns);
	rc = buf_append_str(out, head);
	if (rc == 0)
		rc = gc_result_json(&s->last, out);
	if (rc == 0)
		rc = buf_append_str(out, "}");
	return rc;
}
