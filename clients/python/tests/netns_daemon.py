# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The client against the real spillwayd, started by tests/netns/test_client_langs (which says
where through SPW_TEST_*): service "web", 3 tiers, signal pool "db" at target 0.85, 10 ms
ticks. Reports move pressure; the shed state flips while a tier is shed and back; a stopped
daemon fails open; the HTTP example answers 503 while its tier is shed; 1,000 publishes are
read with no torn read."""

import math
import os
import signal
import threading
import time
import unittest

import spillway
from example import Example
from writer import StateWriter

TARGET = 0.85
# Margins for a loaded 2-core machine: the daemon acts on a saturated report at once and
# ticks every 10 ms; these are the longest waits before a test gives up.
SHED_WITHIN_S = 5
RECOVER_WITHIN_S = 15
PUBLISHES = 1000


def env(name):
    v = os.environ.get(name)
    if not v:
        raise RuntimeError(f"{name} is not set: run through build/tests/netns/test_client_langs")
    return v


class DaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state_dir = env("SPW_TEST_STATE_DIR")
        cls.sock = env("SPW_TEST_REPORT_SOCKET")
        cls.pid = int(env("SPW_TEST_DAEMON_PID"))
        cls.tick_s = int(env("SPW_TEST_TICK_MS")) / 1000

    def setUp(self):
        self.c = spillway.Client(self.state_dir, self.sock)
        self.idle()

    def tearDown(self):
        self.c.close()

    def until(self, what, cond, within_s, report=None):
        """Polls cond (reporting report() each round) until it is true, or fails."""
        end = time.monotonic() + within_s
        while time.monotonic() < end:
            if report:
                self.assertEqual(report(), 0)
            v = cond()
            if v:
                return v
            time.sleep(0.02)
        self.fail(f"{what}: not within {within_s} s; last {cond()!r}")

    def saturate(self):
        return self.c.report_pool("db", 10, 10, 5, 200)

    def calm(self):
        return self.c.report_pool("db", 0, 10, 0, 0)

    def idle(self):
        """Back to full admission: an idle pool, then no shedding."""
        self.until("full admission", lambda: not self.c.service_state("web").shedding
                   and self.c.service_state("web").error == 0, RECOVER_WITHIN_S, self.calm)

    def test_reports_move_pressure(self):
        for in_use in (5, 8, 2):
            want = in_use / 10 / TARGET
            self.until(f"pressure {want:.3f}",
                       lambda: abs(self.c.service_state("web").pressure - want) < 0.002,
                       SHED_WITHIN_S, lambda: self.c.report_pool("db", in_use, 10))

    def test_shed_state_flips(self):
        self.assertFalse(self.c.shed_state("web", 2).shed)
        st = self.until("tier 2 shed", lambda: (lambda s: s if s.shed else None)(
            self.c.shed_state("web", 2)), SHED_WITHIN_S, self.saturate)
        self.assertGreaterEqual(st.retry_after_s, 1)
        self.assertLess(st.admitted_permille, 1000)
        self.assertGreater(st.pressure, 1.0)
        self.assertFalse(self.c.shed_state("web", 0).shed)  # the floor protects tier 0
        self.assertTrue(self.c.service_state("web").shedding)
        self.until("tier 2 admitted again", lambda: not self.c.shed_state("web", 2).shed
                   and not self.c.shed_state("web", 2).stale, RECOVER_WITHIN_S, self.calm)

    def test_stopped_daemon_fails_open(self):
        self.until("tier 2 shed", lambda: self.c.shed_state("web", 2).shed, SHED_WITHIN_S,
                   self.saturate)
        os.kill(self.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            st = self.until("stale", lambda: (lambda s: s if s.stale else None)(
                self.c.shed_state("web", 2)), 2)
            # Not at once: only after 3 ticks without a publish (less the time since the last
            # one, which a late tick makes up to 2 ticks).
            self.assertGreaterEqual(time.monotonic() - t0, self.tick_s)
            self.assertFalse(st.shed)
            self.assertEqual(st.retry_after_s, 0)
            self.assertFalse(self.c.service_state("web").shedding)
        finally:
            os.kill(self.pid, signal.SIGCONT)
        self.until("fresh again", lambda: not self.c.shed_state("web", 2).stale, 2)

    def test_http_example_503_while_shed(self):
        ex = Example(self.state_dir, self.sock)
        try:
            self.assertEqual(ex.get("/", tier=2)[0], 200)
            self.until("tier 2 shed", lambda: self.c.shed_state("web", 2).shed, SHED_WITHIN_S,
                       self.saturate)
            self.saturate()
            status, retry, _ = ex.get("/", tier=2)
            self.assertEqual(status, 503)
            self.assertGreaterEqual(int(retry), 1)
            self.assertEqual(ex.get("/", tier=0)[0], 200)
            self.until("tier 2 served again", lambda: ex.get("/", tier=2)[0] == 200,
                       RECOVER_WITHIN_S, self.calm)
        finally:
            ex.close()

    def test_no_torn_reads(self):
        """Readers check the raw records (freshness aside: a 10 ms tick on a loaded machine
        may well be late) while reports move the level: each record's admitted shares and
        flags must be the ones its own level gives."""
        reader, first = self.c._reader, self.c._cur
        err, view = reader.read(first, "web")
        self.assertEqual(err, 0)
        floor, ceiling, tiers = view.svc.floor, view.svc.ceiling, view.svc.tier_count
        w = StateWriter()
        try:
            truth = [[w.admitted(level, floor, t) for t in range(tiers)]
                     for level in range(ceiling + 1)]
        finally:
            w.close()
        seq0 = first.seq[0]
        done = threading.Event()
        stats = {"reads": 0, "bad": 0, "why": None, "levels": set()}

        def read_loop():
            while not done.is_set():
                err, v = reader.read(first, "web")
                s = v.svc if not err else None
                ok = (s is not None and s.level <= ceiling
                      and list(s.admitted_permille[:tiers]) == truth[s.level]
                      and bool(s.flags & 1) == (s.level < ceiling)
                      and s.lease_expires_ns > v.updated_ns)
                if not ok:
                    stats["bad"] += 1
                    stats["why"] = stats["why"] or f"{err} {s and vars(s)}"
                    continue
                stats["reads"] += 1
                stats["levels"].add(s.level)

        threads = [threading.Thread(target=read_loop) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            end = time.monotonic() + 60
            n = 0
            # Alternate overload and calm so the level moves while they read.
            while (first.seq[0] - seq0) // 2 < PUBLISHES and time.monotonic() < end:
                self.assertEqual(self.saturate() if (n // 5) % 2 else self.calm(), 0)
                n += 1
                time.sleep(0.01)
            published = (first.seq[0] - seq0) // 2
        finally:
            done.set()
            for t in threads:
                t.join()
        print(f"daemon torn reads: {stats['bad']} over {stats['reads']} reads of {published} "
              f"publishes, {len(stats['levels'])} levels seen, "
              f"{reader.retries} reads went again")
        self.assertGreaterEqual(published, PUBLISHES)
        self.assertEqual(stats["bad"], 0, stats["why"])
        self.assertGreaterEqual(len(stats["levels"]), 2)
        # The reader still parses a live pressure. Reported afresh: stale_after is 200 ms, and
        # joining the readers on a loaded machine can take longer than that after the last
        # report, when the daemon rightly publishes "no fresh signal" (nan).
        self.until("a fresh pressure", lambda: not math.isnan(self.c.service_state("web").pressure),
                   SHED_WITHIN_S, self.saturate)


if __name__ == "__main__":
    unittest.main()
