# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The shed state as the daemon's writer publishes it, and every way it fails open: never
published, stale for more than 3 ticks, lease run out, dry-run, unknown service or tier, a
writer that died inside a publish, no file, a foreign or short file; a restarted daemon's new
file is found (at most once a second)."""

import errno
import math
import os
import shutil
import tempfile
import time
import unittest

import spillway
from writer import FLAG_DRY_RUN, TIERS, TICK_MS, StateWriter


class StateTest(unittest.TestCase):
    def setUp(self):
        self.w = StateWriter()
        self.c = spillway.Client(self.w.dir, os.path.join(self.w.dir, "report.sock"))

    def tearDown(self):
        self.c.close()
        self.w.close()

    def test_fresh_state(self):
        self.w.publish(64)  # level 64: tier 2 fully shed, tiers 0 and 1 admitted
        st = self.c.shed_state("web", 2)
        self.assertEqual(st.error, 0)
        self.assertTrue(st.shed)
        self.assertFalse(st.stale)
        self.assertEqual(st.admitted_permille, 0)
        self.assertEqual((st.retry_lo_s, st.retry_hi_s), (64, 74))
        self.assertAlmostEqual(st.pressure, 0.448)
        self.assertFalse(self.c.shed_state("web", 1).shed)
        self.assertEqual(self.c.shed_state("web", 1).retry_after_s, 0)
        self.w.publish(80)  # half of tier 2's cohorts admitted: the whole tier is refused
        st = self.c.shed_state("web", 2)
        self.assertEqual(st.admitted_permille, 500)
        self.assertTrue(st.shed)
        ss = self.c.service_state("web")
        self.assertEqual(ss.error, 0)
        self.assertTrue(ss.shedding)
        self.assertEqual(ss.admitted_permille, 80 * 1000 // (TIERS * 32))
        self.assertAlmostEqual(ss.pressure, 0.56)
        self.w.publish(96)  # full admission
        self.assertFalse(self.c.shed_state("web", 2).shed)
        self.assertFalse(self.c.service_state("web").shedding)
        self.assertEqual(self.c.service_state("web").admitted_permille, 1000)

    def test_retry_after_jitter(self):
        self.w.publish(64)
        seen = {self.c.shed_state("web", 2).retry_after_s for _ in range(2000)}
        # Drawn per call over the whole range [64, 74], so refused clients spread out.
        self.assertEqual(seen, set(range(64, 75)))
        # A shed client is always told to wait: a 0 drawn from [0, 10] is sent as 1.
        self.w.publish(0)
        seen = {self.c.shed_state("web", 2).retry_after_s for _ in range(2000)}
        self.assertEqual(seen, set(range(1, 11)))

    def test_never_published(self):
        st = self.c.shed_state("web", 2)
        self.assertEqual(st.error, errno.ESTALE)
        self.assertTrue(st.stale)
        self.assertFalse(st.shed)

    def test_stale_after_three_ticks(self):
        self.w.publish(64, age_ms=4 * TICK_MS)
        st = self.c.shed_state("web", 2)
        self.assertEqual(st.error, errno.ESTALE)
        self.assertTrue(st.stale)
        self.assertFalse(st.shed)
        self.assertEqual(st.retry_after_s, 0)
        ss = self.c.service_state("web")
        self.assertEqual(ss.error, errno.ESTALE)
        self.assertFalse(ss.shedding)
        self.assertEqual(ss.admitted_permille, 1000)
        self.assertTrue(math.isnan(ss.pressure))
        self.w.publish(64, age_ms=2 * TICK_MS)  # 2 ticks old: still fresh
        self.assertTrue(self.c.shed_state("web", 2).shed)

    def test_lease_expired(self):
        # Published just now, but the data plane's lease has run out: it fails open, so must we.
        self.w.cmd("expired 64")
        st = self.c.shed_state("web", 2)
        self.assertEqual(st.error, errno.ESTALE)
        self.assertFalse(st.shed)

    def test_dry_run_unknown_service_and_tier(self):
        self.w.publish(64, flags=FLAG_DRY_RUN)
        st = self.c.shed_state("web", 2)
        self.assertEqual(st.error, 0)
        self.assertTrue(st.dry_run)
        self.assertFalse(st.shed)
        self.assertFalse(self.c.service_state("web").shedding)
        self.w.publish(64)
        st = self.c.shed_state("api", 2)
        self.assertEqual(st.error, errno.ENOENT)
        self.assertFalse(st.shed)
        self.assertFalse(st.stale)
        self.assertEqual(self.c.service_state("api").error, errno.ENOENT)
        for tier in (TIERS, 255, -1):
            st = self.c.shed_state("web", tier)
            self.assertEqual(st.error, errno.ERANGE, tier)
            self.assertFalse(st.shed)
            self.assertEqual(st.retry_lo_s, 64)
        # Names the file cannot hold, and prefixes of a real name, are not found.
        self.assertEqual(self.c.shed_state("w" * 40, 0).error, errno.ENOENT)
        self.assertEqual(self.c.shed_state("we", 0).error, errno.ENOENT)
        self.assertEqual(self.c.shed_state("filler0", 0).error, 0)

    def test_writer_died_inside_publish(self):
        self.w.publish(64)
        self.assertTrue(self.c.shed_state("web", 2).shed)
        self.w.stuck()
        t0 = time.monotonic()
        st = self.c.shed_state("web", 2)
        took = time.monotonic() - t0
        self.assertEqual(st.error, errno.ESTALE)
        self.assertFalse(st.shed)
        # It gives up after its read budget (10 ms), then fails open at once.
        self.assertGreaterEqual(took, 0.010)
        self.assertLess(took, 0.5)
        # Later checks do not wait the budget again: 20 of them take less than 10 budgets
        # (timed together: one scheduling delay of a loaded machine does not decide it).
        t0 = time.monotonic()
        for _ in range(20):
            self.assertEqual(self.c.shed_state("web", 2).error, errno.ESTALE)
        self.assertLess(time.monotonic() - t0, 0.100)

    def test_restart_found_once_a_second(self):
        self.w.publish(64)
        self.assertTrue(self.c.shed_state("web", 2).shed)
        # Restart: the old file goes stale; the new one is found at the next look.
        self.w.publish(64, age_ms=4 * TICK_MS)
        self.w.restart()
        self.w.publish(80)
        st = self.c.shed_state("web", 2)
        self.assertEqual(st.error, 0)  # the first stale check looks at once
        self.assertEqual(st.admitted_permille, 500)
        self.w.publish(80, age_ms=4 * TICK_MS)
        self.w.restart()
        self.w.publish(90)
        self.assertEqual(self.c.shed_state("web", 2).error, errno.ESTALE)  # looked < 1 s ago
        time.sleep(1.1)
        self.w.publish(90)
        st = self.c.shed_state("web", 2)
        self.assertEqual(st.error, 0)
        self.assertEqual(st.admitted_permille, 812)


class NoFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spw-pynofile-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_daemon_starts_later(self):
        c = spillway.Client(self.dir, os.path.join(self.dir, "report.sock"))
        try:
            self.assertEqual(c.shed_state("web", 2).error, errno.ESTALE)
            w = StateWriter(self.dir)
            try:
                w.publish(64)
                self.assertEqual(c.shed_state("web", 2).error, errno.ESTALE)  # looked < 1 s ago
                time.sleep(1.1)
                w.publish(64)
                self.assertTrue(c.shed_state("web", 2).shed)
            finally:
                w.close()
        finally:
            c.close()

    def test_short_or_foreign_file(self):
        path = os.path.join(self.dir, "state")
        with open(path, "wb") as f:
            f.write(b"\0" * 100)  # short: mapping it would fault past its end
        c = spillway.Client(self.dir, os.path.join(self.dir, "report.sock"))
        try:
            self.assertEqual(c.shed_state("web", 0).error, errno.ESTALE)
        finally:
            c.close()
        w = StateWriter(self.dir)
        try:
            w.publish(64)
            # The daemon's file with another magic: not ours to read.
            with open(path, "r+b") as f:
                f.write(b"XXXX")
            c = spillway.Client(self.dir, os.path.join(self.dir, "report.sock"))
            try:
                self.assertEqual(c.shed_state("web", 2).error, errno.ESTALE)
            finally:
                c.close()
        finally:
            w.close()


if __name__ == "__main__":
    unittest.main()
