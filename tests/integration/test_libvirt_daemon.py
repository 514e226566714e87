#!/usr/bin/env python3
"""virt-vmid on a real libvirtd: an element set with `virsh metadata --set`
(or removed, or made invalid) is synced by the daemon alone, with one
define and never a define for a domain in step, and the next `virsh start`
hooks; domains out of step when it starts are synced at once; it reconnects
after libvirtd restarts; a second daemon is refused, naming the first; its
socket is root-only and answers status."""

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiproduct as vp  # noqa: E402

USER_ARGS = ["-msg", "timestamp=on"]
DEFINE_CALL = re.compile(r"virDomainDefineXML(Flags)?:\d+ : conn=")


class VmidTest(vp.DaemonTestCase):
    NAME = "vmid"

    def plain_domain(self, name):
        """A domain on the KVMI emulator with the user's own arguments and no
        element. Returns its UUID."""
        uuid = self.d.define_domain(name, emulator=vp.domain_emulator(), qemu_args=USER_ARGS)
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        return uuid

    def sock(self, name):
        return os.path.join(self.tools, f"{name}.sock")

    def set_metadata(self, name, element):
        """`virsh metadata --set`: the element alone changes, as a management
        layer's edit would."""
        self.d.virsh("metadata", name, "--uri", vp.VMI_NS, "--key", "vmi", "--config",
                     "--set", element)

    def args(self, name):
        """The <qemu:arg> values of @name's persistent definition."""
        return [c[1] for c in vp.commandline(vp.dumpxml(self.d, name)) if c[0] == "arg"]

    def ours(self, name):
        """Our arguments in @name's persistent definition."""
        return [a for a in self.args(name) if "introspection" in a or "vmi0" in a]

    def defines_since(self, mark):
        return len(DEFINE_CALL.findall(self.d.log_text(mark)))

    def settle(self, mark, what):
        """Waits until libvirtd has seen a define since @mark, then a
        quiet second more: a define loop would show there."""
        vp.wait_until(lambda: self.defines_since(mark) >= 1, 30 * vp.SLOW, what)
        time.sleep(1 * vp.SLOW)

    def test_metadata_set_then_start_hooks(self):
        name = "meta"
        self.plain_domain(name)
        vmid = vp.Vmid(self, self.d)
        self.assertEqual(self.ours(name), [])
        mark = self.d.log_size()
        self.set_metadata(name, vp.element(self.sock(name), reconnect=1, prefix=None))
        self.settle(mark, "the daemon's define")
        # one define, its own DEFINED event ends there
        self.assertEqual(self.defines_since(mark), 1, vmid.log())
        self.assertTrue(self.ours(name), vp.dumpxml(self.d, name))
        self.assertEqual(self.args(name)[:2], USER_ARGS)
        entry = vmid.domain(name)
        self.assertEqual((entry["sync"], entry["error"]), ("in-step", None), entry)
        # the next start hooks, with no other command
        tool = vp.tool(self, self.sock(name))
        self.d.virsh("start", name)
        tool.expect("hooked", name=name, timeout=30 * vp.SLOW)

    def test_removed_element_removes_our_arguments(self):
        name = "removed"
        self.plain_domain(name)
        r = self.vv("set", name, "--socket", self.sock(name))
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(self.ours(name))
        vmid = vp.Vmid(self, self.d)
        mark = self.d.log_size()
        self.d.virsh("metadata", name, "--uri", vp.VMI_NS, "--config", "--remove")
        self.settle(mark, "the daemon's define")
        self.assertEqual(self.defines_since(mark), 1, vmid.log())
        self.assertEqual(self.ours(name), [])
        self.assertEqual(self.args(name), USER_ARGS)
        self.assertIsNone(vmid.domain(name))

    def test_invalid_element_left_untouched(self):
        name = "invalid"
        self.plain_domain(name)
        vmid = vp.Vmid(self, self.d)
        before = vp.dumpxml(self.d, name)
        mark = self.d.log_size()
        self.set_metadata(name, vp.element(self.sock(name), unhook=0, prefix=None))
        vp.wait_until(lambda: (vmid.domain(name) or {}).get("sync") == "invalid",
                      30 * vp.SLOW, "the daemon to report the element invalid")
        entry = vmid.domain(name)
        self.assertIn("unhook", entry["error"])
        self.assertIn("'0'", entry["error"])
        self.assertEqual(self.defines_since(mark), 0)
        self.assertEqual(vp.commandline(vp.dumpxml(self.d, name)), vp.commandline(before))
        self.assertRegex(vmid.log(), rf"domain '{name}' \([0-9a-f-]+\): .*unhook")

    def test_out_of_step_at_start_up(self):
        """Domains edited while no daemon ran are synced when it starts; a
        domain in step is not redefined."""
        stale, fine = "stale", "fine"
        self.plain_domain(stale)
        self.plain_domain(fine)
        self.assertEqual(self.vv("set", fine, "--socket", self.sock(fine)).rc, 0)
        self.set_metadata(stale, vp.element(self.sock(stale), prefix=None))
        fine_xml = vp.dumpxml(self.d, fine)
        mark = self.d.log_size()
        vmid = vp.Vmid(self, self.d)
        vp.wait_until(lambda: self.ours(stale), 30 * vp.SLOW, "the stale domain synced")
        time.sleep(1 * vp.SLOW)
        self.assertEqual(self.defines_since(mark), 1, vmid.log())
        self.assertEqual(vp.dumpxml(self.d, fine), fine_xml)
        self.assertEqual({vmid.domain(n)["sync"] for n in (stale, fine)}, {"in-step"})

    def test_reconnects_after_libvirtd_restarts(self):
        name = "restart"
        self.plain_domain(name)
        vmid = vp.Vmid(self, self.d)
        self.d.restart_libvirtd()
        vp.wait_until(lambda: len(re.findall(r": connected$", vmid.log(), re.M)) >= 2,
                      60 * vp.SLOW, "the daemon to reconnect")
        self.assertRegex(vmid.log(), r"(?m): connection closed, reconnecting$")
        vmid.wait_connected()
        mark = self.d.log_size()
        self.set_metadata(name, vp.element(self.sock(name), prefix=None))
        self.settle(mark, "the daemon's define after the restart")
        self.assertEqual(self.defines_since(mark), 1, vmid.log())
        self.assertTrue(self.ours(name))

    def state(self, vmid, name, state, **fields):
        """Waits until the daemon reports @name in @state (and @fields);
        returns the entry."""
        def match():
            e = vmid.domain(name) or {}
            return e.get("state") == state and all(e.get(k) == v for k, v in fields.items())
        try:
            vp.wait_until(match, 30 * vp.SLOW, f"{name} {state} {fields}")
        except AssertionError:
            raise AssertionError(f"{vmid.domain(name)}\n{vmid.log()}")
        return vmid.domain(name)

    def test_live_state_through_a_pause(self):
        """not-running, hooked, unhooking (with its trigger and deadline)
        while the tool takes its time, unhooked while paused, hooked again
        after the resume, not-running after destroy."""
        name = "live"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name), "--reconnect", "1",
                                 "--unhook-timeout", "30").rc, 0)
        vmid = vp.Vmid(self, self.d)
        self.state(vmid, name, "not-running")
        tool = vp.tool(self, self.sock(name), "--unhook-delay", "3000")
        self.d.virsh("start", name)
        tool.wait_for("ready", timeout=30 * vp.SLOW, conn=1, unhook_event=True)
        hooked = self.state(vmid, name, "hooked", reconnects=0)
        self.assertIsNotNone(hooked["last_handshake"])
        self.assertIsNone(hooked["last_unhook_ms"])
        suspend = self.d.popen_in_namespace([vl.VIRSH, "-c", self.d.uri, "suspend", name],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            tool.wait_for("unhook", timeout=30 * vp.SLOW, conn=1)
            unhooking = self.state(vmid, name, "unhooking", trigger="stop")
            since = iso_seconds(unhooking["since"])
            self.assertAlmostEqual(iso_seconds(unhooking["deadline"]) - since, 30, delta=0.01)
        finally:
            self.assertEqual(suspend.wait(60 * vp.SLOW), 0)
        unhooked = self.state(vmid, name, "unhooked", trigger="stop")
        self.assertGreaterEqual(unhooked["last_unhook_ms"], 3000)
        self.d.virsh("resume", name)
        self.state(vmid, name, "hooked", reconnects=1)
        self.d.virsh("destroy", name)
        self.state(vmid, name, "not-running")

    def test_watch(self):
        """`watch`: the status, then a line for each change as it happens."""
        name = "watched"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name), "--reconnect", "1").rc, 0)
        vmid = vp.Vmid(self, self.d)
        self.state(vmid, name, "not-running")
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30 * vp.SLOW)
            s.connect(self.d.host_path(vp.VMID_SOCKET))
            s.sendall(b"watch\n")
            lines = s.makefile("r")
            first = json.loads(lines.readline())
            self.assertEqual([e["state"] for e in first["domains"]], ["not-running"])
            vp.tool(self, self.sock(name))
            self.d.virsh("start", name)
            seen = []
            while "hooked" not in seen:
                event = json.loads(lines.readline())
                self.assertEqual((event["event"], event["domain"]["name"]), ("domain", name))
                seen.append(event["domain"]["state"])
            # the tool may hook before libvirt reports the start: then the
            # first news is already the handshake
            self.assertIn(seen[0], ("waiting-for-tool", "connected", "hooked"), seen)
            self.d.virsh("destroy", name)
            while seen[-1] != "not-running":
                seen.append(json.loads(lines.readline())["domain"]["state"])
        # a watcher that hung up is forgotten: the daemon goes on answering
        self.assertEqual(vmid.domain(name)["state"], "not-running")

    def test_watcher_that_reads_late_loses_nothing(self):
        """A watcher that does not read while more changes than its socket
        holds pile up, then reads: it is not dropped, and its stream goes on
        (the daemon keeps what the socket cannot take, up to a bound)."""
        name = "late"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name)).rc, 0)
        vmid = vp.Vmid(self, self.d)
        self.state(vmid, name, "not-running")
        again = self.d.write_xml(vp.dumpxml(self.d, name), f"{name}-again.xml")

        def queued(sock):
            """What waits in @sock unread (ss's Recv-Q of its inode)."""
            inode = str(os.fstat(sock.fileno()).st_ino)
            out = subprocess.run(["ss", "-x", "-n", "-a"], capture_output=True, text=True,
                                 check=True).stdout
            return next(int(f[2]) for f in (ln.split() for ln in out.splitlines()[1:])
                        if len(f) > 5 and f[5] == inode)
        with socket.socket(socket.AF_UNIX) as late:
            late.connect(self.d.host_path(vp.VMID_SOCKET))
            late.sendall(b"watch\n")
            # changes until the socket is full (its queue stops growing),
            # then as many again: those wait in the daemon
            before, full = -1, 0
            while full < 2:
                self.d.virsh("; ".join([f"define {again}"] * 25), timeout=60 * vp.SLOW)
                now = queued(late)
                full = full + 1 if now <= before else 0
                before = max(before, now)
            # all of it: what the socket held and what the daemon kept
            late.settimeout(3 * vp.SLOW)
            data = b""
            try:
                while chunk := late.recv(1 << 20):
                    data += chunk
            except TimeoutError:
                pass
            lines = data.split(b"\n")
            self.assertEqual(lines[-1], b"", "a line cut short")
            self.assertEqual([e["name"] for e in json.loads(lines[0])["domains"]], [name])
            events = [json.loads(line) for line in lines[1:-1]]
            self.assertEqual({(e["event"], e["domain"]["name"]) for e in events},
                             {("domain", name)})
            self.assertGreater(len(data), before)
            # still watched: the next change comes
            self.d.virsh("define", again)
            late.settimeout(30 * vp.SLOW)
            data = b""
            while not data.endswith(b"\n"):
                chunk = late.recv(65536)
                self.assertTrue(chunk, "the daemon hung up")
                data += chunk
            self.assertEqual(json.loads(data.split(b"\n")[0])["domain"]["name"], name)
        self.assertNotIn("dropped a status watcher", vmid.log())

    def test_watcher_that_does_not_read_is_dropped(self):
        """A watcher that never reads its changes is dropped once its socket
        is full, and the daemon goes on answering others all the while: it
        never waits on a watcher."""
        name = "unread"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name)).rc, 0)
        vmid = vp.Vmid(self, self.d)
        self.state(vmid, name, "not-running")
        # each define, even of the same definition, is a change the daemon
        # sends its watchers; no QEMU needed
        again = self.d.write_xml(vp.dumpxml(self.d, name), f"{name}-again.xml")
        dropped = "dropped a status watcher that does not read its changes"
        deadline = time.monotonic() + 120 * vp.SLOW
        with socket.socket(socket.AF_UNIX) as stuck:
            stuck.connect(self.d.host_path(vp.VMID_SOCKET))
            stuck.sendall(b"watch\n")
            defines = 0
            while dropped not in vmid.log():
                self.assertLess(time.monotonic(), deadline,
                                f"not dropped after {defines} defines\n{vmid.log()}")
                self.d.virsh("; ".join([f"define {again}"] * 50), timeout=60 * vp.SLOW)
                defines += 50
            # answered with the stuck client still connected
            r = self.vv("status", "--json", name, timeout=30 * vp.SLOW)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual([e["name"] for e in json.loads(r.stdout)["domains"]], [name])
            # what was sent before the drop, then the end of the stream
            stuck.settimeout(30 * vp.SLOW)
            data = b""
            while chunk := stuck.recv(65536):
                data += chunk
        lines = data.split(b"\n")
        self.assertEqual([e["name"] for e in json.loads(lines[0])["domains"]], [name])
        # the last line may be cut short where the socket was full
        events = [json.loads(line) for line in lines[1:-1]]
        self.assertGreater(len(events), 1, data[:1000])
        self.assertEqual({(e["event"], e["domain"]["name"]) for e in events}, {("domain", name)})
        self.assertEqual(vmid.log().count(dropped), 1, vmid.log())
        self.assertTrue(vmid.status()["daemon"])

    def test_key_handover(self):
        """With the daemon, the hook takes the key from it (no key helper
        run); the key is in none of the daemon's output; a start after the
        daemon has gone takes it from the helper again."""
        name = "handover"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name), "--reconnect", "1").rc, 0)
        key = vp.printable_key()
        path = os.path.join(self.tmp.name, f"{name}.key")
        with open(path, "wb") as f:
            f.write(key)
        self.assertEqual(self.vv("key-import", name, "--file", path).rc, 0)
        vmid = vp.Vmid(self, self.d)
        tool = vp.tool(self, self.sock(name), key_file=path)
        self.d.virsh("start", name)
        tool.expect("hooked", name=name, timeout=30 * vp.SLOW)
        secret = vp.vmi_element(vp.dumpxml(self.d, name))[0].find("{%s}key" % vp.VMI_NS).get("secret")
        self.addCleanup(self.d.virsh, "secret-undefine", secret, check=False)
        handed = f"handed the value of secret {secret} to the hook"
        self.assertIn(handed, vmid.log())
        self.assertEqual(vp.key_leaks(key, vmid.log()), [])
        self.d.virsh("destroy", name)

        # the daemon keeps the secret's handle, never its value: the next
        # start takes the value the secret has then
        key2 = vp.printable_key()
        with open(path, "wb") as f:
            f.write(key2)
        self.d.virsh("secret-set-value", secret, "--file", path, "--plain")
        tool.stop()
        tool = vp.tool(self, self.sock(name), key_file=path)
        self.d.virsh("start", name)
        tool.expect("hooked", name=name, timeout=30 * vp.SLOW)
        self.assertEqual(vmid.log().count(handed), 2, vmid.log())
        self.d.virsh("destroy", name)

        # a secret gone: the kept handle fails, the start is refused; the
        # same secret defined again serves the next start
        secret_xml = self.d.virsh("secret-dumpxml", secret).stdout
        self.d.virsh("secret-undefine", secret)
        r = self.d.virsh("start", name, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"key secret '{secret}' does not exist", r.stderr)
        self.d.virsh("secret-define", self.d.write_xml(secret_xml))
        self.d.virsh("secret-set-value", secret, "--file", path, "--plain")
        self.d.virsh("start", name)
        tool.expect("hooked", name=name, conn=2, timeout=30 * vp.SLOW)
        self.assertEqual(vmid.log().count(handed), 3, vmid.log())
        self.assertEqual(vp.key_leaks(key2, vmid.log()), [])
        self.d.virsh("destroy", name)
        vmid.stop(self)
        # no daemon: the key can only have come from the helper
        self.d.virsh("start", name)
        tool.expect("hooked", name=name, conn=3, timeout=30 * vp.SLOW)

    def test_tool_that_never_unhooks(self):
        """unhooking until the deadline, then QEMU's timeout: unhooked, and
        the reason says the tool was too slow."""
        name = "stuck"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name), "--reconnect", "1",
                                 "--unhook-timeout", "2").rc, 0)
        vmid = vp.Vmid(self, self.d)
        tool = vp.tool(self, self.sock(name), "--unhook-delay", "600000")
        self.d.virsh("start", name)
        tool.wait_for("ready", timeout=30 * vp.SLOW, conn=1, unhook_event=True)
        suspend = self.d.popen_in_namespace([vl.VIRSH, "-c", self.d.uri, "suspend", name],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            e = self.state(vmid, name, "unhooking", trigger="stop")
            self.assertAlmostEqual(iso_seconds(e["deadline"]) - iso_seconds(e["since"]), 2,
                                   delta=0.01)
        finally:
            self.assertEqual(suspend.wait(60 * vp.SLOW), 0)
        e = self.state(vmid, name, "unhooked", reason="VMI: the introspection tool is too slow")
        self.assertGreaterEqual(e["last_unhook_ms"], 2000)
        self.assertEqual(self.d.domstate(name), "paused")

    def test_tool_dies_mid_handshake(self):
        """A tool that reads QEMU's handshake and dies before answering:
        connected, then waiting-for-tool, never hooked."""
        name = "midshake"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name), "--reconnect", "1").rc, 0)
        vmid = vp.Vmid(self, self.d)
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(self.sock(name))
            os.chmod(self.sock(name), 0o666)
            self.addCleanup(os.unlink, self.sock(name))
            listener.listen(1)
            listener.settimeout(30 * vp.SLOW)
            self.d.virsh("start", name)
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(30 * vp.SLOW)
                self.assertGreaterEqual(len(conn.recv(4096)), 4)
        # the tool is gone, listening socket and all: QEMU saw the
        # connection close (it says no more than that), and its tries to
        # connect again are refused
        vp.wait_until(lambda: "VMI: introspection tool disconnected" in
                      self.d.domain_log(name), 30 * vp.SLOW, "QEMU to see the tool go")
        e = self.state(vmid, name, "waiting-for-tool", reason=None, last_handshake=None)
        self.assertEqual(e["reconnects"], 0)
        self.assertIn(f"domain '{name}': connected", vmid.log())

    def test_suspend_resume_cycles(self):
        """100 suspend/resume cycles as fast as libvirt takes them: the state
        ends consistent (hooked again), whatever the daemon saw in between."""
        name = "cycles"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name), "--reconnect", "1").rc, 0)
        vmid = vp.Vmid(self, self.d)
        tool = vp.tool(self, self.sock(name))
        self.d.virsh("start", name)
        tool.wait_for("ready", timeout=30 * vp.SLOW, conn=1, unhook_event=True)
        self.d.virsh("; ".join(f"suspend {name}; resume {name}" for _ in range(100)),
                     timeout=120 * vp.SLOW)
        self.assertEqual(self.d.domstate(name), "running")
        e = self.state(vmid, name, "hooked")
        self.assertGreaterEqual(e["reconnects"], 1)

    def test_live_state_wrong_key(self):
        name = "wrongkey"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name), "--reconnect", "1").rc, 0)
        key = os.path.join(self.tmp.name, f"{name}.key")
        with open(key, "wb") as f:
            f.write(b"the right key")
        self.assertEqual(self.vv("key-import", name, "--file", key).rc, 0)
        with open(key, "wb") as f:
            f.write(b"a wrong key")
        vmid = vp.Vmid(self, self.d)
        vp.tool(self, self.sock(name), key_file=key)
        self.d.virsh("start", name)
        entry = self.state(vmid, name, "wrong-key")
        self.assertEqual(entry["reason"], "VMI: received cookie doesn't match")

    def test_virt_vmi_status(self):
        """virt-vmi status: from the daemon where it runs (--json, a table,
        --watch), directly and saying so where it does not."""
        name = "cli"
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock(name), "--reconnect", "1",
                                 "--required", "yes").rc, 0)
        # no daemon
        r = self.vv("status", "--json")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(json.loads(r.stdout), {"daemon": False, "domains": [
            {"name": name, "uuid": self.d.virsh("domuuid", name).stdout.strip(),
             "state": "not-running", "required": True, "unmonitored": None,
             "paused_by_daemon": None, "paused_since": None}]})
        r = self.vv("status", name)
        self.assertRegex(r.stdout, r"(?m)^Required:         yes: the guest runs only while its "
                                   r"tool is hooked$")
        self.assertRegex(r.stdout, r"(?m)^Live state:       unknown: virt-vmid is not running ")
        r = self.vv("status")
        self.assertIn("virt-vmid: not asked (virt-vmid is not running", r.stdout)
        self.assertRegex(r.stdout, rf"(?m)^{name} +not-running ")
        r = self.vv("status", "--watch")
        self.assertEqual(r.rc, 1)
        self.assertIn("error: --watch needs virt-vmid: virt-vmid is not running", r.stderr)
        # the daemon
        vmid = vp.Vmid(self, self.d)
        tool = vp.tool(self, self.sock(name))
        watch = self.d.popen_in_namespace(
            [vp.VIRT_VMI, "-c", self.d.uri, "status", "--watch", "--json", name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(watch.wait)
        self.addCleanup(watch.kill)
        first = json.loads(watch.stdout.readline())
        self.assertEqual(first["daemon"], True)
        self.assertEqual([(e["name"], e["state"]) for e in first["domains"]],
                         [(name, "not-running")])
        self.d.virsh("start", name)
        tool.expect("hooked", name=name, timeout=30 * vp.SLOW)
        states = []
        while "hooked" not in states:
            event = json.loads(watch.stdout.readline())
            states.append(event["domain"]["state"])
        self.state(vmid, name, "hooked")
        r = self.vv("status", "--json", name)
        self.assertEqual([(e["name"], e["state"], e["required"], e["unmonitored"])
                          for e in json.loads(r.stdout)["domains"]],
                         [(name, "hooked", True, None)])
        r = self.vv("status", name)
        self.assertRegex(r.stdout, r"(?m)^Live state:       hooked since \S+ \(virt-vmid\)$")
        self.assertRegex(r.stdout, r"(?m)^Tool connection:  connected \(")
        r = self.vv("status")
        self.assertRegex(r.stdout, rf"(?m)^NAME +STATE +SINCE +DETAIL\n{name} +hooked ")
        r = self.vv("status", "--json", "nosuch")
        self.assertEqual((r.rc, r.stdout), (1, ""))
        self.assertIn("error: domain 'nosuch': virt-vmid knows no persistent domain", r.stderr)
        r = self.vv("status", "nosuch")
        self.assertEqual(r.rc, 1)
        self.assertIn("error: domain 'nosuch' not found", r.stderr)

    def test_api_client_example(self):
        """examples/api_client.py, a plain libvirt-python client as Nova or
        VDSM would write it: the guest ends up hooked, no virt-vmi run."""
        name = "api-guest"
        vmid = vp.Vmid(self, self.d)
        tool = vp.tool(self, self.sock(name))
        r = self.d.run_in_namespace(
            [sys.executable, os.path.join(vp.SOURCE_DIR, "examples", "api_client.py"),
             "--uri", self.d.uri, "--emulator", vp.domain_emulator(), "--name", name,
             "--socket", self.sock(name), "--virt-type", vl.host_virt_type()],
            timeout=60 * vp.SLOW)
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout.strip(), self.d.virsh("domuuid", name).stdout.strip())
        tool.expect("hooked", name=name, timeout=30 * vp.SLOW)
        self.state(vmid, name, "hooked")

    def at_once(self, name, **element):
        """Defines @name (the element only, no arguments of ours) and starts
        it at once, a tool listening; the start succeeds. Returns the tool."""
        tool = vp.tool(self, self.sock(name))
        xml = vl.domain_xml(name, emulator=vp.domain_emulator(),
                            metadata=vp.element(self.sock(name), reconnect=1, **element))
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        r = vp.define_and_start(self.d, xml)
        self.assertEqual(r.rc, 0, r)
        return tool

    def test_define_and_start_at_once(self):
        """A management layer defines and starts at once (Nova, VDSM): the
        start reaches the hook before the daemon's sync, the hook lets it
        go on without arguments, the daemon attaches live at STARTED; the
        tool hooks every time (a race: several runs). The persistent
        definition gets its arguments, and the next start needs no attach."""
        vmid = vp.Vmid(self, self.d)
        attached = []
        tools = {}
        for i in range(5):
            name = f"atonce{i}"
            tool = tools[name] = self.at_once(name)
            tool.expect("hooked", name=name, timeout=30 * vp.SLOW)
            entry = self.state(vmid, name, "hooked")
            self.assertIsNone(entry["attach_error"], entry)
            if entry["attached_at_start"]:
                attached.append(name)
                self.assertRegex(vmid.log(), rf"domain '{name}' \([0-9a-f-]+\): started without "
                                             r"introspection arguments .*attached live")
                qemu_log = self.d.domain_log(name)
                self.assertNotIn("introspection,id=vmi0", qemu_log.split("VMI:")[0])
            vp.wait_until(lambda: self.ours(name), 30 * vp.SLOW, "the definition synced")
            self.d.virsh("destroy", name)
            self.state(vmid, name, "not-running", attached_at_start=None)
        print(f"attached live at start: {len(attached)} of 5 ({attached})", file=sys.stderr)
        self.assertTrue(attached, "the sync won every race: the attach was never exercised")
        # the next start runs with the arguments the daemon synced
        name = attached[0]
        self.d.virsh("start", name)
        tools[name].expect("hooked", name=name, timeout=30 * vp.SLOW)
        entry = self.state(vmid, name, "hooked")
        self.assertIsNone(entry["attached_at_start"], entry)

    def test_attached_at_start_then_save_and_restore(self):
        """A domain the daemon attached live at its start is saved and
        restored: `restore begin` adds the arguments its running definition
        lacks to the definition the restored QEMU starts from, and the tool
        hooks that QEMU."""
        vmid = vp.Vmid(self, self.d)
        for i in range(5):
            name = f"atsave{i}"
            tool = self.at_once(name)
            tool.expect("hooked", name=name, timeout=30 * vp.SLOW)
            if self.state(vmid, name, "hooked")["attached_at_start"]:
                break
        else:
            self.fail("the daemon's sync won every race: nothing attached live to save")
        image = os.path.join(self.d.dir, f"{name}.save")
        self.d.virsh("save", name, image, timeout=60 * vp.SLOW)
        self.addCleanup(os.unlink, image)
        tool.expect("closed", timeout=30 * vp.SLOW)
        r = self.d.virsh("restore", image, check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        tool.expect("hooked", name=name, timeout=30 * vp.SLOW)
        self.assertIn("introspection,id=vmi0", self.d.virsh("dumpxml", name).stdout)

    def test_attach_at_start_survives_a_killed_daemon(self):
        """virt-vmid killed between its answer to the hook's attach-at-start
        request and the domain's start (by a test hook after ours at
        `prepare begin`): QEMU starts without introspection, but the promise
        is on disk, root-only; the next daemon keeps it: it attaches the
        running domain live, the tool hooks it, and the mark goes."""
        marks = self.d.host_path(vp.KEY_DIR + "/attach-at-start")
        killer = self.d.add_hook("60-vmi-test-kill-vmid", f"""#!/bin/sh
[ "$2 $3" = "prepare begin" ] || exit 0
kill -KILL "$(cat {vp.VMID_PID_FILE})"
""")
        self.addCleanup(lambda: os.path.lexists(killer) and os.unlink(killer))
        for i in range(5):
            name = f"atkill{i}"
            vmid = vp.Vmid(self, self.d)
            tool = self.at_once(name)
            self.assertEqual(vmid.proc.wait(30 * vp.SLOW), -9, vmid.log())
            uuid = self.d.virsh("domuuid", name).stdout.strip()
            mark = os.path.join(marks, uuid)
            if os.path.exists(mark):
                break
            self.d.virsh("destroy", name)
        else:
            self.fail("the daemon's sync won every race: no attach at start was promised")
        self.assertNotIn("introspection,id=vmi0", self.d.virsh("dumpxml", name).stdout)
        self.assertEqual(stat.S_IMODE(os.stat(marks).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(mark).st_mode), 0o600)
        with open(mark) as f:
            self.assertEqual(f.read(), self.d.uri)
        os.unlink(killer)
        vmid = vp.Vmid(self, self.d)
        tool.expect("hooked", name=name, timeout=30 * vp.SLOW)
        entry = self.state(vmid, name, "hooked")
        self.assertTrue(entry["attached_at_start"], entry)
        self.assertIn("as promised to the hook before this daemon started", vmid.log())
        vp.wait_until(lambda: not os.path.exists(mark), 10 * vp.SLOW, "the mark removed")

    def test_define_and_start_at_once_without_daemon(self):
        """No virt-vmid: the hook refuses the start of a definition without
        its arguments, as before, and says why."""
        name = "atonce-nodaemon"
        xml = vl.domain_xml(name, emulator=vp.domain_emulator(),
                            metadata=vp.element(self.sock(name), reconnect=1))
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        r = vp.define_and_start(self.d, xml)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn(f"libvirt-vmi: domain '{name}': its <qemu:commandline> is out of step",
                      r.stderr)
        self.assertIn("virt-vmid, which attaches introspection live to a domain defined and "
                      "started at once, could not: virt-vmid is not running", r.stderr)
        self.assertEqual(self.d.domstate(name), "shut off")

    def test_define_and_start_at_once_allow_list(self):
        """An allow-list of several ids has no QMP form: the daemon could
        not attach it, so the hook refuses the start rather than let the
        guest run without introspection."""
        name = "atonce-allow"
        vp.Vmid(self, self.d)
        xml = vl.domain_xml(name, emulator=vp.domain_emulator(),
                            metadata=vp.element(self.sock(name), reconnect=1, commands=(2, 6)))
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        r = vp.define_and_start(self.d, xml)
        if r.rc == 0:
            # the daemon's sync won the race: the ids are on the command line
            live = self.d.virsh("dumpxml", name).stdout
            self.assertRegex(live, r"introspection,id=vmi0,[^'\"]*command=2,command=6")
            return
        self.assertIn("could not: it cannot be attached live: the introspection object's "
                      "allow-list has 2 command ids", r.stderr)
        self.assertEqual(self.d.domstate(name), "shut off")

    def test_define_and_start_at_once_stale(self):
        """Arguments of ours that differ from the element (stale, not
        missing) are refused at once even with the daemon running: the hook
        never takes them for a fresh definition, so they never run."""
        name = "atonce-stale"
        vmid = vp.Vmid(self, self.d)
        self.plain_domain(name)
        self.assertEqual(self.vv("set", name, "--socket", self.sock("old")).rc, 0)
        xml = vp.dumpxml(self.d, name)
        stale = re.sub(r"(<\w+:source type=.unix. path=.)[^'\"]*", r"\g<1>" + self.sock(name),
                       xml, count=1)
        self.assertNotEqual(stale, xml)
        r = vp.define_and_start(self.d, stale)
        if r.rc == 0:
            # the daemon's sync won the race for the domain lock: it runs
            # with the element's arguments, never the stale ones
            live = self.d.virsh("dumpxml", name).stdout
            self.assertIn(self.sock(name), "".join(c[1] for c in vp.commandline(live)
                                                   if c[0] == "arg"))
            self.assertNotIn(self.sock("old"), live)
            return
        self.assertIn(f"libvirt-vmi: domain '{name}': its <qemu:commandline> is out of step",
                      r.stderr)
        self.assertNotIn("virt-vmid", r.stderr)
        self.assertEqual(self.d.domstate(name), "shut off")
        self.assertNotIn("starts without introspection arguments", vmid.log())

    def test_killed_mid_sync(self):
        """kill -9 while it syncs a stream of edits: the definition is the old
        or the new one, never half of one (a sync is one define); a new
        daemon brings the domain in step, and it starts hooked."""
        name = "killed"
        self.plain_domain(name)
        previous = None
        for round in range(5):
            vmid = vp.Vmid(self, self.d)
            if round:
                # its start-up sync repairs what the last kill left, first
                self.state(vmid, name, "not-running", sync="in-step")
            reconnect = 1 + round % 3
            mark = self.d.log_size()
            self.set_metadata(name, vp.element(self.sock(name), reconnect=reconnect,
                                               prefix=None))
            # somewhere in the sync: after the event, about when it defines
            vp.wait_until(lambda: "queued for a sync" in vmid.log(), 30 * vp.SLOW,
                          "the daemon to queue the domain")
            time.sleep(0.002 * round)
            vmid.proc.kill()
            vmid.stop()
            xml = vp.dumpxml(self.d, name)
            ours = self.ours(name)
            # all of the old arguments or all of the new, and the user's kept
            self.assertEqual(self.args(name)[:2], USER_ARGS, xml)
            if ours:
                chardev = next(a for a in ours if a.startswith("socket,"))
                self.assertEqual(len(ours), 2, ours)
                self.assertIn(int(re.search(r"reconnect=(\d+)", chardev).group(1)),
                              (previous, reconnect), ours)
                previous = int(re.search(r"reconnect=(\d+)", chardev).group(1))
            self.assertLessEqual(self.defines_since(mark), 1)
        vmid = vp.Vmid(self, self.d)
        vp.wait_until(lambda: (vmid.domain(name) or {}).get("sync") == "in-step",
                      30 * vp.SLOW, "the new daemon to bring the domain in step")
        # the last edit's value: 1 + 4 % 3
        self.assertIn("reconnect=2", " ".join(self.ours(name)))
        tool = vp.tool(self, self.sock(name))
        self.d.virsh("start", name)
        tool.expect("hooked", name=name, timeout=30 * vp.SLOW)

    def test_second_daemon_refused(self):
        vmid = vp.Vmid(self, self.d)
        r = self.d.run_in_namespace([vp.VIRT_VMID, "-c", self.d.uri, "--foreground"],
                                    timeout=30 * vp.SLOW)
        self.assertEqual(r.rc, 3, r)
        self.assertIn(f"another virt-vmid is running (pid {vmid_pid(self.d, vmid)}, "
                      f"{vp.VMID_PID_FILE})", r.stderr)
        # the first one still answers
        self.assertTrue(vmid.status()["daemon"])

    def test_socket_is_root_only(self):
        vmid = vp.Vmid(self, self.d)
        st = os.stat(self.d.host_path(vp.VMID_SOCKET))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o600))
        self.assertEqual(vmid.status("nonsense"),
                         {"error": "unknown request (expected: status or watch)"})
        status = vmid.status()
        self.assertEqual((status["daemon"], status["domains"]), (True, []))
        self.assertEqual(status["connections"], [{"uri": self.d.uri, "connected": True}])
        self.assertEqual(status["pid"], vmid_pid(self.d, vmid))

    def test_silent_client_holds_nothing(self):
        """A client that connects and says nothing does not hold the daemon:
        others are answered while it is still connected, and it is given up
        on after the request timeout."""
        vmid = vp.Vmid(self, self.d)
        with socket.socket(socket.AF_UNIX) as silent:
            silent.connect(self.d.host_path(vp.VMID_SOCKET))
            # answered at once, not after the silent client's timeout
            self.assertTrue(vmid.status()["daemon"])
            silent.setblocking(False)
            with self.assertRaises(BlockingIOError,
                                   msg="the daemon dropped the silent client before "
                                       "answering the other: it waited on it"):
                silent.recv(1)
            silent.setblocking(True)
            silent.settimeout(30 * vp.SLOW)
            self.assertEqual(silent.recv(1), b"", "the silent client was never dropped")
        self.assertTrue(vmid.status()["daemon"])

    def test_usage_errors(self):
        cases = [
            (["--no-such-option"], 2, "Unknown option --no-such-option"),
            (["extra"], 2, "unexpected argument 'extra'"),
            (["-c", "qemu:///embed?root=/tmp/x"], 2,
             "-c qemu:///embed?root=/tmp/x: an embedded root belongs to the one process"),
        ]
        for args, rc, needle in cases:
            with self.subTest(args=args):
                r = self.d.run_in_namespace([vp.VIRT_VMID, "--foreground", *args])
                self.assertEqual(r.rc, rc, r)
                self.assertIn(needle, r.stderr)
        r = vl.run([vp.VIRT_VMID, "--help"])
        self.assertEqual(r.rc, 0)
        self.assertIn("--connect", r.stdout)


def iso_seconds(text):
    """Seconds since the epoch of the daemon's UTC time stamps."""
    import datetime
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def vmid_pid(d, vmid):
    with open(d.host_path(vp.VMID_PID_FILE)) as f:
        return int(f.read())


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
