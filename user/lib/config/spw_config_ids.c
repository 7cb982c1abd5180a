// SPDX-License-Identifier: GPL-2.0-only
/* Service ids by name, so they survive reordering the file and restarting the daemon. */
#include <string.h>
#include "spw_config.h"

/* Lowest id in 1..SPW_MAX_SERVICES-1 not taken, free in held too when want_free. */
static uint32_t lowest_id(const bool *taken, const char (*held)[SPW_NAME_MAX], bool want_free)
{
	uint32_t id;

	for (id = 1; id < SPW_MAX_SERVICES; id++)
		if (!taken[id] && (!want_free || !held[id][0]))
			return id;
	return 0;
}

void spw_config_assign_ids(struct spw_config *c, const char (*held)[SPW_NAME_MAX])
{
	bool taken[SPW_MAX_SERVICES] = {false};
	uint32_t id;
	int i;

	for (i = 0; i < c->nservices; i++) {
		struct spw_config_service *s = &c->services[i];

		s->id = 0;
		for (id = 1; id < SPW_MAX_SERVICES; id++) {
			if (!taken[id] && !strncmp(held[id], s->name, SPW_NAME_MAX)) {
				s->id = id;
				taken[id] = true;
				break;
			}
		}
	}
	for (i = 0; i < c->nservices; i++) {
		struct spw_config_service *s = &c->services[i];

		if (s->id)
			continue;
		/* At most SPW_MAX_SERVICES - 1 services: one of the two always finds an id. */
		id = lowest_id(taken, held, true);
		if (!id)
			id = lowest_id(taken, held, false);
		s->id = id;
		taken[id] = true;
	}
}
