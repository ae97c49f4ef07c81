/*
 * fuzz_httpdate.c — HTTP dates and SigV4 timestamps.
 *
 * Input: any text, tried as an HTTP date (httpdate_parse) and as an X-Amz-Date
 * (sigv4_parse_amz_date); its first 8 bytes are also used as an epoch for the formatters.
 * Invariants: parsed times are in 0 .. 253402300799; format → parse gives the same second; an
 * IMF-fixdate in GMT formats back to its own bytes (the weekday aside: it is checked for form
 * only); an X-Amz-Date formats back to exactly its bytes; civil conversion round-trips.
 */
#include "fuzz.h"

#include "cairn/err.h"
#include "cairn/httpdate.h"
#include "cairn/sigv4.h"

#define FUZZ_EPOCH_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

static void
fuzz_epoch(int64_t t)
{
	struct httpdate_tm tm;
	char http[HTTPDATE_LEN + 1], iso[25], amz[SIGV4_AMZ_DATE_LEN + 1];
	int64_t back;
	int rc = httpdate_to_civil(t, &tm);

	FUZZ_CHECK((rc == 0) == (t >= 0 && t <= FUZZ_EPOCH_MAX));
	FUZZ_CHECK((httpdate_format(t, http) == 0) == (rc == 0));
	FUZZ_CHECK((httpdate_format_iso8601(t, iso) == 0) == (rc == 0));
	FUZZ_CHECK((sigv4_format_amz_date(t, amz) == 0) == (rc == 0));
	if (rc < 0)
		return;
	FUZZ_CHECK(tm.wday >= 0 && tm.wday <= 6);
	FUZZ_CHECK(httpdate_from_civil(tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec, &back) ==
		   0);
	FUZZ_CHECK(back == t);
	FUZZ_CHECK(strlen(http) == HTTPDATE_LEN && httpdate_parse(http, HTTPDATE_LEN, &back) == 0);
	FUZZ_CHECK(back == t);
	FUZZ_CHECK(strlen(iso) == 24 && iso[10] == 'T' && iso[23] == 'Z');
	FUZZ_CHECK(strlen(amz) == SIGV4_AMZ_DATE_LEN);
	FUZZ_CHECK(sigv4_parse_amz_date(amz, SIGV4_AMZ_DATE_LEN, &back) == 0 && back == t);
}

static void
fuzz_http(const char *s, size_t len)
{
	char out[HTTPDATE_LEN + 1];
	int64_t t = -1;
	int rc = httpdate_parse(s, len, &t);

	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
	if (rc < 0)
		return;
	FUZZ_CHECK(t >= 0 && t <= FUZZ_EPOCH_MAX);
	FUZZ_CHECK(httpdate_format(t, out) == 0);
	if (len == HTTPDATE_LEN && s[3] == ',' && memcmp(s + 26, "GMT", 3) == 0)
		FUZZ_CHECK(memcmp(out + 3, s + 3, HTTPDATE_LEN - 3) == 0);
	fuzz_epoch(t);
}

static void
fuzz_amz(const char *s, size_t len)
{
	char out[SIGV4_AMZ_DATE_LEN + 1];
	int64_t t = -1;
	int rc = sigv4_parse_amz_date(s, len, &t);

	FUZZ_CHECK(rc == 0 || rc == CAIRN_E_INVAL);
	if (rc < 0)
		return;
	FUZZ_CHECK(len == SIGV4_AMZ_DATE_LEN && t >= 0 && t <= FUZZ_EPOCH_MAX);
	FUZZ_CHECK(sigv4_format_amz_date(t, out) == 0);
	FUZZ_CHECK(memcmp(out, s, SIGV4_AMZ_DATE_LEN) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t t = 0;

	fuzz_http((const char *)data, size);
	fuzz_amz((const char *)data, size);
	if (size >= sizeof(t)) {
		memcpy(&t, data, sizeof(t));
		fuzz_epoch(t);
		fuzz_epoch(t % (FUZZ_EPOCH_MAX + 1)); /* mostly in range, negatives too */
	}
	return 0;
}
