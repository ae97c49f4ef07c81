/*
 * test_upload.c — multipart uploads in the engine (store_upload.h) over real temp data dirs:
 * parts out of order and replaced, completion (stitching, ETag, part boundaries, unlisted parts
 * released), every completion error, abort restoring the statistics, completion replacing an
 * object a reader still streams, UploadPartCopy (whole chunks referenced, edges re-chunked),
 * ListParts and ListMultipartUploads paging, the sweep, concurrent part commits, fsck at every
 * stage, and the index's upload tables.
 *
 * Small chunking parameters (min 64 / avg 256 / max 1024) give many chunks and several pages per
 * part from little data, so everything stays fast.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "cairn/err.h"
#include "cairn/hex.h"
#include "cairn/index.h"
#include "cairn/store.h"
#include "cairn/store_upload.h"

#include "store_fixture.h"

/* ---- helpers ---- */

static void
md5_of(const uint8_t *p, size_t len, uint8_t out[16])
{
	unsigned int n = 0;

	assert_true(EVP_Digest(p, len, out, &n, EVP_md5(), NULL));
}

static const struct slice no_meta = {NULL, 0};

static int
fx_setup(void **state)
{
	struct store_fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cairn-test-upload-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	store_config_default(&fx->cfg);
	fx->cfg.data_dir = fx->dir;
	fx->cfg.chunking.min_size = 64;
	fx->cfg.chunking.avg_size = 256;
	fx->cfg.chunking.max_size = 1024;
	fx->cfg.pack_max_bytes = 1 << 20;
	fx->cfg.zstd_level = 1;
	if (store_open(&fx->cfg, &fx->st) != 0)
		return -1;
	if (store_bucket_create(fx->st, "b", "root", "", NULL) != 0)
		return -1;
	*state = fx;
	return 0;
}

static struct store_stats
stats(struct store *st)
{
	struct store_stats s;

	assert_int_equal(store_stats(st, &s), 0);
	return s;
}

static char *
create(struct store *st, const char *key, char id[STORE_UPLOAD_ID_LEN + 1])
{
	assert_int_equal(store_upload_create(st, "b", S(key), "root", NULL, id), 0);
	assert_int_equal(strlen(id), STORE_UPLOAD_ID_LEN);
	return id;
}

/* Streams data as part number (in pieces of 1000 bytes). */
static int
put_part(struct store *st, const char *key, const char *id, uint32_t number, const uint8_t *data,
	 size_t len, struct store_part *out)
{
	struct store_put *put;
	size_t off, n;
	int rc;

	assert_int_equal(store_put_begin(st, &put), 0);
	for (off = 0; off < len; off += n) {
		n = len - off < 1000 ? len - off : 1000;
		assert_int_equal(store_put_write(put, data + off, n), 0);
	}
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	rc = store_upload_part_commit(put, "b", S(key), id, number, (const uint8_t *)"ck", 2, out);
	if (rc == 0) {
		assert_int_equal(out->size, len);
		assert_int_equal(out->number, number);
	}
	return rc;
}

static uint8_t *
read_all(struct store *st, const char *key, size_t *len, struct store_object_info *info)
{
	struct store_get *g;
	uint8_t *p;
	size_t n;

	assert_int_equal(store_get_open(st, "b", S(key), &g), 0);
	*info = *store_get_info(g);
	info->meta = no_meta; /* lives only as long as g */
	p = malloc(info->size + 1);
	assert_non_null(p);
	assert_int_equal(store_get_read(g, p, info->size + 1, &n), 0);
	assert_int_equal(n, info->size);
	store_get_close(g);
	*len = n;
	return p;
}

static void
cpart(struct store_complete_part *c, const struct store_part *p)
{
	c->number = p->number;
	c->size = p->size;
	memcpy(c->md5, p->md5, 16);
}

/* ---- tests ---- */

/* Parts out of order, one replaced, one not listed; complete; bytes, ETag, parts, meta. */
static void
test_roundtrip(void **state)
{
	struct store_fx *fx = *state;
	size_t lens[4] = {300000, 40000, 12345, 777}, len, off, i;
	struct store_part parts[5], again;
	struct store_complete_part cp[3];
	struct store_object_info info;
	struct store_stats s;
	uint8_t *data[4], *got, md5s[48], want[16];
	uint64_t start, plen;
	uint32_t count;
	struct buf meta;
	struct slice v;
	char id[STORE_UPLOAD_ID_LEN + 1], etag[64], hex[33];

	for (i = 0; i < 4; i++)
		data[i] = gen_data(10 + i, lens[i]);
	create(fx->st, "obj", id);
	/* 3 first, then 1, a wrong 2, an unlisted 4, then 2 again. */
	assert_int_equal(put_part(fx->st, "obj", id, 3, data[2], lens[2], &parts[2]), 0);
	assert_int_equal(put_part(fx->st, "obj", id, 1, data[0], lens[0], &parts[0]), 0);
	assert_int_equal(put_part(fx->st, "obj", id, 2, data[3], lens[3], &again), 0);
	assert_int_equal(put_part(fx->st, "obj", id, 4, data[3], lens[3], &parts[3]), 0);
	store_fx_assert_fsck_clean(fx->st);
	assert_int_equal(put_part(fx->st, "obj", id, 2, data[1], lens[1], &parts[1]), 0);
	store_fx_assert_fsck_clean(fx->st);
	s = stats(fx->st);
	assert_int_equal(s.objects, 0);
	assert_true(s.chunk_refs > 0);
	for (i = 0; i < 3; i++)
		cpart(&cp[i], &parts[i]);
	buf_init(&meta, 4096);
	assert_int_equal(store_meta_add(&meta, "Content-Type", S("text/x")), 0);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("obj"), id, cp, 3, buf_slice(&meta), NULL, &info),
	    0);
	/* ETag: MD5 of the binary part MD5s, "-3". */
	for (i = 0; i < 3; i++)
		memcpy(md5s + 16 * i, parts[i].md5, 16);
	md5_of(md5s, 48, want);
	hex_encode(want, 16, hex);
	snprintf(etag, sizeof(etag), "\"%s-3\"", hex);
	assert_string_equal(info.etag, etag);
	assert_int_equal(info.parts, 3);
	got = read_all(fx->st, "obj", &len, &info);
	assert_int_equal(len, lens[0] + lens[1] + lens[2]);
	for (off = 0, i = 0; i < 3; off += lens[i], i++)
		assert_memory_equal(got + off, data[i], lens[i]);
	free(got);
	assert_string_equal(info.etag, etag);
	/* Part boundaries from the metadata; Content-Type kept. */
	assert_int_equal(store_stat(fx->st, "b", S("obj"), &info, &meta), 0);
	assert_int_equal(store_meta_find(info.meta, "Content-Type", &v), 1);
	assert_int_equal(store_meta_part_range(info.meta, 2, &start, &plen, &count), 0);
	assert_int_equal(start, lens[0]);
	assert_int_equal(plen, lens[1]);
	assert_int_equal(count, 3);
	assert_int_equal(store_meta_part_range(info.meta, 4, &start, &plen, &count), CAIRN_E_INVAL);
	buf_reset(&meta);
	assert_int_equal(store_meta_part_range(buf_slice(&meta), 1, &start, &plen, &count),
			 CAIRN_E_NOTFOUND);
	/* The upload is gone; part 4 was released: references = the object's chunks. */
	assert_int_equal(
	    store_upload_get(fx->st, "b", id, no_meta, &(struct store_upload_info){0}, NULL, NULL),
	    CAIRN_E_NOTFOUND);
	s = stats(fx->st);
	assert_int_equal(s.objects, 1);
	store_fx_assert_fsck_clean(fx->st);
	assert_int_equal(store_delete(fx->st, "b", S("obj")), 0);
	s = stats(fx->st);
	assert_int_equal(s.chunk_refs, 0);
	store_fx_assert_fsck_clean(fx->st);
	buf_fini(&meta);
	for (i = 0; i < 4; i++)
		free(data[i]);
}

/* Abort gives back every reference: the statistics are as before, but for dead bytes. */
static void
test_abort_restores_stats(void **state)
{
	struct store_fx *fx = *state;
	struct store_stats before, during, after;
	struct store_object_info info;
	struct store_part p;
	struct store_put *put;
	uint8_t *a = gen_data(1, 200000), *b = gen_data(2, 50000);
	char id[STORE_UPLOAD_ID_LEN + 1];

	/* An object sharing the bytes of part 1, so the upload also takes shared references. */
	assert_int_equal(store_put_begin(fx->st, &put), 0);
	assert_int_equal(store_put_write(put, a, 200000), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	assert_int_equal(store_put_commit(put, "b", S("shared"), no_meta, NULL, &info), 0);
	before = stats(fx->st);
	create(fx->st, "k", id);
	assert_int_equal(put_part(fx->st, "k", id, 1, a, 200000, &p), 0);
	assert_int_equal(put_part(fx->st, "k", id, 2, b, 50000, &p), 0);
	assert_int_equal(put_part(fx->st, "k", id, 2, a, 1000, &p), 0);
	during = stats(fx->st);
	assert_true(during.chunk_refs > before.chunk_refs);
	store_fx_assert_fsck_clean(fx->st);
	assert_int_equal(store_upload_abort(fx->st, "b", id), 0);
	assert_int_equal(store_upload_abort(fx->st, "b", id), CAIRN_E_NOTFOUND);
	after = stats(fx->st);
	assert_int_equal(after.objects, before.objects);
	assert_int_equal(after.logical_bytes, before.logical_bytes);
	assert_int_equal(after.chunk_refs, before.chunk_refs);
	assert_int_equal(after.raw_bytes, before.raw_bytes);
	assert_int_equal(after.stored_bytes, before.stored_bytes);
	assert_true(after.dead_bytes > before.dead_bytes);
	store_fx_assert_fsck_clean(fx->st);
	/* A part committed after the abort fails. */
	assert_int_equal(put_part(fx->st, "k", id, 3, b, 100, &p), CAIRN_E_NOTFOUND);
	free(a);
	free(b);
}

/* Every error of completion, and the upload still usable after each. */
static void
test_complete_errors(void **state)
{
	struct store_fx *fx = *state;
	struct store_part p1, p2;
	struct store_complete_part cp[2];
	struct store_object_info info;
	uint8_t *d = gen_data(3, 5000);
	char id[STORE_UPLOAD_ID_LEN + 1], other[STORE_UPLOAD_ID_LEN + 1];
	struct buf meta;

	create(fx->st, "e", id);
	assert_int_equal(put_part(fx->st, "e", id, 1, d, 3000, &p1), 0);
	assert_int_equal(put_part(fx->st, "e", id, 2, d + 3000, 2000, &p2), 0);
	cpart(&cp[0], &p1);
	cpart(&cp[1], &p2);
	/* Not ascending, none, too many. */
	{
		struct store_complete_part *many = calloc(STORE_PARTS_MAX + 1, sizeof(*many));

		assert_non_null(many);
		assert_int_equal(store_upload_complete(fx->st, "b", S("e"), id, many,
						       STORE_PARTS_MAX + 1, no_meta, NULL, &info),
				 CAIRN_E_INVAL);
		free(many);
	}
	cp[1].number = 1;
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), id, cp, 2, no_meta, NULL, &info),
	    CAIRN_E_INVAL);
	cp[1].number = 2;
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), id, cp, 0, no_meta, NULL, &info),
	    CAIRN_E_INVAL);
	/* A part that is not there, a wrong MD5, a wrong size. */
	cp[1].number = 3;
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), id, cp, 2, no_meta, NULL, &info),
	    CAIRN_E_BADDIGEST);
	cp[1].number = 2;
	cp[1].md5[0] ^= 1;
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), id, cp, 2, no_meta, NULL, &info),
	    CAIRN_E_BADDIGEST);
	cp[1].md5[0] ^= 1;
	cp[1].size++;
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), id, cp, 2, no_meta, NULL, &info),
	    CAIRN_E_BADDIGEST);
	cp[1].size--;
	/* Unknown id, malformed id, another key, another bucket. */
	create(fx->st, "other", other);
	assert_int_equal(store_upload_abort(fx->st, "b", other), 0);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), other, cp, 2, no_meta, NULL, &info),
	    CAIRN_E_NOTFOUND);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), "xyz", cp, 2, no_meta, NULL, &info),
	    CAIRN_E_NOTFOUND);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("f"), id, cp, 2, no_meta, NULL, &info),
	    CAIRN_E_NOTFOUND);
	assert_int_equal(
	    store_upload_complete(fx->st, "nob", S("e"), id, cp, 2, no_meta, NULL, &info),
	    CAIRN_E_NOTFOUND);
	/* Metadata may not carry the store's own names. */
	buf_init(&meta, 1024);
	assert_int_equal(store_meta_add(&meta, STORE_META_PARTS, S("1*1")), 0);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), id, cp, 2, buf_slice(&meta), NULL, &info),
	    CAIRN_E_INVAL);
	buf_fini(&meta);
	/* A precondition: If-Match on a key with no object is CAIRN_E_NOKEY (S3's NoSuchKey). */
	assert_int_equal(store_upload_complete(fx->st, "b", S("e"), id, cp, 2, no_meta,
					       &(struct store_put_cond){false, "\"nope\""}, &info),
			 CAIRN_E_NOKEY);
	store_fx_assert_fsck_clean(fx->st);
	/* Only part 2 (part 1 released), then the id is used up. */
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), id, cp + 1, 1, no_meta, NULL, &info), 0);
	assert_int_equal(info.size, 2000);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("e"), id, cp + 1, 1, no_meta, NULL, &info),
	    CAIRN_E_NOTFOUND);
	store_fx_assert_fsck_clean(fx->st);
	free(d);
}

/* Completing over an object a reader streams: the reader keeps the old bytes to the end. */
static void
test_complete_replaces_read_object(void **state)
{
	struct store_fx *fx = *state;
	struct store_complete_part cp;
	struct store_object_info info;
	struct store_part p;
	struct store_put *put;
	struct store_get *g;
	uint8_t *old = gen_data(5, 80000), *neu = gen_data(6, 30000), *buf = malloc(80000);
	char id[STORE_UPLOAD_ID_LEN + 1];
	size_t n;

	assert_non_null(buf);
	assert_int_equal(store_put_begin(fx->st, &put), 0);
	assert_int_equal(store_put_write(put, old, 80000), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	assert_int_equal(store_put_commit(put, "b", S("r"), no_meta, NULL, &info), 0);
	assert_int_equal(store_get_open(fx->st, "b", S("r"), &g), 0);
	assert_int_equal(store_get_read(g, buf, 1000, &n), 0);
	create(fx->st, "r", id);
	assert_int_equal(put_part(fx->st, "r", id, 7, neu, 30000, &p), 0);
	cpart(&cp, &p);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("r"), id, &cp, 1, no_meta, NULL, &info), 0);
	assert_int_equal(store_get_read(g, buf + 1000, 79000, &n), 0);
	assert_int_equal(n, 79000);
	assert_memory_equal(buf, old, 80000);
	store_fx_assert_fsck_clean(fx->st);
	store_get_close(g);
	store_fx_assert_fsck_clean(fx->st);
	free(buf);
	buf = read_all(fx->st, "r", &n, &info);
	assert_int_equal(n, 30000);
	assert_memory_equal(buf, neu, 30000);
	assert_int_equal(info.parts, 1);
	free(buf);
	free(old);
	free(neu);
}

struct copy_sum {
	EVP_MD_CTX *sha;
	uint64_t bytes;
};

static void
copy_data(void *arg, const uint8_t *p, size_t len)
{
	struct copy_sum *cs = arg;

	assert_true(EVP_DigestUpdate(cs->sha, p, len));
	cs->bytes += len;
}

static size_t
copy_checksum(void *arg, uint8_t out[INDEX_PART_CHECKSUM_MAX])
{
	struct copy_sum *cs = arg;
	unsigned int n = 0;

	assert_true(EVP_DigestFinal_ex(cs->sha, out, &n));
	return n;
}

/* One UploadPartCopy of src[start, start + len) as part 1 of a new upload, completed as key;
 * checks bytes and MD5 and returns the growth of stored bytes. */
static uint64_t
copy_range(struct store_fx *fx, const uint8_t *src, bool whole, uint64_t start, uint64_t len,
	   bool with_checksum)
{
	struct store_part_copy c = {.src_bucket = "b", .src_key = S("src"), .whole = whole};
	struct copy_sum cs = {0};
	struct store_stats before = stats(fx->st), after;
	struct store_complete_part cp;
	struct store_object_info info;
	struct store_part p;
	uint8_t md5[16], sha[32], *got;
	char id[STORE_UPLOAD_ID_LEN + 1];
	size_t n;

	c.start = start;
	c.len = len;
	if (with_checksum) {
		cs.sha = EVP_MD_CTX_new();
		assert_true(EVP_DigestInit_ex(cs.sha, EVP_sha256(), NULL));
		c.data_fn = copy_data;
		c.checksum_fn = copy_checksum;
		c.arg = &cs;
	}
	create(fx->st, "dst", id);
	assert_int_equal(store_upload_part_copy(fx->st, "b", S("dst"), id, 1, &c, &p), 0);
	assert_int_equal(p.size, len);
	md5_of(src + start, len, md5);
	assert_memory_equal(p.md5, md5, 16);
	if (with_checksum) {
		assert_int_equal(cs.bytes, len);
		assert_int_equal(p.checksum_len, 32);
		assert_true(EVP_Digest(src + start, len, sha, NULL, EVP_sha256(), NULL));
		assert_memory_equal(p.checksum, sha, 32);
		EVP_MD_CTX_free(cs.sha);
	}
	store_fx_assert_fsck_clean(fx->st);
	after = stats(fx->st);
	cpart(&cp, &p);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("dst"), id, &cp, 1, no_meta, NULL, &info), 0);
	got = read_all(fx->st, "dst", &n, &info);
	assert_int_equal(n, len);
	assert_memory_equal(got, src + start, len);
	free(got);
	store_fx_assert_fsck_clean(fx->st);
	return after.stored_bytes - before.stored_bytes;
}

/* UploadPartCopy: whole chunks are referenced, only the edges are stored again. */
static void
test_part_copy(void **state)
{
	struct store_fx *fx = *state;
	size_t len = 400000;
	uint8_t *src = gen_data(7, len);
	struct store_object_info info;
	struct store_part_copy c = {.src_bucket = "b", .src_key = S("nosuch"), .whole = true};
	struct store_part p;
	struct store_put *put;
	char id[STORE_UPLOAD_ID_LEN + 1];
	uint64_t grown;

	assert_int_equal(store_put_begin(fx->st, &put), 0);
	assert_int_equal(store_put_write(put, src, len), 0);
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	assert_int_equal(store_put_commit(put, "b", S("src"), no_meta, NULL, &info), 0);
	/* The whole object: nothing new is stored (MD5 known, no read). */
	assert_int_equal(copy_range(fx, src, true, 0, len, false), 0);
	/* A range in the middle: at most two edge chunks' worth (plus their neighbours). */
	grown = copy_range(fx, src, false, 1001, 300000, false);
	assert_true(grown < 8 * 1024);
	/* Within one chunk, the last byte, the first byte, with a checksum. */
	copy_range(fx, src, false, 5000, 10, true);
	copy_range(fx, src, false, len - 1, 1, false);
	copy_range(fx, src, false, 0, 1, true);
	copy_range(fx, src, false, 123, len - 123, true);
	/* Errors: no source, range past the end, bad part number, no upload. */
	create(fx->st, "dst2", id);
	assert_int_equal(store_upload_part_copy(fx->st, "b", S("dst2"), id, 1, &c, &p),
			 CAIRN_E_NOTFOUND);
	assert_true(c.src_missing);
	c.src_key = S("src");
	c.whole = false;
	c.start = len - 10;
	c.len = 11;
	assert_int_equal(store_upload_part_copy(fx->st, "b", S("dst2"), id, 1, &c, &p),
			 CAIRN_E_INVAL);
	c.len = 10;
	assert_int_equal(store_upload_part_copy(fx->st, "b", S("dst2"), id, 0, &c, &p),
			 CAIRN_E_INVAL);
	assert_int_equal(store_upload_part_copy(fx->st, "b", S("dst3"), id, 1, &c, &p),
			 CAIRN_E_NOTFOUND);
	assert_false(c.src_missing);
	assert_int_equal(store_upload_abort(fx->st, "b", id), 0);
	store_fx_assert_fsck_clean(fx->st);
	free(src);
}

static int
collect_part(const struct store_part *p, void *arg)
{
	uint32_t **next = arg;

	*(*next)++ = p->number;
	return 0;
}

/* ListParts paging. */
static void
test_list_parts(void **state)
{
	struct store_fx *fx = *state;
	uint32_t got[16], *next;
	struct store_part p;
	bool truncated;
	char id[STORE_UPLOAD_ID_LEN + 1];
	uint32_t i;

	create(fx->st, "lp", id);
	for (i = 10; i >= 1; i--)
		assert_int_equal(put_part(fx->st, "lp", id, i, (const uint8_t *)"abc", 3, &p), 0);
	next = got;
	assert_int_equal(
	    store_upload_parts(fx->st, "b", S("lp"), id, 0, 4, collect_part, &next, &truncated), 0);
	assert_int_equal(next - got, 4);
	assert_true(truncated);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[3], 4);
	next = got;
	assert_int_equal(
	    store_upload_parts(fx->st, "b", S("lp"), id, 8, 4, collect_part, &next, &truncated), 0);
	assert_int_equal(next - got, 2);
	assert_false(truncated);
	assert_int_equal(got[0], 9);
	next = got;
	assert_int_equal(
	    store_upload_parts(fx->st, "b", S("lp"), id, 6, 4, collect_part, &next, &truncated), 0);
	assert_int_equal(next - got, 4);
	assert_false(truncated);
	assert_int_equal(
	    store_upload_parts(fx->st, "b", S("other"), id, 0, 4, collect_part, &next, &truncated),
	    CAIRN_E_NOTFOUND);
	assert_int_equal(store_upload_abort(fx->st, "b", id), 0);
	assert_int_equal(
	    store_upload_parts(fx->st, "b", S("lp"), id, 0, 4, collect_part, &next, &truncated),
	    CAIRN_E_NOTFOUND);
}

struct listed {
	char names[32][32];
	bool prefix[32];
	size_t n;
};

static int
collect_upload(const struct store_upload_entry *e, void *arg)
{
	struct listed *l = arg;

	snprintf(l->names[l->n], sizeof(l->names[0]), "%.*s", (int)e->key.len,
		 (const char *)e->key.p);
	l->prefix[l->n++] = e->is_prefix;
	return 0;
}

static void
list_uploads(struct store_fx *fx, const struct store_upload_query *q, struct listed *l,
	     bool *truncated)
{
	memset(l, 0, sizeof(*l));
	assert_int_equal(store_upload_list(fx->st, "b", q, collect_upload, l, truncated), 0);
}

/* ListMultipartUploads: key order, same-key order by age, markers, prefix, delimiter. */
static void
test_list_uploads(void **state)
{
	struct store_fx *fx = *state;
	static const char *keys[] = {"d/x", "a", "c", "a", "d/y", "b", "e/z"};
	char ids[7][STORE_UPLOAD_ID_LEN + 1];
	struct store_upload_query q = {.max = 3};
	struct listed l;
	bool tr;
	size_t i;

	for (i = 0; i < 7; i++)
		create(fx->st, keys[i], ids[i]);
	list_uploads(fx, &q, &l, &tr);
	assert_int_equal(l.n, 3);
	assert_true(tr);
	assert_string_equal(l.names[0], "a");
	assert_string_equal(l.names[1], "a");
	assert_string_equal(l.names[2], "b");
	/* Next page from ("a", the older id): the younger "a" first. */
	q.key_marker = S("a");
	q.id_marker = ids[1];
	list_uploads(fx, &q, &l, &tr);
	assert_string_equal(l.names[0], "a");
	assert_string_equal(l.names[1], "b");
	assert_string_equal(l.names[2], "c");
	q.id_marker = NULL;
	q.max = 10;
	list_uploads(fx, &q, &l, &tr);
	assert_int_equal(l.n, 5);
	assert_false(tr);
	assert_string_equal(l.names[0], "b");
	/* Delimiter: d/ and e/ roll up. */
	q.key_marker = S("");
	q.delimiter = S("/");
	list_uploads(fx, &q, &l, &tr);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.names[4], "d/");
	assert_true(l.prefix[4]);
	assert_string_equal(l.names[5], "e/");
	q.key_marker = S("d/");
	list_uploads(fx, &q, &l, &tr);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "e/");
	/* Prefix. */
	q.key_marker = S("");
	q.prefix = S("d/");
	list_uploads(fx, &q, &l, &tr);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[1], "d/y");
	assert_false(l.prefix[1]);
	q.max = 0;
	list_uploads(fx, &q, &l, &tr);
	assert_int_equal(l.n, 0);
	assert_true(tr);
	q.max = STORE_UPLOAD_LIST_MAX + 1;
	assert_int_equal(store_upload_list(fx->st, "b", &q, collect_upload, &l, &tr),
			 CAIRN_E_INVAL);
	for (i = 0; i < 7; i++)
		assert_int_equal(store_upload_abort(fx->st, "b", ids[i]), 0);
}

static int
count_upload(const struct store_upload_info *info, void *arg)
{
	(void)info;
	(*(int *)arg)++;
	return 0;
}

/* The sweep aborts what is older than the cutoff, nothing else. */
static void
test_sweep(void **state)
{
	struct store_fx *fx = *state;
	struct store_stats before = stats(fx->st), after;
	struct store_upload_worker *sw;
	char ids[70][STORE_UPLOAD_ID_LEN + 1];
	struct store_part p;
	uint64_t n = 99;
	uint8_t *d = gen_data(9, 20000);
	int count = 0, i;

	for (i = 0; i < 70; i++) /* more than one batch */
		create(fx->st, "s", ids[i]);
	assert_int_equal(put_part(fx->st, "s", ids[3], 1, d, 20000, &p), 0);
	assert_int_equal(store_upload_sweep(fx->st, 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_upload_walk(fx->st, NULL, count_upload, &count), 0);
	assert_int_equal(count, 70);
	assert_int_equal(store_upload_sweep(fx->st, INT64_MAX, &n), 0);
	assert_int_equal(n, 70);
	count = 0;
	assert_int_equal(store_upload_walk(fx->st, "b", count_upload, &count), 0);
	assert_int_equal(count, 0);
	after = stats(fx->st);
	assert_int_equal(after.chunk_refs, before.chunk_refs);
	/* The thread: a long max age leaves a fresh upload alone; start/stop are clean. */
	create(fx->st, "s", ids[0]);
	assert_int_equal(store_upload_worker_start(fx->st, 3600, 0, &sw), 0);
	store_upload_worker_stop(sw);
	assert_int_equal(store_upload_worker_start(fx->st, UINT64_MAX, 0, &sw), CAIRN_E_INVAL);
	assert_int_equal(store_upload_walk(fx->st, "b", count_upload, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_upload_abort(fx->st, "b", ids[0]), 0);
	store_fx_assert_fsck_clean(fx->st);
	free(d);
}

struct par {
	struct store *st;
	const char *id;
	uint32_t first;
	const uint8_t *data;
	size_t part_len;
};

static void *
par_main(void *arg)
{
	struct par *pa = arg;
	struct store_part p;
	uint32_t i;

	/* Each thread uploads every 4th part, twice (the second replaces the first). */
	for (i = pa->first; i <= 16; i += 4) {
		put_part(pa->st, "par", pa->id, i, pa->data + (i - 1) * pa->part_len, pa->part_len,
			 &p);
		put_part(pa->st, "par", pa->id, i, pa->data + (i - 1) * pa->part_len, pa->part_len,
			 &p);
	}
	return NULL;
}

static int
collect_cp(const struct store_part *p, void *arg)
{
	struct store_complete_part **next = arg;

	cpart((*next)++, p);
	return 0;
}

/* Parts of one upload committed by four threads at once, in any order, with replacements. */
static void
test_concurrent_parts(void **state)
{
	struct store_fx *fx = *state;
	size_t part_len = 9000, len;
	uint8_t *data = gen_data(11, 16 * part_len), *got;
	struct store_complete_part cp[16], *next = cp;
	struct store_object_info info;
	struct par pa[4];
	pthread_t th[4];
	bool tr;
	char id[STORE_UPLOAD_ID_LEN + 1];
	int i;

	create(fx->st, "par", id);
	for (i = 0; i < 4; i++) {
		pa[i] = (struct par){fx->st, id, (uint32_t)(i + 1), data, part_len};
		assert_int_equal(pthread_create(&th[i], NULL, par_main, &pa[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(
	    store_upload_parts(fx->st, "b", S("par"), id, 0, 100, collect_cp, &next, &tr), 0);
	assert_int_equal(next - cp, 16);
	store_fx_assert_fsck_clean(fx->st);
	assert_int_equal(
	    store_upload_complete(fx->st, "b", S("par"), id, cp, 16, no_meta, NULL, &info), 0);
	got = read_all(fx->st, "par", &len, &info);
	assert_int_equal(len, 16 * part_len);
	assert_memory_equal(got, data, len);
	store_fx_assert_fsck_clean(fx->st);
	free(got);
	free(data);
}

/* Create's checks, get's copies, and uploads surviving a reopen. */
static void
test_create_get(void **state)
{
	struct store_fx *fx = *state;
	struct store_upload_info set = {.checksum_algo = 3, .checksum_type = 1};
	struct store_upload_info info;
	struct buf key, meta;
	char id[STORE_UPLOAD_ID_LEN + 1], id2[STORE_UPLOAD_ID_LEN + 1];
	uint8_t big[INDEX_KEY_MAX + 1];

	buf_init(&key, INDEX_KEY_MAX);
	buf_init(&meta, 4096);
	assert_int_equal(store_meta_add(&meta, "Content-Type", S("a/b")), 0);
	set.meta = buf_slice(&meta);
	assert_int_equal(store_upload_create(fx->st, "nob", S("k"), "root", &set, id),
			 CAIRN_E_NOTFOUND);
	assert_int_equal(store_upload_create(fx->st, "b", S(""), "root", &set, id), CAIRN_E_INVAL);
	memset(big, 'x', sizeof(big));
	assert_int_equal(
	    store_upload_create(fx->st, "b", (struct slice){big, sizeof(big)}, "root", &set, id),
	    CAIRN_E_INVAL);
	assert_int_equal(store_upload_create(fx->st, "b", S("k"), "alice", &set, id), 0);
	assert_int_equal(store_upload_create(fx->st, "b", S("k"), "alice", &set, id2), 0);
	assert_true(strcmp(id, id2) < 0); /* ids sort by age */
	buf_reset(&meta);
	store_close(fx->st);
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	assert_int_equal(store_upload_get(fx->st, "b", id, S("k"), &info, &key, &meta), 0);
	assert_string_equal(info.owner, "alice");
	assert_string_equal(info.id, id);
	assert_int_equal(info.checksum_algo, 3);
	assert_int_equal(info.checksum_type, 1);
	assert_int_equal(info.key.len, 1);
	assert_int_equal(store_meta_find(info.meta, "Content-Type", &set.key), 1);
	assert_int_equal(store_upload_get(fx->st, "b", id, S("j"), &info, NULL, NULL),
			 CAIRN_E_NOTFOUND);
	assert_int_equal(store_upload_get(fx->st, "c", id, S("k"), &info, NULL, NULL),
			 CAIRN_E_NOTFOUND);
	assert_int_equal(store_upload_abort(fx->st, "b", id), 0);
	assert_int_equal(store_upload_abort(fx->st, "b", id2), 0);
	buf_fini(&key);
	buf_fini(&meta);
}

/* Part boundary text: runs, corrupt forms. */
static void
test_part_range(void **state)
{
	struct buf m;
	uint64_t s, l;
	uint32_t c;

	(void)state;
	buf_init(&m, 4096);
	assert_int_equal(store_meta_add(&m, STORE_META_PARTS, S("10*3,4*1,0*1")), 0);
	assert_int_equal(store_meta_part_range(buf_slice(&m), 3, &s, &l, &c), 0);
	assert_int_equal(s, 20);
	assert_int_equal(l, 10);
	assert_int_equal(c, 5);
	assert_int_equal(store_meta_part_range(buf_slice(&m), 4, &s, &l, NULL), 0);
	assert_int_equal(s, 30);
	assert_int_equal(l, 4);
	assert_int_equal(store_meta_part_range(buf_slice(&m), 5, &s, &l, NULL), 0);
	assert_int_equal(l, 0);
	assert_int_equal(store_meta_part_range(buf_slice(&m), 0, &s, &l, NULL), CAIRN_E_INVAL);
	assert_int_equal(store_meta_part_range(buf_slice(&m), 6, &s, &l, NULL), CAIRN_E_INVAL);
	buf_reset(&m);
	assert_int_equal(store_meta_add(&m, STORE_META_PARTS, S("10*0")), 0);
	assert_int_equal(store_meta_part_range(buf_slice(&m), 1, &s, &l, NULL), CAIRN_E_CORRUPT);
	buf_reset(&m);
	assert_int_equal(store_meta_add(&m, STORE_META_PARTS, S("10*2;")), 0);
	assert_int_equal(store_meta_part_range(buf_slice(&m), 1, &s, &l, NULL), CAIRN_E_CORRUPT);
	buf_reset(&m);
	assert_int_equal(store_meta_add(&m, STORE_META_PARTS, S("99999999999999999999*1")), 0);
	assert_int_equal(store_meta_part_range(buf_slice(&m), 1, &s, &l, NULL), CAIRN_E_CORRUPT);
	buf_fini(&m);
}

/* The index's tables directly: bad ids, a walk that deletes as it goes, bucket bounds. */
#define TID "0123456789abcdef0123456789abcdef"
#define TID2 "0123456789abcdef0123456789abcdf0"

static int
del_part(const char *id, uint32_t number, const struct index_part *p, void *arg)
{
	struct index_txn *txn = *(struct index_txn **)arg;

	(void)p;
	return index_part_del(txn, id, number);
}

static int
count_index_upload(const char *bucket, const char *id, const struct index_upload *u, void *arg)
{
	(void)bucket;
	(void)id;
	(void)u;
	(*(int *)arg)++;
	return 0;
}

static int
index_tables_fn(struct index_txn *txn, void *arg)
{
	struct index_upload u = {.owner = "o", .key = S("k")};
	struct index_part p = {.oid = 9, .size = 1, .checksum_len = 3};
	struct index_txn *t = txn;
	int n = 0;
	uint32_t i;

	(void)arg;
	assert_int_equal(index_upload_put(txn, "b", TID, &u), 0);
	assert_int_equal(index_upload_put(txn, "b", TID2, &u), 0);
	assert_int_equal(index_upload_put(txn, "ba", TID, &u), 0);
	assert_int_equal(index_upload_put(txn, "b", "XYZ", &u), CAIRN_E_INVAL);
	assert_int_equal(index_upload_iter(txn, "b", count_index_upload, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(index_upload_iter(txn, NULL, count_index_upload, &n), 0);
	assert_int_equal(n, 5);
	for (i = 1; i <= 5; i++)
		assert_int_equal(index_part_put(txn, i == 5 ? TID2 : TID, i, &p), 0);
	assert_int_equal(index_part_iter(txn, TID, 0, del_part, &t), 0);
	assert_int_equal(index_part_get(txn, TID, 2, &p), CAIRN_E_NOTFOUND);
	assert_int_equal(index_part_get(txn, TID2, 5, &p), 0);
	assert_int_equal(p.checksum_len, 3);
	assert_int_equal(index_upload_del(txn, "b", TID), 0);
	assert_int_equal(index_upload_del(txn, "b", TID), CAIRN_E_NOTFOUND);
	return 1; /* roll back */
}

static void
test_index_tables(void **state)
{
	struct store_fx *fx = *state;
	struct index *ix = store_index(fx->st);
	struct index_txn *txn;
	struct index_part p;
	struct index_upload u;

	assert_int_equal(index_read_begin(ix, &txn), 0);
	assert_int_equal(index_upload_get(txn, "b", "0123", &u), CAIRN_E_NOTFOUND);
	assert_int_equal(index_upload_get(txn, "b", "0123456789ABCDEF0123456789abcdef", &u),
			 CAIRN_E_NOTFOUND);
	assert_int_equal(index_part_get(txn, "zz", 1, &p), CAIRN_E_NOTFOUND);
	index_read_end(txn);
	assert_int_equal(index_write(ix, index_tables_fn, NULL), 1);
}

/* Puts data as one object (in pieces of 4096 bytes). */
static void
put_single(struct store *st, const char *key, const uint8_t *data, size_t len)
{
	struct store_object_info info;
	struct store_put *put;
	size_t off, n;

	assert_int_equal(store_put_begin(st, &put), 0);
	for (off = 0; off < len; off += n) {
		n = len - off < 4096 ? len - off : 4096;
		assert_int_equal(store_put_write(put, data + off, n), 0);
	}
	assert_int_equal(store_put_finish(put, NULL, NULL), 0);
	assert_int_equal(store_put_commit(put, "b", S(key), no_meta, NULL, &info), 0);
}

/* Uploads data as parts of the given sizes (the last takes the rest) and completes it. */
static void
multipart(struct store *st, const char *key, const uint8_t *data, size_t len, const size_t *sizes,
	  size_t nparts)
{
	struct store_complete_part cp[8];
	struct store_object_info info;
	struct store_part p;
	char id[STORE_UPLOAD_ID_LEN + 1];
	size_t off = 0, i, n;

	create(st, key, id);
	for (i = 0; i < nparts; i++) {
		n = i + 1 == nparts ? len - off : sizes[i];
		assert_int_equal(put_part(st, key, id, (uint32_t)(i + 1), data + off, n, &p), 0);
		cpart(&cp[i], &p);
		off += n;
	}
	assert_int_equal(
	    store_upload_complete(st, "b", S(key), id, cp, nparts, no_meta, NULL, &info), 0);
}

static void
assert_bytes(struct store *st, const char *key, const uint8_t *data, size_t len)
{
	struct store_object_info info;
	uint8_t *got;
	size_t n;

	got = read_all(st, key, &n, &info);
	assert_int_equal(n, len);
	assert_memory_equal(got, data, len);
	free(got);
}

/* Seam healing with the default chunk sizes over parts larger than a heal region may grow
 * (16 MiB): agreement with the natural chunking must be found a few chunks after each seam,
 * while the put's chunk ids still come back from the digest worker. */
static void
test_heal_default_chunks(void **state)
{
	struct store_fx *fx = *state;
	static const size_t sizes[] = {17u << 20, 17u << 20, 6u << 20};
	size_t len = 40u << 20;
	uint8_t *data = gen_data(23, len);
	struct store_stats healed, after;
	uint64_t objs = 0, seams = 0;

	store_close(fx->st);
	store_config_default(&fx->cfg);
	fx->cfg.data_dir = fx->dir;
	assert_int_equal(store_open(&fx->cfg, &fx->st), 0);
	multipart(fx->st, "big", data, len, sizes, 3);
	assert_int_equal(store_upload_heal(fx->st, &objs, &seams), 0);
	assert_int_equal(objs, 1);
	assert_int_equal(seams, 2);
	assert_bytes(fx->st, "big", data, len);
	healed = stats(fx->st);
	put_single(fx->st, "single", data, len);
	after = stats(fx->st);
	assert_int_equal(after.stored_bytes, healed.stored_bytes);
	assert_int_equal(after.chunks, healed.chunks);
	store_fx_assert_fsck_clean(fx->st);
	free(data);
}

/* Seam healing: after it, the same bytes as one PUT or with other part sizes store nothing new. */
static void
test_heal(void **state)
{
	struct store_fx *fx = *state;
	static const size_t sizes1[] = {50001, 60013, 40000}, sizes2[] = {33333, 77777, 20000};
	size_t len = 200000;
	uint8_t *data = gen_data(21, len);
	struct store_stats before, unhealed, healed, after;
	struct store_get *g;
	uint64_t objs = 0, seams = 0, start, plen;
	struct buf meta;

	before = stats(fx->st);
	multipart(fx->st, "mp", data, len, sizes1, 4);
	unhealed = stats(fx->st);
	assert_int_equal(store_upload_heal(fx->st, &objs, &seams), 0);
	assert_int_equal(objs, 1);
	assert_int_equal(seams, 3);
	assert_bytes(fx->st, "mp", data, len);
	store_fx_assert_fsck_clean(fx->st);
	healed = stats(fx->st);
	assert_true(healed.dead_bytes > unhealed.dead_bytes);
	assert_int_equal(healed.logical_bytes, before.logical_bytes + len);
	/* Part boundaries are unchanged for partNumber reads. */
	buf_init(&meta, 1u << 20);
	assert_int_equal(store_stat(fx->st, "b", S("mp"), &(struct store_object_info){0}, &meta),
			 0);
	assert_int_equal(store_meta_part_range(buf_slice(&meta), 3, &start, &plen, NULL), 0);
	assert_int_equal(start, 110014);
	buf_fini(&meta);
	/* Nothing queued any more. */
	assert_int_equal(store_upload_heal(fx->st, &objs, &seams), 0);
	assert_int_equal(objs, 0);
	/* One PUT of the same bytes: every chunk is already there. */
	put_single(fx->st, "single", data, len);
	after = stats(fx->st);
	assert_int_equal(after.stored_bytes, healed.stored_bytes);
	assert_int_equal(after.chunks, healed.chunks);
	/* Other part sizes: new chunks at the seams until healed, then none. */
	multipart(fx->st, "mp2", data, len, sizes2, 4);
	assert_true(stats(fx->st).stored_bytes > healed.stored_bytes);
	assert_int_equal(store_upload_heal(fx->st, &objs, &seams), 0);
	assert_int_equal(objs, 1);
	assert_int_equal(stats(fx->st).stored_bytes, healed.stored_bytes);
	assert_bytes(fx->st, "mp2", data, len);
	store_fx_assert_fsck_clean(fx->st);
	/* A reader holding the object postpones its healing; a deleted object leaves the queue. */
	multipart(fx->st, "mp3", data, len, sizes2, 3);
	assert_int_equal(store_get_open(fx->st, "b", S("mp3"), &g), 0);
	assert_int_equal(store_upload_heal(fx->st, &objs, &seams), 0);
	assert_int_equal(objs, 0);
	store_get_close(g);
	assert_int_equal(store_upload_heal(fx->st, &objs, &seams), 0);
	assert_int_equal(objs, 1);
	assert_bytes(fx->st, "mp3", data, len);
	multipart(fx->st, "mp4", data, len, sizes1, 2);
	assert_int_equal(store_delete(fx->st, "b", S("mp4")), 0);
	assert_int_equal(store_upload_heal(fx->st, &objs, &seams), 0);
	assert_int_equal(objs, 1);
	assert_int_equal(store_upload_heal(fx->st, &objs, &seams), 0);
	assert_int_equal(objs, 0);
	store_fx_assert_fsck_clean(fx->st);
	free(data);
}

/* Deleting a bucket with no objects aborts its uploads in progress, releasing their chunks. */
static void
test_bucket_delete(void **state)
{
	struct store_fx *fx = *state;
	struct store_upload_info info;
	struct store_part p;
	uint8_t *d = gen_data(31, 30000);
	char id[STORE_UPLOAD_ID_LEN + 1];
	int count = 0;

	create(fx->st, "k", id);
	assert_int_equal(put_part(fx->st, "k", id, 1, d, 30000, &p), 0);
	assert_true(stats(fx->st).chunk_refs > 0);
	assert_int_equal(store_bucket_delete(fx->st, "b"), 0);
	assert_int_equal(stats(fx->st).chunk_refs, 0);
	assert_int_equal(store_upload_walk(fx->st, NULL, count_upload, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(store_bucket_create(fx->st, "b", "root", "", NULL), 0);
	assert_int_equal(store_upload_get(fx->st, "b", id, no_meta, &info, NULL, NULL),
			 CAIRN_E_NOTFOUND);
	store_fx_assert_fsck_clean(fx->st);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_abort_restores_stats, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_complete_errors, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_complete_replaces_read_object, fx_setup,
					    store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_part_copy, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_list_parts, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_list_uploads, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_sweep, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_parts, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_create_get, fx_setup, store_fx_teardown),
	    cmocka_unit_test(test_part_range),
	    cmocka_unit_test_setup_teardown(test_heal, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_heal_default_chunks, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bucket_delete, fx_setup, store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_index_tables, fx_setup, store_fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
