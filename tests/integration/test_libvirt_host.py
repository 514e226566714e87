#!/usr/bin/env python3
"""virt-vmi host-validate and the emulator probe on a real libvirtd: one
PASS/WARN/FAIL line per check (a KVMI kernel, the connection, the hook,
the key directory, each emulator: the introspection object and whether it
enforces allow-lists), exit codes; and the hook refusing to start a domain
whose <vmi:allow> its emulator cannot enforce (the KVMI emulator's
fork-readonly and fork-last-key modes, as <emulator> scripts and through
an environment set by an <emulator> script), with a message that names the
emulator and what it cannot do, before QEMU ever runs. The probe runs the
emulator as QEMU's user, without the domain's <qemu:env>, and believes
only what a QEMU prints."""

import grp
import os
import pwd
import re
import shlex
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiproduct as vp  # noqa: E402
import vmiwrap as vw  # noqa: E402

KVMI_PARAM = "/sys/module/kvm/parameters/introspection"
LINE = re.compile(r"^   VMI: Checking (.*?)\s*: (PASS|WARN|FAIL) \((.*)\)$")
ALLOW = dict(commands=["vcpu-pause", "vm-read-physical"], events=["pause-vcpu"])


def parse(out):
    """[(what, result, detail)] from host-validate's output; every line
    must be a check line."""
    checks = []
    for ln in out.splitlines():
        m = LINE.match(ln)
        if not m:
            raise AssertionError(f"not a host-validate line: {ln!r}")
        checks.append(m.groups())
    return checks


class HostTest(vp.DaemonTestCase):
    NAME = "host"

    @classmethod
    def daemon_emulators(cls):
        cls.readonly = vp.compat_emulator("fork-readonly")
        cls.lastkey = vp.compat_emulator("fork-last-key")
        return [*super().daemon_emulators(), cls.readonly, cls.lastkey]

    def host_validate(self, *args):
        r = self.vv("host-validate", *args)
        self.assertEqual(r.stderr, "", r)
        return r.rc, parse(r.stdout)

    def script(self, name, body):
        """An executable /bin/sh script in the test's directory, which QEMU's
        user can read and run."""
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\n{body}\n")
        os.chmod(path, 0o755)
        return path

    def probe_faking(self, name, fake):
        """An emulator that is qemu-kvmi for libvirt and QEMU, but runs
        @fake (shell) when the hook's probe runs it (its -object
        introspection,id=vmiprobe)."""
        qemu = shlex.join(vw.wrap([vp.QEMU_KVMI]))
        return self.script(name, f'case "$*" in *id=vmiprobe,*) {fake} ;; esac\n'
                                 f'exec {qemu} "$@"')

    def define(self, name, emulator, qemu_env=None, **element):
        self.d.define_domain(name, emulator=emulator, qemu_env=qemu_env,
                             metadata=vp.element(f"/run/vmi/{name}.sock", **element))
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.assertEqual(self.vv("sync", name).rc, 0)

    def assertHostChecks(self, checks):
        """The lines every host-validate starts with, on this host."""
        self.assertEqual(checks[0][0], "for a KVMI kernel (kvm.introspection)")
        if os.path.exists(KVMI_PARAM):
            self.assertIn(checks[0][1], ("PASS", "FAIL"))
        else:
            self.assertEqual(checks[0][1:], ("FAIL", f"{KVMI_PARAM} is missing: this kernel has no "
                                             "KVM introspection (KVMI); boot a KVMI kernel with "
                                             "kvm.introspection=on"))
        self.assertEqual(checks[1], ("for a libvirt connection", "PASS", self.d.uri))
        self.assertEqual(checks[2], ("for the libvirt hook", "PASS", vp.HOOK_PATH))
        self.assertEqual(checks[3][:2], ("the key directory /run/libvirt-vmi", "PASS"))
        # the last two: confinement (this daemon's /etc/apparmor.d is private
        # and empty unless a test fills it)
        self.assertEqual(checks[-2][0], "for AppArmor rules (key file, tool sockets)")
        self.assertEqual(checks[-1][0], "for SELinux")

    def test_emulators(self):
        rc, checks = self.host_validate("--emulator", vp.emulator(), "--emulator", self.readonly,
                                        "--emulator", self.lastkey, "--emulator", vl.QEMU,
                                        "--emulator", "/nonexistent/qemu")
        self.assertEqual(rc, 1)
        self.assertHostChecks(checks)

        def obj(e):
            return f"emulator {e} for the introspection object"

        def lists(e):
            return f"emulator {e} enforces allow-lists"
        listed = "listed by '-object help'"
        warn_end = "domains whose <vmi:allow> has more than one command or event will not start on it"
        self.assertEqual(checks[4:-2], [
            (obj(vp.emulator()), "PASS", listed),
            (lists(vp.emulator()), "PASS",
             "enforces allow-lists: every repeated command=/event= counts"),
            (obj(self.readonly), "PASS", listed),
            (lists(self.readonly), "WARN",
             "it cannot enforce allow-lists: its introspection object refuses command=/event= "
             "(\"Insufficient permission to perform this operation\"), as the published KVMI QEMU "
             f"branches do; {warn_end}"),
            (obj(self.lastkey), "PASS", listed),
            (lists(self.lastkey), "WARN",
             "it cannot enforce allow-lists: it keeps only the last of repeated command=/event= "
             f"keys, so a list would be cut to its last id; {warn_end}"),
            (obj(vl.QEMU), "FAIL", "'-object help' does not list it: not a KVMI QEMU"),
            (obj("/nonexistent/qemu"), "FAIL",
             "emulator '/nonexistent/qemu' does not exist or is not executable"),
        ])

    def test_probe_of_an_emulator_that_exits_at_once(self):
        """The probe's QMP input must not kill virt-vmi (SIGPIPE) when the
        emulator refuses its arguments before reading it: a race, hence
        the repetition."""
        for i in range(12):
            with self.subTest(run=i):
                r = self.vv("host-validate", "--emulator", self.readonly, "--emulator", self.lastkey)
                self.assertEqual(r.rc, 1, r)
                self.assertEqual(len(parse(r.stdout)), 10)

    def test_emulators_of_domains(self):
        """Without --emulator: those of the domains with introspection (each
        once); with a DOMAIN: its emulator only."""
        self.define("hv-kvmi", vp.emulator())
        self.define("hv-kvmi2", vp.emulator())
        self.define("hv-lastkey", self.lastkey)
        self.d.define_domain("hv-plain")   # no introspection: its emulator is not checked
        self.addCleanup(self.d.virsh, "undefine", "hv-plain", check=False)
        rc, checks = self.host_validate()
        self.assertEqual(rc, 1)
        self.assertHostChecks(checks)
        emulators = [c[0] for c in checks[4:-2]]
        self.assertEqual(sorted(emulators), sorted([
            f"emulator {vp.emulator()} for the introspection object",
            f"emulator {vp.emulator()} enforces allow-lists",
            f"emulator {self.lastkey} for the introspection object",
            f"emulator {self.lastkey} enforces allow-lists"]))

        rc, checks = self.host_validate("hv-lastkey")
        self.assertEqual([c[:2] for c in checks[4:-2]], [
            (f"emulator {self.lastkey} for the introspection object", "PASS"),
            (f"emulator {self.lastkey} enforces allow-lists", "WARN")])
        rc, checks = self.host_validate("hv-plain")
        self.assertEqual([c[:2] for c in checks[4:-2]], [
            (f"emulator {vl.QEMU} for the introspection object", "FAIL")])

        r = self.vv("host-validate", "a", "b")
        self.assertEqual(r.rc, 2)
        self.assertIn("host-validate takes at most one DOMAIN", r.stderr)

    def keep_hook(self):
        """Puts the hook and its settings back as they are now when the
        test ends: a link, or the test wrapper's script. Returns (hook,
        conf, link, conf_text)."""
        hook = self.d.host_path(vp.HOOK_PATH)
        conf = self.d.host_path(vp.SETTINGS_PATH)
        link = os.readlink(hook) if os.path.islink(hook) else None
        with open(hook, "rb") as f:
            hook_text = f.read()
        with open(conf) as f:
            conf_text = f.read()

        def restore():
            if os.path.lexists(hook):
                os.unlink(hook)
            if link:
                os.symlink(link, hook)
            else:
                with open(hook, "wb") as f:
                    f.write(hook_text)
                os.chmod(hook, 0o755)
            with open(conf, "w") as f:
                f.write(conf_text)
        self.addCleanup(restore)
        return hook, conf, link, conf_text

    def test_hook_and_key_directory(self):
        d = self.d
        hook, conf, link, conf_text = self.keep_hook()
        self.addCleanup(os.chmod, d.host_path(vp.KEY_DIR), 0o755)

        # What hook-install wrote: a link to the hook (unless the test
        # wrapper replaced it), which finds its key helper beside the file
        # the link resolves to, and the URI it reads secrets through
        self.assertEqual(conf_text.splitlines()[1:], ["[hook]", f"uri={d.uri}"])
        if not vw.WRAPPER:
            self.assertEqual(link, vp.HOOK)
        self.assertEqual(os.stat(hook).st_mode & 0o777, 0o755)
        self.assertIn(f"Installed {vp.HOOK_PATH} (a link to {vp.HOOK}); it reads key secrets "
                      f"through {d.uri} ({vp.SETTINGS_PATH})", d.hook_install_result.stdout)

        with open(conf, "w") as f:
            f.write("[hook]\nuri=qemu:///elsewhere\n")
        rc, checks = self.host_validate()
        self.assertEqual(checks[2], ("for the libvirt hook", "WARN",
                                     f"{vp.HOOK_PATH} is installed, but reads key secrets through "
                                     f"qemu:///elsewhere, not {d.uri} ({vp.SETTINGS_PATH})"))

        os.unlink(hook)
        rc, checks = self.host_validate()
        self.assertEqual(rc, 1)
        self.assertEqual(checks[2], ("for the libvirt hook", "FAIL",
                                     f"{vp.HOOK_PATH} is not installed: domains with a key or an "
                                     "allow-list are not prepared (virt-vmi hook-install)"))

        os.chmod(d.host_path(vp.KEY_DIR), 0o777)
        rc, checks = self.host_validate()
        self.assertEqual(checks[3], ("the key directory /run/libvirt-vmi", "FAIL",
                                     "owner uid 0, mode 0777: it must be uid 0's and not writable "
                                     "by group or others (chown root; chmod 0711)"))
        os.chmod(d.host_path(vp.KEY_DIR), 0o711)
        rc, checks = self.host_validate()
        self.assertEqual(checks[3], ("the key directory /run/libvirt-vmi", "PASS",
                                     "owner uid 0, mode 0711"))

    def test_apparmor_rules(self):
        """hook-install writes AppArmor rules where libvirt's profiles are
        (this daemon's private /etc/apparmor.d, given Debian's abstraction),
        host-validate finds them missing, in place, then stale when a domain
        names a new tool socket, until the hook's prepare adds its rule; no
        domain starts (apparmortest compiles the rules)."""
        d = self.d
        src = next((p for p in ("/etc/apparmor.d/abstractions/libvirt-qemu",
                                "/var/cache/libvirt-vmi-tests/libvirt-daemon-system/etc/"
                                "apparmor.d/abstractions/libvirt-qemu") if os.path.exists(p)), None)
        if not src:
            self.skipTest("no libvirt AppArmor abstraction: run scripts/setup-host.sh")
        self.keep_hook()   # hook-install below replaces a test wrapper's hook
        aa = d.host_path("/etc/apparmor.d")
        ours = os.path.join(aa, "abstractions", "libvirt-vmi")
        local = os.path.join(aa, "local", "abstractions", "libvirt-qemu")
        self.addCleanup(lambda: [shutil.rmtree(os.path.join(aa, x), ignore_errors=True)
                                 for x in ("abstractions", "local")])
        os.makedirs(os.path.join(aa, "abstractions"))
        shutil.copy(src, os.path.join(aa, "abstractions", "libvirt-qemu"))
        with open("/sys/module/apparmor/parameters/enabled") if os.path.exists(
                "/sys/module/apparmor/parameters/enabled") else open(os.devnull) as f:
            bad = "FAIL" if f.read().startswith("Y") else "WARN"
        what = "for AppArmor rules (key file, tool sockets)"
        # host-validate DOMAIN checks that domain's emulator alone: one
        # without introspection costs one '-object help' of plain QEMU
        d.define_domain("hv-aa-plain")
        self.addCleanup(d.virsh, "undefine", "hv-aa-plain", check=False)

        rc, checks = self.host_validate("hv-aa-plain")
        self.assertEqual(checks[-2][:2], (what, bad))
        self.assertIn("virt-vmi hook-install", checks[-2][2])

        self.define("hv-aa1", vp.emulator())
        r = self.vv("hook-install", check=True)
        self.assertIn("Installed AppArmor rules for confined QEMUs: /etc/apparmor.d/"
                      "abstractions/libvirt-vmi, included by /etc/apparmor.d/local/abstractions/"
                      "libvirt-qemu", r.stdout)
        with open(ours) as f:
            text = f.read()
        self.assertIn('  owner "/run/libvirt-vmi/[0-9a-f]*-*-*-*-*/key" r,\n', text)
        self.assertIn('  "/run/vmi/hv-aa1.sock" rw,\n', text)
        with open(local) as f:
            self.assertEqual(f.read().count("include if exists <abstractions/libvirt-vmi>"), 1)
        rc, checks = self.host_validate("hv-aa-plain")
        self.assertEqual(checks[-2][:2], (what, "PASS"))

        self.define("hv-aa2", vp.emulator())
        rc, checks = self.host_validate("hv-aa-plain")
        self.assertEqual(checks[-2][:2], (what, bad))
        self.assertIn("lacks rules the domains need now", checks[-2][2])
        # the hook's prepare, as libvirt runs it before virt-aa-helper makes
        # the domain's profile, adds the missing rule (the wrapper's checks
        # of the hook run in the suite's other tests)
        xml = d.virsh("dumpxml", "hv-aa2").stdout
        r = d.run_in_namespace([vp.HOOK, "hv-aa2", "prepare", "begin", "-"], input=xml)
        self.assertEqual((r.rc, r.stderr), (0, ""), r)
        with open(ours) as f:
            self.assertTrue(f.read().endswith('  "/run/vmi/hv-aa2.sock" rw,\n'))
        rc, checks = self.host_validate("hv-aa-plain")
        self.assertEqual(checks[-2][:2], (what, "PASS"))

        self.vv("hook-install", check=True)
        with open(ours) as f:
            text = f.read()
        self.assertEqual(text.count('  "/run/vmi/hv-aa2.sock" rw,\n'), 1)
        self.assertLess(text.index("hv-aa1.sock"), text.index("hv-aa2.sock"))
        with open(local) as f:
            self.assertEqual(f.read().count("include if exists <abstractions/libvirt-vmi>"), 1)
        rc, checks = self.host_validate("hv-aa-plain")
        self.assertEqual(checks[-2][:2], (what, "PASS"))

    def assertRefused(self, name, *needles):
        mark = self.d.log_size()
        r = self.d.virsh("start", name, check=False)
        self.assertNotEqual(r.rc, 0, f"{name} started")
        self.assertIn(f"libvirt-vmi: domain '{name}': ", r.stderr)
        for n in needles:
            self.assertIn(n, r.stderr)
        self.assertEqual(self.d.domstate(name), "shut off")
        self.assertFalse(vp.qemu_launched(self.d.log_text(mark), name), "QEMU ran")
        return r.stderr

    def test_allow_list_not_enforceable(self):
        todo = ("Use an emulator that applies every repeated command=/event= (virt-vmi "
                "host-validate --emulator PATH checks one), or drop the allow-list (virt-vmi set "
                "DOMAIN --allow-command all --allow-event all) to allow every command and event")
        self.define("al-readonly", self.readonly, **ALLOW)
        err = self.assertRefused(
            "al-readonly",
            f"the domain's <vmi:allow> cannot be enforced: emulator {self.readonly} cannot "
            "enforce allow-lists: its introspection object refuses command=/event=", todo)
        # QEMU's own words are quoted, never alone
        self.assertNotRegex(err, r"(qemu-kvmi|qemu-system-x86_64): .*Insufficient permission")

        self.define("al-lastkey", self.lastkey, **ALLOW)
        self.assertRefused(
            "al-lastkey",
            f"the domain's <vmi:allow> cannot be enforced: emulator {self.lastkey} cannot "
            "enforce allow-lists: it keeps only the last of repeated command=/event= keys, "
            "so a list would be cut to its last id", todo)

        # The compatibility mode from the environment an <emulator> script
        # sets: the probe runs the emulator as QEMU does
        envemu = self.script("qemu-kvmi-env-readonly",
                             f'QEMU_KVMI_COMPAT=fork-readonly exec {shlex.join(vw.wrap([vp.QEMU_KVMI]))} "$@"')
        self.define("al-env", envemu, **ALLOW)
        self.assertRefused("al-env", f"emulator {envemu} cannot enforce allow-lists: its "
                           "introspection object refuses command=/event=")
        # Only events listed: still a list of two (pause-vcpu and unhook)
        self.define("al-events", self.lastkey, events=["breakpoint"])
        self.assertRefused("al-events", "cut to its last id")

    def test_what_to_do_instead_works(self):
        """The refused domain, with the allow-list dropped as the message
        says, starts on the same emulator and its tool hooks; on an emulator
        that enforces lists the domain starts with its list, enforced."""
        sock = os.path.join(vp.tool_dir(self.d), "todo.sock")
        uuid = self.d.define_domain("todo", emulator=self.readonly, metadata=vp.element(
            sock, reconnect=1, **ALLOW))
        self.addCleanup(self.d.virsh, "undefine", "todo", check=False)
        self.addCleanup(self.d.virsh, "destroy", "todo", check=False)
        self.assertEqual(self.vv("sync", "todo").rc, 0)
        self.assertRefused("todo", "cannot be enforced")
        r = self.vv("set", "todo", "--allow-command", "all", "--allow-event", "all")
        self.assertEqual(r.rc, 0, r)
        tool = vp.tool(self, sock, "--try-command", "vcpu-pause",
                       "--try-command", "vm-write-physical",
                       "--try-event", "pause-vcpu", "--try-event", "breakpoint")
        r = self.d.virsh("start", "todo", check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        tool.wait_for("ready", timeout=20 * vp.SLOW, conn=1, uuid=uuid)
        self.assertEqual(self.checks(tool, 1), {
            ("command", "vcpu-pause"): "allowed", ("command", "vm-write-physical"): "allowed",
            ("event", "pause-vcpu"): "allowed", ("event", "breakpoint"): "allowed"})
        self.d.virsh("destroy", "todo")

        # The list back, on an emulator that enforces it
        r = self.vv("set", "todo", "--allow-command", "vcpu-pause", "--allow-event", "pause-vcpu")
        self.assertEqual(r.rc, 0, r)
        xml = vp.dumpxml(self.d, "todo").replace(self.readonly, vp.domain_emulator())
        self.d.virsh("define", self.d.write_xml(xml))
        r = self.d.virsh("start", "todo", check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        tool.wait_for("ready", timeout=20 * vp.SLOW, conn=2)
        self.assertEqual(self.checks(tool, 2), {
            ("command", "vcpu-pause"): "allowed", ("command", "vm-write-physical"): "disallowed",
            ("event", "pause-vcpu"): "allowed", ("event", "breakpoint"): "disallowed"})
        # vm-control-events and unhook are allowed with any list: the graceful
        # unhook still works; vm-get-info, not listed, is refused
        self.assertEqual([e["command"] for e in tool.events("refused", conn=2)], ["vm-get-info"])
        tool.wait_for("ready", timeout=1, conn=2, unhook_event=True)

    @staticmethod
    def checks(tool, conn):
        """{(kind, name): result} of the tool's VM_CHECK_* lines."""
        return {(c["kind"], c["name"]): c["result"]
                for c in tool.events("check", conn=conn, via="check")}

    def test_probe_refuses_what_is_not_qemu(self):
        """Output the probe does not recognise (nothing at all, as from
        /bin/true; garbage) is an error naming the emulator and what it
        printed, never "last key only": such an emulator fails prepare."""
        true = self.probe_faking("emu-true", "exec /bin/true")
        self.define("pr-true", true)
        err = self.assertRefused("pr-true", f"emulator {true} did not answer the introspection "
                                 "probe as a QEMU does: it exited with status 0, printing nothing "
                                 "on standard output and nothing on standard error")
        garbage = self.probe_faking("emu-garbage", "printf 'x%.0s' $(seq 2000); "
                                    "echo 'qemu: wat' >&2; exit 3")
        self.define("pr-garbage", garbage)
        err = self.assertRefused("pr-garbage", f"emulator {garbage} did not answer the "
                                 "introspection probe as a QEMU does: it exited with status 3, "
                                 "printing 'xxx", "(cut) on standard output and 'qemu: wat' on "
                                 "standard error")
        self.assertLess(len(err), 1200, err)

        # host-validate: /bin/true itself, and the fakes
        rc, checks = self.host_validate("--emulator", "/bin/true", "--emulator", true)
        self.assertEqual(rc, 1)
        self.assertEqual(checks[4], ("emulator /bin/true for the introspection object", "FAIL",
                                     "'-object help' does not list it: not a KVMI QEMU"))
        self.assertEqual(checks[6][:2], (f"emulator {true} enforces allow-lists", "FAIL"))
        self.assertIn(f"emulator {true} did not answer the introspection probe", checks[6][2])

    def test_probe_runs_as_qemu_user_without_qemu_env(self):
        """The hook's probe and host-validate's run the emulator as QEMU's
        user and group, with none of the domain's <qemu:env>."""
        rec = os.path.join(self.tmp.name, "probe-records")
        os.makedirs(rec, exist_ok=True)
        os.chmod(rec, 0o777)
        emu = self.probe_faking("emu-record", f'{{ id -u; id -g; env; }} > {rec}/probe-$$')
        self.define("pr-record", emu, qemu_env={"VMI_TEST_FROM_QEMU_ENV": "marker",
                                               "LD_PRELOAD": "/nonexistent/preload.so"})
        r = self.d.virsh("start", "pr-record", check=False, timeout=60 * vp.SLOW)
        self.addCleanup(self.d.virsh, "destroy", "pr-record", check=False)
        self.assertEqual(r.rc, 0, r)
        self.d.virsh("destroy", "pr-record")
        r = self.vv("host-validate", "--emulator", emu)
        records = [os.path.join(rec, f) for f in sorted(os.listdir(rec))]
        self.assertEqual(len(records), 2, records)   # the hook's, host-validate's
        pw = pwd.getpwnam(vl.QEMU_USER)
        gid = grp.getgrnam(vl.QEMU_GROUP).gr_gid
        for path in records:
            with open(path) as f:
                lines = f.read().splitlines()
            self.assertEqual(lines[:2], [str(pw.pw_uid), str(gid)], path)
            env = dict(ln.split("=", 1) for ln in lines[2:] if "=" in ln)
            self.assertNotIn("VMI_TEST_FROM_QEMU_ENV", env)
            self.assertNotIn("LD_PRELOAD", env)
            self.assertEqual(env.get("LC_ALL"), "C")

    def test_probe_follows_the_domains_dac_label(self):
        """A domain whose static DAC <seclabel> runs QEMU as another user:
        the probe runs its emulator as that user too, as libvirt will."""
        rec = os.path.join(self.tmp.name, "probe-records-static")
        os.makedirs(rec, exist_ok=True)
        os.chmod(rec, 0o777)
        emu = self.probe_faking("emu-record-static", f'{{ id -u; id -g; }} > {rec}/probe-$$')
        nobody = pwd.getpwnam("nobody")
        label = f"+{nobody.pw_uid}:+{nobody.pw_gid}"
        self.d.define_domain("pr-static", emulator=emu,
                             metadata=vp.element("/run/vmi/pr-static.sock"),
                             extra=f"<seclabel type='static' model='dac' relabel='yes'>"
                                   f"<label>{label}</label></seclabel>")
        self.addCleanup(self.d.virsh, "undefine", "pr-static", check=False)
        self.addCleanup(self.d.virsh, "destroy", "pr-static", check=False)
        self.assertEqual(self.vv("sync", "pr-static").rc, 0)
        r = self.d.virsh("start", "pr-static", check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        records = os.listdir(rec)
        self.assertEqual(len(records), 1, records)
        with open(os.path.join(rec, records[0])) as f:
            self.assertEqual(f.read().split(), [str(nobody.pw_uid), str(nobody.pw_gid)])

    def test_no_introspection_object(self):
        self.define("noobj", vl.QEMU)
        self.assertRefused("noobj", f"emulator {vl.QEMU} has no introspection object: it is not "
                           "a KVMI QEMU", "set the domain's <emulator>")


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
