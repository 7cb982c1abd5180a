# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The shed-state file the daemon publishes every tick, read through mmap under its seqlock.

The writer makes seq odd, writes, makes it even. A reader loads seq; if odd, retries; copies
what it needs; loads seq again; if it changed, retries. Each check copies one service's head
(no signals): a few slices of a mapping and no syscall.

Python has no memory fence of its own. On x86 (TSO) loads are never reordered with other
loads, so reading seq, the copy and seq again in program order is the seqlock's acquire
order already. Elsewhere a fence from libatomic (ctypes) stands between the three loads.
"""

import ctypes
import ctypes.util
import errno
import mmap
import os
import platform
import struct
import time

from . import _layout as L

_TSO = platform.machine() in ("x86_64", "AMD64", "i386", "i486", "i586", "i686", "s390x")


def _load_fence():
    if _TSO:
        return None
    name = ctypes.util.find_library("atomic") or "libatomic.so.1"
    try:
        fn = ctypes.CDLL(name).atomic_thread_fence
    except (OSError, AttributeError) as e:
        raise OSError(
            errno.ENOSYS,
            f"spillway: reading the shed state on {platform.machine()} needs a memory fence "
            f"from libatomic ({e})",
        ) from e
    fn.argtypes = [ctypes.c_int]
    fn.restype = None
    seq_cst = 5  # __ATOMIC_SEQ_CST

    def fence():
        fn(seq_cst)

    return fence


def _size(fmt):
    return struct.calcsize(fmt)


def _span(*fields):
    """The smallest [lo, hi) that covers fields of the layout, to copy them in one slice."""
    lo = min(off for off, _ in fields)
    hi = max(off + _size(fmt) for off, fmt in fields)
    return lo, hi


_HDR_LO, _HDR_HI = _span(L.FILE_NSERVICES, L.FILE_UPDATED_NS, L.FILE_TICK_MS)
_NAME_OFF, _NAME_FMT = L.SVC_NAME
_NAME_LEN = _size(_NAME_FMT)
# seq is read as one aligned native load (memoryview's memcpy of 4 bytes), never byte by byte.
_SEQ_OFF, _SEQ_FMT = L.FILE_SEQ
_SEQ_CODE = _SEQ_FMT.lstrip("=")
assert struct.calcsize(_SEQ_CODE) == _size(_SEQ_FMT)


def _field(buf, field, base=0):
    off, fmt = field
    return struct.unpack_from(fmt, buf, base + off)


class Mapping:
    """One mapping of one state file (one daemon run)."""

    __slots__ = ("mm", "seq", "dev", "ino", "stuck_seq")

    def __init__(self, mm, dev, ino):
        self.mm = mm
        self.seq = memoryview(mm)[_SEQ_OFF : _SEQ_OFF + _size(_SEQ_FMT)].cast(_SEQ_CODE)
        self.dev, self.ino = dev, ino
        self.stuck_seq = 0  # an odd seq that stayed odd too long (the writer died)

    def close(self):
        self.seq.release()
        self.mm.close()


def map_file(path):
    """A Mapping of the file at path, or None (missing, short, unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        # A shorter file would SIGBUS us on the far pages: only map what the daemon made.
        if st.st_size < L.FILE_SIZE:
            return None
        mm = mmap.mmap(fd, L.FILE_SIZE, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return Mapping(mm, st.st_dev, st.st_ino)


class View:
    """What one check needs, copied consistently: the file's clock and one service's head."""

    __slots__ = ("updated_ns", "tick_ms", "svc")

    def __init__(self, updated_ns, tick_ms, svc):
        self.updated_ns, self.tick_ms, self.svc = updated_ns, tick_ms, svc


class Service:
    """A service record's head, decoded."""

    __slots__ = (
        "name", "level", "floor", "ceiling", "tier_count", "flags", "pressure_milli",
        "retry_lo_s", "retry_hi_s", "admitted_permille", "lease_expires_ns",
    )

    def __init__(self, head):
        self.name = _field(head, L.SVC_NAME)[0].rstrip(b"\0").decode(errors="replace")
        self.level = _field(head, L.SVC_LEVEL)[0]
        self.floor = _field(head, L.SVC_FLOOR)[0]
        self.ceiling = _field(head, L.SVC_CEILING)[0]
        self.tier_count = _field(head, L.SVC_TIER_COUNT)[0]
        self.flags = _field(head, L.SVC_FLAGS)[0]
        self.pressure_milli = _field(head, L.SVC_PRESSURE_MILLI)[0]
        self.retry_lo_s = _field(head, L.SVC_RETRY_LO_S)[0]
        self.retry_hi_s = _field(head, L.SVC_RETRY_HI_S)[0]
        self.admitted_permille = _field(head, L.SVC_ADMITTED_PERMILLE)
        self.lease_expires_ns = _field(head, L.SVC_LEASE_EXPIRES_NS)[0]


class Reader:
    """Seqlock reads of a Mapping. hint remembers where each service was last found."""

    def __init__(self):
        self.fence = _load_fence()
        self.hint = {}
        # Reads that found a publish under way and went again (approximate across threads):
        # shows a test that the writer was caught mid-publish.
        self.retries = 0

    def read(self, m, service):
        """(0, View) with view.svc None when the service is not in the file, or
        (ESTALE, None) when there is no readable, current-format state."""
        if m is None:
            return errno.ESTALE, None
        mm, seq, fence = m.mm, m.seq, self.fence
        # magic and version are written before the file is renamed in place: never change.
        if _field(mm, L.FILE_MAGIC)[0] != L.STATE_MAGIC or (
            _field(mm, L.FILE_VERSION)[0] != L.STATE_VERSION
        ):
            return errno.ESTALE, None
        want = service.encode()
        want = want + b"\0" if len(want) < _NAME_LEN else None
        deadline = 0
        tries = 0
        while True:
            if tries >= L.CLIENT_READ_SPINS:
                now = time.monotonic_ns()
                if not deadline:
                    deadline = now + L.CLIENT_READ_BUDGET_NS
                elif now > deadline:
                    s1 = seq[0]
                    if s1 & 1:
                        m.stuck_seq = s1
                    return errno.ESTALE, None
                os.sched_yield()
            tries += 1
            s1 = seq[0]
            if s1 & 1:
                if s1 == m.stuck_seq:
                    return errno.ESTALE, None
                self.retries += 1
                continue
            if fence:
                fence()
            hdr = mm[_HDR_LO:_HDR_HI]
            head = self._find(mm, hdr, want, service) if want else None
            if fence:
                fence()
            if seq[0] == s1:
                break
            self.retries += 1
        updated_ns = _field(hdr, L.FILE_UPDATED_NS, -_HDR_LO)[0]
        tick_ms = _field(hdr, L.FILE_TICK_MS, -_HDR_LO)[0]
        return 0, View(updated_ns, tick_ms, Service(head) if head else None)

    def _find(self, mm, hdr, want, service):
        # Mid-write numbers are only bounded here; the seq check discards them.
        n = min(_field(hdr, L.FILE_NSERVICES, -_HDR_LO)[0], L.STATE_SERVICES)
        hint = self.hint.get(service, 0)
        order = (hint, *range(n)) if hint < n else range(n)
        for i in order:
            base = L.FILE_SERVICES + i * L.SERVICE_SIZE + _NAME_OFF
            if mm[base : base + len(want)] == want:
                self.hint[service] = i
                base -= _NAME_OFF
                return mm[base : base + L.SERVICE_HEAD]
        return None
