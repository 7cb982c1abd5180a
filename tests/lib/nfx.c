// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "attach.h"
#include "empty_xdp.skel.h"
#include "nfx.h"

int spw_nfx_open(struct spw_nfx *n, enum spw_attach_mode mode, const struct spw_dp_opts *opts)
{
	static const struct spw_dp_opts none;
	int err;

	n->mode = mode;
	err = spw_topo_create(&n->topo);
	if (err) {
		fprintf(stderr, "nfx: creating the namespaces: %s\n", strerror(-err));
		return err;
	}
	err = spw_fixture_open_opts(&n->fx, opts ? opts : &none);
	if (err) {
		fprintf(stderr, "nfx: opening the data plane: %s\n", strerror(-err));
		return err;
	}
	n->fx_open = true;
	n->dp = n->fx.dp;
	return 0;
}

int spw_nfx_attach(struct spw_nfx *n)
{
	int err = spw_topo_attach(&n->topo, n->dp, n->mode);

	if (err) {
		fprintf(stderr, "nfx: attach to %s in %s: %s\n", n->topo.end[SPW_TOPO_SRV].ifname,
			n->topo.end[SPW_TOPO_SRV].ns, strerror(-err));
		return err;
	}
	n->attached = true;
	if (n->mode == SPW_ATTACH_TC)
		return 0;
	return spw_topo_peer_xdp(&n->topo, &n->empty);
}

int spw_nfx_close(struct spw_nfx *n)
{
	char pin_root[SPW_FX_PIN_LEN];
	bool ns_left, pins_left;
	struct stat st;

	empty_xdp__destroy(n->empty);
	n->empty = NULL;
	if (n->attached) {
		int err = spw_topo_detach(&n->topo, n->dp);

		/* Not fatal: deleting the namespace takes the veth and its hooks anyway. */
		if (err)
			fprintf(stderr, "nfx: detach: %s\n", strerror(-err));
	}
	n->attached = false;
	snprintf(pin_root, sizeof(pin_root), "%s", n->fx.pin_root);
	if (n->fx_open)
		spw_fixture_close(&n->fx);
	n->fx_open = false;
	n->dp = NULL;
	spw_topo_destroy(&n->topo);
	ns_left = spw_netns_exists(n->topo.end[SPW_TOPO_SRV].ns) ||
		  spw_netns_exists(n->topo.end[SPW_TOPO_CLI].ns);
	pins_left = pin_root[0] && stat(pin_root, &st) == 0;
	if (ns_left)
		fprintf(stderr, "nfx: namespace %s or %s is still there\n",
			n->topo.end[SPW_TOPO_SRV].ns, n->topo.end[SPW_TOPO_CLI].ns);
	if (pins_left)
		fprintf(stderr, "nfx: pin root %s is still there\n", pin_root);
	return ns_left || pins_left ? -1 : 0;
}

const char *spw_nfx_mode_name(const struct spw_nfx *n)
{
	return n->mode == SPW_ATTACH_TC ? "tc" : "xdp";
}

int spw_nfx_socket(const struct spw_nfx *n, enum spw_topo_side side, int family, int type)
{
	return spw_netns_socket(n->topo.end[side].ns, family, type, 0);
}

int spw_nfx_addr(const struct spw_nfx *n, enum spw_topo_side side, int family, uint16_t port,
		 struct sockaddr_storage *ss)
{
	return spw_topo_sockaddr(&n->topo, side, family, port, ss);
}

int spw_nfx_client_addr16(const struct spw_nfx *n, int family, uint8_t addr[SPW_ADDR_LEN])
{
	const struct spw_topo_end *e = &n->topo.end[SPW_TOPO_CLI];

	return spw_fixture_addr(family == AF_INET ? e->v4_str : e->v6_str, addr);
}

int spw_nfx_client_rule(struct spw_nfx *n, int family, uint8_t tier, uint32_t rule_id)
{
	const struct spw_topo_end *e = &n->topo.end[SPW_TOPO_CLI];
	struct spw_cidr cidr;
	int err;

	err = spw_fixture_cidr(family == AF_INET ? e->v4_str : e->v6_str, &cidr);
	return err ?: spw_dp_rule_add(n->dp, &cidr, tier, rule_id);
}

int spw_nfx_service(struct spw_nfx *n, uint8_t proto, uint16_t port, uint32_t svc_id)
{
	struct spw_service_match m = {.proto = proto, .port = port};

	return spw_dp_service_add(n->dp, &m, svc_id);
}
