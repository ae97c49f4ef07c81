/*
 * ops_copy.h — the copy source (x-amz-copy-source), shared by CopyObject (ops_copy.c) and
 * UploadPartCopy (ops_multipart_copy.c); internal to src/s3, not an API.
 */
#ifndef CAIRN_OPS_COPY_H
#define CAIRN_OPS_COPY_H

#include "cairn/ops.h"
#include "cairn/s3name.h"

/* The source's bucket and key; the caller buf_init()s key (S3NAME_KEY_MAX) and buf_fini()s it. */
struct ops_copy_src {
	char bucket[S3NAME_BUCKET_MAX + 1];
	struct buf key;
};

/* Parses r's x-amz-copy-source: "[/]bucket/key[?versionId=null]", percent-encoded (decoded as a
 * path: '+' stays a plus). Returns 0 or non-zero after server_req_fail() (NoSuchVersion,
 * InvalidArgument, KeyTooLongError). */
int ops_copy_source_parse(struct server_req *r, struct ops_copy_src *src);

/* Checks that r's user may read the source, that it exists and the x-amz-copy-source-if-*
 * conditions; fills info and, when meta is not NULL, the source's metadata. Returns 0 or non-zero
 * after server_req_fail() (AccessDenied, NoSuchBucket, NoSuchKey, PreconditionFailed, …). */
int ops_copy_source_check(struct server_req *r, const struct ops_copy_src *src,
			  struct store_object_info *info, struct buf *meta);

#endif
