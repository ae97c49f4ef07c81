/*
 * store.h — objects over deduplicated chunks: the engine API the S3 layer and the tools call.
 *
 * A data dir holds index/ (LMDB, index.h) and packs/ (pack.h). A store opened for writing holds
 * an exclusive flock on <datadir>/LOCK: one process writes a data dir's packs at a time. Read-only
 * opens (cat, stats, fsck) and index-only opens (user management) work beside the writer.
 *
 * Puts stream: store_put_write() takes buffers of any size; the bytes are chunked, hashed,
 * deduplicated (against every chunk in the store and against chunks other puts are writing at the
 * same moment), compressed and appended to packs as they arrive, so memory per put stays at a few
 * chunks. The body's MD5 (the S3 ETag) and the chunk ids run on a worker thread beside chunking.
 * Commit fdatasyncs the pack bytes first, then switches the key to the new object in one LMDB
 * transaction: a reader sees the old object or the new one, a crash leaves one or the other.
 *
 * Gets stream too: a store_get pins the object it opened, so an overwrite or delete during a long
 * read defers the release of the old chunk references until the reader closes.
 *
 * Chunk-level operations (has / read stored form / write stored form) serve replication and
 * chunk-aware clients; a read hook lets a heat counter see every chunk read.
 *
 * Thread safety: a struct store may be used from any number of threads at once; a store_put,
 * store_get or store_list by one thread at a time.
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/chunk.h"
#include "cairn/chunker.h"
#include "cairn/index.h"
#include "cairn/md5memo.h"

enum store_mode {
	STORE_MODE_WRITE, /* everything; takes the data dir's exclusive lock */
	STORE_MODE_READ,  /* reads only, beside a writer */
	STORE_MODE_INDEX, /* reads plus index-only changes (users, buckets), beside a writer */
};

struct store_config {
	const char *data_dir;
	enum store_mode mode;
	struct chunker_params chunking;
	uint64_t pack_max_bytes; /* pack rollover size */
	int zstd_level;          /* 0 = store raw */
	uint64_t min_free_bytes; /* new chunks fail with -ENOSPC below this much free space on the
				    data dir's file system, leaving room for deletes and compaction
				    (0 = no reserve) */
	uint64_t md5_memo_bytes; /* memory remembering MD5 states across chunks, so that puts of
				    bytes hashed before skip their MD5 (md5memo.h; 0 = off) */
	uint32_t md5_memo_save_s; /* a writer saves the memo to <data>/md5memo every this many
				     seconds when it changed (0: only at store_close), so that a
				     crash loses at most that much of it */
};

/* A 16 MiB memo: about 500,000 chunk transitions, the last ~16 GiB of bodies hashed. */
#define STORE_MD5_MEMO_DEFAULT (16ull << 20)
/* Saving a full 16 MiB memo costs ~10 ms of CPU and 16 MiB of page cache writes. */
#define STORE_MD5_MEMO_SAVE_DEFAULT 60

/* Fills cfg with the defaults (data_dir "./cairn-data", STORE_MODE_WRITE). */
void store_config_default(struct store_config *cfg);

struct store;

/* Opens the store, creating the data dir (mode 0700) when writing and it is missing. On open for
 * writing, releases the pages of objects left as zombies by a previous run. Returns 0,
 * CAIRN_E_LOCKED (another process writes this data dir), CAIRN_E_NOTFOUND (data dir missing when
 * not writing), CAIRN_E_INVAL (bad chunking parameters) or another error. */
int store_open(const struct store_config *cfg, struct store **out);

/* Closes the store; every put, get and list must be finished. NULL is a no-op. */
void store_close(struct store *st);

/* The index, for operations that live there alone (users). Owned by the store. */
struct index *store_index(struct store *st);

/* ---- buckets ---- */

/* Creates a bucket owned by owner. Returns 0, CAIRN_E_EXISTS (existing->owner tells whose; may
 * be NULL), or an error. */
int store_bucket_create(struct store *st, const char *name, const char *owner, const char *region,
			struct index_bucket *existing);
/* Returns 0 and fills out, or CAIRN_E_NOTFOUND. */
int store_bucket_get(struct store *st, const char *name, struct index_bucket *out);
/* Deletes an empty bucket. Returns 0, CAIRN_E_NOTFOUND or CAIRN_E_NOTEMPTY. */
int store_bucket_delete(struct store *st, const char *name);
/* Calls fn for each bucket in name order (inside one read transaction: do not call back into
 * the store from fn). fn returns non-zero to stop. */
int store_bucket_list(struct store *st,
		      int (*fn)(const char *name, const struct index_bucket *b, void *arg), void *arg);

/* ---- object metadata ---- */

/* The object's metadata as the S3 layer gives and gets it: an opaque blob of name/value pairs
 * (Content-Type, x-amz-meta-*, checksums …) encoded with store_meta_add(). */
struct store_object_info {
	uint64_t size;
	int64_t mtime_ns;
	uint8_t md5[16];
	uint32_t parts;
	char etag[64];     /* quoted, as S3 sends it: "hex" or "hex-N" */
	struct slice meta; /* see the function that filled it for how long it lives */
};

/* Appends one name/value pair to a meta blob being built in b. Returns 0 or CAIRN_E_TOOBIG. */
int store_meta_add(struct buf *b, const char *name, struct slice value);
/* Iterates a meta blob: *pos starts at 0. Returns 1 and sets name/value (pointing into meta),
 * 0 at the end, CAIRN_E_CORRUPT on a malformed blob. */
int store_meta_next(struct slice meta, size_t *pos, struct slice *name, struct slice *value);
/* Finds the value of name (exact, case-sensitive). Returns 1 when found, 0 when not. */
int store_meta_find(struct slice meta, const char *name, struct slice *value);

/* ---- puts ---- */

struct store_put;

/* Begins a put. Returns 0, CAIRN_E_READONLY, or an error. */
int store_put_begin(struct store *st, struct store_put **out);

/* Feeds the next len bytes of the body. Returns 0, or an error (-ENOSPC, -EIO …) after which
 * the put can only be aborted. */
int store_put_write(struct store_put *put, const void *p, size_t len);

struct evp_md_ctx_st; /* OpenSSL's EVP_MD_CTX */

/*
 * Also feeds every body byte of put, in order, to ctx (an EVP_MD_CTX the caller initialised and
 * owns: e.g. the SHA-256 of a signed payload), on the store's digest threads beside chunking and
 * the MD5. Call before the first store_put_write(); ctx must live until the put is committed or
 * aborted, and the caller touches it only after store_put_digest_sync() or store_put_finish()
 * returned (it then covers every byte written). Returns 0, or CAIRN_E_INVAL when bytes were
 * already written or a digest was already added.
 */
int store_put_digest_also(struct store_put *put, struct evp_md_ctx_st *ctx);

/* Waits until the digests of put cover every byte written so far. */
void store_put_digest_sync(struct store_put *put);

/* Ends the body: flushes the last chunk and completes the MD5. After it, *size and md5 tell what
 * was received (so the caller can check Content-MD5 and checksums before committing). */
int store_put_finish(struct store_put *put, uint64_t *size, uint8_t md5[16]);

/* Conditions checked atomically with the commit. */
struct store_put_cond {
	bool if_none_match_any; /* fail if the key exists */
	const char *if_match;   /* fail unless the key exists with this ETag ("*": any) */
};

/*
 * Commits a finished put as bucket/key with meta (copied), replacing any object there. Durable
 * when it returns 0: pack bytes were fdatasynced before the index commit. Always consumes put.
 * Fills out (out->meta is not set). Returns 0, CAIRN_E_NOTFOUND (no bucket),
 * CAIRN_E_PRECONDITION (a condition failed), CAIRN_E_NOKEY (if_match and no such key),
 * CAIRN_E_INVAL (key empty or longer than INDEX_KEY_MAX), or an error.
 */
int store_put_commit(struct store_put *put, const char *bucket, struct slice key, struct slice meta,
		     const struct store_put_cond *cond, struct store_object_info *out);

/* Abandons a put: nothing becomes visible; its chunk references are dropped. NULL is a no-op. */
void store_put_abort(struct store_put *put);

/* Group commit at work, counted since store_open (in memory only): concurrent put and part
 * commits share one index write transaction and one fdatasync. */
struct store_commit_counters {
	uint64_t commits;   /* put and part commits applied (whatever their outcome) */
	uint64_t txns;	    /* index write transactions that carried them */
	uint64_t batch_max; /* most commits one transaction carried */
	uint64_t queued;    /* commits waiting for a leader at this moment */
};

/* Copies the counters into out. */
void store_commit_counters(struct store *st, struct store_commit_counters *out);

/* Test seam: fn(arg) is called by each group-commit leader (on its own thread, no store lock
 * held) just before it takes the waiting commits into its transaction, so a test can make a
 * batch of a known size. NULL clears it. Set it while no commit runs. */
void store_set_commit_hook(struct store *st, void (*fn)(void *arg), void *arg);

/* ---- gets, stat, delete, copy ---- */

struct store_get;

/* Opens bucket/key for reading at offset 0. Returns 0, CAIRN_E_NOTFOUND (no bucket or no key;
 * store_bucket_get tells which), or an error. Pins are per process: a get in a READ-mode process
 * beside the writer can fail (CAIRN_E_NOTFOUND) if the object is replaced while it streams; it
 * never returns bytes of another object. */
int store_get_open(struct store *st, const char *bucket, struct slice key, struct store_get **out);
/* The object's info; info->meta lives as long as g. */
const struct store_object_info *store_get_info(const struct store_get *g);
/* Moves the read position (for ranges). Returns 0 or CAIRN_E_INVAL past the end. */
int store_get_seek(struct store_get *g, uint64_t offset);
/* Returns the next span of object bytes at the read position (at most max bytes), advancing it;
 * span->len == 0 at the end. The span lives until the next call on g. Returns 0, or
 * CAIRN_E_CORRUPT when a chunk fails its checksum (logged with bucket, key and chunk id). */
int store_get_next(struct store_get *g, size_t max, struct slice *span);
/* Loads (and verifies) the chunk at the read position without moving it, so that a damaged
 * chunk is found before a response is committed. Same returns as store_get_next. */
int store_get_prefetch(struct store_get *g);
/* Copies up to len bytes at the read position into p; *n == 0 at the end. Same returns. */
int store_get_read(struct store_get *g, void *p, size_t len, size_t *n);
/* Closes g (releasing a deferred old version if g was its last reader). NULL is a no-op. */
void store_get_close(struct store_get *g);

/* Fills info; meta is copied into meta_out (reset first). Returns 0 or CAIRN_E_NOTFOUND. */
int store_stat(struct store *st, const char *bucket, struct slice key,
	       struct store_object_info *info, struct buf *meta_out);

/* Deletes bucket/key. Returns 0, CAIRN_E_NOTFOUND (no such key, or no bucket), or an error. */
int store_delete(struct store *st, const char *bucket, struct slice key);

/* Copies src to dst without copying data: the new object references the same chunks. meta NULL
 * keeps the source's metadata. Conditions apply to the destination. Returns 0,
 * CAIRN_E_NOTFOUND, CAIRN_E_PRECONDITION, CAIRN_E_NOKEY or an error. Fills out (out->meta not
 * set). */
int store_copy(struct store *st, const char *src_bucket, struct slice src_key,
	       const char *dst_bucket, struct slice dst_key, const struct slice *meta,
	       const struct store_put_cond *cond, struct store_object_info *out);

/* ---- listing ---- */

struct store_list;

/* Opens a listing snapshot of bucket (one read transaction). Returns 0 or CAIRN_E_NOTFOUND.
 * Close it promptly, and do not call other store functions from the thread holding it open: a
 * map resize waiting for the snapshot would block them, and the snapshot would never end. */
int store_list_open(struct store *st, const char *bucket, struct store_list **out);
/* Positions at the first key >= from, or moves to the next key (store_list_next). key and
 * info->meta point into the snapshot and live until the next call on l. Return 0, or
 * CAIRN_E_NOTFOUND at the end of the bucket. */
int store_list_seek(struct store_list *l, struct slice from, struct slice *key,
		    struct store_object_info *info);
int store_list_next(struct store_list *l, struct slice *key, struct store_object_info *info);
void store_list_close(struct store_list *l);

/* ---- chunks (replication, chunk-aware clients) ---- */

/* Returns true when the store holds chunk id (referenced or not yet reclaimed). */
bool store_chunk_has(struct store *st, const struct chunk_id *id);
/* Reads the chunk's stored form (the full pack record) into rec. Returns 0, CAIRN_E_NOTFOUND,
 * CAIRN_E_CORRUPT or an error. */
int store_chunk_read_stored(struct store *st, const struct chunk_id *id, struct buf *rec);
/* Stores a record received from elsewhere after verifying it completely (checksum and the
 * SHA-256 of its raw bytes); a chunk already present is not stored again. The chunk starts with
 * no references. Durable on return. Returns 0, CAIRN_E_CORRUPT or an error. */
int store_chunk_write_stored(struct store *st, const uint8_t *rec, size_t len);

/* Sets a hook called (from the reading thread) for every chunk a get reads. fn must be quick and
 * thread-safe. NULL removes it. */
void store_set_read_hook(struct store *st, void (*fn)(const struct chunk_id *id, void *arg),
			 void *arg);

/* ---- statistics and checking ---- */

struct store_stats {
	uint64_t buckets;
	uint64_t objects;
	uint64_t logical_bytes; /* sum of object sizes */
	uint64_t chunks;        /* distinct chunks in the index */
	uint64_t chunk_refs;    /* sum of refcounts */
	uint64_t raw_bytes;     /* raw bytes of live chunks */
	uint64_t stored_bytes;  /* record bytes of live chunks */
	uint64_t dead_bytes;    /* record bytes of chunks with no reference */
	uint64_t packs;
	uint64_t pack_bytes;    /* bytes of the pack files */
	uint64_t index_bytes;   /* bytes of the LMDB file */
};

/* Computes statistics from one read snapshot. */
int store_stats(struct store *st, struct store_stats *out);
/* The MD5 memo's counters since the store opened (all zero when it has none). */
void store_md5memo_stats(struct store *st, struct md5memo_stats *out);

/*
 * One bucket's share. A chunk's bytes are attributed to buckets in proportion to the references
 * they hold on it (a chunk referenced 3 times, twice from bucket A, counts 2/3 of its bytes in A):
 * the buckets' raw and stored bytes add up to the store's live bytes (less the shares of objects
 * being read while replaced, which belong to no bucket), so they can be billed. Dead bytes belong
 * to no bucket.
 */
struct store_bucket_stats {
	uint64_t objects;
	uint64_t logical_bytes; /* sum of object sizes */
	double raw_bytes;	/* attributed raw (uncompressed) bytes of the chunks it uses */
	double stored_bytes;	/* attributed record bytes of those chunks */
	uint64_t uploads;	/* multipart uploads in progress */
	uint64_t upload_bytes;	/* bytes their parts hold (included in raw/stored above) */
};

/* Calls fn for each bucket in name order with its statistics, from one read snapshot (walks every
 * object's chunk list: seconds per million references; meant for `cairn stats`). fn returns
 * non-zero to stop (returned). Returns 0 or an error. */
int store_stats_buckets(struct store *st,
			int (*fn)(const char *name, const struct store_bucket_stats *s, void *arg),
			void *arg);

/* What fsck found; fn is called once per problem with a one-line description (bucket, key,
 * chunk id, pack and offset where they apply). */
struct store_fsck_result {
	uint64_t objects_checked;
	uint64_t chunks_checked;
	uint64_t problems;
};

/* Checks every chunk record (checksum, id, location), every object's pages (each chunk present,
 * offsets consistent, size matches) and every refcount against a recount. Returns 0 when it
 * could run (problems are counted in out), or an error that stopped it. */
int store_fsck(struct store *st, void (*fn)(const char *problem, void *arg), void *arg,
	       struct store_fsck_result *out);

/* What store_fsck_repair() changed. */
struct store_repair_result {
	uint64_t objects_deleted;  /* objects that used a missing or unreadable chunk */
	uint64_t uploads_aborted;  /* multipart uploads with such a part */
	uint64_t refcounts_fixed;  /* chunk refcounts set to the recount */
	uint64_t chunks_dropped;   /* unreadable chunk entries left unreferenced, removed */
};

/* Runs store_fsck() (problems through problem_fn, found filled), then, when it found any, repairs
 * (the store must be open STORE_MODE_WRITE): refcounts set to the recount, every object and upload
 * using a missing or unreadable chunk deleted / aborted (each reported through repair_fn and
 * logged),
 * unreadable chunk entries dropped once unreferenced, the packs table rebuilt. Run store_fsck()
 * again to see what is left. Returns 0, CAIRN_E_READONLY or an error that stopped it. */
int store_fsck_repair(struct store *st, void (*problem_fn)(const char *problem, void *arg),
		      void (*repair_fn)(const char *line, void *arg), void *arg,
		      struct store_fsck_result *found, struct store_repair_result *done);

#endif
