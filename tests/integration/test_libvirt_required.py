#!/usr/bin/env python3
"""required='yes' on a real libvirtd with virt-vmid, the KVMI emulator and
the reference tool: `virt-vmi start` runs the vCPUs only once the tool has
hooked (else the domain stays paused and the command fails); a start
through libvirt's API without a tool, a tool that goes away and a guest
reset each make the daemon pause the guest, and it resumes it once a tool
listens again, hooked. A domain that does not require introspection is
never paused. The unmonitored windows are measured on QEMU's own clock
(the time stamps of its QMP events and of its log lines) and bounded by
what the element's timeouts allow, never by a wall-clock guess.

One libvirtd and one virt-vmid for the whole class."""

import os
import pty
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmiclock as vc  # noqa: E402
import vmiproduct as vp  # noqa: E402

RECONNECT = 1
HANDSHAKE = 2
# reconnect interval + handshake timeout + 1 s (vmiStatusRehookLimit)
REHOOK_LIMIT = RECONNECT + HANDSHAKE + 1
# what a loaded machine may add to a reaction of the daemon's (an event,
# a look at the log, a QMP `stop`), beyond what the timeouts allow
SLACK = 5 * vp.SLOW
# the unmonitored windows seen, in seconds on QEMU's clock, for the record
MEASURED = {}


class _ClassScope:
    """What vp.Vmid needs of a test case, for a daemon that lives as long
    as the class: its cleanup runs at tearDownClass."""

    def __init__(self):
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))


class RequiredTest(vp.DaemonTestCase):
    NAME = "required"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scope = _ClassScope()
        try:
            cls.vmid = vp.Vmid(cls.scope, cls.d)
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.vmid.stop()
        log = cls.vmid.log()
        super().tearDownClass()
        if cls.vmid.proc.returncode != 0:
            raise AssertionError(f"virt-vmid exited with {cls.vmid.proc.returncode}: {log}")

    def setUp(self):
        super().setUp()
        self.qmp = vc.QmpEvents(self.d, self)

    def sock(self, name):
        return os.path.join(self.tools, f"{name}.sock")

    def domain(self, name, required="yes"):
        """A domain on the KVMI emulator whose tool listens (once started)
        at sock(@name), with short timeouts. Returns its UUID."""
        uuid = self.d.define_domain(name, emulator=vp.domain_emulator(),
                                    metadata=vp.element(self.sock(name), reconnect=RECONNECT,
                                                        handshake=HANDSHAKE, required=required))
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        self.assertEqual(self.vv("sync", name).rc, 0)
        return uuid

    def entry(self, name, **fields):
        """Waits until the daemon's entry for @name has @fields; returns it."""
        def match():
            e = self.vmid.domain(name) or {}
            return all(e.get(k) == v for k, v in fields.items())
        try:
            vp.wait_until(match, 30 * vp.SLOW, f"{name} {fields}")
        except AssertionError:
            raise AssertionError(f"{self.vmid.domain(name)}\n{self.vmid.log()}")
        return self.vmid.domain(name)

    def state(self, name, state):
        vp.wait_until(lambda: self.d.domstate(name) == state, 30 * vp.SLOW,
                      f"{name} {state} ({self.d.domstate(name)})")

    def current_run(self, name):
        return vc.current_run(self.d.domain_log(name))

    def hooked_times(self, name):
        """QEMU's time stamps of "VMI: machine hooked" in @name's current run."""
        return vc.hooked_times(self.current_run(name))

    def paused_until_the_tool_is_back(self, name, reason, stops):
        """The daemon paused @name (its @stops-th STOP) for @reason; a tool
        that listens again makes it resume the guest, which the tool hooks
        within the rehook limit (a first connection QEMU made while paused
        it refused: "too soon"). Returns (the STOP, the tool)."""
        stop = self.qmp.wait(name, "STOP", stops)
        self.state(name, "paused")
        entry = self.entry(name, paused_by_daemon=reason)
        self.assertRegex(entry["paused_since"], r"^\d{4}-\d\d-\d\dT")
        r = self.vv("status", name)
        self.assertRegex(r.stdout, rf"(?m)^Paused: +by virt-vmid at .*: {reason};")
        time.sleep(RECONNECT + 0.5)
        self.assertEqual(self.d.domstate(name), "paused", "resumed with no tool listening")

        tool = vp.tool(self, self.sock(name))
        tool.wait_for("hooked", timeout=30 * vp.SLOW)
        self.state(name, "running")
        self.entry(name, state="hooked", paused_by_daemon=None)
        resume = max(t for e, t in self.qmp.events(name) if e == "RESUME")
        hooked = max(self.hooked_times(name))
        self.assertGreater(resume, stop)
        # QEMU reconnects `reconnect` s after the `cont`, then the handshake
        self.assertLess(hooked - resume, REHOOK_LIMIT + SLACK,
                        f"unmonitored from the resume {resume} to the hook {hooked}")
        self.assertGreaterEqual(hooked, resume)
        MEASURED[f"{name}: resume to hook"] = hooked - resume
        return stop, tool

    def test_virsh_start_without_a_tool(self):
        """libvirt runs the vCPUs before any hook: the daemon pauses the
        guest at once, says why, and resumes it once the tool listens."""
        name = "nostart"
        self.domain(name)
        self.d.virsh("start", name)
        start = self.qmp.wait(name, "RESUME", 1)
        stop, tool = self.paused_until_the_tool_is_back(name, "not-hooked-at-start", 1)
        # the daemon's reaction: nothing in the element bounds it, the
        # handshake timeout is the yardstick
        self.assertLess(stop - start, HANDSHAKE + SLACK, (start, stop))
        MEASURED[f"{name}: start's cont to the daemon's stop"] = stop - start
        self.assertIn(f"domain '{name}' (", self.vmid.log())
        self.assertRegex(self.vmid.log(), rf"domain '{name}' .*: paused: its introspection is "
                                          r"required .*\(not-hooked-at-start\)")

    def test_define_and_start_at_once(self):
        """A management layer's define then start, no pause between: the
        daemon pauses the guest before it attaches (QEMU refuses the tool
        while a `stop` is pending, object or not), resumes it as the tool
        listens, and it ends hooked and running; several runs (a race)."""
        for i in range(5):
            name = f"atonce{i}"
            tool = vp.tool(self, self.sock(name))
            xml = vp.vl.domain_xml(name, emulator=vp.domain_emulator(),
                                   metadata=vp.element(self.sock(name), reconnect=RECONNECT,
                                                       handshake=HANDSHAKE, required="yes"))
            self.addCleanup(self.d.virsh, "undefine", name, check=False)
            self.addCleanup(self.d.virsh, "destroy", name, check=False)
            r = vp.define_and_start(self.d, xml)
            self.assertEqual(r.rc, 0, r)
            tool.wait_for("hooked", timeout=30 * vp.SLOW)
            self.state(name, "running")
            entry = self.entry(name, state="hooked", paused_by_daemon=None)
            if entry["attached_at_start"]:
                self.assertRegex(self.vmid.log(), rf"domain '{name}' .*: started without "
                                                  r"introspection arguments .*attached live, "
                                                  r"the guest paused first")
                # paused before the object existed, resumed, then hooked
                stop = self.qmp.wait(name, "STOP", 1)
                resume = max(t for e, t in self.qmp.events(name) if e == "RESUME")
                hooked = max(self.hooked_times(name))
                self.assertLess(stop, resume)
                self.assertGreaterEqual(hooked, resume)
                MEASURED[f"{name}: resume to hook (attached at start)"] = hooked - resume
            self.d.virsh("destroy", name)

    def test_tool_killed_then_back(self):
        name = "killed"
        self.domain(name)
        tool = vp.tool(self, self.sock(name))
        self.d.virsh("start", name)
        tool.wait_for("hooked", timeout=30 * vp.SLOW, conn=1)
        self.entry(name, state="hooked")
        self.assertEqual(self.d.domstate(name), "running")
        tool.proc.kill()
        tool.stop()
        lost = time.time()
        stop, _ = self.paused_until_the_tool_is_back(name, "tool-disconnected", 1)
        disconnected = vc.line_times(self.current_run(name),
                                     "VMI: introspection tool disconnected")
        self.assertTrue(disconnected, self.current_run(name))
        self.assertLess(stop - disconnected[-1], HANDSHAKE + SLACK)
        MEASURED[f"{name}: disconnect to the daemon's stop"] = stop - disconnected[-1]
        self.assertLess(abs(disconnected[-1] - lost), SLACK)

    def test_guest_reset(self):
        name = "reset"
        self.domain(name)
        tool = vp.tool(self, self.sock(name))
        self.d.virsh("start", name)
        tool.wait_for("hooked", timeout=30 * vp.SLOW, conn=1)
        self.entry(name, state="hooked")
        self.d.virsh("reset", name)
        stop = self.qmp.wait(name, "STOP", 1)
        # QEMU says "VMI: intercept command: force-reset" inside the QMP
        # command, with no time stamp: its RESET event has one
        reset = self.qmp.wait(name, "RESET", 1)
        self.assertIn("VMI: intercept command: force-reset", self.current_run(name))
        self.assertLess(stop - reset, HANDSHAKE + SLACK)
        MEASURED[f"{name}: reset to the daemon's stop"] = stop - reset
        # the tool still listens: the daemon resumes it at once (too soon,
        # often, to see it paused), QEMU reconnects
        tool.wait_for("hooked", timeout=30 * vp.SLOW, conn=2)
        self.assertRegex(self.vmid.log(), rf"domain '{name}' .*: paused: .*\(guest-reset\)")
        self.state(name, "running")
        self.entry(name, state="hooked", paused_by_daemon=None)
        resume = max(t for e, t in self.qmp.events(name) if e == "RESUME")
        self.assertGreater(resume, stop)
        self.assertLess(max(self.hooked_times(name)) - resume, REHOOK_LIMIT + SLACK)
        MEASURED[f"{name}: resume to hook"] = max(self.hooked_times(name)) - resume

    def test_virt_vmi_start(self):
        """virt-vmi start: paused at birth, the vCPUs run once the tool has
        hooked; without a tool the domain stays paused, exit 8."""
        name = "vvstart"
        self.domain(name)
        t0 = time.monotonic()
        r = self.vv("start", name, timeout=60)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.rc, 8, r)
        self.assertIn(f"error: domain '{name}' started, and stays paused: introspection is "
                      f"required (required='yes') and the tool did not hook within the "
                      f"handshake timeout ({HANDSHAKE} s), so the guest is not resumed: QEMU "
                      f"could not reach a tool at unix socket {self.sock(name)}", r.stderr)
        self.assertIn(f"'virt-vmi resume --unmonitored {name}'", r.stderr)
        self.assertGreaterEqual(elapsed, HANDSHAKE)
        self.assertEqual(self.d.domstate(name), "paused")
        self.assertEqual(self.qmp.events(name), [], "the vCPUs ran")
        # not the daemon's pause: it leaves it alone
        time.sleep(RECONNECT + 0.5)
        self.assertIsNone(self.vmid.domain(name)["paused_by_daemon"])
        self.assertEqual(self.d.domstate(name), "paused")
        self.d.virsh("destroy", name)

        tool = vp.tool(self, self.sock(name))
        r = self.vv("start", name, timeout=60)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, rf"^Domain '{name}' started: the introspection tool hooked "
                                   r"it before its vCPUs ran \(waited [0-9.]+ s\)\n$")
        tool.wait_for("hooked", timeout=10 * vp.SLOW, conn=1)
        self.assertEqual(self.d.domstate(name), "running")
        run = self.current_run(name)
        self.assertLess(run.index("VMI: machine hooked"),
                        run.index("VMI: intercept command: resume"), run)
        # 0 ms: QEMU hooked before the one RESUME of this run
        resume = self.qmp.wait(name, "RESUME", 1)
        self.assertLessEqual(max(self.hooked_times(name)), resume)
        MEASURED[f"{name}: hook before the cont by"] = resume - max(self.hooked_times(name))
        self.assertEqual([e for e, _ in self.qmp.events(name)], ["RESUME"])

    def test_virt_vmi_start_on_a_terminal(self):
        """On a terminal the wait for the handshake is shown, as the other
        waits are, and its line cleared before the error."""
        name = "shown"
        self.domain(name)
        master, slave = pty.openpty()
        p = self.d.popen_in_namespace([vp.VIRT_VMI, "-c", self.d.uri, "start", name],
                                      stdin=subprocess.DEVNULL, stdout=slave,
                                      stderr=subprocess.PIPE)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:     # EIO: the program has exited
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        err = p.stderr.read()
        p.stderr.close()
        self.assertEqual(p.wait(timeout=60 * vp.SLOW), 8, (out, err))
        line = (rb"\rStarting 'shown' paused: waiting for the introspection tool to hook: "
                rb"[0-9]+\.[0-9] s \(at most 2 s\)   ")
        self.assertGreaterEqual(len(re.findall(line, out)), 5, out)
        self.assertRegex(out, rb"^(" + line + rb")+\r\x1b\[K$")
        self.assertIn(b"error: domain 'shown' started, and stays paused", err)
        self.assertEqual(self.d.domstate(name), "paused")

    def test_resume_unmonitored_is_left_alone(self):
        name = "outway"
        self.domain(name)
        self.d.virsh("start", name)
        self.qmp.wait(name, "STOP", 1)
        self.entry(name, paused_by_daemon="not-hooked-at-start")
        self.state(name, "paused")
        r = self.vv("resume", "--unmonitored", name)
        self.assertEqual(r.rc, 0, r)
        entry = self.entry(name, paused_by_daemon=None)
        self.assertIsNotNone(entry["unmonitored"])
        time.sleep(REHOOK_LIMIT + 1)
        self.assertEqual(self.d.domstate(name), "running")
        self.assertEqual(len([e for e, _ in self.qmp.events(name) if e == "STOP"]), 1)

    def test_not_required_never_paused(self):
        name = "optional"
        self.domain(name, required=None)
        self.d.virsh("start", name)
        self.qmp.wait(name, "RESUME", 1)
        self.entry(name, state="waiting-for-tool", required=False)
        tool = vp.tool(self, self.sock(name))
        tool.wait_for("hooked", timeout=30 * vp.SLOW, conn=1)
        tool.proc.kill()
        tool.stop()
        self.entry(name, state="waiting-for-tool")
        self.d.virsh("reset", name)
        time.sleep(REHOOK_LIMIT + 1)
        self.assertEqual(self.d.domstate(name), "running")
        # (a guest with nothing to boot may reset again on its own)
        self.assertEqual([e for e, _ in self.qmp.events(name) if e != "RESET"], ["RESUME"])
        self.assertIsNone(self.vmid.domain(name)["paused_by_daemon"])


def tearDownModule():
    vp.print_times()
    if MEASURED:
        print("\nMeasured on QEMU's clock (seconds):", file=sys.stderr)
        for what, secs in MEASURED.items():
            print(f"  {what:50s} {secs:7.3f}", file=sys.stderr)


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
