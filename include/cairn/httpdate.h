/*
 * httpdate.h — HTTP dates (RFC 9110 §5.6.7): Date, Last-Modified, If-Modified-Since, Expires.
 * Pure, no allocation, no locale, no time zone database: all UTC.
 */
#ifndef CAIRN_HTTPDATE_H
#define CAIRN_HTTPDATE_H

#include <stddef.h>
#include <stdint.h>

#define HTTPDATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Parses an HTTP date s[0..len) into Unix seconds. Accepted: IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT" (also with "+0000" or "UTC" for "GMT", as some S3 clients
 * send), RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years 70..99 → 19xx, else 20xx) and
 * asctime "Sun Nov  6 08:49:37 1994". The weekday name is checked for form, not for truth.
 * Years 1970..9999. Returns 0 or CAIRN_E_INVAL. */
int httpdate_parse(const char *s, size_t len, int64_t *epoch);

/* Writes the IMF-fixdate of epoch (0 .. 253402300799) and a NUL into out. Returns 0 or
 * CAIRN_E_INVAL when epoch is out of range. */
int httpdate_format(int64_t epoch, char out[HTTPDATE_LEN + 1]);

/* Writes the ISO 8601 form S3 uses in XML, "2009-10-12T17:50:30.000Z", and a NUL into out
 * (25 bytes). Returns 0 or CAIRN_E_INVAL when epoch is out of range. */
int httpdate_format_iso8601(int64_t epoch, char out[25]);

/* Converts between Unix seconds and a UTC civil date/time; used by sigv4 and sigv2 too.
 * httpdate_from_civil() checks ranges (year 1970..9999, month 1..12, day valid for the month,
 * hour < 24, minute < 60, second < 60) and returns 0 or CAIRN_E_INVAL. */
int httpdate_from_civil(int year, int month, int day, int hour, int min, int sec, int64_t *epoch);

/* Splits epoch (0 .. 253402300799) into fields; wday 0 = Sunday. Returns 0 or CAIRN_E_INVAL. */
struct httpdate_tm {
	int year, month, day, hour, min, sec, wday;
};
int httpdate_to_civil(int64_t epoch, struct httpdate_tm *tm);

#endif
