/*
 * fuzz_xml_config.c — the small configuration bodies: CreateBucketConfiguration
 * (xml_parse_create_bucket), PutBucketVersioning (xml_parse_versioning) and PutObjectTagging /
 * PutBucketTagging (xml_parse_tagging). Each input goes to all three parsers (a wrong root is
 * just an error for the other two).
 *
 * Invariants: the documented return codes and S3 errors; errors leave outputs empty; accepted
 * values are within their caps (location <= 64 bytes, tags 0..50 with unique non-empty keys
 * <= 128 bytes and values <= 256 bytes); location and tag sets survive a round trip through the
 * XML writer.
 */
#include "fuzz.h"

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/xml.h"

static void
fuzz_bucket_round_trip(const char *loc)
{
	struct xml_writer w;
	struct buf out;
	char again[XML_LOCATION_MAX + 1];
	enum s3_error e = S3E_OK;

	buf_init(&out, 4 * XML_SMALL_BODY_MAX);
	xml_writer_init(&w, &out);
	xml_open_ns(&w, "CreateBucketConfiguration");
	xml_elem(&w, "LocationConstraint", loc);
	xml_close(&w);
	FUZZ_CHECK(xml_writer_finish(&w) == 0);
	FUZZ_CHECK(xml_parse_create_bucket((const char *)out.p, out.len, again, &e) == 0);
	FUZZ_CHECK(strcmp(again, loc) == 0);
	buf_fini(&out);
}

static void
fuzz_bucket(const char *body, size_t len)
{
	char loc[XML_LOCATION_MAX + 1];
	enum s3_error e = S3E_OK;
	int rc = xml_parse_create_bucket(body, len, loc, &e);

	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL || rc == CAIRN_E_TOOBIG);
		FUZZ_CHECK(e == S3E_MALFORMED_XML ||
			   (rc == CAIRN_E_INVAL && e == S3E_INVALID_LOCATION_CONSTRAINT));
		return;
	}
	FUZZ_CHECK(e == S3E_OK && strnlen(loc, sizeof(loc)) <= XML_LOCATION_MAX);
	if (!fuzz_has_xml_c0(loc, strlen(loc)))
		fuzz_bucket_round_trip(loc);
}

static void
fuzz_versioning(const char *body, size_t len)
{
	enum xml_versioning v = XML_VERSIONING_ENABLED;
	enum s3_error e = S3E_OK;
	int rc = xml_parse_versioning(body, len, &v, &e);

	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL || rc == CAIRN_E_TOOBIG);
		FUZZ_CHECK(e == S3E_MALFORMED_XML && v == XML_VERSIONING_UNSET);
		return;
	}
	FUZZ_CHECK(v == XML_VERSIONING_UNSET || v == XML_VERSIONING_ENABLED ||
		   v == XML_VERSIONING_SUSPENDED);
}

static void
fuzz_tagging_round_trip(const struct xml_tagging *t)
{
	struct xml_writer w;
	struct xml_tagging again;
	struct buf out;
	enum s3_error e = S3E_OK;
	size_t i;

	buf_init(&out, 4 * XML_SMALL_BODY_MAX);
	xml_writer_init(&w, &out);
	xml_open_ns(&w, "Tagging");
	xml_open(&w, "TagSet");
	for (i = 0; i < t->n; i++) {
		xml_open(&w, "Tag");
		xml_elem(&w, "Key", t->tags[i].key);
		xml_elem(&w, "Value", t->tags[i].value);
		xml_close(&w);
	}
	xml_close(&w);
	xml_close(&w);
	FUZZ_CHECK(xml_writer_finish(&w) == 0);
	if (out.len <= XML_SMALL_BODY_MAX) {
		FUZZ_CHECK(xml_parse_tagging((const char *)out.p, out.len, &again, &e) == 0);
		FUZZ_CHECK(again.n == t->n);
		for (i = 0; i < t->n; i++) {
			FUZZ_CHECK(strcmp(again.tags[i].key, t->tags[i].key) == 0);
			FUZZ_CHECK(strcmp(again.tags[i].value, t->tags[i].value) == 0);
		}
		xml_tagging_fini(&again);
	}
	buf_fini(&out);
}

static void
fuzz_tagging(const char *body, size_t len)
{
	struct xml_tagging t;
	enum s3_error e = S3E_OK;
	bool writable = true;
	size_t i, j;
	int rc = xml_parse_tagging(body, len, &t, &e);

	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL || rc == CAIRN_E_TOOBIG);
		FUZZ_CHECK(e == S3E_MALFORMED_XML ||
			   (rc == CAIRN_E_INVAL && e == S3E_INVALID_ARGUMENT));
		FUZZ_CHECK(t.n == 0 && t.tags == NULL);
		xml_tagging_fini(&t);
		return;
	}
	FUZZ_CHECK(e == S3E_OK && t.n <= XML_TAGS_MAX);
	for (i = 0; i < t.n; i++) {
		size_t klen = strlen(t.tags[i].key), vlen = strlen(t.tags[i].value);

		FUZZ_CHECK(klen >= 1 && klen <= XML_TAG_KEY_MAX && vlen <= XML_TAG_VALUE_MAX);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(t.tags[i].key, t.tags[j].key) != 0);
		writable &= !fuzz_has_xml_c0(t.tags[i].key, klen) &&
			    !fuzz_has_xml_c0(t.tags[i].value, vlen);
	}
	if (writable)
		fuzz_tagging_round_trip(&t);
	xml_tagging_fini(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_bucket((const char *)data, size);
	fuzz_versioning((const char *)data, size);
	fuzz_tagging((const char *)data, size);
	return 0;
}
