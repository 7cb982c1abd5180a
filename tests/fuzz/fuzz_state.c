// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The state-file reader of libspillway-client: the input is the file STATE_DIR/state, any size
 * and any bytes (a truncated file, another version, a daemon's garbage). Every check answers
 * and stays inside the file. So that the checks reach past the freshness test, a file long
 * enough to be one gets its publish time set to now, and each service whose lease's low bit is
 * set gets a lease that holds; seq is made even: a seq left odd costs every check the reader's
 * whole budget (10 ms of sched_yield), which would slow the run a hundredfold (the client's own
 * tests cover a daemon stuck inside a publish).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fuzz.h"
#include "spillway_client.h"
#include "spillway_state.h"

/* tmpfs when there is one: a file rewritten per input costs a journal on ext4. */
static char dir[] = "/dev/shm/spw-fuzz-state-XXXXXX";
static char path[sizeof(dir) + 16];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

static void write_state(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	struct spw_state_file *f = (struct spw_state_file *)copy;
	int fd;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (size >= sizeof(*f)) {
		uint64_t now = now_ns();
		uint32_t i;

		f->updated_ns = now;
		f->seq &= ~1U;
		for (i = 0; i < SPW_STATE_SERVICES; i++)
			if (f->services[i].lease_expires_ns & 1)
				f->services[i].lease_expires_ns = now + 60000000000ULL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, copy, size) == (ssize_t)size);
	close(fd);
	free(copy);
}

/* The names to ask for: those in the file (when it has any) and a few the file may not have. */
static void check(struct spw_client *c, const char *name)
{
	struct spw_shed_state ss;
	struct spw_service_state sv;
	unsigned int tier;
	int rc;

	for (tier = 0; tier <= SPW_MAX_TIERS; tier++) {
		rc = spw_client_shed_state(c, name, tier, &ss);
		FUZZ_CHECK(rc == 0 || rc == -ESTALE || rc == -ENOENT || rc == -ERANGE ||
			   rc == -EINVAL);
	}
	rc = spw_client_service_state(c, name, &sv);
	FUZZ_CHECK(rc == 0 || rc == -ESTALE || rc == -ENOENT || rc == -EINVAL);
	if (!rc)
		FUZZ_CHECK(sv.admitted_permille <= 1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const others[] = {"", "api", "a-name-that-is-far-too-long-for-the-file"};
	struct spw_client *c;
	size_t i;

	if (!path[0]) {
		if (!mkdtemp(dir)) {
			snprintf(dir, sizeof(dir), "/tmp/spw-fuzz-state-XXXXXX");
			FUZZ_CHECK(mkdtemp(dir));
		}
		snprintf(path, sizeof(path), "%s/%s", dir, SPW_STATE_FILE);
		atexit(remove_dir);
	}
	write_state(data, size);
	c = spw_client_open(dir, "/nonexistent/report.sock");
	FUZZ_CHECK(c);
	if (size >= sizeof(struct spw_state_file)) {
		const struct spw_state_file *f = (const struct spw_state_file *)data;
		char name[SPW_STATE_NAME_MAX + 1];

		for (i = 0; i < SPW_STATE_SERVICES && i < 4; i++) {
			memcpy(name, f->services[i].name, SPW_STATE_NAME_MAX);
			name[SPW_STATE_NAME_MAX] = '\0';
			check(c, name);
		}
	}
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		check(c, others[i]);
	spw_client_close(c);
	return 0;
}
