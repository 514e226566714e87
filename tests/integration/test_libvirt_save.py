#!/usr/bin/env python3
"""virt-vmi save, restore and snapshot-create on a real libvirtd under the
KVMI emulator, with the reference tool, on one domain with a qcow2 disk
(one start, one restore):

- an internal snapshot: the tool gets UNHOOK and closes before the guest
  pauses, and hooks again once libvirt resumes it;
- save: the same unhook before the pause; the image's header names the
  key secret and the key file, never the key;
- restore: the hook prepares the key, the tool hooks the new QEMU, and
  virt-vmi checks it;
- an external snapshot (memory file + disk overlay): the same unhook, but
  QEMU writes the memory with a migration, and the RFC object refuses the
  tool while a migration it intercepted has not failed: the guest runs on
  unmonitored, which virt-vmi says (exit 3).
Secrets: no form of the key in the save image, the memory file, the
snapshot XML or libvirt's log."""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmiproduct as vp  # noqa: E402

UNHOOK_DELAY_MS = 300


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class SaveTest(vp.DaemonTestCase):
    NAME = "save"

    def test_usage(self):
        r = self.vv("save", "nosuch")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("save takes DOMAIN FILE", r.stderr)
        r = self.vv("snapshot-create", "a", "b", "c")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("snapshot-create takes DOMAIN [NAME]", r.stderr)
        r = self.vv("snapshot-create", "nosuch", "--external", "")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("--external: expected a FILE for the memory", r.stderr)
        r = self.vv("restore", "--paused")
        self.assertEqual(r.rc, 2, r)
        r = self.vv("restore", os.path.join(self.tmp.name, "nosuch.img"))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: cannot read the save image", r.stderr)
        r = self.vv("save", "nosuch", os.path.join(self.tmp.name, "x.img"))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("domain 'nosuch' not found", r.stderr)

    def unhooked_before_pause(self, tool, conn, t1, action="suspend", since=0):
        """The tool got UNHOOK on connection @conn and closed it before the
        command returned (at @t1), and QEMU paused only after the close."""
        unhook = tool.wait_for("unhook", timeout=1, conn=conn)
        closed = tool.wait_for("closed", timeout=1, conn=conn)
        self.assertEqual(closed["reason"], "unhook")
        self.assertEqual(unhook["close_after_ms"], UNHOOK_DELAY_MS)
        self.assertLess(unhook["_t"], closed["_t"])
        self.assertLess(closed["_t"], t1)
        log = self.d.domain_log("snap")[since:]
        self.assertRegex(log, r"VMI: intercept command: " + action + r"\n(.*\n)*.*VMI: "
                         r"introspection tool disconnected\n(.*\n)*.*VMI: continue with '"
                         + action + "'")

    def timed_vv(self, *args):
        t0 = time.monotonic()
        r = self.vv(*args, timeout=120)
        return r, t0, time.monotonic()

    def test_snapshots_save_restore(self):
        name = "snap"
        key = vp.printable_key()
        sock = os.path.join(self.tools, f"{name}.sock")
        disk = os.path.join(self.tmp.name, "snap.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
        uuid = self.d.define_domain(
            name, emulator=vp.domain_emulator(),
            metadata=vp.element(sock, reconnect=1, handshake=2),
            devices=f"    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                    f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk>")
        self.addCleanup(self.d.virsh, "undefine", name, "--snapshots-metadata", check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        keyfile = os.path.join(self.tmp.name, "snap.key")
        with open(keyfile, "wb") as f:
            f.write(key)
        r = self.vv("key-import", name, "--file", keyfile)
        self.assertEqual(r.rc, 0, r)
        tool = vp.tool(self, sock, "--unhook-delay", str(UNHOOK_DELAY_MS), key_file=keyfile)
        self.assertEqual(self.d.virsh("start", name, check=False, timeout=60 * vp.SLOW).rc, 0)
        tool.wait_for("ready", timeout=20 * vp.SLOW, conn=1, unhook_event=True)

        # internal snapshot: unhook, pause, savevm, resume, hooked again
        since = len(self.d.domain_log(name))
        r, t0, t1 = self.timed_vv("snapshot-create", name, "s1")
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Domain 'snap': snapshot 's1' created after [0-9.]+ s "
                         r"\(the introspection tool's unhook first, at most 60 s\)\n"
                         r"Domain 'snap': the introspection tool hooked it again after "
                         r"[0-9.]+ s\n$")
        self.unhooked_before_pause(tool, 1, t1, since=since)
        hooked = tool.wait_for("hooked", timeout=1, conn=2)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, name))
        self.assertLess(hooked["_t"], t1)
        self.assertEqual(self.d.domstate(name), "running")
        snapxml = self.d.virsh("snapshot-dumpxml", name, "s1").stdout
        self.assertIn("<vmi:key secret=", snapxml)
        self.assertEqual(vp.key_leaks(key, snapxml), [])
        self.assertIn("s1", self.d.virsh("snapshot-list", name, "--name").stdout)
        tool.wait_for("ready", timeout=10 * vp.SLOW, conn=2)

        # save: the same unhook; no key in the image
        image = os.path.join(self.tmp.name, "snap.img")
        since = len(self.d.domain_log(name))
        r, t0, t1 = self.timed_vv("save", name, image)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Domain 'snap' saved to " + re.escape(image) +
                         r" after [0-9.]+ s \(the introspection tool's unhook first, at most "
                         r"60 s\)\n$")
        self.unhooked_before_pause(tool, 2, t1, since=since)
        self.assertEqual(self.d.domstate(name), "shut off")
        data = read_bytes(image)
        self.assertIn(b"<vmi:key secret=", data)
        self.assertIn(vp.key_path(vp.KEY_DIR, uuid).encode(), data)
        self.assertEqual(vp.key_leaks(key, data), [])

        # restore: the hook prepares the key, the tool hooks the new QEMU
        r, t0, t1 = self.timed_vv("restore", image)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Domain 'snap' restored from " + re.escape(image) +
                         r"\nDomain 'snap': the introspection tool hooked it again after "
                         r"[0-9.]+ s\n$")
        hooked = tool.wait_for("hooked", timeout=1, conn=3)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, name))
        self.assertLess(hooked["_t"], t1)
        self.assertIsNone(vp.key_file_state(self.d.host_path(vp.key_path(vp.KEY_DIR, uuid))))
        tool.wait_for("ready", timeout=10 * vp.SLOW, conn=3)

        # external snapshot: the same unhook; the memory goes out through a
        # migration, after which QEMU refuses the tool
        memory = os.path.join(self.tmp.name, "snap.mem")
        since = len(self.d.domain_log(name))
        r, t0, t1 = self.timed_vv("snapshot-create", name, "s2", "--external", memory)
        self.assertEqual(r.rc, 3, r)
        self.assertRegex(r.stdout, r"^Domain 'snap': snapshot 's2' created after [0-9.]+ s")
        self.assertRegex(r.stderr, r"error: the introspection tool did not hook domain 'snap' "
                         r"again within 4 s \(QEMU's chardev: disconnected:unix:" +
                         re.escape(sock) + r"\); a tool listens at the socket, but QEMU does "
                         r"not let it hook .*: the guest runs unmonitored\n")
        self.unhooked_before_pause(tool, 3, t1, since=since)
        self.assertIn("VMI: chr_event_open: too soon (suspend=0, migrate=1, shutdown=0)",
                      self.d.domain_log(name)[since:])
        self.assertEqual(tool.events("hooked", conn=4), [])
        self.assertEqual(self.d.domstate(name), "running")
        self.assertTrue(os.path.exists(memory))
        self.assertTrue(os.path.exists(os.path.join(self.tmp.name, "snap.s2")))
        self.assertEqual(vp.key_leaks(key, read_bytes(memory)), [])
        snapxml = self.d.virsh("snapshot-dumpxml", name, "s2").stdout
        self.assertIn("snapshot='external'", snapxml)
        self.assertEqual(vp.key_leaks(key, snapxml), [])

        # only a new QEMU lets the tool in again: save (nothing to unhook)
        # and restore, paused, then resume
        r = self.vv("save", name, image)
        self.assertEqual(r.rc, 0, r)
        r = self.vv("restore", image, "--paused")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, f"Domain 'snap' restored from {image}, paused\n"
                         "Domain 'snap' is paused: the introspection tool hooks it once it "
                         "is resumed\n")
        self.assertEqual(self.d.domstate(name), "paused")
        self.assertEqual(self.vv("resume", name).rc, 0)
        hooked = tool.wait_for("hooked", timeout=10 * vp.SLOW, count=4)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, name))
        self.assertGreater(hooked["conn"], 3)
        self.assertEqual(vp.key_leaks(key, self.d.log_text(0)), [])


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
