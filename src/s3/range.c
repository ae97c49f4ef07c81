#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/range.h"

/* Reads a decimal number at s[*i..len) (no sign, no spaces). Values past UINT64_MAX saturate:
 * such a first byte is past any object, such a last byte or suffix length covers all of it. */
static bool
range_number(const char *s, size_t len, size_t *i, uint64_t *out)
{
	size_t start = *i;
	uint64_t v = 0;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		uint64_t d = (uint64_t)(s[*i] - '0');

		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		(*i)++;
	}
	*out = v;
	return *i > start;
}

/* Checks the "bytes=" unit prefix (case-insensitive unit) and returns the offset after it. */
static bool
range_unit(const char *s, size_t len, size_t *i)
{
	static const char unit[] = "bytes=";
	size_t k;

	if (len < sizeof(unit) - 1)
		return false;
	for (k = 0; k < sizeof(unit) - 1; k++) {
		char c = s[k] >= 'A' && s[k] <= 'Z' ? (char)(s[k] + 32) : s[k];

		if (c != unit[k])
			return false;
	}
	*i = k;
	return true;
}

/* One parsed "a-b", "a-" or "-n" spec: which ends are present and their values. */
struct range_ends {
	bool has_first, has_last;
	uint64_t first, last;
};

/* Parses the spec at s[i..len); false on bad syntax (including last < first). */
static bool
range_spec(const char *s, size_t len, size_t i, struct range_ends *r)
{
	r->has_first = range_number(s, len, &i, &r->first);
	if (i == len || s[i] != '-')
		return false;
	i++;
	r->has_last = range_number(s, len, &i, &r->last);
	if (i != len || (!r->has_first && !r->has_last))
		return false;
	return !(r->has_first && r->has_last && r->last < r->first);
}

enum range_kind
range_parse(const char *hdr, size_t len, uint64_t size, struct range *out)
{
	struct range_ends r;
	size_t i;

	if (!hdr || len == 0 || len > RANGE_HEADER_MAX || !range_unit(hdr, len, &i))
		return RANGE_FULL;
	if (!range_spec(hdr, len, i, &r))
		return RANGE_FULL; /* includes several ranges: the ',' is bad syntax here */
	if (!r.has_first) {
		/* suffix "-n": the last n bytes */
		if (r.last == 0 || size == 0)
			return RANGE_UNSATISFIABLE;
		out->len = r.last < size ? r.last : size;
		out->start = size - out->len;
		return RANGE_PARTIAL;
	}
	if (r.first >= size)
		return RANGE_UNSATISFIABLE;
	if (!r.has_last || r.last >= size)
		r.last = size - 1;
	out->start = r.first;
	out->len = r.last - r.first + 1;
	return RANGE_PARTIAL;
}

static int
range_fail(enum s3_error *s3e, enum s3_error e)
{
	if (s3e)
		*s3e = e;
	return CAIRN_E_INVAL;
}

int
range_parse_copy_source(const char *hdr, size_t len, uint64_t size, struct range *out,
			enum s3_error *s3e)
{
	struct range_ends r;
	size_t i;

	if (!hdr || len > RANGE_HEADER_MAX || !range_unit(hdr, len, &i) ||
	    !range_spec(hdr, len, i, &r) || !r.has_first || !r.has_last)
		return range_fail(s3e, S3E_INVALID_ARGUMENT);
	if (r.last >= size)
		return range_fail(s3e, S3E_INVALID_RANGE);
	out->start = r.first;
	out->len = r.last - r.first + 1;
	return 0;
}

int
range_content_range(const struct range *r, uint64_t size, char *out, size_t n)
{
	int k;

	if (r)
		k = snprintf(out, n, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->start,
			     r->start + r->len - 1, size);
	else
		k = snprintf(out, n, "bytes */%" PRIu64, size);
	if (k < 0 || (size_t)k >= n)
		return CAIRN_E_TOOBIG;
	return 0;
}
