// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fuzz harnesses under `make test`: each harness linked with this driver instead of
 * libFuzzer's feeds every file of tests/fuzz/corpus/TARGET/ and tests/fuzz/regress/TARGET/ (the
 * inputs that once crashed it) through LLVMFuzzerTestOneInput, built with ASan and UBSan. A
 * crash, a sanitizer report or a broken property ends the run with a non-zero status; each
 * input that goes through is one passed test in cmocka's summary format, which
 * tests/run-tests.sh sums. An empty corpus folder is a failure: nothing would have been shown.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"

#ifndef SPW_FUZZ_TARGET
#error "SPW_FUZZ_TARGET names the harness (report, config, ...)"
#endif

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "cannot read %s\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	printf("[ RUN      ] %s\n", path);
	fflush(stdout);
	/* A harness that finds a broken property aborts: the run ends here, non-zero. */
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	printf("[       OK ] %s\n", path);
	free(buf);
	return 0;
}

/* Replays every regular file of dir; the count, or -1 when dir cannot be read. */
static int replay_dir(const char *dir, int *bad)
{
	struct dirent **names;
	char path[4096 + sizeof(((struct dirent *)0)->d_name) + 1];
	int n, i, done = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			if (replay_file(path))
				(*bad)++;
			else
				done++;
		}
		free(names[i]);
	}
	free(names);
	return done;
}

int main(void)
{
	static const char *const kinds[] = {"corpus", "regress"};
	int total = 0, bad = 0, n;
	char dir[4096];
	size_t k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/%s/%s", SPW_SRC_ROOT, kinds[k],
			 SPW_FUZZ_TARGET);
		n = replay_dir(dir, &bad);
		/* No regression cases yet is fine; no seed corpus is not. */
		if (n < 0 && k == 1 && errno == ENOENT)
			continue;
		if (n <= 0 && k == 0) {
			fprintf(stderr, "no seed corpus in %s\n", dir);
			bad++;
			continue;
		}
		if (n > 0)
			total += n;
	}
	printf("[==========] %d input(s) of the %s harness replayed.\n", total, SPW_FUZZ_TARGET);
	if (bad) {
		printf("[  FAILED  ] %d test(s), listed below:\n", bad);
		return 1;
	}
	printf("[  PASSED  ] %d test(s).\n", total);
	return 0;
}
