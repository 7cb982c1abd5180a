// SPDX-License-Identifier: GPL-2.0-only
/* One spillwayd on a topology for a group of CLI-driven netns tests: see daemon_scene.h. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include "daemon_scene.h"
#include "attach.h"
#include "empty_xdp.skel.h"

static int create(struct daemon_scene *s, uint16_t port)
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

int daemon_scene_group_setup(void **state, size_t ctx_size, uint16_t port)
{
	struct daemon_scene *s = calloc(1, ctx_size);

	*state = s;
	if (!s)
		return -1;
	if (create(s, port)) {
		daemon_scene_group_teardown(state);
		return -1;
	}
	return 0;
}

int daemon_scene_group_teardown(void **state)
{
	struct daemon_scene *s = *state;

	if (!s)
		return 0;
	spw_fds_close_all(&s->fds);
	spw_daemon_finish(&s->d);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	empty_xdp__destroy(s->empty);
	spw_topo_destroy(&s->topo);
	free(s);
	*state = NULL;
	return 0;
}
