#!/usr/bin/env python3
"""The command lines of libvirt-vmi-hook and libvirt-vmi-hook-key, what a
person sees running them by hand: --help, --version, usage errors, and
the key helper's refusal to write anywhere but to a pipe. No libvirt."""

import os
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ["VMI_SOURCE_DIR"]
BUILD = os.environ["VMI_BUILD_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import vmiwrap as vw  # noqa: E402

HOOK = os.path.join(BUILD, "src", "libvirt-vmi-hook")
HOOK_KEY = os.path.join(BUILD, "src", "libvirt-vmi-hook-key")
SOME_UUID = "00000000-0000-4000-8000-000000000001"


def run(*cmd, **kwargs):
    return vw.run(vw.wrap(list(cmd)), timeout=60 * vw.SLOW, **kwargs)


def version():
    with open(os.path.join(SRC, "meson.build")) as f:
        for line in f:
            if line.strip().startswith("version:"):
                return line.split("'")[1]
    raise AssertionError("no version in meson.build")


class HelpTest(unittest.TestCase):
    def test_help(self):
        for exe in (HOOK, HOOK_KEY):
            for opt in ("--help", "-h"):
                with self.subTest(program=os.path.basename(exe), option=opt):
                    r = run(exe, opt)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertTrue(r.stdout.startswith(f"Usage: {exe} "), r.stdout)
                    self.assertIn("see man " + os.path.basename(exe) + ".", r.stdout)
                    self.assertEqual(r.stderr, "")

    def test_version(self):
        for exe in (HOOK, HOOK_KEY):
            with self.subTest(program=os.path.basename(exe)):
                r = run(exe, "--version")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, f"{os.path.basename(exe)} {version()}\n")


class HookKeyUsageTest(unittest.TestCase):
    def test_bad_command_lines(self):
        for args in ([], ["qemu:///system"], ["qemu:///system", "not-a-uuid"],
                     ["qemu:///system", SOME_UUID, "extra"]):
            with self.subTest(args=args):
                r = run(HOOK_KEY, *args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(r.stderr, f"usage: {HOOK_KEY} URI SECRET-UUID > PIPE\n")

    def test_stdout_not_a_pipe(self):
        """A file is refused before libvirt is asked anything (the URI
        here names no daemon)."""
        cmd = vw.wrap([HOOK_KEY, "test:///nowhere", SOME_UUID])
        with tempfile.TemporaryFile() as out:
            r = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True,
                               timeout=60 * vw.SLOW)
            out.seek(0)
            self.assertEqual(out.read(), b"")
        stderr = vw.check_run(cmd, r.returncode, r.stderr)
        self.assertEqual(r.returncode, 2, stderr)
        self.assertEqual(stderr, f"{HOOK_KEY}: standard output must be a pipe\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
