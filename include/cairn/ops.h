/*
 * ops.h — the S3 operations, one function per API call, grouped by family in src/s3/ops_*.c
 * (service, bucket, object, list, delete, multipart). server.c calls them after routing and
 * authentication; each fills r->resp or calls server_req_fail().
 *
 * Access rule: a bucket belongs to the user who created it. Only that user — and root, which may
 * access every bucket — may list it, read, write or delete in it, or delete it; anyone else gets
 * AccessDenied. ListBuckets shows a user their own buckets (root: all).
 */
#ifndef CAIRN_OPS_H
#define CAIRN_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/index.h"
#include "cairn/server.h"

/* ---- shared helpers (ops_bucket.c) ---- */

/* Looks up bucket name and checks that r's user may use it. Returns 0 (fills *b when b is not
 * NULL) or a negative code after server_req_fail() (NoSuchBucket, AccessDenied, …). */
int ops_bucket_access(struct server_req *r, const char *name, struct index_bucket *b);

/* ---- shared helpers (ops_object.c, ops_get.c) ---- */

/* Builds the stored metadata of a new object from r's headers into meta (reset first):
 * Content-Type (default binary/octet-stream), Content-Encoding (without aws-chunked),
 * Content-Disposition, Content-Language, Cache-Control, Expires and x-amz-meta-* (names lower-
 * cased, at most 2 KiB of names and values together). Returns 0 or a negative code after
 * server_req_fail() (MetadataTooLarge). */
int ops_meta_from_headers(struct server_req *r, struct buf *meta);

/* Evaluates the conditional headers (If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since; with prefix "x-amz-copy-source-" the copy-source variants) against an
 * object's ETag and modification time, in RFC 9110 order as S3 does. Returns S3E_OK,
 * S3E_NOT_MODIFIED or S3E_PRECONDITION_FAILED. */
enum s3_error ops_conditions(const struct server_req *r, const char *prefix, const char *etag,
			     int64_t mtime_s);

/* Refuses headers asking for features cairn lacks (x-amz-tagging, server-side encryption, object
 * lock, website redirects): NotImplemented beats silently ignoring them. Returns 0 or a non-zero
 * value after server_req_fail(). */
int ops_unsupported_headers(struct server_req *r);

/* Checks r's key for a write: KeyTooLongError, InvalidArgument (empty, NUL, not UTF-8). Returns 0
 * or a negative code after server_req_fail(). */
int ops_key_check(struct server_req *r, const uint8_t *key, size_t len);

/* ---- admin endpoints (ops_admin.c): root only, JSON bodies; docs/operations.md ---- */
void ops_admin_gc(struct server_req *r); /* POST /_cairn/gc[?wait=SECONDS] */
void ops_admin_gc_status(struct server_req *r);
void ops_admin_scrub_status(struct server_req *r);

/* ---- service (ops_service.c) ---- */
void ops_health(struct server_req *r);
void ops_list_buckets(struct server_req *r);

/* ---- buckets (ops_bucket.c) ---- */
void ops_create_bucket(struct server_req *r); /* body: optional CreateBucketConfiguration */
void ops_head_bucket(struct server_req *r);
void ops_delete_bucket(struct server_req *r);
void ops_get_bucket_location(struct server_req *r);
/* Versioning is never enabled on a cairn bucket: the empty VersioningConfiguration S3 returns for
 * buckets that never had it (rclone asks before purging). */
void ops_get_bucket_versioning(struct server_req *r);

/* ---- listing (ops_list.c) ---- */
void ops_list_objects(struct server_req *r, bool v2);

/* ---- objects (ops_object.c, ops_get.c) ---- */

/* PutObject before the body: checks headers and the bucket, begins the store put and sets
 * r->body_mode = SERVER_BODY_STREAM. Returns 0 or a negative code after server_req_fail(). */
int ops_put_object_begin(struct server_req *r);
/* For a body with a signed SHA-256: makes *put (which must stay valid or become NULL while the
 * request lives) compute it on the store's digest threads (payload_sha_delegate). */
void ops_put_digest_delegate(struct server_req *r, struct store_put *const *put);
/* PutObject after the body was received and verified: checks digests and commits. */
void ops_put_object_end(struct server_req *r);
void ops_copy_object(struct server_req *r);
void ops_get_object(struct server_req *r, bool head);
void ops_delete_object(struct server_req *r);

/* ---- multi-object delete (ops_delete.c) ---- */
void ops_delete_objects(struct server_req *r); /* body: the Delete XML */

/* ---- multipart uploads (ops_multipart*.c, over store_upload.h) ---- */
void ops_create_multipart(struct server_req *r);
/* UploadPart before the body: checks the part number, the upload, the length and checksums,
 * begins the store put and sets r->body_mode = SERVER_BODY_STREAM. Returns 0 or a negative code
 * after server_req_fail(). */
int ops_upload_part_begin(struct server_req *r);
/* UploadPart after the body: verifies Content-MD5 and the checksum, commits the part. */
void ops_upload_part_end(struct server_req *r);
void ops_upload_part_copy(struct server_req *r);
/* CompleteMultipartUpload before the body: buffers it (up to XML_COMPLETE_BODY_MAX). Returns 0. */
int ops_complete_multipart_begin(struct server_req *r);
void ops_complete_multipart(struct server_req *r); /* body: the CompleteMultipartUpload XML */
void ops_abort_multipart(struct server_req *r);
void ops_list_parts(struct server_req *r);
void ops_list_multipart(struct server_req *r);

#endif
