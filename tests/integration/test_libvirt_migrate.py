#!/usr/bin/env python3
"""virt-vmi migrate between two real libvirtd on this host, with the hook
and the KVMI emulator: one domain, started once, migrated back and forth.

The tool's socket lives in a directory private to each daemon
(/var/lib/libvirt is bind-mounted per daemon), so that "a tool on the
destination" is a separate listener, as on two hosts: one vmi-tool
listens on both daemons' sockets, or on the source's only.

The tests run in order (their names say it), each leaving the domain
running and hooked on one of the daemons:
  1. pre-flight refuses a destination without the key secret: nothing
     changes, the source stays hooked
  2. --copy-key --persistent --json: the secret copied (same UUID and
     flags), the phases as JSON lines, the tool hooks the destination
  3. back with --p2p, on a pseudo-terminal: the phases drawn there
  4. --timeout during the unhook wait: cancelled, exit 5, the source runs
     on and the tool hooks it again
  4b. SIGINT during the unhook wait: libvirt's job aborted, exit 7, the
     source runs on and the tool hooks it again
  5. no tool on the destination: migrated, exit 3, "unmonitored"
  6. required='yes' (set on the live definition): the destination's hook
     holds the guest until the tool has hooked it there
  7. required='yes' and no tool on the destination: its hook fails
     Prepare after the handshake timeout; the source runs on, hooked
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiproduct as vp  # noqa: E402
import vmiwrap as vw  # noqa: E402

# As both daemons (and their QEMUs) see it: a different directory in each
TOOL_DIR = "/var/lib/libvirt/vmi-tool"
SOCK = TOOL_DIR + "/mig.sock"
UNHOOK_TIMEOUT = 10
UNHOOK_DELAY_MS = 600
HANDSHAKE = 2


class MigrateTest(vp.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.b = None
        cls.tmp = tempfile.TemporaryDirectory(prefix="vmi-migrate-")
        try:
            cls.a = vp.product_daemon("migrate-a", emulators=[vl.QEMU, *vp.emulators()])
            cls.b = vp.product_daemon("migrate-b", emulators=[vl.QEMU, *vp.emulators()])
            for d in (cls.a, cls.b):
                os.makedirs(d.host_path(TOOL_DIR), exist_ok=True)
                os.chmod(d.host_path(TOOL_DIR), 0o755)
            cls.key = vp.printable_key()
            cls.keyfile = os.path.join(cls.tmp.name, "key")
            with open(cls.keyfile, "wb") as f:
                f.write(cls.key)
            cls.secret = cls.a.define_secret(cls.key, usage_type="tls",
                                             usage_name="vmi-migrate-test")
            cls.tool = None
            cls.start_tool(cls.a, cls.b)
            cls.uuid = cls.a.define_domain("mig", emulator=vp.domain_emulator(),
                                           metadata=vp.element(SOCK, reconnect=1, key=cls.secret,
                                                               unhook=UNHOOK_TIMEOUT,
                                                               handshake=HANDSHAKE))
            vp.virt_vmi(cls.a, "sync", "mig", check=True)
            cls.a.virsh("start", "mig", timeout=60 * vp.SLOW)
            cls.tool.wait_for("hooked", timeout=20 * vp.SLOW)
        except BaseException:
            cls.cleanup_class()
            raise

    @classmethod
    def cleanup_class(cls):
        if cls.tool:
            cls.tool.stop()
        vl.stop_all(*[d for d in (cls.a, cls.b) if d])
        cls.tmp.cleanup()

    @classmethod
    def tearDownClass(cls):
        cls.cleanup_class()

    @classmethod
    def start_tool(cls, *daemons, args=("--unhook-delay", str(UNHOOK_DELAY_MS))):
        """One vmi-tool listening at SOCK of each of @daemons (in place of
        the one before)."""
        if cls.tool:
            cls.tool.stop()
        paths = [d.host_path(SOCK) for d in daemons]
        extra = [a for p in paths[1:] for a in ("--listen", "unix:" + p)]
        cls.tool = vp.tool(None, paths[0], *extra, *args, key_file=cls.keyfile)
        cls.tool_setup = (daemons, args)

    def use_tool(self, *daemons, args=("--unhook-delay", str(UNHOOK_DELAY_MS))):
        """start_tool() unless that tool runs already; it has hooked 'mig'."""
        if self.tool_setup != (daemons, args) or self.tool.proc.poll() is not None:
            self.start_tool(*daemons, args=args)
        self.tool.wait_for("hooked", timeout=20 * vp.SLOW)

    def setUp(self):
        super().setUp()
        self.addCleanup(vp.check_wrapper_reports, self, self.a, self.b)

    def where(self):
        """(source, destination): the daemon running 'mig' first."""
        if self.a.virsh("domstate", "mig", check=False).stdout.strip() == "running":
            return self.a, self.b
        return self.b, self.a

    def migrate(self, src, dst, *args, timeout=None):
        return vp.virt_vmi(src, "migrate", "mig", dst.uri, *args,
                           timeout=timeout or 120 * vp.SLOW)

    def hooked_since(self, t0):
        """A 'hooked' event seen after @t0 (time.monotonic())."""
        return self.tool.wait_for("hooked", timeout=20 * vp.SLOW, since=t0)

    def test_1_preflight_refuses_without_the_secret(self):
        src, dst = self.where()
        t0 = time.monotonic()
        for json_out in (False, True):
            r = self.migrate(src, dst, "--live", *(["--json"] if json_out else []))
            self.assertEqual(r.rc, 4, r)
            if json_out:
                lines = [json.loads(ln) for ln in r.stdout.splitlines()]
                check = next(ln for ln in lines if ln["event"] == "check" and
                             ln["check"] == f"the key secret {self.secret}")
                self.assertEqual((check["phase"], check["result"]), ("preflight", "FAIL"))
                self.assertIn("missing on the destination: --copy-key copies it",
                              check["detail"])
                self.assertEqual(lines[-1]["event"], "result")
                self.assertEqual((lines[-1]["ok"], lines[-1]["exit"], lines[-1]["failed"]),
                                 (False, 4, "preflight"))
                self.assertEqual([ln["event"] for ln in lines if ln["event"] not in
                                  ("check", "result")], [])
            else:
                self.assertIn(f"Pre-flight: checking the key secret {self.secret}: FAIL "
                              "(missing on the destination: --copy-key copies it",
                              r.stdout)
                self.assertIn("Pre-flight: checking for the libvirt hook on the destination: "
                              "PASS", r.stdout)
                self.assertIn("Pre-flight: checking for a tool on the destination: PASS "
                              f"(a tool listens at {SOCK})", r.stdout)
                self.assertIn("error: pre-flight failed: nothing was changed", r.stderr)
        # nothing happened: not at the source, not at the destination
        self.assertEqual(src.domstate("mig"), "running")
        self.assertNotEqual(dst.virsh("domstate", "mig", check=False).rc, 0)
        self.assertNotEqual(dst.virsh("secret-dumpxml", self.secret, check=False).rc, 0)
        self.assertEqual(self.tool.events("unhook", since=t0), [])
        self.assertEqual(self.tool.events("closed", since=t0), [])
        self.assertNotIn("VMI: intercept command: migrate", src.domain_log("mig"))
        st = vp.virt_vmi(src, "status", "mig")
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")

    def test_2_copy_key_persistent_json(self):
        src, dst = self.where()
        t0 = time.monotonic()
        r = self.migrate(src, dst, "--live", "--copy-key", "--persistent", "--json")
        self.assertEqual(r.rc, 0, r)
        lines = [json.loads(ln) for ln in r.stdout.splitlines()]
        self.assertEqual(lines[-1]["event"], "result")
        self.assertEqual((lines[-1]["ok"], lines[-1]["exit"], lines[-1]["failed"]),
                         (True, 0, None))
        self.assertRegex(lines[-1]["message"], r"^Domain 'mig' migrated to .* the tool "
                         r"hooked it on the destination after [0-9.]+ s$")
        phases = [ln["phase"] for ln in lines if ln["event"] == "phase"]
        self.assertEqual(phases[0], "prepare")
        self.assertIn("unhook", phases)
        self.assertEqual(phases[-1], "rehook")
        self.assertEqual(phases, sorted(phases, key=["prepare", "unhook", "transfer",
                                                      "rehook"].index))
        unhook = [ln for ln in lines if ln["event"] == "progress" and ln["phase"] == "unhook"]
        self.assertTrue(unhook, lines)
        self.assertTrue(all(ln["limit"] == UNHOOK_TIMEOUT and ln["elapsed"] >= 0
                            for ln in unhook), unhook)
        for ln in lines:
            if ln["event"] == "progress" and ln["phase"] == "transfer" and ln["percent"] is not None:
                self.assertTrue(0 <= ln["percent"] <= 100, ln)
        self.assertGreaterEqual(lines[-1]["unhook"], UNHOOK_DELAY_MS / 1000 - 0.3)

        # the secret: copied with its UUID and flags, and its value
        a = ET.fromstring(src.virsh("secret-dumpxml", self.secret).stdout)
        b = ET.fromstring(dst.virsh("secret-dumpxml", self.secret).stdout)
        for attr in ("private", "ephemeral"):
            self.assertEqual(a.get(attr), b.get(attr))
        self.assertEqual(b.find("usage/name").text, "vmi-migrate-test")
        self.assertEqual(dst.virsh("secret-get-value", self.secret).stdout.strip(),
                         src.virsh("secret-get-value", self.secret).stdout.strip())
        self.assertEqual(vp.key_leaks(self.key, r.stdout + r.stderr), [])

        self.assertEqual(dst.domstate("mig"), "running")
        self.assertEqual(src.domstate("mig"), "shut off")
        self.assertEqual(dst.virsh("dominfo", "mig").stdout.count("Persistent:     yes"), 1)
        self.tool.wait_for("unhook", timeout=1, since=t0)
        self.assertEqual(self.tool.wait_for("closed", timeout=5, since=t0)["reason"], "unhook")
        self.hooked_since(t0)

    def test_3_p2p_back_on_a_terminal(self):
        src, dst = self.where()
        t0 = time.monotonic()
        r = vp.virt_vmi_on_terminal(src, "migrate", "mig", dst.uri, "--live", "--p2p",
                                    timeout=120 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        out = r.stdout
        # the unhook wait redrawn against its limit, then finished with its duration
        wait = rb"Migrating 'mig': waiting for the introspection tool to unhook"
        self.assertGreaterEqual(len(re.findall(rb"\r" + wait + rb": [0-9]+\.[0-9] s "
                                               rb"\(at most 10 s\)\x1b\[K", out)), 2, out)
        self.assertRegex(out, rb"\r\x1b\[K" + wait + rb": [0-9]+\.[0-9] s\r\n")
        self.assertRegex(out, rb"\r\x1b\[KDomain 'mig' migrated to .* the tool hooked it "
                         rb"on the destination after [0-9.]+ s\r\n$")
        self.assertEqual(dst.domstate("mig"), "running")
        self.hooked_since(t0)

    def test_4_timeout_during_the_unhook_wait(self):
        src, dst = self.where()
        # the tool takes 4 s to unhook: --timeout cancels the migration
        # during the wait; QEMU ends it once the tool has closed
        self.use_tool(self.a, self.b, args=("--unhook-delay", "4000"))
        t0 = time.monotonic()
        r = self.migrate(src, dst, "--live", "--timeout", "1")
        self.assertEqual(r.rc, 5, r)
        self.assertRegex(r.stderr, r"error: migration cancelled after 1 s \(--timeout\) during "
                         r"the unhook phase: .*; the source runs on, and the tool hooked it "
                         r"again\n")
        self.assertEqual(src.domstate("mig"), "running")
        self.assertNotEqual(dst.virsh("domstate", "mig", check=False).stdout.strip(), "running")
        self.assertTrue(self.tool.events("unhook", since=t0))
        self.assertEqual(self.tool.events("closed", since=t0)[0]["reason"], "unhook")
        self.assertTrue(self.tool.events("hooked", since=t0))
        st = vp.virt_vmi(src, "status", "mig")
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")

    def test_4b_sigint_during_the_unhook_wait(self):
        """Ctrl-C aborts libvirt's migration job rather than leave it
        running behind a command that is gone."""
        src, dst = self.where()
        self.use_tool(self.a, self.b, args=("--unhook-delay", "4000"))
        t0 = time.monotonic()
        cmd = vw.wrap_once(("virt-vmi", "migrate", "SIGINT"),
                           [vp.VIRT_VMI, "-c", src.uri, "migrate", "mig", dst.uri, "--live",
                            "--json"])
        p = src.popen_in_namespace(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        lines = []
        for ln in p.stdout:
            lines.append(json.loads(ln))
            if lines[-1]["event"] == "phase" and lines[-1]["phase"] == "unhook":
                p.send_signal(signal.SIGINT)
                break
        self.assertEqual(lines[-1]["phase"], "unhook", lines)
        out, err = p.communicate(timeout=120 * vp.SLOW)
        err = vw.check_run(cmd, p.returncode, err)
        self.assertEqual(p.returncode, 7, (lines, out, err))
        result = json.loads(out.splitlines()[-1])
        self.assertEqual((result["event"], result["ok"], result["exit"], result["failed"]),
                         ("result", False, 7, "unhook"))
        self.assertRegex(result["message"], r"^migration cancelled \(SIGINT\) during the unhook "
                         r"phase: .*canceled by client; the source runs on, and the tool "
                         r"hooked it again$")
        self.assertIn(f"error: {result['message']}\n", err)
        # libvirt's job was cancelled, not left running: the guest is where it was
        self.assertRegex(src.virsh("domjobinfo", "mig").stdout, r"Job type: +None")
        self.assertEqual(src.domstate("mig"), "running")
        self.assertNotEqual(dst.virsh("domstate", "mig", check=False).stdout.strip(), "running")
        self.assertEqual(self.tool.events("closed", since=t0)[0]["reason"], "unhook")
        self.assertTrue(self.tool.events("hooked", since=t0))
        st = vp.virt_vmi(src, "status", "mig")
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")

    def test_5_no_tool_on_the_destination(self):
        src, dst = self.where()
        self.start_tool(src)
        self.tool.wait_for("hooked", timeout=20 * vp.SLOW)
        t0 = time.monotonic()
        r = self.migrate(src, dst, "--live")
        self.assertEqual(r.rc, 3, r)
        self.assertIn("Pre-flight: checking for a tool on the destination: WARN (nothing "
                      f"listens at {SOCK} there", r.stdout)
        self.assertRegex(r.stderr, r"error: domain 'mig' migrated to .*, but the destination "
                         r"is unmonitored: the introspection tool did not hook domain 'mig' on "
                         r"the destination within [0-9]+ s")
        self.assertEqual(dst.domstate("mig"), "running")
        self.assertEqual(self.tool.events("hooked", since=t0), [])
        # a tool there now: QEMU's reconnect finds it
        self.use_tool(self.a, self.b)

    def require(self, src):
        """'mig' required='yes' on its live definition (what the
        destination's hook is given), with the short handshake timeout."""
        xml = vp.element(SOCK, reconnect=1, key=self.secret, unhook=UNHOOK_TIMEOUT,
                         handshake=HANDSHAKE, required="yes", prefix=None)
        src.virsh("metadata", "mig", vp.VMI_NS, "--key", "vmi", "--live", "--set", xml)

    def last_run(self, d):
        """'mig''s domain log on @d from its last start on."""
        log = d.domain_log("mig")
        return log[log.rindex(": starting up "):]

    def test_6_required_on_the_destination(self):
        src, dst = self.where()
        self.use_tool(self.a, self.b)
        self.require(src)
        t0 = time.monotonic()
        r = self.migrate(src, dst, "--live")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(dst.domstate("mig"), "running")
        self.hooked_since(t0)
        # the destination's vCPUs ran only once the tool had hooked there
        run = self.last_run(dst)
        self.assertIn("-incoming", run)
        self.assertLess(run.index("VMI: machine hooked"),
                        run.index("VMI: intercept command: resume"), run)

    def test_7_required_without_a_tool_on_the_destination(self):
        src, dst = self.where()
        self.use_tool(src)
        self.require(src)
        t0 = time.monotonic()
        r = self.migrate(src, dst, "--live")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("Pre-flight: checking for a tool on the destination: WARN (nothing "
                      f"listens at {SOCK} there, and the domain requires introspection "
                      "(required='yes'): unless a tool listens there by the time the "
                      "destination's QEMU starts, its hook fails the migration after the "
                      f"handshake timeout ({HANDSHAKE} s), and the source runs on)", r.stdout)
        self.assertIn(f"libvirt-vmi: domain 'mig': introspection is required (required='yes') "
                      f"and the tool did not hook within the handshake timeout ({HANDSHAKE} s), "
                      f"so the guest is not resumed: QEMU could not reach a tool at unix "
                      f"socket {SOCK}", r.stderr)
        self.assertRegex(r.stderr, r"error: migration failed during the prepare phase: .*; "
                         r"the source runs on, unchanged\n$")
        self.assertEqual(src.domstate("mig"), "running")
        self.assertNotEqual(dst.virsh("domstate", "mig", check=False).stdout.strip(), "running")
        # never asked to unhook: the tool at the source stays connected
        self.assertEqual(self.tool.events("unhook", since=t0), [])
        self.assertEqual(self.tool.events("closed", since=t0), [])
        st = vp.virt_vmi(src, "status", "mig")
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
