#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cairn/err.h"
#include "cairn/payload.h"

int
payload_init(struct payload *p, const struct auth_result *res, int64_t decoded_expected)
{
	memset(p, 0, sizeof(*p));
	p->kind = res->payload;
	p->decoded_expected = decoded_expected;
	if (p->kind == AUTH_PAYLOAD_SHA256) {
		p->sha = EVP_MD_CTX_new();
		if (!p->sha || EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) != 1)
			abort();
		memcpy(p->expect, res->payload_sha256, sizeof(p->expect));
	} else if (p->kind == AUTH_PAYLOAD_CHUNKED) {
		if (decoded_expected < 0) {
			p->err = S3E_MISSING_CONTENT_LENGTH;
			return CAIRN_E_INVAL;
		}
		if (awschunked_init(&p->dec, res->chunked, res->signing_key, &res->v4, 0) < 0) {
			p->err = S3E_INTERNAL_ERROR;
			awschunked_fini(&p->dec);
			return CAIRN_E_INVAL;
		}
		p->chunked_live = true;
	}
	return 0;
}

void
payload_fini(struct payload *p)
{
	if (p->sha) {
		EVP_MD_CTX_free(p->sha);
		p->sha = NULL;
	}
	if (p->chunked_live) {
		awschunked_fini(&p->dec);
		p->chunked_live = false;
	}
}

struct payload_relay {
	struct payload *p;
	payload_sink_fn sink;
	void *arg;
};

/* Counts decoded bytes against x-amz-decoded-content-length before passing them on. */
static int
payload_relay_data(void *ctx, const uint8_t *data, size_t len)
{
	struct payload_relay *rl = ctx;
	struct payload *p = rl->p;

	if (p->decoded_expected >= 0 && len > (uint64_t)p->decoded_expected - p->decoded_bytes) {
		p->err = S3E_INCOMPLETE_BODY;
		return CAIRN_E_TOOBIG;
	}
	p->decoded_bytes += len;
	return len ? rl->sink(rl->arg, data, len) : 0;
}

int
payload_feed(struct payload *p, const uint8_t *data, size_t len, payload_sink_fn sink, void *arg)
{
	struct payload_relay rl = {p, sink, arg};
	int rc;

	p->raw_bytes += len;
	if (p->kind == AUTH_PAYLOAD_CHUNKED) {
		p->err = S3E_OK;
		rc = awschunked_feed(&p->dec, data, len, payload_relay_data, &rl);
		if (rc < 0 && p->err == S3E_OK)
			p->err = awschunked_error(&p->dec);
		return rc;
	}
	if (p->sha && !p->sha_sync && EVP_DigestUpdate(p->sha, data, len) != 1)
		abort();
	return payload_relay_data(&rl, data, len);
}

int
payload_finish(struct payload *p)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (p->kind == AUTH_PAYLOAD_CHUNKED) {
		if (awschunked_finish(&p->dec) < 0) {
			p->err = awschunked_error(&p->dec);
			return CAIRN_E_INVAL;
		}
		if ((uint64_t)p->decoded_expected != p->decoded_bytes) {
			p->err = S3E_INCOMPLETE_BODY;
			return CAIRN_E_INVAL;
		}
		return 0;
	}
	if (p->kind != AUTH_PAYLOAD_SHA256)
		return 0;
	if (p->sha_sync)
		p->sha_sync(p->sha_sync_arg);
	if (EVP_DigestFinal_ex(p->sha, md, &mdlen) != 1 || mdlen != 32)
		abort();
	if (CRYPTO_memcmp(md, p->expect, 32) != 0) {
		p->err = S3E_CONTENT_SHA256_MISMATCH;
		return CAIRN_E_BADDIGEST;
	}
	return 0;
}

void *
payload_sha_delegate(struct payload *p, void (*sync)(void *arg), void *arg)
{
	if (p->kind != AUTH_PAYLOAD_SHA256 || !p->sha || p->raw_bytes > 0)
		return NULL;
	p->sha_sync = sync;
	p->sha_sync_arg = arg;
	return p->sha;
}

const char *
payload_trailer(const struct payload *p, const char *name)
{
	const struct kvpair *kv;

	if (!p->chunked_live)
		return NULL;
	kv = awschunked_trailer(&p->dec, name);
	return kv ? kv->value : NULL;
}
