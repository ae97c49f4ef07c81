/*
 * ops_body.h — the streamed body of a write, shared by PutObject (ops_put.c) and UploadPart
 * (ops_multipart.c); internal to src/s3, not an API.
 *
 * A struct ops_body lives inside the op's state (r->op_state) for the whole request: it owns the
 * uncommitted store_put the body streams into, the Content-MD5 the client sent, and the additional
 * checksum (x-amz-checksum-<algo> header or aws-chunked trailer) computed as the bytes arrive.
 * What differs between the two operations (PutObject also takes x-amz-sdk-checksum-algorithm;
 * UploadPart compares with the upload's algorithm) stays with their callers.
 */
#ifndef CAIRN_OPS_BODY_H
#define CAIRN_OPS_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/checksum.h"
#include "cairn/ops.h"

struct ops_body {
	struct store_put *put;	 /* NULL before ops_body_start() and once committed or aborted */
	uint64_t max;		 /* the most bytes the body may have (set by the caller) */
	uint64_t received;	 /* bytes seen so far */
	enum checksum_algo algo; /* CHECKSUM_NONE: no additional checksum */
	bool ck_live;		 /* ck is initialised */
	struct checksum_ctx ck;
	char ck_value[CHECKSUM_B64_SIZE]; /* value from an x-amz-checksum-* header, or "" */
	bool ck_trailer;		  /* the value comes in the aws-chunked trailer */
	bool has_md5;
	uint8_t md5[16]; /* Content-MD5 */
};

/* Releases what b holds (aborts an unfinished put); not b itself. Safe on a zeroed b. */
void ops_body_fini(struct ops_body *b);

/* Reads Content-MD5 into b. Returns 0 (also when absent) or non-zero after server_req_fail()
 * (InvalidDigest). */
int ops_body_md5(struct server_req *r, struct ops_body *b);

/* Finds the checksum the client sends: one x-amz-checksum-<algo> header (b->algo, b->ck_value),
 * or when there is none an algorithm announced in x-amz-trailer (aws-chunked bodies only;
 * b->ck_trailer). Leaves b->algo CHECKSUM_NONE when neither is there. Returns 0 or non-zero after
 * server_req_fail() (InvalidRequest). */
int ops_body_client_checksum(struct server_req *r, struct ops_body *b);

/* Starts the body once b->algo and b->max are settled: initialises the checksum, begins the
 * store put, delegates the signed payload hash to it and makes r stream into sink (which should
 * call ops_body_write()). Returns 0 or a negative code after server_req_fail(). */
int ops_body_start(struct server_req *r, struct ops_body *b, payload_sink_fn sink);

/* The sink's work: counts len bytes against b->max, adds them to the checksum and writes them to
 * the put. Returns 0, or after server_req_fail() CAIRN_E_TOOBIG (EntityTooLarge) or the store's
 * error. */
int ops_body_write(struct server_req *r, struct ops_body *b, const uint8_t *data, size_t len);

/* Ends the body (store_put_finish) and checks Content-MD5. Returns 0 or non-zero after
 * server_req_fail() (BadDigest, or the store's error). */
int ops_body_finish(struct server_req *r, struct ops_body *b);

/* Completes the checksum into d and compares it with the client's value (header or trailer)
 * when it sent one. A value that is not a valid checksum of b->algo fails as InvalidRequest
 * when bad_value_invalid is set, else as BadDigest like a mismatch. Returns the digest's length
 * (0 without a checksum), or -1 after server_req_fail() (MalformedTrailer when the announced
 * trailer is missing, BadDigest, InvalidRequest). */
int ops_body_verify(struct server_req *r, struct ops_body *b, uint8_t d[CHECKSUM_MAX_LEN],
		    bool bad_value_invalid);

#endif
