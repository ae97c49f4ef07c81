/*
 * store.c — opening and closing a data dir, its write lock, buckets, and small helpers shared by
 * the other store_*.c files (see store_internal.h for the map of the module).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/log.h"
#include "cairn/ticker.h"
#include "store_internal.h"

void
store_config_default(struct store_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = "./cairn-data";
	cfg->mode = STORE_MODE_WRITE;
	chunker_params_default(&cfg->chunking);
	cfg->pack_max_bytes = PACK_DEFAULT_MAX_BYTES;
	cfg->zstd_level = 3;
	cfg->md5_memo_bytes = STORE_MD5_MEMO_DEFAULT;
	cfg->md5_memo_save_s = STORE_MD5_MEMO_SAVE_DEFAULT;
}

bool
store_is_writer(const struct store *st)
{
	return st->cfg.mode == STORE_MODE_WRITE;
}

struct index *
store_index(struct store *st)
{
	return st->ix;
}

static char *
store_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (!p)
		abort();
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int
store_mkdir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Takes the data dir's exclusive lock. flock locks belong to the open file description, so a
 * second open of the same dir fails even inside one process, and a crashed holder's lock goes
 * away with its descriptors. */
static int
store_lock(struct store *st)
{
	char *path = store_path_join(st->dir, "LOCK");
	int rc = 0;

	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		rc = -errno;
		goto out_free_path;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? CAIRN_E_LOCKED : -errno;
		close(st->lock_fd);
		st->lock_fd = -1;
	}
out_free_path:
	free(path);
	return rc;
}

/* Creates (when writing) or checks the data dir and takes the lock when writing. */
static int
store_prepare_dir(struct store *st)
{
	struct stat sb;
	int rc;

	if (store_is_writer(st)) {
		rc = store_mkdir(st->dir);
		if (rc < 0)
			return rc;
		rc = store_lock(st);
		if (rc < 0)
			return rc;
		return store_mkdir(st->tmp_dir);
	}
	if (stat(st->dir, &sb) < 0)
		return errno == ENOENT ? CAIRN_E_NOTFOUND : -errno;
	if (!S_ISDIR(sb.st_mode))
		return CAIRN_E_NOTFOUND;
	return 0;
}

static int
store_open_engines(struct store *st)
{
	char *index_dir = store_path_join(st->dir, "index");
	bool writer = store_is_writer(st);
	struct pack_io *io = NULL;
	struct stat sb;
	int rc;

	if (!writer && stat(index_dir, &sb) < 0) {
		rc = errno == ENOENT ? CAIRN_E_NOTFOUND : -errno;
		goto out_free_dir;
	}
	rc = index_open(index_dir, st->cfg.mode == STORE_MODE_READ, &st->ix);
	if (rc < 0)
		goto out_free_dir;
	rc = pack_io_file_open(st->packs_dir, writer, &io);
	if (rc < 0)
		goto out_free_dir;
	rc = packstore_open(io, st->cfg.pack_max_bytes, writer, &st->ps);
out_free_dir:
	free(index_dir);
	return rc;
}

/* ---- the encoder pool (store_internal.h, STORE_ENC_MAX) ---- */

struct store_enc *
store_enc_get(struct store *st)
{
	struct store_enc *e = NULL;

	pthread_mutex_lock(&st->enc_mu);
	while (st->nenc_free == 0 && st->nenc == STORE_ENC_MAX)
		pthread_cond_wait(&st->enc_cv, &st->enc_mu);
	if (st->nenc_free > 0)
		e = st->enc_free[--st->nenc_free];
	else
		st->nenc++;
	pthread_mutex_unlock(&st->enc_mu);
	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->enc = pack_encoder_new(st->cfg.zstd_level);
	buf_init(&e->rec, STORE_RECORD_MAX);
	return e;
}

void
store_enc_put(struct store *st, struct store_enc *e)
{
	pthread_mutex_lock(&st->enc_mu);
	st->enc_free[st->nenc_free++] = e;
	pthread_cond_signal(&st->enc_cv);
	pthread_mutex_unlock(&st->enc_mu);
}

static void
store_enc_free_all(struct store *st)
{
	struct store_enc *e;

	while (st->nenc_free > 0) {
		e = st->enc_free[--st->nenc_free];
		pack_encoder_free(e->enc);
		buf_fini(&e->rec);
		free(e);
	}
}

static int
store_init_sync(struct store *st)
{
	int rc = store_inflight_init(&st->fl);

	if (rc < 0)
		return rc;
	rc = store_pins_init(&st->pins);
	if (rc < 0)
		return rc;
	rc = store_gc_init(st);
	if (rc < 0)
		return rc;
	if (pthread_mutex_init(&st->enc_mu, NULL) != 0 || pthread_cond_init(&st->enc_cv, NULL) ||
	    pthread_mutex_init(&st->hook_mu, NULL))
		abort();
	store_committer_init(&st->commit);
	return 0;
}

/* ---- the MD5 memo's file: <data>/md5memo, read at open, written every md5_memo_save_s and at
 * close ---- */

#define STORE_MD5MEMO_FILE "md5memo"
#define STORE_MD5MEMO_TMP "md5memo.tmp"

/* Starts the memo with the facts the last writer saved. A missing file is the normal first
 * start; a damaged one is left out (a memo only saves work) and replaced at close. */
static void
store_md5memo_load(struct store *st)
{
	char *path;
	uint64_t n = 0;
	int fd, rc;

	if (!st->md5memo)
		return;
	path = store_path_join(st->dir, STORE_MD5MEMO_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("store: MD5 memo %s not read: %s", path, strerror(errno));
		free(path);
		return;
	}
	rc = md5memo_load(st->md5memo, fd, &n);
	close(fd);
	if (rc < 0)
		log_warn("store: MD5 memo %s left out: %s", path, cairn_strerror(rc));
	else
		log_info("store: MD5 memo: %llu facts from %s", (unsigned long long)n, path);
	free(path);
}

/* When the memo learned or served anything since the last save (a hit reorders its bucket),
 * saves it for the next start: written beside, then renamed over the old file (no fsync: a file
 * torn by a crash fails its checksum at the next start and is left out). The saver thread and
 * store_close call it, never both at once (close stops the thread first). */
static void
store_md5memo_save(struct store *st)
{
	struct md5memo_stats ms;
	char *tmp, *path;
	int fd, rc;

	md5memo_stats(st->md5memo, &ms);
	if (ms.hits == st->md5memo_saved.hits && ms.puts == st->md5memo_saved.puts)
		return;
	tmp = store_path_join(st->dir, STORE_MD5MEMO_TMP);
	path = store_path_join(st->dir, STORE_MD5MEMO_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = fd < 0 ? -errno : md5memo_save(st->md5memo, fd);
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		log_warn("store: MD5 memo not saved to %s: %s", path, cairn_strerror(rc));
		unlink(tmp);
	} else {
		st->md5memo_saved = ms;
	}
	free(tmp);
	free(path);
}

static void
store_md5memo_tick(void *arg)
{
	store_md5memo_save(arg);
}

/* Starts the periodic save, when there is a memo and an interval. A thread that cannot start
 * only costs the memo's facts at a crash: logged, not fatal. */
static void
store_md5memo_saver_start(struct store *st)
{
	int rc;

	if (!st->md5memo || st->cfg.md5_memo_save_s == 0)
		return;
	rc = ticker_start((uint64_t)st->cfg.md5_memo_save_s * 1000, store_md5memo_tick, st,
			  &st->md5memo_saver);
	if (rc < 0)
		log_warn("store: MD5 memo saved only at a clean stop: %s", cairn_strerror(rc));
}

/* Stops the periodic save, logs the memo's counters and saves it a last time. */
static void
store_md5memo_close(struct store *st)
{
	struct md5memo_stats ms;

	ticker_stop(st->md5memo_saver);
	st->md5memo_saver = NULL;
	if (!st->md5memo)
		return;
	md5memo_stats(st->md5memo, &ms);
	log_info("store: MD5 memo %llu hits, %llu misses, %llu recorded",
		 (unsigned long long)ms.hits, (unsigned long long)ms.misses,
		 (unsigned long long)ms.puts);
	store_md5memo_save(st);
}

int
store_open(const struct store_config *cfg, struct store **out)
{
	struct store *st;
	int rc;

	*out = NULL;
	if (!cfg->data_dir || !cfg->data_dir[0] || chunker_params_check(&cfg->chunking) < 0)
		return CAIRN_E_INVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	st->cfg = *cfg;
	st->dir = strdup(cfg->data_dir);
	if (!st->dir)
		abort();
	st->cfg.data_dir = st->dir;
	st->tmp_dir = store_path_join(st->dir, "tmp");
	st->packs_dir = store_path_join(st->dir, "packs");
	st->lock_fd = -1;
	rc = store_init_sync(st);
	if (rc < 0)
		goto out_close;
	rc = store_prepare_dir(st);
	if (rc < 0)
		goto out_close;
	rc = store_open_engines(st);
	if (rc < 0)
		goto out_close;
	if (store_is_writer(st)) {
		rc = store_md5_start(&st->md5);
		if (rc < 0)
			goto out_close;
		/* none when off or too small to hold a bucket; puts then hash every byte */
		st->md5memo = md5memo_new((size_t)cfg->md5_memo_bytes);
		store_md5memo_load(st);
		store_md5memo_saver_start(st);
		rc = store_zombies_release_all(st);
		if (rc < 0)
			goto out_close;
	}
	*out = st;
	return 0;
out_close:
	store_close(st);
	return rc;
}

void
store_close(struct store *st)
{

	if (!st)
		return;
	if (st->commit.counters.txns)
		log_info("store: %llu commits in %llu index transactions (at most %llu in one)",
			 (unsigned long long)st->commit.counters.commits,
			 (unsigned long long)st->commit.counters.txns,
			 (unsigned long long)st->commit.counters.batch_max);
	store_md5_stop(&st->md5);
	store_md5memo_close(st);
	md5memo_free(st->md5memo);
	packstore_close(st->ps);
	index_close(st->ix);
	store_enc_free_all(st);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* drops the flock */
	store_inflight_fini(&st->fl);
	store_pins_fini(&st->pins);
	store_gc_fini(st);
	pthread_cond_destroy(&st->enc_cv);
	pthread_mutex_destroy(&st->enc_mu);
	pthread_mutex_destroy(&st->hook_mu);
	store_committer_fini(&st->commit);
	free(st->tmp_dir);
	free(st->packs_dir);
	free(st->dir);
	free(st);
}

int
store_tmpfile(struct store *st)
{
	char path[] = "/tmp/cairn-tmp-XXXXXX";
	int fd;

	fd = open(st->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* A file system without O_TMPFILE: a named file, unlinked at once. */
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

void
store_etag_format(const uint8_t md5[16], uint32_t parts, char out[64])
{
	char hex[33];

	hex_encode(md5, 16, hex);
	if (parts > 0)
		snprintf(out, 64, "\"%s-%u\"", hex, parts);
	else
		snprintf(out, 64, "\"%s\"", hex);
}

void
store_info_from_object(const struct index_object *obj, struct store_object_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = obj->size;
	info->mtime_ns = obj->mtime_ns;
	memcpy(info->md5, obj->md5, 16);
	info->parts = obj->parts;
	store_etag_format(obj->md5, obj->parts, info->etag);
}

int64_t
store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
store_key_check(struct slice key)
{
	if (key.len == 0 || key.len > INDEX_KEY_MAX)
		return CAIRN_E_INVAL;
	return 0;
}

/* Compares an If-Match value (quoted or not, or "*") with the current object's ETag. */
static bool
store_etag_matches(const char *want, const struct index_object *cur)
{
	char etag[64];
	size_t n = strlen(want);

	if (strcmp(want, "*") == 0)
		return true;
	store_etag_format(cur->md5, cur->parts, etag);
	if (n >= 2 && want[0] == '"' && want[n - 1] == '"')
		return n == strlen(etag) && memcmp(want, etag, n) == 0;
	return n + 2 == strlen(etag) && memcmp(want, etag + 1, n) == 0;
}

int
store_cond_check(const struct store_put_cond *cond, bool exists, const struct index_object *cur)
{
	if (!cond)
		return 0;
	if (cond->if_none_match_any && exists)
		return CAIRN_E_PRECONDITION;
	/* AWS answers If-Match on a key with no current object 404 NoSuchKey, not 412 */
	if (cond->if_match && !exists)
		return CAIRN_E_NOKEY;
	if (cond->if_match && !store_etag_matches(cond->if_match, cur))
		return CAIRN_E_PRECONDITION;
	return 0;
}

void
store_set_read_hook(struct store *st, void (*fn)(const struct chunk_id *id, void *arg), void *arg)
{
	pthread_mutex_lock(&st->hook_mu);
	st->hook = fn;
	st->hook_arg = arg;
	pthread_mutex_unlock(&st->hook_mu);
}

void
store_call_read_hook(struct store *st, const struct chunk_id *id)
{
	void (*fn)(const struct chunk_id *id, void *arg);
	void *arg;

	pthread_mutex_lock(&st->hook_mu);
	fn = st->hook;
	arg = st->hook_arg;
	pthread_mutex_unlock(&st->hook_mu);
	if (fn)
		fn(id, arg);
}
