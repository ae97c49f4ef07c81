/*
 * base64.h — standard base64 (RFC 4648 §4, alphabet A-Z a-z 0-9 + /, '=' padding).
 *
 * Used for Content-MD5, x-amz-checksum-* values and SigV2 signatures. Pure, no allocation.
 * Decoding is strict: the input length must be a multiple of 4, padding must be present and
 * correct, no whitespace or other characters, and the unused low bits of the last symbol must be
 * zero — so every byte string has exactly one accepted encoding.
 */
#ifndef CAIRN_BASE64_H
#define CAIRN_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters base64_encode() writes for n input bytes, without the NUL. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Upper bound of bytes base64_decode() writes for n input characters. */
#define BASE64_DECODED_MAX(n) (((n) / 4) * 3)

/* Writes the encoding of p[0..len) and a NUL into out, which holds at least
 * BASE64_ENCODED_LEN(len) + 1 bytes. Returns the number of characters written (without NUL). */
size_t base64_encode(const uint8_t *p, size_t len, char *out);

/* Decodes s[0..len) into out[0..out_max). On success stores the decoded length in *out_len and
 * returns 0. Returns CAIRN_E_INVAL on any malformed input (see above) and CAIRN_E_TOOBIG when the
 * decoded bytes would not fit in out_max; out may be partly written then. len 0 decodes to 0
 * bytes. */
int base64_decode(const char *s, size_t len, uint8_t *out, size_t out_max, size_t *out_len);

#endif
