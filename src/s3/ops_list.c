#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/base64.h"
#include "cairn/err.h"
#include "cairn/httpdate.h"
#include "cairn/ops.h"
#include "cairn/urlenc.h"
#include "cairn/xml.h"

#define OPS_LIST_MAX_KEYS 1000
#define OPS_LIST_ARG_MAX 1024 /* bytes of prefix, delimiter, marker, start-after */
#define OPS_LIST_FRAGMENT_MAX (12u << 20)

/* One listing request's parameters and what it has gathered so far. */
struct ops_list {
	bool v2, url, owner;
	const char *prefix, *delimiter; /* "" when absent */
	const char *start;		/* exclusive lower bound (marker / start-after / token) */
	struct buf token;		/* decoded continuation token */
	unsigned max_keys;
	struct index_bucket bucket;
	unsigned count;
	bool truncated;
	struct buf last;     /* the last key or common prefix returned */
	struct buf contents; /* <Contents> elements */
	struct buf prefixes; /* <CommonPrefixes> elements */
	struct buf tmp;
};

static bool
ops_list_has_prefix(struct slice key, const char *prefix)
{
	size_t n = strlen(prefix);

	return key.len >= n && memcmp(key.p, prefix, n) == 0;
}

/* Length of the common prefix of key (through the first delimiter after the prefix), or 0. */
static size_t
ops_list_common_len(const struct ops_list *ls, struct slice key)
{
	size_t plen = strlen(ls->prefix), dlen = strlen(ls->delimiter), i;

	if (dlen == 0 || key.len < plen + dlen)
		return 0;
	for (i = plen; i + dlen <= key.len; i++)
		if (memcmp(key.p + i, ls->delimiter, dlen) == 0)
			return i + dlen;
	return 0;
}

/* Turns s into the smallest byte string greater than every string starting with s. Returns
 * false when there is none (s is all 0xff). */
static bool
ops_list_successor(struct buf *s)
{
	while (s->len) {
		if (s->p[s->len - 1] != 0xff) {
			s->p[s->len - 1]++;
			return true;
		}
		s->len--;
	}
	return false;
}

/* Appends <name>value</name> with value escaped (URL-encoded first with encoding-type=url).
 * The URL form is AWS URI-encoding with '/' kept, so a space is "%20" (as the s3-tests suite
 * expects of S3) and '+' is "%2B"; clients decode with unquote_plus either way. */
static int
ops_list_elem(struct ops_list *ls, struct buf *out, const char *name, struct slice v)
{
	int rc = buf_printf(out, "<%s>", name);

	if (rc == 0 && ls->url) {
		buf_reset(&ls->tmp);
		rc = urlenc_encode((const char *)v.p, v.len, URLENC_KEEP_SLASH, &ls->tmp);
		v = buf_slice(&ls->tmp);
	}
	if (rc == 0)
		rc = xml_escape(out, (const char *)v.p, v.len);
	if (rc == 0)
		rc = buf_printf(out, "</%s>", name);
	return rc;
}

static int
ops_list_owner(struct ops_list *ls, struct buf *o)
{
	const char *owner = ls->bucket.owner;
	int rc = buf_append_str(o, "<Owner><ID>");

	if (rc == 0)
		rc = xml_escape(o, owner, strlen(owner));
	if (rc == 0)
		rc = buf_append_str(o, "</ID><DisplayName>");
	if (rc == 0)
		rc = xml_escape(o, owner, strlen(owner));
	return rc ? rc : buf_append_str(o, "</DisplayName></Owner>");
}

static int
ops_list_add_content(struct ops_list *ls, struct slice key, const struct store_object_info *info)
{
	struct buf *o = &ls->contents;
	char date[25];
	int rc;

	if (httpdate_format_iso8601(info->mtime_ns / 1000000000, date) < 0)
		date[0] = 0;
	rc = buf_append_str(o, "<Contents>");
	if (rc == 0)
		rc = ops_list_elem(ls, o, "Key", key);
	if (rc == 0)
		rc = buf_printf(o, "<LastModified>%s</LastModified><ETag>", date);
	if (rc == 0)
		rc = xml_escape(o, info->etag, strlen(info->etag));
	if (rc == 0)
		rc = buf_printf(o, "</ETag><Size>%llu</Size>", (unsigned long long)info->size);
	if (rc == 0 && ls->owner)
		rc = ops_list_owner(ls, o);
	if (rc == 0)
		rc = buf_append_str(o, "<StorageClass>STANDARD</StorageClass></Contents>");
	buf_reset(&ls->last);
	return rc ? rc : buf_append(&ls->last, key.p, key.len);
}

static int
ops_list_add_prefix(struct ops_list *ls, struct slice cp)
{
	int rc = buf_append_str(&ls->prefixes, "<CommonPrefixes>");

	if (rc == 0)
		rc = ops_list_elem(ls, &ls->prefixes, "Prefix", cp);
	if (rc == 0)
		rc = buf_append_str(&ls->prefixes, "</CommonPrefixes>");
	buf_reset(&ls->last);
	return rc ? rc : buf_append(&ls->last, cp.p, cp.len);
}

/* Where the scan starts: the larger of prefix and start. When start lies inside a common prefix
 * (which was therefore already returned), the scan skips that whole prefix; otherwise a key equal
 * to start is skipped (*skip_equal). Returns 0 or CAIRN_E_NOTFOUND when nothing can follow. */
static int
ops_list_from(const struct ops_list *ls, struct buf *from, bool *skip_equal)
{
	struct slice s = {(const uint8_t *)ls->start, strlen(ls->start)};
	size_t cplen;

	*skip_equal = false;
	buf_reset(from);
	if (s.len == 0 || strcmp(ls->start, ls->prefix) < 0)
		return buf_append_str(from, ls->prefix);
	buf_append(from, s.p, s.len);
	cplen = ops_list_has_prefix(s, ls->prefix) ? ops_list_common_len(ls, s) : 0;
	if (cplen == 0) {
		*skip_equal = true;
		return 0;
	}
	from->len = cplen;
	return ops_list_successor(from) ? 0 : CAIRN_E_NOTFOUND;
}

static bool
ops_list_is_start(const struct ops_list *ls, struct slice key)
{
	return key.len == strlen(ls->start) && memcmp(key.p, ls->start, key.len) == 0;
}

/* Walks the bucket from the start position, gathering up to max_keys keys and common prefixes;
 * a whole common prefix is skipped with one seek past it. */
static int
ops_list_scan(struct ops_list *ls, struct store_list *l)
{
	struct store_object_info info;
	struct slice key;
	struct buf from;
	bool skip_equal;
	int rc;

	buf_init(&from, 2 * OPS_LIST_ARG_MAX + 8);
	rc = ops_list_from(ls, &from, &skip_equal);
	if (rc == 0)
		rc = store_list_seek(l, buf_slice(&from), &key, &info);
	while (rc == 0 && ops_list_has_prefix(key, ls->prefix)) {
		size_t cplen;

		if (skip_equal && ops_list_is_start(ls, key)) {
			skip_equal = false;
			rc = store_list_next(l, &key, &info);
			continue;
		}
		skip_equal = false;
		if (ls->count == ls->max_keys) {
			ls->truncated = ls->count > 0;
			break;
		}
		ls->count++;
		cplen = ops_list_common_len(ls, key);
		if (cplen == 0) {
			rc = ops_list_add_content(ls, key, &info);
			if (rc == 0)
				rc = store_list_next(l, &key, &info);
			continue;
		}
		key.len = cplen;
		rc = ops_list_add_prefix(ls, key);
		buf_reset(&from);
		if (rc == 0)
			rc = buf_append(&from, ls->last.p, ls->last.len);
		if (rc == 0 && !ops_list_successor(&from))
			rc = CAIRN_E_NOTFOUND;
		if (rc == 0)
			rc = store_list_seek(l, buf_slice(&from), &key, &info);
	}
	buf_fini(&from);
	return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

static int
ops_list_arg(struct server_req *r, const char *name, const char **out)
{
	const char *v = s3req_param(&r->s3, name);

	*out = v ? v : "";
	if (strlen(*out) > OPS_LIST_ARG_MAX)
		return server_req_fail(r, S3E_INVALID_ARGUMENT, "Argument too long");
	return 0;
}

static int
ops_list_token(struct server_req *r, struct ops_list *ls, const char *tok)
{
	size_t n = strlen(tok), got;

	if (n > BASE64_ENCODED_LEN(OPS_LIST_ARG_MAX) || buf_reserve(&ls->token, n) < 0 ||
	    base64_decode(tok, n, ls->token.p, n, &got) < 0 || got == 0 ||
	    memchr(ls->token.p, 0, got))
		return server_req_fail(r, S3E_INVALID_ARGUMENT,
				       "The continuation token provided is incorrect");
	ls->token.len = got;
	ls->token.p[got] = 0;
	ls->start = (const char *)ls->token.p;
	return 0;
}

static int
ops_list_params(struct server_req *r, struct ops_list *ls)
{
	const char *mk = s3req_param(&r->s3, "max-keys");
	const char *enc = s3req_param(&r->s3, "encoding-type");
	const char *tok = s3req_param(&r->s3, "continuation-token");
	const char *fo = s3req_param(&r->s3, "fetch-owner");
	unsigned long n = OPS_LIST_MAX_KEYS;
	char *end;

	if (ops_list_arg(r, "prefix", &ls->prefix) ||
	    ops_list_arg(r, "delimiter", &ls->delimiter) ||
	    ops_list_arg(r, ls->v2 ? "start-after" : "marker", &ls->start))
		return 1;
	if (mk) {
		errno = 0;
		n = strtoul(mk, &end, 10);
		if (*mk < '0' || *mk > '9' || errno || *end)
			return server_req_fail(r, S3E_INVALID_ARGUMENT, "Invalid max-keys");
	}
	ls->max_keys = n > OPS_LIST_MAX_KEYS ? OPS_LIST_MAX_KEYS : (unsigned)n;
	if (enc && strcmp(enc, "url") != 0)
		return server_req_fail(r, S3E_INVALID_ARGUMENT,
				       "Invalid Encoding Method specified in Request");
	ls->url = enc != NULL;
	ls->owner = !ls->v2 || (fo && strcmp(fo, "true") == 0);
	if (ls->v2 && tok)
		return ops_list_token(r, ls, tok);
	return 0;
}

/* <name>value</name> for a request echo (prefix, delimiter, marker), URL-encoded when asked. */
static void
ops_list_echo(struct ops_list *ls, struct xml_writer *w, const char *name, const char *v)
{
	if (!ls->url) {
		xml_elem(w, name, v);
		return;
	}
	buf_reset(&ls->tmp);
	if (urlenc_encode(v, strlen(v), URLENC_KEEP_SLASH, &ls->tmp) < 0)
		buf_reset(&ls->tmp);
	xml_elem_n(w, name, (const char *)ls->tmp.p, ls->tmp.len);
}

static void
ops_list_render_head(struct server_req *r, struct ops_list *ls, struct xml_writer *w)
{
	const char *tok = s3req_param(&r->s3, "continuation-token");
	char next[BASE64_ENCODED_LEN(OPS_LIST_ARG_MAX) + 1];

	xml_elem(w, "Name", r->s3.bucket);
	ops_list_echo(ls, w, "Prefix", ls->prefix);
	if (!ls->v2)
		ops_list_echo(ls, w, "Marker", ls->start);
	if (ls->v2)
		xml_elem_u64(w, "KeyCount", ls->count);
	xml_elem_u64(w, "MaxKeys", ls->max_keys);
	if (ls->delimiter[0])
		ops_list_echo(ls, w, "Delimiter", ls->delimiter);
	if (ls->url)
		xml_elem(w, "EncodingType", "url");
	xml_elem_bool(w, "IsTruncated", ls->truncated);
	if (ls->v2 && tok)
		xml_elem(w, "ContinuationToken", tok);
	if (ls->v2 && s3req_param(&r->s3, "start-after"))
		ops_list_echo(ls, w, "StartAfter", s3req_param(&r->s3, "start-after"));
	if (!ls->truncated)
		return;
	if (ls->v2) {
		base64_encode(ls->last.p, ls->last.len, next);
		xml_elem(w, "NextContinuationToken", next);
	} else {
		/* NextMarker may be a common prefix, which never has a NUL. */
		ops_list_echo(ls, w, "NextMarker", (const char *)ls->last.p);
	}
}

static void
ops_list_render(struct server_req *r, struct ops_list *ls)
{
	struct buf *body = server_req_xml(r, 200);
	struct xml_writer w;
	int rc;

	xml_writer_init(&w, body);
	xml_open_ns(&w, "ListBucketResult");
	ops_list_render_head(r, ls, &w);
	/* The item fragments were escaped as they were built. */
	buf_append(body, ls->contents.p, ls->contents.len);
	buf_append(body, ls->prefixes.p, ls->prefixes.len);
	xml_close(&w);
	rc = xml_writer_finish(&w);
	if (rc < 0)
		server_req_fail_rc(r, rc);
}

void
ops_list_objects(struct server_req *r, bool v2)
{
	struct store_list *l;
	struct ops_list ls;
	int rc;

	memset(&ls, 0, sizeof(ls));
	ls.v2 = v2;
	buf_init(&ls.token, BASE64_ENCODED_LEN(OPS_LIST_ARG_MAX) + 4);
	buf_init(&ls.last, 2 * OPS_LIST_ARG_MAX);
	buf_init(&ls.contents, OPS_LIST_FRAGMENT_MAX);
	buf_init(&ls.prefixes, OPS_LIST_FRAGMENT_MAX);
	buf_init(&ls.tmp, 4 * OPS_LIST_ARG_MAX);
	if (ops_bucket_access(r, r->s3.bucket, &ls.bucket) < 0 || ops_list_params(r, &ls) != 0)
		goto out_free;
	rc = store_list_open(r->srv->st, r->s3.bucket, &l);
	if (rc == 0) {
		rc = ops_list_scan(&ls, l);
		store_list_close(l);
	}
	if (rc == CAIRN_E_NOTFOUND)
		server_req_fail(r, S3E_NO_SUCH_BUCKET, NULL);
	else if (rc < 0)
		server_req_fail_rc(r, rc);
	else
		ops_list_render(r, &ls);
out_free:
	buf_fini(&ls.tmp);
	buf_fini(&ls.prefixes);
	buf_fini(&ls.contents);
	buf_fini(&ls.last);
	buf_fini(&ls.token);
}
