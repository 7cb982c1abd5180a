/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reports that keep going while a test waits, as an application's would: spw_pump() sends the
 * pump's line, then line2 when set, to the daemon's report socket when period_ms have passed
 * since the last send (at once after spw_pump_start()). line NULL: the pump is stopped. A send
 * that fails fails the running test (cmocka).
 */
#ifndef SPW_TEST_REPORT_PUMP_H
#define SPW_TEST_REPORT_PUMP_H

#include "daemon.h"

struct spw_pump {
	struct spw_daemon *d;
	int period_ms;
	const char *line;  /* NULL: stopped */
	const char *line2; /* sent after line, or NULL */
	double next;	   /* spw_now_ms() of the next send */
};

/* Sends when a period has passed. */
void spw_pump(struct spw_pump *p);
/* From now on line goes out every period, the first one at once; NULL stops. */
void spw_pump_start(struct spw_pump *p, const char *line);
/* Sleeps ms, pumping every step_ms meanwhile. */
void spw_pump_wait(struct spw_pump *p, int ms, unsigned int step_ms);

#endif /* SPW_TEST_REPORT_PUMP_H */
