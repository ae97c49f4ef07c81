/*
 * index_priv.h — internals shared by the index's source files (index.c: environment,
 * transactions and map growth; index_records.c: record codecs and the small tables;
 * index_objects.c: the object key tree and its cursor; index_trim.c: keeping the map's resident
 * part under a budget). Not an API: nothing outside src/store/index*.c includes it.
 *
 * Record encoding: every value starts with a version byte (INDEX_RECORD_VERSION, or the chunk and
 * page layouts' own, index_chunks.c); integers inside values are little-endian or varints,
 * integers inside keys big-endian (so LMDB's byte order is numeric order).
 */
#ifndef CAIRN_INDEX_PRIV_H
#define CAIRN_INDEX_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "cairn/index.h"

#define INDEX_RECORD_VERSION 1
/* The version bytes of the chunk and page records (index_chunks.c), which changed layout in
 * format 2; the chunkids table's one key is its layout version. */
#define INDEX_CHUNK_VERSION 2
#define INDEX_PAGE_VERSION 2
#define INDEX_CHUNKIDS_VERSION 2
/* The on-disk layout as a whole (meta "format"); bumped when the tables change shape. Format 2:
 * chunks keyed by sequence number with the chunkids lookup table, pages naming chunks by it. */
#define INDEX_FORMAT 2
/* Bytes of the longest varint (a u64). */
#define INDEX_VARINT_MAX 10

enum index_db {
	INDEX_DB_BUCKETS,
	INDEX_DB_OBJECTS,
	INDEX_DB_OBJTAILS, /* continuation groups of object keys too long for one LMDB key */
	INDEX_DB_PAGES,
	INDEX_DB_CHUNKS,   /* chunk sequence number -> chunk id and record (index_chunks.c) */
	INDEX_DB_CHUNKIDS, /* chunk id prefixes and sequence numbers, to find a chunk by id */
	INDEX_DB_PACKS,
	INDEX_DB_ZOMBIES,
	INDEX_DB_USERS,
	INDEX_DB_META,
	INDEX_DB_UPLOADS, /* multipart uploads in progress (index_uploads.c) */
	INDEX_DB_PARTS,	  /* their parts */
	INDEX_DB_HEALS,	  /* completed multipart objects whose seams wait for re-chunking */
	INDEX_DB_COUNT,
};

/*
 * A shared/exclusive gate without thread ownership (a read transaction may be ended on another
 * thread than the one that began it, which pthread rwlocks do not allow). Exclusive requests
 * take precedence over new shared ones so that a resize is not starved by a stream of readers.
 */
struct index_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned readers; /* shared holders */
	unsigned waiting; /* exclusive requests queued */
	bool exclusive;	  /* held exclusively */
};

struct index {
	MDB_env *env;
	MDB_dbi dbi[INDEX_DB_COUNT];
	bool readonly;
	/* A table a read-only open did not find (a data dir from before the table existed): it
	 * reads as empty. Only the upload tables may be missing. */
	bool absent[INDEX_DB_COUNT];
	char *data_path;	  /* <dir>/data.mdb, owned */
	pthread_mutex_t write_mu; /* serialises index_write() within the process */
	struct index_gate gate;	  /* shared: any transaction; exclusive: mdb_env_set_mapsize() */
	/* Write commits of this process begun and finished (atomics; index_begin_raced()). */
	uint64_t commits_started;
	uint64_t commits_ended;
	/* index_trim.c. trim_mu serialises trims and guards map_base, map_len and trims; map_base
	 * is where LMDB mapped data.mdb, found by index_map_trim() under the shared gate and
	 * forgotten (index_map_forget) under the exclusive gate by every remap; NULL: not known. */
	pthread_mutex_t trim_mu;
	uint8_t *map_base;
	size_t map_len;
	uint64_t trims;		       /* index_map_trim() calls that advised a range */
	struct index_trimmer *trimmer; /* the periodic thread, NULL when not running */
};

struct index_txn {
	struct index *ix;
	MDB_txn *txn;
	bool write;
	bool map_full; /* an operation hit MDB_MAP_FULL: index_write() grows the map and reruns */
	MDB_cursor *ids_cur; /* chunk lookups' cursor on chunkids, opened on first use; closed by
				index_txn_cursors_close() before the transaction ends */
};

/* Takes / releases the gate shared (index.c): what a transaction holds for its life. Never
 * take it in a thread that already holds it (a queued resize would wait for that thread). */
void index_gate_shared(struct index_gate *g);
void index_gate_shared_end(struct index_gate *g);

/* Forgets where the map is (index_trim.c). Call with the gate held exclusive, after any
 * mdb_env_set_mapsize(): the old range may be unmapped or reused by then. */
void index_map_forget(struct index *ix);

/* Closes the cursors a transaction keeps (ids_cur). Called by index.c before every end. */
void index_txn_cursors_close(struct index_txn *t);

/* Translates an LMDB or errno return value into 0 / -errno / CAIRN_E_* (see index.c). */
int index_mdb_err(int rc);

/* mdb_txn_begin(MDB_RDONLY) safe from LMDB 0.9's snapshot race (index.c). Call with the gate
 * shared; returns LMDB's code (MDB_MAP_RESIZED: adopt the new size and begin again). */
int index_mdb_read_begin(struct index *ix, MDB_txn **txn);

/* Like index_mdb_err(), and records MDB_MAP_FULL in t (returned as -ENOSPC). */
int index_txn_err(struct index_txn *t, int rc);

/* Thin LMDB wrappers on table db. get: v points into transaction memory. put reserves vlen
 * bytes and returns them in *out to be filled before the next operation. Returns 0,
 * CAIRN_E_NOTFOUND (get, del), CAIRN_E_READONLY (write op in a read transaction), -ENOSPC when
 * the map is full (t->map_full is set), or another translated error. */
int index_db_get(struct index_txn *t, enum index_db db, const MDB_val *k, MDB_val *v);
int index_db_put(struct index_txn *t, enum index_db db, const MDB_val *k, size_t vlen,
		 uint8_t **out);
int index_db_del(struct index_txn *t, enum index_db db, const MDB_val *k);
/* index_db_put() with extra mdb_put flags (MDB_APPEND): -EEXIST for MDB_KEYEXIST. */
int index_db_put_flags(struct index_txn *t, enum index_db db, const MDB_val *k, size_t vlen,
		       unsigned flags, uint8_t **out);
/* Adds / deletes the duplicate v of key k in a MDB_DUPSORT table. put: -EEXIST when present.
 * del: CAIRN_E_NOTFOUND. Otherwise as index_db_put() / index_db_del(). */
int index_db_put_dup(struct index_txn *t, enum index_db db, const MDB_val *k, const MDB_val *v);
int index_db_del_dup(struct index_txn *t, enum index_db db, const MDB_val *k, const MDB_val *v);
int index_db_cursor(struct index_txn *t, enum index_db db, MDB_cursor **out);
/* mdb_cursor_get / mdb_cursor_del, translated (map-full aware). */
int index_cur_get(struct index_txn *t, MDB_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op);
int index_cur_del(struct index_txn *t, MDB_cursor *c);

/* Increments the u64 counter `name` in the meta table (starting at 1) and returns its old
 * value in *out. Same returns as index_db_put(). */
int index_meta_counter_next(struct index_txn *t, const char *name, uint64_t *out);

/* ---- value writer/reader: bounds-checked, explicit byte order ---- */

struct index_wr {
	uint8_t *p;
	size_t len; /* bytes reserved */
	size_t off; /* bytes written */
};

struct index_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool bad; /* a read ran past the end */
};

void index_wr_init(struct index_wr *w, uint8_t *p, size_t len);
void index_wr_u8(struct index_wr *w, uint8_t v);
void index_wr_u16(struct index_wr *w, uint16_t v);
void index_wr_u32(struct index_wr *w, uint32_t v);
void index_wr_u64(struct index_wr *w, uint64_t v);
void index_wr_bytes(struct index_wr *w, const void *p, size_t n);
/* LEB128: 7 bits a byte, low first, the top bit set on every byte but the last. */
void index_wr_varint(struct index_wr *w, uint64_t v);
/* Bytes index_wr_varint() writes for v (1..INDEX_VARINT_MAX). */
size_t index_varint_len(uint64_t v);
/* Aborts when the bytes written differ from the bytes reserved (a codec bug). */
void index_wr_done(const struct index_wr *w);

/* Starts decoding value v: CAIRN_E_CORRUPT when empty, CAIRN_E_VERSION when its version byte
 * is not INDEX_RECORD_VERSION (index_rd_begin_v: not version), else 0. */
int index_rd_begin(struct index_rd *r, const MDB_val *v);
int index_rd_begin_v(struct index_rd *r, const MDB_val *v, uint8_t version);
uint8_t index_rd_u8(struct index_rd *r);
uint16_t index_rd_u16(struct index_rd *r);
uint32_t index_rd_u32(struct index_rd *r);
uint64_t index_rd_u64(struct index_rd *r);
/* Reads a varint; sets bad (and returns 0) when it is cut short, overlong (a needless zero last
 * byte), longer than INDEX_VARINT_MAX bytes or above max. */
uint64_t index_rd_varint(struct index_rd *r, uint64_t max);
/* Returns a pointer to the next n bytes (into the value), or NULL (and sets bad). */
const uint8_t *index_rd_bytes(struct index_rd *r, size_t n);
/* CAIRN_E_CORRUPT when a read ran short or bytes are left over, else 0. */
int index_rd_end(const struct index_rd *r);

void index_be64_put(uint8_t *p, uint64_t v);
uint64_t index_be64_get(const uint8_t *p);
void index_be32_put(uint8_t *p, uint32_t v);
uint32_t index_be32_get(const uint8_t *p);

#endif
