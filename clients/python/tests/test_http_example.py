# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The HTTP example answers 503 + Retry-After while its tier is shed, 200 otherwise, on one
keep-alive connection, and reports its request pool."""

import os
import socket
import unittest

from example import Example
from writer import TICK_MS, StateWriter


class HttpExampleTest(unittest.TestCase):
    def setUp(self):
        self.w = StateWriter()
        self.sock_path = os.path.join(self.w.dir, "report.sock")
        self.daemon_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.daemon_sock.bind(self.sock_path)
        self.daemon_sock.settimeout(5)
        self.ex = Example(self.w.dir, self.sock_path)

    def tearDown(self):
        self.ex.close()
        self.daemon_sock.close()
        self.w.close()

    def test_503_while_shed(self):
        self.w.publish(64)  # tier 2 shed, tiers 0 and 1 admitted
        status, retry, body = self.ex.get("/", tier=2)
        self.assertEqual(status, 503, body)
        self.assertIn(int(retry), range(64, 75))
        self.assertEqual(self.ex.get("/", tier=0)[:2], (200, None))
        self.assertEqual(self.ex.get("/")[2], "ok tier=1\n")  # --tier's default
        self.assertEqual(self.ex.get("/", tier="x")[0], 400)
        self.w.publish(96)  # recovered
        self.assertEqual(self.ex.get("/", tier=2)[:2], (200, None))
        self.w.publish(64, age_ms=4 * TICK_MS)  # the daemon went silent: fail open
        self.assertEqual(self.ex.get("/", tier=2)[0], 200)

    def test_reports_its_pool(self):
        line = self.daemon_sock.recv(600).decode()
        self.assertRegex(line, r"\Apool http in_use=0 capacity=8\Z")


if __name__ == "__main__":
    unittest.main()
