# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""python3 tests/run.py [PATTERN]: runs the tests in this folder whose file matches PATTERN
(default test_*.py: the unit tests; netns_*.py: the tests against the real daemon) with
unittest, and marks the end of each test with a line as `go test -v` does:

    --- PASS: test_x.Class.test_y (0.01s)      --- FAIL: ...      --- SKIP: ...

so that the build's test runner counts each test (tests/lib/extsuite.h). A failure's traceback
is printed before its mark. Exit status 1 when any test failed, erred or none ran.
"""

import os
import sys
import time
import unittest


class MarkingResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.started = {}

    def _mark(self, test, word, detail=None):
        took = time.monotonic() - self.started.get(test.id(), time.monotonic())
        if detail:
            print(detail, end="" if detail.endswith("\n") else "\n")
        print(f"--- {word}: {test.id()} ({took:.2f}s)", flush=True)

    def startTest(self, test):
        super().startTest(test)
        self.started[test.id()] = time.monotonic()
        print(f"=== RUN   {test.id()}", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._mark(test, "PASS")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._mark(test, "FAIL", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._mark(test, "FAIL", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._mark(test, "SKIP", f"skipped: {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._mark(test, "PASS")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._mark(test, "FAIL", "unexpected success")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    # The package under test is the one beside this folder, not an installed one.
    sys.path.insert(0, os.path.dirname(here))
    sys.path.insert(0, here)
    suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
    result = MarkingResult()
    suite.run(result)
    # A module that fails to import shows up as an error of a "_FailedTest": counted above.
    total = result.testsRun
    bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print(f"{total - bad - len(result.skipped)} passed, {bad} failed, "
          f"{len(result.skipped)} skipped")
    sys.exit(1 if bad or not total or result.skipped else 0)


if __name__ == "__main__":
    main()
