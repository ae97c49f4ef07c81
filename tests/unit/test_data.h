/*
 * test_data.h — deterministic pseudo-random test bytes for the unit tests that need data but no
 * store (store_fixture.h's gen_data serves those that drive a store). Static inline: each
 * tests/unit/test_*.c is its own binary.
 */
#ifndef CAIRN_TEST_DATA_H
#define CAIRN_TEST_DATA_H

#include <stddef.h>
#include <stdint.h>

/* Fills p[len] with the xorshift64 stream of seed: the same bytes for the same seed. */
static inline void
test_fill(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

#endif
