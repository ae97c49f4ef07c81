/*
 * xml.h — S3 request-body XML parsing (expat) into small structs, and an XML writer for
 * responses.
 *
 * Parsing: each xml_parse_*() takes a complete body (the caller reads it into a capped buffer
 * first; XML_*_BODY_MAX are the suggested caps) and fills a struct that owns its strings until
 * the matching *_fini(). Limits are enforced while parsing: body length, element depth
 * (XML_MAX_DEPTH), element count, text length per element; DTDs / entity declarations are refused
 * (no billion laughs, no external entities). Documents may or may not carry the S3 namespace
 * xmlns="http://s3.amazonaws.com/doc/2006-03-01/" (or any other: element names are matched by
 * local name). Unknown elements inside known containers are skipped (newer SDK fields), but a
 * wrong root element, text in the wrong place, a missing required element or any limit breach is
 * an error. The parse functions are pure apart from heap allocation (freed on error too).
 *
 * Parse functions return 0; CAIRN_E_INVAL with *s3e set (S3E_MALFORMED_XML unless stated); or
 * CAIRN_E_TOOBIG with *s3e = S3E_MALFORMED_XML when the body passes the cap (the caller that knows
 * the body is too big before reading it should answer S3E_MAX_MESSAGE_LENGTH_EXCEEDED itself).
 * s3e may be NULL. On error the out struct is empty (its fini is still safe).
 *
 * Writing: a struct xml_writer appends to a capped struct buf. Errors are sticky: each call after
 * the first failure does nothing, and xml_writer_finish() reports the first failure — so response
 * builders can make a run of calls and check once.
 *
 * Control characters: XML 1.0 cannot carry U+0000..U+001F except TAB, LF, CR, not even as
 * character references. The writer escapes TAB, LF and CR as &#x9; &#xA; &#xD; (so parsers keep
 * them), and writes every other C0 control as &#xN; as well — AWS does the same for keys with
 * control characters, strictly ill-formed XML 1.0; clients listing such keys should use
 * encoding-type=url. '&' '<' '>' '"' '\'' become &amp; &lt; &gt; &quot; &apos;. Other bytes are
 * copied (text is expected to be UTF-8, which cairn validates on the way in).
 */
#ifndef CAIRN_XML_H
#define CAIRN_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/checksum.h"
#include "cairn/s3err.h"

#define XML_S3_NAMESPACE "http://s3.amazonaws.com/doc/2006-03-01/"
#define XML_MAX_DEPTH 8
#define XML_TEXT_MAX 4096 /* characters of text in one element (after entity decoding) */

#define XML_DELETE_BODY_MAX (2u << 20) /* DeleteObjects */
#define XML_DELETE_MAX_OBJECTS 1000
#define XML_COMPLETE_BODY_MAX (8u << 20) /* CompleteMultipartUpload */
#define XML_COMPLETE_MAX_PARTS 10000
#define XML_SMALL_BODY_MAX (64u << 10) /* configuration documents */
#define XML_ETAG_MAX 128
#define XML_TAGS_MAX 50 /* tags per Tagging document (objects allow 10: caller checks) */

/* ---- DeleteObjects: <Delete><Quiet>true</Quiet><Object><Key>k</Key><VersionId>v</VersionId>
 *      </Object>…</Delete> ---- */

struct xml_delete_object {
	const char *key; /* NUL-terminated; key_len is authoritative (never contains NUL) */
	size_t key_len;
	const char *version_id; /* NULL when absent */
	const char *etag;	/* NULL when absent (conditional delete, newer SDKs) */
};

struct xml_delete {
	bool quiet;
	size_t n; /* 1 .. XML_DELETE_MAX_OBJECTS */
	struct xml_delete_object *objects;
	struct buf storage; /* private: backs the strings */
};

/* Parses a DeleteObjects body. Errors (S3E_MALFORMED_XML): not well-formed, root not <Delete>,
 * no <Object>, more than XML_DELETE_MAX_OBJECTS, an <Object> without <Key> or with an empty or
 * repeated <Key>, a key over 1024 bytes (S3E_KEY_TOO_LONG), <Quiet> not "true"/"false". */
int xml_parse_delete(const char *body, size_t len, struct xml_delete *out, enum s3_error *s3e);
void xml_delete_fini(struct xml_delete *d);

/* ---- CompleteMultipartUpload: <CompleteMultipartUpload><Part><PartNumber>1</PartNumber>
 *      <ETag>"…"</ETag><ChecksumCRC32>…</ChecksumCRC32></Part>…</CompleteMultipartUpload> ---- */

struct xml_part {
	uint32_t part_number;		  /* 1 .. 10000 */
	char etag[XML_ETAG_MAX + 1];	  /* without surrounding quotes */
	enum checksum_algo checksum_algo; /* CHECKSUM_NONE when no Checksum* element */
	char checksum[CHECKSUM_B64_SIZE]; /* the base64 value as sent, "" when none */
};

struct xml_complete {
	size_t n; /* 1 .. XML_COMPLETE_MAX_PARTS, in document order (caller checks ascending) */
	struct xml_part *parts;
};

/* Parses a CompleteMultipartUpload body. Errors: S3E_MALFORMED_XML (not well-formed, wrong root,
 * no parts, more than XML_COMPLETE_MAX_PARTS, a part without PartNumber or ETag, an ETag over
 * XML_ETAG_MAX, two different Checksum* elements in one part, a checksum value over 44 chars);
 * S3E_INVALID_ARGUMENT (PartNumber not a decimal integer 1..10000). */
int xml_parse_complete(const char *body, size_t len, struct xml_complete *out, enum s3_error *s3e);
void xml_complete_fini(struct xml_complete *c);

/* ---- CreateBucketConfiguration: <CreateBucketConfiguration><LocationConstraint>r
 *      </LocationConstraint></CreateBucketConfiguration> ---- */

#define XML_LOCATION_MAX 64

/* Parses a CreateBucket body into location[XML_LOCATION_MAX + 1] ("" when the body is empty or
 * has no LocationConstraint). Errors: S3E_MALFORMED_XML; S3E_INVALID_LOCATION_CONSTRAINT when the
 * constraint is longer than XML_LOCATION_MAX. */
int xml_parse_create_bucket(const char *body, size_t len, char location[XML_LOCATION_MAX + 1],
			    enum s3_error *s3e);

/* ---- PutBucketVersioning: <VersioningConfiguration><Status>Enabled|Suspended</Status>
 *      </VersioningConfiguration> ---- */

enum xml_versioning { XML_VERSIONING_UNSET, XML_VERSIONING_ENABLED, XML_VERSIONING_SUSPENDED };

/* Parses a PutBucketVersioning body; *out is XML_VERSIONING_UNSET when Status is absent. Errors:
 * S3E_MALFORMED_XML (including a Status other than Enabled/Suspended). MfaDelete is ignored. */
int xml_parse_versioning(const char *body, size_t len, enum xml_versioning *out,
			 enum s3_error *s3e);

/* ---- Tagging: <Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>…</TagSet></Tagging> */

#define XML_TAG_KEY_MAX 128
#define XML_TAG_VALUE_MAX 256

struct xml_tag {
	const char *key;   /* NUL-terminated, 1..XML_TAG_KEY_MAX bytes */
	const char *value; /* NUL-terminated, 0..XML_TAG_VALUE_MAX bytes */
};

struct xml_tagging {
	size_t n; /* 0 .. XML_TAGS_MAX */
	struct xml_tag *tags;
	struct buf storage; /* private */
};

/* Parses a Tagging body. Errors: S3E_MALFORMED_XML (not well-formed, wrong root, a Tag without
 * Key or Value, more than XML_TAGS_MAX tags); S3E_INVALID_ARGUMENT ("InvalidTag" in AWS: a key
 * or value over its limit, an empty key, or a duplicate key). */
int xml_parse_tagging(const char *body, size_t len, struct xml_tagging *out, enum s3_error *s3e);
void xml_tagging_fini(struct xml_tagging *t);

/* ---- Writer ---- */

struct xml_writer {
	/* private */
	struct buf *out;
	int err;
	unsigned depth;
	const char *stack[XML_MAX_DEPTH * 2];
};

/* Starts a document in out (appends `<?xml version="1.0" encoding="UTF-8"?>` and a newline).
 * Element names passed to the writer must be valid XML names that outlive the writer (string
 * literals); they are not escaped. */
void xml_writer_init(struct xml_writer *w, struct buf *out);

/* Opens <name>; xml_open_ns() opens <name xmlns="http://s3.amazonaws.com/doc/2006-03-01/">. More
 * than 2 * XML_MAX_DEPTH open elements is an error (CAIRN_E_INVAL). */
void xml_open(struct xml_writer *w, const char *name);
void xml_open_ns(struct xml_writer *w, const char *name);

/* Closes the innermost open element (CAIRN_E_INVAL when none is open). */
void xml_close(struct xml_writer *w);

/* Writes <name>escaped text</name>. xml_elem() takes a NUL-terminated string (NULL writes
 * nothing at all); xml_elem_n() takes p[0..len) which may contain any bytes but NUL (a NUL byte is
 * an error, CAIRN_E_INVAL). */
void xml_elem(struct xml_writer *w, const char *name, const char *text);
void xml_elem_n(struct xml_writer *w, const char *name, const char *p, size_t len);

/* <name>decimal</name> and <name>true|false</name>. */
void xml_elem_u64(struct xml_writer *w, const char *name, uint64_t v);
void xml_elem_bool(struct xml_writer *w, const char *name, bool v);

/* Returns 0 when every call succeeded and all elements are closed; else the first error
 * (CAIRN_E_TOOBIG when out's maximum was reached, CAIRN_E_INVAL for misuse or unclosed
 * elements). out then holds a partial document: discard it. */
int xml_writer_finish(struct xml_writer *w);

/* Appends the escaped form of p[0..len) (rules above) to out. Returns 0, CAIRN_E_INVAL on a NUL
 * byte, or CAIRN_E_TOOBIG. */
int xml_escape(struct buf *out, const char *p, size_t len);

#endif
