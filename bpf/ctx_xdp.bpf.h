/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The context wrapper for XDP. The admission core (admission.bpf.h) is written once against
 * these few functions; ctx_skb.bpf.h gives the same names for TC. (cilium's ctx/xdp.h idea.)
 */
#ifndef SPW_CTX_XDP_BPF_H
#define SPW_CTX_XDP_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef struct xdp_md spw_ctx_t;

static __always_inline void *ctx_data(spw_ctx_t *ctx)
{
	return (void *)(long)ctx->data;
}

static __always_inline void *ctx_data_end(spw_ctx_t *ctx)
{
	return (void *)(long)ctx->data_end;
}

/* Bytes of the frame (linear XDP: no fragments, the programs are not loaded as xdp.frags). */
static __always_inline __u32 ctx_len(spw_ctx_t *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	/* Keeps clang from folding the length into arithmetic on pkt_end, which the verifier
	 * forbids ("pointer arithmetic on pkt_end prohibited"). */
	asm volatile("" : "+r"(len));
	return len;
}

/* Linear XDP frames hold every header already. */
static __always_inline void ctx_prepare_parse(spw_ctx_t *ctx, __u32 want)
{
}

/* XDP data is always linear and writable. */
static __always_inline int ctx_make_writable(spw_ctx_t *ctx, __u32 len)
{
	return 0;
}

/* Room for delta more bytes in front of the frame; XDP has 256 bytes of headroom. */
static __always_inline int ctx_grow_head(spw_ctx_t *ctx, __u32 delta)
{
	return bpf_xdp_adjust_head(ctx, -(int)delta);
}

static __always_inline int ctx_set_len(spw_ctx_t *ctx, __u32 len)
{
	return bpf_xdp_adjust_tail(ctx, (int)len - (int)ctx_len(ctx));
}

/* Send the rewritten frame back out of the interface it came in on. */
static __always_inline int ctx_bounce(spw_ctx_t *ctx)
{
	return XDP_TX;
}

#endif /* SPW_CTX_XDP_BPF_H */
