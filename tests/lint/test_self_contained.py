#!/usr/bin/env python3
"""Docs and comments stand on their own: no file of the source tree points
at notes kept outside the repository (what the project relies on is in
docs/kvmi.rst and docs/testing.rst). Build directories and .git are not
looked at."""

import os
import re
import sys
import unittest

SRC = os.environ.get("VMI_SOURCE_DIR",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Written so that this file does not match them itself
FORBIDDEN = re.compile("|".join([
    r"notes" r"/",              # the team's notes directory
    r"kvmi\.md",
    r"machine\.md",
    r"\.\." r"/shared",         # the folder beside the clone
    r"DESIGN\.md",
]))


def is_build_dir(path):
    return os.path.isfile(os.path.join(path, "build.ninja")) or \
        os.path.isdir(os.path.join(path, "meson-private"))


def source_files(root):
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in (".git", "__pycache__")
                         and not is_build_dir(os.path.join(d, x)))
        for f in sorted(files):
            yield os.path.join(d, f)


class SelfContainedTest(unittest.TestCase):
    def test_no_outside_references(self):
        found = []
        for path in source_files(SRC):
            with open(path, "rb") as f:
                data = f.read()
            if b"\0" in data:
                continue
            for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if FORBIDDEN.search(line):
                    found.append(f"{os.path.relpath(path, SRC)}:{n}: {line.strip()}")
        self.assertEqual(found, [], "files point outside the repository:\n" + "\n".join(found))

    def test_pattern(self):
        """The check would see each kind of reference."""
        for text in ("see " + "notes" + "/x", "kvmi" + ".md", "machine" + ".md",
                     ".." + "/shared/x", "DESIGN" + ".md"):
            self.assertRegex(text, FORBIDDEN)


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
