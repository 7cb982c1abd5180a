// SPDX-License-Identifier: GPL-2.0-only
/* Reports every period while a test waits: see report_pump.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_pump.h"
#include "util.h"

void spw_pump(struct spw_pump *p)
{
	double t = spw_now_ms();

	if (!p->line || t < p->next)
		return;
	assert_int_equal(spw_daemon_report(p->d, p->line), 0);
	if (p->line2)
		assert_int_equal(spw_daemon_report(p->d, p->line2), 0);
	p->next = t + p->period_ms;
}

void spw_pump_start(struct spw_pump *p, const char *line)
{
	p->line = line;
	p->next = 0;
	spw_pump(p);
}

void spw_pump_wait(struct spw_pump *p, int ms, unsigned int step_ms)
{
	double end = spw_now_ms() + ms;

	while (spw_now_ms() < end) {
		spw_pump(p);
		spw_sleep_ms(step_ms);
	}
}
