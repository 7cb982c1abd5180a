/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the package layer's tests share about their topology: the server side, where the daemon
 * runs and attaches. Include after cmocka.h: failures fail the running test.
 */
#ifndef SPW_PACKAGE_TEST_H
#define SPW_PACKAGE_TEST_H

#include <stdint.h>
#include "netns.h"
#include "xdp_watch.h"

static inline const char *srv_ns_of(const struct spw_topo *t)
{
	return t->end[SPW_TOPO_SRV].ns;
}

/* The id of the XDP program on the server's veth, 0 when there is none. */
static inline uint32_t srv_xdp_id(const struct spw_topo *t)
{
	uint32_t id = 0;

	assert_int_equal(
	    spw_xdp_prog_id(t->end[SPW_TOPO_SRV].ns, t->end[SPW_TOPO_SRV].ifindex, &id), 0);
	return id;
}

#endif /* SPW_PACKAGE_TEST_H */
