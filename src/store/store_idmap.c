/*
 * store_idmap.c — a hash table keyed by chunk id. Chunk ids are SHA-256 values, so their first
 * eight bytes are already a uniform hash. Open addressing with linear probing; removal shifts
 * later entries of the probe run back (no tombstones), so lookups stay short under churn.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define IDMAP_MIN_CAP 64

void
store_idmap_init(struct idmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
}

void
store_idmap_fini(struct idmap *m)
{
	free(m->slots);
	store_idmap_init(m);
}

static size_t
idmap_home(const struct idmap *m, const struct chunk_id *id)
{
	uint64_t h;

	memcpy(&h, id->b, sizeof(h));
	return (size_t)h & (m->cap - 1);
}

struct idmap_entry *
store_idmap_find(const struct idmap *m, const struct chunk_id *id)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = idmap_home(m, id);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].used)
			return NULL;
		if (chunk_id_equal(&m->slots[i].id, id))
			return &m->slots[i];
	}
}

static void
idmap_resize(struct idmap *m, size_t cap)
{
	struct idmap_entry *old = m->slots;
	size_t old_cap = m->cap, i, j;

	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots)
		abort();
	m->cap = cap;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].used)
			continue;
		for (j = idmap_home(m, &old[i].id); m->slots[j].used; j = (j + 1) & (cap - 1))
			;
		m->slots[j] = old[i];
	}
	free(old);
}

struct idmap_entry *
store_idmap_insert(struct idmap *m, const struct chunk_id *id)
{
	struct idmap_entry *e = store_idmap_find(m, id);
	size_t i;

	if (e)
		return e;
	if (m->cap == 0 || (m->n + 1) * 2 > m->cap)
		idmap_resize(m, m->cap ? m->cap * 2 : IDMAP_MIN_CAP);
	for (i = idmap_home(m, id); m->slots[i].used; i = (i + 1) & (m->cap - 1))
		;
	e = &m->slots[i];
	memset(e, 0, sizeof(*e));
	e->id = *id;
	e->used = true;
	m->n++;
	return e;
}

/* True when home position k lies cyclically in (i, j]: the entry at j may not move to i. */
static bool
idmap_between(size_t i, size_t k, size_t j)
{
	if (i <= j)
		return i < k && k <= j;
	return i < k || k <= j;
}

void
store_idmap_remove(struct idmap *m, struct idmap_entry *e)
{
	size_t i = (size_t)(e - m->slots), j = i, k;

	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (!m->slots[j].used)
			break;
		k = idmap_home(m, &m->slots[j].id);
		if (idmap_between(i, k, j))
			continue;
		m->slots[i] = m->slots[j];
		i = j;
	}
	memset(&m->slots[i], 0, sizeof(m->slots[i]));
	m->n--;
	/* Give memory back after a burst (a big put's pins going away). */
	if (m->cap > IDMAP_MIN_CAP && m->n * 8 < m->cap)
		idmap_resize(m, m->cap / 2);
}
