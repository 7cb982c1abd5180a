# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The HTTP example (examples/http_server.py) as a child process on 127.0.0.1, for tests."""

import http.client
import os
import subprocess
import sys

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                       "http_server.py")


class Example:
    def __init__(self, state_dir, report_socket, service="web", pool="http"):
        self.proc = subprocess.Popen(
            [sys.executable, EXAMPLE, "--port", "0", "--service", service, "--pool", pool,
             "--state-dir", state_dir, "--report-socket", report_socket],
            stdout=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("listening on port "):
            self.close()
            raise RuntimeError(f"http_server.py did not start: {line!r}")
        self.port = int(line.split()[3].rstrip(":"))
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def get(self, path="/", tier=None):
        """(status, Retry-After or None, body) over one keep-alive connection."""
        headers = {} if tier is None else {"X-Tier": str(tier)}
        self.conn.request("GET", path, headers=headers)
        r = self.conn.getresponse()
        body = r.read().decode()
        return r.status, r.getheader("Retry-After"), body

    def close(self):
        if hasattr(self, "conn"):
            self.conn.close()
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
