/*
 * store_list.c — listing a bucket's objects in key order.
 *
 * A listing is one read transaction (a consistent snapshot) with a cursor in it. It holds off
 * the index's map resizing while open: callers list a page of keys and close it promptly, then
 * open a new listing that seeks past the last key they got.
 */
#include <stdlib.h>

#include "cairn/err.h"
#include "store_internal.h"

struct store_list {
	struct index_txn *txn;
	struct index_cursor *cur;
};

int
store_list_open(struct store *st, const char *bucket, struct store_list **out)
{
	struct store_list *l;
	struct index_bucket b;
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		abort();
	rc = index_read_begin(st->ix, &l->txn);
	if (rc < 0)
		goto out_free;
	rc = index_bucket_get(l->txn, bucket, &b);
	if (rc < 0)
		goto out_end;
	rc = index_object_cursor_open(l->txn, bucket, &l->cur);
	if (rc < 0)
		goto out_end;
	*out = l;
	return 0;
out_end:
	index_read_end(l->txn);
out_free:
	free(l);
	return rc;
}

static void
list_fill(const struct index_object *obj, struct store_object_info *info)
{
	store_info_from_object(obj, info);
	info->meta = obj->meta;
}

int
store_list_seek(struct store_list *l, struct slice from, struct slice *key,
		struct store_object_info *info)
{
	struct index_object obj;
	int rc;

	rc = index_object_cursor_seek(l->cur, from, key, &obj);
	if (rc == 0)
		list_fill(&obj, info);
	return rc;
}

int
store_list_next(struct store_list *l, struct slice *key, struct store_object_info *info)
{
	struct index_object obj;
	int rc;

	rc = index_object_cursor_next(l->cur, key, &obj);
	if (rc == 0)
		list_fill(&obj, info);
	return rc;
}

void
store_list_close(struct store_list *l)
{
	if (!l)
		return;
	index_cursor_close(l->cur);
	index_read_end(l->txn);
	free(l);
}
