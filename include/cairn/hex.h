/*
 * hex.h — lowercase hexadecimal encoding and decoding. Pure, no allocation.
 */
#ifndef CAIRN_HEX_H
#define CAIRN_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len lowercase hex digits and a NUL to out (which holds at least 2*len+1 bytes). */
void hex_encode(const uint8_t *p, size_t len, char *out);

/* Decodes exactly 2*len hex digits (either case) from s into out[len]. Returns 0, or
 * CAIRN_E_INVAL on a non-hex character (out is then partly written). */
int hex_decode(const char *s, size_t len, uint8_t *out);

#endif
