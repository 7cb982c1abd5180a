// SPDX-License-Identifier: GPL-2.0-only
/* One spillwayd on a topology for a group of CLI-driven netns tests: see daemon_scene.h. */
#include <unistd.h>
#include <sys/socket.h>

#include "daemon_scene.h"
#include "attach.h"
#include "empty_xdp.skel.h"

int daemon_scene_create(struct daemon_scene *s, uint16_t port)
{
	s->listen_fd = -1;
	if (spw_daemon_cli_binary(s->cli, sizeof(s->cli)))
		return -1;
	if (spw_topo_create(&s->topo))
		return -1;
	if (spw_topo_peer_xdp(&s->topo, &s->empty))
		return -1;
	s->listen_fd = spw_topo_listen(&s->topo, AF_INET, SOCK_STREAM, port, 64);
	return s->listen_fd < 0 ? -1 : 0;
}

void daemon_scene_destroy(struct daemon_scene *s)
{
	spw_fds_close_all(&s->fds);
	spw_daemon_finish(&s->d);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	empty_xdp__destroy(s->empty);
	s->empty = NULL;
	spw_topo_destroy(&s->topo);
}
