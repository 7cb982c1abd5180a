# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""What an application needs from spillway, with nothing but the standard library.

1. Report saturation: report_pool() / report_queue() send one report line to the daemon's unix
   datagram socket. They never block and never raise: the result is 0, or the errno that says
   why the report was dropped.
2. Hear back: shed_state() says whether new work of a tier should be refused now, with a
   Retry-After, read from the shed-state file through mmap under its seqlock.

Everything fails open, as libspillway-client does: a daemon that is down or stale (nothing
published for more than CLIENT_STALE_TICKS ticks, or its data-plane lease has run out), a
service the daemon does not know, a tier it does not have, or a dry-run service: nothing is
shed. A daemon restart renames a new file over the old one; the client keeps its mapping of
the old one, sees it go stale, and only then looks for the new file (at most once a second).
"""

import errno
import math
import os
import random
import threading
import time
from typing import NamedTuple

from . import _layout as L
from ._report import Reporter, pool_line, queue_line
from ._state import Reader, map_file

STATE_DIR = L.CLIENT_STATE_DIR
REPORT_SOCKET = L.CLIENT_REPORT_SOCKET
STALE_TICKS = L.CLIENT_STALE_TICKS


class ShedState(NamedTuple):
    """The state of one tier of one service for new work.

    shed: refuse new work of this tier now (the data plane does not admit every cohort of
    it, the service is not in dry-run, the state is fresh). retry_after_s: what to send in
    Retry-After, drawn in [retry_lo_s, retry_hi_s] per call, at least 1 when shed, 0 when not.
    error: 0 when this is the daemon's fresh word, errno.ESTALE (daemon not publishing),
    errno.ENOENT (service not in the state), errno.ERANGE (no such tier).
    """

    shed: bool = False
    stale: bool = False
    dry_run: bool = False
    overridden: bool = False
    admitted_permille: int = 1000
    retry_after_s: int = 0
    retry_lo_s: int = 0
    retry_hi_s: int = 0
    pressure: float = math.nan  # 1.0 = at target; nan: no fresh signal
    error: int = 0


class ServiceState(NamedTuple):
    """A service's overall state, for workers that size their concurrency and queue consumers.
    error as in ShedState."""

    pressure: float = math.nan
    shedding: bool = False
    stale: bool = False
    admitted_permille: int = 1000
    error: int = 0


def _pressure(milli):
    return math.nan if milli == L.STATE_NO_VALUE else milli / 1000.0


class Client:
    """state_dir: where the daemon publishes (default STATE_DIR); report_socket: its report
    socket (default REPORT_SOCKET). Works when the daemon is not running yet. Safe to use from
    any number of threads; close() only when no other call runs."""

    def __init__(self, state_dir=None, report_socket=None):
        self._path = os.path.join(state_dir or STATE_DIR, L.STATE_FILE)
        if len(self._path.encode()) >= 4096:
            raise OSError(errno.ENAMETOOLONG, "state folder path is too long", state_dir)
        self._reader = Reader()
        self._reporter = Reporter(report_socket or REPORT_SOCKET)
        self._lock = threading.Lock()  # taken only to look for a new file, never per check
        self._next_look_ns = 0
        self._retired = []  # other threads may still read these: closed at close()
        self._cur = map_file(self._path)  # None is fine: the daemon may start later

    def close(self):
        for m in [self._cur, *self._retired]:
            if m is not None:
                m.close()
        self._cur, self._retired = None, []
        self._reporter.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Reports.

    def report_pool(self, name, in_use, capacity, waiting=None, wait_ms=None):
        """`pool NAME in_use=N capacity=N [waiting=N] [wait_ms=N]`; waiting and wait_ms are
        left out when None or negative. 0, or the errno of the dropped report."""
        return self._reporter.send(pool_line(name, in_use, capacity, waiting, wait_ms))

    def report_queue(self, name, depth, limit=None, age_ms=None):
        """`queue NAME depth=N [limit=N] [age_ms=N]`. 0, or the errno of the dropped report."""
        return self._reporter.send(queue_line(name, depth, limit, age_ms))

    # Shed state.

    def _look_for_file(self, now):
        """Maps a replaced or new state file, at most once a second over all threads."""
        if now < self._next_look_ns or not self._lock.acquire(blocking=False):
            return False
        try:
            if now < self._next_look_ns:
                return False
            self._next_look_ns = now + L.CLIENT_LOOK_EVERY_NS
            try:
                st = os.stat(self._path)
            except OSError:
                return False  # no file: the daemon is down
            cur = self._cur
            if cur is not None and (cur.dev, cur.ino) == (st.st_dev, st.st_ino):
                return False  # the same file: the daemon is stuck
            m = map_file(self._path)
            if m is None:
                return False
            if cur is not None:
                self._retired.append(cur)
            self._cur = m
            return True
        finally:
            self._lock.release()

    @staticmethod
    def _fresh(view, now):
        """Published within CLIENT_STALE_TICKS ticks, and the data plane's lease holds."""
        tick_ns = (view.tick_ms or L.CLIENT_DEFAULT_TICK_MS) * 1000000
        # A clock behind updated_ns (the C library's unsigned wrap): stale, fail open.
        if not view.updated_ns or now < view.updated_ns:
            return False
        if now - view.updated_ns > L.CLIENT_STALE_TICKS * tick_ns:
            return False
        return view.svc is None or view.svc.lease_expires_ns > now

    def _lookup(self, service):
        """(0, service record), or (errno, None): ESTALE, ENOENT, EINVAL."""
        if not isinstance(service, str):
            return errno.EINVAL, None
        err, view = self._reader.read(self._cur, service)
        # After the read: a clock read before it could be older than what it found.
        if not err and not self._fresh(view, time.monotonic_ns()):
            err = errno.ESTALE
        if err == errno.ESTALE:
            # A new file (a daemon started or restarted) answers this very check.
            if not self._look_for_file(time.monotonic_ns()):
                return err, None
            err, view = self._reader.read(self._cur, service)
            if not err and not self._fresh(view, time.monotonic_ns()):
                err = errno.ESTALE
            if err:
                return err, None
        return (0, view.svc) if view.svc is not None else (errno.ENOENT, None)

    def shed_state(self, service, tier):
        """Whether new work of tier (0 = most critical) of service should be refused now.
        Always a safe answer: see ShedState."""
        err, s = self._lookup(service)
        if err:
            return ShedState(stale=err == errno.ESTALE, error=err)
        pressure = _pressure(s.pressure_milli)
        dry_run = bool(s.flags & L.FLAG_DRY_RUN)
        overridden = bool(s.flags & L.FLAG_OVERRIDDEN)
        if not isinstance(tier, int) or tier < 0 or tier >= s.tier_count or tier >= L.MAX_TIERS:
            return ShedState(
                dry_run=dry_run, overridden=overridden, retry_lo_s=s.retry_lo_s,
                retry_hi_s=s.retry_hi_s, pressure=pressure, error=errno.ERANGE,
            )
        admitted = s.admitted_permille[tier]
        shed = admitted < 1000 and not dry_run
        retry = 0
        if shed:
            # Jitter, so refused clients do not all come back at once; a shed tier always
            # gets a Retry-After, even when the range is 0 (an override).
            lo, hi = s.retry_lo_s, s.retry_hi_s
            retry = max(1, random.randint(lo, hi) if hi > lo else lo)
        return ShedState(
            shed=shed, dry_run=dry_run, overridden=overridden, admitted_permille=admitted,
            retry_after_s=retry, retry_lo_s=s.retry_lo_s, retry_hi_s=s.retry_hi_s,
            pressure=pressure,
        )

    def service_state(self, service):
        """A service's pressure, whether it sheds, and the share of all ranks admitted."""
        err, s = self._lookup(service)
        if err:
            return ServiceState(stale=err == errno.ESTALE, error=err)
        eff = max(s.level, s.floor)
        admitted = eff * 1000 // s.ceiling if s.ceiling and eff < s.ceiling else 1000
        shedding = bool(s.flags & L.FLAG_SHEDDING) and not s.flags & L.FLAG_DRY_RUN
        return ServiceState(
            pressure=_pressure(s.pressure_milli), shedding=shedding, admitted_permille=admitted
        )
