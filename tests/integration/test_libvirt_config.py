#!/usr/bin/env python3
"""virt-vmi's configuration commands on a real libvirtd: set, get, remove,
edit, define and sync; the user's own <qemu:commandline> through all of
them; `virsh edit` behind virt-vmi's back and the hook's refusal until
`virt-vmi sync`; and every bad input, which must fail with a message that
names the option or element, the value and what is allowed, and leave the
definition byte-identical."""

import contextlib
import os
import shlex
import sys
import tempfile
import unittest
import uuid as uuidlib

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiproduct as vp  # noqa: E402

# The user's own arguments, some before and some after where ours go.
USER_ARGS = ["-msg", "timestamp=on", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
USER_ENV = {"VMI_TEST_USER_ENV": "kept as is", "SECOND": "2"}
USER_CMDLINE = [("arg", a) for a in USER_ARGS] + [("env", k, v) for k, v in USER_ENV.items()]


class ConfigTest(vp.DaemonTestCase):
    NAME = "config"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One key secret any test may point a domain at
        cls.secret = cls.d.define_secret(b"config test key\n", usage_type="tls",
                                         usage_name="vmi-config-test")

    # -- helpers -------------------------------------------------------------

    def define(self, name, **kwargs):
        kwargs.setdefault("qemu_args", USER_ARGS)
        kwargs.setdefault("qemu_env", USER_ENV)
        uuid = self.d.define_domain(name, **kwargs)
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        return uuid

    def xml(self, name):
        return vp.dumpxml(self.d, name)

    def assertOk(self, r):
        self.assertEqual(r.rc, 0, f"{r.args}: {r.stderr}")
        self.assertEqual(r.stderr, "", r.args)
        return r

    def assertFails(self, r, rc, *needles):
        """Exit @rc, nothing on stdout, every needle in the error."""
        self.assertEqual(r.rc, rc, f"{r.args}: expected exit {rc}: {r.stdout}{r.stderr}")
        self.assertEqual(r.stdout, "", r.args)
        self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        for n in needles:
            self.assertIn(n, r.stderr, r.args)

    @contextlib.contextmanager
    def unchanged(self, *names):
        before = {n: self.xml(n) for n in names}
        yield
        for n in names:
            self.assertEqual(self.xml(n), before[n], f"the definition of {n} changed")

    def assertUserCommandline(self, name):
        ours, user = vp.split_commandline(self.xml(name))
        self.assertEqual(user, USER_CMDLINE, f"the user's <qemu:commandline> of {name} changed")
        return ours

    def editor(self, *contents):
        """An $EDITOR that writes @contents[i] into the file at its i-th run
        (None: leaves the file alone) and fails when they run out."""
        d = tempfile.mkdtemp(dir=self.tmp.name)
        for i, c in enumerate(contents, 1):
            if c is not None:
                with open(os.path.join(d, f"{i}.xml"), "w") as f:
                    f.write(c)
            else:
                open(os.path.join(d, f"{i}.keep"), "w").close()
        script = os.path.join(d, "editor")
        with open(script, "w") as f:
            f.write(f"""#!/bin/sh
d={d}
n=$(( $(cat $d/n 2>/dev/null || echo 0) + 1 )); echo $n > $d/n
[ -e $d/$n.keep ] && exit 0
[ -e $d/$n.xml ] || {{ echo "editor: nothing for run $n" >&2; exit 1; }}
cat $d/$n.xml > "$1"
""")
        os.chmod(script, 0o755)
        return script

    # -- set, get, remove ----------------------------------------------------

    def test_set_get_remove(self):
        uuid = self.define("setget")
        r = self.assertOk(self.vv("set", "setget", "--socket", "/run/vmi/setget.sock",
                                  "--reconnect", "5", "--handshake-timeout", "7",
                                  "--unhook-timeout", "9", "--allow-command", "vcpu-pause",
                                  "--allow-command", "7", "--allow-event", "pause-vcpu",
                                  "--key-secret", self.secret.upper(), "--required", "yes"))
        chardev = "socket,id=charvmi0,path=/run/vmi/setget.sock,reconnect=5"
        secret = f"secret,id=vmi0-key,format=raw,file=/run/libvirt-vmi/{uuid}/key"
        obj = ("introspection,id=vmi0,chardev=charvmi0,key=vmi0-key,handshake_timeout=7,"
               "unhook_timeout=9,command=6,command=7,command=10,event=0,event=1")
        self.assertEqual(r.stdout.splitlines(), [
            f"Domain 'setget': added <qemu:arg> {chardev}",
            f"Domain 'setget': added <qemu:arg> {secret}",
            f"Domain 'setget': added <qemu:arg> {obj}",
            "Domain 'setget': added <vmi:introspection> to <metadata>"])
        ours = self.assertUserCommandline("setget")
        self.assertEqual(ours, ["-chardev", chardev, "-object", secret, "-object", obj])
        self.assertEqual(len(vp.vmi_element(self.xml("setget"))), 1)

        r = self.assertOk(self.vv("get", "setget"))
        # required='yes' is in the element only: the arguments above are the usual ones
        self.assertEqual(r.stdout, f"""<vmi:introspection xmlns:vmi="{vp.VMI_NS}" required="yes">
  <vmi:source type="unix" path="/run/vmi/setget.sock"/>
  <vmi:reconnect timeout="5"/>
  <vmi:key secret="{self.secret}"/>
  <vmi:timeouts handshake="7" unhook="9"/>
  <vmi:allow>
    <vmi:command name="vm-read-physical"/>
    <vmi:command name="vcpu-pause"/>
    <vmi:event name="pause-vcpu"/>
  </vmi:allow>
</vmi:introspection>
""")
        # The same again: nothing to define
        before = self.xml("setget")
        r = self.assertOk(self.vv("set", "setget", "--socket", "/run/vmi/setget.sock",
                                  "--reconnect", "5"))
        self.assertEqual(r.stdout, "Domain 'setget': unchanged\n")
        self.assertEqual(self.xml("setget"), before)

        # Options not given are kept; 'all', 'none' and 'default' drop settings
        r = self.assertOk(self.vv("set", "setget", "--vsock", "1234:4321", "--allow-command", "all",
                                  "--allow-event", "all", "--key-secret", "none",
                                  "--unhook-timeout", "default", "--required", "no"))
        self.assertIn("Domain 'setget': replaced <vmi:introspection> in <metadata>", r.stdout)
        self.assertIn(f"Domain 'setget': removed <qemu:arg> {secret}", r.stdout)
        ours = self.assertUserCommandline("setget")
        self.assertEqual(ours, ["-chardev", "socket,id=charvmi0,cid=1234,port=4321,reconnect=5",
                                "-object", "introspection,id=vmi0,chardev=charvmi0,"
                                "handshake_timeout=7"])
        self.assertNotIn("required", self.assertOk(self.vv("get", "setget")).stdout)

        r = self.assertOk(self.vv("remove", "setget"))
        self.assertIn("Domain 'setget': removed <vmi:introspection> from <metadata>", r.stdout)
        self.assertEqual(self.assertUserCommandline("setget"), [])
        self.assertEqual(vp.vmi_element(self.xml("setget")), [])
        self.assertIn(self.secret, self.d.virsh("secret-list").stdout)  # the key stays
        r = self.assertOk(self.vv("remove", "setget"))
        self.assertEqual(r.stdout, "Domain 'setget': unchanged\n")
        self.assertFails(self.vv("get", "setget"), 1, "domain 'setget' has no <vmi:introspection>")

    def test_running_then_transient_domain(self):
        """A change to a running domain applies at its next start; once
        undefined, the still running (transient) domain is refused by the
        commands that configure or start it, and can still be looked at,
        paused, resumed and stopped."""
        self.define("running", qemu_args=(), qemu_env=None)
        self.d.virsh("start", "running")
        self.addCleanup(self.d.virsh, "destroy", "running", check=False)
        r = self.assertOk(self.vv("status", "running"))
        self.assertEqual(r.stdout.splitlines()[1:], ["State:            running",
                                                     "Introspection:    not configured"])
        r = self.assertOk(self.vv("set", "running", "--socket", "/run/vmi/running.sock"))
        self.assertIn("Domain 'running' is running: the change applies at its next start",
                      r.stdout)
        self.assertEqual(len(vp.vmi_element(self.xml("running"))), 1)
        live = self.d.virsh("dumpxml", "running").stdout
        self.assertEqual(vp.vmi_element(live), [])
        self.assertNotIn("charvmi0", live)

        self.d.virsh("undefine", "running")
        self.assertEqual(self.d.virsh("dominfo", "running").stdout.count("Persistent:     no"), 1)
        key = os.path.join(self.tmp.name, "t.key")
        with open(key, "w") as f:
            f.write("k")
        before = self.d.virsh("dumpxml", "--security-info", "running").stdout
        secrets = self.d.virsh("secret-list").stdout
        for args in [["set", "--socket", "/x"], ["get"], ["remove"], ["edit"], ["sync"],
                     ["key-create"], ["key-import", "--file", key], ["key-hash"],
                     ["start"]]:
            with self.subTest(args=args):
                r = self.vv(args[0], "running", *args[1:])
                self.assertFails(r, 1, "domain 'running' is transient",
                                 "configured in a persistent definition")
        self.assertEqual(self.d.virsh("dumpxml", "--security-info", "running").stdout, before)
        self.assertEqual(self.d.domstate("running"), "running")
        self.assertEqual(self.d.virsh("secret-list").stdout, secrets)

        # what runs can be looked at and driven, from its live definition
        r = self.assertOk(self.vv("status", "running"))
        self.assertEqual(r.stdout.splitlines()[1:], ["State:            running",
                                                     "Introspection:    not configured"])
        self.assertOk(self.vv("suspend", "running"))
        self.assertEqual(self.d.domstate("running"), "paused")
        self.assertOk(self.vv("resume", "running"))
        self.assertEqual(self.d.domstate("running"), "running")
        r = self.assertOk(self.vv("destroy", "running"))
        self.assertEqual(r.stdout, "Domain 'running' destroyed\n")
        # a transient domain is gone once stopped
        r = self.d.virsh("domstate", "running", check=False)
        self.assertEqual(r.rc, 1)
        self.assertIn("failed to get domain 'running'", r.stderr)

    # -- every command keeps the user's <qemu:commandline> -------------------

    def test_user_commandline_survives_every_command(self):
        uuid = self.define("user")
        key = os.path.join(self.tmp.name, "user.key")
        with open(key, "wb") as f:
            f.write(vp.printable_key())
        element = vp.element("/run/vmi/user-edited.sock", unhook=20)

        def drop_key():
            secret = vp.vmi_element(self.xml("user"))[0].find("{%s}key" % vp.VMI_NS).get("secret")
            self.assertOk(self.vv("set", "user", "--key-secret", "none"))
            self.d.virsh("secret-undefine", secret)
        steps = [
            ("set", lambda: self.vv("set", "user", "--socket", "/run/vmi/user.sock")),
            ("set --allow-command", lambda: self.vv("set", "user", "--allow-command", "vcpu-pause")),
            ("key-import", lambda: self.vv("key-import", "user", "--file", key)),
            ("set --key-secret none", drop_key),
            ("key-create", lambda: self.vv("key-create", "user")),
            ("edit", lambda: self.vv("edit", "user", env={"EDITOR": self.editor(element)})),
            ("sync", lambda: self.vv("sync", "user")),
            ("sync --all", lambda: self.vv("sync", "--all")),
        ]
        for what, step in steps:
            with self.subTest(command=what):
                r = step()
                if r is not None:
                    self.assertOk(r)
                self.assertTrue(self.assertUserCommandline("user"), "no arguments of ours")

        # define of a whole domain XML carrying the element and the user's args
        path = self.d.write_xml(vl.domain_xml("user", uuid=uuid, qemu_args=USER_ARGS,
                                              qemu_env=USER_ENV,
                                              metadata=vp.element("/run/vmi/defined.sock")))
        self.assertOk(self.vv("define", path))
        ours = self.assertUserCommandline("user")
        self.assertEqual(ours[1], "socket,id=charvmi0,path=/run/vmi/defined.sock,reconnect=10")

        # virsh edit behind our back, then sync
        self.virsh_edit("user", "/run/vmi/defined.sock", "/run/vmi/virsh-edited.sock")
        self.assertOk(self.vv("sync", "user"))
        ours = self.assertUserCommandline("user")
        self.assertEqual(ours[1], "socket,id=charvmi0,path=/run/vmi/virsh-edited.sock,reconnect=10")

        self.assertOk(self.vv("remove", "user"))
        self.assertEqual(self.assertUserCommandline("user"), [])
        for secret in self.secrets_of("user", uuid):
            self.d.virsh("secret-undefine", secret, check=False)

    def secrets_of(self, name, uuid):
        out = self.d.virsh("secret-list").stdout
        return [ln.split()[0] for ln in out.splitlines() if f"libvirt-vmi/{uuid}" in ln]

    # -- edit ----------------------------------------------------------------

    def test_edit(self):
        uuid = self.define("edit")
        # A domain without the element gets a template; an unchanged file changes nothing
        with self.unchanged("edit"):
            r = self.assertOk(self.vv("edit", "edit", env={"EDITOR": self.editor(None)}))
            self.assertEqual(r.stdout, "Domain 'edit': element not changed\n")

        good = vp.element("/run/vmi/edit.sock", reconnect=3, commands=["vcpu-pause"])
        r = self.assertOk(self.vv("edit", "edit", env={"EDITOR": self.editor(good)}))
        self.assertIn("Domain 'edit': added <vmi:introspection> to <metadata>", r.stdout)
        self.assertIn("Domain 'edit': added <qemu:arg> socket,id=charvmi0,path=/run/vmi/edit.sock,"
                      "reconnect=3", r.stdout)
        self.assertIn("path=\"/run/vmi/edit.sock\"", self.vv("get", "edit").stdout)

        # A broken element, then 'n': nothing changes
        broken = good.replace("reconnect timeout='3'", "reconnect timeout='0'")
        with self.unchanged("edit"):
            r = self.vv("edit", "edit", input="n\n", env={"EDITOR": self.editor(broken)})
            self.assertEqual(r.rc, 1, r)
            self.assertIn("error: invalid value '0' for attribute 'timeout' of element "
                          "'reconnect': expected 1 to 3600 seconds", r.stderr)
            self.assertIn("Failed. Try again? [y,n]", r.stderr)
            self.assertIn("Domain 'edit': changes discarded", r.stderr)

        # Not XML; not the element; a second element of another kind: each refused
        for bad, needle in [("<vmi:introspection", "the edited element"),
                            (vl.domain_xml("other"), "not a whole domain"),
                            (good.replace("vmi:source", "source"), "element 'source'")]:
            with self.subTest(bad=needle), self.unchanged("edit"):
                r = self.vv("edit", "edit", input="n\n", env={"EDITOR": self.editor(bad)})
                self.assertEqual(r.rc, 1, r)
                self.assertIn(needle, r.stderr)
                self.assertIn("changes discarded", r.stderr)

        # A broken element, 'y', and the editor's second try fixes it
        fixed = good.replace("reconnect timeout='3'", "reconnect timeout='4'")
        r = self.vv("edit", "edit", input="y\n", env={"EDITOR": self.editor(broken, fixed)})
        self.assertEqual(r.rc, 0, r)
        self.assertIn("Failed. Try again? [y,n]", r.stderr)
        self.assertIn("Domain 'edit': replaced <vmi:introspection> in <metadata>", r.stdout)
        self.assertIn("reconnect=4", " ".join(self.assertUserCommandline("edit")))

        # A key secret that does not exist is refused like a schema error
        nosuch = str(uuidlib.uuid4())
        with self.unchanged("edit"):
            r = self.vv("edit", "edit", input="n\n",
                        env={"EDITOR": self.editor(vp.element("/run/vmi/edit.sock", key=nosuch))})
            self.assertEqual(r.rc, 1, r)
            self.assertIn(f"key secret '{nosuch}' does not exist", r.stderr)

        # The file the editor gets is the user's alone (it was 0644)
        script = os.path.join(self.tmp.name, "stat-editor")
        modes = os.path.join(self.tmp.name, "stat-editor.out")
        with open(script, "w") as f:
            f.write(f"#!/bin/sh\nstat -c %a \"$1\" > {shlex.quote(modes)}\n")
        os.chmod(script, 0o755)
        with self.unchanged("edit"):
            self.assertOk(self.vv("edit", "edit", env={"EDITOR": script}))
        with open(modes) as f:
            self.assertEqual(f.read(), "600\n")

        # An editor that fails discards the changes
        with self.unchanged("edit"):
            r = self.vv("edit", "edit", env={"EDITOR": "false"})
            self.assertEqual(r.rc, 1)
            self.assertIn("editor 'false' failed: changes discarded", r.stderr)
        self.assertTrue(uuid)

    # -- define --------------------------------------------------------------

    def test_define(self):
        path = self.d.write_xml(vl.domain_xml("defined", qemu_args=USER_ARGS, qemu_env=USER_ENV,
                                              metadata=vp.element("/run/vmi/defined.sock",
                                                                  key=self.secret)))
        self.addCleanup(self.d.virsh, "undefine", "defined", check=False)
        r = self.assertOk(self.vv("define", path))
        self.assertEqual(r.stdout.splitlines()[0], f"Domain 'defined' defined from {path}")
        uuid = self.d.virsh("domuuid", "defined").stdout.strip()
        ours = self.assertUserCommandline("defined")
        self.assertEqual(ours[3], f"secret,id=vmi0-key,format=raw,file=/run/libvirt-vmi/{uuid}/key")

        # Redefining with a broken element, or a missing secret, changes nothing
        nosuch = str(uuidlib.uuid4())
        for what, xml, needles in [
            ("bad unhook", vp.element("/run/vmi/defined.sock", unhook=0),
             ["invalid value '0' for attribute 'unhook' of element 'timeouts'",
              "expected 1 to 3600 seconds"]),
            ("unknown command", vp.element("/run/vmi/defined.sock", commands=["vcpu-pouse"]),
             ["invalid value 'vcpu-pouse' for attribute 'name' of element 'command'"]),
            ("missing secret", vp.element("/run/vmi/defined.sock", key=nosuch),
             [f"key secret '{nosuch}' does not exist"]),
            ("relative path", vp.element("run/vmi/defined.sock"),
             ["invalid value 'run/vmi/defined.sock' for attribute 'path' of element 'source'"]),
        ]:
            with self.subTest(what=what), self.unchanged("defined"):
                bad = self.d.write_xml(vl.domain_xml("defined", uuid=uuid, metadata=xml))
                self.assertFails(self.vv("define", bad), 1, *needles)

        # A new domain from a file with a broken element is not defined at all
        bad = self.d.write_xml(vl.domain_xml("never", metadata=vp.element("/x", reconnect=99999)))
        self.assertFails(self.vv("define", bad), 1, "attribute 'timeout' of element 'reconnect'")
        self.assertNotEqual(self.d.virsh("domstate", "never", check=False).rc, 0)

        # A bare element, a missing file, no file: errors
        bare = self.d.write_xml(vp.element("/x"))
        self.assertFails(self.vv("define", bare), 1, "not a bare <vmi:introspection> element")
        self.assertFails(self.vv("define", "/nonexistent/dom.xml"), 1, "/nonexistent/dom.xml")
        self.assertFails(self.vv("define"), 2, "define takes exactly one FILE")

        # A domain XML without <uuid> gets one first: the key file is named by it
        text = vl.domain_xml("nouuid", metadata=vp.element("/x", key=self.secret))
        text = "\n".join(ln for ln in text.splitlines() if "<uuid>" not in ln)
        self.addCleanup(self.d.virsh, "undefine", "nouuid", check=False)
        self.assertOk(self.vv("define", self.d.write_xml(text)))
        uuid = self.d.virsh("domuuid", "nouuid").stdout.strip()
        ours, _ = vp.split_commandline(self.xml("nouuid"))
        self.assertIn(f"file=/run/libvirt-vmi/{uuid}/key", ours[3])

    # -- virsh edit behind our back, sync ------------------------------------

    def virsh_edit(self, name, old, new):
        script = os.path.join(self.tmp.name, f"sed-{name}")
        with open(script, "w") as f:
            # only in the element: the arguments are left behind
            f.write(f"#!/bin/sh\nsed -i '/<vmi:source /s|{old}|{new}|' \"$1\"\n")
        os.chmod(script, 0o755)
        r = vl.run([vl.VIRSH, "-c", self.d.uri, "edit", name], env=vl.client_env({"EDITOR": script}))
        self.assertEqual(r.rc, 0, r)

    def test_virsh_edit_then_sync(self):
        self.define("behind", emulator=vp.domain_emulator(),
                    metadata=vp.element("/run/vmi/behind-a.sock", key=self.secret))
        self.assertOk(self.vv("sync", "behind"))  # the arguments of a hand-written definition
        self.virsh_edit("behind", "behind-a.sock", "behind-b.sock")
        self.assertIn("path=\"/run/vmi/behind-b.sock\"", self.vv("get", "behind").stdout)

        st = self.assertOk(self.vv("status", "behind")).stdout
        self.assertIn("out of step", st)
        self.assertIn("virt-vmi sync behind", st)

        # The hook refuses to start it, and says what to do
        mark = self.d.log_size()
        r = self.d.virsh("start", "behind", check=False)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("libvirt-vmi: domain 'behind': its <qemu:commandline> is out of step with "
                      "its <vmi:introspection>", r.stderr)
        self.assertIn("'virt-vmi sync behind' fixes it", r.stderr)
        self.assertEqual(self.d.domstate("behind"), "shut off")
        self.assertFalse(vp.qemu_launched(self.d.log_text(mark), "behind"), "QEMU ran")

        r = self.assertOk(self.vv("sync", "behind"))
        self.assertEqual(sorted(r.stdout.splitlines()), sorted([
            "Domain 'behind': removed <qemu:arg> socket,id=charvmi0,path=/run/vmi/behind-a.sock,"
            "reconnect=10",
            "Domain 'behind': added <qemu:arg> socket,id=charvmi0,path=/run/vmi/behind-b.sock,"
            "reconnect=10"]))
        after = self.xml("behind")
        r = self.assertOk(self.vv("sync", "behind"))
        self.assertEqual(r.stdout, "Domain 'behind': unchanged\n")
        self.assertEqual(self.xml("behind"), after)
        self.assertUserCommandline("behind")
        self.assertIn("in step with the element", self.vv("status", "behind").stdout)

        # Now it starts, with the arguments the element says
        r = self.d.virsh("start", "behind", check=False, timeout=60 * vp.SLOW)
        self.addCleanup(self.d.virsh, "destroy", "behind", check=False)
        self.assertEqual(r.rc, 0, r)
        # (the command line libvirt ran, as the domain log has it)
        self.assertIn("-chardev socket,id=charvmi0,path=/run/vmi/behind-b.sock,reconnect=10 \\\n",
                      self.d.domain_log("behind"))

    def virsh_metadata(self, name, xml):
        """The element set with virsh metadata (which adds the namespace)."""
        self.d.virsh("metadata", name, vp.VMI_NS, "--key", "vmi", "--config", "--set", xml)

    def test_virsh_metadata_then_sync_all(self):
        self.define("meta1")
        self.define("meta2", metadata=vp.element("/run/vmi/meta2.sock"))
        self.define("meta3")
        self.assertOk(self.vv("set", "meta3", "--socket", "/run/vmi/meta3.sock"))
        # The element added with virsh metadata: no arguments yet
        self.virsh_metadata("meta1", vp.element("/run/vmi/meta1.sock", prefix=""))
        # The element removed with virsh metadata: our arguments left behind
        self.d.virsh("metadata", "meta3", vp.VMI_NS, "--config", "--remove")
        r = self.assertOk(self.vv("sync", "--all"))
        out = r.stdout.splitlines()
        self.assertIn("Domain 'meta1': added <qemu:arg> socket,id=charvmi0,path=/run/vmi/meta1.sock,"
                      "reconnect=10", out)
        self.assertIn("Domain 'meta2': added <qemu:arg> introspection,id=vmi0,chardev=charvmi0", out)
        self.assertIn("Domain 'meta3': removed <qemu:arg> socket,id=charvmi0,"
                      "path=/run/vmi/meta3.sock,reconnect=10", out)
        for n in ("meta1", "meta2", "meta3"):
            self.assertUserCommandline(n)
        r = self.assertOk(self.vv("sync", "--all"))
        self.assertNotIn("added", r.stdout)
        self.assertNotIn("removed", r.stdout)
        self.assertIn("Domain 'meta1': unchanged", r.stdout)

        # One domain with an invalid element: the others are synced, exit 1
        self.virsh_metadata("meta2", vp.element("/run/vmi/meta2.sock", unhook=0, prefix=""))
        self.virsh_metadata("meta1", vp.element("/run/vmi/meta1-new.sock", prefix=""))
        with self.unchanged("meta2"):
            r = self.vv("sync", "--all")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: domain ", r.stderr)
        self.assertIn("invalid value '0' for attribute 'unhook' of element 'timeouts'", r.stderr)
        self.assertIn("Domain 'meta1': added <qemu:arg> socket,id=charvmi0,"
                      "path=/run/vmi/meta1-new.sock,reconnect=10", r.stdout)

    # -- bad input -----------------------------------------------------------

    def test_set_bad_values(self):
        self.define("badset", metadata=vp.element("/run/vmi/badset.sock"))
        self.assertOk(self.vv("sync", "badset"))
        nosuch = str(uuidlib.uuid4())
        valueless = self.d.define_secret(None, usage_type="tls", usage_name="vmi-valueless")
        private = self.d.define_secret(b"private key", private=True, usage_type="tls",
                                       usage_name="vmi-private")
        self.addCleanup(self.d.virsh, "secret-undefine", valueless, check=False)
        self.addCleanup(self.d.virsh, "secret-undefine", private, check=False)
        timeout = "expected 1 to 3600 seconds, or 'default'"
        cases = [
            (["--reconnect", "0"], ["invalid value '0' for option '--reconnect'", timeout]),
            (["--reconnect", "3601"], ["invalid value '3601' for option '--reconnect'", timeout]),
            (["--handshake-timeout", "-1"],
             ["invalid value '-1' for option '--handshake-timeout'", timeout]),
            (["--unhook-timeout", "abc"], ["invalid value 'abc' for option '--unhook-timeout'",
                                           timeout]),
            (["--unhook-timeout", "0x10"], ["invalid value '0x10' for option '--unhook-timeout'"]),
            (["--socket", "relative/x.sock"],
             ["invalid value 'relative/x.sock' for attribute 'path' of element 'source'",
              "expected an absolute path"]),
            (["--socket", "/" + "x" * 107], ["attribute 'path' of element 'source'", "107"]),
            # U+0085 (NEL): validate refused it, set wrote it
            (["--socket", "/run/vmi/a\x85b.sock"],
             ["invalid value '/run/vmi/a\\302\\205b.sock' for attribute 'path' of element 'source'",
              "expected a path without control characters"]),
            (["--socket", "/run/vmi/a\udcffb.sock"],
             ["invalid value '/run/vmi/a\\377b.sock' for attribute 'path' of element 'source'",
              "expected a path in UTF-8"]),
            (["--vsock", "0:1"], ["invalid value '0:1' for option '--vsock'",
                                  "CID 1 to 4294967294"]),
            (["--vsock", "4294967295:1"], ["invalid value '4294967295:1' for option '--vsock'"]),
            (["--vsock", "3:4294967295"], ["invalid value '3:4294967295' for option '--vsock'",
                                           "PORT 0 to 4294967294"]),
            (["--vsock", "3"], ["invalid value '3' for option '--vsock'", "CID:PORT"]),
            (["--socket", "/a.sock", "--vsock", "3:4"],
             ["options '--socket' and '--vsock' exclude each other"]),
            (["--allow-command", "vcpu-pouse"],
             ["option '--allow-command'", "'vcpu-pouse'", "vcpu-pause", "or id (2 to 23)"]),
            (["--allow-command", "24"], ["option '--allow-command'", "'24'", "2 to 23"]),
            (["--allow-command", "1"], ["option '--allow-command'", "'1'", "2 to 23"]),
            (["--allow-event", "11"], ["option '--allow-event'", "'11'", "0 to 10"]),
            (["--allow-event", "pausevcpu"], ["option '--allow-event'", "'pausevcpu'",
                                              "pause-vcpu"]),
            (["--allow-command", "vcpu-pause", "--allow-command", "10"],
             ["duplicate command 'vcpu-pause' (id 10)"]),
            (["--allow-command", "all", "--allow-command", "vcpu-pause"],
             ["option '--allow-command'", "'all' must be given alone"]),
            (["--key-secret", "not-a-uuid"],
             ["invalid value 'not-a-uuid' for option '--key-secret'",
              "the UUID of a libvirt secret, or 'none'"]),
            (["--key-secret", nosuch], [f"key secret '{nosuch}' does not exist"]),
            (["--required", "true"], ["invalid value 'true' for option '--required'",
                                      "expected yes or no"]),
            (["--key-secret", valueless], [f"key secret '{valueless}'", "value"]),
            (["--key-secret", private], [f"key secret '{private}'", "private"]),
        ]
        for args, needles in cases:
            with self.subTest(args=args), self.unchanged("badset"):
                self.assertFails(self.vv("set", "badset", *args), 1, *needles)

        usage = [
            ([], "nothing to set: give at least one option"),
            (["--reconnect"], "--reconnect"),
            (["--no-such-option", "1"], "--no-such-option"),
        ]
        for args, needle in usage:
            with self.subTest(args=args), self.unchanged("badset"):
                self.assertFails(self.vv("set", "badset", *args), 2, needle)

        # A domain without the element needs a source first
        self.define("nosource")
        with self.unchanged("nosource"):
            self.assertFails(self.vv("set", "nosource", "--reconnect", "5"), 1,
                             "domain 'nosource' has no <vmi:introspection> yet",
                             "--socket PATH or --vsock CID:PORT")

    def test_invalid_element_in_definition(self):
        """An element broken behind our back: commands say so and change
        nothing, except remove and edit, which are how to fix it."""
        self.define("broken")
        self.virsh_metadata("broken", vp.element("/run/vmi/broken.sock", handshake=0, prefix=""))
        msg = "invalid value '0' for attribute 'handshake' of element 'timeouts'"
        for args in (["get"], ["set", "--reconnect", "5"], ["key-create"], ["key-hash"],
                     ["sync"]):
            with self.subTest(args=args), self.unchanged("broken"):
                r = self.vv(args[0], "broken", *args[1:])
                self.assertEqual(r.rc, 1, r)
                self.assertIn(msg, r.stderr)
        r = self.d.virsh("start", "broken", check=False)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("libvirt-vmi: domain 'broken': its <vmi:introspection> is invalid: " + msg,
                      r.stderr)
        st = self.assertOk(self.vv("status", "broken")).stdout
        self.assertIn("invalid element: " + msg, st)
        self.assertOk(self.vv("remove", "broken"))
        self.assertEqual(vp.vmi_element(self.xml("broken")), [])

    def test_nonexistent_domain(self):
        for args in [["set", "nosuch", "--socket", "/x"], ["get", "nosuch"],
                     ["remove", "nosuch"], ["edit", "nosuch"], ["sync", "nosuch"],
                     ["key-create", "nosuch"], ["key-hash", "nosuch"],
                     ["start", "nosuch"], ["destroy", "nosuch"], ["suspend", "nosuch"],
                     ["resume", "nosuch"], ["status", "nosuch"],
                     ["host-validate", "nosuch"], ["get", str(uuidlib.uuid4())]]:
            with self.subTest(args=args):
                r = self.vv(*args)
                self.assertFails(r, 1, f"domain '{args[1]}' not found", self.d.uri)
        key = os.path.join(self.tmp.name, "any.key")
        with open(key, "w") as f:
            f.write("k")
        before = self.d.virsh("secret-list").stdout
        self.assertFails(self.vv("key-import", "nosuch", "--file", key), 1,
                         "domain 'nosuch' not found")
        self.assertEqual(self.d.virsh("secret-list").stdout, before)

    def test_usage_errors(self):
        for args, needle in [([], "no command given"),
                             (["frob"], "unknown command 'frob'"),
                             (["get"], "get takes exactly one DOMAIN"),
                             (["get", "a", "b"], "get takes exactly one DOMAIN"),
                             (["sync"], "sync takes one DOMAIN, or --all"),
                             (["sync", "a", "--all"], "sync takes one DOMAIN, or --all"),
                             (["key-import", "a"], "key-import needs --file FILE"),
                             (["remove", "--bogus", "a"], "--bogus"),
                             (["hook-install", "extra"],
                              "hook-install takes no arguments")]:
            with self.subTest(args=args):
                self.assertFails(self.vv(*args), 2, needle)


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
