// SPDX-License-Identifier: GPL-2.0-only
/*
 * Strict number parsing (spw_strnum.h), in the manner of xdp-tools lib/util/params.c: the
 * first character is checked by hand because strtoull() skips whitespace and accepts a sign
 * ("-1" becomes 18446744073709551615), then errno and the end pointer tell overflow and
 * trailing garbage apart.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "spw_err.h"
#include "spw_strnum.h"

/* User text quoted in messages is cut here so one bad line cannot flood the log. */
#define QUOTE_MAX 64
/* 10^19 overflows 64 bits, so a fraction keeps at most this many digits. */
#define FRAC_DIGITS_MAX 18

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_digit(*s))
			return false;
	return true;
}

int spw_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *err,
		  size_t errlen)
{
	unsigned long long v;
	char *end;

	if (!text || !*text) {
		spw_set_err(err, errlen, "no number given");
		return -EINVAL;
	}
	/* "-5" is a number, just not one this type holds: say so rather than "not a number". */
	if (text[0] == '-' && all_digits(text + 1)) {
		spw_set_err(err, errlen, "%.*s is out of range (%llu..%llu)", QUOTE_MAX, text,
			    (unsigned long long)min, (unsigned long long)max);
		return -ERANGE;
	}
	if (!is_digit(text[0])) {
		spw_set_err(err, errlen, "'%.*s' is not a whole number", QUOTE_MAX, text);
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end) {
		spw_set_err(err, errlen, "'%.*s' is not a whole number", QUOTE_MAX, text);
		return -EINVAL;
	}
	if (errno == ERANGE || v < min || v > max) {
		spw_set_err(err, errlen, "%.*s is out of range (%llu..%llu)", QUOTE_MAX, text,
			    (unsigned long long)min, (unsigned long long)max);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

int spw_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out, char *err,
		  size_t errlen)
{
	long long v;
	char *end;

	if (!text || !*text) {
		spw_set_err(err, errlen, "no number given");
		return -EINVAL;
	}
	if (!is_digit(text[0]) && !(text[0] == '-' && is_digit(text[1]))) {
		spw_set_err(err, errlen, "'%.*s' is not a whole number", QUOTE_MAX, text);
		return -EINVAL;
	}
	errno = 0;
	v = strtoll(text, &end, 10);
	if (*end) {
		spw_set_err(err, errlen, "'%.*s' is not a whole number", QUOTE_MAX, text);
		return -EINVAL;
	}
	if (errno == ERANGE || v < min || v > max) {
		spw_set_err(err, errlen, "%.*s is out of range (%lld..%lld)", QUOTE_MAX, text,
			    (long long)min, (long long)max);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

int spw_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out, char *err,
		  size_t errlen)
{
	uint64_t v;
	int ret = spw_parse_u64(text, min, max, &v, err, errlen);

	if (!ret)
		*out = (uint32_t)v;
	return ret;
}

int spw_parse_u16(const char *text, uint16_t min, uint16_t max, uint16_t *out, char *err,
		  size_t errlen)
{
	uint64_t v;
	int ret = spw_parse_u64(text, min, max, &v, err, errlen);

	if (!ret)
		*out = (uint16_t)v;
	return ret;
}

int spw_parse_u8(const char *text, uint8_t min, uint8_t max, uint8_t *out, char *err, size_t errlen)
{
	uint64_t v;
	int ret = spw_parse_u64(text, min, max, &v, err, errlen);

	if (!ret)
		*out = (uint8_t)v;
	return ret;
}

int spw_parse_int(const char *text, int min, int max, int *out, char *err, size_t errlen)
{
	int64_t v;
	int ret = spw_parse_i64(text, min, max, &v, err, errlen);

	if (!ret)
		*out = (int)v;
	return ret;
}

struct unit {
	const char *name;
	uint64_t ns;
};

/* Longest first is not needed: names are matched whole, "ms" never as "m" + "s". */
static const struct unit duration_units[] = {
    {"ns", 1},
    {"us", SPW_NSEC_PER_USEC},
    {"ms", SPW_NSEC_PER_MSEC},
    {"s", SPW_NSEC_PER_SEC},
    {"m", SPW_NSEC_PER_MIN},
    {"h", SPW_NSEC_PER_HOUR},
};

#define DURATION_UNITS "ns, us, ms, s, m or h"

static const struct unit *find_unit(const struct unit *units, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(units[i].name, name))
			return &units[i];
	return NULL;
}

void spw_format_duration(uint64_t ns, char *buf, size_t len)
{
	size_t i = sizeof(duration_units) / sizeof(duration_units[0]);

	if (!len)
		return;
	if (!ns) {
		snprintf(buf, len, "0s");
		return;
	}
	/* The largest unit that divides exactly; "ns" always does, so the loop always prints. */
	while (i--) {
		if (ns % duration_units[i].ns == 0) {
			snprintf(buf, len, "%llu%s",
				 (unsigned long long)(ns / duration_units[i].ns),
				 duration_units[i].name);
			return;
		}
	}
}

int spw_parse_duration_ns(const char *text, uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns,
			  char *err, size_t errlen)
{
	/* 128 bits: the whole part times the largest unit cannot overflow, so one check suffices.
	 */
	unsigned __int128 whole = 0, frac = 0, scale = 1, total;
	const struct unit *u;
	bool frac_seen = false;
	const char *p = text;
	unsigned int frac_digits = 0;

	if (!text || !*text) {
		spw_set_err(err, errlen, "no duration given");
		return -EINVAL;
	}
	if (!is_digit(*p))
		goto not_duration;
	for (; is_digit(*p); p++) {
		whole = whole * 10 + (unsigned int)(*p - '0');
		/* Saturate past 64 bits, keep scanning: the total check below then fails. */
		if (whole > UINT64_MAX)
			whole = (unsigned __int128)UINT64_MAX + 1;
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			goto not_duration;
		frac_seen = true;
		for (; is_digit(*p); p++) {
			if (++frac_digits > FRAC_DIGITS_MAX) {
				spw_set_err(err, errlen,
					    "duration '%.*s' has too many decimal places",
					    QUOTE_MAX, text);
				return -EINVAL;
			}
			frac = frac * 10 + (unsigned int)(*p - '0');
			scale *= 10;
		}
	}
	if (!*p) {
		/* "0" needs no unit: zero of anything is zero. */
		if (!frac_seen && whole == 0) {
			u = &duration_units[0];
			goto have_unit;
		}
		spw_set_err(err, errlen, "duration '%.*s' has no unit (" DURATION_UNITS ")",
			    QUOTE_MAX, text);
		return -EINVAL;
	}
	u = find_unit(duration_units, sizeof(duration_units) / sizeof(duration_units[0]), p);
	if (!u) {
		/* A unit made of letters is a wrong unit; anything else is not a duration at all.
		 */
		if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(p))
			goto not_duration;
		spw_set_err(err, errlen,
			    "duration '%.*s' has an unknown unit '%.*s' (" DURATION_UNITS ")",
			    QUOTE_MAX, text, QUOTE_MAX, p);
		return -EINVAL;
	}
have_unit:
	if ((frac * u->ns) % scale) {
		spw_set_err(err, errlen, "duration '%.*s' is not a whole number of nanoseconds",
			    QUOTE_MAX, text);
		return -EINVAL;
	}
	total = whole * u->ns + frac * u->ns / scale;
	if (total > UINT64_MAX) {
		spw_set_err(err, errlen, "duration '%.*s' is too long", QUOTE_MAX, text);
		return -ERANGE;
	}
	if (total < min_ns || total > max_ns) {
		char lo[SPW_DURATION_STRLEN], hi[SPW_DURATION_STRLEN];

		spw_format_duration(min_ns, lo, sizeof(lo));
		spw_format_duration(max_ns, hi, sizeof(hi));
		spw_set_err(err, errlen, "duration %.*s is out of range (%s..%s)", QUOTE_MAX, text,
			    lo, hi);
		return -ERANGE;
	}
	*out_ns = (uint64_t)total;
	return 0;

not_duration:
	spw_set_err(err, errlen,
		    "'%.*s' is not a duration (a number and a unit: " DURATION_UNITS ")", QUOTE_MAX,
		    text);
	return -EINVAL;
}

static const struct unit rate_periods[] = {
    {"s", SPW_NSEC_PER_SEC},
    {"m", SPW_NSEC_PER_MIN},
    {"h", SPW_NSEC_PER_HOUR},
};

int spw_parse_rate(const char *text, struct spw_rate *out, char *err, size_t errlen)
{
	const struct unit *u;
	unsigned long long count;
	char *end;

	if (!text || !*text) {
		spw_set_err(err, errlen, "no rate given");
		return -EINVAL;
	}
	if (!is_digit(text[0]))
		goto not_rate;
	errno = 0;
	count = strtoull(text, &end, 10);
	if (!*end) {
		spw_set_err(err, errlen,
			    "rate '%.*s' has no period (write %.*s/s, %.*s/m or %.*s/h)", QUOTE_MAX,
			    text, QUOTE_MAX, text, QUOTE_MAX, text, QUOTE_MAX, text);
		return -EINVAL;
	}
	if (*end != '/')
		goto not_rate;
	u = find_unit(rate_periods, sizeof(rate_periods) / sizeof(rate_periods[0]), end + 1);
	if (!u) {
		spw_set_err(err, errlen, "rate '%.*s' has an unknown period '%.*s' (s, m or h)",
			    QUOTE_MAX, text, QUOTE_MAX, end + 1);
		return -EINVAL;
	}
	/* Checked after the syntax, so "99999999999999999999/x" is reported for its period. */
	if (errno == ERANGE) {
		spw_set_err(err, errlen, "rate '%.*s' is too large", QUOTE_MAX, text);
		return -ERANGE;
	}
	out->count = count;
	out->period_ns = u->ns;
	return 0;

not_rate:
	spw_set_err(err, errlen, "'%.*s' is not a rate (a whole number per s, m or h, like 500/s)",
		    QUOTE_MAX, text);
	return -EINVAL;
}

int spw_rate_per_sec(const struct spw_rate *r, uint64_t max, uint64_t *per_sec, char *err,
		     size_t errlen)
{
	unsigned __int128 scaled;
	char period[SPW_DURATION_STRLEN];

	if (!r->period_ns) {
		spw_set_err(err, errlen, "rate has no period");
		return -EINVAL;
	}
	spw_format_duration(r->period_ns, period, sizeof(period));
	scaled = (unsigned __int128)r->count * SPW_NSEC_PER_SEC;
	if (scaled % r->period_ns) {
		spw_set_err(err, errlen, "rate %llu per %s is not a whole number per second",
			    (unsigned long long)r->count, period);
		return -EINVAL;
	}
	scaled /= r->period_ns;
	if (scaled > max) {
		spw_set_err(err, errlen, "rate %llu per %s is more than %llu per second",
			    (unsigned long long)r->count, period, (unsigned long long)max);
		return -ERANGE;
	}
	*per_sec = (uint64_t)scaled;
	return 0;
}
