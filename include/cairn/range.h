/*
 * range.h — HTTP Range (GET/HEAD) and x-amz-copy-source-range parsing. Pure, no allocation.
 *
 * S3 serves one byte range per request. Following S3 (and RFC 9110 §14.2): a Range header that is
 * syntactically invalid, names a unit other than "bytes", or asks for several ranges is ignored
 * and the whole object is returned with 200; a valid range that starts at or past the end of the
 * object (or a suffix range of 0 bytes, or any range of an empty object) is unsatisfiable: 416
 * InvalidRange with "Content-Range: bytes * /size" (no space; written so here only to keep this
 * comment closed).
 */
#ifndef CAIRN_RANGE_H
#define CAIRN_RANGE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/s3err.h"

#define RANGE_HEADER_MAX 256 /* longer Range values are ignored */

enum range_kind {
	RANGE_FULL = 0,		 /* no usable range: send the whole object, 200 */
	RANGE_PARTIAL = 1,	 /* send [start, start + len), 206 */
	RANGE_UNSATISFIABLE = 2, /* 416 InvalidRange */
};

/* A byte span: len >= 1 for RANGE_PARTIAL. */
struct range {
	uint64_t start;
	uint64_t len;
};

/* Classifies the Range header value hdr[0..len) for an object of size bytes:
 *   "bytes=a-b" → [a, min(b, size-1)] when a < size (b >= a required, else ignored);
 *   "bytes=a-"  → [a, size-1] when a < size;
 *   "bytes=-n"  → the last min(n, size) bytes, n >= 1;
 * Spaces are not accepted anywhere; the unit is case-insensitive; numbers may have any number of
 * digits (values past 2^64-1 saturate). hdr NULL, len 0 or len > RANGE_HEADER_MAX give
 * RANGE_FULL. *out is written only for RANGE_PARTIAL. */
enum range_kind range_parse(const char *hdr, size_t len, uint64_t size, struct range *out);

/* Parses x-amz-copy-source-range "bytes=first-last" (both required, first <= last) against a
 * source of size bytes. Returns 0 with *out set; CAIRN_E_INVAL with *s3e = S3E_INVALID_ARGUMENT
 * for any other form; CAIRN_E_INVAL with *s3e = S3E_INVALID_RANGE when last >= size. s3e may be
 * NULL. */
int range_parse_copy_source(const char *hdr, size_t len, uint64_t size, struct range *out,
			    enum s3_error *s3e);

/* Enough for any Content-Range value written by range_content_range(): "bytes ", three 20-digit
 * numbers, '-', '/' and the NUL make 69. */
#define RANGE_CONTENT_RANGE_SIZE 72

/* Writes the Content-Range value into out[0..n): "bytes start-end/size" for a span r, or
 * "bytes * /size" (without the space) when r is NULL (for 416). Returns 0 or CAIRN_E_TOOBIG when
 * n is too small (RANGE_CONTENT_RANGE_SIZE always suffices). */
int range_content_range(const struct range *r, uint64_t size, char *out, size_t n);

#endif
