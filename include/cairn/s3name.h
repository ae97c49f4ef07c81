/*
 * s3name.h — validation of bucket names and object keys. Pure, no allocation.
 */
#ifndef CAIRN_S3NAME_H
#define CAIRN_S3NAME_H

#include <stdbool.h>
#include <stddef.h>

#define S3NAME_BUCKET_MIN 3
#define S3NAME_BUCKET_MAX 63
#define S3NAME_KEY_MAX 1024 /* bytes of UTF-8, as S3 */

/* True when name[0..len) is a valid bucket name by the S3 general-purpose bucket rules:
 * 3..63 characters of [a-z0-9.-]; first and last a letter or digit; no "..", ".-" or "-.";
 * not shaped like an IPv4 address (four dot-separated decimal groups); no "xn--", "sthree-",
 * "amzn-s3-demo-" prefix; no "-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3" suffix.
 * A false result maps to S3E_INVALID_BUCKET_NAME. */
bool s3name_bucket_is_valid(const char *name, size_t len);

/* True when p[0..len) is well-formed UTF-8 (no overlongs, no surrogates, nothing above
 * U+10FFFF). */
bool s3name_is_utf8(const char *p, size_t len);

/* Checks an object key (already percent-decoded). Returns 0; CAIRN_E_TOOBIG when len >
 * S3NAME_KEY_MAX (→ S3E_KEY_TOO_LONG); CAIRN_E_INVAL when len is 0, the key is not valid UTF-8 or
 * it contains a NUL byte (→ S3E_INVALID_ARGUMENT). Other control characters are allowed, as in
 * S3; the XML writer escapes them. */
int s3name_key_check(const char *key, size_t len);

#endif
