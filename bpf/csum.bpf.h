/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internet checksum (RFC 1071) over packet bytes, for the replies spillway writes from scratch.
 * Only the reject path uses it, so a plain bounded loop beats helper gymnastics: the verifier
 * sees every read checked, and the lengths involved are short.
 */
#ifndef SPW_CSUM_BPF_H
#define SPW_CSUM_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

/* Longest region summed: an ICMPv6 header plus the longest quote (see reject.bpf.h). */
#define SPW_CSUM_MAX_BYTES 256
/* Furthest start of a summed region: L2 + IPv6 header, far more than any reply needs. */
#define SPW_CSUM_MAX_OFF 1024
/* A power of two minus one above SPW_CSUM_MAX_OFF + SPW_CSUM_MAX_BYTES. */
#define SPW_CSUM_OFF_MASK 2047

/*
 * Adds the 16-bit words of [data + off, data + off + len) to sum. len must be even; the
 * words are summed in memory order, which gives the right checksum stored as is.
 * Returns -1 if the region is not inside the packet.
 */
static __always_inline __s64 spw_csum_add(void *data, void *data_end, __u32 off, __u32 len,
					  __u64 sum)
{
	__u32 words = len / 2, i;

	if (len > SPW_CSUM_MAX_BYTES || off > SPW_CSUM_MAX_OFF)
		return -1;
		/* Unrolled, clang merges the bounds checks into one the verifier cannot follow. */
#pragma clang loop unroll(disable)
	for (i = 0; i < SPW_CSUM_MAX_BYTES / 2; i++) {
		__u32 o = off + i * 2;
		__u16 *w;

		if (i >= words)
			break;
		/* The mask changes nothing (off and len are checked above) but gives the verifier
		 * a hard bound on the offset, which it loses through clang's loop rewrites. */
		o &= SPW_CSUM_OFF_MASK;
		asm volatile("" : "+r"(o));
		w = data + o;
		if ((void *)(w + 1) > data_end)
			return -1;
		sum += *w;
	}
	return sum;
}

/* Sum of a small buffer on the stack (pseudo headers), same word order. */
static __always_inline __u64 spw_csum_add_buf(const void *buf, __u32 words, __u64 sum)
{
	const __u16 *w = buf;
	__u32 i;

	for (i = 0; i < words; i++)
		sum += w[i];
	return sum;
}

static __always_inline __u16 spw_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

#endif /* SPW_CSUM_BPF_H */
