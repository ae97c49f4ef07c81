/*
 * index.c — the LMDB environment: opening, transactions, map growth and error translation.
 * Record codecs and the small tables live in index_records.c, the object key tree in
 * index_objects.c.
 *
 * Map growth. mdb_env_set_mapsize() remaps the file, so no transaction of this process may be
 * live while it runs (LMDB does not check). Every transaction holds the gate (index_priv.h)
 * shared for its life; a resize holds it exclusive. index_write() releases its shared hold
 * before asking for the exclusive one, so it never waits on itself. Two consequences for
 * callers: a thread must not call index_write() (or begin a second read transaction) while it
 * holds a read transaction, or a resize requested meanwhile would wait for it forever.
 *
 * Another process may grow the map too (cairn user add beside cairnd): LMDB then fails
 * mdb_txn_begin() with MDB_MAP_RESIZED, and we adopt the new size (mdb_env_set_mapsize(env, 0))
 * under the exclusive gate and begin again.
 *
 * The map may move on every resize, so index_trim.c, which drops the map's pages from this
 * process's page tables, works under the shared gate too, and every resize forgets the map's
 * address it had found (index_map_forget) before releasing the exclusive one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cairn/err.h"
#include "cairn/log.h"
#include "index_priv.h"

#define INDEX_MAX_READERS 2048
#define INDEX_MAX_DBS 16
/* The map never grows past this (virtual address space, not disk). */
#define INDEX_MAP_MAX (1ull << 42)
/* Attempts of one index_write() / index_read_begin() (doublings from 64 MiB to 4 TiB need 16). */
#define INDEX_ATTEMPTS_MAX 64

static const char *const index_db_names[INDEX_DB_COUNT] = {
    [INDEX_DB_BUCKETS] = "buckets",   [INDEX_DB_OBJECTS] = "objects",
    [INDEX_DB_OBJTAILS] = "objtails", [INDEX_DB_PAGES] = "pages",
    [INDEX_DB_CHUNKS] = "chunks",     [INDEX_DB_CHUNKIDS] = "chunkids",
    [INDEX_DB_PACKS] = "packs",	      [INDEX_DB_ZOMBIES] = "zombies",
    [INDEX_DB_USERS] = "users",	      [INDEX_DB_META] = "meta",
    [INDEX_DB_UPLOADS] = "uploads",   [INDEX_DB_PARTS] = "parts",
    [INDEX_DB_HEALS] = "heals",
};

/* mdb_dbi_open() flags besides MDB_CREATE: chunkids packs its 9-byte items with no per-item
 * overhead (index_chunks.c). */
static const unsigned index_db_flags[INDEX_DB_COUNT] = {
    [INDEX_DB_CHUNKIDS] = MDB_DUPSORT | MDB_DUPFIXED,
};

int
index_mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return CAIRN_E_NOTFOUND;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_PAGE_NOTFOUND:
		log_error("index: %s", mdb_strerror(rc));
		return CAIRN_E_CORRUPT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_VERSION_MISMATCH:
		log_error("index: %s", mdb_strerror(rc));
		return CAIRN_E_VERSION;
	default:
		break;
	}
	if (rc > 0)
		return -rc; /* an errno value */
	log_error("index: %s", mdb_strerror(rc));
	return -EIO;
}

int
index_txn_err(struct index_txn *t, int rc)
{
	if (rc == MDB_MAP_FULL)
		t->map_full = true;
	return index_mdb_err(rc);
}

/* ---- the gate ---- */

static void
index_gate_init(struct index_gate *g)
{
	if (pthread_mutex_init(&g->mu, NULL) || pthread_cond_init(&g->cv, NULL))
		abort();
	g->readers = 0;
	g->waiting = 0;
	g->exclusive = false;
}

static void
index_gate_fini(struct index_gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

void
index_gate_shared(struct index_gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (g->exclusive || g->waiting)
		pthread_cond_wait(&g->cv, &g->mu);
	g->readers++;
	pthread_mutex_unlock(&g->mu);
}

void
index_gate_shared_end(struct index_gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->readers--;
	if (!g->readers && g->waiting)
		pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
index_gate_exclusive(struct index_gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->waiting++;
	while (g->exclusive || g->readers)
		pthread_cond_wait(&g->cv, &g->mu);
	g->waiting--;
	g->exclusive = true;
	pthread_mutex_unlock(&g->mu);
}

static void
index_gate_exclusive_end(struct index_gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->exclusive = false;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Remaps to size bytes (0: the size another process recorded). Call without holding the gate. */
static int
index_map_set(struct index *ix, size_t size)
{
	int rc;

	index_gate_exclusive(&ix->gate);
	rc = mdb_env_set_mapsize(ix->env, size);
	index_map_forget(ix);
	index_gate_exclusive_end(&ix->gate);
	return index_mdb_err(rc);
}

static int
index_map_grow(struct index *ix)
{
	MDB_envinfo info;
	int rc;

	index_gate_exclusive(&ix->gate);
	rc = mdb_env_info(ix->env, &info);
	if (rc == 0 && info.me_mapsize >= INDEX_MAP_MAX)
		rc = ENOSPC;
	if (rc == 0)
		rc = mdb_env_set_mapsize(ix->env, info.me_mapsize * 2);
	index_map_forget(ix);
	index_gate_exclusive_end(&ix->gate);
	if (rc == 0)
		log_info("index: map grown to %zu MiB", info.me_mapsize * 2 >> 20);
	return index_mdb_err(rc);
}

/* ---- open / close ---- */

static int
index_format_check(struct index_txn *t)
{
	static const MDB_val k = {.mv_size = 6, .mv_data = "format"};
	struct index_wr w;
	struct index_rd r;
	MDB_val v;
	uint8_t *p;
	uint32_t format;
	int rc;

	rc = index_db_get(t, INDEX_DB_META, &k, &v);
	if (rc == CAIRN_E_NOTFOUND && t->write) {
		rc = index_db_put(t, INDEX_DB_META, &k, 5, &p);
		if (rc < 0)
			return rc;
		index_wr_init(&w, p, 5);
		index_wr_u8(&w, INDEX_RECORD_VERSION);
		index_wr_u32(&w, INDEX_FORMAT);
		index_wr_done(&w);
		return 0;
	}
	if (rc == CAIRN_E_NOTFOUND)
		return 0; /* read-only beside a writer that has not committed its first txn */
	if (rc < 0)
		return rc;
	rc = index_rd_begin(&r, &v);
	if (rc < 0)
		return rc;
	format = index_rd_u32(&r);
	rc = index_rd_end(&r);
	if (rc == 0 && format != INDEX_FORMAT)
		rc = CAIRN_E_VERSION;
	return rc;
}

/* Opens every named table (creating them unless read-only) and checks the format marker. */
static int
index_open_dbs(struct index *ix)
{
	struct index_txn t = {.ix = ix, .write = !ix->readonly};
	unsigned flags = ix->readonly ? 0 : MDB_CREATE;
	int rc;

	rc = mdb_txn_begin(ix->env, NULL, ix->readonly ? MDB_RDONLY : 0, &t.txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map since mdb_env_open(); no txn is live yet. */
		rc = mdb_env_set_mapsize(ix->env, 0);
		if (!rc)
			rc = mdb_txn_begin(ix->env, NULL, ix->readonly ? MDB_RDONLY : 0, &t.txn);
	}
	if (rc)
		return index_mdb_err(rc);
	/* meta first: an index of another format is refused before any table is made */
	rc = index_mdb_err(
	    mdb_dbi_open(t.txn, index_db_names[INDEX_DB_META], flags, &ix->dbi[INDEX_DB_META]));
	if (rc == 0)
		rc = index_format_check(&t);
	if (rc < 0)
		goto out_abort;
	for (int i = 0; i < INDEX_DB_COUNT; i++) {
		if (i == INDEX_DB_META)
			continue;
		rc = mdb_dbi_open(t.txn, index_db_names[i], flags | index_db_flags[i], &ix->dbi[i]);
		if (rc == MDB_NOTFOUND && ix->readonly && i >= INDEX_DB_UPLOADS) {
			ix->absent[i] = true; /* made by the first writer of this build */
			continue;
		}
		if (rc) {
			rc = index_mdb_err(rc);
			goto out_abort;
		}
	}
	/* Committing (also a read-only txn) keeps the table handles open for the env. */
	return index_mdb_err(mdb_txn_commit(t.txn));
out_abort:
	mdb_txn_abort(t.txn);
	return rc;
}

static int
index_env_open(struct index *ix, const char *dir)
{
	MDB_envinfo info;
	int rc;

	rc = mdb_env_create(&ix->env);
	if (rc)
		return index_mdb_err(rc);
	rc = mdb_env_set_maxreaders(ix->env, INDEX_MAX_READERS);
	if (!rc)
		rc = mdb_env_set_maxdbs(ix->env, INDEX_MAX_DBS);
	/* The map size is left unset: an existing index opens with the size recorded in it. */
	if (!rc)
		rc = mdb_env_open(ix->env, dir, MDB_NOTLS | (ix->readonly ? MDB_RDONLY : 0), 0600);
	if (!rc && !ix->readonly)
		rc = mdb_env_info(ix->env, &info);
	if (!rc && !ix->readonly && info.me_mapsize < INDEX_DEFAULT_MAP_BYTES)
		rc = mdb_env_set_mapsize(ix->env, INDEX_DEFAULT_MAP_BYTES);
	if (rc) {
		mdb_env_close(ix->env);
		ix->env = NULL;
	}
	return index_mdb_err(rc);
}

int
index_open(const char *dir, bool readonly, struct index **out)
{
	struct index *ix;
	size_t n;
	int rc;

	*out = NULL;
	if (!dir || !*dir)
		return CAIRN_E_INVAL;
	if (!readonly && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		abort();
	ix->readonly = readonly;
	n = strlen(dir) + sizeof("/data.mdb");
	ix->data_path = malloc(n);
	if (!ix->data_path)
		abort();
	snprintf(ix->data_path, n, "%s/data.mdb", dir);
	rc = index_env_open(ix, dir);
	if (rc < 0)
		goto out_free;
	rc = index_open_dbs(ix);
	if (rc < 0)
		goto out_close_env;
	if (pthread_mutex_init(&ix->write_mu, NULL) || pthread_mutex_init(&ix->trim_mu, NULL))
		abort();
	index_gate_init(&ix->gate);
	*out = ix;
	return 0;
out_close_env:
	mdb_env_close(ix->env);
out_free:
	free(ix->data_path);
	free(ix);
	return rc;
}

void
index_close(struct index *ix)
{
	if (!ix)
		return;
	index_trimmer_stop(ix);
	mdb_env_close(ix->env);
	index_gate_fini(&ix->gate);
	pthread_mutex_destroy(&ix->trim_mu);
	pthread_mutex_destroy(&ix->write_mu);
	free(ix->data_path);
	free(ix);
}

uint64_t
index_disk_bytes(struct index *ix)
{
	struct stat st;

	if (stat(ix->data_path, &st) < 0)
		return 0;
	return (uint64_t)st.st_size;
}

/* ---- transactions ---- */

/*
 * Snapshot races. LMDB 0.9 begins a read transaction by loading the last committed txnid N and
 * then copying the table roots from meta page N & 1, without checking that page again. A reader
 * delayed between the two for two commits copies the page while commit N + 2 rewrites it: a
 * snapshot newer than the N it holds in the reader table (harmless for the pages it reads,
 * which N's slot protects more than enough) or torn, and the next transaction, which begins from
 * N + 1 while commit N + 2 still syncs, goes back in time. So a begin is repeated when it may
 * have overlapped the start of a second commit: in this process, commits_started read after
 * the begin exceeds commits_ended read before it by two or more; in another process (a user
 * added beside cairnd), the newest meta page is two or more ahead of N.
 */
static bool
index_begin_raced(struct index *ix, MDB_txn *txn, uint64_t ended_before)
{
	MDB_envinfo info;

	if (__atomic_load_n(&ix->commits_started, __ATOMIC_SEQ_CST) - ended_before >= 2)
		return true;
	return mdb_env_info(ix->env, &info) == 0 && info.me_last_txnid >= mdb_txn_id(txn) + 2;
}

/* mdb_txn_begin(MDB_RDONLY), repeated while it may have raced two commits. Call with the gate
 * shared. Taking write_mu to stop this process's commits would deadlock a begin made inside an
 * index_write() callback; a repeat only needs a few microseconds without two commits starting,
 * so past INDEX_ATTEMPTS_MAX repeats it just leaves the writers a moment. */
int
index_mdb_read_begin(struct index *ix, MDB_txn **txn)
{
	static const struct timespec pause = {.tv_nsec = 100 * 1000};
	uint64_t ended;
	int rc;

	for (int attempt = 0;; attempt++) {
		ended = __atomic_load_n(&ix->commits_ended, __ATOMIC_SEQ_CST);
		rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, txn);
		if (rc != 0 || !index_begin_raced(ix, *txn, ended))
			return rc;
		mdb_txn_abort(*txn);
		if (attempt >= INDEX_ATTEMPTS_MAX)
			nanosleep(&pause, NULL);
	}
}

int
index_read_begin(struct index *ix, struct index_txn **out)
{
	struct index_txn *t;
	MDB_txn *txn;
	int rc;

	*out = NULL;
	for (int attempt = 0;; attempt++) {
		index_gate_shared(&ix->gate);
		rc = index_mdb_read_begin(ix, &txn);
		if (rc == 0)
			break;
		index_gate_shared_end(&ix->gate);
		if (rc != MDB_MAP_RESIZED || attempt == INDEX_ATTEMPTS_MAX)
			return index_mdb_err(rc);
		rc = index_map_set(ix, 0);
		if (rc < 0)
			return rc;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		abort();
	t->ix = ix;
	t->txn = txn;
	*out = t;
	return 0;
}

void
index_read_end(struct index_txn *t)
{
	if (!t)
		return;
	index_txn_cursors_close(t);
	mdb_txn_abort(t->txn);
	index_gate_shared_end(&t->ix->gate);
	free(t);
}

enum index_attempt { INDEX_DONE, INDEX_GROW, INDEX_ADOPT };

/* One run of fn in a write transaction. Sets *next to what the caller must do before retrying. */
static int
index_write_once(struct index *ix, int (*fn)(struct index_txn *, void *), void *arg,
		 enum index_attempt *next)
{
	struct index_txn t = {.ix = ix, .write = true};
	int rc;

	*next = INDEX_DONE;
	index_gate_shared(&ix->gate);
	rc = mdb_txn_begin(ix->env, NULL, 0, &t.txn);
	if (rc == MDB_MAP_RESIZED) {
		index_gate_shared_end(&ix->gate);
		*next = INDEX_ADOPT;
		return 0;
	}
	if (rc) {
		index_gate_shared_end(&ix->gate);
		return index_mdb_err(rc);
	}
	rc = fn(&t, arg);
	index_txn_cursors_close(&t);
	if (t.map_full || rc != 0) {
		mdb_txn_abort(t.txn);
		index_gate_shared_end(&ix->gate);
		if (t.map_full)
			*next = INDEX_GROW;
		return rc;
	}
	__atomic_add_fetch(&ix->commits_started, 1, __ATOMIC_SEQ_CST); /* index_begin_raced() */
	rc = mdb_txn_commit(t.txn); /* aborts the txn itself on failure */
	__atomic_add_fetch(&ix->commits_ended, 1, __ATOMIC_SEQ_CST);
	index_gate_shared_end(&ix->gate);
	if (rc == MDB_MAP_FULL)
		*next = INDEX_GROW;
	return index_mdb_err(rc);
}

int
index_write(struct index *ix, int (*fn)(struct index_txn *txn, void *arg), void *arg)
{
	enum index_attempt next;
	int rc;

	if (ix->readonly)
		return CAIRN_E_READONLY;
	pthread_mutex_lock(&ix->write_mu);
	for (int attempt = 0;; attempt++) {
		rc = index_write_once(ix, fn, arg, &next);
		if (next == INDEX_DONE)
			break;
		if (attempt == INDEX_ATTEMPTS_MAX) {
			rc = -ENOSPC;
			break;
		}
		rc = next == INDEX_GROW ? index_map_grow(ix) : index_map_set(ix, 0);
		if (rc < 0)
			break;
	}
	pthread_mutex_unlock(&ix->write_mu);
	return rc;
}

int
index_write_nested(struct index_txn *t, int (*fn)(struct index_txn *txn, void *arg), void *arg)
{
	struct index_txn child = {.ix = t->ix, .write = true};
	int rc;

	if (!t->write)
		return CAIRN_E_READONLY;
	if (t->map_full)
		return -ENOSPC;
	rc = mdb_txn_begin(t->ix->env, t->txn, 0, &child.txn);
	if (rc)
		return index_txn_err(t, rc);
	rc = fn(&child, arg);
	index_txn_cursors_close(&child);
	if (child.map_full || rc != 0) {
		mdb_txn_abort(child.txn);
		if (child.map_full)
			t->map_full = true; /* the parent reruns after growing the map */
		return rc != 0 ? rc : -ENOSPC;
	}
	/* Merges the child's pages into the parent; on failure LMDB aborts the child. */
	return index_txn_err(t, mdb_txn_commit(child.txn));
}

/* ---- table wrappers ---- */

int
index_db_get(struct index_txn *t, enum index_db db, const MDB_val *k, MDB_val *v)
{
	MDB_val key = *k;

	if (t->map_full)
		return -ENOSPC; /* LMDB refuses every operation of a failed txn */
	return index_mdb_err(mdb_get(t->txn, t->ix->dbi[db], &key, v));
}

int
index_db_put(struct index_txn *t, enum index_db db, const MDB_val *k, size_t vlen, uint8_t **out)
{
	return index_db_put_flags(t, db, k, vlen, 0, out);
}

int
index_db_put_flags(struct index_txn *t, enum index_db db, const MDB_val *k, size_t vlen,
		   unsigned flags, uint8_t **out)
{
	MDB_val key = *k, val = {.mv_size = vlen, .mv_data = NULL};
	int rc;

	if (!t->write)
		return CAIRN_E_READONLY;
	if (t->map_full)
		return -ENOSPC;
	rc = mdb_put(t->txn, t->ix->dbi[db], &key, &val, MDB_RESERVE | flags);
	if (rc)
		return index_txn_err(t, rc);
	*out = val.mv_data;
	return 0;
}

int
index_db_put_dup(struct index_txn *t, enum index_db db, const MDB_val *k, const MDB_val *v)
{
	MDB_val key = *k, val = *v;

	if (!t->write)
		return CAIRN_E_READONLY;
	if (t->map_full)
		return -ENOSPC;
	return index_txn_err(t, mdb_put(t->txn, t->ix->dbi[db], &key, &val, MDB_NODUPDATA));
}

int
index_db_del_dup(struct index_txn *t, enum index_db db, const MDB_val *k, const MDB_val *v)
{
	MDB_val key = *k, val = *v;

	if (!t->write)
		return CAIRN_E_READONLY;
	if (t->map_full)
		return -ENOSPC;
	return index_txn_err(t, mdb_del(t->txn, t->ix->dbi[db], &key, &val));
}

int
index_db_del(struct index_txn *t, enum index_db db, const MDB_val *k)
{
	MDB_val key = *k;

	if (!t->write)
		return CAIRN_E_READONLY;
	if (t->map_full)
		return -ENOSPC;
	return index_txn_err(t, mdb_del(t->txn, t->ix->dbi[db], &key, NULL));
}

int
index_db_cursor(struct index_txn *t, enum index_db db, MDB_cursor **out)
{
	if (t->map_full)
		return -ENOSPC;
	return index_mdb_err(mdb_cursor_open(t->txn, t->ix->dbi[db], out));
}

int
index_cur_get(struct index_txn *t, MDB_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
	(void)t;
	return index_mdb_err(mdb_cursor_get(c, k, v, op));
}

int
index_cur_del(struct index_txn *t, MDB_cursor *c)
{
	if (!t->write)
		return CAIRN_E_READONLY;
	if (t->map_full)
		return -ENOSPC;
	return index_txn_err(t, mdb_cursor_del(c, 0));
}

int
index_meta_counter_next(struct index_txn *t, const char *name, uint64_t *out)
{
	MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name}, v;
	struct index_wr w;
	struct index_rd r;
	uint64_t cur = 1;
	uint8_t *p;
	int rc;

	rc = index_db_get(t, INDEX_DB_META, &k, &v);
	if (rc == 0) {
		rc = index_rd_begin(&r, &v);
		if (rc < 0)
			return rc;
		cur = index_rd_u64(&r);
		rc = index_rd_end(&r);
		if (rc == 0 && cur == 0)
			rc = CAIRN_E_CORRUPT;
	} else if (rc == CAIRN_E_NOTFOUND) {
		rc = 0;
	}
	if (rc < 0)
		return rc;
	if (cur == UINT64_MAX)
		return -EOVERFLOW;
	rc = index_db_put(t, INDEX_DB_META, &k, 9, &p);
	if (rc < 0)
		return rc;
	index_wr_init(&w, p, 9);
	index_wr_u8(&w, INDEX_RECORD_VERSION);
	index_wr_u64(&w, cur + 1);
	index_wr_done(&w);
	*out = cur;
	return 0;
}

int
index_next_oid(struct index_txn *txn, uint64_t *oid)
{
	return index_meta_counter_next(txn, "next_oid", oid);
}
