/*
 * awschunked.c — streaming aws-chunked decoder. See awschunked.h for the format and the
 * contract (data is handed out before its chunk signature is checked; commit only after
 * awschunked_finish() returned 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cairn/awschunked.h"
#include "cairn/err.h"
#include "cairn/hex.h"

enum {
	AC_HEADER,  /* reading a chunk header line */
	AC_DATA,    /* passing chunk data through */
	AC_DATA_CR, /* expecting the CR after chunk data */
	AC_DATA_LF, /* expecting the LF after chunk data */
	AC_TRAILER, /* reading trailer lines after the final chunk */
	AC_DONE,
	AC_ERROR,
};

static int
awschunked_fail(struct awschunked *d, int rc, enum s3_error e)
{
	d->state = AC_ERROR;
	d->err = rc;
	d->s3e = e;
	return rc;
}

static bool
awschunked_is_signed(const struct awschunked *d)
{
	return d->mode != AWSCHUNKED_UNSIGNED_TRAILER;
}

int
awschunked_mode_parse(const char *value, size_t len, enum awschunked_mode *mode)
{
	static const struct {
		const char *name;
		enum awschunked_mode mode;
	} modes[] = {
	    {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", AWSCHUNKED_SIGNED},
	    {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", AWSCHUNKED_SIGNED_TRAILER},
	    {"STREAMING-UNSIGNED-PAYLOAD-TRAILER", AWSCHUNKED_UNSIGNED_TRAILER},
	};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strlen(modes[i].name) == len && memcmp(value, modes[i].name, len) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	}
	if (len >= 10 && memcmp(value, "STREAMING-", 10) == 0)
		return CAIRN_E_INVAL;
	return CAIRN_E_NOTFOUND;
}

int
awschunked_init(struct awschunked *d, enum awschunked_mode mode, const uint8_t *key,
		const struct sigv4_auth *a, uint64_t chunk_max)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->state = AC_HEADER;
	d->chunk_max = chunk_max ? chunk_max : AWSCHUNKED_CHUNK_MAX;
	d->sha = EVP_MD_CTX_new();
	if (!d->sha)
		abort();
	if (!awschunked_is_signed(d))
		return 0;
	if (!key || !a || strlen(a->amz_date) != SIGV4_AMZ_DATE_LEN)
		return awschunked_fail(d, CAIRN_E_INVAL, S3E_INTERNAL_ERROR);
	memcpy(d->key, key, SIGV4_KEY_LEN);
	memcpy(d->prev_sig, a->signature, SIGV4_KEY_LEN);
	memcpy(d->amz_date, a->amz_date, sizeof(d->amz_date));
	sigv4_scope(a, d->scope);
	return 0;
}

void
awschunked_fini(struct awschunked *d)
{
	EVP_MD_CTX_free(d->sha);
	d->sha = NULL;
	OPENSSL_cleanse(d->key, sizeof(d->key));
}

static void
awschunked_sha_init(struct awschunked *d)
{
	if (!EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL))
		abort();
}

static void
awschunked_sha_hex(struct awschunked *d, char hex[2 * SIGV4_KEY_LEN + 1])
{
	uint8_t md[SIGV4_KEY_LEN];
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(d->sha, md, &n) || n != SIGV4_KEY_LEN)
		abort();
	hex_encode(md, SIGV4_KEY_LEN, hex);
}

/* Checks expect against HMAC(key, kind \n date \n scope \n prev [\n empty-hash] \n hash) and
 * moves the chain on. */
static bool
awschunked_sig_ok(struct awschunked *d, bool trailer, const char *hash_hex, const uint8_t *expect)
{
	char prev[2 * SIGV4_KEY_LEN + 1], sts[384];
	uint8_t sig[SIGV4_KEY_LEN];
	int n;

	hex_encode(d->prev_sig, SIGV4_KEY_LEN, prev);
	if (trailer)
		n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s",
			     d->amz_date, d->scope, prev, hash_hex);
	else
		n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s",
			     d->amz_date, d->scope, prev, SIGV4_EMPTY_SHA256, hash_hex);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return false;
	sigv4_hmac(d->key, SIGV4_KEY_LEN, sts, (size_t)n, sig);
	if (CRYPTO_memcmp(sig, expect, SIGV4_KEY_LEN) != 0)
		return false;
	memcpy(d->prev_sig, sig, SIGV4_KEY_LEN);
	return true;
}

/* Moves the bytes of the current line from (*p, *len) into dst (which holds *dst_len bytes and
 * may hold max line bytes plus the CR). Returns 1 when the line is complete (CRLF stripped,
 * NUL-terminated, *dst_len its length), 0 when the input ran out first, CAIRN_E_TOOBIG for an
 * over-long line, CAIRN_E_INVAL for an LF without CR. */
static int
awschunked_line(const uint8_t **p, size_t *len, char *dst, size_t max, size_t *dst_len)
{
	while (*len > 0) {
		char c = (char)**p;

		(*p)++;
		(*len)--;
		if (c == '\n') {
			if (*dst_len == 0 || dst[*dst_len - 1] != '\r')
				return CAIRN_E_INVAL;
			dst[--(*dst_len)] = 0;
			return 1;
		}
		if (*dst_len >= max + 1)
			return CAIRN_E_TOOBIG;
		dst[(*dst_len)++] = c;
	}
	return 0;
}

static int
awschunked_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses "<hex-size>[;chunk-signature=<64 hex>]" (signature required exactly when signed; an
 * unsigned chunk may carry other extensions, which are ignored). */
static int
awschunked_parse_header(struct awschunked *d, const char *s, size_t len, uint64_t *size)
{
	static const char ext[] = ";chunk-signature=";
	size_t i = 0;
	uint64_t v = 0;

	for (; i < len && awschunked_hexval(s[i]) >= 0; i++) {
		if (i == 16)
			return CAIRN_E_INVAL;
		v = v << 4 | (uint64_t)awschunked_hexval(s[i]);
	}
	if (i == 0)
		return CAIRN_E_INVAL;
	*size = v;
	if (!awschunked_is_signed(d))
		return i == len || s[i] == ';' ? 0 : CAIRN_E_INVAL;
	if (len - i != sizeof(ext) - 1 + 2 * SIGV4_KEY_LEN || memcmp(s + i, ext, sizeof(ext) - 1))
		return CAIRN_E_INVAL;
	return hex_decode(s + i + sizeof(ext) - 1, SIGV4_KEY_LEN, d->chunk_sig);
}

/* A complete chunk header line is in d->line. */
static int
awschunked_on_header(struct awschunked *d)
{
	uint64_t size;

	if (awschunked_parse_header(d, d->line, d->line_len, &size) < 0)
		return awschunked_fail(d, CAIRN_E_INVAL, S3E_INCOMPLETE_BODY);
	if (size > d->chunk_max)
		return awschunked_fail(d, CAIRN_E_TOOBIG, S3E_INVALID_CHUNK_SIZE);
	d->line_len = 0;
	d->remaining = size;
	if (size > 0) {
		if (awschunked_is_signed(d))
			awschunked_sha_init(d);
		d->state = AC_DATA;
		return 0;
	}
	/* The final chunk: its (empty) data is signed too. */
	if (awschunked_is_signed(d) &&
	    !awschunked_sig_ok(d, false, SIGV4_EMPTY_SHA256, d->chunk_sig))
		return awschunked_fail(d, CAIRN_E_BADDIGEST, S3E_SIGNATURE_DOES_NOT_MATCH);
	if (d->mode == AWSCHUNKED_SIGNED) {
		d->final_chunk = true;
		d->state = AC_DATA_CR;
		return 0;
	}
	awschunked_sha_init(d); /* now hashes the trailer lines */
	d->state = AC_TRAILER;
	return 0;
}

/* Passes chunk data on; returns the bytes consumed or a negative error. */
static int
awschunked_on_data(struct awschunked *d, const uint8_t *p, size_t len, awschunked_data_fn fn,
		   void *ctx, size_t *used)
{
	size_t n = len < d->remaining ? len : (size_t)d->remaining;
	int rc;

	if (awschunked_is_signed(d) && !EVP_DigestUpdate(d->sha, p, n))
		abort();
	rc = fn(ctx, p, n);
	if (rc < 0)
		return awschunked_fail(d, rc, S3E_INTERNAL_ERROR);
	d->remaining -= n;
	d->decoded += n;
	*used = n;
	if (d->remaining > 0)
		return 0;
	d->state = AC_DATA_CR;
	if (awschunked_is_signed(d)) {
		char hex[2 * SIGV4_KEY_LEN + 1];

		awschunked_sha_hex(d, hex);
		if (!awschunked_sig_ok(d, false, hex, d->chunk_sig))
			return awschunked_fail(d, CAIRN_E_BADDIGEST, S3E_SIGNATURE_DOES_NOT_MATCH);
	}
	return 0;
}

static bool
awschunked_is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* Turns the trailer line at line[0..len) ("Name: value") into "name\0value\0" in place and
 * records it. Returns 0 or CAIRN_E_INVAL / CAIRN_E_TOOBIG. */
static int
awschunked_store_trailer(struct awschunked *d, char *line, size_t len)
{
	char *colon = memchr(line, ':', len), *v, *end = line + len;
	struct kvpair *kv;
	size_t i;

	if (!colon || colon == line)
		return CAIRN_E_INVAL;
	for (i = 0; line + i < colon; i++) {
		line[i] = (char)(line[i] >= 'A' && line[i] <= 'Z' ? line[i] + 32 : line[i]);
		if (!awschunked_is_name_char(line[i]))
			return CAIRN_E_INVAL;
	}
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (i = 0; v + i < end; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return CAIRN_E_INVAL;
	}
	if (d->n_trailers == AWSCHUNKED_TRAILERS_MAX)
		return CAIRN_E_TOOBIG;
	*colon = 0;
	*end = 0;
	kv = &d->trailers[d->n_trailers++];
	*kv = (struct kvpair){line, (size_t)(colon - line), v, (size_t)(end - v)};
	return 0;
}

/* Finishes the trailer section: checks the trailer signature when the mode has one. */
static int
awschunked_end_trailers(struct awschunked *d)
{
	char hex[2 * SIGV4_KEY_LEN + 1];

	if (d->mode == AWSCHUNKED_SIGNED_TRAILER) {
		if (!d->has_trailer_sig)
			return awschunked_fail(d, CAIRN_E_INVAL, S3E_MALFORMED_TRAILER);
		awschunked_sha_hex(d, hex);
		if (!awschunked_sig_ok(d, true, hex, d->trailer_sig))
			return awschunked_fail(d, CAIRN_E_BADDIGEST, S3E_SIGNATURE_DOES_NOT_MATCH);
	}
	d->state = AC_DONE;
	return 0;
}

static bool
awschunked_is_sig_line(const char *line, size_t len)
{
	static const char name[] = "x-amz-trailer-signature:";
	size_t i;

	if (len < sizeof(name) - 1)
		return false;
	for (i = 0; i < sizeof(name) - 1; i++) {
		char c = line[i] >= 'A' && line[i] <= 'Z' ? (char)(line[i] + 32) : line[i];

		if (c != name[i])
			return false;
	}
	return true;
}

/* The trailer signature covers "name:value\n" per line, name lowercase, value trimmed. */
static void
awschunked_hash_trailer(struct awschunked *d, const struct kvpair *kv)
{
	if (!EVP_DigestUpdate(d->sha, kv->name, kv->name_len) ||
	    !EVP_DigestUpdate(d->sha, ":", 1) ||
	    !EVP_DigestUpdate(d->sha, kv->value, kv->value_len) ||
	    !EVP_DigestUpdate(d->sha, "\n", 1))
		abort();
}

/* One complete trailer line sits at d->trailer + d->trailer_len, d->line_len bytes long. */
static int
awschunked_on_trailer(struct awschunked *d)
{
	char *line = d->trailer + d->trailer_len;
	size_t len = d->line_len;
	int rc;

	d->line_len = 0;
	if (len == 0) {
		/* One blank line right after the final chunk is the (empty) data's CRLF that some
		 * clients send; any other blank line ends the trailers. */
		if (d->n_trailers == 0 && !d->has_trailer_sig && !d->blank_seen) {
			d->blank_seen = true;
			return 0;
		}
		return awschunked_end_trailers(d);
	}
	if (d->has_trailer_sig)
		return awschunked_fail(d, CAIRN_E_INVAL, S3E_MALFORMED_TRAILER);
	if (awschunked_is_sig_line(line, len)) {
		const char *v = line + 24;

		if (d->mode != AWSCHUNKED_SIGNED_TRAILER || len != 24 + 2 * SIGV4_KEY_LEN ||
		    hex_decode(v, SIGV4_KEY_LEN, d->trailer_sig) < 0)
			return awschunked_fail(d, CAIRN_E_INVAL, S3E_MALFORMED_TRAILER);
		d->has_trailer_sig = true;
		return 0;
	}
	rc = awschunked_store_trailer(d, line, len);
	if (rc < 0)
		return awschunked_fail(d, rc, S3E_MALFORMED_TRAILER);
	awschunked_hash_trailer(d, &d->trailers[d->n_trailers - 1]);
	d->trailer_len += len + 1;
	return 0;
}

/* Consumes a line-oriented piece of input in the AC_HEADER or AC_TRAILER state. */
static int
awschunked_step_line(struct awschunked *d, const uint8_t **p, size_t *len)
{
	size_t room;
	int rc;

	if (d->state == AC_HEADER) {
		rc = awschunked_line(p, len, d->line, AWSCHUNKED_LINE_MAX, &d->line_len);
		if (rc < 0)
			return awschunked_fail(d, rc, S3E_INCOMPLETE_BODY);
		return rc ? awschunked_on_header(d) : 0;
	}
	room = AWSCHUNKED_TRAILER_MAX - d->trailer_len; /* the line, its CR, then NUL-terminated */
	if (room < 2)
		return awschunked_fail(d, CAIRN_E_TOOBIG, S3E_MALFORMED_TRAILER);
	rc = awschunked_line(p, len, d->trailer + d->trailer_len, room - 1, &d->line_len);
	if (rc < 0)
		return awschunked_fail(d, rc, S3E_MALFORMED_TRAILER);
	return rc ? awschunked_on_trailer(d) : 0;
}

/* Consumes the CRLF after chunk data. */
static int
awschunked_step_crlf(struct awschunked *d, const uint8_t **p, size_t *len)
{
	char want = d->state == AC_DATA_CR ? '\r' : '\n';

	if (**p != want)
		return awschunked_fail(d, CAIRN_E_INVAL, S3E_INCOMPLETE_BODY);
	(*p)++;
	(*len)--;
	if (d->state == AC_DATA_CR)
		d->state = AC_DATA_LF;
	else
		d->state = d->final_chunk ? AC_DONE : AC_HEADER;
	return 0;
}

int
awschunked_feed(struct awschunked *d, const uint8_t *p, size_t len, awschunked_data_fn fn,
		void *ctx)
{
	int rc = 0;

	while (len > 0 && rc == 0) {
		size_t used = 0;

		switch (d->state) {
		case AC_HEADER:
		case AC_TRAILER:
			rc = awschunked_step_line(d, &p, &len);
			break;
		case AC_DATA:
			rc = awschunked_on_data(d, p, len, fn, ctx, &used);
			p += used;
			len -= used;
			break;
		case AC_DATA_CR:
		case AC_DATA_LF:
			rc = awschunked_step_crlf(d, &p, &len);
			break;
		case AC_DONE:
			return awschunked_fail(d, CAIRN_E_INVAL, S3E_INVALID_REQUEST);
		default:
			return d->err;
		}
	}
	return d->state == AC_ERROR ? d->err : rc;
}

bool
awschunked_is_done(const struct awschunked *d)
{
	return d->state == AC_DONE;
}

int
awschunked_finish(struct awschunked *d)
{
	if (d->state == AC_DONE)
		return 0;
	if (d->state == AC_ERROR)
		return d->err;
	/* The body may stop right after the last trailer line (no closing blank line). */
	if (d->state == AC_TRAILER && d->line_len == 0)
		return awschunked_end_trailers(d);
	return awschunked_fail(d, CAIRN_E_INVAL, S3E_INCOMPLETE_BODY);
}

enum s3_error
awschunked_error(const struct awschunked *d)
{
	return d->state == AC_ERROR ? d->s3e : S3E_OK;
}

uint64_t
awschunked_decoded_len(const struct awschunked *d)
{
	return d->decoded;
}

const struct kvpair *
awschunked_trailer(const struct awschunked *d, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < d->n_trailers; i++) {
		const struct kvpair *kv = &d->trailers[i];
		size_t k;

		if (kv->name_len != len)
			continue;
		for (k = 0; k < len; k++) {
			char c = name[k] >= 'A' && name[k] <= 'Z' ? (char)(name[k] + 32) : name[k];

			if (kv->name[k] != c)
				break;
		}
		if (k == len)
			return kv;
	}
	return NULL;
}

const struct kvpair *
awschunked_trailers(const struct awschunked *d, size_t *n)
{
	*n = d->n_trailers;
	return d->trailers;
}
