"""The reference tool vmi-tool as every test runs it: listening on a unix
socket, under the test wrapper once per kind of run (vmiwrap.wrap_once),
its JSON lines read by a thread and checked one by one: each must be a JSON
object with "event" and "conn".

    tool = Tool(self, path, '--unhook-delay', '300')   # waits for 'listening'
    tool.expect('handshake', conn=1)     # the first unread line that matches
    tool.wait_for('ready', count=2)      # the 2nd matching line of all so far
    tool.stop()                          # also at the test's cleanup

Two ways to wait, on one object: expect() consumes the lines it returns
(and absent() sets aside those already read), for tests that follow a
session step by step; wait_for() and events() look at every line, for
tests that count. Every line carries "_t", when the test saw it.
"""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import vmiwrap as vw

BUILD_DIR = os.environ.get('VMI_BUILD_DIR', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         '..', '..', 'build'))
TOOL = os.path.join(BUILD_DIR, 'tools', 'vmi-tool', 'vmi-tool')


class Tool:
    """vmi-tool started for @testcase, stopped at its cleanup (without
    one, as in a benchmark, the caller calls stop()).

    @path: the unix socket it listens on (with @listen; without, @args give
    the --listen); @key_file: its option of that name; @key_hash: the
    cookie in hex, given on a pipe (--key-hash-file /dev/stdin), never argv.
    Under the wrapper, each kind of run goes under it once per test process:
    the options given, plus @kind (what else makes this run take its own
    path: an error class, a scenario) if not None. @wait: return once it
    listens (its 'listening' line consumed)."""

    def __init__(self, testcase, path, *args, listen=True, key_file=None, key_hash=None,
                 kind=None, wait=True):
        self.path = path
        argv = [TOOL] + (['--listen', 'unix:' + path] if listen else [])
        argv += ['--key-file', key_file] if key_file else []
        argv += ['--key-hash-file', '/dev/stdin'] if key_hash else []
        argv += [str(a) for a in args]
        self.argv = vw.wrap_once(('vmi-tool', *vw.option_names(argv[1:]), kind), argv)
        # How much longer this tool takes to show what it does
        self.slow = vw.slowness(self.argv)
        self.stderr = tempfile.TemporaryFile(mode='w+')
        self._stderr_text = None
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.PIPE if key_hash else None, text=True)
        if key_hash:
            self.proc.stdin.write(key_hash + '\n')
            self.proc.stdin.close()
        self.lines = []         # every line, in order
        self._bad = []          # what was not a JSON object with "event" and "conn"
        self._eof = False
        self._cond = threading.Condition()
        self._cursor = 0        # lines[:_cursor] have been read by expect()
        self._unread = []       # read by expect() but not returned
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if testcase:
            testcase.addCleanup(self.stop)
        if wait:
            self.listening()

    def _read(self):
        for text in self.proc.stdout:
            try:
                line = json.loads(text)
            except ValueError:
                line = None
            with self._cond:
                if isinstance(line, dict) and 'event' in line and 'conn' in line:
                    line['_t'] = time.monotonic()
                    self.lines.append(line)
                else:
                    self._bad.append(text)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _check_lines(self):
        # The reader thread cannot fail the test: the next look at the
        # lines does
        if self._bad:
            raise AssertionError(f'vmi-tool printed what is not a JSON object with "event" '
                                 f'and "conn": {self._bad}')

    def _matches(self, line, event, fields):
        return ((event is None or line['event'] == event)
                and all(line.get(k) == v for k, v in fields.items()))

    def _next(self, timeout):
        """The next line expect() has not read; None at EOF; raises
        TimeoutError if none comes within @timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._cursor < len(self.lines) or self._eof,
                                       timeout):
                raise TimeoutError
            self._check_lines()
            if self._cursor == len(self.lines):
                return None
            self._cursor += 1
            return self.lines[self._cursor - 1]

    def expect(self, event, timeout=vw.WAIT, **fields):
        """The first unread line of @event whose fields equal @fields."""
        deadline = time.monotonic() + timeout
        eof = False
        while True:
            self._check_lines()
            for line in self._unread:
                if self._matches(line, event, fields):
                    self._unread.remove(line)
                    return line
            left = deadline - time.monotonic()
            if eof or left <= 0:
                raise AssertionError(f'no {event} line with {fields}; lines: {self.lines}; '
                                     f'stderr: {self.read_stderr()}')
            try:
                line = self._next(left)
            except TimeoutError:
                continue
            eof = line is None
            if line is not None:
                self._unread.append(line)

    def listening(self, timeout=vw.WAIT):
        return self.expect('listening', timeout=timeout)

    def absent(self, event, duration, **fields):
        """Asserts that no new @event line comes within @duration seconds
        (the lines expect() has already read are set aside)."""
        self._unread.clear()
        try:
            line = self.expect(event, timeout=duration, **fields)
        except AssertionError:
            self._check_lines()
            return
        raise AssertionError(f'unexpected {event} line: {line}')

    def events(self, event=None, since=None, **fields):
        """The lines so far (with @event and @fields; seen at or after
        time.monotonic() @since)."""
        with self._cond:
            self._check_lines()
            return [ln for ln in self.lines if self._matches(ln, event, fields)
                    and (since is None or ln['_t'] >= since)]

    def wait_for(self, event, timeout=vw.WAIT, count=1, since=None, **fields):
        """Waits until @count lines match (see events()); returns the last one. Raises
        AssertionError with everything seen on timeout or when the tool
        ends first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.events(event, since, **fields)
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = (f'exited {self.proc.poll()} before' if self._eof
                           else f'no {count}x in {timeout} s:')
                    raise AssertionError(f'vmi-tool {why} {event} {fields}; seen: {self.lines}; '
                                         f'stderr: {self.read_stderr()}')
                self._cond.wait(left)

    def read_stderr(self):
        if self.stderr.closed:
            return self._stderr_text
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()

    def wait(self, timeout=vw.WAIT):
        """Waits for the tool to exit and for its last lines; returns its
        exit status."""
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        self._check_lines()
        return rc

    def terminate(self):
        """SIGTERM; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def stop(self, timeout=10):
        """SIGTERM (SIGKILL after @timeout seconds, longer under the
        wrapper); returns the exit status. Fails if valgrind or a sanitizer
        reported anything, or if a line was not a JSON object: most tests
        never look at the tool's exit status. Safe to call more than once."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout * self.slow)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(vw.WAIT)
        if not self._reader.is_alive():
            self.proc.stdout.close()
        if not self.stderr.closed:
            self._stderr_text = self.read_stderr()
            self.stderr.close()
            self._check_lines()
            vw.check_run(self.argv, self.proc.returncode, self._stderr_text)
        return self.proc.returncode

    def output(self):
        """Everything the tool printed (to search for a key)."""
        with self._cond:
            return '\n'.join(json.dumps({k: v for k, v in ln.items() if k != '_t'})
                             for ln in self.lines) + self.read_stderr()
