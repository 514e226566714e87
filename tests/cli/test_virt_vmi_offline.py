#!/usr/bin/env python3
"""virt-vmi's offline commands (validate, domxml-to-native) as a user runs
them: exit codes, output, error text, and the schema through xmllint; and
the hook on hostile domain XML, which needs no libvirtd either."""

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SRC = os.environ["VMI_SOURCE_DIR"]
BUILD = os.environ["VMI_BUILD_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import vmiwrap as vw  # noqa: E402

DATA = os.path.join(SRC, "tests", "qemuxml2argvdata")
OUTDATA = os.path.join(SRC, "tests", "vmixml2xmloutdata")
SCHEMA = os.path.join(SRC, "src", "conf", "schemas", "introspection.rng")
VIRT_VMI = os.path.join(BUILD, "src", "virt-vmi")
HOOK = os.path.join(BUILD, "src", "libvirt-vmi-hook")
BARE_UUID = "00000000-0000-4000-8000-000000000001"
EXAMPLE = os.path.join(SRC, "examples", "guest-introspected.xml")


def virt_vmi(*args, stdin=None, kind=None):
    """virt-vmi ARGS, under the test wrapper (valgrind: 1 to 2 s a run):
    every time, or once per @kind in this file if given (what else than
    the command and its options makes this run take its own path: valid
    or not, the class of its error)."""
    cmd = [VIRT_VMI, *args]
    if kind is None:
        cmd = vw.wrap(cmd)
    else:
        cmd = vw.wrap_once(("virt-vmi", args[0] if args else "", *vw.option_names(args), kind),
                           cmd)
    return vw.run(cmd, input=stdin, timeout=60 * vw.SLOW)


def cases(kind):
    """Names of the data cases: 'args' (valid) or 'err'."""
    return sorted(os.path.basename(p)[:-len(kind) - 1]
                  for p in glob.glob(os.path.join(DATA, "*." + kind)))


def error_class(name, message):
    """The class of error of data case @name, whose .err holds @message,
    for virt-vmi: "file" when reading the file fails (the message names
    it: malformed XML, not a domain), "element" when the element does not
    validate. The unit tests run every case's parsing and checks under
    valgrind in-process; what virt-vmi adds takes one of these two paths."""
    return "file" if message.startswith(name + ".xml") else "element"


class ValidateTest(unittest.TestCase):
    def test_valid_cases(self):
        for name in cases("args"):
            with self.subTest(name=name):
                path = os.path.join(DATA, name + ".xml")
                r = virt_vmi("validate", path, kind=("valid", name.startswith("bare-")))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, f"{path} validates\n")
                self.assertEqual(r.stderr, "")

    def test_error_cases(self):
        for name in cases("err"):
            with self.subTest(name=name):
                path = os.path.join(DATA, name + ".xml")
                with open(os.path.join(DATA, name + ".err")) as f:
                    expected = f.read().strip()
                kind = error_class(name, expected)
                # Messages name the input as the user gave it
                expected = expected.replace(name + ".xml", path)
                r = virt_vmi("validate", path, kind=kind)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr.startswith("error: " + expected + "\n"),
                                f"{r.stderr!r} does not start with {expected!r}")

    def test_schema_errors_are_listed_too(self):
        r = virt_vmi("validate", os.path.join(DATA, "err-timeout-too-big.xml"), kind="element")
        self.assertEqual(r.returncode, 1)
        self.assertIn("schema:", r.stderr)

    def test_stdin(self):
        with open(os.path.join(DATA, "unix-full.xml")) as f:
            r = virt_vmi("validate", "-", stdin=f.read())
        self.assertEqual(r.returncode, 0, r.stderr)
        r = virt_vmi("validate", "-", stdin="<domain>")
        self.assertEqual(r.returncode, 1)
        self.assertIn("-:1: malformed XML", r.stderr)

    def test_missing_file(self):
        r = virt_vmi("validate", "/nonexistent/x.xml")
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: /nonexistent/x.xml: ", r.stderr)
        self.assertIn("No such file or directory", r.stderr)

    def test_fifo_refused(self):
        # opening a FIFO waited for a writer forever
        with tempfile.TemporaryDirectory() as tmp:
            fifo = os.path.join(tmp, "d.xml")
            os.mkfifo(fifo)
            r = virt_vmi("validate", fifo)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"error: {fifo}: not a regular file: give a file, or '-' for "
                          "standard input", r.stderr)
            # the key is read before any connection: no daemon needed
            r = virt_vmi("key-import", "dom", "--file", fifo)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stderr, f"error: option '--file': cannot read key file '{fifo}': "
                             "not a regular file: give a file, or '-' for standard input\n")

    def test_example_validates(self):
        r = virt_vmi("validate", EXAMPLE, kind=("valid", False))
        self.assertEqual(r.returncode, 0, r.stderr)


class DomxmlToNativeTest(unittest.TestCase):
    KEYDIRS = {"key-dir-comma": "/run/vmi,keys", "key-dir-custom": "/var/lib/vmi/keys"}

    def test_valid_cases(self):
        for name in cases("args"):
            with self.subTest(name=name):
                args = ["domxml-to-native"]
                if name in self.KEYDIRS:
                    args += ["--key-dir", self.KEYDIRS[name]]
                if name.startswith("bare-"):
                    args += ["--uuid", BARE_UUID]
                r = virt_vmi(*args, os.path.join(DATA, name + ".xml"), kind="valid")
                self.assertEqual(r.returncode, 0, r.stderr)
                with open(os.path.join(DATA, name + ".args")) as f:
                    self.assertEqual(r.stdout, f.read())

    def test_error_cases_fail(self):
        for name in cases("err"):
            with self.subTest(name=name):
                with open(os.path.join(DATA, name + ".err")) as f:
                    kind = error_class(name, f.read())
                r = virt_vmi("domxml-to-native", "--uuid", BARE_UUID,
                             os.path.join(DATA, name + ".xml"), kind=kind)
                self.assertEqual(r.returncode, 1)
                self.assertEqual(r.stdout, "")

    def test_bare_element_needs_uuid(self):
        r = virt_vmi("domxml-to-native", os.path.join(DATA, "bare-minimal.xml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("needs option '--uuid'", r.stderr)

    def test_domain_without_uuid(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d.xml")
            with open(os.path.join(DATA, "unix-minimal.xml")) as f:
                xml = f.read()
            with open(path, "w") as f:
                f.write("\n".join(l for l in xml.splitlines() if "<uuid>" not in l))
            r = virt_vmi("domxml-to-native", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("the domain XML has no <uuid>", r.stderr)
            r = virt_vmi("domxml-to-native", "--uuid", BARE_UUID, path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("-chardev socket,id=charvmi0", r.stdout)

    def test_uuid_contradiction(self):
        r = virt_vmi("domxml-to-native", "--uuid", BARE_UUID,
                     os.path.join(DATA, "unix-key.xml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("contradicts the domain's <uuid>", r.stderr)

    def test_upper_case_uuid(self):
        # libvirt stores the <uuid> in lower case and hands the hook that:
        # the key file path must be the same whatever case the user wrote
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d.xml")
            with open(os.path.join(DATA, "unix-key.xml")) as f:
                xml = f.read()
            with open(path, "w") as f:
                f.write(xml.replace("c7a5fd04-0000-4000-8000-000000000004",
                                    "C7A5FD04-0000-4000-8000-000000000004"))
            r = virt_vmi("domxml-to-native", "--uuid", "C7A5FD04-0000-4000-8000-000000000004",
                         path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("/c7a5fd04-0000-4000-8000-000000000004/key", r.stdout)
            self.assertNotIn("C7A5FD04", r.stdout)

    def test_bad_uuid_option(self):
        r = virt_vmi("domxml-to-native", "--uuid", "xyz", os.path.join(DATA, "bare-minimal.xml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid value 'xyz' for option '--uuid'", r.stderr)

    def test_relative_key_dir(self):
        r = virt_vmi("domxml-to-native", "--key-dir", "keys", os.path.join(DATA, "unix-key.xml"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid value 'keys' for option '--key-dir'", r.stderr)


class HookTest(unittest.TestCase):
    """The hook as libvirt runs it, in a mount namespace with its own /run:
    a regression cannot touch the host's."""

    ELEMENT = ("<metadata><vmi:introspection xmlns:vmi='http://libvirt-vmi.org/schemas/"
               "introspection/1.0'><vmi:source type='unix' path='/run/vmi/h.sock'/>{key}"
               "</vmi:introspection></metadata>")
    KEY = "<vmi:key secret='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>"

    def hook(self, op, xml, after=""):
        """Runs the hook's @op ("start begin") on @xml; then the shell
        commands @after, whose output follows the hook's on stdout."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d.xml")
            with open(path, "w") as f:
                f.write(xml)
            cmd = shlex.join(vw.wrap([HOOK, "h", *op.split(), "-"]))
            script = (f"mount -t tmpfs none /run && mkdir -m 0711 /run/libvirt-vmi && "
                      f"mkdir /run/victim && "
                      f"echo x > /run/victim/key && {{ {cmd} < {shlex.quote(path)}; "
                      f"echo rc=$?; }} && {after}")
            return vw.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          timeout=60 * vw.SLOW)

    def domain(self, uuid="4dea22b3-1d52-d8f3-2516-782e98ab3fa0", element="", extra=""):
        return (f"<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
                f"<name>h</name><uuid>{uuid}</uuid>{element}"
                f"<seclabel type='dynamic' model='dac'><label>+4242:+4242</label></seclabel>"
                f"{extra}</domain>")

    def test_uuid_names_no_path(self):
        # with '../victim' the hook chowned /run/victim and its key
        xml = self.domain("../victim", self.ELEMENT.format(key=self.KEY))
        r = self.hook("start begin", xml, after="stat -c '%u %n' /run/victim /run/victim/key")
        self.assertIn("rc=1", r.stdout, r.stderr)
        self.assertIn("libvirt-vmi: domain 'h': invalid domain UUID '../victim'", r.stderr)
        self.assertIn("0 /run/victim\n0 /run/victim/key\n", r.stdout)

    def test_arg_without_value(self):
        # GLib printed criticals and the hook exited 0
        xml = self.domain(element=self.ELEMENT.format(key=""),
                          extra="<qemu:commandline><qemu:arg value='-object'/><qemu:arg/>"
                                "</qemu:commandline>")
        r = self.hook("prepare begin", xml, after="true")
        self.assertIn("rc=1", r.stdout, r.stderr)
        self.assertIn("has a <qemu:arg> without attribute 'value'", r.stderr)
        self.assertNotIn("CRITICAL", r.stderr)

    def test_domain_without_element_left_alone(self):
        # even with an introspection object written by hand
        xml = self.domain(extra="<qemu:commandline><qemu:arg value='-object'/>"
                                "<qemu:arg value='introspection,id=mine,chardev=c'/>"
                                "</qemu:commandline>")
        for op in ("prepare begin", "start begin"):
            with self.subTest(op=op):
                r = self.hook(op, xml, after="true")
                self.assertIn("rc=0", r.stdout, r.stderr)
                self.assertEqual(r.stderr, "")

    def test_doctype_refused(self):
        # a domain without the element, which is otherwise left alone
        xml = "<!DOCTYPE domain [<!ENTITY a 'aaaa'>]>" + self.domain()
        r = self.hook("prepare begin", xml, after="true")
        self.assertIn("rc=1", r.stdout, r.stderr)
        self.assertIn("a <!DOCTYPE> is not allowed", r.stderr)


class UsageTest(unittest.TestCase):
    def test_help(self):
        for args in (["--help"], ["help"]):
            r = virt_vmi(*args)
            self.assertEqual(r.returncode, 0)
            self.assertIn("validate", r.stdout)
            self.assertIn("domxml-to-native", r.stdout)
        # A command's help is one path whatever the command
        for cmd in ("validate", "domxml-to-native"):
            r = virt_vmi(cmd, "--help", kind="COMMAND --help")
            self.assertEqual(r.returncode, 0)
            self.assertIn(cmd, r.stdout)
            r2 = virt_vmi("help", cmd, kind="help COMMAND")
            self.assertEqual(r2.stdout, r.stdout)

    def test_version(self):
        r = virt_vmi("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^virt-vmi \d+\.\d+\.\d+\n$")

    def test_usage_errors(self):
        for args, text in ((["frobnicate"], "unknown command 'frobnicate'"),
                           ([], "no command given"),
                           (["validate"], "validate takes exactly one FILE"),
                           (["validate", "a", "b"], "validate takes exactly one FILE"),
                           (["validate", "--bogus", "a"], "Unknown option --bogus"),
                           (["--bogus"], "Unknown option --bogus"),
                           (["help", "nope"], "unknown command 'nope'"),
                           (["migrate", "dom"], "migrate takes a DOMAIN and a DEST-URI"),
                           (["migrate", "dom", "qemu:///x", "--timeout", "-1"],
                            "option '--timeout': invalid value '-1'"),
                           (["migrate", "dom", "qemu:///x", "--timeout", "x"],
                            "for --timeout")):
            with self.subTest(args=args):
                r = virt_vmi(*args, kind=text)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(text, r.stderr)


class XmllintTest(unittest.TestCase):
    """The shipped schema works with plain xmllint, on canonical output,
    and with virt-xml-validate once in libvirt's schema directory."""

    def test_virt_xml_validate(self):
        libvirt_schemas = "/usr/share/libvirt/schemas"
        with tempfile.TemporaryDirectory() as tmp:
            schemas = os.path.join(tmp, "schemas")
            shutil.copytree(libvirt_schemas, schemas)
            shutil.copy(SCHEMA, schemas)
            good = os.path.join(OUTDATA, "unix-full.xml")
            bad = os.path.join(tmp, "bad.xml")
            with open(good) as f:
                text = f.read()
            with open(bad, "w") as f:
                f.write(text.replace('unhook="60"', 'unhook="0"'))
            # installed into the host's libvirt as it would be, in a mount
            # namespace of this test's own
            script = (f"mount --bind {shlex.quote(schemas)} {libvirt_schemas} && "
                      f"virt-xml-validate {shlex.quote(good)} introspection && "
                      f"! virt-xml-validate {shlex.quote(bad)} introspection")
            r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(f"{good} validates", r.stderr)
            self.assertIn("fails to validate", r.stderr)

    def test_canonical_outputs(self):
        files = sorted(glob.glob(os.path.join(OUTDATA, "*.xml")))
        self.assertGreaterEqual(len(files), 25)
        r = subprocess.run(["xmllint", "--noout", "--relaxng", SCHEMA, *files],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_rejects(self):
        ns = "http://libvirt-vmi.org/schemas/introspection/1.0"
        bad = ["<source type='unix' path='/x'/>",
               "<vmi:source type='unix' path='relative'/>",
               "<vmi:source type='vsock' cid='0' port='1'/>",
               "<vmi:source type='unix' path='/x'/><vmi:timeouts unhook='0'/>",
               "<vmi:source type='unix' path='/x'/><vmi:allow/>",
               "<vmi:source type='unix' path='/x'/><vmi:allow><vmi:command name='nope'/></vmi:allow>",
               "<vmi:source type='unix' path='/x'/><vmi:allow><vmi:event id='11'/></vmi:allow>",
               "<vmi:source type='unix' path='/x'/><vmi:key secret='abc'/>"]
        with tempfile.TemporaryDirectory() as tmp:
            for i, body in enumerate(bad):
                with self.subTest(body=body):
                    path = os.path.join(tmp, f"{i}.xml")
                    with open(path, "w") as f:
                        f.write(f"<vmi:introspection xmlns:vmi='{ns}'>{body}</vmi:introspection>")
                    r = subprocess.run(["xmllint", "--noout", "--relaxng", SCHEMA, path],
                                       capture_output=True, text=True)
                    self.assertNotEqual(r.returncode, 0, r.stderr)
                    self.assertIn("fails to validate", r.stderr)


class KeyHoldersTest(unittest.TestCase):
    """The programs that hold a key make themselves non-dumpable (no core
    dump, no ptrace or /proc/PID/mem by the same user): /proc/PID then
    belongs to root, whoever the process runs as. Each is caught waiting
    (for its input, or for a daemon that never answers) as user nobody.
    Not under the test wrapper: the process itself is looked at."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root, to run the programs as another user")
        tmp = tempfile.mkdtemp(prefix="vmi-dumpable-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        os.chmod(tmp, 0o755)
        # a libvirt socket that never answers: the client waits in its open
        self.sock_path = os.path.join(tmp, "sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(self.sock.close)
        self.sock.bind(self.sock_path)
        os.chmod(self.sock_path, 0o777)
        self.sock.listen(8)
        self.uri = f"qemu+unix:///system?socket={self.sock_path}"

    def assertNotDumpable(self, argv, stdout=subprocess.DEVNULL):
        nobody = pwd.getpwnam("nobody")
        proc = subprocess.Popen(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                                 "--clear-groups", *argv], stdin=subprocess.PIPE, stdout=stdout,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(proc.stdin.close)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        exe = os.path.realpath(argv[0])
        for _ in range(100):
            try:
                if os.path.realpath(f"/proc/{proc.pid}/exe") == exe:
                    break
            except OSError:
                pass
            self.assertIsNone(proc.poll(), f"{argv} exited")
            time.sleep(0.05)
        # past the program's start: the prctl comes before anything that waits
        time.sleep(0.3)
        self.assertIsNone(proc.poll(), f"{argv} exited")
        owner = os.stat(f"/proc/{proc.pid}/environ").st_uid
        self.assertEqual(owner, 0, f"{argv} is dumpable")

    def test_virt_vmi_key_commands(self):
        # waiting for the key on its standard input, a pipe no one writes
        self.assertNotDumpable([VIRT_VMI, "key-import", "dom", "--file", "-"])
        for cmd in ("key-create", "key-hash"):
            with self.subTest(cmd=cmd):
                self.assertNotDumpable([VIRT_VMI, "-c", self.uri, cmd, "dom"])

    def test_hook_and_key_helper(self):
        self.assertNotDumpable([os.path.join(BUILD, "src", "libvirt-vmi-hook"),
                                "dom", "prepare", "begin", "-"])
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        try:
            self.assertNotDumpable([os.path.join(BUILD, "src", "libvirt-vmi-hook-key"), self.uri,
                                    BARE_UUID], stdout=w)
        finally:
            os.close(w)

    def test_other_commands_stay_dumpable(self):
        """The check itself: a command that holds no key is dumpable."""
        with self.assertRaisesRegex(AssertionError, "is dumpable"):
            self.assertNotDumpable([VIRT_VMI, "-c", self.uri, "get", "dom"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
