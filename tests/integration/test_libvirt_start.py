#!/usr/bin/env python3
"""Introspected domains started by a real libvirtd under the KVMI emulator,
with the hook installed and the reference tool listening: the tool hooks
the guest with its uuid and name, authenticated by the key; a wrong key is
refused (and the domain log says why) until a tool with the right key
connects again; the per-run key file's owner and mode when QEMU starts
(seen by a hook of the test's that runs after ours), its removal as soon as
libvirt reports the domain started (QEMU keeps the key in memory: a tool
started again still hooks), after a failed start, and its replacement when
a crash left one; the key in no XML, command line, environment, log or
output; `virt-vmi status` in each state."""

import os
import signal
import sys
import grp
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiproduct as vp  # noqa: E402

USER_ARGS = ["-msg", "timestamp=on"]
USER_ENV = {"VMI_TEST_USER_ENV": "kept"}



class StartTest(vp.DaemonTestCase):
    NAME = "start"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qemu_uid = vl.pwd_uid(vl.QEMU_USER)
        cls.qemu_gid = grp.getgrnam(vl.QEMU_GROUP).gr_gid
        # After ours (qemu.d runs in name order): the key file as QEMU
        # finds it (start begin) and once libvirt says QEMU started
        cls.records = vp.record_key_files(cls.d, cls.tmp.name)

    def key_file_records(self, uuid):
        return vp.key_file_records(self.records, uuid)

    def introspected(self, name, key=None, **element):
        """Defines domain @name on the KVMI emulator, its tool socket in
        self.tools, QEMU reconnecting every second, with @key imported
        through virt-vmi key-import. Returns its UUID."""
        element.setdefault("reconnect", 1)
        uuid = self.d.define_domain(name, emulator=vp.domain_emulator(), qemu_args=USER_ARGS,
                                    qemu_env=USER_ENV,
                                    metadata=vp.element(self.sock(name), **element))
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        r = self.vv("sync", name)
        self.assertEqual(r.rc, 0, r)
        if key is not None:
            path = os.path.join(self.tmp.name, f"{name}.key")
            with open(path, "wb") as f:
                f.write(key)
            r = self.vv("key-import", name, "--file", path)
            self.assertEqual(r.rc, 0, r)
            os.unlink(path)
            secret = vp.vmi_element(vp.dumpxml(self.d, name))[0].find(
                "{%s}key" % vp.VMI_NS).get("secret")
            self.addCleanup(self.d.virsh, "secret-undefine", secret, check=False)
        return uuid

    def sock(self, name):
        return os.path.join(self.tools, f"{name}.sock")

    def tool(self, name, *args, **kwargs):
        return vp.tool(self, self.sock(name), *args, **kwargs)

    def key_file(self, uuid):
        return self.d.host_path(vp.key_path(vp.KEY_DIR, uuid))

    def assertKeyFile(self, uuid, key):
        """The key file was QEMU's when it started, held @key, and went
        when libvirt reported the domain started."""
        records = self.key_file_records(uuid)
        state = records.get("start")
        self.assertIsNotNone(state, "no key file when QEMU started")
        self.assertEqual(state[:6], (self.qemu_uid, self.qemu_gid, 0o600,
                                     self.qemu_uid, self.qemu_gid, 0o700))
        self.assertEqual(state[6], vp.sha1_hex(key))
        self.assertIn("started", records)
        self.assertIsNone(records["started"], "the key file outlives the start")
        self.assertNoKeyFile(uuid)
        top = os.stat(self.d.host_path(vp.KEY_DIR))
        self.assertEqual(top.st_uid, 0)
        self.assertIn(top.st_mode & 0o7777, (0o711, 0o755))

    def assertNoKeyFile(self, uuid):
        self.assertIsNone(vp.key_file_state(self.key_file(uuid)), "the key file is left")

    def start(self, name):
        r = self.d.virsh("start", name, check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        return r

    def test_start_hook_key_nowhere(self):
        key = vp.printable_key()
        uuid = self.introspected("kvmi", key=key)
        outputs = []
        r = self.vv("key-hash", "kvmi", "--show-cookie")
        self.assertEqual(vp.key_leaks(key, r.stdout + r.stderr, cookie=False), [])
        tool = self.tool("kvmi", key_hash=r.stdout.strip())
        mark = self.d.log_size()

        self.start("kvmi")
        hs = tool.wait_for("handshake", timeout=20 * vp.SLOW)
        self.assertEqual((hs["uuid"], hs["name"]), (uuid, "kvmi"))
        self.assertEqual(hs["cpu_type_name"], "x86_64")
        hooked = tool.wait_for("hooked", timeout=10 * vp.SLOW)
        self.assertEqual((hooked["uuid"], hooked["name"], hooked["conn"]), (uuid, "kvmi", 1))
        tool.wait_for("ready", timeout=10 * vp.SLOW, unhook_event=True)
        self.assertEqual(tool.events("closed"), [])
        self.assertKeyFile(uuid, key)

        st = self.vv("status", "kvmi")
        self.assertEqual(st.rc, 0, st)
        outputs.append(st.stdout + st.stderr)
        self.assertIn("State:            running", st.stdout)
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")
        self.assertIn(f"Key file:         /run/libvirt-vmi/{uuid}/key: absent (QEMU read it at "
                      "start and keeps the key in memory)", st.stdout)

        # The user's own arguments reached QEMU
        pids = vp.guest_pids("kvmi")
        qemu = self.d.qemu_pid("kvmi")
        self.assertIn(qemu, pids)
        self.assertGreaterEqual(len(pids), 2, "no relay process of the emulator")
        with open(f"/proc/{qemu}/cmdline", "rb") as f:
            self.assertIn(b"\0-msg\0timestamp=on\0", f.read())

        # The key nowhere
        places = {f"/proc/{p}/cmdline and environ": vp.proc_text(p) for p in pids}
        places["the live XML"] = self.d.virsh("dumpxml", "--security-info", "kvmi").stdout
        places["the inactive XML"] = vp.dumpxml(self.d, "kvmi")
        places["the domain log"] = self.d.domain_log("kvmi")
        places["virt-vmi's output"] = "".join(outputs)
        places["the tool's output"] = tool.output()
        # where a cookie given on the command line would be
        places["the tool's /proc/PID/cmdline and environ"] = vp.proc_text(tool.proc.pid)
        self.assertNotEqual(places["the tool's /proc/PID/cmdline and environ"], b"")

        # The key file is gone, QEMU keeps the key: a tool started again
        # (QEMU reconnects) is accepted with the same cookie
        tool.stop()
        places["the tool's output"] += tool.output()
        tool = self.tool("kvmi", key_hash=r.stdout.strip())
        hooked = tool.wait_for("hooked", timeout=10 * vp.SLOW)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, "kvmi"))
        places["the tool's output, again"] = tool.output()
        places["the second tool's /proc/PID/cmdline and environ"] = vp.proc_text(tool.proc.pid)
        self.d.virsh("destroy", "kvmi")
        places["libvirtd's log"] = self.d.log_text(mark)
        self.assertIn("50-libvirt-vmi kvmi start begin", places["libvirtd's log"])
        self.assertIn("50-libvirt-vmi kvmi started begin", places["libvirtd's log"])
        for where, data in places.items():
            self.assertEqual(vp.key_leaks(key, data), [], f"the key is in {where}")

        self.assertNoKeyFile(uuid)
        tool.wait_for("closed", timeout=10 * vp.SLOW, conn=1)
        st = self.vv("status", "kvmi")
        self.assertIn("Tool connection:  none (the domain is not running)", st.stdout)
        self.assertIn(f"/run/libvirt-vmi/{uuid}/key: absent (written at the next start)", st.stdout)

    def test_wrong_key_then_right_key(self):
        key = b"the right key\n"
        uuid = self.introspected("wrongkey", key=key)
        wrong = os.path.join(self.tmp.name, "wrong.key")
        with open(wrong, "wb") as f:
            f.write(b"the wrong key\n")
        tool = self.tool("wrongkey", key_file=wrong)
        self.start("wrongkey")
        closed = tool.wait_for("closed", timeout=20 * vp.SLOW, conn=1)
        self.assertEqual(closed["reason"], "rejected")
        self.assertEqual(tool.events("hooked"), [])
        vp.wait_until(lambda: "VMI: received cookie doesn't match" in self.d.domain_log("wrongkey"),
                      5 * vp.SLOW, "the domain log says why")
        # QEMU tries again every second, and is briefly connected each time
        seen = []
        vp.wait_until(lambda: seen.append(self.vv("status", "wrongkey").stdout) or
                      "Tool connection:  not connected (disconnected:" in seen[-1],
                      10 * vp.SLOW, "status says not connected")
        st = seen[-1]
        self.assertIn("a tool listens at the socket: it refused the handshake or QEMU waits to "
                      "reconnect", st)

        # QEMU keeps trying (reconnect=1): a tool with the right key gets
        # in, from the key QEMU read at its start (the file is gone)
        self.assertKeyFile(uuid, key)
        tool.stop()
        right = os.path.join(self.tmp.name, "right.key")
        with open(right, "wb") as f:
            f.write(key)
        tool = self.tool("wrongkey", key_file=right)
        hooked = tool.wait_for("hooked", timeout=10 * vp.SLOW)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, "wrongkey"))
        self.assertRegex(self.vv("status", "wrongkey").stdout, r"Tool connection:  connected \(")

    def test_nothing_listening_then_a_tool(self):
        self.introspected("nolistener")
        self.start("nolistener")
        st = self.vv("status", "nolistener").stdout
        self.assertRegex(st, r"Tool connection:  not connected \(disconnected:")
        self.assertIn("nothing listens at the socket: start the introspection tool", st)
        self.assertIn("Key:              none: the tool is not authenticated", st)
        # Without a key QEMU accepts any tool, which it finds at its next try
        tool = self.tool("nolistener")
        tool.wait_for("hooked", timeout=10 * vp.SLOW)
        vp.wait_until(lambda: "Tool connection:  connected" in self.vv("status", "nolistener").stdout,
                      5 * vp.SLOW, "status says connected")
        log = self.d.domain_log("nolistener")
        self.assertIn("VMI: the introspection tool won't be 'authenticated'", log)

    def test_killed_qemu(self):
        key = vp.printable_key()
        uuid = self.introspected("killed", key=key)
        tool = self.tool("killed", key_file=self.write_key(key))
        self.start("killed")
        tool.wait_for("hooked", timeout=20 * vp.SLOW)
        self.assertKeyFile(uuid, key)
        pids = vp.guest_pids("killed")
        os.kill(self.d.qemu_pid("killed"), signal.SIGKILL)
        # libvirt sees the monitor go, runs stopped and release
        vp.wait_until(lambda: self.d.domstate("killed") == "shut off", 10 * vp.SLOW,
                      "the domain is shut off")
        vp.wait_until(lambda: vp.key_file_state(self.key_file(uuid)) is None, 10 * vp.SLOW,
                      "the key file is removed")
        self.assertFalse(vl._wait_gone(pids, 5), "the emulator's relay outlives QEMU")
        self.assertIn("crashed", self.d.virsh("domstate", "--reason", "killed").stdout)
        tool.wait_for("closed", timeout=5 * vp.SLOW, conn=1)

    def write_key(self, key):
        fd, path = tempfile.mkstemp(dir=self.tmp.name)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return path

    def test_failed_start_and_leftover_key_file(self):
        """A start that fails after the key file was written removes it; a
        file a crash left behind is replaced, never used."""
        key = vp.printable_key()
        uuid = self.introspected("failing", key=key)
        # A user argument QEMU refuses: it fails after 'start begin'
        xml = vp.dumpxml(self.d, "failing").replace(
            "<qemu:arg value='-msg'/>", "<qemu:arg value='-no-such-option'/><qemu:arg value='-msg'/>")
        self.d.virsh("define", self.d.write_xml(xml))
        mark = self.d.log_size()
        r = self.d.virsh("start", "failing", check=False)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("-no-such-option", r.stderr)
        self.assertIn("50-libvirt-vmi failing start begin", self.d.log_text(mark))
        self.assertNoKeyFile(uuid)

        xml = xml.replace("<qemu:arg value='-no-such-option'/>", "")
        self.d.virsh("define", self.d.write_xml(xml))
        path = self.key_file(uuid)
        os.makedirs(os.path.dirname(path), mode=0o777)
        with open(path, "wb") as f:
            f.write(b"stale")
        os.chmod(path, 0o666)
        self.start("failing")
        self.assertKeyFile(uuid, key)
        self.d.virsh("destroy", "failing")
        self.assertNoKeyFile(uuid)


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
