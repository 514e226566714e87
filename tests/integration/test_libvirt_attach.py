#!/usr/bin/env python3
"""Live attach and detach on a real libvirtd under the KVMI emulator, on
one domain started once without introspection: attach (the key file is
written for QEMU's secret object, then gone), the tool hooks; a second
attach is refused and changes nothing; detach with the tool connected
pauses the guest for the unhook, removes the objects and the chardev, and
runs the guest again; attach again and the tool hooks again; an attach that
QEMU refuses half-way ("VMI: only one introspection object can be
created", for an object someone else added) leaves nothing of ours behind
(qom-list /objects, query-chardev); a tool that never unhooks is cut off
after the unhook timeout and the detach completes; a domain that is not
running is refused."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmiproduct as vp  # noqa: E402

OURS = {"vmi0", "vmi0-key", "other"}


class AttachTest(vp.DaemonTestCase):
    NAME = "attach"

    def qmp(self, name, execute, **arguments):
        cmd = {"execute": execute}
        if arguments:
            cmd["arguments"] = arguments
        r = self.d.virsh("qemu-monitor-command", name, json.dumps(cmd), timeout=60 * vp.SLOW)
        return json.loads(r.stdout)

    def attached(self, name):
        """(the objects of ours and of the test, whether QEMU has charvmi0)"""
        objs = {o["name"] for o in self.qmp(name, "qom-list", path="/objects")["return"]}
        chardevs = {c["label"] for c in self.qmp(name, "query-chardev")["return"]}
        return sorted(objs & OURS), "charvmi0" in chardevs

    def test_attach_detach(self):
        name = "live"
        sock = os.path.join(self.tools, f"{name}.sock")
        uuid = self.d.define_domain(name, emulator=vp.domain_emulator())
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        keyfile = self.d.host_path(vp.key_path(vp.KEY_DIR, uuid))

        r = self.vv("attach", name)
        self.assertEqual(r.rc, 1, r)
        self.assertIn(f"domain '{name}' is not running: --live changes a running QEMU", r.stderr)

        r = self.d.virsh("start", name, check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        r = self.vv("attach", name, "--live")
        self.assertEqual(r.rc, 1, r)
        self.assertIn(f"domain '{name}' has no <vmi:introspection>", r.stderr)

        # configured on the running domain: the persistent definition only
        key = vp.printable_key()
        path = os.path.join(self.tmp.name, f"{name}.key")
        with open(path, "wb") as f:
            f.write(key)
        for args in (("set", name, "--socket", sock, "--reconnect", "1", "--unhook-timeout", "30"),
                     ("key-import", name, "--file", path)):
            r = self.vv(*args)
            self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.attached(name), ([], False))
        tool = vp.tool(self, sock, "--unhook-delay", "200", key_file=path)

        r = self.vv("attach", name)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, f"Introspection attached to domain '{name}': QEMU connects "
                         "to the tool\n")
        hooked = tool.wait_for("hooked", timeout=20 * vp.SLOW, conn=1)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, name))
        tool.wait_for("ready", timeout=10 * vp.SLOW, conn=1, unhook_event=True)
        self.assertEqual(self.attached(name), (["vmi0", "vmi0-key"], True))
        self.assertIsNone(vp.key_file_state(keyfile), "the key file outlives the attach")

        # one introspection object per VM: refused before anything changes
        r = self.vv("attach", name)
        self.assertEqual(r.rc, 1, r)
        self.assertIn(f"domain '{name}' already has introspection attached", r.stderr)
        self.assertIn("virt-vmi detach live first", r.stderr)
        self.assertEqual(self.attached(name), (["vmi0", "vmi0-key"], True))
        self.assertEqual(tool.events("closed"), [])

        # the tool is connected: QEMU refuses object-del, so the pause
        # makes it unhook first, and the guest runs again after
        r = self.vv("detach", name)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, f"Introspection detached from domain '{name}', once the "
                         "tool had unhooked (the guest was paused meanwhile)\n")
        self.assertEqual(tool.wait_for("closed", timeout=5 * vp.SLOW, conn=1)["reason"], "unhook")
        self.assertEqual(self.d.domstate(name), "running")
        self.assertEqual(self.attached(name), ([], False))
        r = self.vv("detach", name)
        self.assertEqual(r.rc, 1, r)
        self.assertIn(f"domain '{name}' has no introspection attached", r.stderr)

        # attach again: the tool hooks again
        r = self.vv("attach", name, "--live", "--config")
        self.assertEqual(r.rc, 0, r)
        tool.wait_for("hooked", timeout=20 * vp.SLOW, conn=2)
        self.assertEqual(self.attached(name), (["vmi0", "vmi0-key"], True))
        r = self.vv("detach", name, "--live")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(tool.wait_for("closed", timeout=5 * vp.SLOW, conn=2)["reason"], "unhook")
        self.assertEqual(self.attached(name), ([], False))

        # someone else's introspection object: QEMU refuses ours at the
        # last step, and what was added goes again
        self.qmp(name, "chardev-add", id="otherchr",
                 backend={"type": "socket", "data": {
                     "addr": {"type": "unix", "data": {"path": sock + ".other"}},
                     "server": False, "reconnect": 1}})
        self.assertIn("return", self.qmp(name, "object-add", **{
            "qom-type": "introspection", "id": "other", "props": {"chardev": "otherchr"}}))
        r = self.vv("attach", name)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("(what was added is removed again): object-add of 'vmi0': QEMU: "
                      "VMI: only one introspection object can be created", r.stderr)
        self.assertEqual(self.attached(name), (["other"], False))
        self.assertIsNone(vp.key_file_state(keyfile))
        # as the fork's object does, it takes its chardev with it
        self.assertIn("return", self.qmp(name, "object-del", id="other"))
        self.assertNotIn("otherchr", {c["label"] for c in self.qmp(name, "query-chardev")["return"]})

        # no tool listening: QEMU deletes the object at once, no pause
        r = self.vv("set", name, "--socket", sock + ".none")
        self.assertEqual(r.rc, 0, r)
        r = self.vv("attach", name)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.attached(name), (["vmi0", "vmi0-key"], True))
        r = self.vv("detach", name)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, f"Introspection detached from domain '{name}'\n")
        self.assertEqual(self.attached(name), ([], False))

        # a tool that never unhooks: the pause is held the unhook timeout,
        # then QEMU cuts the connection itself, and the objects go all the same
        r = self.vv("set", name, "--socket", sock + ".never", "--unhook-timeout", "2")
        self.assertEqual(r.rc, 0, r)
        never = vp.tool(self, sock + ".never", "--unhook-delay", "never", key_file=path)
        r = self.vv("attach", name)
        self.assertEqual(r.rc, 0, r)
        never.wait_for("ready", timeout=20 * vp.SLOW, conn=1, unhook_event=True)
        r = self.vv("detach", name)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, f"Introspection detached from domain '{name}': the tool did "
                         "not unhook within the unhook timeout, so QEMU cut its connection "
                         "(the guest was paused meanwhile)\n")
        self.assertIsNone(never.wait_for("unhook", timeout=1, conn=1)["close_after_ms"])
        self.assertEqual(never.wait_for("closed", timeout=5 * vp.SLOW, conn=1)["reason"], "eof")
        self.assertIn("VMI: the introspection tool is too slow", self.d.domain_log(name))
        self.assertEqual(self.d.domstate(name), "running")
        self.assertEqual(self.attached(name), ([], False))
        # the object gone, QEMU does not come back
        self.assertEqual(len(never.events("hooked")), 1)
        self.assertEqual(vp.key_leaks(key, self.d.log_text()), [])

    def test_emulator_without_the_object(self):
        """A QEMU without the introspection object: refused by the probe
        before anything changes; detach --config drops the element."""
        name = "plain"
        sock = os.path.join(self.tools, f"{name}.sock")
        self.d.define_domain(name, emulator=vp.vl.QEMU)
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        r = self.d.virsh("start", name, check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        r = self.vv("set", name, "--socket", sock)
        self.assertEqual(r.rc, 0, r)
        r = self.vv("attach", name)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("has no introspection object: it is not a KVMI QEMU", r.stderr)
        objs = {o["name"] for o in self.qmp(name, "qom-list", path="/objects")["return"]}
        self.assertEqual(objs & OURS, set())
        self.assertNotIn("charvmi0",
                         {c["label"] for c in self.qmp(name, "query-chardev")["return"]})
        # nothing attached live; --config alone drops the element
        r = self.vv("detach", name)
        self.assertEqual(r.rc, 1, r)
        self.assertIn(f"domain '{name}' has no introspection attached", r.stderr)
        r = self.vv("detach", name, "--config")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(vp.vmi_element(vp.dumpxml(self.d, name)), [])
        self.assertEqual(self.d.domstate(name), "running")


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
