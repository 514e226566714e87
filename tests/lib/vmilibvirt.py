"""Real libvirt for the integration tests: private libvirtd daemons and
embedded (qemu:///embed) roots, isolated from the host, fast, and always
cleaned up.

A LibvirtDaemon runs virtlogd and libvirtd as root in a private mount
namespace where /etc/libvirt, /run/libvirt, /var/lib/libvirt,
/var/cache/libvirt, /var/log/libvirt, /run/libvirt-vmi and /etc/libvirt-vmi
are bind mounts of directories under the daemon's own temporary directory.
Its sockets live outside those (in DIR/sock), so the test process and other
daemons (migration, --p2p) reach it at `daemon.uri`. Inside its namespace,
plain `virsh` and `qemu:///system` reach it too.

    with LibvirtDaemon() as d:
        d.define_domain("vm1")
        d.virsh("start", "vm1")
        d.run_in_namespace(["cat", "/run/libvirt/qemu/vm1.xml"])

QEMU's capabilities are probed once per build directory (0.7 to 4 s per
emulator binary) and shared through a cache under a file lock: a daemon
start then costs about 0.1 s. Pass every emulator a daemon's domains use
as `emulators=` to have it warmed before the first define.

Integration tests run under tests/vmi-test-reaper (a child subreaper), which
reaps daemonized QEMUs at once (fast destroy) and kills leftovers.

What libvirt 9.0 does here that a test must know:
- Hooks: libvirtd runs qemu.d scripts only if one was executable when it
  started (or at reload()); they then see every script in the directory at
  each call. They run with only HOME, PATH and LC_ALL=C: add_exec_hook()
  writes the wrapper and environment into the script.
- Each QEMU runs in its own mount namespace (qemu.conf `namespaces`), a
  child of the daemon's: a file under the private dirs is where the daemon
  sees it, host_path() gives where the test sees it.
- Embedded roots: a new process that opens a root with a running domain
  reconnects to its QEMU in a thread that holds a job. A destroy issued
  before that ends kills QEMU but fails ("domain is not running"); a call
  that waits for a job first (`dommemstat DOM`) makes it reliable.
- Capability cache: libvirt compares the host CPUID it reads with the
  cached one, and CPUID differs between this machine's CPUs: every process
  that looks at the cache runs pinned to CACHE_CPU (see pinned()).

Environment:
  VMI_TEST_WRAPPER     prefix for the project's own programs (valgrind):
                       see vmiwrap; never applied to libvirtd, virsh or QEMU.
  VMI_BUILD_DIR        the capability cache lives in $VMI_BUILD_DIR/tests/
  VMI_LIBVIRT_CAPS_CACHE  overrides the capability cache directory
  VMI_TEST_KEEP=1      keep daemon and root directories after the test
"""

import atexit
import contextlib
import fcntl
import hashlib
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from xml.sax.saxutils import escape, quoteattr

import vmiwrap as vw

QEMU = "/usr/bin/qemu-system-x86_64"
QEMU_USER = "libvirt-qemu"
QEMU_GROUP = "libvirt-qemu"
LIBVIRTD = "/usr/sbin/libvirtd"
VIRTLOGD = "/usr/sbin/virtlogd"
VIRSH = "virsh"
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"

# Debug for the QEMU driver (command lines, QMP traffic), hooks, commands
# run, secrets and API calls; warnings and errors for the rest.
DEFAULT_LOG_FILTERS = "1:qemu 1:libvirt 1:util.hook 1:util.command 1:secret 3:*"

# The private directories of a daemon, as it sees them, with their modes.
PRIVATE_DIRS = {
    "/etc/libvirt": 0o755,
    "/run/libvirt": 0o755,
    "/var/lib/libvirt": 0o755,
    "/var/cache/libvirt": 0o711,
    "/var/log/libvirt": 0o700,
    "/run/libvirt-vmi": 0o755,
    "/etc/libvirt-vmi": 0o755,
    # hook-install's AppArmor rules go here where libvirt's profiles are
    "/etc/apparmor.d": 0o755,
}

def keep_dirs():
    return os.environ.get("VMI_TEST_KEEP", "") not in ("", "0")


# libvirt 9.0 re-probes QEMU (seconds) when the host CPUID it reads differs
# from the cached one, and on these machines CPUID differs from one CPU to
# the next: every process that checks the capability cache (libvirtd, a
# client opening an embedded root) runs on one CPU, the same one for all.
# QEMU is not affected: libvirt gives it every online CPU.
CACHE_CPU = min(os.sched_getaffinity(0))


def pinned(cmd):
    """@cmd run on CACHE_CPU (use it for a process opening qemu:///embed)."""
    return ["taskset", "-c", str(CACHE_CPU)] + list(cmd)


def pwd_uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def host_virt_type():
    """The domain type this host runs: 'kvm' with a usable /dev/kvm, else
    'qemu' (TCG)."""
    return "kvm" if kvm_usable() else "qemu"


def missing_requirement():
    """Why real libvirt cannot run here (None when it can): the tests then
    skip (exit 77 under meson) instead of failing on an unprepared host."""
    import pwd
    if os.geteuid() != 0:
        return "needs root (private mount namespaces, libvirtd as root)"
    for prog in (LIBVIRTD, VIRTLOGD, QEMU, shutil.which(VIRSH) or VIRSH,
                 shutil.which("unshare") or "unshare", shutil.which("nsenter") or "nsenter"):
        if not os.access(prog, os.X_OK):
            return f"{prog} is missing (scripts/setup-host.sh installs it)"
    try:
        pwd.getpwnam(QEMU_USER)
    except KeyError:
        return f"user {QEMU_USER} is missing (scripts/setup-host.sh creates it)"
    return None


class CommandError(Exception):
    def __init__(self, result):
        self.result = result
        super().__init__(f"{shlex.join(result.args)}: exit {result.rc}\n"
                         f"stdout: {result.stdout}stderr: {result.stderr}")


class Result:
    """What a command did: args, rc (also as returncode), stdout, stderr
    (text), and how long it took in seconds."""

    def __init__(self, args, rc, stdout, stderr, seconds):
        self.args = list(args)
        self.rc = self.returncode = rc
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def check(self):
        if self.rc != 0:
            raise CommandError(self)
        return self

    def __repr__(self):
        return (f"Result(rc={self.rc}, stdout={self.stdout!r}, "
                f"stderr={self.stderr!r}, args={shlex.join(self.args)!r})")


def client_env(extra=None):
    """The environment for a libvirt client: no inherited default URI or
    debug settings, C locale (stable messages)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIBVIRT_", "VIRSH_"))}
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def run(cmd, check=False, input=None, timeout=60, env=None, cwd=None):
    """Runs @cmd and returns a Result; raises CommandError if @check and it
    failed, subprocess.TimeoutExpired (after killing it) if it hangs."""
    start = time.monotonic()
    p = subprocess.run(list(cmd), input=input, capture_output=True, text=True,
                       timeout=timeout, env=env if env is not None else client_env(),
                       cwd=cwd)
    r = Result(cmd, p.returncode, p.stdout, p.stderr, time.monotonic() - start)
    return r.check() if check else r


# ---------------------------------------------------------------------------
# Domain definitions

def domain_xml(name, uuid=None, emulator=QEMU, memory_mib=64, vcpus=1,
               virt_type=None, machine="pc", metadata="", devices="",
               qemu_args=(), qemu_env=None, extra=""):
    """A minimal domain: no disk, no NIC, no graphics, no balloon, no USB.

    @metadata: raw XML put inside <metadata> (e.g. a <vmi:introspection>);
    @devices: raw XML appended to <devices>; @extra: raw XML appended to
    <domain>; @qemu_args / @qemu_env: a <qemu:commandline>.
    @virt_type: 'kvm' when /dev/kvm is usable, 'qemu' (TCG) otherwise."""
    if virt_type is None:
        virt_type = host_virt_type()
    uuid = uuid or str(uuidlib.uuid4())
    lines = [f"<domain type={quoteattr(virt_type)}"
             + (f" xmlns:qemu='{QEMU_NS}'" if qemu_args or qemu_env else "") + ">",
             f"  <name>{escape(name)}</name>",
             f"  <uuid>{uuid}</uuid>"]
    if metadata:
        lines += ["  <metadata>", metadata, "  </metadata>"]
    lines += [f"  <memory unit='MiB'>{memory_mib}</memory>",
              f"  <vcpu>{vcpus}</vcpu>",
              f"  <os><type arch='x86_64' machine={quoteattr(machine)}>hvm</type></os>",
              "  <on_crash>destroy</on_crash>",
              "  <devices>",
              f"    <emulator>{escape(emulator)}</emulator>",
              "    <controller type='usb' model='none'/>",
              "    <memballoon model='none'/>"]
    if devices:
        lines.append(devices)
    lines.append("  </devices>")
    if qemu_args or qemu_env:
        lines.append("  <qemu:commandline>")
        lines += [f"    <qemu:arg value={quoteattr(a)}/>" for a in qemu_args]
        lines += [f"    <qemu:env name={quoteattr(k)} value={quoteattr(v)}/>"
                  for k, v in (qemu_env or {}).items()]
        lines.append("  </qemu:commandline>")
    if extra:
        lines.append(extra)
    lines.append("</domain>")
    return "\n".join(lines) + "\n"


def secret_xml(uuid=None, usage_type=None, usage_name=None, description=None,
               private=False, ephemeral=False):
    """A libvirt <secret> definition (usage_type 'volume' takes a <volume>,
    'vtpm'/'tls'/'ceph'/'iscsi' a <name>, None no usage)."""
    uuid = uuid or str(uuidlib.uuid4())
    out = [f"<secret ephemeral='{'yes' if ephemeral else 'no'}' "
           f"private='{'yes' if private else 'no'}'>",
           f"  <uuid>{uuid}</uuid>"]
    if description:
        out.append(f"  <description>{escape(description)}</description>")
    if usage_type:
        tag = "volume" if usage_type == "volume" else "name"
        out.append(f"  <usage type={quoteattr(usage_type)}>"
                   f"<{tag}>{escape(usage_name or '')}</{tag}></usage>")
    out.append("</secret>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# The shared QEMU capability cache

class CapsCache:
    """QEMU capability files (libvirt's qemu/capabilities/SHA256(binary).xml)
    shared by every daemon and embedded root of a build directory.

    libvirt checks a file itself (binary ctime, its own version and ctime,
    kernel, KVM) and probes again when it is stale: whatever a daemon probed
    is absorbed back here when it stops, so the cache heals itself.

    @consumer: "daemon" or "embed", each with files of its own. libvirt's
    "own ctime" is the newest ctime of what the process loaded: libvirtd and
    its driver modules, or, for an embedded root, the QEMU driver module
    alone. Where the packages were unpacked across a second boundary the two
    differ, and a file one of them wrote is stale for the other."""

    def __init__(self, path=None, consumer="daemon"):
        if path is None:
            path = os.environ.get("VMI_LIBVIRT_CAPS_CACHE")
        if not path:
            build = os.environ.get("VMI_BUILD_DIR")
            path = (os.path.join(build, "tests", "libvirt-caps-cache") if build else
                    os.path.join(tempfile.gettempdir(), f"libvirt-vmi-caps-cache-{os.getuid()}"))
        self.path = path = os.path.join(path, consumer)
        os.makedirs(path, exist_ok=True)

    @staticmethod
    def file_name(emulator):
        return hashlib.sha256(emulator.encode()).hexdigest() + ".xml"

    def fresh(self, emulator):
        """Whether the cache holds a file for @emulator as it is now."""
        try:
            with open(os.path.join(self.path, self.file_name(emulator))) as f:
                head = f.read(4096)
            m = re.search(r"<qemuctime>(\d+)</qemuctime>", head)
            return bool(m) and int(m.group(1)) == int(os.stat(emulator).st_ctime)
        except OSError:
            return False

    @contextlib.contextmanager
    def lock(self, exclusive, timeout=300):
        """The cache's file lock (not re-entrant: one per process at a time)."""
        fd = os.open(os.path.join(self.path, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                                | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.path}/.lock still held after {timeout} s")
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)

    def _files(self, d):
        try:
            return [n for n in os.listdir(d) if n.endswith(".xml")]
        except FileNotFoundError:
            return []

    def seed(self, dest, locked=False):
        """Copies the cached files into libvirt's capability directory @dest."""
        os.makedirs(dest, exist_ok=True)
        with contextlib.nullcontext() if locked else self.lock(False):
            for n in self._files(self.path):
                shutil.copy2(os.path.join(self.path, n), os.path.join(dest, n))

    def absorb(self, src, locked=False):
        """Takes what libvirt probed into @src back into the cache."""
        with contextlib.nullcontext() if locked else self.lock(True):
            for n in self._files(src):
                s, d = os.path.join(src, n), os.path.join(self.path, n)
                with open(s, "rb") as f:
                    data = f.read()
                try:
                    with open(d, "rb") as f:
                        if f.read() == data:
                            continue
                except FileNotFoundError:
                    pass
                tmp = d + f".tmp{os.getpid()}"
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, d)

    @contextlib.contextmanager
    def warming(self, emulators):
        """Yields (to_probe, locked): the emulators of @emulators that the
        cache lacks, and whether the exclusive lock is held (it is whenever
        some were missing on entry: concurrent tests then wait for one probe
        instead of all probing at once)."""
        if all(self.fresh(e) for e in emulators):
            yield [], False
            return
        with self.lock(True):
            yield [e for e in emulators if not self.fresh(e)], True


# ---------------------------------------------------------------------------
# Processes

def _alive(pid):
    """Whether @pid is running (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if _alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.01)


def _kill(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _mnt_ns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _pids_in_mnt_ns(ns):
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit() and _mnt_ns(e) == ns and _alive(int(e)):
            out.append(int(e))
    return out


def _qemu_pids(pid_dir):
    """Live QEMU processes recorded by libvirt in @pid_dir (*.pid), checked
    against their command line (-name guest=NAME) to ignore reused pids."""
    out = []
    try:
        names = os.listdir(pid_dir)
    except FileNotFoundError:
        return out
    for n in names:
        if not n.endswith(".pid"):
            continue
        try:
            with open(os.path.join(pid_dir, n)) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            continue
        guest = f"guest={n[:-4]}".encode()
        if _alive(pid) and any(a == guest or a.startswith(guest + b",")
                               for a in _cmdline(pid)):
            out.append(pid)
    return out


def _stop_process(proc, timeout):
    """SIGTERM, then SIGKILL after @timeout s (at once if 0), for a Popen child."""
    if proc is None or proc.poll() is not None:
        return
    if not timeout:
        proc.kill()
        proc.wait(10)
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


_live = set()


@atexit.register
def _cleanup_at_exit():
    for obj in list(_live):
        try:
            obj.stop() if isinstance(obj, LibvirtDaemon) else obj.cleanup()
        except Exception as e:  # keep cleaning the others
            print(f"vmilibvirt: cleanup of {obj}: {e}", file=sys.stderr)


def _exit_on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# meson's timeout and the reaper's forwarding send SIGTERM: exit through
# Python so that context managers and atexit stop the daemons and remove
# their directories (KeyboardInterrupt: unittest stops on it, where it
# would record a SystemExit as one more error and go on).
if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def stable_script(path, text):
    """An executable script at @path with @text, rewritten only when its
    text changes: libvirt's capability cache (and the hook's probe cache)
    is keyed on the file, its ctime too. Returns @path."""
    try:
        with open(path) as f:
            if f.read() == text:
                return path
    except FileNotFoundError:
        pass
    _write(path + ".tmp", text, 0o755)
    os.replace(path + ".tmp", path)
    return path


def _text_from(path, since=0):
    """The text of the file at @path from byte @since; "" while there is
    no such file."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _tail_errors(path, n=20):
    try:
        with open(path, errors="replace") as f:
            lines = [ln for ln in f if " : error : " in ln or " : warning : " in ln]
    except OSError:
        return ""
    return "".join(lines[-n:])


# ---------------------------------------------------------------------------
# A private libvirtd

class LibvirtDaemon:
    """virtlogd + libvirtd as root in a private mount namespace.

    @base_dir: where its directory is made (default: $TMPDIR); @user/@group:
    what QEMU runs as; @emulators: binaries to have probed before start
    (from the shared cache when warm); @cgroups: let libvirt use cgroups
    (off by default: cgroup v1 names like machine/qemu-1-NAME.libvirt-qemu
    are host-global and would collide between daemons);
    @libvirtd_conf / @qemu_conf: extra lines for those files."""

    def __init__(self, name="libvirtd", base_dir=None, user=QEMU_USER, group=QEMU_GROUP,
                 emulators=(QEMU,), log_filters=DEFAULT_LOG_FILTERS, cgroups=False,
                 libvirtd_conf="", qemu_conf="", caps_cache=None):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"vmi-{name}-", dir=base_dir)
        # QEMU (libvirt-qemu) must reach sockets a test puts in here
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        self.sock_dir = os.path.join(self.dir, "sock")
        self.socket = os.path.join(self.sock_dir, "libvirt-sock")
        self.uri = f"qemu+unix:///system?socket={self.socket}"
        self.host_uuid = str(uuidlib.uuid4())
        self.log_path = os.path.join(self.dir, "libvirtd.log")
        self.virtlogd_log_path = os.path.join(self.dir, "virtlogd.log")
        self.user, self.group = user, group
        self.emulators = list(emulators)
        self.caps = caps_cache or CapsCache()
        self.timings = {}
        self._holder = self._virtlogd = self._libvirtd = None
        self._ns = None
        self._ns_fd = None
        self._stderr_files = []
        self._xml_count = 0
        _live.add(self)  # atexit removes the directory even if never started

        for d, mode in PRIVATE_DIRS.items():
            os.makedirs(self.host_path(d), exist_ok=True)
            os.chmod(self.host_path(d), mode)
        os.makedirs(self.hooks_dir)
        os.makedirs(self.sock_dir)
        os.makedirs(os.path.join(self.dir, "xml"))
        etc = self.host_path("/etc/libvirt")
        _write(os.path.join(etc, "libvirtd.conf"), "\n".join([
            f'unix_sock_dir = "{self.sock_dir}"',
            'unix_sock_rw_perms = "0700"',
            'auth_unix_rw = "none"',
            'auth_unix_ro = "none"',
            f'host_uuid = "{self.host_uuid}"',
            f'log_filters = "{log_filters}"',
            f'log_outputs = "1:file:{self.log_path}"',
            libvirtd_conf, ""]))
        _write(os.path.join(etc, "virtlogd.conf"),
               f'log_outputs = "3:file:{self.virtlogd_log_path}"\n')
        _write(os.path.join(etc, "qemu.conf"), "\n".join([
            f'user = "{user}"',
            f'group = "{group}"',
            "dynamic_ownership = 1",
            # No security_driver line: libvirt's default, as on a stock
            # host. It confines QEMU with AppArmor or SELinux where the
            # kernel has one (the suite's AppArmor rules are then needed,
            # docs/security.rst) and falls back to DAC alone where not.
            "" if cgroups else "cgroup_controllers = [ ]",
            qemu_conf, ""]))
        # Inside the namespace, plain virsh and qemu:///system reach this daemon
        _write(os.path.join(etc, "libvirt.conf"), f'uri_default = "{self.uri}"\n')
        run_dir = self.host_path("/run/libvirt")
        for s in ("libvirt-sock", "libvirt-sock-ro", "libvirt-admin-sock"):
            os.symlink(os.path.join(self.sock_dir, s), os.path.join(run_dir, s))

    def __repr__(self):
        return f"LibvirtDaemon({self.name}, {self.dir})"

    # -- paths ---------------------------------------------------------------

    def host_path(self, path):
        """Where a path as the daemon sees it is in the test's view."""
        for d in PRIVATE_DIRS:
            if path == d or path.startswith(d + "/"):
                return self.root + path
        return path

    @property
    def hooks_dir(self):
        """/etc/libvirt/hooks/qemu.d of this daemon (host path)."""
        return self.host_path("/etc/libvirt/hooks/qemu.d")

    def add_hook(self, name, text, mode=0o755):
        """Installs an executable script in hooks/qemu.d, in place of what
        is there (a link is replaced, never written through). libvirt looks
        for hooks when it starts: add them before start(), or call reload()."""
        path = os.path.join(self.hooks_dir, name)
        if os.path.lexists(path):
            os.unlink(path)
        _write(path, text, mode)
        return path

    def add_exec_hook(self, name, cmd, env=None):
        """Installs a qemu.d hook that execs vmiwrap.wrap(@cmd) with
        libvirt's hook arguments. libvirt runs hooks with only HOME, PATH
        and LC_ALL=C in their environment: @env (and $VMI_TEST_WRAPPER,
        through vmiwrap.wrap()) are written into the script."""
        envs = ["env", *(f"{k}={v}" for k, v in (env or {}).items())] if env else []
        return self.add_hook(name, f'#!/bin/sh\nexec {shlex.join(envs + vw.wrap(cmd))} "$@"\n')

    def add_vmi_hook(self, hook):
        """@hook (a libvirt-vmi-hook) as this daemon's qemu hook, its
        settings naming this daemon: the benchmarks' set-up (the tests
        run `virt-vmi hook-install`, vmiproduct.install_hook)."""
        self.add_exec_hook("50-libvirt-vmi", [hook])
        _write(self.host_path("/etc/libvirt-vmi/libvirt-vmi.conf"), f"[hook]\nuri={self.uri}\n")

    def domain_log_path(self, name):
        return self.host_path(f"/var/log/libvirt/qemu/{name}.log")

    def domain_log(self, name):
        with open(self.domain_log_path(name), errors="replace") as f:
            return f.read()

    def log_size(self):
        """A mark for log_text(since=...)."""
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_text(self, since=0):
        """libvirtd's log (from byte @since)."""
        return _text_from(self.log_path, since)

    def qemu_pid(self, name):
        """The pid of domain @name's QEMU, or None."""
        try:
            with open(self.host_path(f"/run/libvirt/qemu/{name}.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    @property
    def pid(self):
        """libvirtd's pid."""
        return self._libvirtd.pid if self._libvirtd else None

    @property
    def running(self):
        return self._libvirtd is not None and self._libvirtd.poll() is None

    # -- life ----------------------------------------------------------------

    def _spawn(self, name, cmd):
        out = open(os.path.join(self.dir, f"{name}.stderr"), "w")
        self._stderr_files.append(out)
        return subprocess.Popen(pinned(["nsenter", "-t", str(self._holder.pid), "-m", "--", *cmd]),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=client_env(), start_new_session=True)

    def _wait_for(self, what, cond, proc, timeout):
        deadline = time.monotonic() + timeout
        while not cond():
            if proc.poll() is not None:
                with open(os.path.join(self.dir, f"{what}.stderr")) as f:
                    err = f.read()
                raise RuntimeError(f"{what} exited with {proc.returncode}: {err}"
                                   f"{_tail_errors(self.log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready after {timeout} s")
            time.sleep(0.005)

    def start(self, timeout=30):
        """Starts the namespace, virtlogd and libvirtd; returns when libvirtd
        answers API calls. Cleans up and raises if anything fails."""
        if self._holder:
            raise RuntimeError(f"{self} already started")
        _live.add(self)  # again after a stop()
        t0 = time.monotonic()
        try:
            with self.caps.warming(self.emulators) as (probe, locked):
                self.caps.seed(self.host_path("/var/cache/libvirt/qemu/capabilities"),
                               locked=locked)
                self._start(timeout)
                for e in probe:
                    t = time.monotonic()
                    self.virsh("domcapabilities", "--emulatorbin", e, "--virttype",
                               host_virt_type(), timeout=120)
                    self.timings[f"probe {e}"] = time.monotonic() - t
                if probe:
                    self.caps.absorb(self.host_path("/var/cache/libvirt/qemu/capabilities"),
                                     locked=True)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def _start(self, timeout):
        mounts = "".join(f'mkdir -p {d}; mount --bind {shlex.quote(self.root + d)} {d}\n'
                         for d in PRIVATE_DIRS)
        script = f"set -e\n{mounts}echo ready\nexec cat >/dev/null\n"
        # The holder keeps the namespace open for nsenter and ends when its
        # stdin closes (stop(), or this process dying).
        self._holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        ready, _, _ = select.select([self._holder.stdout], [], [], timeout)
        line = self._holder.stdout.readline() if ready else b""
        if line != b"ready\n":
            self._holder.kill()
            raise RuntimeError("mount namespace setup failed: "
                               + self._holder.stderr.read().decode(errors="replace"))
        self._ns = _mnt_ns(self._holder.pid)
        # Namespace inode numbers are reused as soon as a namespace is gone
        # (every QEMU gets one): held open, ours stays ours until stop() has
        # looked for what is left in it, never another test's.
        self._ns_fd = os.open(f"/proc/{self._holder.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

        # Their default pid files (/run/virtlogd.pid, /run/libvirtd.pid) are
        # host-wide: another daemon on the host would make them fail.
        self._virtlogd = self._spawn("virtlogd", [VIRTLOGD, "-p", "/run/libvirt/virtlogd.pid"])
        sock = self.host_path("/run/libvirt/virtlogd-sock")
        self._wait_for("virtlogd", lambda: os.path.exists(sock), self._virtlogd, timeout)
        self._libvirtd = self._spawn("libvirtd", [LIBVIRTD, "-p", "/run/libvirt/libvirtd.pid"])
        self._wait_for("libvirtd", lambda: os.path.exists(self.socket), self._libvirtd, timeout)
        # Answers only once its drivers are up
        r = self.virsh("uri", check=False, timeout=timeout)
        if r.rc != 0:
            raise RuntimeError(f"libvirtd does not answer: {r.stderr}"
                               f"{_tail_errors(self.log_path)}")

    def restart_libvirtd(self, timeout=30):
        """Stops libvirtd (SIGTERM) and starts it again in the same
        namespace, as an upgrade or `systemctl restart` does: running
        domains go on, and libvirtd reconnects to them."""
        self._libvirtd.terminate()
        self._libvirtd.wait(timeout)
        self._libvirtd = self._spawn("libvirtd", [LIBVIRTD, "-p", "/run/libvirt/libvirtd.pid"])
        self._wait_for("libvirtd", lambda: self.virsh("uri", check=False, timeout=timeout).rc == 0,
                       self._libvirtd, timeout)

    def reload(self, timeout=10):
        """SIGHUP: libvirtd looks for hook scripts again (it only runs
        qemu.d scripts if one was there when it started or last reloaded).
        Returns once it has."""
        mark = self.log_size()
        self._libvirtd.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        # virHookInitialize checks every driver's hooks, bhyve last
        while "/etc/libvirt/hooks/bhyve" not in self.log_text(mark):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no hook rescan seen after SIGHUP")
            time.sleep(0.01)

    def stop(self, timeout=10):
        """Destroys running domains, stops libvirtd and virtlogd (SIGTERM, then
        SIGKILL after @timeout s), kills whatever is left of the namespace,
        takes new capability probes into the shared cache, and removes the
        directory (unless VMI_TEST_KEEP). Safe to call more than once."""
        t0 = time.monotonic()
        grace = timeout
        try:
            if self.running:
                try:
                    r = self.virsh("list", "--name", check=False, timeout=timeout)
                    for dom in r.stdout.split() if r.rc == 0 else []:
                        self.virsh("destroy", dom, check=False, timeout=timeout)
                except subprocess.TimeoutExpired:
                    print(f"vmilibvirt: {self.name}: libvirtd does not answer: killing it",
                          file=sys.stderr)
                    grace = 0
            _stop_process(self._libvirtd, grace)
            _stop_process(self._virtlogd, timeout)
            # QEMUs have their own mount namespaces (qemu.conf namespaces):
            # find them by libvirt's pid files; the rest by this namespace.
            left = _qemu_pids(self.host_path("/run/libvirt/qemu"))
            if self._holder:
                if self._holder.poll() is None:
                    self._holder.stdin.close()
                    try:
                        self._holder.wait(timeout)
                    except subprocess.TimeoutExpired:
                        self._holder.kill()
                        self._holder.wait()
                for f in (self._holder.stdout, self._holder.stderr):
                    f.close()
            if self._ns:
                left += _pids_in_mnt_ns(self._ns)
            if left:
                print(f"vmilibvirt: {self.name}: killing leftover processes {left}",
                      file=sys.stderr)
                _kill(left, signal.SIGKILL)
                left = _wait_gone(left, timeout)
                if left:
                    raise RuntimeError(f"{self.name}: processes {left} survive SIGKILL")
        finally:
            for f in self._stderr_files:
                f.close()
            self._stderr_files = []
            if self._ns_fd is not None:
                os.close(self._ns_fd)
                self._ns_fd = None
            _live.discard(self)
        cache = self.host_path("/var/cache/libvirt/qemu/capabilities")
        if os.path.isdir(cache):
            self.caps.absorb(cache)
        self.timings["stop"] = time.monotonic() - t0
        if not keep_dirs() and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)

    def namespace_pids(self):
        """Processes in the daemon's mount namespace (QEMUs are not: libvirt
        gives each its own) plus the QEMUs libvirt records."""
        pids = _pids_in_mnt_ns(self._ns) if self._ns else []
        return pids + _qemu_pids(self.host_path("/run/libvirt/qemu"))

    def __enter__(self):
        if not self._holder:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            errs = _tail_errors(self.log_path)
            if errs:
                print(f"--- {self.name}: last warnings and errors of {self.log_path}:\n{errs}",
                      file=sys.stderr)
        self.stop()

    # -- clients -------------------------------------------------------------

    def virsh(self, *args, check=True, input=None, timeout=60):
        """virsh -c URI ARGS... from the test process."""
        return run([VIRSH, "-c", self.uri, *args], check=check, input=input,
                   timeout=timeout)

    def ns_command(self, cmd):
        """@cmd wrapped to run in the daemon's mount namespace."""
        if not self._holder or self._holder.poll() is not None:
            raise RuntimeError(f"{self} is not running")
        return ["nsenter", "-t", str(self._holder.pid), "-m", "--", *cmd]

    def run_in_namespace(self, cmd, check=False, input=None, timeout=60, env=None):
        """Runs @cmd seeing the files as the daemon does (/run/libvirt-vmi,
        /etc/libvirt...). Use vmiwrap for the project's own programs."""
        return run(self.ns_command(cmd), check=check, input=input, timeout=timeout,
                   env=client_env(env))

    def popen_in_namespace(self, cmd, env=None, **kwargs):
        """A long-running @cmd in the namespace (the caller stops it)."""
        return subprocess.Popen(self.ns_command(cmd), env=client_env(env), **kwargs)

    def write_xml(self, text, name=None):
        """Writes @text to a file under the daemon's directory; returns its path."""
        self._xml_count += 1
        path = os.path.join(self.dir, "xml", name or f"{self._xml_count}.xml")
        _write(path, text)
        return path

    def define_domain(self, name, **kwargs):
        """Defines domain_xml(name, **kwargs); returns its UUID."""
        kwargs.setdefault("uuid", str(uuidlib.uuid4()))
        self.virsh("define", self.write_xml(domain_xml(name, **kwargs), f"{name}.xml"))
        return kwargs["uuid"]

    def define_secret(self, value=None, **kwargs):
        """Defines secret_xml(**kwargs) and sets @value (bytes) if given;
        returns its UUID."""
        kwargs.setdefault("uuid", str(uuidlib.uuid4()))
        self.virsh("secret-define", self.write_xml(secret_xml(**kwargs)))
        if value is not None:
            path = self.write_xml("")
            with open(path, "wb") as f:
                f.write(value)
            self.virsh("secret-set-value", kwargs["uuid"], "--file", path, "--plain")
            os.unlink(path)
        return kwargs["uuid"]

    def domstate(self, name):
        return self.virsh("domstate", name).stdout.strip()

    def migrate(self, name, dest, p2p=False, extra=(), check=True, timeout=120):
        """virsh migrate --live NAME DEST_URI [--p2p] from this daemon."""
        args = ["migrate", "--live", *(["--p2p"] if p2p else []), *extra, name, dest.uri]
        return self.virsh(*args, check=check, timeout=timeout)


def stop_all(*daemons):
    """Stops several daemons in parallel (libvirtd takes about a second to
    exit)."""
    errors = []

    def one(d):
        try:
            d.stop()
        except Exception as e:
            errors.append(e)
    threads = [threading.Thread(target=one, args=(d,)) for d in daemons]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# ---------------------------------------------------------------------------
# The embedded driver

class EmbeddedRoot:
    """A qemu:///embed?root=DIR root. Each virsh() is one virsh process that
    opens the root, runs its commands ("cmd1; cmd2"), and closes it.

    @root: the directory (made if missing, kept by cleanup(): the caller
    owns it); @user/@group: what QEMU runs as."""

    def __init__(self, root, user=QEMU_USER, group=QEMU_GROUP, emulators=(QEMU,),
                 qemu_conf="", caps_cache=None):
        self.root = os.path.abspath(root)
        self.uri = f"qemu:///embed?root={self.root}"
        self.emulators = list(emulators)
        self.caps = caps_cache or CapsCache(consumer="embed")
        self.timings = {}
        os.makedirs(os.path.join(self.root, "etc"), exist_ok=True)
        # QEMU (as @user) must reach its files under the root
        os.chmod(self.root, 0o755)
        path = os.path.dirname(self.root)
        while path != "/":
            if not os.stat(path).st_mode & 0o001:
                raise RuntimeError(f"{path} is not searchable by others: QEMU, as {user}, "
                                   f"could not reach {self.root}")
            path = os.path.dirname(path)
        _write(os.path.join(self.root, "etc", "qemu.conf"), "\n".join([
            'stdio_handler = "file"',
            f'user = "{user}"',
            f'group = "{group}"',
            qemu_conf, ""]))
        self.caps_dir = os.path.join(self.root, "cache", "qemu", "capabilities")
        self.log_path = os.path.join(self.root, "log", "libvirt.log")
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self._seeded = False
        _live.add(self)

    def __repr__(self):
        return f"EmbeddedRoot({self.root})"

    def env(self, extra=None):
        """The environment of a process that opens the root: libvirt's log
        goes to log_path (with the daemon's filters), not to stderr."""
        return client_env({"LIBVIRT_LOG_FILTERS": DEFAULT_LOG_FILTERS,
                           "LIBVIRT_LOG_OUTPUTS": f"1:file:{self.log_path}",
                           **(extra or {})})

    def log_text(self, since=0):
        """The root's libvirt log (from byte @since)."""
        return _text_from(self.log_path, since)

    def _seed(self):
        if self._seeded:
            return
        self._seeded = True
        with self.caps.warming(self.emulators) as (probe, locked):
            self.caps.seed(self.caps_dir, locked=locked)
            if probe:
                cmds = [shlex.join(["domcapabilities", "--emulatorbin", e, "--virttype",
                                    host_virt_type()]) for e in probe]
                t = time.monotonic()
                run(pinned([VIRSH, "-c", self.uri, "; ".join(cmds)]), check=True, timeout=180,
                    env=self.env())
                self.timings["probe"] = time.monotonic() - t
                self.caps.absorb(self.caps_dir, locked=True)

    def virsh(self, *commands, check=True, input=None, timeout=60):
        """One virsh process: each of @commands is a string (virsh syntax)
        or a list (quoted for virsh); they run in order in one connection.

        A process that opens the root reconnects to its running domains in
        threads libvirt 9.0 never joins, and crashes (SIGSEGV) if it exits
        while one runs: with a domain running, begin with a command that
        waits for its job (dommemstat NAME)."""
        self._seed()
        text = "; ".join(c if isinstance(c, str) else shlex.join(c) for c in commands)
        return run(pinned([VIRSH, "-c", self.uri, text]), check=check, input=input,
                   timeout=timeout,
                   env=self.env())

    def write_xml(self, text, name):
        d = os.path.join(self.root, "xml")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        _write(path, text)
        return path

    def domain_file(self, name, **kwargs):
        """Writes domain_xml(name, **kwargs) under the root; returns its path."""
        return self.write_xml(domain_xml(name, **kwargs), f"{name}.xml")

    def domain_log_path(self, name):
        return os.path.join(self.root, "log", "qemu", f"{name}.log")

    def status_xml(self, name):
        """What libvirt keeps of a running domain (its live XML and more)."""
        with open(os.path.join(self.root, "run", "qemu", f"{name}.xml")) as f:
            return f.read()

    def qemu_pid(self, name):
        try:
            with open(os.path.join(self.root, "run", "qemu", f"{name}.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def qemu_pids(self):
        return _qemu_pids(os.path.join(self.root, "run", "qemu"))

    def cleanup(self, timeout=10):
        """Kills the root's QEMUs (there is no daemon to destroy them) and
        takes new capability probes into the shared cache."""
        _live.discard(self)
        left = self.qemu_pids()
        _kill(left, signal.SIGKILL)
        left = _wait_gone(left, timeout)
        if os.path.isdir(self.caps_dir):
            self.caps.absorb(self.caps_dir)
        if left:
            raise RuntimeError(f"{self}: QEMU processes {left} survive SIGKILL")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.cleanup()
