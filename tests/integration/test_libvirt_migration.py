#!/usr/bin/env python3
"""Live migration of an introspected domain between two real libvirtd on
this host, both with the hook, under the KVMI emulator: the source's tool
connection unhooks before the migration runs and the destination's QEMU
hooks the tool afresh (same uuid and name, same key, read from the
destination's copy of the secret); a destination without the key secret
refuses the migration in its Prepare phase with a message that names the
secret, and the source keeps running, still hooked."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiproduct as vp  # noqa: E402


class MigrationTest(vp.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.b = None
        try:
            cls.a = vp.product_daemon("mig-src", emulators=[vl.QEMU, *vp.emulators()])
            cls.b = vp.product_daemon("mig-dst", emulators=[vl.QEMU, *vp.emulators()])
        except BaseException:
            vl.stop_all(*[d for d in (cls.a, cls.b) if d])
            raise
        cls.tools = vp.tool_dir(cls.a)
        cls.tmp = tempfile.TemporaryDirectory(prefix="vmi-mig-")
        cls.records = {d: vp.record_key_files(d, cls.tmp.name) for d in (cls.a, cls.b)}

    @classmethod
    def tearDownClass(cls):
        vl.stop_all(cls.a, cls.b)
        cls.tmp.cleanup()

    def setUp(self):
        super().setUp()
        self.addCleanup(vp.check_wrapper_reports, self, self.a, self.b)
        self.key = vp.printable_key()
        self.secret = self.a.define_secret(self.key, usage_type="tls",
                                           usage_name=f"vmi-mig-{self.id()}")
        self.addCleanup(self.a.virsh, "secret-undefine", self.secret, check=False)
        keyfile = os.path.join(self.tmp.name, "key")
        with open(keyfile, "wb") as f:
            f.write(self.key)
        self.sock = os.path.join(self.tools, "mig.sock")
        self.tool = vp.tool(self, self.sock, key_file=keyfile)
        self.uuid = self.a.define_domain("mig", emulator=vp.domain_emulator(), metadata=vp.element(
            self.sock, reconnect=1, key=self.secret, unhook=10))
        for d in (self.b, self.a):
            self.addCleanup(d.virsh, "undefine", "mig", check=False)
            self.addCleanup(d.virsh, "destroy", "mig", check=False)
        r = vp.virt_vmi(self.a, "sync", "mig")
        self.assertEqual(r.rc, 0, r)
        r = self.a.virsh("start", "mig", check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        self.tool.wait_for("ready", timeout=20 * vp.SLOW, conn=1, unhook_event=True)

    def key_file(self, d):
        return d.host_path(vp.key_path(vp.KEY_DIR, self.uuid))

    def test_live_migration(self):
        self.b.define_secret(self.key, uuid=self.secret, usage_type="tls",
                             usage_name=f"vmi-mig-{self.id()}")
        self.addCleanup(self.b.virsh, "secret-undefine", self.secret, check=False)
        src_pids = vp.guest_pids("mig")

        mark = self.b.log_size()
        r = self.a.migrate("mig", self.b, extra=["--persistent"], check=False,
                           timeout=120 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.b.domstate("mig"), "running")
        self.assertEqual(self.a.domstate("mig"), "shut off")
        self.assertFalse(vl._wait_gone(src_pids, 5 * vp.SLOW), "the source QEMU is still running")

        # The source unhooked before the migration ran; the destination's
        # QEMU (started in Prepare, before the source migrates) hooked afresh
        self.tool.wait_for("unhook", timeout=1, conn=1)
        closed = self.tool.wait_for("closed", timeout=5, conn=1)
        self.assertEqual(closed["reason"], "unhook")
        hooked = self.tool.wait_for("hooked", timeout=10 * vp.SLOW, conn=2)
        self.assertEqual((hooked["uuid"], hooked["name"]), (self.uuid, "mig"))
        self.assertEqual(self.tool.events("closed", conn=2), [])
        self.assertEqual(len(self.tool.events("connected")), 2)
        self.assertIn("VMI: intercept command: migrate", self.a.domain_log("mig"))

        # The destination ran its checks before QEMU, wrote its own key file
        # for its QEMU, removed once that started (-incoming: libvirt runs
        # `started` before the migration); the source removed its own
        log = self.b.log_text(mark)
        self.assertIn("50-libvirt-vmi mig migrate begin", log)
        self.assertIn("50-libvirt-vmi mig started begin", log)
        records = vp.key_file_records(self.records[self.b], self.uuid)
        self.assertEqual(records["start"][6], vp.sha1_hex(self.key))
        self.assertIsNone(records["started"])
        self.assertIsNone(vp.key_file_state(self.key_file(self.b)))
        self.assertIsNone(vp.key_file_state(self.key_file(self.a)))
        self.assertEqual(vp.key_leaks(self.key, log), [])
        st = vp.virt_vmi(self.b, "status", "mig")
        self.assertEqual(st.rc, 0, st)
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")

    def test_domain_attached_at_start(self):
        """A domain defined with the element only and started at once (a
        management layer's way) runs with introspection virt-vmid attached
        live: its running definition has no arguments. The destination's
        `migrate begin` adds them to the definition its QEMU starts from,
        and the tool hooks there."""
        self.b.define_secret(self.key, uuid=self.secret, usage_type="tls",
                             usage_name=f"vmi-mig-{self.id()}")
        self.addCleanup(self.b.virsh, "secret-undefine", self.secret, check=False)
        self.a.virsh("destroy", "mig")
        self.a.virsh("undefine", "mig")
        vmid = vp.Vmid(self, self.a)
        xml = vl.domain_xml("mig", uuid=self.uuid, emulator=vp.domain_emulator(),
                            metadata=vp.element(self.sock, reconnect=1, key=self.secret,
                                                unhook=10))
        # a race with the daemon's sync of the new definition: a few tries
        for _ in range(5):
            conns = len(self.tool.events("connected"))
            r = vp.define_and_start(self.a, xml)
            self.assertEqual(r.rc, 0, r)
            self.tool.wait_for("hooked", timeout=30 * vp.SLOW, conn=conns + 1)
            vp.wait_until(lambda: (vmid.domain("mig") or {}).get("state") == "hooked",
                          30 * vp.SLOW, "hooked in the daemon's status")
            if vmid.domain("mig")["attached_at_start"]:
                break
            self.a.virsh("destroy", "mig")
            self.a.virsh("undefine", "mig")
        else:
            self.fail("the daemon's sync won every race: no live attach to migrate")
        self.assertNotIn("introspection,id=vmi0", self.a.virsh("dumpxml", "mig").stdout)

        conns = len(self.tool.events("connected"))
        r = self.a.migrate("mig", self.b, extra=["--persistent"], check=False,
                           timeout=120 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.b.domstate("mig"), "running")
        hooked = self.tool.wait_for("hooked", timeout=10 * vp.SLOW, conn=conns + 1)
        self.assertEqual((hooked["uuid"], hooked["name"]), (self.uuid, "mig"))
        self.assertIn("introspection,id=vmi0", self.b.virsh("dumpxml", "mig").stdout)
        self.assertIsNone(vp.key_file_state(self.key_file(self.b)))

    def test_destination_without_the_secret(self):
        mark = self.b.log_size()
        r = self.a.migrate("mig", self.b, check=False, timeout=120 * vp.SLOW)
        self.assertNotEqual(r.rc, 0, "migrated to a destination without the key secret")
        self.assertIn(f"libvirt-vmi: domain 'mig': key secret '{self.secret}' does not exist",
                      r.stderr)
        # Refused in Prepare, by `prepare begin` (the one hook run that
        # reads the key; `migrate begin` checks the rest): the destination
        # never ran QEMU, the source's tool was never asked to unhook
        log = self.b.log_text(mark)
        self.assertIn("50-libvirt-vmi mig migrate begin", log)
        self.assertIn("50-libvirt-vmi mig prepare begin", log)
        self.assertFalse(vp.qemu_launched(log, "mig"), "QEMU ran")
        self.assertIsNone(vp.key_file_state(self.key_file(self.b)))
        self.assertEqual(self.a.domstate("mig"), "running")
        self.assertNotEqual(self.b.virsh("domstate", "mig", check=False).rc, 0)
        self.assertEqual(self.tool.events("unhook"), [])
        self.assertEqual(self.tool.events("closed"), [])
        self.assertNotIn("VMI: intercept command: migrate", self.a.domain_log("mig"))
        st = vp.virt_vmi(self.a, "status", "mig")
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")
        # the source's key file went when its QEMU started, as always
        self.assertEqual(vp.key_file_records(self.records[self.a], self.uuid)["start"][6],
                         vp.sha1_hex(self.key))
        self.assertIsNone(vp.key_file_state(self.key_file(self.a)))


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
