/*
 * fuzz_s3name.c — bucket-name and object-key validation, checked against independent reference
 * implementations written here from the rules in s3name.h (a differential fuzzer): UTF-8 by
 * decoding code points (overlongs, surrogates and > U+10FFFF refused), bucket names by splitting
 * on '.' and testing the listed prefixes and suffixes on a C string. Object keys: exactly the
 * return codes documented.
 */
#include "fuzz.h"

#include "cairn/err.h"
#include "cairn/s3name.h"

/* Reference UTF-8 check by code-point decoding. */
static bool
fuzz_ref_utf8(const uint8_t *p, size_t len)
{
	static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t i = 0, n, k;

	while (i < len) {
		uint8_t c = p[i];
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			n = 2, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			n = 3, cp = c & 0x0F;
		else if ((c & 0xF8) == 0xF0)
			n = 4, cp = c & 0x07;
		else
			return false;
		if (len - i < n)
			return false;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n;
	}
	return true;
}

static bool
fuzz_ref_ipv4(const char *s)
{
	size_t groups = 0, digits = 0;

	for (;; s++) {
		if (*s >= '0' && *s <= '9') {
			digits++;
			continue;
		}
		if ((*s != '.' && *s != 0) || digits < 1 || digits > 3)
			return false;
		groups++;
		digits = 0;
		if (*s == 0)
			return groups == 4;
	}
}

static bool
fuzz_ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && strcmp(s + len - n, suffix) == 0;
}

/* Reference bucket-name rules over a NUL-terminated copy. */
static bool
fuzz_ref_bucket(const char *s, size_t len)
{
	static const char *const prefix[] = {"xn--", "sthree-", "amzn-s3-demo-"};
	static const char *const suffix[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3",
					     "--table-s3"};
	size_t i;

	if (len < 3 || len > 63 || strlen(s) != len)
		return false;
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") != len)
		return false;
	if (strchr(".-", s[0]) || strchr(".-", s[len - 1]))
		return false;
	if (strstr(s, "..") || strstr(s, ".-") || strstr(s, "-.") || fuzz_ref_ipv4(s))
		return false;
	for (i = 0; i < 3; i++) {
		if (strncmp(s, prefix[i], strlen(prefix[i])) == 0)
			return false;
	}
	for (i = 0; i < 5; i++) {
		if (fuzz_ends_with(s, len, suffix[i]))
			return false;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *copy = fuzz_strdup(data, size);
	bool utf8 = fuzz_ref_utf8(data, size);
	int rc;

	FUZZ_CHECK(s3name_is_utf8(s, size) == utf8);
	FUZZ_CHECK(s3name_bucket_is_valid(s, size) == fuzz_ref_bucket(copy, size));
	rc = s3name_key_check(s, size);
	if (size > S3NAME_KEY_MAX)
		FUZZ_CHECK(rc == CAIRN_E_TOOBIG);
	else if (size == 0 || memchr(s, 0, size) || !utf8)
		FUZZ_CHECK(rc == CAIRN_E_INVAL);
	else
		FUZZ_CHECK(rc == 0);
	free(copy);
	return 0;
}
