#!/usr/bin/python3
"""Live migration with introspection against the same VM without, on two
real libvirtd on this host, interleaved in one run.

Two product daemons (hook installed, as the integration tests set them
up); the example VM with the element and its key (a tool that unhooks
UNHOOK_DELAY_MS after the UNHOOK event, listening at each daemon's socket)
and the same VM without the element (same emulator), each migrated back
and forth with a p2p live migration through the API (python3-libvirt:
no client process start-up in the figures). Goal: with introspection at
most the plain migration + the tool's unhook delay + 25 ms.

Usage (as root, after scripts/setup-host.sh):
  bench/migrate_bench.py [--rounds N] [--build DIR]
Prints a table; bench/RESULTS.md keeps the figures of a run."""

import argparse
import os
import statistics
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

UNHOOK_DELAY_MS = 200
TOOL_DIR = "/var/lib/libvirt/vmi-tool"      # private to each daemon
SOCK = TOOL_DIR + "/bench.sock"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    args = ap.parse_args()
    os.environ["VMI_BUILD_DIR"] = os.path.abspath(args.build)
    import vmilibvirt as vl
    import vmiproduct as vp
    import libvirt  # python3-libvirt

    tmp = tempfile.TemporaryDirectory(prefix="vmi-migrate-bench-")
    a = vp.product_daemon("bench-a", emulators=[vl.QEMU, *vp.emulators()])
    b = vp.product_daemon("bench-b", emulators=[vl.QEMU, *vp.emulators()])
    tool = None
    try:
        for d in (a, b):
            os.makedirs(d.host_path(TOOL_DIR), exist_ok=True)
            os.chmod(d.host_path(TOOL_DIR), 0o755)
        key = vp.printable_key()
        keyfile = os.path.join(tmp.name, "key")
        with open(keyfile, "wb") as f:
            f.write(key)
        secret = a.define_secret(key, usage_type="tls", usage_name="vmi-migrate-bench")
        b.define_secret(key, uuid=secret, usage_type="tls", usage_name="vmi-migrate-bench")
        tool = vp.tool(None, a.host_path(SOCK), "--listen", "unix:" + b.host_path(SOCK),
                       "--unhook-delay", str(UNHOOK_DELAY_MS), key_file=keyfile)
        a.define_domain("vmi", emulator=vp.domain_emulator(),
                        metadata=vp.element(SOCK, reconnect=1, key=secret))
        vp.virt_vmi(a, "sync", "vmi", check=True)
        a.define_domain("plain", emulator=vp.domain_emulator())
        for name in ("vmi", "plain"):
            a.virsh("start", name, timeout=120)
        tool.wait_for("hooked", timeout=60)

        conns = {d: libvirt.open(d.uri) for d in (a, b)}
        where = {"vmi": a, "plain": a}
        times = {"vmi": [], "plain": []}
        flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
        for _ in range(args.rounds):
            for name in ("vmi", "plain"):       # interleaved
                src = where[name]
                dst = b if src is a else a
                if name == "vmi":               # hooked again before each run
                    vp.wait_until(lambda: "connected (" in vp.virt_vmi(
                        src, "status", "vmi").stdout, 30, "the tool hooked")
                dom = conns[src].lookupByName(name)
                t = time.monotonic()
                dom.migrateToURI3(dst.uri, {}, flags)
                times[name].append(time.monotonic() - t)
                where[name] = dst
        for name in ("vmi", "plain"):
            ms = [x * 1000 for x in times[name]]
            print(f"{name:6s} median {statistics.median(ms):8.1f} ms  "
                  f"min {min(ms):8.1f}  max {max(ms):8.1f}  (n={len(ms)})")
        extra = statistics.median(times["vmi"]) * 1000 - statistics.median(times["plain"]) * 1000
        print(f"with introspection: +{extra:.1f} ms, of which the tool's unhook delay "
              f"{UNHOOK_DELAY_MS} ms: +{extra - UNHOOK_DELAY_MS:.1f} ms beyond it "
              f"(goal: <= 25 ms)")
    finally:
        if tool:
            tool.stop()
        vl.stop_all(a, b)
        tmp.cleanup()


if __name__ == "__main__":
    main()
