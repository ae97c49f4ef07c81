/*
 * store_meta.c — the object metadata blob: a sequence of (u16 name length, name, u32 value
 * length, value), integers little-endian. Parsing is bounded by the blob: a length that runs past
 * the end makes the blob malformed, never a read past it.
 */
#include <string.h>

#include "cairn/err.h"
#include "cairn/store.h"

static void
store_meta_le(uint8_t *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
store_meta_get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int
store_meta_add(struct buf *b, const char *name, struct slice value)
{
	size_t nlen = strlen(name);
	size_t old = b->len;
	uint8_t hdr[4];
	int rc;

	if (nlen > UINT16_MAX || value.len > UINT32_MAX)
		return CAIRN_E_TOOBIG;
	rc = buf_reserve(b, 2 + nlen + 4 + value.len);
	if (rc < 0)
		return rc;
	store_meta_le(hdr, nlen, 2);
	buf_append(b, hdr, 2);
	buf_append(b, name, nlen);
	store_meta_le(hdr, value.len, 4);
	buf_append(b, hdr, 4);
	rc = buf_append(b, value.p, value.len);
	if (rc < 0)
		b->len = old; /* unreachable after the reserve; keeps the blob whole regardless */
	return rc;
}

int
store_meta_next(struct slice meta, size_t *pos, struct slice *name, struct slice *value)
{
	size_t p = *pos, left;
	uint64_t n;

	if (p >= meta.len)
		return 0;
	left = meta.len - p;
	if (left < 2)
		return CAIRN_E_CORRUPT;
	n = store_meta_get_le(meta.p + p, 2);
	p += 2;
	left -= 2;
	if (n > left || left - n < 4)
		return CAIRN_E_CORRUPT;
	name->p = meta.p + p;
	name->len = n;
	p += n;
	left -= n;
	n = store_meta_get_le(meta.p + p, 4);
	p += 4;
	left -= 4;
	if (n > left)
		return CAIRN_E_CORRUPT;
	value->p = meta.p + p;
	value->len = n;
	*pos = p + n;
	return 1;
}

int
store_meta_find(struct slice meta, const char *name, struct slice *value)
{
	size_t pos = 0, nlen = strlen(name);
	struct slice n, v;

	while (store_meta_next(meta, &pos, &n, &v) == 1) {
		if (n.len == nlen && memcmp(n.p, name, nlen) == 0) {
			*value = v;
			return 1;
		}
	}
	return 0;
}
