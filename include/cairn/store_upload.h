/*
 * store_upload.h — multipart uploads in the engine: what S3's CreateMultipartUpload,
 * UploadPart, UploadPartCopy, ListParts, ListMultipartUploads, CompleteMultipartUpload and
 * AbortMultipartUpload need from the store, and the sweep of abandoned uploads.
 *
 * An upload is a record (bucket, id) -> (key, owner, initiation time, the object's metadata, the
 * checksum settings). A part streams through the ordinary put pipeline (store_put_begin / write /
 * finish: chunked, deduplicated while streaming, MD5 beside) and is committed with
 * store_upload_part_commit(): its chunk list becomes pages under the part's own oid and it takes
 * one reference per chunk entry, so an upload in progress holds its chunks exactly as an object
 * does. Parts of one upload may be committed concurrently and in any order; committing a part
 * number again replaces that part (its old references are released in the same transaction).
 *
 * Completing stitches the listed parts' chunk lists into the new object's pages in one index
 * transaction — chunk data is neither read nor written, only page offsets are rewritten — hands
 * the parts' references to the object, releases the parts not listed, and switches the key as a
 * put commit does (a reader of the replaced object keeps it until it closes). Aborting releases
 * every reference the upload held: afterwards the store's statistics are as before the upload,
 * except that chunks only the upload used are now dead bytes.
 *
 * The S3 layer owns the checksum algorithms: the store keeps a part's checksum as opaque bytes,
 * and an upload's algorithm and checksum type as opaque numbers.
 *
 * Part boundaries of a completed object live in its metadata blob under STORE_META_PARTS (text
 * runs "size*count,size*count…"); store_meta_part_range() reads them. Metadata names starting with
 * STORE_META_INTERNAL_PREFIX are the store's own and never come from or go to clients.
 *
 * Thread safety: as store.h. Functions that take a callback run it inside a read transaction:
 * the callback must not call back into the store.
 */
#ifndef CAIRN_STORE_UPLOAD_H
#define CAIRN_STORE_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/index.h"
#include "cairn/store.h"

#define STORE_UPLOAD_ID_LEN INDEX_UPLOAD_ID_LEN /* hex digits; time-ordered, then random */
#define STORE_PARTS_MAX 10000
#define STORE_PART_SIZE_MAX (5ull << 30)	/* bytes of one part */
#define STORE_PART_SIZE_MIN (5ull << 20)	/* bytes of every part but the last (S3 layer) */
#define STORE_MULTIPART_OBJECT_MAX (5ull << 40) /* bytes of a completed object */
#define STORE_UPLOAD_LIST_MAX 1000		/* entries one store_upload_list() returns */
#define STORE_META_INTERNAL_PREFIX "x-cairn-"
#define STORE_META_PARTS "x-cairn-parts"

/* ---- uploads ---- */

/* An upload as recorded. */
struct store_upload_info {
	char id[STORE_UPLOAD_ID_LEN + 1];
	char bucket[INDEX_BUCKET_NAME_MAX + 1];
	char owner[INDEX_OWNER_MAX + 1];
	int64_t initiated_ns;
	uint8_t checksum_algo; /* as given to store_upload_create() */
	uint8_t checksum_type;
	struct slice key; /* see the function that filled it for how long these live */
	struct slice meta;
};

/*
 * Begins an upload of bucket/key for owner, to become an object with metadata meta (copied) and
 * the given checksum settings; id receives the new upload's id. Returns 0, CAIRN_E_NOTFOUND (no
 * bucket), CAIRN_E_INVAL (key empty or longer than INDEX_KEY_MAX, owner too long),
 * CAIRN_E_READONLY, or an error.
 */
int store_upload_create(struct store *st, const char *bucket, struct slice key, const char *owner,
			const struct store_upload_info *settings, char id[STORE_UPLOAD_ID_LEN + 1]);

/*
 * Looks upload id of bucket up. With key.p not NULL the upload must be one for that key (S3
 * answers NoSuchUpload otherwise). Fills info; its key and meta are copied into key_out and
 * meta_out (reset first; either may be NULL, leaving that slice empty). Returns 0,
 * CAIRN_E_NOTFOUND, CAIRN_E_TOOBIG (a buffer's maximum), or an error.
 */
int store_upload_get(struct store *st, const char *bucket, const char *id, struct slice key,
		     struct store_upload_info *info, struct buf *key_out, struct buf *meta_out);

/* Calls fn for every upload of bucket (NULL: of every bucket) in (bucket, id) order, inside one
 * read transaction; info's slices are valid during the call. fn returns non-zero to stop (that
 * value is returned). Returns 0 or an error. */
int store_upload_walk(struct store *st, const char *bucket,
		      int (*fn)(const struct store_upload_info *info, void *arg), void *arg);

/*
 * Aborts upload id of bucket: releases every part's chunk references and forgets the upload. A
 * part being uploaded meanwhile fails with CAIRN_E_NOTFOUND at its commit. Works in
 * STORE_MODE_WRITE and STORE_MODE_INDEX (the admin tool beside the daemon). Returns 0,
 * CAIRN_E_NOTFOUND, CAIRN_E_READONLY, or an error.
 */
int store_upload_abort(struct store *st, const char *bucket, const char *id);

/* ---- parts ---- */

struct store_part {
	uint32_t number;
	uint64_t size;
	int64_t mtime_ns;
	uint8_t md5[16];
	uint8_t checksum_len; /* 0 when no checksum was stored */
	uint8_t checksum[INDEX_PART_CHECKSUM_MAX];
};

/*
 * Commits a finished put (store_put_finish() returned 0) as part number of upload id for
 * bucket/key, with checksum[checksum_len] (opaque; checksum_len may be 0). Replaces an earlier
 * part with that number. Durable on return. Always consumes put. Fills out. Returns 0,
 * CAIRN_E_NOTFOUND (no such upload, or one for another key), CAIRN_E_INVAL (number not
 * 1..STORE_PARTS_MAX, put not finished, checksum longer than INDEX_PART_CHECKSUM_MAX),
 * CAIRN_E_TOOBIG (more than STORE_PART_SIZE_MAX bytes), or an error.
 */
int store_upload_part_commit(struct store_put *put, const char *bucket, struct slice key,
			     const char *id, uint32_t number, const uint8_t *checksum,
			     size_t checksum_len, struct store_part *out);

/* What UploadPartCopy copies. */
struct store_part_copy {
	const char *src_bucket;
	struct slice src_key;
	bool whole;	/* the whole source (start and len are ignored) */
	uint64_t start; /* else: the first byte of the range */
	uint64_t len;	/* and its length (>= 1) */
	/* Optional: called with every byte of the range, in order, as it is read (the S3 layer's
	 * checksum); then checksum_fn gives the checksum to store with the part (its length). */
	void (*data_fn)(void *arg, const uint8_t *p, size_t len);
	size_t (*checksum_fn)(void *arg, uint8_t out[INDEX_PART_CHECKSUM_MAX]);
	void *arg;
	/* Out: the source as copied (info.meta is not set). */
	struct store_object_info src_info;
	bool src_missing; /* the failure was a missing source */
};

/*
 * Makes a byte range of an existing object part number of upload id (bucket/key). Chunks lying
 * wholly inside the range are referenced, not copied; the partial chunks at its edges are read
 * and put again (re-chunked). The range is read once to compute the part's MD5 (its ETag), except
 * when the whole of a single-PUT object is copied without data_fn (its MD5 is known). Returns 0;
 * CAIRN_E_NOTFOUND (no upload, or no source: src_missing tells); CAIRN_E_INVAL (number out of
 * range, the range past the source's end); CAIRN_E_TOOBIG (more than STORE_PART_SIZE_MAX bytes);
 * CAIRN_E_CORRUPT; or an error.
 */
int store_upload_part_copy(struct store *st, const char *bucket, struct slice key, const char *id,
			   uint32_t number, struct store_part_copy *src, struct store_part *out);

/*
 * Lists the parts of upload id (key as for store_upload_get) numbered above after, at most max of
 * them, calling fn for each in number order inside one read transaction. *truncated tells whether
 * more parts follow. fn returns non-zero to stop (returned). Returns 0, CAIRN_E_NOTFOUND (no such
 * upload), or an error.
 */
int store_upload_parts(struct store *st, const char *bucket, struct slice key, const char *id,
		       uint32_t after, size_t max, int (*fn)(const struct store_part *p, void *arg),
		       void *arg, bool *truncated);

/* ---- completing ---- */

/* One part as the client lists it (and the S3 layer checked it against store_upload_parts()). */
struct store_complete_part {
	uint32_t number;
	uint8_t md5[16];
	uint64_t size;
};

/*
 * Completes upload id as the object bucket/key from parts[n] (ascending numbers) with metadata
 * meta (the store adds STORE_META_PARTS). The ETag is the MD5 of the parts' binary MD5s with
 * "-n". Parts not listed are released. One index transaction; conditions as store_put_commit().
 * Fills out (out->meta not set). Returns 0; CAIRN_E_NOTFOUND (no such upload or bucket);
 * CAIRN_E_BADDIGEST (a listed part is missing or is not the one described: another upload of it
 * came first); CAIRN_E_INVAL (n is 0 or above STORE_PARTS_MAX, numbers not ascending);
 * CAIRN_E_TOOBIG (more than STORE_MULTIPART_OBJECT_MAX bytes, or meta too large);
 * CAIRN_E_PRECONDITION; CAIRN_E_NOKEY (an If-Match condition and no such key); or an error.
 */
int store_upload_complete(struct store *st, const char *bucket, struct slice key, const char *id,
			  const struct store_complete_part *parts, size_t n, struct slice meta,
			  const struct store_put_cond *cond, struct store_object_info *out);

/* Reads part n (1-based) of a completed multipart object from its metadata: *start and *len.
 * Returns 0, CAIRN_E_INVAL (n is 0 or above the number of parts), CAIRN_E_NOTFOUND (meta records
 * no parts: not a multipart object), or CAIRN_E_CORRUPT. *count receives the number of parts
 * whatever n is (0 when none are recorded); count may be NULL. */
int store_meta_part_range(struct slice meta, uint32_t n, uint64_t *start, uint64_t *len,
			  uint32_t *count);

/* ---- listing uploads ---- */

struct store_upload_query {
	struct slice prefix;	 /* only keys starting with it */
	struct slice delimiter;	 /* len 0: none; else keys with it after the prefix roll up */
	struct slice key_marker; /* len 0: from the start */
	const char *id_marker;	 /* with key_marker: that key's uploads after this id; NULL/"" */
	size_t max;		 /* at most this many entries, <= STORE_UPLOAD_LIST_MAX */
};

struct store_upload_entry {
	bool is_prefix;	  /* a common prefix: only key is set */
	struct slice key; /* the key or the common prefix; valid during the call */
	char id[STORE_UPLOAD_ID_LEN + 1];
	char owner[INDEX_OWNER_MAX + 1];
	int64_t initiated_ns;
	uint8_t checksum_algo;
	uint8_t checksum_type;
};

/*
 * ListMultipartUploads: the uploads of bucket matching q, in (key, initiation) order, and with a
 * delimiter the common prefixes among them, each counting as one entry. fn is called for each
 * selected entry after the snapshot ended (fn may use the store). *truncated tells whether more
 * entries follow. Memory is bounded by q->max entries whatever the number of uploads. Returns 0,
 * CAIRN_E_INVAL (q->max too large), fn's non-zero value, or an error.
 */
int store_upload_list(struct store *st, const char *bucket, const struct store_upload_query *q,
		      int (*fn)(const struct store_upload_entry *e, void *arg), void *arg,
		      bool *truncated);

/* ---- the sweep of abandoned uploads ---- */

/* Aborts every upload initiated before cutoff_ns (ns since the epoch); *n (may be NULL) counts
 * them. Returns 0 or the first error (uploads aborted before it stay aborted). */
int store_upload_sweep(struct store *st, int64_t cutoff_ns, uint64_t *n);

/* ---- seam healing and the background worker ---- */

/*
 * Heals queued completed multipart objects (store_upload_heal.c): around every part boundary the
 * chunks are cut again as a single streaming put of the same bytes would cut them, so that the
 * same data uploaded with other part sizes (or by one PUT) deduplicates completely. Completion
 * queues the object; this takes up to 16 queued objects per call. *objects and *seams (either may
 * be NULL) count what was healed. An object a reader has open stays queued for a later call.
 * Returns 0, CAIRN_E_READONLY, or an error.
 */
int store_upload_heal(struct store *st, uint64_t *objects, uint64_t *seams);

struct store_upload_worker;

/* Starts a thread that heals completed multipart objects (polling the queue every second) and,
 * when max_age_s > 0, calls store_upload_sweep() for uploads older than max_age_s seconds at
 * start and then every sweep_interval_s seconds (0: max_age_s / 4, between 1 s and 1 h).
 * Returns 0, CAIRN_E_INVAL (max_age_s too large), CAIRN_E_READONLY, or -errno. */
int store_upload_worker_start(struct store *st, uint64_t max_age_s, uint64_t sweep_interval_s,
			      struct store_upload_worker **out);

/* Stops and joins the thread (waits for the heal or sweep in progress). NULL is a no-op. Call
 * before store_close(). */
void store_upload_worker_stop(struct store_upload_worker *w);

#endif
