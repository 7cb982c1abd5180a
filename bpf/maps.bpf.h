/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every map of the data plane, defined from the one list (include/spillway_maps.h). All are
 * pinned by name under the pin root, so the XDP and TC objects, the CLI and a restarted daemon
 * share one set.
 */
#ifndef SPW_MAPS_BPF_H
#define SPW_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "spillway_maps.h"

#define SPW_MAP_DEFINE(_name, _type, _max, _flags, _key, _value)                                   \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_##_type);                                                \
		__uint(max_entries, _max);                                                         \
		__uint(map_flags, _flags);                                                         \
		__type(key, _key);                                                                 \
		__type(value, _value);                                                             \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                                               \
	} spw_##_name SEC(".maps");

SPW_MAPS(SPW_MAP_DEFINE)
#undef SPW_MAP_DEFINE

#endif /* SPW_MAPS_BPF_H */
