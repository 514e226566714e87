"""Phases of a libvirt operation, from the timestamps in libvirtd's debug
log (the filters of vmilibvirt.DEFAULT_LOG_FILTERS: qemu, util.hook,
util.command), for bench/start_breakdown.py and bench/migrate_bench.py.

A phase is the time between two marks; a mark is the first log line at or
after a given one that matches a pattern. Hook runs are paired by thread:
libvirt logs "Calling hook ... op=OP subop=SUB" and, on the same thread,
"Result status" when the script has exited (its own fork and exec
included). Every timestamp is libvirtd's wall clock, to the millisecond;
other clocks (QEMU's -msg timestamp lines, a tool's events) are wall
clock too and are put on the same axis."""

import bisect
import datetime
import os
import re
import statistics
import subprocess
import sys
import threading
import time

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\+0000: (\d+): \w+ : (\S+) : (.*)$")
HOOK_CALL = re.compile(r"Calling hook \S+ id=\S+ op=(\S+) subop=(\S+)")
QEMU_MSG = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z (.*)$")


class Line:
    __slots__ = ("t", "tid", "func", "msg")

    def __init__(self, t, tid, func, msg):
        self.t, self.tid, self.func, self.msg = t, tid, func, msg


def _epoch(text, fmt):
    return datetime.datetime.strptime(text, fmt).replace(
        tzinfo=datetime.timezone.utc).timestamp()


def parse(text):
    """libvirtd's log lines with a timestamp (continuation lines dropped)."""
    out = []
    for raw in text.splitlines():
        m = LINE.match(raw)
        if m:
            out.append(Line(_epoch(m.group(1), "%Y-%m-%d %H:%M:%S.%f"), m.group(2),
                            m.group(3), m.group(4)))
    return out


def qemu_messages(text):
    """(wall time, text) of each line QEMU wrote with -msg timestamp=on."""
    out = []
    for raw in text.splitlines():
        m = QEMU_MSG.match(raw)
        if m:
            out.append((_epoch(m.group(1)[:26], "%Y-%m-%dT%H:%M:%S.%f"), m.group(2)))
    return out


def find(lines, pattern, after=None, tid=None):
    """The first line matching @pattern (a substring or a compiled
    regex), at or after time @after, on thread @tid if given; or None."""
    for ln in lines:
        if after is not None and ln.t < after:
            continue
        if tid is not None and ln.tid != tid:
            continue
        text = ln.func + " : " + ln.msg
        if (pattern.search(text) if hasattr(pattern, "search") else pattern in text):
            return ln
    return None


def hook_runs(lines):
    """[(\"OP SUBOP\", start, end)] of every hook script libvirt ran, in order.
    With several scripts in qemu.d a label repeats: one run per script."""
    runs = []
    for i, ln in enumerate(lines):
        m = HOOK_CALL.search(ln.msg)
        if not m:
            continue
        end = find(lines[i + 1:], "Result status", tid=ln.tid)
        if end:
            runs.append((f"{m.group(1)} {m.group(2)}", ln.t, end.t))
    return runs


def add_hooks(phases, lines, prefix="hook "):
    """Each hook run's duration into @phases (ms), under its label."""
    for label, start, end in hook_runs(lines):
        phases[prefix + label] = phases.get(prefix + label, 0) + (end - start) * 1000


def spans(phases, marks):
    """@marks: [(name, time or None)] in order; phase 'A -> B' between
    consecutive marks present, into @phases (ms)."""
    present = [(n, t) for n, t in marks if t is not None]
    for (a, ta), (b, tb) in zip(present, present[1:]):
        phases[f"{a} -> {b}"] = (tb - ta) * 1000


def table(columns, order=None, title="phase"):
    """Prints medians side by side: @columns is {name: [phases dict per
    round]}; with two columns, their difference too. Returns
    {phase: (median per column...)}."""
    names = list(columns)
    keys = list(order or [])
    for runs in columns.values():
        for ph in runs:
            keys += [k for k in ph if k not in keys]
    med = {}
    for k in keys:
        med[k] = tuple(statistics.median([ph[k] for ph in columns[n] if k in ph])
                       if any(k in ph for ph in columns[n]) else None for n in names)
    width = max([len(k) for k in keys] + [len(title)])
    head = f"| {title:{width}} |" + "".join(f" {n:>10} |" for n in names)
    if len(names) == 2:
        head += f" {'diff':>8} |"
    print(head)
    print("|" + "-" * (width + 2) + "|" + "------------|" * len(names)
          + ("----------|" if len(names) == 2 else ""))
    for k in keys:
        row = f"| {k:{width}} |" + "".join(
            f" {v:10.1f} |" if v is not None else f" {'-':>10} |" for v in med[k])
        if len(names) == 2:
            a, b = med[k]
            row += f" {a - b:+8.1f} |" if a is not None and b is not None else f" {'-':>8} |"
        print(row)
    return med


def differences(med, total_key, names, threshold_ms=2.0):
    """Prints the phases whose medians differ by more than @threshold_ms
    between the two columns, largest first, against the total's difference."""
    (a, b) = names
    total = med.get(total_key, (None, None))
    rows = [(k, v[0] - v[1]) for k, v in med.items()
            if k != total_key and v[0] is not None and v[1] is not None]
    rows = [r for r in rows if abs(r[1]) >= threshold_ms]
    rows.sort(key=lambda r: -abs(r[1]))
    if total[0] is not None and total[1] is not None:
        print(f"\n{total_key}: {a} {total[0]:.1f} ms, {b} {total[1]:.1f} ms, "
              f"difference {total[0] - total[1]:+.1f} ms; phases differing by "
              f">= {threshold_ms:.0f} ms (medians, so they need not add up):")
    for k, dv in rows:
        print(f"  {k:50} {dv:+8.1f} ms")
    if not rows:
        print("  none")


def run_under_reaper(build):
    """Runs this script again under the test suite's subreaper (built in
    @build), unless already there: QEMU is daemonized, and where PID 1
    reaps late (as on the project's machines) libvirt waits a second or
    two for each exited QEMU, a wait a host with systemd does not have
    and that would swamp the phases (the migration's Confirm waits for
    the source's QEMU to go)."""
    reaper = os.path.join(build, "tests", "vmi-test-reaper")
    if os.environ.get("VMI_BENCH_REAPED") or not os.access(reaper, os.X_OK):
        return
    os.environ["VMI_BENCH_REAPED"] = "1"
    os.execv(reaper, [reaper, sys.executable, *sys.argv])


VMID_SOCKET = "/run/libvirt-vmi/virt-vmid.sock"


def start_vmid(d, build, log=None, wait=True):
    """virt-vmid --foreground for @d (a LibvirtDaemon), in its namespace;
    --verbose into @log (an open file) when given. With @wait, returns
    once its socket is there. The caller stops it (stop_vmid)."""
    argv = [os.path.join(build, "src", "virt-vmid"), "-c", d.uri, "--foreground"]
    proc = d.popen_in_namespace(argv + (["--verbose"] if log else []),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log or subprocess.DEVNULL)
    while wait and not os.path.exists(d.host_path(VMID_SOCKET)):
        if proc.poll() is not None:
            raise RuntimeError(f"virt-vmid exited with {proc.returncode}")
        time.sleep(0.01)
    return proc


def stop_vmid(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        proc.wait()


# Free memory the kernel has handed back to its host (free page reporting),
# where its page_reporting module counts it (the project's Firecracker
# hosts): memory the next QEMU faults in must then come back from the host,
# which makes a migration's transfer several times slower (see
# bench/transfer_wait.py).
REPORTED = "/sys/module/page_reporting/parameters/reported_kib"


def reported_kib():
    """What the kernel has reported to its host so far (KiB), or None."""
    try:
        with open(REPORTED) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


class ReportedSampler:
    """reported_kib() every 20 ms in a thread, on the wall clock."""

    def __init__(self):
        self.times, self.values = [], []
        self.stopping = threading.Event()
        self.thread = None
        if reported_kib() is not None:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self):
        while not self.stopping.wait(0.02):
            self.times.append(time.time())
            self.values.append(reported_kib())

    def stop(self):
        self.stopping.set()
        if self.thread:
            self.thread.join()

    def _at(self, t):
        i = bisect.bisect_right(self.times, t) - 1
        return self.values[i] if i >= 0 else None

    def between(self, t0, t1):
        """KiB reported between wall times @t0 and @t1, or None."""
        a, b = (self._at(t) if t is not None else None for t in (t0, t1))
        return b - a if a is not None and b is not None else None
