/*
 * payload.h — a request body on its way in: removes aws-chunked framing, verifies the payload
 * hash or the chunk signatures, counts bytes, and hands the decoded bytes to a sink as they
 * arrive. Memory is fixed whatever the body size (awschunked.h, one SHA-256 context).
 *
 * Decoded bytes reach the sink before the body is verified (a signature or hash can only be
 * checked at the end): the sink must stage them (an uncommitted store_put) and the caller commits
 * only after payload_finish() returned 0.
 */
#ifndef CAIRN_PAYLOAD_H
#define CAIRN_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/auth.h"
#include "cairn/awschunked.h"
#include "cairn/s3err.h"

/* Receives decoded body bytes. Returns 0 or a negative code that stops the body (passed back by
 * payload_feed()). */
typedef int (*payload_sink_fn)(void *arg, const uint8_t *p, size_t len);

struct payload {
	enum auth_payload kind;
	void *sha; /* EVP_MD_CTX, AUTH_PAYLOAD_SHA256 only */
	/* Set by payload_sha_delegate(): someone else feeds sha; sync brings it up to date. */
	void (*sha_sync)(void *arg);
	void *sha_sync_arg;
	uint8_t expect[32];
	bool chunked_live;
	struct awschunked dec;
	uint64_t raw_bytes;	  /* body bytes received (framing included) */
	uint64_t decoded_bytes;	  /* bytes passed to the sink */
	int64_t decoded_expected; /* x-amz-decoded-content-length, or -1 */
	enum s3_error err;	  /* why the last call failed */
};

/*
 * Prepares p for the body of a request authenticated as res (payload kind, seed signature, key).
 * decoded_expected: x-amz-decoded-content-length for aws-chunked bodies (-1 when absent).
 * Returns 0, or CAIRN_E_INVAL with p->err set (an aws-chunked body without a decoded length:
 * MissingContentLength). payload_fini() is safe either way.
 */
int payload_init(struct payload *p, const struct auth_result *res, int64_t decoded_expected);

/* Releases p's resources. Safe twice and after a failed init. */
void payload_fini(struct payload *p);

/*
 * Feeds the next len raw body bytes; decoded bytes go to sink(arg, …). Returns 0; the sink's
 * negative code; or CAIRN_E_INVAL / CAIRN_E_TOOBIG / CAIRN_E_BADDIGEST for bad framing, chunk
 * signatures or a body longer than decoded_expected, with p->err set.
 */
int payload_feed(struct payload *p, const uint8_t *data, size_t len, payload_sink_fn sink,
		 void *arg);

/*
 * Ends the body and verifies it: the SHA-256 (XAmzContentSHA256Mismatch), the final chunk and
 * trailer signatures, the decoded length (IncompleteBody). Returns 0 when the body is authentic
 * and complete, else a negative code with p->err set.
 */
int payload_finish(struct payload *p);

/*
 * Hands the x-amz-content-sha256 check's digest over to the body's consumer, so it can run on
 * other threads beside the consumer's own work: returns the SHA-256 context (an EVP_MD_CTX owned by
 * p) for a body whose hash is signed (AUTH_PAYLOAD_SHA256), else NULL. From then on payload_feed()
 * no longer hashes; the consumer must feed the context every byte the sink receives, in order,
 * and sync(arg) must bring it up to date: payload_finish() calls it before checking the hash.
 * Call before the first payload_feed().
 */
void *payload_sha_delegate(struct payload *p, void (*sync)(void *arg), void *arg);

/* The aws-chunked trailer value named name (e.g. "x-amz-checksum-crc32"), or NULL. Valid until
 * payload_fini(). */
const char *payload_trailer(const struct payload *p, const char *name);

#endif
