#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/xml.h"

#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define NS " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

/* ---- writer ---- */

static void
test_writer(void **state)
{
	struct buf b;
	struct xml_writer w;

	(void)state;
	buf_init(&b, 4096);
	xml_writer_init(&w, &b);
	xml_open_ns(&w, "ListBucketResult");
	xml_elem(&w, "Name", "bucket");
	xml_elem(&w, "Prefix", "");
	xml_elem(&w, "Skipped", NULL);
	xml_elem_u64(&w, "MaxKeys", 1000);
	xml_elem_u64(&w, "Size", UINT64_MAX);
	xml_elem_bool(&w, "IsTruncated", false);
	xml_open(&w, "Contents");
	xml_elem_n(&w, "Key", "a&b<c>\"d'e\x01\t\n\r\x1f\x7f\xc3\xa9", 18);
	xml_elem(&w, "ETag", "\"abc\"");
	xml_close(&w);
	xml_close(&w);
	assert_int_equal(xml_writer_finish(&w), 0);
	assert_string_equal((const char *)b.p,
			    DECL "<ListBucketResult" NS "><Name>bucket</Name><Prefix></Prefix>"
				 "<MaxKeys>1000</MaxKeys><Size>18446744073709551615</Size>"
				 "<IsTruncated>false</IsTruncated><Contents><Key>a&amp;b&lt;c&gt;"
				 "&quot;d&apos;e&#x1;&#x9;&#xA;&#xD;&#x1F;&#x7F;\xc3\xa9</Key>"
				 "<ETag>&quot;abc&quot;</ETag></Contents></ListBucketResult>");
	buf_fini(&b);
}

static void
test_writer_errors(void **state)
{
	struct buf b;
	struct xml_writer w;
	int i;

	(void)state;
	buf_init(&b, 4096);
	/* Unclosed element. */
	xml_writer_init(&w, &b);
	xml_open(&w, "A");
	assert_int_equal(xml_writer_finish(&w), CAIRN_E_INVAL);
	/* Close with nothing open; later calls do nothing. */
	buf_reset(&b);
	xml_writer_init(&w, &b);
	xml_close(&w);
	xml_elem(&w, "X", "y");
	assert_int_equal(xml_writer_finish(&w), CAIRN_E_INVAL);
	assert_null(strstr((const char *)b.p, "<X>"));
	/* NUL in text. */
	buf_reset(&b);
	xml_writer_init(&w, &b);
	xml_elem_n(&w, "K", "a\0b", 3);
	assert_int_equal(xml_writer_finish(&w), CAIRN_E_INVAL);
	/* Too deep. */
	buf_reset(&b);
	xml_writer_init(&w, &b);
	for (i = 0; i <= 2 * XML_MAX_DEPTH; i++)
		xml_open(&w, "D");
	assert_int_equal(xml_writer_finish(&w), CAIRN_E_INVAL);
	buf_fini(&b);
	/* Buffer cap: sticky TOOBIG, bounded output. */
	buf_init(&b, 64);
	xml_writer_init(&w, &b);
	xml_open(&w, "Root");
	for (i = 0; i < 100; i++)
		xml_elem(&w, "Key", "0123456789");
	xml_close(&w);
	assert_int_equal(xml_writer_finish(&w), CAIRN_E_TOOBIG);
	assert_true(b.len <= 64);
	buf_fini(&b);
}

static void
test_escape(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(xml_escape(&b, "plain", 5), 0);
	assert_string_equal((const char *)b.p, "plain");
	buf_reset(&b);
	assert_int_equal(xml_escape(&b, "", 0), 0);
	assert_int_equal(xml_escape(&b, "&&&&", 4), CAIRN_E_TOOBIG);
	buf_fini(&b);
}

/* ---- parsers ---- */

static int
del(const char *body, struct xml_delete *d, enum s3_error *e)
{
	*e = S3E_OK;
	return xml_parse_delete(body, strlen(body), d, e);
}

static void
test_delete(void **state)
{
	const char *body = DECL "<Delete" NS ">\n  <Quiet>true</Quiet>\n"
				"  <Object><Key>a &amp; b</Key><VersionId>v1</VersionId></Object>\n"
				"  <Object><Key> spaced </Key><ETag>\"e\"</ETag><Size>3</Size>"
				"<Unknown><Deep/></Unknown></Object>\n"
				"  <Object><Key>&#xD;cr&#x9;</Key></Object>\n</Delete>";
	struct xml_delete d;
	enum s3_error e;

	(void)state;
	assert_int_equal(del(body, &d, &e), 0);
	assert_true(d.quiet);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.objects[0].key, "a & b");
	assert_int_equal(d.objects[0].key_len, 5);
	assert_string_equal(d.objects[0].version_id, "v1");
	assert_null(d.objects[0].etag);
	assert_string_equal(d.objects[1].key, " spaced ");
	assert_null(d.objects[1].version_id);
	assert_string_equal(d.objects[1].etag, "\"e\"");
	assert_string_equal(d.objects[2].key, "\rcr\t");
	xml_delete_fini(&d);
	xml_delete_fini(&d);
	/* Without namespace, without Quiet, and with another namespace prefix. */
	assert_int_equal(del("<Delete><Object><Key>k</Key></Object></Delete>", &d, &e), 0);
	assert_false(d.quiet);
	assert_int_equal(d.n, 1);
	xml_delete_fini(&d);
	assert_int_equal(del("<s3:Delete xmlns:s3=\"urn:x\"><s3:Object><s3:Key>k</s3:Key>"
			     "</s3:Object><s3:Quiet>false</s3:Quiet></s3:Delete>",
			     &d, &e),
			 0);
	assert_int_equal(d.n, 1);
	xml_delete_fini(&d);
}

static void
test_delete_errors(void **state)
{
	static const char *bad[] = {
	    "",
	    "   ",
	    "<Delete>",
	    "<Delete></Delete>",
	    "<Delete><Quiet>true</Quiet></Delete>",
	    "<Remove><Object><Key>k</Key></Object></Remove>",
	    "<Delete><Object></Object></Delete>",
	    "<Delete><Object><Key></Key></Object></Delete>",
	    "<Delete><Object><VersionId>v</VersionId></Object></Delete>",
	    "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
	    "<Delete><Object><Key>a</Key><VersionId>1</VersionId><VersionId>2</VersionId>"
	    "</Object></Delete>",
	    "<Delete><Quiet>yes</Quiet><Object><Key>k</Key></Object></Delete>",
	    "<Delete><Object><Key>k</Key></Object></Delete><Delete/>",
	    "<Delete><Object><Key>&bogus;</Key></Object></Delete>",
	    "<Delete><Object><Key>&#x1;</Key></Object></Delete>",
	    "<Delete><Object><Key>k</Key></Object>",
	    "<!DOCTYPE d [<!ENTITY a \"x\">]><Delete><Object><Key>&a;</Key></Object></Delete>",
	    "<!DOCTYPE Delete SYSTEM \"http://127.0.0.1/x.dtd\"><Delete/>",
	    "<Delete><Object><Key>k</Key></Object></Delete>trailing",
	    "\xff\xfe<Delete/>",
	};
	struct xml_delete d;
	enum s3_error e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (del(bad[i], &d, &e) != CAIRN_E_INVAL || e != S3E_MALFORMED_XML)
			fail_msg("case %zu accepted: %s", i, bad[i]);
		assert_null(d.objects);
		assert_int_equal(d.n, 0);
		xml_delete_fini(&d);
	}
}

/* Builds <Delete> with n objects whose keys are klen bytes of 'k'. */
static char *
delete_doc(size_t n, size_t klen)
{
	size_t cap = n * (klen + 40) + 64, off = 0, i;
	char *s = malloc(cap);

	off += (size_t)snprintf(s + off, cap - off, "<Delete>");
	for (i = 0; i < n; i++) {
		off += (size_t)snprintf(s + off, cap - off, "<Object><Key>");
		memset(s + off, 'k', klen);
		off += klen;
		off += (size_t)snprintf(s + off, cap - off, "</Key></Object>");
	}
	snprintf(s + off, cap - off, "</Delete>");
	return s;
}

static void
test_delete_limits(void **state)
{
	struct xml_delete d;
	enum s3_error e;
	char *s;

	(void)state;
	s = delete_doc(XML_DELETE_MAX_OBJECTS, 3);
	assert_int_equal(del(s, &d, &e), 0);
	assert_int_equal(d.n, XML_DELETE_MAX_OBJECTS);
	xml_delete_fini(&d);
	free(s);
	s = delete_doc(XML_DELETE_MAX_OBJECTS + 1, 3);
	assert_int_equal(del(s, &d, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_MALFORMED_XML);
	free(s);
	s = delete_doc(1, 1024);
	assert_int_equal(del(s, &d, &e), 0);
	assert_int_equal(d.objects[0].key_len, 1024);
	xml_delete_fini(&d);
	free(s);
	s = delete_doc(1, 1025);
	assert_int_equal(del(s, &d, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_KEY_TOO_LONG);
	free(s);
	s = delete_doc(1, XML_TEXT_MAX + 1);
	assert_int_equal(del(s, &d, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_MALFORMED_XML);
	free(s);
	/* Body over the cap. */
	s = delete_doc(1, 3);
	e = S3E_OK;
	assert_int_equal(xml_parse_delete(s, XML_DELETE_BODY_MAX + 1, &d, &e), CAIRN_E_TOOBIG);
	assert_int_equal(e, S3E_MALFORMED_XML);
	free(s);
}

static void
test_depth_limit(void **state)
{
	char body[512];
	struct xml_delete d;
	enum s3_error e;
	size_t off = 0;
	int i;

	(void)state;
	/* Skipped subtrees count towards the depth limit as well. */
	off += (size_t)snprintf(body + off, sizeof(body) - off, "<Delete><Object><Key>k</Key>");
	for (i = 0; i < XML_MAX_DEPTH - 2; i++)
		off += (size_t)snprintf(body + off, sizeof(body) - off, "<x>");
	for (i = 0; i < XML_MAX_DEPTH - 2; i++)
		off += (size_t)snprintf(body + off, sizeof(body) - off, "</x>");
	snprintf(body + off, sizeof(body) - off, "</Object></Delete>");
	assert_int_equal(del(body, &d, &e), 0);
	xml_delete_fini(&d);
	off = 0;
	off += (size_t)snprintf(body + off, sizeof(body) - off, "<Delete><Object><Key>k</Key>");
	for (i = 0; i < XML_MAX_DEPTH - 1; i++)
		off += (size_t)snprintf(body + off, sizeof(body) - off, "<x>");
	for (i = 0; i < XML_MAX_DEPTH - 1; i++)
		off += (size_t)snprintf(body + off, sizeof(body) - off, "</x>");
	snprintf(body + off, sizeof(body) - off, "</Object></Delete>");
	assert_int_equal(del(body, &d, &e), CAIRN_E_INVAL);
}

static int
cmp(const char *body, struct xml_complete *c, enum s3_error *e)
{
	*e = S3E_OK;
	return xml_parse_complete(body, strlen(body), c, e);
}

static void
test_complete(void **state)
{
	const char *body =
	    DECL "<CompleteMultipartUpload" NS ">\n"
		 "<Part><PartNumber>1</PartNumber><ETag>\"0123456789abcdef0123456789abcdef\""
		 "</ETag><ChecksumCRC32>y/Q5Jg==</ChecksumCRC32></Part>\n"
		 "<Part><ETag>&quot;ab&quot;</ETag><PartNumber> 2 </PartNumber>"
		 "<ChecksumCRC64NVME>rosUhgp5mIg=</ChecksumCRC64NVME></Part>\n"
		 "<Part><PartNumber>10000</PartNumber><ETag>noquotes</ETag>"
		 "<Extra>x</Extra></Part>\n"
		 "</CompleteMultipartUpload>";
	struct xml_complete c;
	enum s3_error e;

	(void)state;
	assert_int_equal(cmp(body, &c, &e), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.parts[0].part_number, 1);
	assert_string_equal(c.parts[0].etag, "0123456789abcdef0123456789abcdef");
	assert_int_equal(c.parts[0].checksum_algo, CHECKSUM_CRC32);
	assert_string_equal(c.parts[0].checksum, "y/Q5Jg==");
	assert_int_equal(c.parts[1].part_number, 2);
	assert_string_equal(c.parts[1].etag, "ab");
	assert_int_equal(c.parts[1].checksum_algo, CHECKSUM_CRC64NVME);
	assert_int_equal(c.parts[2].part_number, 10000);
	assert_string_equal(c.parts[2].etag, "noquotes");
	assert_int_equal(c.parts[2].checksum_algo, CHECKSUM_NONE);
	assert_string_equal(c.parts[2].checksum, "");
	xml_complete_fini(&c);
	xml_complete_fini(&c);
}

static void
test_complete_errors(void **state)
{
	static const struct {
		const char *body;
		enum s3_error e;
	} bad[] = {
	    {"<CompleteMultipartUpload></CompleteMultipartUpload>", S3E_MALFORMED_XML},
	    {"<Complete><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></Complete>",
	     S3E_MALFORMED_XML},
#define P(x) "<CompleteMultipartUpload><Part>" x "</Part></CompleteMultipartUpload>"
	    {P("<ETag>e</ETag>"), S3E_MALFORMED_XML},
	    {P("<PartNumber>1</PartNumber>"), S3E_MALFORMED_XML},
	    {P("<PartNumber>1</PartNumber><ETag></ETag>"), S3E_MALFORMED_XML},
	    {P("<PartNumber>1</PartNumber><ETag>\"\"</ETag>"), S3E_MALFORMED_XML},
	    {P("<PartNumber>1</PartNumber><ETag>a</ETag><ETag>b</ETag>"), S3E_MALFORMED_XML},
	    {P("<PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>a</ETag>"),
	     S3E_MALFORMED_XML},
	    {P("<PartNumber>0</PartNumber><ETag>e</ETag>"), S3E_INVALID_ARGUMENT},
	    {P("<PartNumber>10001</PartNumber><ETag>e</ETag>"), S3E_INVALID_ARGUMENT},
	    {P("<PartNumber>-1</PartNumber><ETag>e</ETag>"), S3E_INVALID_ARGUMENT},
	    {P("<PartNumber>1x</PartNumber><ETag>e</ETag>"), S3E_INVALID_ARGUMENT},
	    {P("<PartNumber></PartNumber><ETag>e</ETag>"), S3E_INVALID_ARGUMENT},
	    {P("<PartNumber>99999999999</PartNumber><ETag>e</ETag>"), S3E_INVALID_ARGUMENT},
	    {P("<PartNumber>1</PartNumber><ETag>e</ETag><ChecksumCRC32>a</ChecksumCRC32>"
	       "<ChecksumSHA1>b</ChecksumSHA1>"),
	     S3E_MALFORMED_XML},
	    {P("<PartNumber>1</PartNumber><ETag>e</ETag><ChecksumSHA256>"
	       "012345678901234567890123456789012345678901234</ChecksumSHA256>"),
	     S3E_MALFORMED_XML},
	    {P("<PartNumber>1</PartNumber><ETag>"
	       "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
	       "0123456789012345678901234567890123456789012345678</ETag>"),
	     S3E_MALFORMED_XML},
#undef P
	};
	struct xml_complete c;
	enum s3_error e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cmp(bad[i].body, &c, &e) != CAIRN_E_INVAL || e != bad[i].e)
			fail_msg("case %zu: got e=%d", i, e);
		assert_null(c.parts);
	}
}

static void
test_complete_limits(void **state)
{
	size_t cap = (XML_COMPLETE_MAX_PARTS + 1) * 80 + 100, off, i, n;
	char *s = malloc(cap);
	struct xml_complete c;
	enum s3_error e;

	(void)state;
	for (n = XML_COMPLETE_MAX_PARTS; n <= XML_COMPLETE_MAX_PARTS + 1; n++) {
		off = (size_t)snprintf(s, cap, "<CompleteMultipartUpload>");
		for (i = 0; i < n; i++)
			off += (size_t)snprintf(s + off, cap - off,
						"<Part><PartNumber>%zu</PartNumber><ETag>e</ETag>"
						"</Part>",
						i % 10000 + 1);
		snprintf(s + off, cap - off, "</CompleteMultipartUpload>");
		if (n == XML_COMPLETE_MAX_PARTS) {
			assert_int_equal(cmp(s, &c, &e), 0);
			assert_int_equal(c.n, n);
			assert_int_equal(c.parts[n - 1].part_number, 10000);
			xml_complete_fini(&c);
		} else {
			assert_int_equal(cmp(s, &c, &e), CAIRN_E_INVAL);
			assert_int_equal(e, S3E_MALFORMED_XML);
		}
	}
	free(s);
}

static void
test_create_bucket(void **state)
{
	char loc[XML_LOCATION_MAX + 1];
	char big[256];
	enum s3_error e = S3E_OK;

	(void)state;
	assert_int_equal(xml_parse_create_bucket("", 0, loc, &e), 0);
	assert_string_equal(loc, "");
	assert_int_equal(xml_parse_create_bucket(" \n", 2, loc, &e), 0);
	const char *b = DECL "<CreateBucketConfiguration" NS "><LocationConstraint>eu-west-1"
			     "</LocationConstraint></CreateBucketConfiguration>";
	assert_int_equal(xml_parse_create_bucket(b, strlen(b), loc, &e), 0);
	assert_string_equal(loc, "eu-west-1");
	b = "<CreateBucketConfiguration><Bucket><Type>x</Type></Bucket>"
	    "</CreateBucketConfiguration>";
	assert_int_equal(xml_parse_create_bucket(b, strlen(b), loc, &e), 0);
	assert_string_equal(loc, "");
	b = "<CreateBucket/>";
	assert_int_equal(xml_parse_create_bucket(b, strlen(b), loc, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_MALFORMED_XML);
	b = "<CreateBucketConfiguration>";
	assert_int_equal(xml_parse_create_bucket(b, strlen(b), loc, &e), CAIRN_E_INVAL);
	snprintf(big, sizeof(big),
		 "<CreateBucketConfiguration><LocationConstraint>%0*d</LocationConstraint>"
		 "</CreateBucketConfiguration>",
		 XML_LOCATION_MAX + 1, 0);
	assert_int_equal(xml_parse_create_bucket(big, strlen(big), loc, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INVALID_LOCATION_CONSTRAINT);
}

/* Found by fuzz_xml_config: an empty leaf element reached the end callback with a NULL text
 * pointer (memcpy from NULL, undefined behaviour that UBSan reports). */
static void
test_empty_leaf(void **state)
{
	char loc[XML_LOCATION_MAX + 1] = "x";
	enum s3_error e = S3E_OK;
	const char *b =
	    "<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>";

	(void)state;
	assert_int_equal(xml_parse_create_bucket(b, strlen(b), loc, &e), 0);
	assert_string_equal(loc, "");
	b = "<CreateBucketConfiguration><LocationConstraint></LocationConstraint>"
	    "</CreateBucketConfiguration>";
	assert_int_equal(xml_parse_create_bucket(b, strlen(b), loc, &e), 0);
	assert_string_equal(loc, "");
}

static void
test_versioning(void **state)
{
	enum xml_versioning v;
	enum s3_error e = S3E_OK;
	const char *b;

	(void)state;
	b = "<VersioningConfiguration" NS "><Status>Enabled</Status></VersioningConfiguration>";
	assert_int_equal(xml_parse_versioning(b, strlen(b), &v, &e), 0);
	assert_int_equal(v, XML_VERSIONING_ENABLED);
	b = "<VersioningConfiguration><MfaDelete>Disabled</MfaDelete><Status>Suspended</Status>"
	    "</VersioningConfiguration>";
	assert_int_equal(xml_parse_versioning(b, strlen(b), &v, &e), 0);
	assert_int_equal(v, XML_VERSIONING_SUSPENDED);
	b = "<VersioningConfiguration/>";
	assert_int_equal(xml_parse_versioning(b, strlen(b), &v, &e), 0);
	assert_int_equal(v, XML_VERSIONING_UNSET);
	b = "<VersioningConfiguration><Status>On</Status></VersioningConfiguration>";
	assert_int_equal(xml_parse_versioning(b, strlen(b), &v, &e), CAIRN_E_INVAL);
	assert_int_equal(v, XML_VERSIONING_UNSET);
	assert_int_equal(xml_parse_versioning("", 0, &v, &e), CAIRN_E_INVAL);
}

static void
test_tagging(void **state)
{
	struct xml_tagging t;
	enum s3_error e = S3E_OK;
	const char *b = "<Tagging" NS "><TagSet><Tag><Key>k1</Key><Value>v1</Value></Tag>"
			"<Tag><Value></Value><Key>k 2</Key></Tag></TagSet></Tagging>";
	char big[4096];
	size_t off, i;

	(void)state;
	assert_int_equal(xml_parse_tagging(b, strlen(b), &t, &e), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.tags[0].key, "k1");
	assert_string_equal(t.tags[0].value, "v1");
	assert_string_equal(t.tags[1].key, "k 2");
	assert_string_equal(t.tags[1].value, "");
	xml_tagging_fini(&t);
	b = "<Tagging><TagSet/></Tagging>";
	assert_int_equal(xml_parse_tagging(b, strlen(b), &t, &e), 0);
	assert_int_equal(t.n, 0);
	xml_tagging_fini(&t);
	b = "<Tagging><TagSet><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key>"
	    "<Value>2</Value></Tag></TagSet></Tagging>";
	assert_int_equal(xml_parse_tagging(b, strlen(b), &t, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INVALID_ARGUMENT);
	b = "<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>";
	assert_int_equal(xml_parse_tagging(b, strlen(b), &t, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_MALFORMED_XML);
	b = "<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>";
	assert_int_equal(xml_parse_tagging(b, strlen(b), &t, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INVALID_ARGUMENT);
	snprintf(big, sizeof(big),
		 "<Tagging><TagSet><Tag><Key>k</Key><Value>%0*d</Value></Tag></TagSet></Tagging>",
		 XML_TAG_VALUE_MAX + 1, 0);
	assert_int_equal(xml_parse_tagging(big, strlen(big), &t, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INVALID_ARGUMENT);
	snprintf(big, sizeof(big),
		 "<Tagging><TagSet><Tag><Key>%0*d</Key><Value>v</Value></Tag></TagSet></Tagging>",
		 XML_TAG_KEY_MAX + 1, 0);
	assert_int_equal(xml_parse_tagging(big, strlen(big), &t, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_INVALID_ARGUMENT);
	off = (size_t)snprintf(big, sizeof(big), "<Tagging><TagSet>");
	for (i = 0; i <= XML_TAGS_MAX; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off,
					"<Tag><Key>%zu</Key><Value/></Tag>", i);
	snprintf(big + off, sizeof(big) - off, "</TagSet></Tagging>");
	assert_int_equal(xml_parse_tagging(big, strlen(big), &t, &e), CAIRN_E_INVAL);
	assert_int_equal(e, S3E_MALFORMED_XML);
	assert_null(t.tags);
}

/* A parsed key written back out and parsed again comes back identical. */
static void
test_roundtrip_key(void **state)
{
	const char key[] = "a\tb\nc\rd&<>\"' \xe2\x82\xac";
	struct buf b;
	struct xml_writer w;
	struct xml_delete d;
	enum s3_error e;

	(void)state;
	buf_init(&b, 1024);
	xml_writer_init(&w, &b);
	xml_open(&w, "Delete");
	xml_open(&w, "Object");
	xml_elem(&w, "Key", key);
	xml_close(&w);
	xml_close(&w);
	assert_int_equal(xml_writer_finish(&w), 0);
	assert_int_equal(del((const char *)b.p, &d, &e), 0);
	assert_string_equal(d.objects[0].key, key);
	xml_delete_fini(&d);
	buf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_writer),	    cmocka_unit_test(test_writer_errors),
	    cmocka_unit_test(test_escape),	    cmocka_unit_test(test_delete),
	    cmocka_unit_test(test_delete_errors),   cmocka_unit_test(test_delete_limits),
	    cmocka_unit_test(test_depth_limit),	    cmocka_unit_test(test_complete),
	    cmocka_unit_test(test_complete_errors), cmocka_unit_test(test_complete_limits),
	    cmocka_unit_test(test_create_bucket),   cmocka_unit_test(test_empty_leaf),
	    cmocka_unit_test(test_versioning),	    cmocka_unit_test(test_tagging),
	    cmocka_unit_test(test_roundtrip_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
