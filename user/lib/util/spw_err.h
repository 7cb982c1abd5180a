/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Error text for callers: the parsers (CIDR, numbers, report lines, CLI) return -EINVAL and
 * write why into a caller's buffer, which may be NULL or empty when the caller does not care.
 */
#ifndef SPW_ERR_H
#define SPW_ERR_H

#include <stddef.h>

__attribute__((format(printf, 3, 4))) void spw_set_err(char *err, size_t errlen, const char *fmt,
						       ...);

#endif /* SPW_ERR_H */
