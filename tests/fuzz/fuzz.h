/*
 * fuzz.h — helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Every target defines LLVMFuzzerTestOneInput(), keeps no state between calls, frees what it
 * allocates, and calls FUZZ_CHECK() on the invariants it can state (round trips, split
 * invariance, documented return codes). A failed check aborts, which libFuzzer reports as a crash
 * with the input saved.
 *
 * The input is cut into pieces with a struct fuzz_in cursor: fuzz_byte() takes one byte (0 when
 * the input is used up), fuzz_line() takes the bytes up to the next '\n' (without it). Pieces are
 * borrowed from libFuzzer's buffer, which ASan guards on both sides; fuzz_strdup() makes an exact
 * NUL-terminated heap copy for APIs that take C strings.
 */
#ifndef CAIRN_FUZZ_H
#define CAIRN_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct fuzz_in {
	const uint8_t *p;
	size_t len;
};

static inline uint8_t
fuzz_byte(struct fuzz_in *in)
{
	uint8_t b;

	if (in->len == 0)
		return 0;
	b = in->p[0];
	in->p++;
	in->len--;
	return b;
}

/* Takes the next line into (*s, *len), without its '\n'. Returns false when nothing is left. */
static inline bool
fuzz_line(struct fuzz_in *in, const char **s, size_t *len)
{
	const uint8_t *nl;

	if (in->len == 0)
		return false;
	nl = memchr(in->p, '\n', in->len);
	*s = (const char *)in->p;
	*len = nl ? (size_t)(nl - in->p) : in->len;
	in->p += *len + (nl ? 1 : 0);
	in->len -= *len + (nl ? 1 : 0);
	return true;
}

/* Exact-size NUL-terminated copy of p[0..len); the caller frees it. Aborts when out of memory. */
static inline char *
fuzz_strdup(const void *p, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	if (len)
		memcpy(s, p, len);
	s[len] = 0;
	return s;
}

/* True when a[0..alen) and b[0..blen) hold the same bytes. */
static inline bool
fuzz_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* True when p[0..len) holds a C0 control other than TAB, LF, CR: text the XML writer escapes as
 * a character reference that XML 1.0 parsers (expat) refuse, so it cannot round-trip. */
static inline bool
fuzz_has_xml_c0(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return true;
	}
	return false;
}

#endif
