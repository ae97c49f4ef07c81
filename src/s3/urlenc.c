#include <stdlib.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/urlenc.h"

static const char urlenc_hex[] = "0123456789ABCDEF";

static int
urlenc_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) into out, which has room for len bytes; returns the decoded length or a
 * negative error. Shared by urlenc_decode() and the query parser. */
static int
urlenc_decode_into(const char *s, size_t len, unsigned flags, char *out, size_t *out_len)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return CAIRN_E_INVAL;
			hi = urlenc_hexval(s[i + 1]);
			lo = urlenc_hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return CAIRN_E_INVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && (flags & URLENC_PLUS_SPACE)) {
			c = ' ';
		} else if (c == 0) {
			return CAIRN_E_INVAL;
		}
		out[o++] = c;
	}
	*out_len = o;
	return 0;
}

int
urlenc_decode(const char *s, size_t len, unsigned flags, struct buf *out)
{
	size_t n;
	int rc = buf_reserve(out, len);

	if (rc < 0)
		return rc;
	rc = urlenc_decode_into(s, len, flags, (char *)out->p + out->len, &n);
	if (rc < 0) {
		out->p[out->len] = 0;
		return rc;
	}
	out->len += n;
	out->p[out->len] = 0;
	return 0;
}

static bool
urlenc_is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* Encodes in runs: unreserved spans are appended whole, other bytes as %XY (or '+' for a space
 * when plus is set). */
static int
urlenc_encode_flags(const char *s, size_t len, unsigned flags, bool plus, struct buf *out)
{
	size_t i = 0;
	int rc = buf_reserve(out, 0);

	if (rc == 0)
		out->p[out->len] = 0; /* out is a C string even when nothing is appended */
	while (i < len && rc == 0) {
		size_t j = i;
		unsigned char c;

		while (j < len && (urlenc_is_unreserved((unsigned char)s[j]) ||
				   (s[j] == '/' && (flags & URLENC_KEEP_SLASH))))
			j++;
		if (j > i)
			rc = buf_append(out, s + i, j - i);
		if (j == len || rc < 0)
			break;
		c = (unsigned char)s[j];
		if (c == ' ' && plus) {
			rc = buf_append(out, "+", 1);
		} else {
			char esc[3] = {'%', urlenc_hex[c >> 4], urlenc_hex[c & 15]};

			rc = buf_append(out, esc, 3);
		}
		i = j + 1;
	}
	return rc;
}

int
urlenc_encode(const char *s, size_t len, unsigned flags, struct buf *out)
{
	return urlenc_encode_flags(s, len, flags, false, out);
}

int
urlenc_encode_s3list(const char *s, size_t len, struct buf *out)
{
	return urlenc_encode_flags(s, len, URLENC_KEEP_SLASH, true, out);
}

static size_t
urlenc_count_params(const char *qs, size_t len)
{
	size_t i, n = 0;
	bool in_param = false;

	for (i = 0; i < len; i++) {
		if (qs[i] == '&') {
			in_param = false;
		} else if (!in_param) {
			in_param = true;
			n++;
		}
	}
	return n;
}

/* Decodes one "name[=value]" segment into storage at *pos and records it in *kv. */
static int
urlenc_query_segment(const char *seg, size_t len, char *storage, size_t *pos, struct kvpair *kv)
{
	const char *eq = memchr(seg, '=', len);
	size_t name_len = eq ? (size_t)(eq - seg) : len;
	size_t n;
	int rc;

	if (name_len == 0)
		return CAIRN_E_INVAL;
	rc = urlenc_decode_into(seg, name_len, URLENC_PLUS_SPACE, storage + *pos, &n);
	if (rc < 0)
		return rc;
	kv->name = storage + *pos;
	kv->name_len = n;
	*pos += n;
	storage[(*pos)++] = 0;
	n = 0;
	if (eq) {
		rc = urlenc_decode_into(eq + 1, len - name_len - 1, URLENC_PLUS_SPACE,
					storage + *pos, &n);
		if (rc < 0)
			return rc;
	}
	kv->value = storage + *pos;
	kv->value_len = n;
	*pos += n;
	storage[(*pos)++] = 0;
	return 0;
}

int
urlenc_query_parse(const char *qs, size_t len, struct urlenc_query *q)
{
	size_t n, i = 0, pos = 0;
	int rc = 0;

	q->v = NULL;
	q->n = 0;
	q->storage = NULL;
	if (len > URLENC_QUERY_MAX_LEN)
		return CAIRN_E_TOOBIG;
	n = urlenc_count_params(qs, len);
	if (n > URLENC_QUERY_MAX_PARAMS)
		return CAIRN_E_TOOBIG;
	if (n == 0)
		return 0;
	q->v = calloc(n, sizeof(*q->v));
	/* Decoded bytes never exceed the raw length; each pair adds two NULs. */
	q->storage = malloc(len + 2 * n);
	if (!q->v || !q->storage)
		abort();
	while (i < len) {
		const char *amp = memchr(qs + i, '&', len - i);
		size_t seg_len = amp ? (size_t)(amp - (qs + i)) : len - i;

		if (seg_len > 0) {
			rc = urlenc_query_segment(qs + i, seg_len, q->storage, &pos, &q->v[q->n]);
			if (rc < 0)
				goto out_free;
			q->n++;
		}
		i += seg_len + 1;
	}
	return 0;

out_free:
	urlenc_query_fini(q);
	return rc;
}

void
urlenc_query_fini(struct urlenc_query *q)
{
	free(q->v);
	free(q->storage);
	q->v = NULL;
	q->storage = NULL;
	q->n = 0;
}

const struct kvpair *
urlenc_query_find(const struct urlenc_query *q, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < q->n; i++) {
		if (q->v[i].name_len == len && memcmp(q->v[i].name, name, len) == 0)
			return &q->v[i];
	}
	return NULL;
}
