#!/usr/bin/env python3
"""Installation as a feature: `meson install --destdir` of the build
directory into a temporary tree, and what that tree holds: the programs,
the hook's qemu.d link, the schema, the documentation and every man page;
the test world's programs (qemu-kvmi, vmi-tool) only when the build asks
for them (-Dtest_tools=true)."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ["VMI_SOURCE_DIR"]
BUILD = os.environ["VMI_BUILD_DIR"]
MESON = os.environ.get("VMI_MESON") or shutil.which("meson")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import vmiwrap as vw  # noqa: E402

# The installed programs: (directory option, name)
PROGRAMS = [("bindir", "virt-vmi"),
            ("sbindir", "virt-vmid"),
            ("libexecdir", "libvirt-vmi-hook"),
            ("libexecdir", "libvirt-vmi-hook-key")]
# The test world's programs, with -Dtest_tools=true only: {name: where
# the build puts it}
TEST_TOOLS = {"qemu-kvmi": "tools/kvmi-emulator", "vmi-tool": "tools/vmi-tool"}
# At the least these pages; every page docs/ holds is checked too
MAN_PAGES = ["virt-vmi.1", "virt-vmid.8", "libvirt-vmi-hook.8", "libvirt-vmi-hook-key.8"]
HTML_DOCS = ["formatdomain-vmi", "how-it-works", "kvmi", "testing"]
# libvirt reads its hooks here whatever the prefix
HOOK_LINK = "/etc/libvirt/hooks/qemu.d/50-libvirt-vmi"


def build_options(target):
    """{name: value} of meson's options for @target (a build directory,
    or a meson.build for the defaults)."""
    out = subprocess.run([MESON, "introspect", "--buildoptions", target],
                         capture_output=True, text=True, check=True,
                         cwd=BUILD).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


def source_man_pages():
    """{page file name: program} of every man page written in docs/."""
    pages = {}
    for rst in sorted(glob.glob(os.path.join(SRC, "docs", "*.rst"))):
        with open(rst) as f:
            m = re.search(r"^:Manual section: *(\d)\s*$", f.read(), re.M)
        if m:
            name = os.path.basename(rst)[:-len(".rst")]
            pages[f"{name}.{m.group(1)}"] = name
    return pages


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vmi-install-")
        cls.destdir = os.path.join(cls.tmp.name, "root")
        r = subprocess.run([MESON, "install", "-C", BUILD, "--destdir", cls.destdir,
                            "--no-rebuild", "--quiet"],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            cls.tmp.cleanup()
            raise AssertionError(f"meson install failed ({r.returncode}):\n"
                                 f"{r.stdout}{r.stderr}")
        cls.opts = build_options(BUILD)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def installed(self, path):
        """@path (absolute, as installed) inside the destdir."""
        return os.path.join(self.destdir, path.lstrip("/"))

    def dir_of(self, option):
        """The absolute directory meson option @option names."""
        return os.path.join(self.opts["prefix"], self.opts[option])

    def assert_file(self, path, mode_bits=0):
        full = self.installed(path)
        self.assertTrue(os.path.isfile(full) and not os.path.islink(full),
                        f"{path} is not installed as a file")
        if mode_bits:
            self.assertEqual(os.stat(full).st_mode & mode_bits, mode_bits,
                             f"{path}: mode {os.stat(full).st_mode:o}")

    def assert_absent(self, name):
        """Nothing called @name anywhere in the installed tree."""
        found = [os.path.join(d, f) for d, _, files in os.walk(self.destdir)
                 for f in files if f == name]
        self.assertEqual(found, [], f"{name} is installed")

    def test_programs(self):
        for option, name in PROGRAMS:
            with self.subTest(program=name):
                self.assert_file(os.path.join(self.dir_of(option), name), 0o555)

    def test_programs_help(self):
        """Each installed program runs from where it is installed, and
        --help succeeds with a usage on standard output."""
        for option, name in PROGRAMS:
            with self.subTest(program=name):
                exe = self.installed(os.path.join(self.dir_of(option), name))
                r = vw.run(vw.wrap([exe, "--help"]), timeout=60 * vw.SLOW)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Usage", r.stdout)
                self.assertIn(name, r.stdout)

    def test_hook_link(self):
        link = self.installed(HOOK_LINK)
        self.assertTrue(os.path.islink(link), f"{HOOK_LINK} is not a symlink")
        target = os.readlink(link)
        hook = os.path.join(self.dir_of("libexecdir"), "libvirt-vmi-hook")
        self.assertEqual(target, hook)
        # the link resolves, inside the tree, to the installed hook
        self.assertTrue(os.path.isfile(self.installed(target)), target)

    def test_systemd_unit(self):
        """virt-vmid.service, starting the installed daemon after libvirtd."""
        unit = os.path.join(self.opts["prefix"], "lib", "systemd", "system", "virt-vmid.service")
        self.assert_file(unit)
        with open(self.installed(unit)) as f:
            text = f.read()
        daemon = os.path.join(self.dir_of("sbindir"), "virt-vmid")
        self.assertIn(f"\nExecStart={daemon} --foreground\n", text)
        self.assertIn("\nAfter=libvirtd.service\n", text)

    def test_schema(self):
        schema = os.path.join(self.dir_of("datadir"), "libvirt", "schemas",
                              "introspection.rng")
        self.assert_file(schema)
        with open(os.path.join(SRC, "src", "conf", "schemas", "introspection.rng"), "rb") as f:
            expected = f.read()
        with open(self.installed(schema), "rb") as f:
            self.assertEqual(f.read(), expected)

    def test_man_pages(self):
        pages = source_man_pages()
        for page in MAN_PAGES:
            self.assertIn(page, pages, f"docs/ has no man page {page}")
        mandir = self.dir_of("mandir")
        for page, program in pages.items():
            with self.subTest(page=page):
                path = os.path.join(mandir, "man" + page.rsplit(".", 1)[1], page)
                if program in TEST_TOOLS and not self.opts["test_tools"]:
                    self.assert_absent(page)
                else:
                    self.assert_file(path)
                    self.assertGreater(os.path.getsize(self.installed(path)), 0)

    def test_html_docs(self):
        docdir = os.path.join(self.dir_of("datadir"), "doc", "libvirt-vmi")
        for doc in HTML_DOCS:
            with self.subTest(doc=doc):
                self.assert_file(os.path.join(docdir, doc + ".html"))

    def test_test_tools(self):
        """The test world's programs are built always (the tests run them)
        but installed only with -Dtest_tools=true."""
        for name, builddir in TEST_TOOLS.items():
            with self.subTest(program=name):
                self.assertTrue(os.path.isfile(os.path.join(BUILD, builddir, name)),
                                f"{name} is not built")
                if self.opts["test_tools"]:
                    self.assert_file(os.path.join(self.dir_of("bindir"), name), 0o555)
                else:
                    self.assert_absent(name)

    def test_test_tools_default(self):
        """By default the test world's programs are not installed."""
        defaults = build_options(os.path.join(SRC, "meson.build"))
        self.assertIs(defaults["test_tools"], False)

    def test_nothing_else_in_bindir(self):
        """bindir holds virt-vmi only (and the test tools when asked for):
        the hook and its helper are libvirt's, not the user's."""
        bindir = self.installed(self.dir_of("bindir"))
        expected = {"virt-vmi"} | (set(TEST_TOOLS) if self.opts["test_tools"] else set())
        self.assertEqual(set(os.listdir(bindir)), expected)


if __name__ == "__main__":
    unittest.main(verbosity=2)
