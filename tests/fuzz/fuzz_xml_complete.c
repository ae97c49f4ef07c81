/*
 * fuzz_xml_complete.c — the CompleteMultipartUpload body parser (xml_parse_complete) and, on
 * what it accepts, a round trip through the XML writer.
 *
 * Input: the request body. Invariants: the documented return codes and S3 errors; an error
 * leaves the struct empty; an accepted body has 1..10000 parts with part numbers in 1..10000,
 * non-empty ETags within XML_ETAG_MAX, a checksum exactly when a checksum algorithm is set;
 * writing the parts back (ETags quoted, as clients send them) and parsing again gives the same
 * parts.
 */
#include "fuzz.h"

#include "cairn/buf.h"
#include "cairn/checksum.h"
#include "cairn/err.h"
#include "cairn/xml.h"

static void
fuzz_round_trip(const struct xml_complete *c)
{
	struct xml_writer w;
	struct xml_complete again;
	struct buf out, etag;
	enum s3_error e = S3E_OK;
	size_t i;

	buf_init(&out, 4 * XML_COMPLETE_BODY_MAX);
	buf_init(&etag, XML_ETAG_MAX + 2);
	xml_writer_init(&w, &out);
	xml_open_ns(&w, "CompleteMultipartUpload");
	for (i = 0; i < c->n; i++) {
		const struct xml_part *p = &c->parts[i];

		buf_reset(&etag);
		FUZZ_CHECK(buf_printf(&etag, "\"%s\"", p->etag) == 0);
		xml_open(&w, "Part");
		xml_elem_u64(&w, "PartNumber", p->part_number);
		xml_elem(&w, "ETag", (const char *)etag.p);
		if (p->checksum_algo != CHECKSUM_NONE)
			xml_elem(&w, checksum_algo_xml(p->checksum_algo), p->checksum);
		xml_close(&w);
	}
	xml_close(&w);
	FUZZ_CHECK(xml_writer_finish(&w) == 0);
	if (out.len <= XML_COMPLETE_BODY_MAX) {
		FUZZ_CHECK(xml_parse_complete((const char *)out.p, out.len, &again, &e) == 0);
		FUZZ_CHECK(again.n == c->n);
		for (i = 0; i < c->n; i++) {
			const struct xml_part *a = &c->parts[i], *b = &again.parts[i];

			FUZZ_CHECK(a->part_number == b->part_number);
			FUZZ_CHECK(strcmp(a->etag, b->etag) == 0);
			FUZZ_CHECK(a->checksum_algo == b->checksum_algo);
			FUZZ_CHECK(strcmp(a->checksum, b->checksum) == 0);
		}
		xml_complete_fini(&again);
	}
	buf_fini(&etag);
	buf_fini(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xml_complete c;
	enum s3_error e = S3E_OK;
	bool writable = true;
	size_t i;
	int rc;

	rc = xml_parse_complete((const char *)data, size, &c, &e);
	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL || rc == CAIRN_E_TOOBIG);
		FUZZ_CHECK(e == S3E_MALFORMED_XML ||
			   (rc == CAIRN_E_INVAL && e == S3E_INVALID_ARGUMENT));
		FUZZ_CHECK(c.n == 0 && c.parts == NULL);
		xml_complete_fini(&c);
		return 0;
	}
	FUZZ_CHECK(e == S3E_OK && c.n >= 1 && c.n <= XML_COMPLETE_MAX_PARTS);
	for (i = 0; i < c.n; i++) {
		const struct xml_part *p = &c.parts[i];
		size_t elen = strnlen(p->etag, sizeof(p->etag));
		size_t clen = strnlen(p->checksum, sizeof(p->checksum));

		FUZZ_CHECK(p->part_number >= 1 && p->part_number <= 10000);
		FUZZ_CHECK(elen >= 1 && elen <= XML_ETAG_MAX);
		FUZZ_CHECK(p->checksum_algo >= CHECKSUM_NONE && p->checksum_algo < CHECKSUM_COUNT);
		FUZZ_CHECK(clen < CHECKSUM_B64_SIZE);
		FUZZ_CHECK((clen == 0) == (p->checksum_algo == CHECKSUM_NONE));
		writable &= !fuzz_has_xml_c0(p->etag, elen) && !fuzz_has_xml_c0(p->checksum, clen);
	}
	if (writable)
		fuzz_round_trip(&c);
	xml_complete_fini(&c);
	xml_complete_fini(&c);
	return 0;
}
