# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The package builds and installs offline: the in-tree backend's wheel holds every module
with a correct RECORD, and `pip install --no-index` of this folder gives an importable client
that reads and reports like the one in the tree."""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(PROJECT, "_build"))
import spillway_build  # noqa: E402


class PackageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="spw-pypkg-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_wheel(self):
        name = spillway_build.build_wheel(self.tmp)
        self.assertEqual(name, "spillway_client-0.1.0-py3-none-any.whl")
        with zipfile.ZipFile(os.path.join(self.tmp, name)) as z:
            names = set(z.namelist())
            modules = {f"spillway/{m}" for m in os.listdir(os.path.join(PROJECT, "spillway"))
                       if m.endswith(".py")}
            self.assertTrue(modules <= names, modules - names)
            self.assertIn("spillway/_layout.py", names)
            record = z.read("spillway_client-0.1.0.dist-info/RECORD").decode().splitlines()
            for line in record:
                path, digest, size = line.rsplit(",", 2)
                if not digest:
                    continue
                data = z.read(path)
                want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                self.assertEqual(digest, "sha256=" + want.decode(), path)
                self.assertEqual(int(size), len(data), path)
            meta = z.read("spillway_client-0.1.0.dist-info/METADATA").decode()
            self.assertIn("Name: spillway-client\n", meta)

    def test_sdist(self):
        name = spillway_build.build_sdist(self.tmp)
        self.assertTrue(os.path.getsize(os.path.join(self.tmp, name)) > 0)

    def test_pip_install_offline(self):
        target = os.path.join(self.tmp, "site")
        r = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-index", "--no-cache-dir",
             "--disable-pip-version-check", "--target", target, PROJECT],
            capture_output=True, text=True,
        )
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        probe = (
            "import errno, os, spillway, sys\n"
            "assert spillway.__file__.startswith(sys.argv[1]), spillway.__file__\n"
            "c = spillway.Client(sys.argv[2], os.path.join(sys.argv[2], 'r.sock'))\n"
            "assert c.report_pool('db', 1, 2) == errno.ENOENT\n"
            "assert c.shed_state('api', 0).stale\n"
            "print('ok')\n"
        )
        env = dict(os.environ, PYTHONPATH=target)
        r = subprocess.run([sys.executable, "-c", probe, target, self.tmp], capture_output=True,
                           text=True, env=env, cwd=self.tmp)
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"), r.stderr)


if __name__ == "__main__":
    unittest.main()
