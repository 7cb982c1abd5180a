# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Reports: the exact lines the daemon parses, and a report that cannot be delivered is
dropped at once with the errno that says why (never blocks, never raises)."""

import errno
import os
import shutil
import socket
import tempfile
import time
import unittest

import spillway

# A report call "returns at once" when it takes less than this.
AT_ONCE_S = 0.010


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spw-pyreport-")
        self.sock_path = os.path.join(self.dir, "report.sock")
        self.c = spillway.Client(self.dir, self.sock_path)

    def tearDown(self):
        self.c.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def timed(self, call, *args, **kw):
        t0 = time.monotonic()
        r = call(*args, **kw)
        took = time.monotonic() - t0
        self.assertLess(took, AT_ONCE_S, f"{call.__name__}{args} took {took * 1e3:.1f} ms")
        return r

    def test_no_daemon(self):
        self.assertEqual(self.timed(self.c.report_pool, "db", 3, 10, 0, 5), errno.ENOENT)
        self.assertEqual(self.timed(self.c.report_queue, "jobs", 3, 100), errno.ENOENT)

    def test_bad_input_caught_before_sending(self):
        bad = [
            ("a b", 1, 2), ("", 1, 2), ("x\npool y", 1, 2), ("0123456789012345678901234567890123", 1, 2),
            ("é", 1, 2), (None, 1, 2), ("db", -1, 2), ("db", 1, "2"), ("db", 1.5, 2),
            ("db", 1 << 64, 2), ("db", 1, 2, 1 << 63),
        ]
        for args in bad:
            with self.subTest(args=args):
                self.assertEqual(self.c.report_pool(*args), errno.EINVAL)
        self.assertEqual(self.c.report_queue("jobs", -3), errno.EINVAL)
        self.assertEqual(self.c.report_queue("jobs", 3, "x"), errno.EINVAL)
        # 31 characters is the longest name the daemon takes.
        self.assertEqual(self.c.report_pool("a" * 31, 1, 2), errno.ENOENT)

    def test_lines_then_full_then_gone(self):
        d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        d.bind(self.sock_path)
        try:
            self.assertEqual(self.c.report_pool("db", 3, 10, 2, 5), 0)
            self.assertEqual(d.recv(600), b"pool db in_use=3 capacity=10 waiting=2 wait_ms=5")
            self.assertEqual(self.c.report_queue("jobs", 7, None, 120), 0)
            self.assertEqual(d.recv(600), b"queue jobs depth=7 age_ms=120")
            # Negative optional numbers are left out, as the C library does.
            self.assertEqual(self.c.report_pool("db", 0, 10, -1, -1), 0)
            self.assertEqual(d.recv(600), b"pool db in_use=0 capacity=10")
            self.assertEqual(self.c.report_queue("q.1-x_y", 0, 100, -5), 0)
            self.assertEqual(d.recv(600), b"queue q.1-x_y depth=0 limit=100")
            # A daemon that is up but does not read: its queue fills, then EAGAIN, at once.
            r = 0
            for _ in range(100000):
                r = self.timed(self.c.report_pool, "db", 3, 10, 0, 5)
                if r:
                    break
            self.assertEqual(r, errno.EAGAIN)
            self.assertEqual(self.timed(self.c.report_pool, "db", 3, 10, 0, 5), errno.EAGAIN)
        finally:
            d.close()
        # The daemon died: the socket file stays, nobody is bound.
        self.assertEqual(self.timed(self.c.report_pool, "db", 3, 10, 0, 5), errno.ECONNREFUSED)

    def test_not_allowed(self):
        if os.geteuid() == 0:
            # root passes file permissions: drop to nobody for the send only, in a child.
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    d.bind(self.sock_path)
                    os.chmod(self.sock_path, 0o600)
                    os.setgid(65534)
                    os.setuid(65534)
                    code = 0 if self.c.report_pool("db", 1, 2) == errno.EACCES else 2
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        else:
            d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            d.bind(self.sock_path)
            os.chmod(self.sock_path, 0o000)
            try:
                self.assertEqual(self.c.report_pool("db", 1, 2), errno.EACCES)
            finally:
                d.close()

    def test_path_too_long(self):
        with self.assertRaises(OSError) as e:
            spillway.Client(self.dir, "/" + "x" * 200)
        self.assertEqual(e.exception.errno, errno.ENAMETOOLONG)


if __name__ == "__main__":
    unittest.main()
