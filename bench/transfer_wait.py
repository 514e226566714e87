#!/usr/bin/python3
"""The same live migration started after two different waits, interleaved.

Real QEMU 7.2 on both sides (no qemu-kvmi, no tool, no hold), set up as
libvirt 9.0 sets up a p2p migration: the destination with `-incoming
defer` and `migrate-incoming tcp:...`, the script connects the socket and
passes it to the source with `getfd`; capabilities events,
pause-before-switchover and return-path; `migrate-continue` at
pre-switchover. The only difference between the two kinds of round is how
long the pair has existed when `migrate` is sent (--waits A,B seconds,
after both QEMUs answer QMP): migrate_bench.py's introspected domain
starts its transfer the unhook's ~200 ms later than the plain one, and on
some hosts the guest RAM's first touch (the source reading every page,
the destination writing them) costs more the later it comes.

Prints, per wait, the medians of QEMU's own MIGRATION event times (source):
the transfer (active -> completed) and its last part (device ->
completed: with return-path the source waits there for the destination to
have loaded everything). Where the kernel counts the free memory it has
reported to its host (a page_reporting module with a reported_kib
parameter, as on the project's Firecracker hosts), also each migration's
transfer against how much had been reported between the previous pair's
exit and `migrate`, and the medians of both groups.

Usage: bench/transfer_wait.py [--rounds 8] [--waits 1.4,1.65]"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from vmitest import Qmp, QEMU, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(TOP, "bench"))
from breakdown import reported_kib  # noqa: E402

VM = ["-machine", "pc,accel=tcg", "-m", "64", "-nodefaults", "-display", "none"]
CAPS = ["events", "pause-before-switchover", "return-path"]


def qemu(tmp, tag, *extra):
    path = os.path.join(tmp, f"{tag}.qmp")
    proc = subprocess.Popen([QEMU, *VM, "-qmp", f"unix:{path},server=on,wait=off", *extra],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(path) or proc.poll() is not None, what=f"{tag}'s QMP")
    return proc, Qmp(path).negotiate()


def event_time(ev):
    return ev["timestamp"]["seconds"] + ev["timestamp"]["microseconds"] / 1e6


def migrate_once(tmp, wait, port):
    """One migration after @wait seconds; returns (transfer, switchover) in
    ms and the reported_kib() count when `migrate` was sent."""
    procs, mons = [], []
    try:
        for tag, extra in (("src", ()), ("dst", ("-incoming", "defer"))):
            proc, mon = qemu(tmp, tag, *extra)
            procs.append(proc)
            mons.append(mon)
        src, dst = mons
        caps = [{"capability": c, "state": True} for c in CAPS]
        src.ok("migrate-set-capabilities", {"capabilities": caps})
        src.ok("migrate-set-parameters", {"max-bandwidth": 1 << 40})
        dst.ok("migrate-set-capabilities", {"capabilities": [caps[0], caps[2]]})
        dst.ok("migrate-incoming", {"uri": f"tcp:127.0.0.1:{port}"})
        time.sleep(wait)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            rsp = src.cmd("getfd", {"fdname": "migrate"}, fds=[sock.fileno()])
            if "return" not in rsp:
                raise RuntimeError(f"getfd: {rsp}")
        reported = reported_kib()
        src.ok("migrate", {"uri": "fd:migrate", "detach": True, "resume": False})
        src.wait_event("MIGRATION", status="pre-switchover", timeout=60)
        src.ok("migrate-continue", {"state": "pre-switchover"})
        src.wait_event("MIGRATION", status="completed", timeout=60)
        at = {ev["data"]["status"]: event_time(ev) for ev in src.events
              if ev["event"] == "MIGRATION"}
        return ((at["completed"] - at["active"]) * 1000,
                (at["completed"] - at["device"]) * 1000), reported
    finally:
        for mon in mons:
            mon.close()
        for proc in procs:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--waits", default="1.4,1.65",
                    help="seconds between the pair's start and migrate, comma-separated")
    args = ap.parse_args()
    waits = [float(w) for w in args.waits.split(",")]
    results = {w: [] for w in waits}
    by_reported = {False: [], True: []}
    tmp = tempfile.mkdtemp(prefix="vmi-transfer-wait-")
    try:
        port = 49500 + os.getpid() % 400
        after_exit = None
        for r in range(args.rounds):
            # both orders alike: the first of a round must not always be one wait
            for w in waits if r % 2 == 0 else reversed(waits):
                times, at_migrate = migrate_once(tmp, w, port)
                port += 1
                results[w].append(times)
                if after_exit is not None and at_migrate is not None:
                    mib = (at_migrate - after_exit) // 1024
                    by_reported[mib > 0].append(times[0])
                    print(f"wait {w:5.2f} s: transfer {times[0]:4.0f} ms, reported to the "
                          f"host since the previous pair's exit {mib} MiB")
                after_exit = reported_kib()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for rep, label in ((False, "nothing reported"), (True, "memory reported")):
        if by_reported[rep]:
            print(f"{label} before migrate: transfer median "
                  f"{statistics.median(by_reported[rep]):.0f} ms (n={len(by_reported[rep])})")
    for w in waits:
        cols = list(zip(*results[w]))
        print(f"wait {w:5.2f} s: transfer median {statistics.median(cols[0]):6.0f} ms "
              f"{[round(x) for x in cols[0]]}; device -> completed median "
              f"{statistics.median(cols[1]):5.0f} ms (n={len(cols[0])})")


if __name__ == "__main__":
    main()
