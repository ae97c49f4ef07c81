/*
 * ops_multipart_priv.h — helpers shared by the multipart operations (not an API):
 *   ops_multipart.c          CreateMultipartUpload, UploadPart, AbortMultipartUpload
 *   ops_multipart_complete.c CompleteMultipartUpload
 *   ops_multipart_copy.c     UploadPartCopy
 *   ops_multipart_list.c     ListParts, ListMultipartUploads
 *
 * Checksums of an upload: the store keeps the algorithm (enum checksum_algo) and the type below as
 * opaque numbers, and each part's raw digest.
 */
#ifndef CAIRN_OPS_MULTIPART_PRIV_H
#define CAIRN_OPS_MULTIPART_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/checksum.h"
#include "cairn/ops.h"
#include "cairn/store_upload.h"
#include "cairn/xml.h"

enum opsmp_checksum_type {
	OPSMP_CK_NONE = 0,
	OPSMP_CK_COMPOSITE = 1, /* checksum of the part checksums, "-N" */
	OPSMP_CK_FULL = 2,	/* CRC of the whole object, combined from the parts' */
};

/* "COMPOSITE" / "FULL_OBJECT" / NULL. Static. */
const char *opsmp_checksum_type_name(uint8_t type);

/* Parses the partNumber parameter (1..STORE_PARTS_MAX). Returns 0 or non-zero after
 * server_req_fail() (InvalidArgument). */
int opsmp_part_number(struct server_req *r, uint32_t *out);

/* Checks the bucket and finds r's upload (uploadId, for r's key): fills info (key and meta
 * copied into key/meta when given). Returns 0 or non-zero after server_req_fail() (NoSuchBucket,
 * AccessDenied, NoSuchUpload, …). */
int opsmp_upload(struct server_req *r, struct store_upload_info *info, struct buf *key,
		 struct buf *meta);

/* Writes <name><ID>user</ID><DisplayName>user</DisplayName></name>. */
void opsmp_xml_user(struct xml_writer *w, const char *name, const char *user);

/* Writes <name>key</name>, URL-encoded first when url is set. */
void opsmp_xml_key(struct xml_writer *w, const char *name, struct slice key, bool url);

/* ISO 8601 time of ns since the epoch into out[25]. */
void opsmp_iso8601(int64_t ns, char out[25]);

#endif
