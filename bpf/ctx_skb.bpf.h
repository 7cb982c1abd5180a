/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The context wrapper for TC (clsact). Same names as ctx_xdp.bpf.h, over a __sk_buff: at TC
 * ingress and egress the data starts at the Ethernet header, as in XDP.
 */
#ifndef SPW_CTX_SKB_BPF_H
#define SPW_CTX_SKB_BPF_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

typedef struct __sk_buff spw_ctx_t;

static __always_inline void *ctx_data(spw_ctx_t *ctx)
{
	return (void *)(long)ctx->data;
}

static __always_inline void *ctx_data_end(spw_ctx_t *ctx)
{
	return (void *)(long)ctx->data_end;
}

/*
 * Headers the parser reads must be in the linear area; a driver or GRO may have left them in
 * fragments. Pulling is skipped when they are already linear, the usual case.
 */
static __always_inline void ctx_prepare_parse(spw_ctx_t *ctx, __u32 want)
{
	__u32 len = ctx->len < want ? ctx->len : want;

	if (ctx_data(ctx) + len > ctx_data_end(ctx))
		bpf_skb_pull_data(ctx, len);
}

/* The whole packet, also the part outside the linear area. */
static __always_inline __u32 ctx_len(spw_ctx_t *ctx)
{
	return ctx->len;
}

/* Direct writes need the first len bytes linear and not shared with a clone. */
static __always_inline int ctx_make_writable(spw_ctx_t *ctx, __u32 len)
{
	return bpf_skb_pull_data(ctx, len);
}

static __always_inline int ctx_grow_head(spw_ctx_t *ctx, __u32 delta)
{
	return bpf_skb_change_head(ctx, delta, 0);
}

static __always_inline int ctx_set_len(spw_ctx_t *ctx, __u32 len)
{
	return bpf_skb_change_tail(ctx, len, 0);
}

/* From ingress, out of the same device's egress: TC's equivalent of XDP_TX. */
static __always_inline int ctx_bounce(spw_ctx_t *ctx)
{
	return bpf_redirect(ctx->ifindex, 0);
}

#endif /* SPW_CTX_SKB_BPF_H */
