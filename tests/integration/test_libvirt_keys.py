#!/usr/bin/env python3
"""virt-vmi's key commands on a real libvirtd: key-create, key-import and
key-hash with libvirt secrets; the key never in our output, the domain XML
or libvirtd's log; every bad input refused with the definition and the
secrets unchanged; and the hook refusing a start whose key secret is gone."""

import base64
import contextlib
import os
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiproduct as vp  # noqa: E402


class KeyTest(vp.DaemonTestCase):
    NAME = "keys"

    @classmethod
    def daemon_emulators(cls):
        return [vl.QEMU]

    def define(self, name, element=True):
        uuid = self.d.define_domain(name, metadata=vp.element(f"/run/vmi/{name}.sock")
                                    if element else "")
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        if element:
            self.assertEqual(self.vv("sync", name).rc, 0)
        return uuid

    def key_file(self, data, name="key"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def secrets(self):
        return sorted(ln.split()[0] for ln in self.d.virsh("secret-list").stdout.splitlines()[2:]
                      if ln.strip())

    def key_secret_of(self, name):
        key = vp.vmi_element(vp.dumpxml(self.d, name))[0].find("{%s}key" % vp.VMI_NS)
        return None if key is None else key.get("secret")

    def secret_value(self, uuid):
        return base64.b64decode(self.d.virsh("secret-get-value", uuid).stdout.strip())

    def assertNoKey(self, key, where, data, cookie=True):
        self.assertEqual(vp.key_leaks(key, data, cookie), [], f"the key is in {where}")

    def assertFails(self, r, rc, *needles):
        self.assertEqual(r.rc, rc, f"{r.args}: expected exit {rc}: {r.stdout}{r.stderr}")
        self.assertEqual(r.stdout, "", r.args)
        for n in needles:
            self.assertIn(n, r.stderr, r.args)

    @contextlib.contextmanager
    def nothing_changes(self, *names):
        """The definitions byte-identical and no secret made or lost."""
        before = {n: vp.dumpxml(self.d, n) for n in names}
        secrets = self.secrets()
        yield
        for n in names:
            self.assertEqual(vp.dumpxml(self.d, n), before[n], f"the definition of {n} changed")
        self.assertEqual(self.secrets(), secrets, "the secrets changed")

    def test_key_secret_of_a_name_with_markup(self):
        """The secret's XML is built with libxml2: a domain name with XML's
        special characters reaches the description as it is."""
        name = "r&d <lab> \"x\""
        uuid = self.define(name)
        r = self.vv("key-create", name)
        self.assertEqual(r.rc, 0, r)
        secret = self.key_secret_of(name)
        self.addCleanup(self.d.virsh, "secret-undefine", secret, check=False)
        sx = ET.fromstring(self.d.virsh("secret-dumpxml", secret).stdout)
        self.assertEqual(sx.findtext("description"),
                         f"libvirt-vmi: key that authenticates the VM introspection tool "
                         f"of domain '{name}' ({uuid})")
        self.assertEqual(sx.findtext("usage/name"), f"libvirt-vmi/{uuid}")

    def test_key_import(self):
        uuid = self.define("imported")
        key = vp.printable_key() + b"\n"   # the newline is part of the key
        path = self.key_file(key)
        mark = self.d.log_size()
        r = self.vv("key-import", "imported", "--file", path)
        self.assertEqual(r.rc, 0, r)
        secret = self.key_secret_of("imported")
        self.assertTrue(secret)
        self.assertEqual(r.stdout.splitlines()[0],
                         f"Domain 'imported': {len(key)}-byte key from {path} in new secret {secret}")
        self.assertIn(f"Domain 'imported': added <qemu:arg> secret,id=vmi0-key,format=raw,"
                      f"file=/run/libvirt-vmi/{uuid}/key", r.stdout)
        self.assertEqual(self.secret_value(secret), key)

        # What the secret says about itself
        sx = ET.fromstring(self.d.virsh("secret-dumpxml", secret).stdout)
        self.assertEqual(sx.get("private"), "no")
        self.assertEqual(sx.get("ephemeral"), "no")
        self.assertEqual(sx.find("usage").get("type"), "tls")
        self.assertEqual(sx.findtext("usage/name"), f"libvirt-vmi/{uuid}")
        self.assertIn("'imported'", sx.findtext("description"))
        self.assertIn("introspection", sx.findtext("description"))

        # The cookie is a secret: printed only when asked for, with a warning
        n = self.vv("key-hash", "imported")
        self.assertFails(n, 2, "key-hash prints a secret: the cookie of domain 'imported'",
                         "Give --show-cookie to print it anyway")
        h = self.vv("key-hash", "imported", "--show-cookie")
        self.assertEqual(h.rc, 0, h)
        self.assertEqual(h.stdout, vp.sha1_hex(key) + "\n")
        self.assertEqual(h.stderr, "warning: this is domain 'imported''s introspection cookie, a "
                         "secret: keep it out of command lines, logs and files others can read\n")
        self.assertNoKey(key, "key-hash's output", h.stdout + h.stderr, cookie=False)

        for where, data in [("key-import's output", r.stdout + r.stderr),
                            ("key-hash's refusal", n.stdout + n.stderr),
                            ("the inactive XML", vp.dumpxml(self.d, "imported")),
                            ("virt-vmi get", self.vv("get", "imported").stdout),
                            ("virt-vmi status", self.vv("status", "imported").stdout),
                            ("libvirtd's log", self.d.log_text(mark))]:
            self.assertNoKey(key, where, data)

        # A second key for the same domain is refused
        with self.nothing_changes("imported"):
            self.assertFails(self.vv("key-import", "imported", "--file", path), 1,
                             f"domain 'imported' already has a key, in secret '{secret}'")
            self.assertFails(self.vv("key-create", "imported"), 1,
                             f"domain 'imported' already has a key, in secret '{secret}'")

    def test_key_create(self):
        self.define("created")
        mark = self.d.log_size()
        r = self.vv("key-create", "created")
        self.assertEqual(r.rc, 0, r)
        secret = self.key_secret_of("created")
        self.assertEqual(r.stdout.splitlines()[0],
                         f"Domain 'created': new 32-byte key in secret {secret}")
        key = self.secret_value(secret)
        self.assertEqual(len(key), 32)
        h = self.vv("key-hash", "created", "--show-cookie")
        self.assertEqual(h.stdout, vp.sha1_hex(key) + "\n")
        for where, data in [("key-create's output", r.stdout + r.stderr),
                            ("the inactive XML", vp.dumpxml(self.d, "created")),
                            ("libvirtd's log", self.d.log_text(mark))]:
            self.assertNoKey(key, where, data)

        # Another domain gets another key
        self.define("created2")
        self.assertEqual(self.vv("key-create", "created2").rc, 0)
        self.assertNotEqual(self.secret_value(self.key_secret_of("created2")), key)

    def test_key_errors(self):
        self.define("nokey")
        self.define("noelement", element=False)
        cases = [
            ("key-create without the element", ["key-create", "noelement"],
             ["domain 'noelement' has no <vmi:introspection>", "virt-vmi set noelement --socket"]),
            ("key-import without the element",
             ["key-import", "noelement", "--file", self.key_file(b"k", "one")],
             ["domain 'noelement' has no <vmi:introspection>"]),
            ("a missing key file", ["key-import", "nokey", "--file", "/nonexistent/key"],
             ["error: option '--file': cannot read key file '/nonexistent/key': "
              "No such file or directory\n"]),
            ("an empty key file", ["key-import", "nokey", "--file", self.key_file(b"", "empty")],
             [f"error: option '--file': invalid key file '{self.tmp.name}/empty': 0 bytes, "
              "expected 1 to 65536\n"]),
            ("a key file too big",
             ["key-import", "nokey", "--file", self.key_file(b"k" * 65537, "big")],
             [f"error: option '--file': invalid key file '{self.tmp.name}/big': 65537 bytes, "
              "expected at most 65536\n"]),
            ("a device", ["key-import", "nokey", "--file", "/dev/zero"],
             ["error: option '--file': cannot read key file '/dev/zero': not a regular file: "
              "give a file, or '-' for standard input\n"]),
            # opening a FIFO without a writer waited forever
            ("a FIFO", ["key-import", "nokey", "--file", self.fifo()],
             [f"error: option '--file': cannot read key file '{self.tmp.name}/fifo': not a "
              "regular file: give a file, or '-' for standard input\n"]),
            ("a directory", ["key-import", "nokey", "--file", self.tmp.name],
             [f"error: option '--file': cannot read key file '{self.tmp.name}': "
              "it is a directory\n"]),
            ("key-hash without a key", ["key-hash", "nokey"],
             ["domain 'nokey' has no <vmi:key>", "virt-vmi key-create nokey"]),
            ("key-hash without the element", ["key-hash", "noelement"],
             ["domain 'noelement' has no <vmi:introspection>"]),
        ]
        for what, args, needles in cases:
            with self.subTest(what), self.nothing_changes("nokey", "noelement"):
                self.assertFails(self.vv(*args), 1, *needles)
        with self.subTest("a key from a pipe too big"), self.nothing_changes("nokey"):
            self.assertFails(self.vv("key-import", "nokey", "--file", "-", input="k" * 65537), 1,
                             "error: option '--file': invalid key on standard input: more "
                             "than 65536 bytes, expected at most 65536\n")
        with self.nothing_changes("nokey"):
            self.assertFails(self.vv("key-import", "nokey"), 2, "key-import needs --file FILE")
            self.assertFails(self.vv("key-import", "nokey", "--file"), 2, "--file")

    def fifo(self):
        path = os.path.join(self.tmp.name, "fifo")
        if not os.path.exists(path):
            os.mkfifo(path)
        return path

    def test_key_from_standard_input(self):
        self.define("piped")
        key = vp.printable_key()
        r = self.vv("key-import", "piped", "--file", "-", input=key.decode())
        self.assertEqual(r.rc, 0, r)
        secret = self.key_secret_of("piped")
        self.assertEqual(r.stdout.splitlines()[0],
                         f"Domain 'piped': {len(key)}-byte key from standard input in new "
                         f"secret {secret}")
        self.assertEqual(self.secret_value(secret), key)
        self.assertNoKey(key, "key-import's output", r.stdout + r.stderr)

    def test_key_64k_is_accepted(self):
        self.define("bigkey")
        key = os.urandom(65536)
        r = self.vv("key-import", "bigkey", "--file", self.key_file(key, "64k"))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.secret_value(self.key_secret_of("bigkey")), key)
        self.assertEqual(self.vv("key-hash", "bigkey", "--show-cookie").stdout, vp.sha1_hex(key) + "\n")

    def test_usage_already_taken(self):
        """A leftover secret of the domain (same usage) is named, not replaced."""
        uuid = self.define("leftover")
        old = self.d.define_secret(b"old", usage_type="tls", usage_name=f"libvirt-vmi/{uuid}")
        self.addCleanup(self.d.virsh, "secret-undefine", old, check=False)
        with self.nothing_changes("leftover"):
            self.assertFails(self.vv("key-create", "leftover"), 1,
                             f"secret '{old}' already holds a key of domain 'leftover'",
                             f"--key-secret {old}")
        # It can be used as it is
        r = self.vv("set", "leftover", "--key-secret", old)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.vv("key-hash", "leftover", "--show-cookie").stdout, vp.sha1_hex(b"old") + "\n")

    def test_secret_gone(self):
        """The secret removed behind our back: key-hash, status and the
        hook (at start) name it."""
        self.define("gone")
        self.assertEqual(self.vv("key-import", "gone", "--file", self.key_file(b"gone")).rc, 0)
        secret = self.key_secret_of("gone")
        self.d.virsh("secret-undefine", secret)
        msg = f"key secret '{secret}' does not exist"
        self.assertFails(self.vv("key-hash", "gone"), 1, msg)
        st = self.vv("status", "gone")
        self.assertEqual(st.rc, 0, st)
        self.assertIn(f"secret {secret}: {msg}", st.stdout)

        mark = self.d.log_size()
        r = self.d.virsh("start", "gone", check=False)
        self.assertNotEqual(r.rc, 0)
        self.assertIn(f"libvirt-vmi: domain 'gone': {msg}", r.stderr)
        self.assertEqual(self.d.domstate("gone"), "shut off")
        self.assertFalse(vp.qemu_launched(self.d.log_text(mark), "gone"), "QEMU ran")

        # A secret without a value is refused the same way
        self.d.define_secret(None, uuid=secret, usage_type="tls", usage_name="vmi-gone")
        self.addCleanup(self.d.virsh, "secret-undefine", secret, check=False)
        r = self.d.virsh("start", "gone", check=False)
        self.assertNotEqual(r.rc, 0)
        self.assertIn(f"libvirt-vmi: domain 'gone': cannot read the value of key secret "
                      f"'{secret}'", r.stderr)


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
