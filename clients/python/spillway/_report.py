# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Report lines, one per datagram on the daemon's unix socket.

A report is a hint refreshed every few tens of milliseconds: losing one costs nothing,
stalling the app to deliver it would. So every send is non-blocking, and a report that cannot
be delivered is dropped and its errno returned, never raised and never retried: ENOENT (no
socket), ECONNREFUSED (nobody bound), EAGAIN (the daemon's queue is full), EACCES (not allowed
to write it), EINVAL (a bad name or number, caught before any send).
"""

import errno
import operator
import re
import socket

from . import _layout as L

# What the daemon's config names: letters, digits, '_', '.', '-'.
_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")
_U64_MAX = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1


def valid_name(name):
    return isinstance(name, str) and 0 < len(name) < L.CLIENT_NAME_MAX and bool(_NAME.match(name))


def _required(v):
    """A whole number 0..2^64-1, or None when v is not one."""
    try:
        v = operator.index(v)
    except TypeError:
        return None
    return v if 0 <= v <= _U64_MAX else None


def _optional(key, v):
    """' key=N', '' when v is None or negative (left out, as the C library does), or None."""
    if v is None:
        return ""
    try:
        v = operator.index(v)
    except TypeError:
        return None
    if v < 0:
        return ""
    return f" {key}={v}" if v <= _I64_MAX else None


def pool_line(name, in_use, capacity, waiting=None, wait_ms=None):
    """The report line, or None when an argument is not what the daemon accepts."""
    in_use, capacity = _required(in_use), _required(capacity)
    w, wm = _optional("waiting", waiting), _optional("wait_ms", wait_ms)
    if not valid_name(name) or in_use is None or capacity is None or w is None or wm is None:
        return None
    return f"pool {name} in_use={in_use} capacity={capacity}{w}{wm}"


def queue_line(name, depth, limit=None, age_ms=None):
    depth = _required(depth)
    lim, age = _optional("limit", limit), _optional("age_ms", age_ms)
    if not valid_name(name) or depth is None or lim is None or age is None:
        return None
    return f"queue {name} depth={depth}{lim}{age}"


class Reporter:
    """An unconnected datagram socket: each send finds the socket by path, so a restarted
    daemon is found without reopening anything."""

    def __init__(self, path):
        if len(path.encode()) >= 108:  # sizeof(sockaddr_un.sun_path)
            raise OSError(errno.ENAMETOOLONG, "report socket path is too long", path)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def send(self, line):
        if line is None:
            return errno.EINVAL
        data = line.encode()
        if len(data) >= L.CLIENT_LINE_MAX:
            return errno.EINVAL
        try:
            # MSG_NOSIGNAL: a datagram socket cannot raise SIGPIPE today; it says what we mean.
            self.sock.sendto(data, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL, self.path)
        except OSError as e:
            return errno.EAGAIN if e.errno == errno.EWOULDBLOCK else (e.errno or errno.EIO)
        return 0

    def close(self):
        self.sock.close()
