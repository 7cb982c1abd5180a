// SPDX-License-Identifier: GPL-2.0-only
/* Builds and dpkg look-ups of the package layer (see packages.h). */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "packages.h"
#include "util.h"

/* dir/NAME_*_ARCH.deb: exactly one, or an error naming what is wrong. */
static int find_deb(const char *dir, const char *name, char *path)
{
	char pat[SPW_PKG_PATH_LEN + 64];
	glob_t g;
	int err = 0;

	snprintf(pat, sizeof(pat), "%s/%s_*.deb", dir, name);
	if (glob(pat, 0, NULL, &g) || g.gl_pathc != 1) {
		fprintf(stderr, "packages: %s matches %zu files, not one\n", pat,
			(size_t)g.gl_pathc);
		err = -ENOENT;
	} else {
		snprintf(path, SPW_PKG_PATH_LEN, "%s", g.gl_pathv[0]);
	}
	globfree(&g);
	return err;
}

static int find_set(const char *dir, struct spw_pkg_set *set)
{
	int err;

	memset(set, 0, sizeof(*set));
	snprintf(set->dir, sizeof(set->dir), "%s", dir);
	err = find_deb(dir, SPW_PKG_DAEMON, set->daemon);
	if (!err)
		err = find_deb(dir, SPW_PKG_LIB, set->lib);
	if (!err)
		err = find_deb(dir, SPW_PKG_DEV, set->dev);
	if (!err)
		err = spw_pkg_field(set->daemon, "Version", set->version, sizeof(set->version));
	return err;
}

int spw_pkg_build(const char *src_root, const char *build, struct spw_pkg_set *set)
{
	char dir[SPW_PKG_PATH_LEN];
	/* A make run by a make: the outer one's jobserver is not this one's business. */
	int rc = spw_cmd_sh("env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C '%s' BUILD='%s' deb",
			    src_root, build);

	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/deb", build);
	return find_set(dir, set);
}

int spw_pkg_build_upgrade(const char *src_root, const char *build, const struct spw_pkg_set *from,
			  struct spw_pkg_set *set)
{
	char dir[SPW_PKG_PATH_LEN];
	int rc;

	snprintf(dir, sizeof(dir), "%s/deb-upgrade", build);
	rc = spw_cmd_sh("bash '%s/tools/package/build-deb.sh' '%s' '%s%s'", src_root, dir,
			from->version, SPW_PKG_UPGRADE_SUFFIX);
	return rc ? rc : find_set(dir, set);
}

int spw_pkg_image(const char *src_root, const char *build, const char *kind, char *name, size_t len)
{
	char path[SPW_PKG_PATH_LEN], *text;
	int rc =
	    spw_cmd_sh("bash '%s/tools/package/build-image.sh' '%s' %s", src_root, build, kind);

	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/image/%s", build, kind);
	text = spw_read_file(path, NULL);
	if (!text)
		return -errno;
	snprintf(name, len, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
	return name[0] ? 0 : -ENOENT;
}

int spw_pkg_field(const char *deb, const char *field, char *out, size_t len)
{
	char *text;
	int rc = spw_cmd_capture((const char *const[]){"dpkg-deb", "-f", deb, field, NULL}, &text);

	if (!rc)
		snprintf(out, len, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
	return rc ? rc : out[0] ? 0 : -ENOENT;
}

bool spw_pkg_installed(const char *pkg, char *version, size_t len)
{
	char *text;
	bool yes;
	int rc = spw_cmd_capture((const char *const[]){"dpkg-query", "-W", "-f",
						       "${db:Status-Status} ${Version}", pkg, NULL},
				 &text);

	yes = !rc && text && !strncmp(text, "installed ", 10);
	if (yes && version)
		snprintf(version, len, "%s", text + 10);
	free(text);
	return yes;
}

int spw_pkg_purge_all(void)
{
	static const char *const pkgs[] = {SPW_PKG_DEV, SPW_PKG_LIB, SPW_PKG_DAEMON};
	int rc = 0;

	for (size_t i = 0; i < sizeof(pkgs) / sizeof(pkgs[0]); i++) {
		char *text;
		int known =
		    spw_cmd_capture((const char *const[]){"dpkg-query", "-W", "-f",
							  "${db:Status-Status}", pkgs[i], NULL},
				    &text);

		/* "not-installed" is what a purged package leaves; anything else is purged. */
		if (!known && text && strcmp(text, "not-installed"))
			rc = spw_cmd_run((const char *const[]){"dpkg", "--purge", pkgs[i], NULL})
				 ?: rc;
		free(text);
	}
	return rc;
}
