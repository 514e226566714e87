#!/usr/bin/env python3
"""The libvirt test harness (tests/lib/vmilibvirt.py) with plain QEMU
domains: private daemons that start, run domains, call hooks, keep secrets,
pass QMP, migrate between each other and leave nothing behind; and the
embedded driver. Prints the timings it measured."""

import base64
import os
import re
import shlex
import signal
import sys
import sysconfig
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiwrap as vw  # noqa: E402

TIMINGS = {}

# Records every hook call: "ARGS <argv>", the XML from stdin, "END".
RECORD_HOOK = """#!/bin/sh
{ printf 'ARGS %s\\n' "$*"; cat; printf '\\nEND\\n'; } >> LOG
"""


def record(name, seconds):
    TIMINGS.setdefault(name, []).append(seconds)


def timed(name, fn, *args, **kwargs):
    t = time.monotonic()
    out = fn(*args, **kwargs)
    record(name, time.monotonic() - t)
    return out


def hook_calls(path):
    """[(argv, xml)] from a RECORD_HOOK log."""
    calls = []
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return calls
    for block in text.split("\nEND\n"):
        if block.strip():
            head, _, xml = block.partition("\n")
            assert head.startswith("ARGS "), head
            calls.append((head[5:].split(), xml))
    return calls


def proc_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def wait_gone(pid, timeout=5):
    return not vl._wait_gone([pid], timeout)


def new_hooked_daemon(name, hook_log=None):
    d = vl.LibvirtDaemon(name)
    d.hook_log = hook_log or os.path.join(d.dir, "hooks.log")
    d.add_hook("50-record", RECORD_HOOK.replace("LOG", shlex.quote(d.hook_log)))
    return d


class DaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = new_hooked_daemon("harness")
        timed("daemon start", cls.d.start)

    @classmethod
    def tearDownClass(cls):
        timed("daemon stop", cls.d.stop)

    def test_private_directories(self):
        d = self.d
        r = d.run_in_namespace(["cat", "/etc/libvirt/libvirtd.conf"], check=True)
        self.assertIn(d.host_uuid, r.stdout)
        try:
            with open("/etc/libvirt/libvirtd.conf") as f:
                self.assertNotIn(d.host_uuid, f.read())
        except FileNotFoundError:
            pass
        d.run_in_namespace(["sh", "-c", "echo x > /run/libvirt-vmi/probe"], check=True)
        self.assertTrue(os.path.exists(d.host_path("/run/libvirt-vmi/probe")))
        self.assertFalse(os.path.exists("/run/libvirt-vmi/probe"))
        # Plain virsh and qemu:///system in the namespace reach this daemon
        self.assertEqual(d.run_in_namespace(["virsh", "uri"], check=True).stdout.strip(), d.uri)
        r = d.run_in_namespace(["virsh", "-c", "qemu:///system", "hostname"], check=True)
        self.assertEqual(r.stdout.strip(), os.uname().nodename)
        # The bind mounts are in the daemon's namespace only
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(d.root, f.read())

    def test_domain_lifecycle(self):
        d = self.d
        uuid = d.define_domain("life")
        self.assertEqual(d.virsh("domuuid", "life").stdout.strip(), uuid)
        mark = d.log_size()
        timed("domain start", d.virsh, "start", "life")
        self.assertEqual(d.domstate("life"), "running")
        pid = d.qemu_pid("life")
        self.assertIsNotNone(pid)
        self.assertEqual(proc_uid(pid), vl.pwd_uid(vl.QEMU_USER))
        # The command line is in the domain log and in libvirtd's log
        self.assertIn("-name guest=life,", d.domain_log("life"))
        self.assertRegex(d.log_text(mark), r"About to run .*qemu-system-x86_64 .*guest=life,")

        timed("suspend", d.virsh, "suspend", "life")
        self.assertEqual(d.domstate("life"), "paused")
        r = d.virsh("qemu-monitor-command", "life", '{"execute":"query-status"}')
        self.assertIn('"status":"paused"', r.stdout)
        timed("resume", d.virsh, "resume", "life")
        self.assertEqual(d.domstate("life"), "running")
        r = timed("qemu-monitor-command", d.virsh, "qemu-monitor-command", "life",
                  '{"execute":"query-status"}')
        self.assertIn('"status":"running"', r.stdout)
        r = d.virsh("qemu-monitor-command", "--hmp", "life", "info name")
        self.assertEqual(r.stdout.strip(), "life")

        timed("destroy", d.virsh, "destroy", "life")
        self.assertEqual(d.domstate("life"), "shut off")
        self.assertTrue(wait_gone(pid, 2), f"QEMU {pid} still running after destroy")
        d.virsh("undefine", "life")

        hooks = [(argv, xml) for argv, xml in hook_calls(d.hook_log) if argv[0] == "life"]
        self.assertEqual([" ".join(argv[1:]) for argv, _ in hooks],
                         ["prepare begin -", "start begin -", "started begin -",
                          "stopped end -", "release end -"])
        for argv, xml in hooks:
            root = ET.fromstring(xml)
            self.assertEqual(root.findtext("name"), "life", argv)
            self.assertEqual(root.findtext("uuid"), uuid, argv)

    def test_cached_capabilities_are_used(self):
        d = self.d
        d.define_domain("caps")
        d.virsh("undefine", "caps")
        name = vl.CapsCache.file_name(vl.QEMU)
        with open(d.host_path(f"/var/cache/libvirt/qemu/capabilities/{name}"), "rb") as f:
            private = f.read()
        with open(os.path.join(d.caps.path, name), "rb") as f:
            shared = f.read()
        self.assertEqual(private, shared, "libvirt probed QEMU again instead of using the cache")
        self.assertNotIn("Outdated capabilities", d.log_text())

    def test_secrets(self):
        d = self.d
        value = b"\x00\x01key material\xff" * 2
        uuid = d.define_secret(value, usage_type="volume", usage_name="/harness/key",
                               description="harness test")
        r = d.virsh("secret-get-value", uuid)
        self.assertEqual(base64.b64decode(r.stdout.strip()), value)
        self.assertIn(uuid, d.virsh("secret-list").stdout)
        self.assertIn("/harness/key", d.virsh("secret-dumpxml", uuid).stdout)
        # On disk in the daemon's private /etc/libvirt/secrets, not the host's
        self.assertTrue(os.path.exists(d.host_path(f"/etc/libvirt/secrets/{uuid}.xml")))
        self.assertFalse(os.path.exists(f"/etc/libvirt/secrets/{uuid}.xml"))

        hidden = d.define_secret(b"hidden", private=True)
        r = d.virsh("secret-get-value", hidden, check=False)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("private", r.stderr)
        d.virsh("secret-undefine", uuid)
        d.virsh("secret-undefine", hidden)

    def test_errors(self):
        with self.assertRaises(vl.CommandError) as cm:
            self.d.virsh("domstate", "no-such-domain")
        self.assertIn("no-such-domain", str(cm.exception))
        r = self.d.virsh("domstate", "no-such-domain", check=False)
        self.assertEqual(r.rc, 1)
        self.assertIn("failed to get domain 'no-such-domain'", r.stderr)

    def test_hook_added_while_running(self):
        d = self.d
        log = os.path.join(d.dir, "late.log")
        d.add_hook("60-late", RECORD_HOOK.replace("LOG", shlex.quote(log)))
        d.define_domain("late")
        d.virsh("start", "late")
        d.virsh("destroy", "late")
        d.virsh("undefine", "late")
        os.unlink(os.path.join(d.hooks_dir, "60-late"))
        self.assertEqual([argv[1] for argv, _ in hook_calls(log)],
                         ["prepare", "start", "started", "stopped", "release"])

    def test_exec_hook(self):
        d = self.d
        log = os.path.join(d.dir, "exec-hook.log")
        d.add_exec_hook("70-exec", ["/bin/sh", "-c", f'echo "$VMI_HOOK_TEST $*" >> {log}', "hook"],
                        env={"VMI_HOOK_TEST": "from env"})
        self.addCleanup(os.unlink, os.path.join(d.hooks_dir, "70-exec"))
        d.define_domain("exec")
        d.virsh("start", "exec")
        d.virsh("destroy", "exec")
        d.virsh("undefine", "exec")
        with open(log) as f:
            self.assertEqual(f.read().splitlines()[0], "from env exec prepare begin -")

    def test_wrap(self):
        self.assertEqual(vw.wrap(["prog", "a"]), vw.WRAPPER + ["prog", "a"])


def pin_namespace(d):
    """An fd that keeps @d's mount namespace (and so its inode number,
    which the kernel reuses at once for new namespaces) until closed."""
    return os.open(f"/proc/{d._holder.pid}/ns/mnt", os.O_RDONLY)


class StopTest(unittest.TestCase):
    def stopped_cleanly(self, d, pids, pin):
        self.assertFalse(vl._wait_gone(pids, 1), "processes left running")
        try:
            self.assertEqual(vl._pids_in_mnt_ns(d._ns), [])
        finally:
            os.close(pin)
        self.assertFalse(os.path.exists(d.dir))
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(d.dir, f.read())

    def test_stop_with_running_domain(self):
        tmp = tempfile.TemporaryDirectory(prefix="vmi-stop-")
        self.addCleanup(tmp.cleanup)
        hook_log = os.path.join(tmp.name, "hooks.log")
        with new_hooked_daemon("stop", hook_log) as d:
            d.define_domain("left")
            d.virsh("start", "left")
            qemu = d.qemu_pid("left")
            pids = d.namespace_pids()
            self.assertIn(qemu, pids)
            self.assertIn(d.pid, pids)
            pin = pin_namespace(d)
        record("daemon stop (a domain running)", d.timings["stop"])
        self.stopped_cleanly(d, pids, pin)
        # Destroyed through libvirt: the hooks saw it stop
        self.assertEqual([argv[1] for argv, _ in hook_calls(hook_log)][-2:],
                         ["stopped", "release"])
        d.stop()  # stopping again is harmless

    def test_forced_stop(self):
        d = vl.LibvirtDaemon("hung")
        try:
            d.start()
            d.define_domain("hung")
            d.virsh("start", "hung")
            pids = d.namespace_pids()
            qemu = d.qemu_pid("hung")
            pin = pin_namespace(d)
            os.kill(d.pid, signal.SIGSTOP)
        finally:
            d.stop(timeout=1)
        self.assertIn(qemu, pids)
        self.stopped_cleanly(d, pids, pin)

    def test_failed_start_cleans_up(self):
        d = vl.LibvirtDaemon("bad", libvirtd_conf="no_such_setting_type = [ 1, 2")
        with self.assertRaises(RuntimeError) as cm:
            d.start(timeout=10)
        self.assertIn("libvirtd", str(cm.exception))
        self.assertIsNotNone(d._holder.poll())
        self.assertEqual(vl._pids_in_mnt_ns(d._ns), [])
        self.assertFalse(os.path.exists(d.dir))


class MigrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = new_hooked_daemon("src")
        cls.b = new_hooked_daemon("dst")
        try:
            timed("daemon start", cls.a.start)
            timed("daemon start", cls.b.start)
        except BaseException:
            vl.stop_all(cls.a, cls.b)
            raise

    @classmethod
    def tearDownClass(cls):
        timed("two daemons stop", vl.stop_all, cls.a, cls.b)

    def test_live_migration_both_ways(self):
        a, b = self.a, self.b
        uuid = a.define_domain("mig")
        a.virsh("start", "mig")
        pid_a = a.qemu_pid("mig")

        timed("migrate", a.migrate, "mig", b)
        self.assertEqual(b.domstate("mig"), "running")
        self.assertEqual(b.virsh("domuuid", "mig").stdout.strip(), uuid)
        self.assertEqual(a.domstate("mig"), "shut off")  # still defined on the source
        self.assertTrue(wait_gone(pid_a), "source QEMU still running")
        pid_b = b.qemu_pid("mig")
        self.assertIsNotNone(pid_b)
        r = b.virsh("qemu-monitor-command", "mig", '{"execute":"query-status"}')
        self.assertIn('"status":"running"', r.stdout)
        # The destination ran the migrate hook (the one that may rewrite the XML)
        ops = [" ".join(argv[1:3]) for argv, _ in hook_calls(b.hook_log) if argv[0] == "mig"]
        self.assertEqual(ops[:3], ["migrate begin", "prepare begin", "start begin"])

        timed("migrate --p2p", b.migrate, "mig", a, p2p=True)
        self.assertEqual(a.domstate("mig"), "running")
        self.assertNotEqual(b.virsh("domstate", "mig", check=False).rc, 0)  # was transient
        self.assertTrue(wait_gone(pid_b), "destination QEMU still running")
        pid_a2 = a.qemu_pid("mig")
        self.assertNotIn(pid_a2, (None, pid_a))

        r = a.migrate("mig", a, check=False)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("same host", r.stderr)
        a.virsh("destroy", "mig")
        a.virsh("undefine", "mig")


WRAPPER_SCRIPT = f"""#!/bin/sh
# An <emulator> that is not QEMU itself, as the KVMI emulator will be
exec {vl.QEMU} "$@"
"""


def emulator_wrapper():
    """A stable path (its capabilities stay cached across runs): rewritten
    only when its content changes, since libvirt keys the cache on ctime."""
    build = os.environ.get("VMI_BUILD_DIR")
    d = os.path.join(build, "tests") if build else tempfile.gettempdir()
    return vl.stable_script(os.path.join(d, "harness-qemu-wrapper"), WRAPPER_SCRIPT)


class EmulatorWrapperTest(unittest.TestCase):
    def test_wrapper_emulator_is_probed_once_and_cached(self):
        wrapper = emulator_wrapper()
        with vl.LibvirtDaemon("wrapper", emulators=[vl.QEMU, wrapper]) as d:
            record("daemon start (emulator wrapper: probed if new)", d.timings["start"])
            # Warmed by start(): the shared cache now holds it
            self.assertTrue(d.caps.fresh(wrapper))
            d.define_domain("wrapped", emulator=wrapper)
            d.virsh("start", "wrapped")
            pid = d.qemu_pid("wrapped")
            self.assertEqual(os.readlink(f"/proc/{pid}/exe"), vl.QEMU)
            self.assertRegex(d.log_text(), f"About to run .*{wrapper} .*guest=wrapped,")
            self.assertNotIn("Outdated capabilities", d.log_text())
            d.virsh("destroy", "wrapped")


def libvirt_module_ctimes():
    """The ctimes of libvirt's loadable modules. libvirt stamps a capability
    file with the newest ctime of what the process had loaded, and an
    embedded root loads modules as it needs them (the QEMU driver, then
    maybe a storage-file backend): where the package was unpacked across a
    second boundary, two processes on one root can disagree, and the second
    one probes QEMU again ("Outdated capabilities ...: libvirt changed")."""
    base = os.path.join("/usr/lib", sysconfig.get_config_var("MULTIARCH") or "", "libvirt")
    ctimes = {int(os.stat(os.path.join(d, n)).st_ctime)
              for d, _, names in os.walk(base) for n in names if n.endswith(".so")}
    assert ctimes, f"no libvirt modules under {base}"
    return ctimes


class EmbeddedTest(unittest.TestCase):
    def assertCapsCacheUsed(self, log):
        """No capability file was found outdated, but where this host's
        libvirt modules differ in ctime (see libvirt_module_ctimes()): then
        only for that reason."""
        outdated = re.findall(r"Outdated capabilities in [^:]*: (.*)", log)
        if len(libvirt_module_ctimes()) == 1:
            self.assertEqual(outdated, [])
        else:
            self.assertEqual([o for o in outdated if not o.startswith("libvirt changed ")], [])

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vmi-embed-")
        os.chmod(self.tmp.name, 0o755)
        self.e = vl.EmbeddedRoot(os.path.join(self.tmp.name, "root"))

    def tearDown(self):
        self.e.cleanup()
        self.tmp.cleanup()

    def test_one_process(self):
        e = self.e
        xml = e.domain_file("emb")
        r = timed("embedded: define+start+suspend+resume+QMP+destroy", e.virsh,
                  f"define {xml}", "start emb", "domstate emb", "suspend emb", "domstate emb",
                  "resume emb", ["qemu-monitor-command", "emb", '{"execute":"query-status"}'],
                  "destroy emb", "domstate emb")
        self.assertEqual([ln for ln in r.stdout.splitlines() if ln in ("running", "paused", "shut off")],
                         ["running", "paused", "shut off"])
        self.assertIn('"status":"running"', r.stdout)
        self.assertEqual(r.stderr, "")  # libvirt's log goes to e.log_path
        with open(e.domain_log_path("emb")) as f:
            self.assertIn("-name guest=emb,", f.read())
        self.assertIn("qemuProcessLaunch", e.log_text())
        self.assertCapsCacheUsed(e.log_text())
        self.assertEqual(e.qemu_pids(), [])

    def test_sequential_processes(self):
        e = self.e
        e.virsh(f"define {e.domain_file('seq')}")
        for _ in range(2):
            timed("embedded: start (own process)", e.virsh, "start seq")
            pid = e.qemu_pid("seq")
            self.assertEqual(proc_uid(pid), vl.pwd_uid(vl.QEMU_USER))
            # A new process reconnects to the running QEMU in a thread holding
            # a job: a call that waits for a job (dommemstat) first.
            state = e.virsh("dommemstat seq", "domstate seq").stdout.strip().splitlines()[-1]
            self.assertEqual(state, "running")
            timed("embedded: dommemstat+destroy (own process)", e.virsh,
                  "dommemstat seq", "destroy seq")
            self.assertTrue(wait_gone(pid, 2))
            self.assertEqual(e.virsh("domstate seq").stdout.strip(), "shut off")


def tearDownModule():
    print("\nTimings (seconds):", file=sys.stderr)
    for name, values in TIMINGS.items():
        print(f"  {name:55s} " + " ".join(f"{v:.3f}" for v in values), file=sys.stderr)


if __name__ == "__main__":
    reason = vl.missing_requirement()
    if reason:
        print(f"SKIP: {reason}", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
