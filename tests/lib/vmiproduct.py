"""The product under test for the libvirt integration tests: virt-vmi and
the hook in a private libvirtd (vmilibvirt.LibvirtDaemon), the KVMI
emulator qemu-kvmi as <emulator> (plain or in a compatibility mode) and
the reference tool vmi-tool, plus the checks most tests share (the
definition unchanged, the key nowhere).

    d = vp.product_daemon("cfg")             # started, hook installed
    d.define_domain("g", metadata=vp.element("/run/x.sock"))
    r = vp.virt_vmi(d, "get", "g")

Every program of the project runs under the test wrapper once per kind
of run (vmiwrap.wrap_once: valgrind under `meson test --setup valgrind`);
virt-vmi runs in the daemon's mount namespace, where /run/libvirt-vmi and
/etc/libvirt are the daemon's.
"""

import base64
import hashlib
import json
import os
import pty
import re
import select
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

import vmilibvirt as vl
import vmitool
import vmiwrap as vw
# The tests use vp.SLOW
from vmiwrap import SLOW  # noqa: F401

SOURCE_DIR = os.path.abspath(os.environ.get("VMI_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
BUILD_DIR = os.path.abspath(os.environ.get("VMI_BUILD_DIR", os.path.join(SOURCE_DIR, "build")))
VIRT_VMI = os.path.join(BUILD_DIR, "src", "virt-vmi")
HOOK = os.path.join(BUILD_DIR, "src", "libvirt-vmi-hook")
VIRT_VMID = os.path.join(BUILD_DIR, "src", "virt-vmid")
QEMU_KVMI = os.path.join(BUILD_DIR, "tools", "kvmi-emulator", "qemu-kvmi")

VMI_NS = "http://libvirt-vmi.org/schemas/introspection/1.0"
HOOK_PATH = "/etc/libvirt/hooks/qemu.d/50-libvirt-vmi"
SETTINGS_PATH = "/etc/libvirt-vmi/libvirt-vmi.conf"
KEY_DIR = "/run/libvirt-vmi"
VMID_SOCKET = KEY_DIR + "/virt-vmid.sock"
VMID_PID_FILE = KEY_DIR + "/virt-vmid.pid"


def element(path=None, vsock=None, reconnect=None, key=None, handshake=None, unhook=None,
            commands=(), events=(), prefix="vmi", required=None):
    """A <vmi:introspection> element (raw XML for domain_xml(metadata=))."""
    p = prefix + ":" if prefix else ""
    req = f" required='{required}'" if required is not None else ""
    out = [f"<{p}introspection xmlns{':' + prefix if prefix else ''}={quoteattr(VMI_NS)}{req}>"]
    if path is not None:
        out.append(f"  <{p}source type='unix' path={quoteattr(path)}/>")
    if vsock is not None:
        out.append(f"  <{p}source type='vsock' cid='{vsock[0]}' port='{vsock[1]}'/>")
    if reconnect is not None:
        out.append(f"  <{p}reconnect timeout='{reconnect}'/>")
    if key is not None:
        out.append(f"  <{p}key secret='{key}'/>")
    if handshake is not None or unhook is not None:
        attrs = "".join(f" {k}='{v}'" for k, v in (("handshake", handshake), ("unhook", unhook))
                        if v is not None)
        out.append(f"  <{p}timeouts{attrs}/>")
    if commands or events:
        out.append(f"  <{p}allow>")
        for kind, items in (("command", commands), ("event", events)):
            for c in items:
                attr = "id" if isinstance(c, int) else "name"
                out.append(f"    <{p}{kind} {attr}='{c}'/>")
        out.append(f"  </{p}allow>")
    out.append(f"</{p}introspection>")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Running the product

def _run_kind(args):
    """A virt-vmi run's kind (vmiwrap.wrap_once): its command and the
    options it gives."""
    return ("virt-vmi", args[0] if args else "", *vw.option_names(args))


def _checked(r):
    """@r (a vmilibvirt.Result) once checked for reports of valgrind or a
    sanitizer (they fail the test at once), its stderr without valgrind's
    own lines."""
    r.stderr = vw.check_run(r.args, r.rc, r.stderr)
    return r


def virt_vmi(d, *args, uri=None, input=None, env=None, timeout=None, check=False):
    """virt-vmi -c URI ARGS in @d's namespace (@d a LibvirtDaemon; URI
    defaults to @d's), under the test wrapper once per kind of run."""
    cmd = vw.wrap_once(_run_kind(args), [VIRT_VMI, "-c", uri or d.uri, *args])
    r = _checked(d.run_in_namespace(cmd, input=input, env=env, timeout=timeout or 60 * SLOW))
    return r.check() if check else r


def virt_vmi_embedded(root, *args, input=None, env=None, timeout=None, check=False):
    """virt-vmi -c qemu:///embed?root=... ARGS (@root an EmbeddedRoot),
    pinned like every process that opens an embedded root.

    `start` and `restore` run natively even under valgrind: the embedded
    driver then runs in virt-vmi, and libvirt starts QEMU through a child
    it forks, which exits without exec; valgrind checks that child too and
    makes it exit 99 for the heap it inherited, and libvirt fails the
    start. The checks and the key file of an embedded start are the hook's
    code, which runs under valgrind in daemon mode (as does `restore`'s
    own code, in test_libvirt_save.py)."""
    root._seed()
    if args and args[0] in ("start", "restore"):
        cmd = [VIRT_VMI, "-c", root.uri, *args]
    else:
        cmd = vw.wrap_once(_run_kind(args), [VIRT_VMI, "-c", root.uri, *args])
    r = _checked(vl.run(vl.pinned(cmd), input=input, env=root.env(env),
                        timeout=timeout or 120 * SLOW))
    return r.check() if check else r


def virt_vmi_on_terminal(d, *args, uri=None, timeout=None):
    """virt-vmi -c URI ARGS in @d's namespace with its standard output on a
    pseudo-terminal, where it draws what it draws only there (progress
    lines), natively (not under the test wrapper). Reads the terminal to
    its end: returns a vmilibvirt.Result whose stdout is the bytes the
    terminal gave (\r\n line ends, escape sequences). After @timeout
    seconds in all, kills the run and raises subprocess.TimeoutExpired."""
    timeout = timeout or 60 * SLOW
    cmd = [VIRT_VMI, "-c", uri or d.uri, *args]
    start = time.monotonic()
    master, slave = pty.openpty()
    try:
        p = d.popen_in_namespace(cmd, stdin=subprocess.DEVNULL, stdout=slave,
                                 stderr=subprocess.PIPE)
    finally:
        os.close(slave)
    with p:
        try:
            out = _read_terminal(master, start + timeout)
            err = p.communicate(timeout=max(0.1, start + timeout - time.monotonic()))[1]
        except subprocess.TimeoutExpired:
            p.kill()
            raise subprocess.TimeoutExpired(cmd, timeout)
        finally:
            os.close(master)
    return vl.Result(cmd, p.returncode, out, err.decode(errors="replace"),
                     time.monotonic() - start)


def _read_terminal(master, deadline):
    """All that the pseudo-terminal @master gives until its last writer
    has gone (EIO, or an end of file); subprocess.TimeoutExpired at the
    monotonic @deadline."""
    out = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([master], [], [], left)[0]:
            raise subprocess.TimeoutExpired("reading a pseudo-terminal", deadline)
        try:
            chunk = os.read(master, 4096)
        except OSError:     # EIO: every process that had it open has exited
            return out
        if not chunk:
            return out
        out += chunk


HOOK_WRAPPED_CALLS = 1
HOOK_KEY_WRAPPED_CALLS = 2
HOOK_KEY = os.path.join(BUILD_DIR, "src", "libvirt-vmi-hook-key")


def _counted_exec(counter, kind, wrapped, plain, limit):
    """Shell lines that exec @wrapped for the first @limit runs of @kind
    (counted by files in the directory @counter), @plain after that."""
    return f"""mkdir -p {counter}
n=$(ls {counter} | grep -c "^{kind}-")
if [ "$n" -lt {limit} ]; then
    : > "{counter}/{kind}-$$"
    exec {wrapped} "$@"
fi
exec {plain} "$@"
"""


def install_hook(d):
    """`virt-vmi hook-install` in @d's namespace, as an operator runs it.
    Reloads libvirtd so that it runs qemu.d hooks. Returns hook-install's
    Result.

    Under a test wrapper the installed link is then replaced by a script
    running a copy of the hook in a directory of the daemon's, beside a
    script in the place of its key helper (the hook finds the helper
    beside itself): each under the wrapper for the first
    HOOK_WRAPPED_CALLS calls of each operation (the helper: its first
    two runs), natively after that (see vmiwrap.wrap_once)."""
    r = virt_vmi(d, "hook-install", check=True)
    if vw.WRAPPER:
        every = 1 << 30 if vw.WRAP_ALL else None
        counter = "/etc/libvirt/hooks/vmi-test-wrapped"
        bindir = os.path.join(d.dir, "hookbin")
        os.makedirs(bindir, exist_ok=True)
        hook = os.path.join(bindir, "libvirt-vmi-hook")
        shutil.copy(HOOK, hook)
        vl._write(os.path.join(bindir, "libvirt-vmi-hook-key"), "#!/bin/sh\n" +
                  _counted_exec(counter, "key-helper", shlex.join(vw.wrap([HOOK_KEY])),
                                shlex.quote(HOOK_KEY), every or HOOK_KEY_WRAPPED_CALLS),
                  0o755)
        d.add_hook("50-libvirt-vmi", "#!/bin/sh\n# libvirt-vmi-hook, counted per operation\n" +
                   _counted_exec(counter, "$2-$3", shlex.join(vw.wrap([hook])),
                                 shlex.quote(hook), every or HOOK_WRAPPED_CALLS))
    d.reload()
    return r


def product_daemon(name, emulators=None, **kwargs):
    """A started LibvirtDaemon with the hook installed (the caller stops it)."""
    d = vl.LibvirtDaemon(name, emulators=emulators or [vl.QEMU], **kwargs)
    try:
        d.start()
        d.hook_install_result = install_hook(d)
    except BaseException:
        d.stop()
        raise
    return d


class Vmid:
    """virt-vmid --foreground watching @d (a LibvirtDaemon), in its
    namespace, under the test wrapper once per test file; stopped (SIGTERM,
    and checked for reports of valgrind or a sanitizer) at @testcase's
    cleanup."""

    def __init__(self, testcase, d, *args):
        self.d = d
        self.log_path = os.path.join(d.dir, f"virt-vmid-{time.monotonic_ns()}.log")
        self.argv = vw.wrap_once(("virt-vmid",), [VIRT_VMID, "-c", d.uri, "--foreground",
                                                  "--verbose", *args])
        self._log = open(self.log_path, "w")
        self.proc = d.popen_in_namespace(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log,
                                         start_new_session=True)
        testcase.addCleanup(self.stop, testcase)
        wait_until(lambda: self._answers() or self.proc.poll() is not None,
                   30 * SLOW, "virt-vmid's socket")
        if self.proc.poll() is not None:
            raise AssertionError(f"virt-vmid exited with {self.proc.returncode}: {self.log()}")
        self.wait_connected()

    def wait_connected(self):
        """Until every connection of the daemon is up."""
        wait_until(lambda: all(c["connected"] for c in self.status()["connections"]),
                   30 * SLOW, "virt-vmid connected to libvirt")

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def _answers(self):
        try:
            self.status()
            return True
        except (FileNotFoundError, ConnectionRefusedError):
            return False

    def status(self, request="status"):
        """The daemon's answer to @request, parsed."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10 * SLOW)
            s.connect(self.d.host_path(VMID_SOCKET))
            s.sendall(request.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    def domain(self, name):
        """The daemon's entry for domain @name, or None."""
        return next((e for e in self.status()["domains"] if e["name"] == name), None)

    def stop(self, testcase=None):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if testcase is not None and self.proc.returncode not in (0, -9):
            vw.check_run(self.argv, self.proc.returncode, self.log())
            testcase.assertEqual(self.proc.returncode, 0, self.log())
        if self.proc.returncode == 0:
            # a clean stop leaves nothing behind
            for path in (VMID_SOCKET, VMID_PID_FILE):
                if os.path.exists(self.d.host_path(path)):
                    raise AssertionError(f"virt-vmid left {path} behind: {self.log()}")


# virDomainDefineXML then virDomainCreateWithFlags at once, on one
# connection, as OpenStack Nova's libvirt driver and oVirt's VDSM do.
_DEFINE_AND_START = """
import sys
import libvirt
conn = libvirt.open(sys.argv[1])
with open(sys.argv[2]) as f:
    dom = conn.defineXML(f.read())
try:
    dom.createWithFlags(0)
except libvirt.libvirtError as e:
    sys.exit(str(e))
"""


def define_and_start(d, xml):
    """Defines domain XML @xml (text) on @d and starts it with no pause in
    between (a management layer's way); returns the run (rc, stderr)."""
    return d.run_in_namespace([sys.executable, "-c", _DEFINE_AND_START, d.uri,
                               d.write_xml(xml)], timeout=60 * SLOW)


def dumpxml(d, name):
    """The persistent definition, as virt-vmi reads it."""
    return d.virsh("dumpxml", "--inactive", "--security-info", name).stdout


QEMU_NS = "{" + vl.QEMU_NS + "}"
OUR_ARG = re.compile(r"^(socket,id=charvmi0,|secret,id=vmi0-key,|introspection,id=vmi0,)")


def commandline(xml):
    """The <qemu:commandline> of a domain XML, in order: ("arg", VALUE) and
    ("env", NAME, VALUE) tuples."""
    out = []
    for cl in ET.fromstring(xml).findall(QEMU_NS + "commandline"):
        for child in cl:
            if child.tag == QEMU_NS + "arg":
                out.append(("arg", child.get("value")))
            elif child.tag == QEMU_NS + "env":
                out.append(("env", child.get("name"), child.get("value")))
            else:
                out.append(("other", child.tag))
    return out


def split_commandline(xml):
    """(ours, the user's): the option/value pairs virt-vmi generates, as a
    flat list of values, and everything else as commandline() gives it."""
    items = commandline(xml)
    ours, user = [], []
    i = 0
    while i < len(items):
        it = items[i]
        nxt = items[i + 1] if i + 1 < len(items) else None
        if (it[0] == "arg" and it[1] in ("-chardev", "-object") and nxt and nxt[0] == "arg"
                and OUR_ARG.match(nxt[1])):
            ours += [it[1], nxt[1]]
            i += 2
            continue
        user.append(it)
        i += 1
    return ours, user


def vmi_element(xml):
    """The <vmi:introspection> elements in a domain XML's <metadata>."""
    md = ET.fromstring(xml).find("metadata")
    return [] if md is None else md.findall("{%s}introspection" % VMI_NS)


# ---------------------------------------------------------------------------
# Emulators

def emulator(mode=None):
    """The <emulator> of introspected domains: qemu-kvmi itself, or with
    @mode a script running qemu-kvmi --kvmi-compat=MODE. Under a test
    wrapper, a script running it under the wrapper (the relay process then
    stays under valgrind, whose reports go to the domain log: see
    check_wrapper_reports())."""
    if mode is None and not vw.WRAPPER:
        return QEMU_KVMI
    cmd = vw.wrap([QEMU_KVMI] + ([f"--kvmi-compat={mode}"] if mode else []))
    name = "qemu-kvmi" + (f"-{mode}" if mode else "") + ("-wrapped" if vw.WRAPPER else "")
    return vl.stable_script(os.path.join(BUILD_DIR, "tests", name),
                            f'#!/bin/sh\nexec {shlex.join(cmd)} "$@"\n')


def compat_emulator(mode):
    return emulator(mode)


def domain_emulator():
    """The <emulator> for the next introspected domain a test defines:
    emulator(), except under a test wrapper, where the first domains of a
    test process get the wrapped one (see vmiwrap.wrap_once: 1.5 s more
    per start) and the others qemu-kvmi itself. Warm both with
    emulators()."""
    if vw.wrap_once(("qemu-kvmi",), ["x"], times=2) == ["x"]:
        return QEMU_KVMI
    return emulator()


def emulators():
    """What domain_emulator() may return, for a daemon's emulators=."""
    return sorted({QEMU_KVMI, emulator()})


# ---------------------------------------------------------------------------
# Where a key must never be

def key_forms(key, cookie=True):
    """The key as bytes in every form it could leak in: raw, base64 (and
    without padding), hex in both cases; with @cookie, its SHA-1 too (the
    cookie QEMU accepts: as good as the key), raw and hex in both cases."""
    b64 = base64.b64encode(key)
    forms = {"raw": key, "base64": b64, "base64 unpadded": b64.rstrip(b"="),
             "hex": key.hex().encode(), "HEX": key.hex().upper().encode()}
    if cookie:
        sha1 = hashlib.sha1(key)
        forms.update({"SHA-1 raw": sha1.digest(), "SHA-1 hex": sha1.hexdigest().encode(),
                      "SHA-1 HEX": sha1.hexdigest().upper().encode()})
    return forms


def key_leaks(key, data, cookie=True):
    """The forms of @key found in @data (bytes or str); @cookie False: where
    the cookie was asked for (virt-vmi key-hash --show-cookie)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return [name for name, form in key_forms(key, cookie).items() if form in data]


def printable_key(n=40):
    """Random printable bytes (no newline): easy to search for in text."""
    alphabet = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return bytes(alphabet[b % len(alphabet)] for b in os.urandom(n))


def sha1_hex(data):
    return hashlib.sha1(data).hexdigest()


# ---------------------------------------------------------------------------
# The reference tool

def tool(testcase, path, *args, **kwargs):
    """vmitool.Tool on a unix socket libvirt-qemu can reach (mode 0666, in
    a 0755 directory: see tool_dir()), stopped at @testcase's cleanup."""
    return vmitool.Tool(testcase, path, "--socket-mode", "0666", *args, **kwargs)


def tool_dir(d):
    """A directory for tool sockets, reachable by QEMU's user."""
    path = os.path.join(d.dir, "tool")
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    return path


def skip_unless_ready():
    """Exit 77 (meson: skipped) when real libvirt cannot run here."""
    reason = vl.missing_requirement()
    if reason:
        print(f"SKIP: {reason}", file=sys.stderr)
        sys.exit(77)


def qemu_launched(log_text, name):
    """Whether libvirt's log (a part of it) shows domain @name's QEMU run."""
    return re.search(r"About to run .*-name guest=" + re.escape(name) + ",", log_text) is not None


# ---------------------------------------------------------------------------
# Test cases that report what they cost

TIMES = {}


class TestCase(unittest.TestCase):
    """Records each test's duration; print_times() (tearDownModule) lists them."""

    def setUp(self):
        t0 = time.monotonic()
        self.addCleanup(lambda: TIMES.__setitem__(self.id().split(".", 1)[1],
                                                  time.monotonic() - t0))


class DaemonTestCase(TestCase):
    """Tests on one product daemon (self.d, named NAME), started for the
    class with the hook installed, beside a temporary directory (self.tmp)
    and a tool socket directory (self.tools) that QEMU's user can reach.
    Every test ends by checking the domain logs for reports of valgrind or
    of a sanitizer."""

    NAME = None

    @classmethod
    def daemon_emulators(cls):
        return [vl.QEMU, *emulators()]

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix=f"vmi-{cls.NAME}-")
        os.chmod(cls.tmp.name, 0o755)
        try:
            cls.d = product_daemon(cls.NAME, emulators=cls.daemon_emulators())
        except BaseException:
            cls.tmp.cleanup()
            raise
        cls.tools = tool_dir(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def setUp(self):
        super().setUp()
        self.addCleanup(check_wrapper_reports, self, self.d)

    def vv(self, *args, **kwargs):
        return virt_vmi(self.d, *args, **kwargs)


def print_times():
    if TIMES:
        print("\nTimes (seconds):", file=sys.stderr)
        for name, secs in TIMES.items():
            print(f"  {name:70s} {secs:7.2f}", file=sys.stderr)


# ---------------------------------------------------------------------------
# Running domains

def key_path(key_dir, uuid):
    return os.path.join(key_dir, uuid, "key")


def key_file_state(path):
    """(uid, gid, mode, dir uid, dir gid, dir mode, content) of a key file,
    or None when it is absent (its directory too)."""
    try:
        st = os.stat(path)
        dst = os.stat(os.path.dirname(path))
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if os.path.exists(os.path.dirname(path)):
            raise AssertionError(f"{os.path.dirname(path)} is left without its key file")
        return None
    return (st.st_uid, st.st_gid, st.st_mode & 0o7777,
            dst.st_uid, dst.st_gid, dst.st_mode & 0o7777, data)


# After ours (qemu.d runs in name order): the key file as QEMU finds it
# (start begin), and once libvirt says QEMU started (started begin)
_KEY_FILE_RECORDER = r"""#!/bin/sh
case "$2 $3" in "start begin"|"started begin") ;; *) exit 0 ;; esac
uuid=$(sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' | head -n 1)
f=/run/libvirt-vmi/$uuid/key
if [ -e "$f" ]; then
    echo "$2 $(stat -c '%u %g %a' "$f") $(stat -c '%u %g %a' "${f%/key}") $(sha1sum < "$f" | cut -c1-40)"
else
    echo "$2"
fi >> RECORDS/$uuid
"""


def record_key_files(d, parent):
    """Installs in daemon @d a hook that records the key file at start and
    started, in a directory under @parent, returned."""
    records = os.path.join(parent, f"keyfiles-{d.name}")
    os.makedirs(records)
    d.add_hook("60-vmi-test-keyfile", _KEY_FILE_RECORDER.replace("RECORDS", records))
    return records


def key_file_records(records, uuid):
    """{"start"/"started": (uid, gid, mode, dir uid, dir gid, dir mode,
    SHA-1 hex of the content) or None when absent} for the last start of
    @uuid recorded in @records (see record_key_files())."""
    with open(os.path.join(records, uuid)) as f:
        lines = f.read().splitlines()
    out = {}
    for ln in lines:
        op, *state = ln.split()
        if op == "start":
            out.clear()
        out[op] = (tuple(int(v, 8 if i in (2, 5) else 10) for i, v in enumerate(state[:6]))
                   + (state[6],)) if state else None
    return out


def guest_pids(name):
    """Every process whose command line carries -name guest=NAME: QEMU and
    the emulator's relay (a fork of the same command line)."""
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit() and vl._alive(int(e)):
            args = vl._cmdline(int(e))
            if any(a == f"guest={name}".encode() or a.startswith(f"guest={name},".encode())
                   for a in args):
                out.append(int(e))
    return out


def proc_text(pid):
    """/proc/PID/cmdline and environ, as bytes ('' if gone)."""
    out = b""
    for f in ("cmdline", "environ"):
        try:
            with open(f"/proc/{pid}/{f}", "rb") as fh:
                out += fh.read() + b"\n"
        except OSError:
            pass
    return out


def wait_until(cond, timeout, what, step=0.02):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s")
        time.sleep(step)


def domain_logs(d):
    """{name: text} of the domain logs of @d, a LibvirtDaemon or an
    EmbeddedRoot."""
    out = {}
    logdir = (d.host_path("/var/log/libvirt/qemu") if isinstance(d, vl.LibvirtDaemon)
              else os.path.join(d.root, "log", "qemu"))
    for n in sorted(os.listdir(logdir)) if os.path.isdir(logdir) else []:
        if n.endswith(".log"):
            with open(os.path.join(logdir, n), errors="replace") as f:
                out[n[:-4]] = f.read()
    return out


def check_wrapper_reports(testcase, *daemons):
    """No report of valgrind or of a sanitizer from the emulator's relay in
    any domain log of @daemons: its exit status reaches no one (call it
    last, e.g. from tearDown)."""
    for d in daemons:
        for name, text in domain_logs(d).items():
            vw.check_reports(testcase, text, f"the domain log of {name}")
