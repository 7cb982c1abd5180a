/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Strict parsing of the numbers people type into the config file and the CLI: whole numbers
 * with a range, durations ("100ms") and rates ("500/s"). Pure C, no BPF calls.
 *
 * Strict means a typo is an error, never a different value: decimal digits only (no hex, no
 * octal "010", no leading '+' or whitespace, nothing after the number), "-" only where the
 * type is signed, and the range checked here rather than by every caller.
 *
 * Every function returns 0, -EINVAL (not a number of that kind) or -ERANGE (a number, but too
 * large, too small or outside [min, max]); *out is written only on success. When err is not
 * NULL a plain-words reason is written into it ("70000 is out of range (0..65535)"), for the
 * caller to prefix with where the value came from (file:line, option name).
 */
#ifndef SPW_STRNUM_H
#define SPW_STRNUM_H

#include <stddef.h>
#include <stdint.h>

int spw_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *err,
		  size_t errlen);
int spw_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out, char *err,
		  size_t errlen);
int spw_parse_u16(const char *text, uint16_t min, uint16_t max, uint16_t *out, char *err,
		  size_t errlen);
int spw_parse_u8(const char *text, uint8_t min, uint8_t max, uint8_t *out, char *err,
		 size_t errlen);
int spw_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out, char *err,
		  size_t errlen);
int spw_parse_int(const char *text, int min, int max, int *out, char *err, size_t errlen);

/* Nanoseconds per unit accepted in durations and rates. */
#define SPW_NSEC_PER_USEC 1000ULL
#define SPW_NSEC_PER_MSEC 1000000ULL
#define SPW_NSEC_PER_SEC  1000000000ULL
#define SPW_NSEC_PER_MIN  (60 * SPW_NSEC_PER_SEC)
#define SPW_NSEC_PER_HOUR (3600 * SPW_NSEC_PER_SEC)

/*
 * A duration in ns: a number and a unit with nothing between, unit one of ns, us, ms, s, m
 * (minutes), h. A decimal fraction is fine when the result is whole nanoseconds ("1.5s",
 * "0.25ms"; not "1.5ns"). A unit is required, since "100" could mean anything, except for a
 * bare "0". The result must lie in [min_ns, max_ns].
 */
int spw_parse_duration_ns(const char *text, uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns,
			  char *err, size_t errlen);
/* The shortest exact form: 100000000 -> "100ms", 90 s -> "90s", 0 -> "0s". */
#define SPW_DURATION_STRLEN 32
void spw_format_duration(uint64_t ns, char *buf, size_t len);

/*
 * A rate: "COUNT/PERIOD" with a whole COUNT and PERIOD one of s, m, h ("500/s", "30/m").
 * Kept as a fraction so "30/m" stays exact; a zero count is valid and means none at all (the
 * caller must not pass it on where 0 means "no limit", as spw_policy.rate_per_sec does).
 */
struct spw_rate {
	uint64_t count;	    /* events ... */
	uint64_t period_ns; /* ... per this many ns: SPW_NSEC_PER_SEC for "/s" */
};

int spw_parse_rate(const char *text, struct spw_rate *out, char *err, size_t errlen);
/*
 * The rate in whole events per second, at most max: -EINVAL when it is not a whole number per
 * second ("30/m" is 0.5/s), -ERANGE when above max.
 */
int spw_rate_per_sec(const struct spw_rate *r, uint64_t max, uint64_t *per_sec, char *err,
		     size_t errlen);

#endif /* SPW_STRNUM_H */
