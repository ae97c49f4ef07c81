#include <string.h>

#include "cairn/err.h"
#include "cairn/s3name.h"

static bool
s3name_is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
s3name_has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

static bool
s3name_has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Four dot-separated groups of 1..3 decimal digits: "192.168.5.4". */
static bool
s3name_is_ipv4_like(const char *s, size_t len)
{
	size_t i, digits = 0, dots = 0;

	for (i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			if (++digits > 3)
				return false;
		} else if (s[i] == '.' && digits > 0) {
			dots++;
			digits = 0;
		} else {
			return false;
		}
	}
	return dots == 3 && digits > 0;
}

static bool
s3name_chars_ok(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!s3name_is_lower_alnum(c) && c != '.' && c != '-')
			return false;
		if (i > 0 && (c == '.' || c == '-') && name[i - 1] == '.')
			return false; /* ".." and ".-" */
		if (i > 0 && c == '.' && name[i - 1] == '-')
			return false; /* "-." */
	}
	return true;
}

bool
s3name_bucket_is_valid(const char *name, size_t len)
{
	static const char *const bad_prefix[] = {"xn--", "sthree-", "amzn-s3-demo-"};
	static const char *const bad_suffix[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3",
						 "--table-s3"};
	size_t i;

	if (len < S3NAME_BUCKET_MIN || len > S3NAME_BUCKET_MAX)
		return false;
	if (!s3name_is_lower_alnum(name[0]) || !s3name_is_lower_alnum(name[len - 1]))
		return false;
	if (!s3name_chars_ok(name, len) || s3name_is_ipv4_like(name, len))
		return false;
	for (i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
		if (s3name_has_prefix(name, len, bad_prefix[i]))
			return false;
	}
	for (i = 0; i < sizeof(bad_suffix) / sizeof(bad_suffix[0]); i++) {
		if (s3name_has_suffix(name, len, bad_suffix[i]))
			return false;
	}
	return true;
}

/* Length of the UTF-8 sequence starting at p[0..len), or 0 when it is not well-formed
 * (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static size_t
s3name_utf8_seq(const unsigned char *p, size_t len)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	}
	return n;
}

bool
s3name_is_utf8(const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;

	while (i < len) {
		size_t n = s3name_utf8_seq(u + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

int
s3name_key_check(const char *key, size_t len)
{
	if (len > S3NAME_KEY_MAX)
		return CAIRN_E_TOOBIG;
	if (len == 0 || memchr(key, 0, len) || !s3name_is_utf8(key, len))
		return CAIRN_E_INVAL;
	return 0;
}
