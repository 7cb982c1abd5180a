/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The package layer's builds and dpkg look-ups: the Debian packages (make deb into BUILD/deb),
 * a second build with a higher version to upgrade to (BUILD/deb-upgrade), the container images
 * (tools/package/build-image.sh), and what dpkg says is installed. Builds print their
 * progress; cached ones return at once. Functions return 0 or a negative errno, or the
 * command's exit status when one failed.
 */
#ifndef SPW_TEST_PACKAGES_H
#define SPW_TEST_PACKAGES_H

#include <stdbool.h>
#include <stddef.h>

/* The binary packages, in the order they are installed. */
#define SPW_PKG_DAEMON "spillway"
#define SPW_PKG_LIB    "libspillway-client0"
#define SPW_PKG_DEV    "libspillway-client-dev"
/* What the upgrade build adds to the version: higher than it for dpkg. */
#define SPW_PKG_UPGRADE_SUFFIX "+upgradetest1"

/* Package file paths and versions fit in these. */
#define SPW_PKG_PATH_LEN  512
#define SPW_PKG_FIELD_LEN 256

struct spw_pkg_set {
	char dir[SPW_PKG_PATH_LEN];
	char daemon[SPW_PKG_PATH_LEN], lib[SPW_PKG_PATH_LEN], dev[SPW_PKG_PATH_LEN];
	char version[SPW_PKG_FIELD_LEN];
};

/* make deb (BUILD/deb), and the set it made. */
int spw_pkg_build(const char *src_root, const char *build, struct spw_pkg_set *set);
/* The same tree with a changelog entry VERSION + SPW_PKG_UPGRADE_SUFFIX, in BUILD/deb-upgrade. */
int spw_pkg_build_upgrade(const char *src_root, const char *build, const struct spw_pkg_set *from,
			  struct spw_pkg_set *set);
/* tools/package/build-image.sh BUILD KIND; the image's name into name. */
int spw_pkg_image(const char *src_root, const char *build, const char *kind, char *name,
		  size_t len);

/* A field of a package file's control data (Version, Depends), without the newline. */
int spw_pkg_field(const char *deb, const char *field, char *out, size_t len);
/* Is the package installed (configured)? Its version into version when it is. */
bool spw_pkg_installed(const char *pkg, char *version, size_t len);
/* dpkg --purge of every package of the set that dpkg knows of. 0 when none is left. */
int spw_pkg_purge_all(void);

#endif /* SPW_TEST_PACKAGES_H */
