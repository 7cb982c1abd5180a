#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A small HTTP server (http.server, one thread per connection) that uses spillway both ways:

- every 50 ms it reports its request pool: `pool NAME in_use=<requests in flight>
  capacity=<--capacity>`; a service whose config names the signal `pool NAME` then sheds
  when the server is saturated;
- for each request it asks whether the request's tier is shed, and answers 503 with
  Retry-After if so. XDP sheds new connections; this sheds requests on keep-alive
  connections that were admitted before the overload.

The tier of a request is its X-Tier header (0 = most critical), else --tier. GET /sleep/MS
holds the request MS milliseconds (at most 10 s). Standard library and spillway only.
"""

import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import spillway  # noqa: E402  (the package beside this folder when not installed)

# The report period: several per daemon tick (100 ms) so the daemon never sees it stale.
REPORT_EVERY_S = 0.050
SLEEP_MAX_MS = 10000


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, where the app must shed for itself
    server_version = "spillway-example"

    def reply(self, code, body, retry_after=0):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        if retry_after:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.in_flight += 1
        try:
            self.serve()
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def serve(self):
        srv = self.server
        tier = srv.default_tier
        header = self.headers.get("X-Tier")
        if header is not None:
            if not header.isdigit() or int(header) > 255:
                return self.reply(400, "bad X-Tier\n")
            tier = int(header)
        # An mmap read, no syscall. Not shed when the daemon is down or does not know the
        # service (the client fails open), so the server always works without spillway.
        st = srv.client.shed_state(srv.service, tier)
        if st.shed:
            return self.reply(503, "overloaded, retry later\n", st.retry_after_s)
        if self.path.startswith("/sleep/"):
            ms = self.path[len("/sleep/"):]
            time.sleep(min(int(ms) if ms.isdigit() else 0, SLEEP_MAX_MS) / 1000)
        self.reply(200, f"ok tier={tier}\n")

    def log_message(self, *args):
        pass  # one line per request would be most of the CPU under load


def report_loop(srv):
    warned = False
    while True:
        time.sleep(REPORT_EVERY_S)
        with srv.lock:
            busy = srv.in_flight
        # Never blocks; a daemon that is down just misses the report.
        err = srv.client.report_pool(srv.pool, busy, srv.capacity)
        if err and not warned:
            print(f"http_server: reports are not delivered: {os.strerror(err)} (said once)",
                  file=sys.stderr, flush=True)
            warned = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="127.0.0.1", help="listen address (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="listen port (8080; 0: any free)")
    p.add_argument("--service", default="web", help="spillway service to check (web)")
    p.add_argument("--pool", default="http", help="pool name to report (http)")
    p.add_argument("--tier", type=int, default=1, help="tier without X-Tier (1)")
    p.add_argument("--capacity", type=int, default=8, help="requests in flight at 100 %% (8)")
    p.add_argument("--state-dir", default=None, help=f"state folder ({spillway.STATE_DIR})")
    p.add_argument("--report-socket", default=None,
                   help=f"report socket ({spillway.REPORT_SOCKET})")
    a = p.parse_args()
    if not 0 <= a.tier <= 255 or a.capacity < 1:
        p.error("--tier is 0..255 and --capacity at least 1")
    srv = ThreadingHTTPServer((a.address, a.port), Handler)
    srv.daemon_threads = True
    srv.client = spillway.Client(a.state_dir, a.report_socket)
    srv.service, srv.pool, srv.default_tier, srv.capacity = a.service, a.pool, a.tier, a.capacity
    srv.lock = threading.Lock()
    srv.in_flight = 0
    threading.Thread(target=report_loop, args=(srv,), daemon=True).start()
    print(f"listening on port {srv.server_address[1]}: service {a.service}, pool {a.pool}",
          flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
