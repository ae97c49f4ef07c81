#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/httpdate.h"

#define HTTPDATE_MAX_EPOCH 253402300799LL /* 9999-12-31T23:59:59Z */

static const char httpdate_wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const httpdate_wdays_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
						   "Thursday", "Friday", "Saturday"};
static const char httpdate_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool
httpdate_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
httpdate_mdays(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && httpdate_is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t
httpdate_days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
httpdate_from_civil(int year, int month, int day, int hour, int min, int sec, int64_t *epoch)
{
	if (year < 1970 || year > 9999 || month < 1 || month > 12)
		return CAIRN_E_INVAL;
	if (day < 1 || day > httpdate_mdays(year, month))
		return CAIRN_E_INVAL;
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
		return CAIRN_E_INVAL;
	*epoch = httpdate_days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
	return 0;
}

int
httpdate_to_civil(int64_t epoch, struct httpdate_tm *tm)
{
	int64_t days, secs, z, era, doe, yoe, doy, mp;

	if (epoch < 0 || epoch > HTTPDATE_MAX_EPOCH)
		return CAIRN_E_INVAL;
	days = epoch / 86400;
	secs = epoch % 86400;
	tm->hour = (int)(secs / 3600);
	tm->min = (int)(secs / 60 % 60);
	tm->sec = (int)(secs % 60);
	tm->wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	tm->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	tm->year = (int)(yoe + era * 400 + (tm->month <= 2));
	return 0;
}

int
httpdate_format(int64_t epoch, char out[HTTPDATE_LEN + 1])
{
	struct httpdate_tm tm;

	if (httpdate_to_civil(epoch, &tm) < 0)
		return CAIRN_E_INVAL;
	snprintf(out, HTTPDATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 httpdate_wdays[tm.wday], tm.day, httpdate_months[tm.month - 1], tm.year, tm.hour,
		 tm.min, tm.sec);
	return 0;
}

int
httpdate_format_iso8601(int64_t epoch, char out[25])
{
	struct httpdate_tm tm;

	if (httpdate_to_civil(epoch, &tm) < 0)
		return CAIRN_E_INVAL;
	snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.year, tm.month, tm.day, tm.hour,
		 tm.min, tm.sec);
	return 0;
}

/* A small cursor over the input. Every reader fails (returns false) without moving on error. */
struct httpdate_cur {
	const char *s;
	size_t len;
	size_t i;
};

static bool
httpdate_lit(struct httpdate_cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if (c->len - c->i < n || memcmp(c->s + c->i, lit, n) != 0)
		return false;
	c->i += n;
	return true;
}

/* Reads exactly n digits (n <= 4), or 1..n digits when exact is false. */
static bool
httpdate_num(struct httpdate_cur *c, size_t n, bool exact, int *out)
{
	size_t k = 0;
	int v = 0;

	while (k < n && c->i + k < c->len && c->s[c->i + k] >= '0' && c->s[c->i + k] <= '9') {
		v = v * 10 + (c->s[c->i + k] - '0');
		k++;
	}
	if (k == 0 || (exact && k != n))
		return false;
	c->i += k;
	*out = v;
	return true;
}

static bool
httpdate_month(struct httpdate_cur *c, int *month)
{
	int m;

	for (m = 0; m < 12; m++) {
		if (httpdate_lit(c, httpdate_months[m])) {
			*month = m + 1;
			return true;
		}
	}
	return false;
}

static bool
httpdate_wday(struct httpdate_cur *c, bool long_form)
{
	int d;

	for (d = 0; d < 7; d++) {
		if (httpdate_lit(c, long_form ? httpdate_wdays_long[d] : httpdate_wdays[d]))
			return true;
	}
	return false;
}

static bool
httpdate_hms(struct httpdate_cur *c, int *h, int *mi, int *s)
{
	return httpdate_num(c, 2, true, h) && httpdate_lit(c, ":") &&
	       httpdate_num(c, 2, true, mi) && httpdate_lit(c, ":") && httpdate_num(c, 2, true, s);
}

static bool
httpdate_zone(struct httpdate_cur *c)
{
	return httpdate_lit(c, "GMT") || httpdate_lit(c, "+0000") || httpdate_lit(c, "UTC");
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int
httpdate_parse_imf(struct httpdate_cur *c, int64_t *epoch)
{
	int d, m, y, h, mi, s;

	if (!httpdate_wday(c, false) || !httpdate_lit(c, ", ") || !httpdate_num(c, 2, true, &d) ||
	    !httpdate_lit(c, " ") || !httpdate_month(c, &m) || !httpdate_lit(c, " ") ||
	    !httpdate_num(c, 4, true, &y) || !httpdate_lit(c, " ") ||
	    !httpdate_hms(c, &h, &mi, &s) || !httpdate_lit(c, " ") || !httpdate_zone(c) ||
	    c->i != c->len)
		return CAIRN_E_INVAL;
	return httpdate_from_civil(y, m, d, h, mi, s, epoch);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static int
httpdate_parse_rfc850(struct httpdate_cur *c, int64_t *epoch)
{
	int d, m, y, h, mi, s;

	if (!httpdate_wday(c, true) || !httpdate_lit(c, ", ") || !httpdate_num(c, 2, true, &d) ||
	    !httpdate_lit(c, "-") || !httpdate_month(c, &m) || !httpdate_lit(c, "-") ||
	    !httpdate_num(c, 2, true, &y) || !httpdate_lit(c, " ") ||
	    !httpdate_hms(c, &h, &mi, &s) || !httpdate_lit(c, " GMT") || c->i != c->len)
		return CAIRN_E_INVAL;
	y += y >= 70 ? 1900 : 2000;
	return httpdate_from_civil(y, m, d, h, mi, s, epoch);
}

/* "Sun Nov  6 08:49:37 1994" */
static int
httpdate_parse_asctime(struct httpdate_cur *c, int64_t *epoch)
{
	int d, m, y, h, mi, s;

	if (!httpdate_wday(c, false) || !httpdate_lit(c, " ") || !httpdate_month(c, &m) ||
	    !httpdate_lit(c, " "))
		return CAIRN_E_INVAL;
	/* The day is space-padded: "Nov  6" or "Nov 16". */
	if (!(httpdate_lit(c, " ") ? httpdate_num(c, 1, true, &d) : httpdate_num(c, 2, true, &d)))
		return CAIRN_E_INVAL;
	if (!httpdate_lit(c, " ") || !httpdate_hms(c, &h, &mi, &s) || !httpdate_lit(c, " ") ||
	    !httpdate_num(c, 4, true, &y) || c->i != c->len)
		return CAIRN_E_INVAL;
	return httpdate_from_civil(y, m, d, h, mi, s, epoch);
}

int
httpdate_parse(const char *s, size_t len, int64_t *epoch)
{
	struct httpdate_cur c = {s, len, 0};

	if (len < 4)
		return CAIRN_E_INVAL;
	if (s[3] == ',')
		return httpdate_parse_imf(&c, epoch);
	if (s[3] == ' ')
		return httpdate_parse_asctime(&c, epoch);
	return httpdate_parse_rfc850(&c, epoch);
}
