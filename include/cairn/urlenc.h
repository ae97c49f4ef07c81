/*
 * urlenc.h — percent-decoding, AWS URI-encoding, query-string splitting and S3's
 * encoding-type=url. Pure: no I/O, no globals; output goes into caller-owned capped buffers.
 *
 * Rules, as S3 applies them:
 *  - AWS URI-encoding (used for SigV4 canonical requests): the unreserved characters
 *    A-Z a-z 0-9 '-' '_' '.' '~' are kept, every other byte becomes %XY with uppercase hex; '/' is
 *    kept only when URLENC_KEEP_SLASH is given (object key paths). Space is "%20", never '+'.
 *  - Percent-decoding rejects '%' not followed by two hex digits, and rejects %00 (decoded strings
 *    are used as C strings; S3 keys cannot contain NUL usefully). It does not check UTF-8 (see
 *    s3name_is_utf8()).
 *  - '+' in a query string: S3 decodes the query as HTML-form data, so '+' means space there
 *    (URLENC_PLUS_SPACE; what urlenc_query_parse() uses). In the path '+' is a literal '+'.
 *    SDKs always send a space as %20 and '+' as %2B, so both readings agree for them.
 *  - encoding-type=url (list results): keys are encoded like AWS URI-encoding with '/' kept, except
 *    that a space becomes '+' — clients decode with the form rules (botocore uses unquote_plus).
 */
#ifndef CAIRN_URLENC_H
#define CAIRN_URLENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"

/* Flags for the functions below. */
#define URLENC_KEEP_SLASH 0x1u /* encode: keep '/' as is */
#define URLENC_PLUS_SPACE 0x2u /* decode: '+' means space */

/* A borrowed (name, value) pair of strings: a query parameter or an HTTP header. The strings need
 * not be NUL-terminated; lengths are authoritative. value may be "" (name_len > 0 required). */
struct kvpair {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* Appends the percent-decoding of s[0..len) to out. Flags: URLENC_PLUS_SPACE. Returns 0;
 * CAIRN_E_INVAL on a bad escape, %00 or a raw NUL byte; CAIRN_E_TOOBIG when len bytes more would
 * pass out's maximum (checked up front: the decoded length is never more than len). On error
 * out's length is unchanged. */
int urlenc_decode(const char *s, size_t len, unsigned flags, struct buf *out);

/* Appends the AWS URI-encoding of s[0..len) to out. Flags: URLENC_KEEP_SLASH. Returns 0 or
 * CAIRN_E_TOOBIG (out's maximum; partial output). The encoded length is at most 3 * len. */
int urlenc_encode(const char *s, size_t len, unsigned flags, struct buf *out);

/* Appends the S3 encoding-type=url form of s[0..len) to out: as urlenc_encode() with
 * URLENC_KEEP_SLASH, but a space becomes '+'. Returns 0 or CAIRN_E_TOOBIG. */
int urlenc_encode_s3list(const char *s, size_t len, struct buf *out);

/* Decoded query parameters. v[i].name and v[i].value point into storage owned by the struct and
 * are also NUL-terminated; all live until urlenc_query_fini(). Order is as received. */
struct urlenc_query {
	struct kvpair *v;
	size_t n;
	char *storage; /* owned */
};

/* Hard caps for urlenc_query_parse(). */
#define URLENC_QUERY_MAX_LEN 16384 /* bytes of raw query string */
#define URLENC_QUERY_MAX_PARAMS 128

/* Splits the raw query string qs[0..len) (without the leading '?') at '&' into name[=value]
 * pairs and percent-decodes both halves with URLENC_PLUS_SPACE. Empty segments ("a&&b", trailing
 * '&') are skipped; "name" without '=' gives value "". Names may not be empty ("=x" is
 * CAIRN_E_INVAL). Returns 0 with *q filled (an empty qs gives n = 0); CAIRN_E_TOOBIG when len >
 * URLENC_QUERY_MAX_LEN or there are more than URLENC_QUERY_MAX_PARAMS pairs; CAIRN_E_INVAL on a
 * bad escape or %00. On error *q is left empty (nothing to free, fini is still safe). Aborts on
 * allocation failure (the allocation is capped by URLENC_QUERY_MAX_LEN). */
int urlenc_query_parse(const char *qs, size_t len, struct urlenc_query *q);

/* Frees q's storage; q is empty afterwards. Safe on an empty or already-finished q. */
void urlenc_query_fini(struct urlenc_query *q);

/* Returns the first parameter named exactly name (case-sensitive, NUL-terminated), or NULL.
 * The pointer lives as long as q. */
const struct kvpair *urlenc_query_find(const struct urlenc_query *q, const char *name);

#endif
