/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The user-space side of the ABI that needs no BPF call: the values the data plane's reads
 * return, how a service and an attach are named, and the pure helpers over them. Config,
 * control and export code include this, never spw_dataplane.h: they are built into the pure
 * library (no libbpf), so a BPF call there is a link error.
 */
#ifndef SPW_TYPES_H
#define SPW_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "spillway_abi.h"
#include "spillway_names.h"

enum spw_attach_mode {
#define SPW_ATTACH_MODE_ENUM(id, name) SPW_ATTACH_##id,
	SPW_ATTACH_MODES(SPW_ATTACH_MODE_ENUM)
#undef SPW_ATTACH_MODE_ENUM
	    SPW_ATTACH_MODE_COUNT
};

/* A mode's name ("xdp-generic"), "?" when out of range. */
const char *spw_attach_mode_name(unsigned int mode);
/* The mode named name; -EINVAL when none is. */
int spw_attach_mode_parse(const char *name, enum spw_attach_mode *mode);
/* The names for a message: "xdp, xdp-generic or tc". */
void spw_attach_modes_text(char *buf, size_t len);

enum spw_xdp_dispatcher {
#define SPW_XDP_DISPATCHER_ENUM(id, name) SPW_XDP_VIA_##id,
	SPW_XDP_DISPATCHERS(SPW_XDP_DISPATCHER_ENUM)
#undef SPW_XDP_DISPATCHER_ENUM
	    SPW_XDP_DISPATCHER_COUNT
};

/* A dispatcher's name ("libxdp"), "?" when out of range. */
const char *spw_xdp_dispatcher_name(unsigned int via);
/* The dispatcher named name; -EINVAL when none is. */
int spw_xdp_dispatcher_parse(const char *name, enum spw_xdp_dispatcher *via);

/* A service: (protocol, port, optional local address) -> id. */
struct spw_service_match {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port; /* host order */
	bool has_addr; /* bound to one local address */
	uint8_t addr[SPW_ADDR_LEN];
};

/* A counter summed over all CPUs. */
struct spw_count {
	uint64_t packets;
	uint64_t bytes;
};

/* The response-latency histogram of (service, tier), summed over CPUs. */
struct spw_latency_hist {
	uint64_t buckets[SPW_LAT_BUCKETS]; /* see include/spillway_latency.h for the bounds */
	uint64_t count;			   /* sum of the buckets */
};

/*
 * Latency at quantile q (0 < q <= 1) in microseconds, interpolated linearly inside the log2
 * bucket that holds it. -ENODATA when the histogram is empty. Pure: no BPF calls.
 */
int spw_latency_quantile(const struct spw_latency_hist *h, double q, double *us);

/* A policy with defaults: everything admitted, tier 0 protected, lease already expired. */
void spw_policy_init(struct spw_policy *p, uint8_t tier_count, uint8_t default_tier);

/* A key for (kind, name); -EINVAL when the name is empty or too long. */
int spw_report_key_make(struct spw_report_key *key, enum spw_report_kind kind, const char *name);

/*
 * Is a map of SPW_MAPS laid out as this build expects? key_size and value_size as the kernel
 * reports them (bpf_map_info; per CPU maps: one CPU's value). 0, -ENOENT when name is no map of
 * the list, -EPROTO when a size differs: reading it with these structs would corrupt it.
 */
int spw_map_layout_check(const char *name, uint32_t key_size, uint32_t value_size);

/* Metric label of a reason ("shed_level"), or NULL when out of range. */
const char *spw_reason_name(unsigned int reason);
/* True for the reasons that refused a new flow: the shed/s of status and /v1/state. */
bool spw_reason_refuses(unsigned int reason);

/* CLOCK_MONOTONIC in ns: the clock of leases and bucket timestamps. */
uint64_t spw_now_ns(void);

/* A new spw_policy_rec.stamp (see spw_policy_stamp_after): never 0 or 1, and never one this
 * process returned in the last 2^31 us. */
uint32_t spw_policy_stamp_next(void);
uint32_t spw_policy_stamp_after(uint32_t prev, uint32_t now_us);

#endif /* SPW_TYPES_H */
