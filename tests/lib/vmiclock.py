"""QEMU's own clock, for windows that must not depend on when a test or a
benchmark happens to look: the time stamps of QEMU's QMP events (STOP,
RESUME, RESET) and of its domain log lines (-msg timestamp=on, which
libvirt always passes; the emulator's lines carry the same stamps).

    events = QmpEvents(d, testcase)          # before the operations
    ...
    stop = events.wait("guest", "STOP", 1)  # seconds since the epoch
    hooked = hooked_times(current_run(d.domain_log("guest")))

Used by tests/integration/test_libvirt_required.py and
bench/required_bench.py.
"""

import datetime
import os
import re
import signal
import subprocess
import time

import vmilibvirt as vl
from vmiproduct import wait_until
from vmiwrap import SLOW

QMP_EVENT = re.compile(r"event (\w+) at (\d+)\.(\d+) for domain '([^']+)'(?:: (.*))?")
# libvirt's first line of every run of a domain's QEMU
RUN_MARK = ": starting up "


class QmpEvents:
    """@names (by default STOP, RESUME and RESET) of every domain of @d (a
    LibvirtDaemon), with QEMU's time stamps, from `virsh qemu-monitor-event
    --loop` in its namespace. Stopped at @testcase's cleanup, or by stop()."""

    def __init__(self, d, testcase=None, names=("STOP", "RESUME", "RESET")):
        self.path = os.path.join(d.dir, f"qmp-events-{time.monotonic_ns()}.txt")
        self._out = open(self.path, "w")
        self.proc = d.popen_in_namespace([vl.VIRSH, "-c", d.uri, "qemu-monitor-event",
                                          "--loop", "--regex", "--event",
                                          f"^({'|'.join(names)})$"],
                                         stdin=subprocess.DEVNULL, stdout=self._out,
                                         stderr=subprocess.STDOUT)
        if testcase is not None:
            testcase.addCleanup(self.stop)
        # registered once virsh has connected: give it the time to
        time.sleep(1 * SLOW)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()

    def _matches(self, name):
        self._out.flush()
        with open(self.path) as f:
            return [m for m in QMP_EVENT.finditer(f.read()) if m[4] == name]

    def events(self, name):
        """[(event, seconds since the epoch on QEMU's clock)] of domain @name."""
        return [(m[1], int(m[2]) + int(m[3]) / 1e6) for m in self._matches(name)]

    def data(self, name, event):
        """The data (as virsh prints it) of every @event of domain @name."""
        return [m[5] for m in self._matches(name) if m[1] == event]

    def times(self, name, event):
        """QEMU's time stamps of every @event of domain @name, in order."""
        return [t for e, t in self.events(name) if e == event]

    def wait(self, name, event, count, timeout=30):
        """The time stamp of the @count-th @event of @name, once there."""
        wait_until(lambda: len(self.times(name, event)) >= count, timeout * SLOW,
                   f"{count}x {event} of {name}: {self.events(name)}")
        return self.times(name, event)[count - 1]


def log_time(line):
    """QEMU's time stamp of a domain log line (-msg timestamp=on)."""
    stamp = line.split(" ", 1)[0]
    return datetime.datetime.strptime(stamp[:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def current_run(log):
    """A domain log's text from its last run's "starting up" line on."""
    return log[log.rindex(RUN_MARK):]


def line_times(run, text):
    """QEMU's time stamps of the lines of @run (a log's text) holding @text."""
    return [log_time(ln) for ln in run.splitlines() if text in ln]


def hooked_times(run):
    """QEMU's time stamps of "VMI: machine hooked" in @run."""
    return line_times(run, "VMI: machine hooked")


def unmonitored(events, hooked, lost=(), end=None, running=False, tool=False):
    """Seconds the vCPUs ran with no tool hooked, from QEMU's time stamps:
    @events [(STOP|RESUME|RESET, t)] of one run, @hooked the times QEMU
    hooked, @lost the times it lost the tool (disconnect, reset), @end when
    to stop counting (None: the last mark); @running and @tool: the state
    before the first mark. The vCPUs run from a RESUME to the next STOP;
    the tool is hooked from a hook to the next loss."""
    marks = sorted([(t, "vcpus", e != "STOP") for e, t in events if e in ("STOP", "RESUME")]
                   + [(t, "tool", True) for t in hooked]
                   + [(t, "tool", False) for t in lost])
    since = None
    total = 0.0
    for t, what, on in marks:
        if running and not tool and since is not None:
            total += t - since
        if what == "vcpus":
            running = on
        else:
            tool = on
        since = t
    if end is not None and running and not tool and since is not None:
        total += max(0.0, end - since)
    return total
