/*
 * chunker.h — FastCDC-style content-defined chunking (gear hash, normalized chunking).
 *
 * Pure: no I/O, no allocation, no globals beyond a constant gear table. The chunker only finds
 * boundaries; it never holds data. The caller feeds buffers of any size, in order, and gets back
 * where each chunk ends; the boundaries are the same whatever the split of the input into buffers
 * (the state carried between calls is the gear hash and the current chunk's length).
 *
 * Boundaries: the first min_size bytes of a chunk are skipped without hashing; up to avg_size a
 * boundary needs the stricter mask (more bits), after it the looser one (normalized chunking,
 * level 2); a chunk is cut unconditionally at max_size. The end of the input ends the last chunk
 * (the caller knows when the input ends).
 */
#ifndef CAIRN_CHUNKER_H
#define CAIRN_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chunker_params {
	uint32_t min_size; /* bytes; no chunk but the last is shorter */
	uint32_t avg_size; /* bytes; a power of two, the target mean chunk size */
	uint32_t max_size; /* bytes; no chunk is longer */
};

/* Hard bounds on the parameters (chunker_params_check enforces them). */
#define CHUNKER_MIN_SIZE_FLOOR 64u
#define CHUNKER_MAX_SIZE_CEIL (16u << 20)

struct chunker {
	struct chunker_params params;
	uint64_t mask_strict; /* used while the chunk is shorter than avg_size */
	uint64_t mask_loose;  /* used from avg_size on */
	uint64_t hash;        /* rolling gear hash of the current chunk */
	uint32_t pos;         /* bytes of the current chunk seen so far */
};

/* Fills p with the defaults (chosen by `make bench`, see docs/architecture.md). */
void chunker_params_default(struct chunker_params *p);

/* Returns 0 when the parameters are usable: avg a power of two, min >= CHUNKER_MIN_SIZE_FLOOR,
 * min < avg < max <= CHUNKER_MAX_SIZE_CEIL; CAIRN_E_INVAL otherwise. */
int chunker_params_check(const struct chunker_params *p);

/* Starts chunking a new stream. params must pass chunker_params_check(). */
void chunker_init(struct chunker *c, const struct chunker_params *params);

/*
 * Scans len bytes at p, continuing the current chunk. Returns how many bytes of p belong to the
 * current chunk. If *is_cut is set true, the current chunk ends after those bytes and the chunker
 * has already started the next chunk (feed it the rest of p next); otherwise all len bytes were
 * consumed and the chunk goes on.
 */
size_t chunker_scan(struct chunker *c, const uint8_t *p, size_t len, bool *is_cut);

#endif
