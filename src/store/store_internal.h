/*
 * store_internal.h — private declarations shared by the store_*.c files (not an API).
 *
 * The store is split by concern:
 *   store.c          open/close, data dir lock, read hook, temp files, ETags, encoder pool
 *   store_bucket.c   buckets
 *   store_meta.c     the object metadata blob
 *   store_idmap.c    a hash table keyed by chunk id (the in-flight table, fsck's recount)
 *   store_inflight.c chunks written by puts that are not committed yet (dedup between puts)
 *   store_md5.c      the worker pool that computes body digests (MD5 with the chunk ids, a
 *                    signed payload's SHA-256) beside chunking
 *   store_pin.c      readers' pins on object ids, retiring replaced objects, zombies
 *   store_ref.c      chunk reference counting and pack byte accounting inside write txns
 *   store_put.c      the put pipeline (chunk, hash, dedup, encode, append, spill)
 *   store_commit.c   put commit, and the group commit put and part commits go through
 *   store_get.c      streaming gets and stat
 *   store_obj.c      delete, copy, and installing a new object version (shared with put commit)
 *   store_list.c     listings
 *   store_chunk.c    chunk-level operations
 *   store_stats.c    statistics
 *   store_fsck.c     the consistency checker
 *   gc.c             the compactor, put generations (its grace periods), tombstones of dropped
 *                    chunks, record reads that follow moved chunks, the free-space reserve and
 *                    recovery from a failed pack sync
 *   scrub.c          the background re-verification of chunk records
 * Multipart uploads (store_upload*.c, store_upload_priv.h) build on the same internals: the put
 * pipeline for parts, store_ref_* for references, store_pin_retire/settle for the object a
 * completion replaces.
 *
 * Lock order (outer first): index write transaction → pins.mu → gc.mu → fl.mu → the pack store's
 * lock. The md5 pool's mutex, the encoder pool's mutex and the committer's mutex are leaves (a
 * group-commit leader runs packstore_sync and index_write holding none of them); gc.run_mu (one
 * compaction at a time) is taken outside everything. No lock is held across chunking, hashing or
 * encoding.
 */
#ifndef CAIRN_STORE_INTERNAL_H
#define CAIRN_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "cairn/fileio.h"
#include "cairn/md5memo.h"
#include "cairn/md5sha.h"
#include "cairn/pack.h"
#include "cairn/store.h"

/* ---- id map: open addressing, linear probing, backward-shift deletion ---- */

struct idmap_entry {
	struct chunk_id id;
	struct chunk_loc loc;
	uint64_t a; /* in-flight: pin count; fsck: refcount in the index */
	uint64_t b; /* fsck: references recounted from pages */
	bool used;
};

struct idmap {
	struct idmap_entry *slots;
	size_t cap; /* a power of two, 0 before the first insert */
	size_t n;
};

void store_idmap_init(struct idmap *m);
void store_idmap_fini(struct idmap *m);
/* Returns the entry for id or NULL. The pointer is valid until the next insert or remove. */
struct idmap_entry *store_idmap_find(const struct idmap *m, const struct chunk_id *id);
/* Returns the entry for id, inserting a zeroed one (used, id set) when missing. Aborts on ENOMEM.
 * Invalidates earlier entry pointers. */
struct idmap_entry *store_idmap_insert(struct idmap *m, const struct chunk_id *id);
/* Removes the entry e points at (from find/insert). Invalidates entry pointers. */
void store_idmap_remove(struct idmap *m, struct idmap_entry *e);

/* ---- in-flight chunks ---- */

struct inflight {
	pthread_mutex_t mu;
	struct idmap map; /* id -> loc, a = pins */
	uint64_t epoch;	  /* bumped whenever an entry leaves the table */
};

/* ---- digest worker pool (store_md5.c) ---- */

/* A chunk the chunker cut: it ends before body byte end. Its id is the put's hash job's to write
 * until the job has published it (chunk_hash.nid). */
struct put_cut {
	uint64_t end;
	struct chunk_id id;
};

/* A put's own hash job: the body's MD5 (the ETag) and the id (SHA-256) of every chunk cut so far,
 * both computed in one pass over each chunk (md5sha_blocks where the CPU has SHA extensions, else
 * chunk_id_compute beside md5_blocks), or the MD5 state after a chunk taken from the store's
 * memo (md5memo.h). The MD5 follows the cuts: it covers the whole 64-byte blocks before the end
 * of the last chunk with an id (md5_at, the job's pos); the put adds the last bytes when it
 * finishes. */
struct chunk_hash {
	struct md5_state md5;
	struct put_cut *cuts; /* cut i is cuts[i % cap]; the put sizes cap for every cut it holds */
	size_t cap;
	uint64_t ncut;	      /* cuts queued (the pool's under its mutex) */
	uint64_t nid;	      /* cuts whose id is computed (likewise) */
	uint64_t id_end;      /* end of cut nid - 1: where the next chunk starts (the job's) */
	uint64_t md5_at;      /* the MD5 covers the body's whole blocks before this (the job's) */
	bool stitched;	      /* md5sha_stitched_available() */
	struct md5memo *memo; /* the store's, or NULL */
	size_t memo_min;      /* chunks shorter than this (the chunker's minimum) skip the memo */
	bool chain;	      /* every chunk so far found in memo: look the next one up */
};

/* One digest following a put's buffer. A stream job hashes body bytes pos..limit into ctx; a
 * chunk job (ctx NULL, chunks set) hashes the chunks of cuts nid..ncut and the MD5 along with
 * them, pos being the oldest byte it still needs. Positions count body bytes from the start; byte i
 * lives at base[i] in a linear buffer (ring 0) and at base[i % ring] in a ring buffer, whose ring
 * bytes are mapped twice in a row so that any ring bytes from there on read contiguously. Fields
 * are the pool's (under its mutex) while busy, the put's while idle. */
struct md5_job {
	EVP_MD_CTX *ctx;
	struct chunk_hash *chunks;
	const uint8_t *base;
	size_t ring;
	size_t pos;
	size_t limit;
	bool busy;	   /* queued or running */
	int nwaiting;	   /* threads waiting in cv for this job's progress */
	pthread_cond_t cv; /* signalled at every step while someone waits */
	struct md5_job *next;
};

#define STORE_MD5_THREADS 2

struct md5_pool {
	pthread_mutex_t mu;
	pthread_cond_t work_cv;
	struct md5_job *head;
	struct md5_job *tail;
	pthread_t threads[STORE_MD5_THREADS];
	int nthreads;
	bool stop;
};

int store_md5_start(struct md5_pool *pool);
void store_md5_stop(struct md5_pool *pool);
/* Makes job an idle stream digest into ctx (which the caller owns and initialised), or with
 * store_md5_chunks_init an idle chunk job over h (whose cuts and cap the caller set; the rest is
 * initialised here; memo may be NULL). Undo with store_md5_job_fini() once it is idle. */
void store_md5_job_init(struct md5_job *job, EVP_MD_CTX *ctx);
void store_md5_chunks_init(struct md5_job *job, struct chunk_hash *h, struct md5memo *memo,
			   size_t memo_min);
void store_md5_job_fini(struct md5_job *job);
/* Points idle job at base (a ring of ring bytes, or linear for 0); its positions stay. */
void store_md5_rebase(struct md5_job *job, const uint8_t *base, size_t ring);
/* Moves stream job's limit to limit (never back) and queues it when idle: a worker hashes bytes
 * pos..limit in order. The caller keeps those bytes unchanged until the job has passed them
 * (store_md5_wait_pos, store_md5_wait). Without workers, hashes them inline. */
void store_md5_feed(struct md5_pool *pool, struct md5_job *job, size_t limit);
/* Queues chunk job's cuts up to ncut (their ends written by the caller; the bytes up to the
 * last one are the job's to read until it has passed them, likewise). Returns the number of
 * cuts whose ids are ready, as store_md5_ids() would. */
uint64_t store_md5_feed_cuts(struct md5_pool *pool, struct md5_job *job, uint64_t ncut);
/* Brings job up to limit (a chunk job: ids for every queued cut, the MD5 up to the last cut's
 * last whole block; limit is not used): waits for a running job to get there, hashes inline
 * for an idle one. */
void store_md5_sync(struct md5_pool *pool, struct md5_job *job, size_t limit);
/* Waits until job has hashed every byte before pos, or (a chunk job) has no queued cut left.
 * Returns the job's pos then. */
size_t store_md5_wait_pos(struct md5_pool *pool, struct md5_job *job, size_t pos);
/* Waits until job has caught up with its limit. */
void store_md5_wait(struct md5_pool *pool, struct md5_job *job);
/* The number of cuts of chunk job whose ids are ready (cuts before it are the caller's again). */
uint64_t store_md5_ids(struct md5_pool *pool, struct md5_job *job);

/* ---- group commit (store_commit.c) ---- */

struct commit_req; /* one caller waiting in store_commit_group() */

/* Callers queue here; the first with no leader running becomes the leader, takes the whole queue
 * and applies it in one index write transaction. */
struct committer {
	pthread_mutex_t mu;
	struct commit_req *head; /* queued, not yet taken by a leader */
	struct commit_req *tail;
	bool leading;			       /* a leader is applying a batch */
	struct store_commit_counters counters; /* under mu */
	void (*hook)(void *arg);	       /* store_set_commit_hook() */
	void *hook_arg;
};

/* Most commits one transaction applies (the rest wait for the next). */
#define STORE_COMMIT_BATCH_MAX 256
/* Most chunk references one transaction takes on beyond its first commit: LMDB bounds the pages
 * one transaction may dirty, so a batch of large objects is split over several. */
#define STORE_COMMIT_REFS_MAX 32768

/* ---- pins on object ids (readers) ---- */

struct pin {
	uint64_t oid;
	uint32_t readers;
	bool zombie; /* replaced while read: the last reader releases it */
	bool dying;  /* being released by a write txn: readers wait, then look again */
};

struct pins {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled when a dying mark goes away */
	struct pin *v;
	size_t n;
	size_t cap;
};

/* ---- the store ---- */

/* Encoders (each holds a zstd context, about 1 MiB once used) and the buffers records are encoded
 * into are lent to a put for one chunk at a time, from a pool of at most STORE_ENC_MAX: memory does
 * not grow with the number of concurrent puts. A put waits when all are lent (encoding is
 * CPU-bound; a lender may also be in its pack append, hence more than the cores). */
#define STORE_ENC_MAX 8

struct store_enc {
	struct pack_encoder *enc;
	struct buf rec; /* the record being encoded */
};

struct store_gc; /* gc.c */

struct store {
	struct store_config cfg; /* cfg.data_dir points at dir */
	char *dir;
	char *tmp_dir;
	char *packs_dir;
	int lock_fd;
	struct index *ix;
	struct packstore *ps;
	struct inflight fl;
	struct pins pins;
	struct md5_pool md5;
	struct md5memo *md5memo;	    /* NULL: off */
	struct ticker *md5memo_saver;	    /* saves the memo every md5_memo_save_s, or NULL */
	struct md5memo_stats md5memo_saved; /* its counters at the last save (saver or close) */
	struct committer commit;
	pthread_mutex_t enc_mu;
	pthread_cond_t enc_cv;			   /* signalled when an encoder comes back */
	struct store_enc *enc_free[STORE_ENC_MAX]; /* idle encoders */
	int nenc_free;
	int nenc; /* encoders made (lent or idle) */
	pthread_mutex_t hook_mu;
	void (*hook)(const struct chunk_id *id, void *arg);
	void *hook_arg;
	struct store_gc *gc; /* compaction state, owned (gc.c) */
};

/* Largest record the store reads or writes (a raw record of the largest possible chunk). */
#define STORE_RECORD_MAX (PACK_HEADER_SIZE + (size_t)CHUNKER_MAX_SIZE_CEIL + PACK_TRAILER_SIZE)

/* Caps the meta blobs the store copies (the S3 layer caps what it stores far below this). */
#define STORE_META_MAX (1u << 20)

/* Pack byte deltas gathered inside one write transaction, applied by store_ref_flush(). */
#define STORE_DELTAS 32

struct pack_delta {
	uint32_t pack_id;
	int64_t live;
	int64_t dead;
};

#define STORE_DYING_MAX 16

/* State shared by every write-transaction function (reset at the start of each run of fn). */
struct store_wctx {
	struct store *st;
	struct pack_delta deltas[STORE_DELTAS];
	size_t ndeltas;
	/* Pins marked dying by any run of the transaction function: kept across reruns (a rerun
	 * may not reach the same object) and cleared by store_pin_settle() after index_write. */
	uint64_t dying[STORE_DYING_MAX];
	size_t ndying;
	struct index_page_entry *scratch; /* INDEX_PAGE_ENTRIES entries, owned */
};

/* ---- puts ---- */

/* A put checkpoints (records its new chunks in the index with no references) once it holds this
 * many pins in the in-flight table, so the table's memory stays bounded per put. */
#define STORE_PUT_PINS_MAX 8192
/* New body bytes (and cut chunks) are handed to the digest jobs once there are this many (each
 * hand-over takes the pool's mutex). */
#define STORE_DIGEST_FEED (64u << 10)
/* A put's body buffer: the first STORE_PUT_BUF_MIN bytes (or 2 x the largest chunk when that is
 * smaller) in a linear buffer, so that small puts stay small; a body that outgrows it moves to a
 * ring of 2 x the largest chunk (store_put.c). */
#define STORE_PUT_BUF_MIN (64u << 10)
/* Digest jobs per put: the MD5 with the chunk ids, and one the caller adds
 * (store_put_digest_also). */
#define STORE_PUT_DIGESTS 2
#define STORE_PAGE_BYTES (INDEX_PAGE_ENTRIES * sizeof(struct index_page_entry))

struct store_put {
	struct store *st;
	struct chunker ck;
	/* Positions below count body bytes from the start of the body; byte i is at buf[i] while
	 * the buffer is linear (ring 0), at buf[i % ring] once it is a ring (mapped twice in a
	 * row). */
	uint8_t *buf;
	size_t alloc;  /* the linear buffer's size */
	size_t ring;   /* the ring's size, 0 while linear */
	size_t cap;    /* 2 x the maximum chunk size: a partial chunk always leaves room */
	size_t scan;   /* bytes up to here were given to the chunker */
	size_t fed;    /* bytes up to here were handed to the stream digest jobs */
	size_t hashed; /* every digest job has passed the bytes before this (a lower bound) */
	struct chunk_hash hash;			/* jobs[0]'s: the MD5 and the chunk ids */
	struct md5_job jobs[STORE_PUT_DIGESTS]; /* [0] the chunk job, [1] a stream digest */
	int njobs;
	uint64_t received; /* body bytes fed */
	uint64_t ncut;	   /* cuts made (queued to jobs[0] up to hash.ncut) */
	uint64_t cut_end;  /* end of the last cut: the partial chunk's first byte */
	uint64_t chunked;  /* end of the last stored chunk (looked up, appended if new, listed) */
	uint64_t nchunks;  /* chunks stored: cuts before this one are done */
	/* The chunk list: full pages go to an anonymous spill file, the last page stays here. */
	struct index_page_entry *page;
	size_t page_n;
	int spill_fd;
	uint64_t spilled; /* pages in the spill file */
	/* Ids this put pinned in the in-flight table since its last checkpoint (one per pin). */
	struct chunk_id *pinned;
	size_t npinned;
	size_t pinned_cap;
	struct put_checkpoint *ckpt; /* the checkpoint running beside the put, if any (store_put.c) */
	uint8_t md5sum[16];
	int err; /* sticky: after an error the put can only be aborted */
	bool finished;
	uint64_t gc_gen; /* the generation it registered in (gc.c) */
};

/* store_obj.c: inside a write txn, puts obj at bucket/key, retires the object it replaces (old;
 * NULL when the key was free) and applies w's pack byte deltas. Returns 0 or an index error. */
int store_obj_install(struct store_wctx *w, struct index_txn *txn, const char *bucket,
		      struct slice key, const struct index_object *obj,
		      const struct index_object *old);

/* store_commit.c */
void store_committer_init(struct committer *q);
void store_committer_fini(struct committer *q);
/*
 * Group commit: makes every pack append this thread completed durable (one packstore_sync for
 * the whole batch), then runs fn(txn, arg) in a nested transaction (index_write_nested) of one
 * index write transaction that concurrent callers share, so that one fdatasync of the packs and
 * one of the index serve them all. fn's changes are durable when this returns 0. fn may run more
 * than once (index_write reruns after growing the map), like any index_write fn, and runs on
 * another thread (the leader's): it must use only arg and the transaction. Returns fn's value, the
 * pack sync's error, or the transaction's error (the commit failed: nothing of fn's is visible).
 */
int store_commit_group(struct store *st, int (*fn)(struct index_txn *txn, void *arg), void *arg,
		       uint64_t refs);

/* store_get.c: the oid g has pinned (its pages stay until store_get_close). */
uint64_t store_get_oid(const struct store_get *g);

/* store_put.c: frees put, unpinning its in-flight chunks. */
void store_put_free(struct store_put *put);
/* Reads spilled page i into out (STORE_PAGE_BYTES). Returns 0 or -errno. */
int store_put_spill_read(struct store_put *put, uint64_t i, struct index_page_entry *out);

/* store.c */
bool store_is_writer(const struct store *st);
/* Opens an anonymous temporary file (O_TMPFILE in <datadir>/tmp, else the system temp dir).
 * Returns an fd or -errno. */
int store_tmpfile(struct store *st);
/* Formats the quoted ETag of md5/parts into out[64]. */
void store_etag_format(const uint8_t md5[16], uint32_t parts, char out[64]);
/* Fills info (not meta) from an index object. */
void store_info_from_object(const struct index_object *obj, struct store_object_info *info);
int64_t store_now_ns(void);
/* Lends an encoder (made on first need, up to STORE_ENC_MAX; else waits for one). Give it back
 * with store_enc_put(). */
struct store_enc *store_enc_get(struct store *st);
void store_enc_put(struct store *st, struct store_enc *e);
void store_call_read_hook(struct store *st, const struct chunk_id *id);
/* Checks a key's length. Returns 0 or CAIRN_E_INVAL. */
int store_key_check(struct slice key);
/* Checks write conditions against the current object (exists false when there is none).
 * Returns 0, CAIRN_E_PRECONDITION or CAIRN_E_NOKEY (if_match and no current object). */
int store_cond_check(const struct store_put_cond *cond, bool exists,
		     const struct index_object *cur);

/* store_inflight.c */
int store_inflight_init(struct inflight *fl);
void store_inflight_fini(struct inflight *fl);
/* Pins id when it is in flight (returns true); else returns false and the current epoch. */
bool store_inflight_pin(struct store *st, const struct chunk_id *id, uint64_t *epoch);
/* Makes sure id is stored, appending rec unless another put has it in flight or (epoch having
 * moved) the index now holds it. Returns 1 when the index holds it (nothing pinned), 0 when it
 * is pinned in the table, or an error from the append. */
int store_inflight_add(struct store *st, const struct chunk_id *id, const uint8_t *rec, size_t len,
		       uint64_t epoch);
/* Drops one pin on each of ids[n]. */
void store_inflight_unpin(struct store *st, const struct chunk_id *ids, size_t n);
/* Copies the location of in-flight id. Returns 0 or CAIRN_E_NOTFOUND. */
int store_inflight_loc(struct store *st, const struct chunk_id *id, struct chunk_loc *loc);
/* True when the index holds id (a short read transaction). */
int store_chunk_indexed(struct store *st, const struct chunk_id *id, struct index_chunk *out);

/* store_pin.c */
int store_pins_init(struct pins *pins);
void store_pins_fini(struct pins *pins);
/* Under pins->mu: finds oid's pin or NULL. */
struct pin *store_pin_find(struct pins *pins, uint64_t oid);
/* Under pins->mu: the pin of oid, created with no readers when missing. */
struct pin *store_pin_get(struct pins *pins, uint64_t oid);
/* Under pins->mu: removes p. */
void store_pin_remove(struct pins *pins, struct pin *p);
/* Inside a write txn: oid stops being reachable; release its chunk references now, or make it a
 * zombie when a reader has it pinned. */
int store_pin_retire(struct store_wctx *w, struct index_txn *txn, uint64_t oid);
/* After index_write returned: clears the dying mark this transaction set, if any. */
void store_pin_settle(struct store_wctx *w);
/* Drops a reader's pin; the last reader of a zombie releases it. */
void store_pin_drop(struct store *st, uint64_t oid);
/* Releases every zombie recorded in the index (at open for writing). */
int store_zombies_release_all(struct store *st);

/* store_ref.c */
void store_wctx_init(struct store_wctx *w, struct store *st);
void store_wctx_fini(struct store_wctx *w);
/* Forgets the deltas and marks of a previous run of the transaction function. */
void store_wctx_reset(struct store_wctx *w);
/* Adds one reference to id: an index entry is updated (dead -> live at 0) or created from the
 * in-flight table with refcount 1. Returns 0, CAIRN_E_RETRY (chunk vanished) or an error. */
int store_ref_inc(struct store_wctx *w, struct index_txn *txn, const struct chunk_id *id);
/* Records id with refcount 0 when the index lacks it (location from the in-flight table).
 * Returns 0 or an error. */
int store_ref_ensure(struct store_wctx *w, struct index_txn *txn, const struct chunk_id *id);
/* Drops one reference (live -> dead at 0). A missing chunk is logged and skipped. */
int store_ref_dec(struct store_wctx *w, struct index_txn *txn, const struct chunk_id *id);
/* Deletes every page of oid, dropping one reference per entry. */
int store_ref_release_pages(struct store_wctx *w, struct index_txn *txn, uint64_t oid);
/* Applies the gathered pack byte deltas. */
int store_ref_flush(struct store_wctx *w, struct index_txn *txn);

/* store_fsck.c: what the checker found, for the repair (store_repair.c). Any hook may be NULL.
 * object: bucket/key uses a missing or unreadable chunk (pointers valid during the call; may be
 * called more than once for one object). part: the upload with that id has such a part. chunk:
 * the record of id is unreadable. refcount: id's refcount should be found (the recount). */
struct store_fsck_hooks {
	void (*object)(const char *bucket, struct slice key, void *arg);
	void (*part)(const char *upload_id, void *arg);
	void (*chunk)(const struct chunk_id *id, void *arg);
	void (*refcount)(const struct chunk_id *id, uint64_t found, void *arg);
	void *arg;
};
/* store_fsck() with hooks. */
int store_fsck_run(struct store *st, void (*fn)(const char *problem, void *arg), void *arg,
		   struct store_fsck_result *out, const struct store_fsck_hooks *hooks);

/* gc.c */
/* Creates (store_open) and frees (store_close) st->gc. */
int store_gc_init(struct store *st);
void store_gc_fini(struct store *st);
/* Registers a put for its whole life (begin to free): a compaction that dropped unreferenced
 * chunk entries waits for every put registered before the drop before it removes their pack,
 * since such a put may have deduplicated against them. Also where writes recover from a failed
 * pack sync (no put in progress then). Sets *gen. */
void store_gc_put_enter(struct store *st, uint64_t *gen);
void store_gc_put_leave(struct store *st, uint64_t gen);
/* The location of a chunk the compactor dropped from the index while its pack still exists (a
 * put registered before the drop may still reference it). Returns 0 or CAIRN_E_NOTFOUND. */
int store_gc_tomb_loc(struct store *st, const struct chunk_id *id, struct chunk_loc *loc);
/* Reads id's record at *loc into rec. When the pack is gone or holds another record there (the
 * compactor moved the chunk after loc was looked up), looks the chunk up again (index, in-flight
 * table, tombstones), updates *loc and retries. Returns what packstore_read returns, or
 * CAIRN_E_CORRUPT for a record of another chunk. */
int store_record_read(struct store *st, const struct chunk_id *id, struct chunk_loc *loc,
		      struct buf *rec);
/* Returns -ENOSPC when the data dir's file system has less than cfg.min_free_bytes free (checked
 * at most every few milliseconds), else 0. Puts call it before appending new chunks. */
int store_space_check(struct store *st);

#endif
