#include "cairn/base64.h"
#include "cairn/err.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encode(const uint8_t *p, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = base64_alphabet[v >> 18];
		out[o++] = base64_alphabet[(v >> 12) & 63];
		out[o++] = base64_alphabet[(v >> 6) & 63];
		out[o++] = base64_alphabet[v & 63];
	}
	if (len - i == 1) {
		out[o++] = base64_alphabet[p[i] >> 2];
		out[o++] = base64_alphabet[(p[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];

		out[o++] = base64_alphabet[v >> 10];
		out[o++] = base64_alphabet[(v >> 4) & 63];
		out[o++] = base64_alphabet[(v & 15) << 2];
		out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

static int
base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes one 4-character group; pad is the number of '=' it ends with (0..2). The unused low
 * bits of the last symbol must be zero so that the encoding is canonical. */
static int
base64_group(const char *s, size_t pad, uint8_t *out)
{
	int v[4] = {0, 0, 0, 0};
	size_t i;

	for (i = 0; i < 4 - pad; i++) {
		v[i] = base64_value(s[i]);
		if (v[i] < 0)
			return CAIRN_E_INVAL;
	}
	if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3)))
		return CAIRN_E_INVAL;
	out[0] = (uint8_t)(v[0] << 2 | v[1] >> 4);
	out[1] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
	out[2] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	return 0;
}

int
base64_decode(const char *s, size_t len, uint8_t *out, size_t out_max, size_t *out_len)
{
	size_t i, pad = 0, o = 0;

	if (len % 4)
		return CAIRN_E_INVAL;
	if (len && s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len; i += 4) {
		size_t gpad = i + 4 == len ? pad : 0;
		uint8_t g[3];
		int rc = base64_group(s + i, gpad, g);

		if (rc < 0)
			return rc;
		if (out_max - o < 3 - gpad)
			return CAIRN_E_TOOBIG;
		for (size_t k = 0; k < 3 - gpad; k++)
			out[o++] = g[k];
	}
	*out_len = o;
	return 0;
}
