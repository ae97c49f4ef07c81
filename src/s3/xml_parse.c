/*
 * xml_parse.c — bounded parsing of S3 request bodies with expat.
 *
 * One small engine drives expat and keeps, per open element, an id chosen by the document's
 * classify() callback (the id of an element depends on its parent's id and its local name).
 * Unknown elements get XP_SKIP and everything below them is skipped. Leaf text is gathered into
 * a capped buffer and handed to the document's end() callback. Each document (Delete,
 * CompleteMultipartUpload, ...) is then a few small callbacks.
 */
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "cairn/err.h"
#include "cairn/s3name.h"
#include "cairn/xml.h"

#define XP_SKIP 0 /* an element (and its subtree) the document ignores */
#define XP_DOC 0  /* the "parent" passed to classify() for the root element */
#define XP_NS_SEP ' '

struct xp;

struct xp_doc {
	/* Returns the id for element name under parent (XP_SKIP to ignore it) or -1 when it may
	 * not appear there (→ the error set with xp_fail(), default MalformedXML). */
	int (*classify)(struct xp *x, int parent, const char *name);
	/* Called at the start of an element with a non-skip id; returns 0 or -1. */
	int (*start)(struct xp *x, int id);
	/* Called at the end of an element with a non-skip id and its text; returns 0 or -1. */
	int (*end)(struct xp *x, int id, const char *text, size_t len);
	size_t max_elements;
};

struct xp {
	XML_Parser parser;
	const struct xp_doc *doc;
	void *ctx;
	int ids[XML_MAX_DEPTH + 1];
	int depth;
	int skip_depth; /* > 0 while inside a skipped subtree: its depth */
	size_t elements;
	struct buf text;
	int err;
	enum s3_error s3e;
	bool saw_root;
};

static int
xp_fail(struct xp *x, int rc, enum s3_error e)
{
	if (x->err == 0) {
		x->err = rc;
		x->s3e = e;
	}
	XML_StopParser(x->parser, XML_FALSE);
	return -1;
}

/* The local part of an expat "namespace-uri local" name. */
static const char *
xp_local(const char *name)
{
	const char *sp = strrchr(name, XP_NS_SEP);

	return sp ? sp + 1 : name;
}

static void XMLCALL
xp_on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xp *x = ud;
	int parent = x->depth ? x->ids[x->depth] : XP_DOC;
	int id;

	(void)attrs;
	if (x->err)
		return;
	if (++x->elements > x->doc->max_elements || x->depth == XML_MAX_DEPTH) {
		xp_fail(x, CAIRN_E_INVAL, S3E_MALFORMED_XML);
		return;
	}
	x->depth++;
	buf_reset(&x->text);
	if (x->skip_depth) {
		x->ids[x->depth] = XP_SKIP;
		return;
	}
	id = x->doc->classify(x, parent, xp_local(name));
	if (id < 0) {
		xp_fail(x, CAIRN_E_INVAL, S3E_MALFORMED_XML);
		return;
	}
	x->ids[x->depth] = id;
	x->saw_root = true;
	if (id == XP_SKIP)
		x->skip_depth = x->depth;
	else if (x->doc->start && x->doc->start(x, id) < 0)
		xp_fail(x, CAIRN_E_INVAL, S3E_MALFORMED_XML);
}

static void XMLCALL
xp_on_end(void *ud, const XML_Char *name)
{
	struct xp *x = ud;
	int id = x->ids[x->depth];

	(void)name;
	if (x->err)
		return;
	if (x->skip_depth == x->depth)
		x->skip_depth = 0;
	else if (!x->skip_depth && id != XP_SKIP &&
		 x->doc->end(x, id, x->text.p ? (const char *)x->text.p : "", x->text.len) < 0)
		xp_fail(x, CAIRN_E_INVAL, S3E_MALFORMED_XML);
	x->depth--;
	buf_reset(&x->text);
}

static void XMLCALL
xp_on_text(void *ud, const XML_Char *s, int len)
{
	struct xp *x = ud;

	if (x->err || x->skip_depth)
		return;
	if (buf_append(&x->text, s, (size_t)len) < 0)
		xp_fail(x, CAIRN_E_INVAL, S3E_MALFORMED_XML);
}

/* DTDs are refused outright: no entity expansion, no external anything. */
static void XMLCALL
xp_on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
	      int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	xp_fail(ud, CAIRN_E_INVAL, S3E_MALFORMED_XML);
}

static int
xp_fail_early(enum s3_error *s3e, int rc)
{
	if (s3e)
		*s3e = S3E_MALFORMED_XML;
	return rc;
}

/* Parses body with doc. Returns 0, or a negative code with *s3e set. */
static int
xp_run(const struct xp_doc *doc, void *ctx, const char *body, size_t len, size_t max,
       enum s3_error *s3e)
{
	struct xp x = {.doc = doc, .ctx = ctx};
	int rc = 0;

	if (len > max || len > INT32_MAX)
		return xp_fail_early(s3e, CAIRN_E_TOOBIG);
	x.parser = XML_ParserCreateNS(NULL, XP_NS_SEP);
	if (!x.parser)
		abort();
	buf_init(&x.text, XML_TEXT_MAX);
	XML_SetUserData(x.parser, &x);
	XML_SetElementHandler(x.parser, xp_on_start, xp_on_end);
	XML_SetCharacterDataHandler(x.parser, xp_on_text);
	XML_SetStartDoctypeDeclHandler(x.parser, xp_on_doctype);
	if (XML_Parse(x.parser, body, (int)len, XML_TRUE) != XML_STATUS_OK && x.err == 0)
		xp_fail(&x, CAIRN_E_INVAL, S3E_MALFORMED_XML);
	if (x.err == 0 && !x.saw_root)
		xp_fail(&x, CAIRN_E_INVAL, S3E_MALFORMED_XML);
	if (x.err) {
		rc = x.err;
		if (s3e)
			*s3e = x.s3e;
	}
	buf_fini(&x.text);
	XML_ParserFree(x.parser);
	return rc;
}

/* ---- helpers for the documents ---- */

static bool
xp_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims XML whitespace around text[0..*len). */
static const char *
xp_trim(const char *text, size_t *len)
{
	while (*len && xp_is_space(text[0])) {
		text++;
		(*len)--;
	}
	while (*len && xp_is_space(text[*len - 1]))
		(*len)--;
	return text;
}

static bool
xp_text_is(const char *text, size_t len, const char *lit)
{
	text = xp_trim(text, &len);
	return len == strlen(lit) && memcmp(text, lit, len) == 0;
}

/* Parses a decimal in [lo, hi] (surrounding whitespace allowed). */
static bool
xp_uint(const char *text, size_t len, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	text = xp_trim(text, &len);
	if (len == 0 || len > 9)
		return false;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(text[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Appends text and a NUL to st; *off receives where it starts. */
static int
xp_store(struct buf *st, const char *text, size_t len, size_t *off)
{
	int rc;

	*off = st->len;
	rc = buf_append(st, text, len);
	if (rc == 0)
		rc = buf_append(st, "", 1);
	return rc;
}

/* Makes room for one more element in *arr (of size elem), growing by doubling up to max. */
static int
xp_grow(void **arr, size_t *cap, size_t n, size_t elem, size_t max)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return CAIRN_E_TOOBIG;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > max)
		ncap = max;
	p = realloc(*arr, ncap * elem);
	if (!p)
		abort();
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- DeleteObjects ---- */

enum { D_DELETE = 1, D_QUIET, D_OBJECT, D_KEY, D_VERSION, D_ETAG };

#define XP_NONE SIZE_MAX

struct xp_del_obj {
	size_t key, key_len, version, etag; /* offsets into storage, XP_NONE when absent */
};

struct xp_del {
	struct xml_delete *out;
	struct xp_del_obj *objs;
	size_t cap;
};

static int
xp_del_classify(struct xp *x, int parent, const char *name)
{
	(void)x;
	if (parent == XP_DOC)
		return strcmp(name, "Delete") == 0 ? D_DELETE : -1;
	if (parent == D_DELETE && strcmp(name, "Quiet") == 0)
		return D_QUIET;
	if (parent == D_DELETE && strcmp(name, "Object") == 0)
		return D_OBJECT;
	if (parent == D_OBJECT && strcmp(name, "Key") == 0)
		return D_KEY;
	if (parent == D_OBJECT && strcmp(name, "VersionId") == 0)
		return D_VERSION;
	if (parent == D_OBJECT && strcmp(name, "ETag") == 0)
		return D_ETAG;
	return XP_SKIP;
}

static int
xp_del_start(struct xp *x, int id)
{
	struct xp_del *d = x->ctx;
	struct xp_del_obj *o;

	if (id != D_OBJECT)
		return 0;
	if (xp_grow((void **)&d->objs, &d->cap, d->out->n, sizeof(*d->objs),
		    XML_DELETE_MAX_OBJECTS) < 0)
		return -1;
	o = &d->objs[d->out->n++];
	o->key = o->version = o->etag = XP_NONE;
	o->key_len = 0;
	return 0;
}

/* Stores a leaf value of the current object into *slot (once). */
static int
xp_del_value(struct xp *x, size_t *slot, const char *text, size_t len)
{
	struct xp_del *d = x->ctx;

	if (*slot != XP_NONE || xp_store(&d->out->storage, text, len, slot) < 0)
		return -1;
	return 0;
}

static int
xp_del_end(struct xp *x, int id, const char *text, size_t len)
{
	struct xp_del *d = x->ctx;
	struct xp_del_obj *o = d->out->n ? &d->objs[d->out->n - 1] : NULL;

	switch (id) {
	case D_QUIET:
		if (xp_text_is(text, len, "true") || xp_text_is(text, len, "false")) {
			d->out->quiet = xp_text_is(text, len, "true");
			return 0;
		}
		return -1;
	case D_KEY:
		if (len == 0)
			return -1;
		if (len > S3NAME_KEY_MAX)
			return xp_fail(x, CAIRN_E_INVAL, S3E_KEY_TOO_LONG);
		o->key_len = len;
		return xp_del_value(x, &o->key, text, len);
	case D_VERSION:
		return xp_del_value(x, &o->version, text, len);
	case D_ETAG:
		return xp_del_value(x, &o->etag, text, len);
	case D_OBJECT:
		return o->key == XP_NONE ? -1 : 0;
	default: /* D_DELETE */
		return d->out->n == 0 ? -1 : 0;
	}
}

static const char *
xp_del_ptr(const struct xml_delete *d, size_t off)
{
	return off == XP_NONE ? NULL : (const char *)d->storage.p + off;
}

int
xml_parse_delete(const char *body, size_t len, struct xml_delete *out, enum s3_error *s3e)
{
	static const struct xp_doc doc = {xp_del_classify, xp_del_start, xp_del_end,
					  XML_DELETE_MAX_OBJECTS * 8 + 16};
	struct xp_del d = {out, NULL, 0};
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&out->storage, XML_DELETE_BODY_MAX);
	rc = xp_run(&doc, &d, body, len, XML_DELETE_BODY_MAX, s3e);
	if (rc < 0)
		goto out_free;
	out->objects = calloc(out->n, sizeof(*out->objects));
	if (!out->objects)
		abort();
	for (i = 0; i < out->n; i++) {
		out->objects[i].key = xp_del_ptr(out, d.objs[i].key);
		out->objects[i].key_len = d.objs[i].key_len;
		out->objects[i].version_id = xp_del_ptr(out, d.objs[i].version);
		out->objects[i].etag = xp_del_ptr(out, d.objs[i].etag);
	}
	free(d.objs);
	return 0;

out_free:
	free(d.objs);
	xml_delete_fini(out);
	return rc;
}

void
xml_delete_fini(struct xml_delete *d)
{
	free(d->objects);
	buf_fini(&d->storage);
	d->objects = NULL;
	d->n = 0;
	d->quiet = false;
}

/* ---- CompleteMultipartUpload ---- */

enum { C_ROOT = 1, C_PART, C_NUMBER, C_ETAG, C_CHECKSUM /* + algo */ };

struct xp_cmp {
	struct xml_complete *out;
	size_t cap;
	bool has_number, has_etag;
};

static int
xp_cmp_classify(struct xp *x, int parent, const char *name)
{
	int a;

	(void)x;
	if (parent == XP_DOC)
		return strcmp(name, "CompleteMultipartUpload") == 0 ? C_ROOT : -1;
	if (parent == C_ROOT)
		return strcmp(name, "Part") == 0 ? C_PART : XP_SKIP;
	if (parent != C_PART)
		return XP_SKIP;
	if (strcmp(name, "PartNumber") == 0)
		return C_NUMBER;
	if (strcmp(name, "ETag") == 0)
		return C_ETAG;
	for (a = CHECKSUM_CRC32; a < CHECKSUM_COUNT; a++) {
		if (strcmp(name, checksum_algo_xml((enum checksum_algo)a)) == 0)
			return C_CHECKSUM + a;
	}
	return XP_SKIP;
}

static int
xp_cmp_start(struct xp *x, int id)
{
	struct xp_cmp *c = x->ctx;

	if (id != C_PART)
		return 0;
	if (xp_grow((void **)&c->out->parts, &c->cap, c->out->n, sizeof(*c->out->parts),
		    XML_COMPLETE_MAX_PARTS) < 0)
		return -1;
	memset(&c->out->parts[c->out->n++], 0, sizeof(struct xml_part));
	c->has_number = c->has_etag = false;
	return 0;
}

/* <ETag>"abc"</ETag> (quotes optional) → etag "abc" without quotes. */
static int
xp_cmp_etag(struct xp_cmp *c, struct xml_part *p, const char *text, size_t len)
{
	text = xp_trim(text, &len);
	if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
		text++;
		len -= 2;
	}
	if (c->has_etag || len == 0 || len > XML_ETAG_MAX)
		return -1;
	memcpy(p->etag, text, len);
	p->etag[len] = 0;
	c->has_etag = true;
	return 0;
}

static int
xp_cmp_checksum(struct xml_part *p, enum checksum_algo a, const char *text, size_t len)
{
	text = xp_trim(text, &len);
	if (p->checksum_algo != CHECKSUM_NONE || len == 0 || len >= CHECKSUM_B64_SIZE)
		return -1;
	p->checksum_algo = a;
	memcpy(p->checksum, text, len);
	p->checksum[len] = 0;
	return 0;
}

static int
xp_cmp_end(struct xp *x, int id, const char *text, size_t len)
{
	struct xp_cmp *c = x->ctx;
	struct xml_part *p = c->out->n ? &c->out->parts[c->out->n - 1] : NULL;

	if (id == C_ROOT)
		return c->out->n ? 0 : -1;
	if (id == C_PART)
		return c->has_number && c->has_etag ? 0 : -1;
	if (id == C_ETAG)
		return xp_cmp_etag(c, p, text, len);
	if (id == C_NUMBER) {
		if (c->has_number)
			return -1;
		if (!xp_uint(text, len, 1, XML_COMPLETE_MAX_PARTS, &p->part_number))
			return xp_fail(x, CAIRN_E_INVAL, S3E_INVALID_ARGUMENT);
		c->has_number = true;
		return 0;
	}
	return xp_cmp_checksum(p, (enum checksum_algo)(id - C_CHECKSUM), text, len);
}

int
xml_parse_complete(const char *body, size_t len, struct xml_complete *out, enum s3_error *s3e)
{
	static const struct xp_doc doc = {xp_cmp_classify, xp_cmp_start, xp_cmp_end,
					  XML_COMPLETE_MAX_PARTS * 12 + 16};
	struct xp_cmp c = {out, 0, false, false};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = xp_run(&doc, &c, body, len, XML_COMPLETE_BODY_MAX, s3e);
	if (rc < 0)
		xml_complete_fini(out);
	return rc;
}

void
xml_complete_fini(struct xml_complete *c)
{
	free(c->parts);
	c->parts = NULL;
	c->n = 0;
}

/* ---- CreateBucketConfiguration ---- */

enum { B_ROOT = 1, B_LOCATION };

static int
xp_bucket_classify(struct xp *x, int parent, const char *name)
{
	(void)x;
	if (parent == XP_DOC)
		return strcmp(name, "CreateBucketConfiguration") == 0 ? B_ROOT : -1;
	if (parent == B_ROOT && strcmp(name, "LocationConstraint") == 0)
		return B_LOCATION;
	return XP_SKIP;
}

static int
xp_bucket_end(struct xp *x, int id, const char *text, size_t len)
{
	char *location = x->ctx;

	if (id != B_LOCATION)
		return 0;
	text = xp_trim(text, &len);
	if (len > XML_LOCATION_MAX)
		return xp_fail(x, CAIRN_E_INVAL, S3E_INVALID_LOCATION_CONSTRAINT);
	memcpy(location, text, len);
	location[len] = 0;
	return 0;
}

static bool
xp_is_blank(const char *body, size_t len)
{
	xp_trim(body, &len);
	return len == 0;
}

int
xml_parse_create_bucket(const char *body, size_t len, char location[XML_LOCATION_MAX + 1],
			enum s3_error *s3e)
{
	static const struct xp_doc doc = {xp_bucket_classify, NULL, xp_bucket_end, 64};

	location[0] = 0;
	if (len <= XML_SMALL_BODY_MAX && xp_is_blank(body, len))
		return 0;
	return xp_run(&doc, location, body, len, XML_SMALL_BODY_MAX, s3e);
}

/* ---- VersioningConfiguration ---- */

enum { V_ROOT = 1, V_STATUS };

static int
xp_ver_classify(struct xp *x, int parent, const char *name)
{
	(void)x;
	if (parent == XP_DOC)
		return strcmp(name, "VersioningConfiguration") == 0 ? V_ROOT : -1;
	if (parent == V_ROOT && strcmp(name, "Status") == 0)
		return V_STATUS;
	return XP_SKIP;
}

static int
xp_ver_end(struct xp *x, int id, const char *text, size_t len)
{
	enum xml_versioning *v = x->ctx;

	if (id != V_STATUS)
		return 0;
	if (xp_text_is(text, len, "Enabled"))
		*v = XML_VERSIONING_ENABLED;
	else if (xp_text_is(text, len, "Suspended"))
		*v = XML_VERSIONING_SUSPENDED;
	else
		return -1;
	return 0;
}

int
xml_parse_versioning(const char *body, size_t len, enum xml_versioning *out, enum s3_error *s3e)
{
	static const struct xp_doc doc = {xp_ver_classify, NULL, xp_ver_end, 64};
	int rc;

	*out = XML_VERSIONING_UNSET;
	rc = xp_run(&doc, out, body, len, XML_SMALL_BODY_MAX, s3e);
	if (rc < 0)
		*out = XML_VERSIONING_UNSET;
	return rc;
}

/* ---- Tagging ---- */

enum { T_ROOT = 1, T_SET, T_TAG, T_KEY, T_VALUE };

struct xp_tag_tmp {
	size_t key, key_len, value;
};

struct xp_tags {
	struct xml_tagging *out;
	struct xp_tag_tmp tags[XML_TAGS_MAX];
};

static int
xp_tag_classify(struct xp *x, int parent, const char *name)
{
	(void)x;
	if (parent == XP_DOC)
		return strcmp(name, "Tagging") == 0 ? T_ROOT : -1;
	if (parent == T_ROOT && strcmp(name, "TagSet") == 0)
		return T_SET;
	if (parent == T_SET)
		return strcmp(name, "Tag") == 0 ? T_TAG : XP_SKIP;
	if (parent == T_TAG && strcmp(name, "Key") == 0)
		return T_KEY;
	if (parent == T_TAG && strcmp(name, "Value") == 0)
		return T_VALUE;
	return XP_SKIP;
}

static int
xp_tag_start(struct xp *x, int id)
{
	struct xp_tags *t = x->ctx;

	if (id != T_TAG)
		return 0;
	if (t->out->n == XML_TAGS_MAX)
		return -1;
	t->tags[t->out->n++] = (struct xp_tag_tmp){XP_NONE, 0, XP_NONE};
	return 0;
}

static bool
xp_tag_key_seen(const struct xp_tags *t, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < t->out->n; i++) {
		if (t->tags[i].key_len == len &&
		    memcmp(t->out->storage.p + t->tags[i].key, key, len) == 0)
			return true;
	}
	return false;
}

static int
xp_tag_end(struct xp *x, int id, const char *text, size_t len)
{
	struct xp_tags *t = x->ctx;
	struct xp_tag_tmp *g = t->out->n ? &t->tags[t->out->n - 1] : NULL;

	if (id == T_KEY) {
		if (g->key != XP_NONE)
			return -1;
		if (len == 0 || len > XML_TAG_KEY_MAX || xp_tag_key_seen(t, text, len))
			return xp_fail(x, CAIRN_E_INVAL, S3E_INVALID_ARGUMENT);
		g->key_len = len;
		return xp_store(&t->out->storage, text, len, &g->key) < 0 ? -1 : 0;
	}
	if (id == T_VALUE) {
		if (g->value != XP_NONE)
			return -1;
		if (len > XML_TAG_VALUE_MAX)
			return xp_fail(x, CAIRN_E_INVAL, S3E_INVALID_ARGUMENT);
		return xp_store(&t->out->storage, text, len, &g->value) < 0 ? -1 : 0;
	}
	if (id == T_TAG)
		return g->key != XP_NONE && g->value != XP_NONE ? 0 : -1;
	return 0;
}

int
xml_parse_tagging(const char *body, size_t len, struct xml_tagging *out, enum s3_error *s3e)
{
	static const struct xp_doc doc = {xp_tag_classify, xp_tag_start, xp_tag_end,
					  XML_TAGS_MAX * 8 + 16};
	struct xp_tags *t = calloc(1, sizeof(*t));
	size_t i;
	int rc;

	if (!t)
		abort();
	memset(out, 0, sizeof(*out));
	buf_init(&out->storage, XML_SMALL_BODY_MAX);
	t->out = out;
	rc = xp_run(&doc, t, body, len, XML_SMALL_BODY_MAX, s3e);
	if (rc < 0)
		goto out_free;
	out->tags = calloc(out->n ? out->n : 1, sizeof(*out->tags));
	if (!out->tags)
		abort();
	for (i = 0; i < out->n; i++) {
		out->tags[i].key = (const char *)out->storage.p + t->tags[i].key;
		out->tags[i].value = (const char *)out->storage.p + t->tags[i].value;
	}
	free(t);
	return 0;

out_free:
	free(t);
	xml_tagging_fini(out);
	return rc;
}

void
xml_tagging_fini(struct xml_tagging *t)
{
	free(t->tags);
	buf_fini(&t->storage);
	t->tags = NULL;
	t->n = 0;
}
