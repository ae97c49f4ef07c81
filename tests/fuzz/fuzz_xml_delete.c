/*
 * fuzz_xml_delete.c — the DeleteObjects body parser (xml_parse_delete) and, on what it accepts,
 * a round trip through the XML writer.
 *
 * Input: the request body. Invariants: the documented return codes and S3 errors; an error
 * leaves the struct empty; an accepted body has 1..1000 objects whose keys are 1..1024 bytes of
 * UTF-8 without NUL; writing the parsed objects back with xml_writer (root with the S3 namespace)
 * and parsing that gives the same objects, quiet flag, version ids and ETags.
 */
#include "fuzz.h"

#include "cairn/buf.h"
#include "cairn/err.h"
#include "cairn/s3name.h"
#include "cairn/xml.h"

static bool
fuzz_opt_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool
fuzz_writable(const struct xml_delete *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct xml_delete_object *o = &d->objects[i];

		if (fuzz_has_xml_c0(o->key, o->key_len) ||
		    (o->version_id && fuzz_has_xml_c0(o->version_id, strlen(o->version_id))) ||
		    (o->etag && fuzz_has_xml_c0(o->etag, strlen(o->etag))))
			return false;
	}
	return true;
}

static void
fuzz_round_trip(const struct xml_delete *d)
{
	struct xml_writer w;
	struct xml_delete again;
	struct buf out;
	enum s3_error e = S3E_OK;
	size_t i;

	buf_init(&out, 4 * XML_DELETE_BODY_MAX);
	xml_writer_init(&w, &out);
	xml_open_ns(&w, "Delete");
	xml_elem_bool(&w, "Quiet", d->quiet);
	for (i = 0; i < d->n; i++) {
		xml_open(&w, "Object");
		xml_elem_n(&w, "Key", d->objects[i].key, d->objects[i].key_len);
		xml_elem(&w, "VersionId", d->objects[i].version_id);
		xml_elem(&w, "ETag", d->objects[i].etag);
		xml_close(&w);
	}
	xml_close(&w);
	FUZZ_CHECK(xml_writer_finish(&w) == 0);
	if (out.len <= XML_DELETE_BODY_MAX) {
		FUZZ_CHECK(xml_parse_delete((const char *)out.p, out.len, &again, &e) == 0);
		FUZZ_CHECK(again.n == d->n && again.quiet == d->quiet);
		for (i = 0; i < d->n; i++) {
			const struct xml_delete_object *a = &d->objects[i], *b = &again.objects[i];

			FUZZ_CHECK(fuzz_eq(a->key, a->key_len, b->key, b->key_len));
			FUZZ_CHECK(fuzz_opt_eq(a->version_id, b->version_id));
			FUZZ_CHECK(fuzz_opt_eq(a->etag, b->etag));
		}
		xml_delete_fini(&again);
	}
	buf_fini(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xml_delete d;
	enum s3_error e = S3E_OK;
	size_t i;
	int rc;

	rc = xml_parse_delete((const char *)data, size, &d, &e);
	if (rc < 0) {
		FUZZ_CHECK(rc == CAIRN_E_INVAL || rc == CAIRN_E_TOOBIG);
		FUZZ_CHECK(e == S3E_MALFORMED_XML ||
			   (rc == CAIRN_E_INVAL && e == S3E_KEY_TOO_LONG));
		FUZZ_CHECK(d.n == 0 && d.objects == NULL);
		xml_delete_fini(&d);
		return 0;
	}
	FUZZ_CHECK(e == S3E_OK && d.n >= 1 && d.n <= XML_DELETE_MAX_OBJECTS);
	for (i = 0; i < d.n; i++) {
		const struct xml_delete_object *o = &d.objects[i];

		FUZZ_CHECK(o->key_len >= 1 && o->key_len <= S3NAME_KEY_MAX);
		FUZZ_CHECK(o->key[o->key_len] == 0 && strlen(o->key) == o->key_len);
		FUZZ_CHECK(s3name_key_check(o->key, o->key_len) == 0);
	}
	if (fuzz_writable(&d))
		fuzz_round_trip(&d);
	xml_delete_fini(&d);
	xml_delete_fini(&d);
	return 0;
}
