/*
 * fuzz_range.c — Range and x-amz-copy-source-range parsing, checked against a reference
 * implementation written here from range.h (a differential fuzzer), and Content-Range output.
 *
 * Input: the object size in decimal on the first line, then the header value (the rest, as is).
 * Invariants: range_parse() and range_parse_copy_source() agree with the reference; a partial
 * range is non-empty and inside the object; Content-Range always fits RANGE_CONTENT_RANGE_SIZE
 * and names the same span.
 */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"

#include "cairn/err.h"
#include "cairn/range.h"

struct fuzz_spec {
	bool ok, has_first, has_last;
	uint64_t first, last;
};

/* Digits at s[*i..len) as a saturating decimal (strtoull saturates at ULLONG_MAX). */
static bool
fuzz_num(const char *s, size_t len, size_t *i, uint64_t *v)
{
	size_t start = *i;
	char *tmp;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9')
		(*i)++;
	if (*i == start)
		return false;
	tmp = fuzz_strdup(s + start, *i - start);
	*v = strtoull(tmp, NULL, 10);
	free(tmp);
	return true;
}

static struct fuzz_spec
fuzz_ref_spec(const char *s, size_t len)
{
	struct fuzz_spec r = {0};
	size_t i = 6;

	if (len < 6 || len > RANGE_HEADER_MAX || strncasecmp(s, "bytes=", 6) != 0)
		return r;
	r.has_first = fuzz_num(s, len, &i, &r.first);
	if (i == len || s[i++] != '-')
		return r;
	r.has_last = fuzz_num(s, len, &i, &r.last);
	r.ok = i == len && (r.has_first || r.has_last) &&
	       !(r.has_first && r.has_last && r.last < r.first);
	return r;
}

static enum range_kind
fuzz_ref_parse(const char *s, size_t len, uint64_t size, struct range *out)
{
	struct fuzz_spec r = fuzz_ref_spec(s, len);

	if (!r.ok)
		return RANGE_FULL;
	if (!r.has_first) {
		if (r.last == 0 || size == 0)
			return RANGE_UNSATISFIABLE;
		out->len = r.last > size ? size : r.last;
		out->start = size - out->len;
		return RANGE_PARTIAL;
	}
	if (r.first >= size)
		return RANGE_UNSATISFIABLE;
	out->start = r.first;
	out->len = (r.has_last && r.last < size ? r.last : size - 1) - r.first + 1;
	return RANGE_PARTIAL;
}

static void
fuzz_content_range(const struct range *r, uint64_t size)
{
	char out[RANGE_CONTENT_RANGE_SIZE], want[96];

	FUZZ_CHECK(range_content_range(r, size, out, sizeof(out)) == 0);
	if (r)
		snprintf(want, sizeof(want), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->start,
			 r->start + r->len - 1, size);
	else
		snprintf(want, sizeof(want), "bytes */%" PRIu64, size);
	FUZZ_CHECK(strcmp(out, want) == 0);
	FUZZ_CHECK(range_content_range(r, size, out, strlen(want)) == CAIRN_E_TOOBIG);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	const char *line, *hdr = NULL;
	size_t len = 0;
	struct range got = {0, 0}, want = {0, 0};
	struct fuzz_spec spec;
	enum s3_error e = S3E_OK;
	uint64_t obj = 0;
	char *tmp;
	int rc;

	if (!fuzz_line(&in, &line, &len))
		return 0;
	tmp = fuzz_strdup(line, len);
	obj = strtoull(tmp, NULL, 10);
	free(tmp);
	hdr = (const char *)in.p;
	len = in.len;
	rc = range_parse(hdr, len, obj, &got);
	FUZZ_CHECK(rc == (int)fuzz_ref_parse(hdr, len, obj, &want));
	if (rc == RANGE_PARTIAL) {
		FUZZ_CHECK(got.start == want.start && got.len == want.len);
		FUZZ_CHECK(got.len >= 1 && got.start < obj && got.len <= obj - got.start);
		fuzz_content_range(&got, obj);
	}
	fuzz_content_range(NULL, obj);
	rc = range_parse_copy_source(hdr, len, obj, &got, &e);
	spec = fuzz_ref_spec(hdr, len);
	if (!spec.ok || !spec.has_first || !spec.has_last) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL && e == S3E_INVALID_ARGUMENT);
	} else if (spec.last >= obj) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL && e == S3E_INVALID_RANGE);
	} else {
		FUZZ_CHECK(rc == 0 && got.start == spec.first);
		FUZZ_CHECK(got.len == spec.last - spec.first + 1);
		fuzz_content_range(&got, obj);
	}
	return 0;
}
