#!/usr/bin/env python3
"""Pause, save and restore of an introspected domain on a real libvirtd
under the KVMI emulator, with the reference tool: `virsh suspend` returns
only after the tool has unhooked (a tool that takes D ms makes it take at
least D ms, and the tool's close comes before the suspend returns), and
within the unhook timeout of a tool that never unhooks; resume lets the
tool hook again; `virsh save` unhooks and removes the key file,
`virsh restore` runs the hook's checks and brings the key file and the
tool's connection back."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmiproduct as vp  # noqa: E402

UNHOOK_DELAY_MS = 1500
UNHOOK_TIMEOUT = 2
HANDSHAKE = 5


class SuspendTest(vp.DaemonTestCase):
    NAME = "suspend"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.records = vp.record_key_files(cls.d, cls.tmp.name)

    def running(self, name, *tool_args, key=None, **element):
        """Domain @name on the KVMI emulator, started, with its tool hooked
        (conn 1). Returns (uuid, tool)."""
        element.setdefault("reconnect", 1)
        sock = os.path.join(self.tools, f"{name}.sock")
        uuid = self.d.define_domain(name, emulator=vp.domain_emulator(),
                                    metadata=vp.element(sock, **element))
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        self.assertEqual(self.vv("sync", name).rc, 0)
        kwargs = {}
        if key is not None:
            path = os.path.join(self.tmp.name, f"{name}.key")
            with open(path, "wb") as f:
                f.write(key)
            r = self.vv("key-import", name, "--file", path)
            self.assertEqual(r.rc, 0, r)
            kwargs["key_file"] = path
        tool = vp.tool(self, sock, *tool_args, **kwargs)
        r = self.d.virsh("start", name, check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        tool.wait_for("ready", timeout=20 * vp.SLOW, conn=1, unhook_event=True)
        return uuid, tool

    def timed_virsh(self, *args, timeout=60):
        t0 = time.monotonic()
        r = self.d.virsh(*args, check=False, timeout=timeout * vp.SLOW)
        t1 = time.monotonic()
        self.assertEqual(r.rc, 0, r)
        return t0, t1

    def test_suspend_waits_for_the_unhook(self):
        uuid, tool = self.running("slow", "--unhook-delay", str(UNHOOK_DELAY_MS))
        t0, t1 = self.timed_virsh("suspend", "slow")
        unhook = tool.wait_for("unhook", timeout=1, conn=1)
        closed = tool.wait_for("closed", timeout=1, conn=1)
        self.assertEqual(closed["reason"], "unhook")
        self.assertEqual(unhook["close_after_ms"], UNHOOK_DELAY_MS)
        # The pause was held until the tool had closed its connection
        self.assertGreaterEqual(t1 - t0, UNHOOK_DELAY_MS / 1000)
        self.assertLess(unhook["_t"], closed["_t"])
        self.assertLess(closed["_t"], t1, "virsh suspend returned before the tool unhooked")
        self.assertGreaterEqual(closed["_t"] - unhook["_t"], UNHOOK_DELAY_MS / 1000 - 0.05)
        self.assertEqual(self.d.domstate("slow"), "paused")
        # QEMU intercepted the pause and went on once the tool had gone
        self.assertRegex(self.d.domain_log("slow"),
                         r"VMI: intercept command: suspend\n(.*\n)*.*VMI: introspection tool "
                         r"disconnected\n(.*\n)*.*VMI: continue with 'suspend'")

        # While paused QEMU does not reconnect; resume lets the tool hook again
        time.sleep(1.5)
        self.assertEqual(tool.events("connected", conn=2), [])
        r = self.vv("resume", "slow")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout,
                         "Domain 'slow' resumed: the introspection tool may connect again\n")
        hooked = tool.wait_for("hooked", timeout=10 * vp.SLOW, conn=2)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, "slow"))
        self.assertEqual(self.d.domstate("slow"), "running")
        tool.wait_for("ready", timeout=10 * vp.SLOW, conn=2)

        # virt-vmi suspend waits the same way, and says so
        t0 = time.monotonic()
        r = self.vv("suspend", "slow")
        t1 = time.monotonic()
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Domain 'slow' suspended after [0-9.]+ s, once the "
                         r"introspection tool unhooked\n$")
        closed = tool.wait_for("closed", timeout=1, conn=2)
        self.assertEqual(closed["reason"], "unhook")
        self.assertLess(closed["_t"], t1)
        self.assertGreaterEqual(t1 - t0, UNHOOK_DELAY_MS / 1000)
        self.assertEqual(self.d.domstate("slow"), "paused")

    def test_suspend_within_the_unhook_timeout(self):
        _, tool = self.running("never", "--unhook-delay", "never", unhook=UNHOOK_TIMEOUT)
        t0 = time.monotonic()
        r = self.vv("suspend", "never", timeout=60)
        t1 = time.monotonic()
        self.assertEqual(r.rc, 0, r)
        self.assertGreaterEqual(t1 - t0, UNHOOK_TIMEOUT)
        self.assertLess(t1 - t0, UNHOOK_TIMEOUT + 10 * vp.SLOW)
        self.assertRegex(r.stdout, r"^Domain 'never' suspended after [0-9.]+ s: the tool did not "
                         r"unhook within the unhook timeout \(2 s\), so QEMU cut its connection\n$")
        self.assertEqual(self.d.domstate("never"), "paused")
        # QEMU cut the tool off: it saw the UNHOOK event, then an end of file
        self.assertEqual(tool.wait_for("unhook", timeout=1, conn=1)["close_after_ms"], None)
        closed = tool.wait_for("closed", timeout=5 * vp.SLOW, conn=1)
        self.assertEqual(closed["reason"], "eof")
        self.assertLess(closed["_t"], t1 + 0.5 * vp.SLOW)
        self.assertIn("VMI: the introspection tool is too slow", self.d.domain_log("never"))

    def test_suspend_shows_the_wait_on_a_terminal(self):
        """On a terminal virt-vmi suspend redraws, about every 100 ms, how
        long it has waited against the unhook timeout, and clears that
        line before it reports."""
        self.running("shown", "--unhook-delay", "never", unhook=UNHOOK_TIMEOUT)
        r = vp.virt_vmi_on_terminal(self.d, "suspend", "shown")
        self.assertEqual(r.rc, 0, r)
        out = r.stdout
        line = (rb"\rSuspending 'shown': waiting for the introspection tool to unhook: "
                rb"[0-9]+\.[0-9] s \(at most 2 s\)   ")
        draws = re.findall(line, out)
        self.assertGreaterEqual(len(draws), 5, out)
        self.assertRegex(out, rb"^(" + line + rb")+\r\x1b\[KDomain 'shown' suspended after "
                         rb"[0-9.]+ s: the tool did not unhook within the unhook timeout "
                         rb"\(2 s\), so QEMU cut its connection\r\n$")
        self.assertEqual(self.d.domstate("shown"), "paused")

    def test_save_restore(self):
        key = vp.printable_key()
        uuid, tool = self.running("saved", "--unhook-delay", "200", key=key)
        keyfile = self.d.host_path(vp.key_path(vp.KEY_DIR, uuid))
        self.assertEqual(vp.key_file_records(self.records, uuid)["start"][6], vp.sha1_hex(key))
        # QEMU read it at its start: gone since `started`
        self.assertIsNone(vp.key_file_state(keyfile))
        image = os.path.join(self.tmp.name, "saved.img")
        self.timed_virsh("save", "saved", image)
        self.assertEqual(tool.wait_for("closed", timeout=1, conn=1)["reason"], "unhook")
        self.assertEqual(self.d.domstate("saved"), "shut off")
        self.assertIsNone(vp.key_file_state(keyfile), "the key file outlives a save")

        mark = self.d.log_size()
        self.timed_virsh("restore", image)
        log = self.d.log_text(mark)
        self.assertIn("50-libvirt-vmi saved restore begin", log)
        self.assertIn("50-libvirt-vmi saved start begin", log)
        self.assertIn("50-libvirt-vmi saved started begin", log)
        # the restored QEMU read a key file of its own, gone once it started
        records = vp.key_file_records(self.records, uuid)
        self.assertEqual(records["start"][6], vp.sha1_hex(key))
        self.assertIsNone(records["started"])
        self.assertIsNone(vp.key_file_state(keyfile))
        hooked = tool.wait_for("hooked", timeout=10 * vp.SLOW, conn=2)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, "saved"))
        self.assertEqual(self.d.domstate("saved"), "running")
        self.assertEqual(vp.key_leaks(key, log), [])

    def test_restore_refused_without_the_secret(self):
        key = vp.printable_key()
        uuid, tool = self.running("nosecret", key=key)
        image = os.path.join(self.tmp.name, "nosecret.img")
        self.timed_virsh("save", "nosecret", image)
        secret = vp.vmi_element(vp.dumpxml(self.d, "nosecret"))[0].find(
            "{%s}key" % vp.VMI_NS).get("secret")
        self.d.virsh("secret-undefine", secret)
        r = self.d.virsh("restore", image, check=False)
        self.assertNotEqual(r.rc, 0)
        self.assertIn(f"libvirt-vmi: domain 'nosecret': key secret '{secret}' does not exist",
                      r.stderr)
        self.assertEqual(self.d.domstate("nosecret"), "shut off")
        self.assertIsNone(vp.key_file_state(self.d.host_path(vp.key_path(vp.KEY_DIR, uuid))))

    def test_required_restore(self):
        """required='yes': a restore resumes the vCPUs only once the tool has
        hooked (in the restored QEMU's log, "machine hooked" comes before
        the `cont`); without a tool it fails within the handshake timeout,
        saying so, with nothing left running and no key file."""
        name = "required"
        key = vp.printable_key()
        uuid, tool = self.running(name, key=key, required="yes", handshake=HANDSHAKE)
        keyfile = self.d.host_path(vp.key_path(vp.KEY_DIR, uuid))
        image = os.path.join(self.tmp.name, f"{name}.img")
        self.timed_virsh("save", name, image)
        self.timed_virsh("restore", image)
        tool.wait_for("hooked", timeout=10 * vp.SLOW, conn=2)
        self.assertEqual(self.d.domstate(name), "running")
        run = self.current_run(name)
        self.assertIn("-incoming", run)
        self.assertLess(run.index("VMI: machine hooked"),
                        run.index("VMI: intercept command: resume"), run)
        self.assertIsNone(vp.key_file_state(keyfile))

        # the way out: resume --unmonitored, logged and shown by status
        self.timed_virsh("suspend", name)
        r = self.vv("resume", "--unmonitored", name)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(f"Domain '{name}' resumed unmonitored", r.stdout)
        self.assertRegex(r.stderr, rf"warning: domain '{name}' \({uuid}\) resumed without its "
                                   r"introspection tool, on purpose \(virt-vmi resume "
                                   r"--unmonitored, uid 0\)")
        self.assertEqual(self.d.domstate(name), "running")
        r = self.vv("status", "--json", name)
        self.assertRegex(json.loads(r.stdout)["domains"][0]["unmonitored"], r"^\d{4}-")
        r = self.vv("status", name)
        self.assertRegex(r.stdout, r"(?m)^Unmonitored: +resumed without its tool on purpose at ")
        self.d.define_domain("plain", metadata=vp.element(tool.path))
        self.addCleanup(self.d.virsh, "undefine", "plain", check=False)
        r = self.vv("resume", "--unmonitored", "plain")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: option '--unmonitored': domain 'plain' does not require "
                      "introspection", r.stderr)

        self.timed_virsh("save", name, image)
        tool.stop()
        t0 = time.monotonic()
        r = self.d.virsh("restore", image, check=False, timeout=60 * vp.SLOW)
        elapsed = time.monotonic() - t0
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn(f"libvirt-vmi: domain '{name}': introspection is required "
                      f"(required='yes') and the tool did not hook within the handshake "
                      f"timeout ({HANDSHAKE} s), so the guest is not resumed: QEMU could not "
                      f"reach a tool at unix socket {tool.path}", r.stderr)
        self.assertGreaterEqual(elapsed, HANDSHAKE)
        self.assertEqual(self.d.domstate(name), "shut off")
        self.assertIsNone(vp.key_file_state(keyfile))
        # the restored QEMU never ran its vCPUs
        self.assertNotIn("VMI: intercept command: resume", self.current_run(name))

    def current_run(self, name):
        """The domain log from its last run's "starting up" line on."""
        log = self.d.domain_log(name)
        return log[log.rindex(": starting up "):]


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
