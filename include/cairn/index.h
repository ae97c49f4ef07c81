/*
 * index.h — the LMDB index: buckets, objects, chunk-list pages, chunks, packs, users.
 *
 * Lives in <datadir>/index/ (data.mdb, lock.mdb). Named databases:
 *   buckets  bucket name                         -> struct index_bucket
 *   objects  bucket name, NUL, key bytes          -> struct index_object (+ opaque meta blob)
 *   objtails the rest of "bucket NUL key" when it passes LMDB's 511-byte key limit: a trie
 *            of 500-byte segments that keeps the exact byte order (src/store/index_objects.c)
 *   pages    object id (u64 BE), start offset (u64 BE)
 *                                                 -> up to INDEX_PAGE_ENTRIES chunk entries, each
 *            a chunk's sequence number (as a difference) or its id, and its length, as varints
 *   chunks   chunk sequence number (5 bytes BE)  -> chunk id, struct index_chunk (varints)
 *   chunkids one key; its sorted duplicates: the first 4 bytes of a chunk id, its sequence
 *            number — the lookup of a chunk by id (src/store/index_chunks.c)
 *   packs    pack id (u32 BE)                     -> struct index_pack
 *   zombies  object id (u64 BE)                   -> empty: pages whose release is deferred
 *   users    access key id                        -> struct index_user
 *   meta     name                                 -> small values (next object id, format)
 *   uploads  bucket name, NUL, upload id          -> struct index_upload (+ key, meta blob)
 *   parts    upload id, part number (u32 BE)      -> struct index_part
 *   heals    object id (u64 BE)                   -> bucket, NUL, key: completed multipart
 *            objects whose part seams are still to be re-chunked
 * Every value starts with a version byte; a value with an unknown version reads as
 * CAIRN_E_VERSION. Big-endian integer keys sort numerically under LMDB's byte comparison, and
 * "bucket NUL key" sorts objects by bucket, then by key bytes (S3 list order).
 *
 * Pages are keyed by the object offset of their first byte, so the page holding any offset is one
 * cursor seek away (MDB_SET_RANGE), and a 5 TiB object is many modest values, not one huge one.
 *
 * Concurrency: readers use short read transactions that never wait for writers. The map grows
 * by itself: a write that hits MDB_MAP_FULL is retried after doubling the map (readers are held
 * off only for the instant of the resize, by a lock that read transactions share). LMDB is
 * multi-process: `cairn user add` writes beside a running cairnd. Read transactions are not tied
 * to a thread (MDB_NOTLS) but must be used by one thread at a time.
 */
#ifndef CAIRN_INDEX_H
#define CAIRN_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/chunk.h"

#define INDEX_PAGE_ENTRIES 1024
#define INDEX_BUCKET_NAME_MAX 63
#define INDEX_KEY_MAX 1024
#define INDEX_OWNER_MAX 64
#define INDEX_REGION_MAX 32
#define INDEX_DEFAULT_MAP_BYTES (64ull << 20)

struct index;
struct index_txn;

struct index_bucket {
	char owner[INDEX_OWNER_MAX + 1];   /* user name of the creator, NUL-terminated */
	char region[INDEX_REGION_MAX + 1]; /* location constraint given at creation */
	int64_t ctime_ns;                  /* creation time, ns since the epoch */
	uint32_t flags;                    /* reserved (public access, versioning later) */
};

struct index_object {
	uint64_t oid;      /* object id: names its pages; a new one for every write */
	uint64_t size;     /* bytes */
	int64_t mtime_ns;  /* last-modified time, ns since the epoch */
	uint8_t md5[16];   /* MD5 of the body, or of the part MD5s for multipart */
	uint32_t parts;    /* 0 for a single PUT, else the number of parts (ETag "-N") */
	uint64_t nchunks;  /* chunk references held by the object */
	struct slice meta; /* opaque header blob (store.h); on get: points into the transaction's
			      memory, valid until the transaction ends */
};

struct index_page_entry {
	struct chunk_id id;
	uint64_t end; /* object offset just past this chunk */
};

struct index_chunk {
	struct chunk_loc loc;
	uint64_t refcount; /* references from objects; 0 = dead bytes awaiting compaction */
};

struct index_pack {
	uint64_t live_bytes; /* record bytes of chunks with refcount > 0 */
	uint64_t dead_bytes; /* record bytes of chunks with refcount 0 */
};

struct index_user {
	char name[INDEX_OWNER_MAX + 1];
	char access_key[33];
	char secret_key[65];
	int64_t ctime_ns;
};

/* Opens (creating when missing and not readonly) the index in dir, with a map of
 * INDEX_DEFAULT_MAP_BYTES that grows on demand. Returns 0, -errno, or a translated LMDB error
 * (CAIRN_E_CORRUPT for MDB_CORRUPTED/MDB_INVALID, CAIRN_E_VERSION for MDB_VERSION_MISMATCH). */
int index_open(const char *dir, bool readonly, struct index **out);

/* Closes the index. No transaction may be open. NULL is a no-op. */
void index_close(struct index *ix);

/* Bytes the index occupies on disk (data.mdb). */
uint64_t index_disk_bytes(struct index *ix);

/*
 * The map's resident part. LMDB maps data.mdb read-only and shared (no MDB_WRITEMAP: writes go
 * through pwrite), and every page a transaction reads stays mapped in this process and counts in
 * its RSS (RssFile) until the kernel reclaims it: a walk over a million keys leaves ~160 MB
 * mapped. These keep that part under a budget (src/store/index_trim.c says why it is safe).
 *
 * index_map_trim: drops the index's mapped pages, up to its last used page, from this process's
 * page tables (madvise MADV_DONTNEED). The bytes stay in the page cache and the next read maps
 * them again (a minor fault); transactions running meanwhile see the same bytes. It takes the
 * lock that transactions share: never call it from a thread that holds a transaction of ix.
 * Returns 0, -EAGAIN when another process grew the map and this one has not adopted the new
 * size yet (the next transaction does), CAIRN_E_NOTFOUND when the map cannot be found in
 * /proc/self/maps, or another -errno.
 */
int index_map_trim(struct index *ix);

/*
 * Starts a thread that reads this process's file-backed resident size (RssFile, /proc/self/status)
 * every 50 ms and calls index_map_trim() when it exceeds by more than budget bytes what it was
 * right after the previous trim (the start trims once, on the caller's thread). budget 0 starts
 * nothing. Returns 0, -EALREADY when the thread already runs, or -errno (/proc/self/status
 * unreadable, no thread). index_trimmer_stop() ends it (a no-op when none runs); index_close()
 * does too. Start and stop from one thread, not beside each other.
 */
int index_trimmer_start(struct index *ix, uint64_t budget);
void index_trimmer_stop(struct index *ix);

/* Number of index_map_trim() calls (by any caller) that dropped a range since the open. */
uint64_t index_map_trims(struct index *ix);

/* Begins a read transaction (a consistent snapshot). End it with index_read_end(). Keep it
 * short: it holds off map resizing. Returns 0 or an error. */
int index_read_begin(struct index *ix, struct index_txn **out);
void index_read_end(struct index_txn *txn);

/*
 * Runs fn inside a write transaction and commits it when fn returns 0 (aborts it otherwise and
 * returns fn's value). When the map fills up, the transaction is aborted, the map doubled and fn
 * run again from the start: fn must not have effects outside the transaction that a second run
 * would repeat wrongly. Writers from all threads and processes are serialised here.
 */
int index_write(struct index *ix, int (*fn)(struct index_txn *txn, void *arg), void *arg);

/*
 * Inside an index_write() fn: runs fn in a transaction nested in txn (LMDB child transaction).
 * When fn returns 0 its changes join txn and commit or abort with it; otherwise they are undone
 * and txn goes on as if fn had never run. This lets one write transaction carry many independent
 * operations (group commit) where one failing does not undo the others. When fn fills the map,
 * txn as a whole fails (index_write grows the map and reruns its own fn from the start). Returns
 * fn's value, CAIRN_E_READONLY outside a write transaction, -ENOSPC (map full), -ENOMEM, or
 * another translated LMDB error beginning or committing the nested transaction.
 */
int index_write_nested(struct index_txn *txn, int (*fn)(struct index_txn *txn, void *arg),
		       void *arg);

/* Buckets. get: CAIRN_E_NOTFOUND. put: overwrites. del: CAIRN_E_NOTFOUND. */
int index_bucket_get(struct index_txn *txn, const char *name, struct index_bucket *out);
int index_bucket_put(struct index_txn *txn, const char *name, const struct index_bucket *b);
int index_bucket_del(struct index_txn *txn, const char *name);
/* Calls fn for every bucket in name order; fn returns non-zero to stop (returned). */
int index_bucket_iter(struct index_txn *txn,
		      int (*fn)(const char *name, const struct index_bucket *b, void *arg),
		      void *arg);

/* Objects. get: fills out (out->meta points into txn memory), CAIRN_E_NOTFOUND. put: the meta
 * blob is copied. del: CAIRN_E_NOTFOUND. */
int index_object_get(struct index_txn *txn, const char *bucket, struct slice key,
		     struct index_object *out);
int index_object_put(struct index_txn *txn, const char *bucket, struct slice key,
		     const struct index_object *obj);
int index_object_del(struct index_txn *txn, const char *bucket, struct slice key);

/* Cursor over one bucket's objects in key order. The cursor lives inside txn: close it before
 * the transaction ends. key_out and obj_out->meta point into txn memory. */
struct index_cursor;
int index_object_cursor_open(struct index_txn *txn, const char *bucket, struct index_cursor **out);
/* Positions at the first key >= from (from.len == 0: the bucket's first key). Returns 0 or
 * CAIRN_E_NOTFOUND when no such key exists in the bucket. */
int index_object_cursor_seek(struct index_cursor *cur, struct slice from, struct slice *key_out,
			     struct index_object *obj_out);
/* Moves to the next key of the bucket. Returns 0 or CAIRN_E_NOTFOUND at the bucket's end. */
int index_object_cursor_next(struct index_cursor *cur, struct slice *key_out,
			     struct index_object *obj_out);
void index_cursor_close(struct index_cursor *cur);

/* Allocates a fresh object id (never reused). */
int index_next_oid(struct index_txn *txn, uint64_t *oid);

/* Chunk-list pages. put: n (1..INDEX_PAGE_ENTRIES) entries of object oid whose first byte is at
 * object offset start; an entry naming a chunk already in the chunks table (index_chunk_put) is
 * stored as its sequence number (2..5 bytes with the length), any other with its whole id (so
 * take references before writing pages). find: copies the page holding object offset off into
 * out[INDEX_PAGE_ENTRIES] and its start into *start; CAIRN_E_NOTFOUND past the end;
 * CAIRN_E_CORRUPT when an entry's sequence number names no chunk. */
int index_page_put(struct index_txn *txn, uint64_t oid, uint64_t start,
		   const struct index_page_entry *e, size_t n);
int index_page_find(struct index_txn *txn, uint64_t oid, uint64_t off, uint64_t *start,
		    struct index_page_entry *out, size_t *n);
/* Deletes the page of oid starting at start. Returns 0 or CAIRN_E_NOTFOUND. (Added for the seam
 * healing of multipart objects, which rewrites a few pages in place.) */
int index_page_del(struct index_txn *txn, uint64_t oid, uint64_t start);
/* Calls fn for each page of oid in offset order (entries valid only during the call); fn returns
 * non-zero to stop. With del set, each page is deleted after fn returns 0 for it. */
int index_page_iter(struct index_txn *txn, uint64_t oid, bool del,
		    int (*fn)(uint64_t start, const struct index_page_entry *e, size_t n, void *arg),
		    void *arg);

/* Chunks. get: CAIRN_E_NOTFOUND. put: a new chunk gets the next sequence number (-EOVERFLOW past
 * 2^40 - 1). del: CAIRN_E_NOTFOUND; delete only a chunk no page names (refcount 0). iter: in the
 * order of the ids' first 4 bytes, then of recording; fn returns non-zero to stop. */
int index_chunk_get(struct index_txn *txn, const struct chunk_id *id, struct index_chunk *out);
int index_chunk_put(struct index_txn *txn, const struct chunk_id *id, const struct index_chunk *c);
int index_chunk_del(struct index_txn *txn, const struct chunk_id *id);
int index_chunk_iter(struct index_txn *txn,
		     int (*fn)(const struct chunk_id *id, const struct index_chunk *c, void *arg),
		     void *arg);
/* Like index_chunk_iter, starting after chunk id after (NULL: at the first chunk), so that a long
 * walk can go in short transactions (the scrubber). When after was deleted meanwhile, the walk
 * starts at the first chunk sharing its first 4 bytes: it may visit such a chunk again, never
 * skips one. */
int index_chunk_iter_after(struct index_txn *txn, const struct chunk_id *after,
			   int (*fn)(const struct chunk_id *id, const struct index_chunk *c,
				     void *arg),
			   void *arg);

/* Packs. get: a pack never recorded reads as zeros (returns 0). */
int index_pack_get(struct index_txn *txn, uint32_t pack_id, struct index_pack *out);
int index_pack_put(struct index_txn *txn, uint32_t pack_id, const struct index_pack *p);
/* del: CAIRN_E_NOTFOUND when the pack has no record. */
int index_pack_del(struct index_txn *txn, uint32_t pack_id);
int index_pack_iter(struct index_txn *txn,
		    int (*fn)(uint32_t pack_id, const struct index_pack *p, void *arg), void *arg);

/* Zombies: objects replaced or deleted while a reader still streams them; their pages are
 * released when the last reader closes, or at the next start. */
int index_zombie_add(struct index_txn *txn, uint64_t oid);
int index_zombie_del(struct index_txn *txn, uint64_t oid);
int index_zombie_iter(struct index_txn *txn, int (*fn)(uint64_t oid, void *arg), void *arg);

/* Users, keyed by access key. get: CAIRN_E_NOTFOUND. */
int index_user_get(struct index_txn *txn, const char *access_key, struct index_user *out);
int index_user_put(struct index_txn *txn, const struct index_user *u);
int index_user_del(struct index_txn *txn, const char *access_key);
int index_user_iter(struct index_txn *txn, int (*fn)(const struct index_user *u, void *arg),
		    void *arg);

/* ---- multipart uploads (index_uploads.c) ----
 *
 * An upload in progress is a record in uploads; each part it received is a record in parts whose
 * chunk list is stored as pages under the part's own oid (from index_next_oid), exactly like an
 * object's. Upload ids are INDEX_UPLOAD_ID_LEN lower-case hex digits (the store makes them).
 * A data dir written before these tables existed opens read-only with both tables empty.
 */

#define INDEX_UPLOAD_ID_LEN 32
#define INDEX_PART_CHECKSUM_MAX 32

struct index_upload {
	int64_t initiated_ns;		 /* creation time, ns since the epoch */
	char owner[INDEX_OWNER_MAX + 1]; /* user name of the initiator */
	uint8_t checksum_algo;		 /* opaque to the index (the S3 layer's algorithm) */
	uint8_t checksum_type;		 /* opaque to the index (composite / full object) */
	struct slice key;		 /* object key; on get: into txn memory */
	struct slice meta;		 /* metadata blob for the object; on get: into txn memory */
};

struct index_part {
	uint64_t oid;	      /* names the part's pages */
	uint64_t size;	      /* bytes */
	int64_t mtime_ns;     /* when the part was stored */
	uint8_t md5[16];      /* MD5 of the part's bytes (its ETag) */
	uint64_t nchunks;     /* chunk references the part holds */
	uint8_t checksum_len; /* 0..INDEX_PART_CHECKSUM_MAX bytes of checksum */
	uint8_t checksum[INDEX_PART_CHECKSUM_MAX];
};

/* Uploads, keyed by (bucket, id). get: fills out (key and meta into txn memory),
 * CAIRN_E_NOTFOUND (also for an id that is not INDEX_UPLOAD_ID_LEN hex digits). put: key and
 * meta are copied; CAIRN_E_INVAL for a bad bucket name, id or key length. del: CAIRN_E_NOTFOUND. */
int index_upload_get(struct index_txn *txn, const char *bucket, const char *id,
		     struct index_upload *out);
int index_upload_put(struct index_txn *txn, const char *bucket, const char *id,
		     const struct index_upload *u);
int index_upload_del(struct index_txn *txn, const char *bucket, const char *id);
/* Calls fn for each upload of bucket (NULL: of every bucket) in (bucket, id) order; u->key and
 * u->meta are valid during the call. fn returns non-zero to stop (returned); fn may add or delete
 * uploads and parts in a write transaction. */
int index_upload_iter(struct index_txn *txn, const char *bucket,
		      int (*fn)(const char *bucket, const char *id, const struct index_upload *u,
				void *arg),
		      void *arg);

/* Parts, keyed by (upload id, number 1..UINT32_MAX). get: CAIRN_E_NOTFOUND. put: overwrites.
 * del: CAIRN_E_NOTFOUND. */
int index_part_get(struct index_txn *txn, const char *id, uint32_t number, struct index_part *out);
int index_part_put(struct index_txn *txn, const char *id, uint32_t number,
		   const struct index_part *p);
int index_part_del(struct index_txn *txn, const char *id, uint32_t number);
/* Calls fn for each part of upload id numbered above after, in ascending order. fn returns
 * non-zero to stop (returned); it may add or delete parts in a write transaction. id NULL walks
 * the parts of every upload (fsck); the id passed to fn is NUL-terminated. */
int index_part_iter(struct index_txn *txn, const char *id, uint32_t after,
		    int (*fn)(const char *id, uint32_t number, const struct index_part *p,
			      void *arg),
		    void *arg);

/* Heals: completed multipart objects whose seams wait for re-chunking, by oid. put: bucket and
 * key are copied (CAIRN_E_INVAL when too long). del: CAIRN_E_NOTFOUND. iter: in oid order; the
 * key is valid during the call; fn returns non-zero to stop (returned) and may delete entries. */
int index_heal_put(struct index_txn *txn, uint64_t oid, const char *bucket, struct slice key);
int index_heal_del(struct index_txn *txn, uint64_t oid);
int index_heal_iter(struct index_txn *txn,
		    int (*fn)(uint64_t oid, const char *bucket, struct slice key, void *arg),
		    void *arg);

#endif
