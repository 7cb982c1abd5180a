// SPDX-License-Identifier: GPL-2.0-only
/* spw_strnum: the exact value of every good input, the exact code and message of every bad one. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "spw_strnum.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Output is preset to this so a failed parse that writes *out is caught. */
#define POISON 0x5a5a5a5a5a5a5a5aULL

struct u64_case {
	const char *text;
	uint64_t min, max;
	int ret;
	uint64_t value;	 /* when ret == 0 */
	const char *err; /* when ret != 0 */
};

static const struct u64_case u64_cases[] = {
    {"0", 0, 10, 0, 0, NULL},
    {"10", 0, 10, 0, 10, NULL},
    {"007", 0, 10, 0, 7, NULL}, /* decimal, not octal */
    {"18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX, NULL},
    {"11", 0, 10, -ERANGE, 0, "11 is out of range (0..10)"},
    {"4", 5, 10, -ERANGE, 0, "4 is out of range (5..10)"},
    {"18446744073709551616", 0, UINT64_MAX, -ERANGE, 0,
     "18446744073709551616 is out of range (0..18446744073709551615)"},
    {"99999999999999999999999", 0, 100, -ERANGE, 0,
     "99999999999999999999999 is out of range (0..100)"},
    /* strtoull would take "-1" as 2^64-1: here it is a negative number, out of range. */
    {"-1", 0, UINT64_MAX, -ERANGE, 0, "-1 is out of range (0..18446744073709551615)"},
    {"", 0, 10, -EINVAL, 0, "no number given"},
    {"+5", 0, 10, -EINVAL, 0, "'+5' is not a whole number"},
    {" 5", 0, 10, -EINVAL, 0, "' 5' is not a whole number"},
    {"5 ", 0, 10, -EINVAL, 0, "'5 ' is not a whole number"},
    {"5x", 0, 10, -EINVAL, 0, "'5x' is not a whole number"},
    {"0x10", 0, 100, -EINVAL, 0, "'0x10' is not a whole number"},
    {"1.5", 0, 10, -EINVAL, 0, "'1.5' is not a whole number"},
    {"1e3", 0, 10000, -EINVAL, 0, "'1e3' is not a whole number"},
    {"-", 0, 10, -EINVAL, 0, "'-' is not a whole number"},
    {"--1", 0, 10, -EINVAL, 0, "'--1' is not a whole number"},
    {"-1x", 0, 10, -EINVAL, 0, "'-1x' is not a whole number"},
    {"abc", 0, 10, -EINVAL, 0, "'abc' is not a whole number"},
};

static void test_u64(void **state)
{
	char err[160];
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(u64_cases); i++) {
		const struct u64_case *c = &u64_cases[i];

		print_message("  '%s' in %llu..%llu\n", c->text, (unsigned long long)c->min,
			      (unsigned long long)c->max);
		v = POISON;
		err[0] = '\0';
		assert_int_equal(spw_parse_u64(c->text, c->min, c->max, &v, err, sizeof(err)),
				 c->ret);
		if (c->ret == 0) {
			assert_int_equal(v, c->value);
			assert_string_equal(err, "");
		} else {
			assert_int_equal(v, POISON); /* untouched on error */
			assert_string_equal(err, c->err);
		}
	}
}

struct i64_case {
	const char *text;
	int64_t min, max;
	int ret;
	int64_t value;
	const char *err;
};

static const struct i64_case i64_cases[] = {
    {"-5", -10, 10, 0, -5, NULL},
    {"0", -10, 10, 0, 0, NULL},
    {"-0", -10, 10, 0, 0, NULL},
    {"10", -10, 10, 0, 10, NULL},
    {"-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN, NULL},
    {"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX, NULL},
    {"-11", -10, 10, -ERANGE, 0, "-11 is out of range (-10..10)"},
    {"11", -10, 10, -ERANGE, 0, "11 is out of range (-10..10)"},
    {"9223372036854775808", INT64_MIN, INT64_MAX, -ERANGE, 0,
     "9223372036854775808 is out of range (-9223372036854775808..9223372036854775807)"},
    {"-9223372036854775809", INT64_MIN, INT64_MAX, -ERANGE, 0,
     "-9223372036854775809 is out of range (-9223372036854775808..9223372036854775807)"},
    {"", -10, 10, -EINVAL, 0, "no number given"},
    {"+1", -10, 10, -EINVAL, 0, "'+1' is not a whole number"},
    {"- 1", -10, 10, -EINVAL, 0, "'- 1' is not a whole number"},
    {"1-", -10, 10, -EINVAL, 0, "'1-' is not a whole number"},
    {"\t1", -10, 10, -EINVAL, 0, "'\t1' is not a whole number"},
};

static void test_i64(void **state)
{
	char err[160];
	int64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(i64_cases); i++) {
		const struct i64_case *c = &i64_cases[i];

		print_message("  '%s' in %lld..%lld\n", c->text, (long long)c->min,
			      (long long)c->max);
		v = (int64_t)POISON;
		err[0] = '\0';
		assert_int_equal(spw_parse_i64(c->text, c->min, c->max, &v, err, sizeof(err)),
				 c->ret);
		if (c->ret == 0) {
			assert_true(v == c->value);
			assert_string_equal(err, "");
		} else {
			assert_true(v == (int64_t)POISON);
			assert_string_equal(err, c->err);
		}
	}
}

/* The narrow types share the u64 core; check each stores its own width and range. */
static void test_narrow_types(void **state)
{
	char err[160];
	uint32_t u32 = 0;
	uint16_t u16 = 0;
	uint8_t u8 = 0;
	int i = 0;

	(void)state;
	assert_int_equal(spw_parse_u32("4294967295", 0, UINT32_MAX, &u32, err, sizeof(err)), 0);
	assert_int_equal(u32, UINT32_MAX);
	assert_int_equal(spw_parse_u32("4294967296", 0, UINT32_MAX, &u32, err, sizeof(err)),
			 -ERANGE);
	assert_string_equal(err, "4294967296 is out of range (0..4294967295)");
	assert_int_equal(u32, UINT32_MAX);

	assert_int_equal(spw_parse_u16("8080", 1, UINT16_MAX, &u16, err, sizeof(err)), 0);
	assert_int_equal(u16, 8080);
	assert_int_equal(spw_parse_u16("0", 1, UINT16_MAX, &u16, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "0 is out of range (1..65535)");
	assert_int_equal(spw_parse_u16("65536", 1, UINT16_MAX, &u16, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "65536 is out of range (1..65535)");
	assert_int_equal(u16, 8080);

	assert_int_equal(spw_parse_u8("7", 0, 7, &u8, err, sizeof(err)), 0);
	assert_int_equal(u8, 7);
	assert_int_equal(spw_parse_u8("8", 0, 7, &u8, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "8 is out of range (0..7)");
	assert_int_equal(spw_parse_u8("256", 0, UINT8_MAX, &u8, err, sizeof(err)), -ERANGE);
	assert_int_equal(u8, 7);

	assert_int_equal(spw_parse_int("-2147483648", INT_MIN, INT_MAX, &i, err, sizeof(err)), 0);
	assert_int_equal(i, INT_MIN);
	assert_int_equal(spw_parse_int("2147483648", INT_MIN, INT_MAX, &i, err, sizeof(err)),
			 -ERANGE);
	assert_string_equal(err, "2147483648 is out of range (-2147483648..2147483647)");
	assert_int_equal(i, INT_MIN);

	/* NULL text and NULL err are fine. */
	assert_int_equal(spw_parse_u32(NULL, 0, 1, &u32, NULL, 0), -EINVAL);
	assert_int_equal(spw_parse_int(NULL, 0, 1, &i, NULL, 0), -EINVAL);
	assert_int_equal(spw_parse_u32("x", 0, 1, &u32, NULL, 0), -EINVAL);
}

struct dur_case {
	const char *text;
	uint64_t min, max;
	int ret;
	uint64_t ns;
	const char *err;
};

#define ANY 0, UINT64_MAX

static const struct dur_case dur_cases[] = {
    {"100ms", ANY, 0, 100000000ULL, NULL},
    {"3s", ANY, 0, 3000000000ULL, NULL},
    {"1m", ANY, 0, 60000000000ULL, NULL},
    {"2h", ANY, 0, 7200000000000ULL, NULL},
    {"250us", ANY, 0, 250000ULL, NULL},
    {"17ns", ANY, 0, 17ULL, NULL},
    {"0", ANY, 0, 0, NULL},
    {"0ms", ANY, 0, 0, NULL},
    {"1.5s", ANY, 0, 1500000000ULL, NULL},
    {"0.25ms", ANY, 0, 250000ULL, NULL},
    {"0.000000001s", ANY, 0, 1ULL, NULL},
    {"1.000ns", ANY, 0, 1ULL, NULL},
    {"18446744073709551615ns", ANY, 0, UINT64_MAX, NULL},
    {"10s", 100000000ULL, 10000000000ULL, 0, 10000000000ULL, NULL},
    {"11s", 100000000ULL, 10000000000ULL, -ERANGE, 0, "duration 11s is out of range (100ms..10s)"},
    {"50ms", 100000000ULL, 10000000000ULL, -ERANGE, 0,
     "duration 50ms is out of range (100ms..10s)"},
    {"0", 1, 1000, -ERANGE, 0, "duration 0 is out of range (1ns..1us)"},
    {"18446744073709551616ns", ANY, -ERANGE, 0, "duration '18446744073709551616ns' is too long"},
    {"18446744074s", ANY, -ERANGE, 0, "duration '18446744074s' is too long"},
    {"99999999999999999999999999h", ANY, -ERANGE, 0,
     "duration '99999999999999999999999999h' is too long"},
    {"100", ANY, -EINVAL, 0, "duration '100' has no unit (ns, us, ms, s, m or h)"},
    {"0.5", ANY, -EINVAL, 0, "duration '0.5' has no unit (ns, us, ms, s, m or h)"},
    {"3S", ANY, -EINVAL, 0, "duration '3S' has an unknown unit 'S' (ns, us, ms, s, m or h)"},
    {"3sec", ANY, -EINVAL, 0, "duration '3sec' has an unknown unit 'sec' (ns, us, ms, s, m or h)"},
    {"3mss", ANY, -EINVAL, 0, "duration '3mss' has an unknown unit 'mss' (ns, us, ms, s, m or h)"},
    {"1.5ns", ANY, -EINVAL, 0, "duration '1.5ns' is not a whole number of nanoseconds"},
    {"0.0000000001s", ANY, -EINVAL, 0,
     "duration '0.0000000001s' is not a whole number of nanoseconds"},
    {"1.0000000000000000000s", ANY, -EINVAL, 0,
     "duration '1.0000000000000000000s' has too many decimal places"},
    {"", ANY, -EINVAL, 0, "no duration given"},
    {"ms", ANY, -EINVAL, 0, "'ms' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {"-1s", ANY, -EINVAL, 0,
     "'-1s' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {"+1s", ANY, -EINVAL, 0,
     "'+1s' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {" 1s", ANY, -EINVAL, 0,
     "' 1s' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {"1 s", ANY, -EINVAL, 0,
     "'1 s' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {"1s ", ANY, -EINVAL, 0,
     "'1s ' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {".5s", ANY, -EINVAL, 0,
     "'.5s' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {"1.s", ANY, -EINVAL, 0,
     "'1.s' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {"1..5s", ANY, -EINVAL, 0,
     "'1..5s' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
    {"1s2ms", ANY, -EINVAL, 0,
     "'1s2ms' is not a duration (a number and a unit: ns, us, ms, s, m or h)"},
};

static void test_duration(void **state)
{
	char err[200];
	uint64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(dur_cases); i++) {
		const struct dur_case *c = &dur_cases[i];

		print_message("  '%s'\n", c->text);
		ns = POISON;
		err[0] = '\0';
		assert_int_equal(
		    spw_parse_duration_ns(c->text, c->min, c->max, &ns, err, sizeof(err)), c->ret);
		if (c->ret == 0) {
			assert_int_equal(ns, c->ns);
			assert_string_equal(err, "");
		} else {
			assert_int_equal(ns, POISON);
			assert_string_equal(err, c->err);
		}
	}
	assert_int_equal(spw_parse_duration_ns(NULL, ANY, &ns, NULL, 0), -EINVAL);
}

static void test_format_duration(void **state)
{
	static const struct {
		uint64_t ns;
		const char *text;
	} cases[] = {
	    {0, "0s"},
	    {1, "1ns"},
	    {1500, "1500ns"},
	    {250000, "250us"},
	    {100000000ULL, "100ms"},
	    {1500000000ULL, "1500ms"},
	    {90000000000ULL, "90s"},
	    {120000000000ULL, "2m"},
	    {3600000000000ULL, "1h"},
	    {5400000000000ULL, "90m"},
	    {UINT64_MAX, "18446744073709551615ns"},
	};
	char buf[SPW_DURATION_STRLEN];
	uint64_t back;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		spw_format_duration(cases[i].ns, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
		/* What is printed parses back to the same value. */
		assert_int_equal(spw_parse_duration_ns(buf, ANY, &back, NULL, 0), 0);
		assert_int_equal(back, cases[i].ns);
	}
}

struct rate_case {
	const char *text;
	int ret;
	uint64_t count, period_ns;
	const char *err;
};

static const struct rate_case rate_cases[] = {
    {"500/s", 0, 500, SPW_NSEC_PER_SEC, NULL},
    {"30/m", 0, 30, SPW_NSEC_PER_MIN, NULL},
    {"7200/h", 0, 7200, SPW_NSEC_PER_HOUR, NULL},
    {"0/s", 0, 0, SPW_NSEC_PER_SEC, NULL},
    {"18446744073709551615/s", 0, UINT64_MAX, SPW_NSEC_PER_SEC, NULL},
    {"18446744073709551616/s", -ERANGE, 0, 0, "rate '18446744073709551616/s' is too large"},
    {"500", -EINVAL, 0, 0, "rate '500' has no period (write 500/s, 500/m or 500/h)"},
    {"500/", -EINVAL, 0, 0, "rate '500/' has an unknown period '' (s, m or h)"},
    {"500/d", -EINVAL, 0, 0, "rate '500/d' has an unknown period 'd' (s, m or h)"},
    {"500/sec", -EINVAL, 0, 0, "rate '500/sec' has an unknown period 'sec' (s, m or h)"},
    {"500/s ", -EINVAL, 0, 0, "rate '500/s ' has an unknown period 's ' (s, m or h)"},
    {"500/ms", -EINVAL, 0, 0, "rate '500/ms' has an unknown period 'ms' (s, m or h)"},
    {"", -EINVAL, 0, 0, "no rate given"},
    {"/s", -EINVAL, 0, 0, "'/s' is not a rate (a whole number per s, m or h, like 500/s)"},
    {"-1/s", -EINVAL, 0, 0, "'-1/s' is not a rate (a whole number per s, m or h, like 500/s)"},
    {"+1/s", -EINVAL, 0, 0, "'+1/s' is not a rate (a whole number per s, m or h, like 500/s)"},
    {"1.5/s", -EINVAL, 0, 0, "'1.5/s' is not a rate (a whole number per s, m or h, like 500/s)"},
    {"500 /s", -EINVAL, 0, 0, "'500 /s' is not a rate (a whole number per s, m or h, like 500/s)"},
    {"500s", -EINVAL, 0, 0, "'500s' is not a rate (a whole number per s, m or h, like 500/s)"},
};

static void test_rate(void **state)
{
	struct spw_rate r;
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rate_cases); i++) {
		const struct rate_case *c = &rate_cases[i];

		print_message("  '%s'\n", c->text);
		r.count = r.period_ns = POISON;
		err[0] = '\0';
		assert_int_equal(spw_parse_rate(c->text, &r, err, sizeof(err)), c->ret);
		if (c->ret == 0) {
			assert_int_equal(r.count, c->count);
			assert_int_equal(r.period_ns, c->period_ns);
			assert_string_equal(err, "");
		} else {
			assert_int_equal(r.count, POISON);
			assert_int_equal(r.period_ns, POISON);
			assert_string_equal(err, c->err);
		}
	}
	assert_int_equal(spw_parse_rate(NULL, &r, NULL, 0), -EINVAL);
}

static void test_rate_per_sec(void **state)
{
	struct spw_rate r;
	uint64_t per_sec;
	char err[200];

	(void)state;
	assert_int_equal(spw_parse_rate("500/s", &r, NULL, 0), 0);
	assert_int_equal(spw_rate_per_sec(&r, 1000, &per_sec, err, sizeof(err)), 0);
	assert_int_equal(per_sec, 500);

	assert_int_equal(spw_parse_rate("120/m", &r, NULL, 0), 0);
	assert_int_equal(spw_rate_per_sec(&r, 1000, &per_sec, err, sizeof(err)), 0);
	assert_int_equal(per_sec, 2);

	assert_int_equal(spw_parse_rate("7200/h", &r, NULL, 0), 0);
	assert_int_equal(spw_rate_per_sec(&r, 1000, &per_sec, err, sizeof(err)), 0);
	assert_int_equal(per_sec, 2);

	/* 30/m is half a flow per second: not representable as a whole rate_per_sec. */
	per_sec = POISON;
	assert_int_equal(spw_parse_rate("30/m", &r, NULL, 0), 0);
	assert_int_equal(spw_rate_per_sec(&r, 1000, &per_sec, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate 30 per 1m is not a whole number per second");
	assert_int_equal(per_sec, POISON);

	assert_int_equal(spw_parse_rate("1001/s", &r, NULL, 0), 0);
	assert_int_equal(spw_rate_per_sec(&r, 1000, &per_sec, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "rate 1001 per 1s is more than 1000 per second");

	/* count * 1e9 overflows 64 bits: must still be computed exactly. */
	assert_int_equal(spw_parse_rate("18446744073709551615/s", &r, NULL, 0), 0);
	assert_int_equal(spw_rate_per_sec(&r, UINT64_MAX, &per_sec, err, sizeof(err)), 0);
	assert_int_equal(per_sec, UINT64_MAX);

	r.count = 1;
	r.period_ns = 0;
	assert_int_equal(spw_rate_per_sec(&r, 1000, &per_sec, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate has no period");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_u64),
	    cmocka_unit_test(test_i64),
	    cmocka_unit_test(test_narrow_types),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_format_duration),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_rate_per_sec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
