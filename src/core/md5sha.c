/*
 * md5sha.c — MD5 (RFC 1321) in C, SHA-256 (FIPS 180-4) with the x86 SHA extensions, and the
 * two interleaved.
 *
 * MD5's 64 steps form one dependency chain through a, b, c, d. Each step below adds the message
 * word and constant (and, in round 2, the half of G that does not involve b) before the newest
 * value b is needed, so that the chain per step is about four operations; written that way the
 * C compiles to code slightly faster than OpenSSL's MD5 assembly on the bench machine. SHA-256 is
 * the usual SHA-NI sequence: the state kept as ABEF/CDGH, two sha256rnds2 per four rounds and the
 * message schedule in sha256msg1/msg2. The stitched loop issues four MD5 steps, then four SHA-256
 * rounds, sixteen times per block pair: neither chain waits for the other, so the CPU overlaps
 * them.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn/md5sha.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define MD5SHA_X86 1
#endif

/* ---- MD5 ---- */

static inline uint32_t
md5_rotl(uint32_t x, int s)
{
	return (x << s) | (x >> (32 - s));
}

static inline uint32_t
md5_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One step each of rounds 1-4: a = b + rotl(a + f(b, c, d) + m + k, s). */
#define MD5_F(a, b, c, d, m, k, s)                                                                 \
	do {                                                                                       \
		a += (m) + (k);                                                                    \
		a += (d) ^ ((b) & ((c) ^ (d)));                                                    \
		a = md5_rotl(a, s) + (b);                                                          \
	} while (0)
/* G = (b & d) | (c & ~d); the two halves share no bit, so they can be added separately. */
#define MD5_G(a, b, c, d, m, k, s)                                                                 \
	do {                                                                                       \
		a += (m) + (k) + ((c) & ~(d));                                                     \
		a += (b) & (d);                                                                    \
		a = md5_rotl(a, s) + (b);                                                          \
	} while (0)
#define MD5_H(a, b, c, d, m, k, s)                                                                 \
	do {                                                                                       \
		a += (m) + (k);                                                                    \
		a += (b) ^ (c) ^ (d);                                                              \
		a = md5_rotl(a, s) + (b);                                                          \
	} while (0)
#define MD5_I(a, b, c, d, m, k, s)                                                                 \
	do {                                                                                       \
		a += (m) + (k);                                                                    \
		a += (c) ^ ((b) | ~(d));                                                           \
		a = md5_rotl(a, s) + (b);                                                          \
	} while (0)

/* The 64 steps as 16 quads (one step per register in turn), so the stitched loop can put four
 * SHA-256 rounds between quads. Message index i, constant k of each step, from RFC 1321. */
#define MD5_QF(i0, k0, i1, k1, i2, k2, i3, k3)                                                     \
	MD5_F(a, b, c, d, m[i0], k0, 7);                                                           \
	MD5_F(d, a, b, c, m[i1], k1, 12);                                                          \
	MD5_F(c, d, a, b, m[i2], k2, 17);                                                          \
	MD5_F(b, c, d, a, m[i3], k3, 22)
#define MD5_QG(i0, k0, i1, k1, i2, k2, i3, k3)                                                     \
	MD5_G(a, b, c, d, m[i0], k0, 5);                                                           \
	MD5_G(d, a, b, c, m[i1], k1, 9);                                                           \
	MD5_G(c, d, a, b, m[i2], k2, 14);                                                          \
	MD5_G(b, c, d, a, m[i3], k3, 20)
#define MD5_QH(i0, k0, i1, k1, i2, k2, i3, k3)                                                     \
	MD5_H(a, b, c, d, m[i0], k0, 4);                                                           \
	MD5_H(d, a, b, c, m[i1], k1, 11);                                                          \
	MD5_H(c, d, a, b, m[i2], k2, 16);                                                          \
	MD5_H(b, c, d, a, m[i3], k3, 23)
#define MD5_QI(i0, k0, i1, k1, i2, k2, i3, k3)                                                     \
	MD5_I(a, b, c, d, m[i0], k0, 6);                                                           \
	MD5_I(d, a, b, c, m[i1], k1, 10);                                                          \
	MD5_I(c, d, a, b, m[i2], k2, 15);                                                          \
	MD5_I(b, c, d, a, m[i3], k3, 21)

#define MD5_Q0 MD5_QF(0, 0xd76aa478, 1, 0xe8c7b756, 2, 0x242070db, 3, 0xc1bdceee)
#define MD5_Q1 MD5_QF(4, 0xf57c0faf, 5, 0x4787c62a, 6, 0xa8304613, 7, 0xfd469501)
#define MD5_Q2 MD5_QF(8, 0x698098d8, 9, 0x8b44f7af, 10, 0xffff5bb1, 11, 0x895cd7be)
#define MD5_Q3 MD5_QF(12, 0x6b901122, 13, 0xfd987193, 14, 0xa679438e, 15, 0x49b40821)
#define MD5_Q4 MD5_QG(1, 0xf61e2562, 6, 0xc040b340, 11, 0x265e5a51, 0, 0xe9b6c7aa)
#define MD5_Q5 MD5_QG(5, 0xd62f105d, 10, 0x02441453, 15, 0xd8a1e681, 4, 0xe7d3fbc8)
#define MD5_Q6 MD5_QG(9, 0x21e1cde6, 14, 0xc33707d6, 3, 0xf4d50d87, 8, 0x455a14ed)
#define MD5_Q7 MD5_QG(13, 0xa9e3e905, 2, 0xfcefa3f8, 7, 0x676f02d9, 12, 0x8d2a4c8a)
#define MD5_Q8 MD5_QH(5, 0xfffa3942, 8, 0x8771f681, 11, 0x6d9d6122, 14, 0xfde5380c)
#define MD5_Q9 MD5_QH(1, 0xa4beea44, 4, 0x4bdecfa9, 7, 0xf6bb4b60, 10, 0xbebfbc70)
#define MD5_Q10 MD5_QH(13, 0x289b7ec6, 0, 0xeaa127fa, 3, 0xd4ef3085, 6, 0x04881d05)
#define MD5_Q11 MD5_QH(9, 0xd9d4d039, 12, 0xe6db99e5, 15, 0x1fa27cf8, 2, 0xc4ac5665)
#define MD5_Q12 MD5_QI(0, 0xf4292244, 7, 0x432aff97, 14, 0xab9423a7, 5, 0xfc93a039)
#define MD5_Q13 MD5_QI(12, 0x655b59c3, 3, 0x8f0ccc92, 10, 0xffeff47d, 1, 0x85845dd1)
#define MD5_Q14 MD5_QI(8, 0x6fa87e4f, 15, 0xfe2ce6e0, 6, 0xa3014314, 13, 0x4e0811a1)
#define MD5_Q15 MD5_QI(4, 0xf7537e82, 11, 0xbd3af235, 2, 0x2ad7d2bb, 9, 0xeb86d391)

/* Loads a block's 16 little-endian words into m[]. */
static inline void
md5_load(uint32_t m[16], const uint8_t *p)
{
	for (int i = 0; i < 16; i++)
		m[i] = md5_le32(p + 4 * i);
}

void
md5_init(struct md5_state *s)
{
	s->h[0] = 0x67452301;
	s->h[1] = 0xefcdab89;
	s->h[2] = 0x98badcfe;
	s->h[3] = 0x10325476;
	s->nbytes = 0;
}

void
md5_blocks(struct md5_state *s, const uint8_t *p, size_t nblocks)
{
	uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], m[16];

	s->nbytes += (uint64_t)nblocks * MD5SHA_BLOCK;
	for (; nblocks > 0; nblocks--, p += MD5SHA_BLOCK) {
		uint32_t a0 = a, b0 = b, c0 = c, d0 = d;

		md5_load(m, p);
		MD5_Q0;
		MD5_Q1;
		MD5_Q2;
		MD5_Q3;
		MD5_Q4;
		MD5_Q5;
		MD5_Q6;
		MD5_Q7;
		MD5_Q8;
		MD5_Q9;
		MD5_Q10;
		MD5_Q11;
		MD5_Q12;
		MD5_Q13;
		MD5_Q14;
		MD5_Q15;
		a += a0;
		b += b0;
		c += c0;
		d += d0;
	}
	s->h[0] = a;
	s->h[1] = b;
	s->h[2] = c;
	s->h[3] = d;
}

/* The padded last one or two blocks of a message whose final len (< 64) bytes are tail, with
 * the message's bit count stored little- or big-endian. Returns the number of blocks. */
static size_t
md5sha_pad(uint8_t out[2 * MD5SHA_BLOCK], const uint8_t *tail, size_t len, uint64_t total,
	   bool big_endian)
{
	size_t n = len + 1 + 8 <= MD5SHA_BLOCK ? 1 : 2, end = n * MD5SHA_BLOCK;
	uint64_t bits = total * 8;

	memset(out, 0, end);
	if (len > 0)
		memcpy(out, tail, len);
	out[len] = 0x80;
	for (int i = 0; i < 8; i++)
		out[big_endian ? end - 1 - i : end - 8 + i] = (uint8_t)(bits >> (8 * i));
	return n;
}

/* The end of a message for either digest: hashes tail[len] (whole blocks, then the padded last
 * one or two) through blocks into state s, which has hashed *nbytes bytes before. */
static void
md5sha_finish(void *s, void (*blocks)(void *s, const uint8_t *p, size_t nblocks),
	      const uint64_t *nbytes, const uint8_t *tail, size_t len, bool big_endian)
{
	uint8_t pad[2 * MD5SHA_BLOCK];
	size_t whole = len / MD5SHA_BLOCK;

	blocks(s, tail, whole);
	tail += whole * MD5SHA_BLOCK;
	len -= whole * MD5SHA_BLOCK;
	blocks(s, pad, md5sha_pad(pad, tail, len, *nbytes + len, big_endian));
}

static void
md5_blocks_any(void *s, const uint8_t *p, size_t nblocks)
{
	md5_blocks(s, p, nblocks);
}

void
md5_final(struct md5_state *s, const uint8_t *tail, size_t len, uint8_t out[16])
{
	md5sha_finish(s, md5_blocks_any, &s->nbytes, tail, len, false);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(s->h[i] >> (8 * j));
}

/* ---- SHA-256 with the SHA extensions ---- */

#if defined(MD5SHA_X86)

#define MD5SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

/* Four rounds r*4 .. r*4+3 on the state halves S0 (ABEF) and S1 (CDGH) with message words w. */
#define SHA_ROUNDS(r, w)                                                                           \
	do {                                                                                       \
		__m128i mk_ =                                                                      \
		    _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&sha256_k[4 * (r)]));        \
		S1 = _mm_sha256rnds2_epu32(S1, S0, mk_);                                           \
		S0 = _mm_sha256rnds2_epu32(S0, S1, _mm_shuffle_epi32(mk_, 0x0E));                  \
	} while (0)
/* Rounds 16 and on: w0 (the words 16 rounds back) becomes the next four words of the schedule
 * from w0..w3 (w3 the newest), then four rounds. */
#define SHA_SCHED_ROUNDS(r, w0, w1, w2, w3)                                                        \
	do {                                                                                       \
		w0 = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));      \
		w0 = _mm_sha256msg2_epu32(w0, w3);                                                 \
		SHA_ROUNDS(r, w0);                                                                 \
	} while (0)

#define SHA_Q0 SHA_ROUNDS(0, W0)
#define SHA_Q1 SHA_ROUNDS(1, W1)
#define SHA_Q2 SHA_ROUNDS(2, W2)
#define SHA_Q3 SHA_ROUNDS(3, W3)
#define SHA_Q(r, a, b, c, d) SHA_SCHED_ROUNDS(r, a, b, c, d)
#define SHA_Q4 SHA_Q(4, W0, W1, W2, W3)
#define SHA_Q5 SHA_Q(5, W1, W2, W3, W0)
#define SHA_Q6 SHA_Q(6, W2, W3, W0, W1)
#define SHA_Q7 SHA_Q(7, W3, W0, W1, W2)
#define SHA_Q8 SHA_Q(8, W0, W1, W2, W3)
#define SHA_Q9 SHA_Q(9, W1, W2, W3, W0)
#define SHA_Q10 SHA_Q(10, W2, W3, W0, W1)
#define SHA_Q11 SHA_Q(11, W3, W0, W1, W2)
#define SHA_Q12 SHA_Q(12, W0, W1, W2, W3)
#define SHA_Q13 SHA_Q(13, W1, W2, W3, W0)
#define SHA_Q14 SHA_Q(14, W2, W3, W0, W1)
#define SHA_Q15 SHA_Q(15, W3, W0, W1, W2)

/* A block's four big-endian message vectors. */
#define SHA_LOAD(q)                                                                                \
	const __m128i bswap_ = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);         \
	__m128i W0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(q)), bswap_);              \
	__m128i W1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((q) + 16)), bswap_);       \
	__m128i W2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((q) + 32)), bswap_);       \
	__m128i W3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((q) + 48)), bswap_)

/* h[0..7] = A..H into S0 = ABEF and S1 = CDGH (dword 3 first), the order sha256rnds2 wants. */
MD5SHA_TARGET static inline void
sha256_unpack(const uint32_t h[8], __m128i *s0, __m128i *s1)
{
	__m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);
	__m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);

	*s0 = _mm_alignr_epi8(abcd, efgh, 8);
	*s1 = _mm_blend_epi16(efgh, abcd, 0xF0);
}

MD5SHA_TARGET static inline void
sha256_pack(__m128i s0, __m128i s1, uint32_t h[8])
{
	__m128i feba = _mm_shuffle_epi32(s0, 0x1B);
	__m128i dchg = _mm_shuffle_epi32(s1, 0xB1);

	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

static bool md5sha_allowed = true;

void
md5sha_use_extensions(bool use)
{
	md5sha_allowed = use;
}

bool
md5sha_stitched_available(void)
{
	static int cached = -1; /* racing threads compute the same answer */
	unsigned int a, b, c, d;

	if (!md5sha_allowed)
		return false;
	if (cached < 0) {
		bool ok = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
			  __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);

		cached = ok;
	}
	return cached > 0;
}

MD5SHA_TARGET void
sha256_blocks(struct sha256_state *s, const uint8_t *q, size_t nblocks)
{
	__m128i S0, S1;

	sha256_unpack(s->h, &S0, &S1);
	s->nbytes += (uint64_t)nblocks * MD5SHA_BLOCK;
	for (; nblocks > 0; nblocks--, q += MD5SHA_BLOCK) {
		__m128i s0 = S0, s1 = S1;
		SHA_LOAD(q);

		SHA_Q0;
		SHA_Q1;
		SHA_Q2;
		SHA_Q3;
		SHA_Q4;
		SHA_Q5;
		SHA_Q6;
		SHA_Q7;
		SHA_Q8;
		SHA_Q9;
		SHA_Q10;
		SHA_Q11;
		SHA_Q12;
		SHA_Q13;
		SHA_Q14;
		SHA_Q15;
		S0 = _mm_add_epi32(S0, s0);
		S1 = _mm_add_epi32(S1, s1);
	}
	sha256_pack(S0, S1, s->h);
}

MD5SHA_TARGET void
md5sha_blocks(struct md5_state *ms, const uint8_t *p, struct sha256_state *ss, const uint8_t *q,
	      size_t nblocks)
{
	uint32_t a = ms->h[0], b = ms->h[1], c = ms->h[2], d = ms->h[3], m[16];
	__m128i S0, S1;

	sha256_unpack(ss->h, &S0, &S1);
	ms->nbytes += (uint64_t)nblocks * MD5SHA_BLOCK;
	ss->nbytes += (uint64_t)nblocks * MD5SHA_BLOCK;
	for (; nblocks > 0; nblocks--, p += MD5SHA_BLOCK, q += MD5SHA_BLOCK) {
		uint32_t a0 = a, b0 = b, c0 = c, d0 = d;
		__m128i s0 = S0, s1 = S1;
		SHA_LOAD(q);

		md5_load(m, p);
		MD5_Q0;
		SHA_Q0;
		MD5_Q1;
		SHA_Q1;
		MD5_Q2;
		SHA_Q2;
		MD5_Q3;
		SHA_Q3;
		MD5_Q4;
		SHA_Q4;
		MD5_Q5;
		SHA_Q5;
		MD5_Q6;
		SHA_Q6;
		MD5_Q7;
		SHA_Q7;
		MD5_Q8;
		SHA_Q8;
		MD5_Q9;
		SHA_Q9;
		MD5_Q10;
		SHA_Q10;
		MD5_Q11;
		SHA_Q11;
		MD5_Q12;
		SHA_Q12;
		MD5_Q13;
		SHA_Q13;
		MD5_Q14;
		SHA_Q14;
		MD5_Q15;
		SHA_Q15;
		a += a0;
		b += b0;
		c += c0;
		d += d0;
		S0 = _mm_add_epi32(S0, s0);
		S1 = _mm_add_epi32(S1, s1);
	}
	ms->h[0] = a;
	ms->h[1] = b;
	ms->h[2] = c;
	ms->h[3] = d;
	sha256_pack(S0, S1, ss->h);
}

#else /* no SHA extensions to use: callers see md5sha_stitched_available() false */

void
md5sha_use_extensions(bool use)
{
	(void)use;
}

bool
md5sha_stitched_available(void)
{
	return false;
}

void
sha256_blocks(struct sha256_state *s, const uint8_t *q, size_t nblocks)
{
	(void)s;
	(void)q;
	(void)nblocks;
	abort();
}

void
md5sha_blocks(struct md5_state *ms, const uint8_t *p, struct sha256_state *ss, const uint8_t *q,
	      size_t nblocks)
{
	(void)ms;
	(void)p;
	(void)ss;
	(void)q;
	(void)nblocks;
	abort();
}

#endif

void
sha256_init(struct sha256_state *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(s->h, iv, sizeof(iv));
	s->nbytes = 0;
}

static void
sha256_blocks_any(void *s, const uint8_t *p, size_t nblocks)
{
	sha256_blocks(s, p, nblocks);
}

void
sha256_final(struct sha256_state *s, const uint8_t *tail, size_t len, uint8_t out[32])
{
	md5sha_finish(s, sha256_blocks_any, &s->nbytes, tail, len, true);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
}
