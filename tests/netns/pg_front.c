// SPDX-License-Identifier: GPL-2.0-only
/* spillwayd in front of a real PostgreSQL in the netns tests: see pg_front.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "attach.h"
#include "pg_front.h"
#include "empty_xdp.skel.h"

int pg_front_group_setup(void **state, size_t ctx_size, const char *dir_template)
{
	struct pg_front *f = calloc(1, ctx_size);

	*state = NULL;
	if (!f)
		return -1;
	if (strlen(dir_template) >= sizeof(f->dir)) {
		free(f);
		return -1;
	}
	strcpy(f->dir, dir_template);
	if (spw_pg_create_temp(&f->pg, f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int pg_front_group_teardown(void **state)
{
	struct pg_front *f = *state;

	if (!f)
		return 0;
	spw_pg_remove_temp(&f->pg, f->dir);
	free(f);
	*state = NULL;
	return 0;
}

void pg_front_reset(struct pg_front *f)
{
	memset(&f->topo, 0, sizeof(f->topo));
	memset(&f->d, 0, sizeof(f->d));
	f->empty = NULL;
}

/* .3 of the client's /24, a /32 beside the veth's own address. */
static void add_shed_addr(struct pg_front *f)
{
	char host[INET_ADDRSTRLEN + 4];
	struct in_addr a = f->topo.end[SPW_TOPO_CLI].v4;

	a.s_addr = htonl((ntohl(a.s_addr) & 0xffffff00u) | 3);
	assert_non_null(inet_ntop(AF_INET, &a, f->shed_addr, sizeof(f->shed_addr)));
	snprintf(host, sizeof(host), "%s/32", f->shed_addr);
	assert_int_equal(spw_topo_addr_add(&f->topo, SPW_TOPO_CLI, host), 0);
}

void pg_front_start(struct pg_front *f, int port, const char *pg_options)
{
	char bin[4096], opts[256];
	int n;

	assert_int_equal(spw_daemon_binary(bin, sizeof(bin)), 0);
	assert_int_equal(spw_topo_create(&f->topo), 0);
	assert_int_equal(spw_topo_peer_xdp(&f->topo, &f->empty), 0);
	add_shed_addr(f);
	n = snprintf(opts, sizeof(opts), "-c listen_addresses=%s -c port=%d %s",
		     f->topo.end[SPW_TOPO_SRV].v4_str, port, pg_options);
	assert_true(n > 0 && (size_t)n < sizeof(opts));
	assert_int_equal(spw_pg_start(&f->pg, f->topo.end[SPW_TOPO_SRV].ns, opts), 0);
	assert_int_equal(spw_daemon_init(&f->d, f->topo.end[SPW_TOPO_SRV].ns, true), 0);
}

void pg_front_teardown(struct pg_front *f)
{
	spw_pg_stop(&f->pg);
	spw_daemon_finish(&f->d);
	empty_xdp__destroy(f->empty);
	spw_topo_destroy(&f->topo);
}
