// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libspillway-client: the one random source of the library (Retry-After jitter, the share of
 * first tries a partly admitted tier lets through, a consumer's resume jitter). xorshift64*:
 * no lock and no syscall, and good enough to spread clients out; nothing here is secret.
 */
#include "spw_client_priv.h"

uint64_t spw_client_rand_next(uint64_t *x)
{
	if (!*x)
		*x = 0x9e3779b97f4a7c15ULL; /* xorshift stays at 0 forever from 0 */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

uint32_t spw_client_rand_between(uint64_t *x, uint32_t lo, uint32_t hi)
{
	if (hi <= lo)
		return lo;
	/* The high half: the low bits of xorshift64* are its weakest. */
	return lo + (uint32_t)((spw_client_rand_next(x) >> 32) % ((uint64_t)hi - lo + 1));
}

uint32_t spw_client_draw(uint32_t lo, uint32_t hi)
{
	/* One state per thread: no lock and no shared cache line between threads. */
	static __thread uint64_t x;

	if (!x)
		x = (spw_client_now_ns() ^ ((uint64_t)(uintptr_t)&x * 0x9e3779b97f4a7c15ULL)) | 1;
	return spw_client_rand_between(&x, lo, hi);
}
