#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>
#include <openssl/evp.h>

#include "cairn/base64.h"
#include "cairn/checksum.h"
#include "cairn/err.h"

struct checksum_desc {
	const char *name;
	const char *header;
	const char *xml;
	size_t len;
};

static const struct checksum_desc checksum_descs[CHECKSUM_COUNT] = {
    [CHECKSUM_NONE] = {"", NULL, NULL, 0},
    [CHECKSUM_CRC32] = {"CRC32", "x-amz-checksum-crc32", "ChecksumCRC32", 4},
    [CHECKSUM_CRC32C] = {"CRC32C", "x-amz-checksum-crc32c", "ChecksumCRC32C", 4},
    [CHECKSUM_CRC64NVME] = {"CRC64NVME", "x-amz-checksum-crc64nvme", "ChecksumCRC64NVME", 8},
    [CHECKSUM_SHA1] = {"SHA1", "x-amz-checksum-sha1", "ChecksumSHA1", 20},
    [CHECKSUM_SHA256] = {"SHA256", "x-amz-checksum-sha256", "ChecksumSHA256", 32},
};

static bool
checksum_valid_algo(enum checksum_algo a)
{
	return (unsigned)a < CHECKSUM_COUNT;
}

static bool
checksum_eq_nocase(const char *a, size_t len, const char *b)
{
	size_t i;

	if (strlen(b) != len)
		return false;
	for (i = 0; i < len; i++) {
		char c = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
		char d = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] + 32) : b[i];

		if (c != d)
			return false;
	}
	return true;
}

int
checksum_algo_parse(const char *name, size_t len, enum checksum_algo *out)
{
	int a;

	for (a = CHECKSUM_CRC32; a < CHECKSUM_COUNT; a++) {
		if (checksum_eq_nocase(name, len, checksum_descs[a].name)) {
			*out = (enum checksum_algo)a;
			return 0;
		}
	}
	return CAIRN_E_INVAL;
}

const char *
checksum_algo_name(enum checksum_algo a)
{
	return checksum_valid_algo(a) ? checksum_descs[a].name : "";
}

const char *
checksum_algo_header(enum checksum_algo a)
{
	return checksum_valid_algo(a) ? checksum_descs[a].header : NULL;
}

const char *
checksum_algo_xml(enum checksum_algo a)
{
	return checksum_valid_algo(a) ? checksum_descs[a].xml : NULL;
}

int
checksum_algo_from_header(const char *name, size_t len, enum checksum_algo *out)
{
	int a;

	for (a = CHECKSUM_CRC32; a < CHECKSUM_COUNT; a++) {
		if (checksum_eq_nocase(name, len, checksum_descs[a].header)) {
			*out = (enum checksum_algo)a;
			return 0;
		}
	}
	return CAIRN_E_NOTFOUND;
}

size_t
checksum_algo_len(enum checksum_algo a)
{
	return checksum_valid_algo(a) ? checksum_descs[a].len : 0;
}

uint32_t
checksum_crc32(uint32_t crc, const void *p, size_t len)
{
	return crc32_gzip_refl(crc, p, len);
}

/* ISA-L's crc32_iscsi() works on the raw register (no pre/post inversion) and takes an int
 * length; wrap it into the standard, chainable CRC32C. */
uint32_t
checksum_crc32c(uint32_t crc, const void *buf, size_t len)
{
	unsigned char *p = (unsigned char *)buf;
	unsigned int c = ~crc;

	while (len > 0) {
		int n = len > INT_MAX ? INT_MAX : (int)len;

		c = crc32_iscsi(p, n, c);
		p += n;
		len -= (size_t)n;
	}
	return ~c;
}

void
checksum_init(struct checksum_ctx *c, enum checksum_algo a)
{
	const EVP_MD *md = NULL;

	if (!checksum_valid_algo(a))
		abort();
	c->algo = a;
	c->crc32 = 0;
	c->crc64 = 0;
	c->md = NULL;
	if (a == CHECKSUM_SHA1)
		md = EVP_sha1();
	else if (a == CHECKSUM_SHA256)
		md = EVP_sha256();
	if (!md)
		return;
	c->md = EVP_MD_CTX_new();
	if (!c->md || !EVP_DigestInit_ex(c->md, md, NULL))
		abort();
}

void
checksum_update(struct checksum_ctx *c, const void *p, size_t len)
{
	if (len == 0)
		return;
	switch (c->algo) {
	case CHECKSUM_CRC32:
		c->crc32 = checksum_crc32(c->crc32, p, len);
		break;
	case CHECKSUM_CRC32C:
		c->crc32 = checksum_crc32c(c->crc32, p, len);
		break;
	case CHECKSUM_CRC64NVME:
		c->crc64 = checksum_crc64nvme(c->crc64, p, len);
		break;
	case CHECKSUM_SHA1:
	case CHECKSUM_SHA256:
		if (!EVP_DigestUpdate(c->md, p, len))
			abort();
		break;
	default:
		break;
	}
}

static void
checksum_put_be(uint64_t v, size_t len, uint8_t *out)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = (uint8_t)(v >> (8 * (len - 1 - i)));
}

size_t
checksum_final(struct checksum_ctx *c, uint8_t out[CHECKSUM_MAX_LEN])
{
	size_t len = checksum_algo_len(c->algo);
	unsigned int n = 0;

	if (c->algo == CHECKSUM_CRC32 || c->algo == CHECKSUM_CRC32C)
		checksum_put_be(c->crc32, 4, out);
	else if (c->algo == CHECKSUM_CRC64NVME)
		checksum_put_be(c->crc64, 8, out);
	else if (c->md && (!EVP_DigestFinal_ex(c->md, out, &n) || n != len))
		abort();
	checksum_fini(c);
	return len;
}

void
checksum_fini(struct checksum_ctx *c)
{
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

size_t
checksum_compute(enum checksum_algo a, const void *p, size_t len, uint8_t out[CHECKSUM_MAX_LEN])
{
	struct checksum_ctx c;

	checksum_init(&c, a);
	checksum_update(&c, p, len);
	return checksum_final(&c, out);
}

void
checksum_to_base64(const uint8_t *d, size_t len, char out[CHECKSUM_B64_SIZE])
{
	if (len > CHECKSUM_MAX_LEN)
		len = CHECKSUM_MAX_LEN;
	base64_encode(d, len, out);
}

int
checksum_from_base64(enum checksum_algo a, const char *s, size_t len, uint8_t out[CHECKSUM_MAX_LEN])
{
	size_t want = checksum_algo_len(a), got = 0;

	if (want == 0 || len != BASE64_ENCODED_LEN(want))
		return CAIRN_E_INVAL;
	if (base64_decode(s, len, out, CHECKSUM_MAX_LEN, &got) < 0 || got != want)
		return CAIRN_E_INVAL;
	return 0;
}

/* ---- combining CRCs ---- */

/*
 * The three CRCs are reflected and use init = xorout = all ones, for which
 * CRC(A || B) = CRC(A) * x^(8|B|) + CRC(B) in GF(2)[x] modulo the polynomial: the all-ones
 * register at B's start and the final inversion cancel out. In the reflected representation the
 * coefficient of x^0 is the top bit of the width and multiplying by x is a right shift.
 */
struct checksum_crc_poly {
	unsigned width;
	uint64_t poly; /* reflected */
};

static bool
checksum_crc_poly(enum checksum_algo a, struct checksum_crc_poly *out)
{
	switch (a) {
	case CHECKSUM_CRC32:
		*out = (struct checksum_crc_poly){32, 0xEDB88320u};
		return true;
	case CHECKSUM_CRC32C:
		*out = (struct checksum_crc_poly){32, 0x82F63B78u};
		return true;
	case CHECKSUM_CRC64NVME:
		*out = (struct checksum_crc_poly){64, 0x9A6C9329AC4BC9B5ull};
		return true;
	default:
		return false;
	}
}

/* a * b modulo the polynomial. */
static uint64_t
checksum_gf2_mul(const struct checksum_crc_poly *cp, uint64_t a, uint64_t b)
{
	uint64_t m = 1ull << (cp->width - 1), p = 0;

	while (m) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = (b & 1) ? (b >> 1) ^ cp->poly : b >> 1;
	}
	return p;
}

/* x^(8 * n) modulo the polynomial, by squaring. */
static uint64_t
checksum_gf2_x8n(const struct checksum_crc_poly *cp, uint64_t n)
{
	uint64_t p = 1ull << (cp->width - 1);	 /* x^0 */
	uint64_t base = 1ull << (cp->width - 2); /* x^1 */
	int i;

	for (i = 0; i < 3; i++)
		base = checksum_gf2_mul(cp, base, base); /* x^8 */
	while (n) {
		if (n & 1)
			p = checksum_gf2_mul(cp, base, p);
		base = checksum_gf2_mul(cp, base, base);
		n >>= 1;
	}
	return p;
}

uint64_t
checksum_crc_combine(enum checksum_algo a, uint64_t crc1, uint64_t crc2, uint64_t len2)
{
	struct checksum_crc_poly cp;

	if (!checksum_crc_poly(a, &cp))
		return 0;
	if (len2 == 0)
		return crc1;
	return checksum_gf2_mul(&cp, checksum_gf2_x8n(&cp, len2), crc1) ^ crc2;
}

uint64_t
checksum_digest_to_crc(enum checksum_algo a, const uint8_t *d)
{
	struct checksum_crc_poly cp;
	uint64_t v = 0;
	unsigned i;

	if (!checksum_crc_poly(a, &cp))
		return 0;
	for (i = 0; i < cp.width / 8; i++)
		v = v << 8 | d[i];
	return v;
}

size_t
checksum_crc_to_digest(enum checksum_algo a, uint64_t crc, uint8_t out[CHECKSUM_MAX_LEN])
{
	struct checksum_crc_poly cp;

	if (!checksum_crc_poly(a, &cp))
		return 0;
	checksum_put_be(crc, cp.width / 8, out);
	return cp.width / 8;
}
