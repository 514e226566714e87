"""The shared harness of the integration tests (Python 3 stdlib only).

- VmiTestCase: a unittest.TestCase with a private temporary directory and
  cleanups that run even when a test fails: every process a test starts is
  killed, every socket closed, the directory removed.
- Emulator: qemu-kvmi (tools/kvmi-emulator) around the real QEMU 7.2, with a
  small VM (KVM, 64 MiB, no disk, no NIC) and its stderr in a log file.
- Qmp: a QMP client (events collected, replies matched by order or id).
- Tool: the reference tool vmi-tool (vmitool.Tool).
- RawTool / RawConn: a tool written byte by byte with kvmi_wire, for what
  vmi-tool will not do (short data, bad cookies, odd KVMI messages).

Environment: VMI_BUILD_DIR, VMI_SOURCE_DIR, and VMI_TEST_WRAPPER (see
vmiwrap: valgrind...), put before qemu-kvmi and vmi-tool once per kind of
run. Under a wrapper, waits grow; the emulator's log is always checked for
the reports of valgrind and the sanitizers.
"""

import json
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SOURCE_DIR = os.environ.get('VMI_SOURCE_DIR',
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
BUILD_DIR = os.environ.get('VMI_BUILD_DIR', os.path.join(SOURCE_DIR, 'build'))
sys.path.insert(0, os.path.join(SOURCE_DIR, 'tests', 'lib'))

import kvmi_wire as kw  # noqa: E402
import vmiwrap as vw  # noqa: E402
from vmitool import TOOL, Tool  # noqa: E402,F401
# The tests use vt.SLOW, vt.WAIT and vt.quiet_period()
SLOW, WAIT, quiet_period = vw.SLOW, vw.WAIT, vw.quiet_period

EMULATOR = os.path.join(BUILD_DIR, 'tools', 'kvmi-emulator', 'qemu-kvmi')
QEMU = '/usr/bin/qemu-system-x86_64'

GUEST_UUID = 'c7a5fdbd-cdaf-9455-926a-d65c16db1809'
GUEST_NAME = 'vm1'
# A line of QEMU's error_report() with -msg timestamp=on
TIMESTAMP_RE = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z'


def emulator_command(args, kind=None):
    """qemu-kvmi with @args, under the test wrapper: every time, or with
    @kind (what makes this run take a path of its own: the commands the
    test drives it with, the error it must report...) for the first run of
    that kind in the test process only (vmiwrap.wrap_once). Without one
    every run is its own kind: a test must say when its run repeats
    another's path."""
    cmd = [EMULATOR] + list(args)
    return vw.wrap(cmd) if kind is None else vw.wrap_once(('qemu-kvmi', kind), cmd)


def wait_for(predicate, timeout=WAIT, interval=0.02, what='condition'):
    """Polls @predicate until it returns something true; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}')
        time.sleep(interval)


def processes_mentioning(text, tools=False):
    """Pids of the processes whose command line contains @text (vmi-tool's
    ones only if @tools)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmdline = f.read()
        except OSError:
            continue
        if text.encode() in cmdline and (tools or TOOL.encode() not in cmdline):
            pids.append(int(entry))
    return pids


def exe_of(pid):
    try:
        return os.readlink(f'/proc/{pid}/exe')
    except OSError:
        return None


class LineReader:
    """Reads lines from a file object in a thread; take() them with a timeout."""

    def __init__(self, fileobj):
        self.queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(fileobj,), daemon=True)
        self.thread.start()

    def _run(self, fileobj):
        try:
            for line in fileobj:
                self.queue.put(line)
        except (OSError, ValueError):
            pass
        self.queue.put(None)

    def take(self, timeout):
        """The next line; None at EOF; raises queue.Empty on timeout."""
        return self.queue.get(timeout=timeout)


# ---------------------------------------------------------------------------
# QMP
# ---------------------------------------------------------------------------

class QmpError(Exception):
    pass


class Qmp:
    """A QMP client on a unix socket (or on a connected socket / pipes)."""

    def __init__(self, path=None, sock=None, rfile=None, wfile=None, timeout=WAIT):
        self.timeout = timeout
        self.sock = sock
        if path is not None:
            self.sock = wait_for(lambda: self._connect(path), timeout, what=f'QMP at {path}')
        if self.sock is not None:
            rfile = self.sock.makefile('r', encoding='utf-8')
            wfile = self.sock.makefile('w', encoding='utf-8')
        self.rfile, self.wfile = rfile, wfile
        self.reader = LineReader(rfile)
        self.events = []            # every event, in order
        self.pending = []           # responses not yet taken
        self.next_id = 0
        self.greeting = self._next_message()
        if 'QMP' not in self.greeting:
            raise QmpError(f'no greeting: {self.greeting}')

    @staticmethod
    def _connect(path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            return None

    def close(self):
        # the reader thread holds the file's lock: end it with EOF first
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.reader.thread.join(WAIT)
        for f in (self.wfile, self.rfile):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        if self.sock is not None:
            self.sock.close()

    def _next_message(self, timeout=None):
        line = self.reader.take(self.timeout if timeout is None else timeout)
        if line is None:
            raise EOFError('QMP connection closed')
        return json.loads(line)

    def _pump(self, timeout):
        """Reads one message into events or pending; False on timeout."""
        try:
            msg = self._next_message(timeout)
        except queue.Empty:
            return False
        if 'event' in msg:
            self.events.append(msg)
        else:
            self.pending.append(msg)
        return True

    def send_raw(self, text, fds=()):
        """Sends @text as is (with SCM_RIGHTS @fds, on a socket)."""
        self.wfile.flush()
        if fds:
            socket.send_fds(self.sock, [text.encode()], list(fds))
        else:
            self.wfile.write(text)
            self.wfile.flush()

    def send(self, execute, arguments=None, ident=None, fds=()):
        """Sends a command; returns its id (for response())."""
        if ident is None:
            self.next_id += 1
            ident = f'cmd-{self.next_id}'
        msg = {'execute': execute, 'id': ident}
        if arguments is not None:
            msg['arguments'] = arguments
        self.send_raw(json.dumps(msg) + '\n', fds)
        return ident

    def response(self, ident, timeout=None):
        """The response with @ident (raises TimeoutError if none in time)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for msg in self.pending:
                if msg.get('id') == ident:
                    self.pending.remove(msg)
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'no response to {ident}')
            self._pump(left)

    def next_response(self, timeout=None):
        """The next response, whatever its id."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no response')
            self._pump(left)
        return self.pending.pop(0)

    def cmd(self, execute, arguments=None, timeout=None, fds=()):
        """Runs a command; returns the whole response ({'return'...} or {'error'...})."""
        return self.response(self.send(execute, arguments, fds=fds), timeout)

    def ok(self, execute, arguments=None, timeout=None):
        """Runs a command that must succeed; returns its "return"."""
        rsp = self.cmd(execute, arguments, timeout)
        if 'return' not in rsp:
            raise QmpError(f'{execute}: {rsp}')
        return rsp['return']

    def error(self, execute, arguments=None, timeout=None):
        """Runs a command that must fail; returns its error "desc"."""
        rsp = self.cmd(execute, arguments, timeout)
        if 'error' not in rsp:
            raise QmpError(f'{execute} did not fail: {rsp}')
        return rsp['error']['desc']

    def negotiate(self):
        self.ok('qmp_capabilities')
        return self

    def wait_event(self, name, timeout=None, since=0, **data):
        """The first event @name (at index >= @since) whose data has @data."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for ev in self.events[since:]:
                if ev['event'] == name and all(ev.get('data', {}).get(k) == v
                                               for k, v in data.items()):
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'no {name} event with {data}; events: {self.events}')
            self._pump(left)

    def drain(self, duration):
        """Reads whatever comes for @duration seconds."""
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            self._pump(max(0.0, deadline - time.monotonic()))

    def event_names(self):
        return [ev['event'] for ev in self.events]


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

class Emulator:
    """qemu-kvmi running a small VM; see VmiTestCase.start_emulator()."""

    def __init__(self, testcase, argv, env, log, qmp_paths, pass_fds=(), stdin=None,
                 stdout=None):
        self.testcase = testcase
        self.argv = argv
        self.log_path = log
        self.qmp_paths = qmp_paths
        self.logfile = open(log, 'w+')
        self.proc = subprocess.Popen(argv, env=env, stdin=stdin or subprocess.DEVNULL,
                                     stdout=stdout or subprocess.DEVNULL, stderr=self.logfile,
                                     pass_fds=pass_fds)
        self.pid = self.proc.pid
        # How much longer this emulator's relay takes to do anything
        self.slow = vw.slowness(argv)
        self.monitors = {}
        # what only this emulator's processes (QEMU, the relay) have in argv
        self.marker = qmp_paths[0] if qmp_paths else testcase.tmpdir
        testcase.addCleanup(self.kill)

    def qmp(self, index=0, negotiate=True):
        """A new client on the @index-th -qmp socket (one client at a time:
        close the previous one first)."""
        mon = Qmp(self.qmp_paths[index])
        self.testcase.addCleanup(mon.close)
        self.monitors[index] = mon
        return mon.negotiate() if negotiate else mon

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def vmi_lines(self):
        """The "VMI: ..." messages, prefixes stripped, in order."""
        return [re.sub(r'^.*?(VMI: )', r'\1', line)
                for line in self.log().splitlines() if 'VMI: ' in line]

    def wait_log(self, pattern, timeout=WAIT, count=1):
        """Waits until @pattern (a regex) matched @count lines; returns the last match."""
        def found():
            matches = [m for m in (re.search(pattern, line) for line in self.log().splitlines())
                       if m]
            return matches[count - 1] if len(matches) >= count else None
        try:
            return wait_for(found, timeout, what=f'log line {pattern!r}')
        except AssertionError:
            raise AssertionError(f'no log line {pattern!r} (x{count}); log:\n{self.log()}')

    def wait_exit(self, timeout=WAIT):
        return self.proc.wait(timeout=timeout)

    def quit(self, mon=None):
        """Ends QEMU through QMP and checks that nothing stays behind."""
        if mon is None:
            mon = self.monitors.get(0)
            if mon is None or mon.reader.thread.is_alive() is False:
                mon = self.qmp()
        mon.send('quit')
        rc = self.wait_exit()
        mon.close()
        self.check_gone()
        return rc

    def check_gone(self):
        """The relay process goes with QEMU (no orphans)."""
        wait_for(lambda: not processes_mentioning(self.marker), WAIT,
                 what="the emulator's processes to exit")
        # The relay's exit status reaches no one: its reports do
        vw.check_reports(self.testcase, self.log(), "the emulator's log")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in processes_mentioning(self.marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.logfile.close()


class RawConn:
    """One connection accepted by RawTool: QEMU's introspection socket."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(WAIT)
        self.seq = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def recv_handshake(self):
        """QEMU's handshake: (parsed, raw bytes)."""
        head = kw.recv_exact(self.sock, 4)
        (size,) = struct.unpack('=I', head)
        raw = head + kw.recv_exact(self.sock, size - 4)
        return kw.unpack_qemu_handshake(raw), raw

    def send_reply(self, key=None, **kwargs):
        cookie = kw.cookie_hash(key) if key is not None else bytes(kw.COOKIE_HASH_SIZE)
        self.sock.sendall(kw.pack_tool_reply(cookie, **kwargs))

    def handshake(self, key=None):
        hs, raw = self.recv_handshake()
        self.send_reply(key)
        return hs

    def request(self, msg_id, payload=b''):
        """Sends a KVMI message; returns (hdr, error code, payload) of its reply."""
        self.seq += 1
        self.sock.sendall(kw.pack_message(msg_id, self.seq, payload))
        while True:
            hdr, body = kw.recv_message(self.sock)
            if hdr.id != kw.KVMI_EVENT:
                break
        assert hdr.id == msg_id and hdr.seq == self.seq, (hdr, msg_id, self.seq)
        ec = kw.unpack_error_code(body)
        return hdr, -ec.err, body[kw.ERROR_CODE_SIZE:]

    def expect_eof(self, timeout=WAIT):
        """True if the peer closes within @timeout (data before it is dropped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True
        finally:
            self.sock.settimeout(WAIT)


class RawTool:
    """A listening unix socket that plays the tool by hand."""

    def __init__(self, testcase, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        testcase.addCleanup(self.close)
        self.conns = []

    def accept(self, timeout=WAIT):
        self.sock.settimeout(timeout)
        sock, _ = self.sock.accept()
        conn = RawConn(sock)
        self.conns.append(conn)
        return conn

    def no_connection(self, duration):
        """True if nobody connects within @duration seconds."""
        self.sock.settimeout(duration)
        try:
            sock, _ = self.sock.accept()
        except (socket.timeout, TimeoutError):
            return True
        self.conns.append(RawConn(sock))
        return False

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()


# ---------------------------------------------------------------------------
# The test case
# ---------------------------------------------------------------------------

# The guest's accelerator: KVM where this host has it. Where it has not,
# qemu-kvmi's default (--kvmi-kvm=tcg) lets a TCG guest stand in for a KVM
# one, so that every test of a hooked guest runs on any host.
HOST_ACCEL = 'kvm' if os.access('/dev/kvm', os.R_OK | os.W_OK) else 'tcg'
# A guest without KVM on every host: TCG, with the emulator told to take
# KVM from the host alone (as the real KVMI QEMU does).
NO_KVM = 'no-kvm'


class VmiTestCase(unittest.TestCase):
    """A test with its own temporary directory and guaranteed cleanups."""

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix='vmitest-')
        self.addCleanup(shutil.rmtree, self.tmpdir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmpdir, name)

    def emulator_argv(self, *extra, machine='pc', memory='64', name=GUEST_NAME,
                      guest_uuid=GUEST_UUID, accel=HOST_ACCEL, qmp_sockets=1, options=(),
                      tag='', kind=None):
        """qemu-kvmi's command line for a small VM (see emulator_command()
        for @kind) and its QMP socket paths (named after @tag, for more than
        one VM). @accel: HOST_ACCEL, NO_KVM or QEMU's accelerator list."""
        qmp_paths = [self.path(f'{tag}qmp{i}.sock') for i in range(qmp_sockets)]
        args = list(options)
        if accel == NO_KVM:
            args.append('--kvmi-kvm=host')
            accel = 'tcg'
        args += ['-machine', f'{machine},accel={accel}', '-m', memory, '-nodefaults',
                 '-display', 'none', '-msg', 'timestamp=on']
        if name:
            args += ['-name', f'guest={name},debug-threads=on']
        if guest_uuid:
            args += ['-uuid', guest_uuid]
        for path in qmp_paths:
            args += ['-qmp', f'unix:{path},server=on,wait=off']
        return emulator_command(args + list(extra), kind), qmp_paths

    def start_emulator(self, *extra, env=None, pass_fds=(), wait_qmp=True, **kwargs):
        """Starts qemu-kvmi; extra arguments are QEMU's (or its own options)."""
        argv, qmp_paths = self.emulator_argv(*extra, **kwargs)
        full_env = dict(os.environ)
        full_env.update(env or {})
        emu = Emulator(self, argv, full_env, self.path(f'emulator{len(self._emulators())}.log'),
                       qmp_paths, pass_fds=pass_fds)
        self._emulators().append(emu)
        if wait_qmp and qmp_paths:
            wait_for(lambda: os.path.exists(qmp_paths[0]) or emu.proc.poll() is not None,
                     what='the QMP socket')
        return emu

    def _emulators(self):
        if not hasattr(self, '_emus'):
            self._emus = []
        return self._emus

    def run_emulator(self, *extra, env=None, timeout=WAIT, input=None, options=(), **kwargs):
        """Runs qemu-kvmi to its end (for the checks that stop it at once):
        returns (exit status, stdout, stderr)."""
        argv, _ = self.emulator_argv(*extra, qmp_sockets=0, options=options, **kwargs)
        full_env = dict(os.environ)
        full_env.update(env or {})
        res = vw.run(argv, env=full_env, input=input, timeout=timeout)
        return res.returncode, res.stdout, res.stderr

    def start_tool(self, name='vmi.sock', *args):
        return Tool(self, self.path(name), *args)

    def raw_tool(self, name='vmi.sock'):
        return RawTool(self, self.path(name))

    def introspection_args(self, sock='vmi.sock', reconnect=1, chardev='vmic', obj_id='vmi0',
                           repeated=(), **props):
        """-chardev + -object introspection for a tool on @sock; @repeated:
        (key, value) pairs, for keys given more than once."""
        opts = ''.join(f',{k}={v}' for k, v in list(props.items()) + list(repeated))
        return ['-chardev', f'socket,id={chardev},path={self.path(sock)},reconnect={reconnect}',
                '-object', f'introspection,id={obj_id},chardev={chardev}{opts}']


def main():
    unittest.main(verbosity=2)
