# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The daemon's own shed-state writer (user/lib/spw_state_write.c), run as the test program
build/tests/clients/state_writer (tests/clients/state_writer.c) and driven line by line, so the
client reads files exactly as the daemon writes them. States are numbered by one counter k
(tests/lib/state_pattern.h): service "web", 3 tiers, level k % 97, pressure 7k milli,
Retry-After [k, k + 10] s.
"""

import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TIERS = 3
CEILING = TIERS * 32
FLAG_DRY_RUN = 4
TICK_MS = 1000


def writer_path():
    path = os.environ.get("SPW_STATE_WRITER") or os.path.join(
        ROOT, "build", "tests", "clients", "state_writer"
    )
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"{path} is missing: build it with `make build/tests/clients/state_writer` "
            "(part of `make tests`), or set SPW_STATE_WRITER"
        )
    return path


class StateWriter:
    """A writer of DIR/state. The file exists (nothing published) once this returns."""

    def __init__(self, folder=None):
        self.own = folder is None
        self.dir = folder or tempfile.mkdtemp(prefix="spw-pyclient-")
        self.proc = subprocess.Popen(
            [writer_path(), self.dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, bufsize=1,
        )
        self.cmd("expect 0 0")  # answered once the file is there

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise RuntimeError(f"state_writer: {line!r}: {answer!r}")
        return [int(x) for x in answer.split()[1:]]

    def publish(self, k, age_ms=0, flags=0):
        self.cmd(f"publish {k} {age_ms} {flags}")

    def burst(self, first, last, gap_us):
        return self.cmd(f"burst {first} {last} {gap_us}")[0]

    def restart(self):
        self.cmd("restart")

    def stuck(self):
        self.cmd("stuck")

    def expect(self, k, tier):
        """(level, admitted_permille of tier) of state k."""
        level, admitted = self.cmd(f"expect {k} {tier}")
        return level, admitted

    def admitted(self, level, floor, tier):
        return self.cmd(f"admitted {level} {floor} {tier}")[0]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        if self.own:
            shutil.rmtree(self.dir, ignore_errors=True)
