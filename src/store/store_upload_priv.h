/*
 * store_upload_priv.h — internals shared by the store_upload*.c files (not an API):
 *   store_upload.c          create, look up, walk, abort, part commit, ListParts, page writer
 *   store_upload_complete.c CompleteMultipartUpload and the part boundaries in object metadata
 *   store_upload_copy.c     UploadPartCopy
 *   store_upload_list.c     ListMultipartUploads, the sweep, the background worker
 *   store_upload_heal.c     re-chunking the seams of completed objects
 */
#ifndef CAIRN_STORE_UPLOAD_PRIV_H
#define CAIRN_STORE_UPLOAD_PRIV_H

#include "cairn/store_upload.h"
#include "store_internal.h"

/*
 * A page writer: appends chunk entries, in object order, to the pages of oid inside a write
 * transaction, packing INDEX_PAGE_ENTRIES per page. Each entry's end is shifted by delta
 * (modulo 2^64, so a negative shift is a large delta) as it is added; ends must rise strictly.
 * With take_refs, every entry added takes one chunk reference (a part being committed); without,
 * the references move with the entries (completion).
 */
struct upload_pw {
	struct store_wctx *w;
	struct index_txn *txn;
	uint64_t oid;
	bool take_refs;
	uint64_t delta;
	struct index_page_entry *e; /* INDEX_PAGE_ENTRIES, owned */
	size_t n;
	uint64_t start;	  /* object offset of the pending page's first byte */
	uint64_t end;	  /* end of the last entry added */
	uint64_t nchunks; /* entries added */
};

void upload_pw_init(struct upload_pw *pw, struct store_wctx *w, bool take_refs);
void upload_pw_fini(struct upload_pw *pw);
/* Starts writing the pages of oid (forgets anything pending: the start of a txn function run). */
void upload_pw_begin(struct upload_pw *pw, struct index_txn *txn, uint64_t oid);
/* Adds e[n] (ends shifted by pw->delta). Returns 0, CAIRN_E_CORRUPT (ends not rising), or an
 * error. */
int upload_pw_add(struct upload_pw *pw, const struct index_page_entry *e, size_t n);
/* Adds the chunk list of a finished put. */
int upload_pw_add_put(struct upload_pw *pw, struct store_put *put);
/* Writes the pending page. */
int upload_pw_flush(struct upload_pw *pw);

/* Inside a write txn: records part number of upload id, releasing the pages of the part it
 * replaces. */
int upload_part_store(struct store_wctx *w, struct index_txn *txn, const char *id, uint32_t number,
		      const struct index_part *p);

/* Inside a txn: the upload must exist for key (key.p NULL: any key). Returns 0 or
 * CAIRN_E_NOTFOUND. */
int upload_check(struct index_txn *txn, const char *bucket, const char *id, struct slice key,
		 struct index_upload *out);

/* Inside a write txn: releases every part of upload id (pages and records). */
int upload_release_parts(struct store_wctx *w, struct index_txn *txn, const char *id);

/* Inside a write txn: aborts every upload of bucket (store_bucket_delete: a bucket goes with its
 * uploads, so nothing is left holding references or reappears under a new bucket of the name). */
int upload_release_bucket(struct store_wctx *w, struct index_txn *txn, const char *bucket);

#endif
