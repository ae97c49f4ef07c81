/*
 * awschunked.h — streaming decoder for "aws-chunked" request bodies (SigV4 streaming uploads).
 *
 * Body shape (x-amz-content-sha256 names the variant):
 *
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD (AWSCHUNKED_SIGNED)
 *     <hex-size>;chunk-signature=<64 hex>\r\n <data>\r\n   … repeated …
 *     0;chunk-signature=<64 hex>\r\n \r\n
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (AWSCHUNKED_SIGNED_TRAILER)
 *     as above, but after the final 0-size chunk line come trailer lines
 *     "<name>:<value>\r\n" (e.g. x-amz-checksum-crc32:<base64>), then
 *     "x-amz-trailer-signature:<64 hex>\r\n", then "\r\n"
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER (AWSCHUNKED_UNSIGNED_TRAILER)
 *     <hex-size>\r\n <data>\r\n … 0\r\n, trailer lines, "\r\n" — no signatures at all
 *
 * Chunk signatures chain from the request's header signature (the seed):
 *   sig_i = HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n" sig_{i-1}
 *                "\n" hex(SHA-256("")) "\n" hex(SHA-256(data_i)))
 * and the trailer signature continues the chain from the final (0-size) chunk's signature:
 *   HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" amz_date "\n" scope "\n" sig_final "\n"
 *        hex(SHA-256(trailer lines, each "name:value\n")))
 *
 * Streaming: the decoder takes the body in slices of any size (down to 1 byte, split anywhere) and
 * hands decoded data bytes to a callback as soon as they arrive. It never buffers chunk data: the
 * data of a chunk is hashed as it passes and the chunk's signature is checked when its last byte
 * has gone by. Therefore data reaching the callback is NOT yet authenticated: the caller must
 * stage it (e.g. an uncommitted store_put) and commit only after awschunked_finish() returned 0
 * at the end of the body. A failure mid-stream (bad signature, bad framing) means the caller
 * aborts the whole put.
 *
 * Leniency, as seen from real clients: one blank line between the final chunk and the trailers
 * is accepted, and the closing blank line after the trailers may be missing (the end of the body
 * then ends them). Because of that, in the trailer modes only the end of the body settles
 * whether more trailers follow "0\r\n\r\n": awschunked_is_done() can stay false until
 * awschunked_finish().
 *
 * Memory is fixed (struct awschunked embeds everything; one EVP_MD_CTX): chunk header lines are
 * at most AWSCHUNKED_LINE_MAX bytes, all trailer lines together at most AWSCHUNKED_TRAILER_MAX,
 * at most AWSCHUNKED_TRAILERS_MAX trailer lines. S3 allows chunks of any size; cairn caps a chunk
 * at the chunk_max given to awschunked_init() (AWSCHUNKED_CHUNK_MAX when 0). Unlike AWS, cairn
 * does not insist that non-final chunks hold at least 8 KiB.
 *
 * Not thread-safe per decoder; decoders are independent. The struct's fields are private, and
 * the trailer strings point into it: do not copy or move a struct awschunked after init.
 */
#ifndef CAIRN_AWSCHUNKED_H
#define CAIRN_AWSCHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/s3err.h"
#include "cairn/sigv4.h"
#include "cairn/urlenc.h"

#define AWSCHUNKED_LINE_MAX 256		 /* one chunk header line, without CRLF */
#define AWSCHUNKED_TRAILER_MAX 4096	 /* all trailer lines together */
#define AWSCHUNKED_TRAILERS_MAX 8	 /* trailer lines */
#define AWSCHUNKED_CHUNK_MAX (16u << 20) /* default per-chunk data cap: 16 MiB */

enum awschunked_mode {
	AWSCHUNKED_SIGNED,	     /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
	AWSCHUNKED_SIGNED_TRAILER,   /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
	AWSCHUNKED_UNSIGNED_TRAILER, /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};

/* Receives decoded (not yet authenticated, see above) data bytes. Return 0 to continue or a
 * negative code to stop decoding; awschunked_feed() then returns that code unchanged. */
typedef int (*awschunked_data_fn)(void *ctx, const uint8_t *p, size_t len);

struct awschunked {
	/* private — use the functions below */
	enum awschunked_mode mode;
	int state;
	int err;
	enum s3_error s3e;
	uint64_t chunk_max;
	uint64_t remaining;
	uint64_t decoded;
	uint8_t key[SIGV4_KEY_LEN];
	uint8_t prev_sig[SIGV4_KEY_LEN];
	uint8_t chunk_sig[SIGV4_KEY_LEN];
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	char scope[SIGV4_SCOPE_SIZE];
	void *sha;
	size_t line_len;
	char line[AWSCHUNKED_LINE_MAX + 1];
	size_t trailer_len;
	char trailer[AWSCHUNKED_TRAILER_MAX + 1];
	size_t n_trailers;
	struct kvpair trailers[AWSCHUNKED_TRAILERS_MAX];
	bool has_trailer_sig;
	bool final_chunk;
	bool blank_seen;
	uint8_t trailer_sig[SIGV4_KEY_LEN];
};

/* Classifies an x-amz-content-sha256 value. Returns 0 with *mode set for the three STREAMING-*
 * variants above; CAIRN_E_NOTFOUND when the value is not a STREAMING-* value at all (a hex hash
 * or UNSIGNED-PAYLOAD: the body is not aws-chunked); CAIRN_E_INVAL for any other STREAMING-*
 * value, e.g. the ECDSA (SigV4a) variants (→ S3E_NOT_IMPLEMENTED). */
int awschunked_mode_parse(const char *value, size_t len, enum awschunked_mode *mode);

/* Prepares d. For the signed modes, key is the request's signing key and a the verified request
 * authorization (its signature is the seed, its amz_date and scope are used); both are copied.
 * For AWSCHUNKED_UNSIGNED_TRAILER key and a may be NULL. chunk_max 0 means
 * AWSCHUNKED_CHUNK_MAX. Returns 0, or CAIRN_E_INVAL when a signed mode lacks key, a or a set
 * amz_date (d is then unusable, awschunked_fini() still safe). Aborts if the hash context cannot
 * be allocated. */
int awschunked_init(struct awschunked *d, enum awschunked_mode mode, const uint8_t *key,
		    const struct sigv4_auth *a, uint64_t chunk_max);

/* Frees d's hash context and wipes its key material. Safe to call twice. */
void awschunked_fini(struct awschunked *d);

/* Feeds the next p[0..len) bytes of the body (len may be 0). Decoded data goes to fn(ctx, …),
 * possibly in several calls. Returns 0 when all of p was consumed (the body may or may not be
 * complete: see awschunked_is_done()); else a negative code, and the error is sticky (every later
 * call returns it):
 *   CAIRN_E_INVAL      malformed framing (S3E_INCOMPLETE_BODY for a bad chunk size or missing
 *                      CRLF, S3E_MALFORMED_TRAILER for a bad trailer line, S3E_INVALID_REQUEST
 *                      for bytes after the end of the body);
 *   CAIRN_E_BADDIGEST  a chunk or trailer signature does not match (S3E_SIGNATURE_DOES_NOT_MATCH);
 *   CAIRN_E_TOOBIG     a chunk larger than chunk_max (S3E_INVALID_CHUNK_SIZE), a header line over
 *                      AWSCHUNKED_LINE_MAX (S3E_INCOMPLETE_BODY), trailers over the caps
 *                      (S3E_MALFORMED_TRAILER);
 *   fn's code          the callback's negative return (awschunked_error() gives
 *                      S3E_INTERNAL_ERROR; the caller knows better).
 * A signed-trailer body must carry x-amz-trailer-signature (else S3E_MALFORMED_TRAILER); an
 * unsigned-trailer body must not. */
int awschunked_feed(struct awschunked *d, const uint8_t *p, size_t len, awschunked_data_fn fn,
		    void *ctx);

/* True when the final chunk (and the trailers, with their signature) has been received and
 * verified: the data is authentic and complete. See above: in the trailer modes this may only
 * become true in awschunked_finish(). */
bool awschunked_is_done(const struct awschunked *d);

/* Call at the end of the request body. Returns 0 when the body was complete and every signature
 * checked (awschunked_is_done() is then true): only now may the caller commit. Otherwise the
 * sticky error if one occurred; CAIRN_E_INVAL with S3E_MALFORMED_TRAILER when a signed-trailer
 * body ended without x-amz-trailer-signature; CAIRN_E_BADDIGEST when the trailer signature, only
 * checkable now, is wrong; else CAIRN_E_INVAL (S3E_INCOMPLETE_BODY: the body ended early). */
int awschunked_finish(struct awschunked *d);

/* The S3 error for the last failure (S3E_OK when none). */
enum s3_error awschunked_error(const struct awschunked *d);

/* Data bytes decoded so far; compare with x-amz-decoded-content-length at the end. */
uint64_t awschunked_decoded_len(const struct awschunked *d);

/* The trailer line named name (case-insensitive; e.g. "x-amz-checksum-crc32"), or NULL. The
 * x-amz-trailer-signature line is not listed. Names are stored lowercase; values trimmed. The
 * returned strings are NUL-terminated and live as long as d. */
const struct kvpair *awschunked_trailer(const struct awschunked *d, const char *name);

/* All trailer lines (not the signature line), in order; *n receives the count. */
const struct kvpair *awschunked_trailers(const struct awschunked *d, size_t *n);

#endif
