# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""No torn reads: 4 reader threads check the shed state while the daemon's writer publishes
bursts of 1,000 states (until each reader has seen 10 of them), each derived from one counter k, so that a read mixing two publishes is an
impossible combination of fields."""

import math
import os
import threading
import time
import unittest

import spillway
from writer import CEILING, TIERS, StateWriter

PUBLISHES = 1000
READERS = 4
# Between publishes, so readers also see states at rest, not only mid-write.
GAP_US = 50
# Bursts go on, up to this long, until each reader has seen 10 states.
FOLLOW_S = 20


class TornReadTest(unittest.TestCase):
    def setUp(self):
        self.w = StateWriter()
        self.c = spillway.Client(self.w.dir, os.path.join(self.w.dir, "report.sock"))
        # The writer's own rule for each level's admitted share: the readers' truth.
        self.admitted = [[self.w.expect(level, t)[1] for t in range(TIERS)]
                         for level in range(CEILING + 1)]

    def tearDown(self):
        self.c.close()
        self.w.close()

    def judge(self, tier, st, ss, last_k):
        """None when every field names the same k and k did not go back, else why not."""
        # Stale is the clock's verdict on a writer the scheduler paused (a loaded machine),
        # or a read that gave up (ESTALE) after its budget when the reader itself was paused
        # mid-read, not a tear: a stale read must fail open, and is then not checked against
        # the pattern.
        if st.stale or ss.stale:
            if (st.stale and (st.shed or st.admitted_permille != 1000)) or \
                    (ss.stale and (ss.shedding or ss.admitted_permille != 1000)):
                return f"stale but not failing open: {st} {ss}"
            return None
        k = st.retry_lo_s
        adm = self.admitted[k % (CEILING + 1)][tier]
        ok = (
            st.error == 0 and ss.error == 0 and st.retry_hi_s == k + 10
            and abs(st.pressure * 1000.0 - 7.0 * k) < 0.5 and st.admitted_permille == adm
            and st.shed == (adm < 1000) and not st.stale
            and (not st.shed or k <= st.retry_after_s <= k + 10) and k >= last_k
            # a second read, maybe of a later k: consistent in itself
            and ss.shedding == (ss.admitted_permille < 1000) and not ss.stale
            and not math.isnan(ss.pressure)
        )
        return None if ok else f"k {k} (last {last_k}): {st} {ss} (want admitted {adm})"

    def test_no_torn_reads(self):
        self.w.publish(1)
        done = threading.Event()
        start = threading.Barrier(READERS + 1)
        stats = [dict(checks=0, distinct=0, bad=0, stale=0, why=None, last=1) for _ in range(READERS)]

        def reader(i):
            s, tier = stats[i], i % TIERS
            start.wait()
            while not done.is_set():
                st = self.c.shed_state("web", tier)
                ss = self.c.service_state("web")
                if st.stale or ss.stale:
                    s["stale"] += 1
                why = self.judge(tier, st, ss, s["last"])
                if why:
                    s["bad"] += 1
                    s["why"] = s["why"] or why
                    continue
                if st.stale or ss.stale:
                    continue
                s["checks"] += 1
                if st.retry_lo_s != s["last"]:
                    s["distinct"] += 1
                s["last"] = st.retry_lo_s

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
        for t in threads:
            t.start()
        start.wait()
        published, k, deadline = 1, 2, time.monotonic() + FOLLOW_S
        try:
            # Until every reader has followed the writer: a thread the GIL or a loaded
            # machine held off through one burst (1,179 checks, all after its last publish)
            # proves nothing of tearing, and is not the reader's fault.
            while True:
                n = self.w.burst(k, k + PUBLISHES - 2, GAP_US)
                published, k = published + n, k + n
                if all(s["distinct"] >= 10 for s in stats) or time.monotonic() > deadline:
                    break
        finally:
            done.set()
            for t in threads:
                t.join()
        self.assertEqual((published - 1) % (PUBLISHES - 1), 0)
        for i, s in enumerate(stats):
            print(f"reader {i}: {s['checks']} checks, {s['distinct']} states seen, "
                  f"last {s['last']}, torn {s['bad']}")
            self.assertEqual(s["bad"], 0, s["why"])
            # Progress: each reader followed the writer, not one frozen state.
            self.assertGreaterEqual(s["distinct"], 10)
        retries = self.c._reader.retries
        print(f"torn reads: 0 over {sum(s['checks'] for s in stats)} checks of {published} "
              f"publishes; {retries} reads caught a publish under way and went again")


if __name__ == "__main__":
    unittest.main()
