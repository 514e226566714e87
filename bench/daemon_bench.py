#!/usr/bin/python3
"""virt-vmid's cost at scale, on a real libvirtd.

- start-up: DOMAINS persistent domains carry the element, all out of step
  (defined with the element only, as an API client would): from the
  daemon's start until every one is in step (goal: < 2 s for 500);
- its resident memory then (goal: < 30 MB);
- a metadata change (`virDomainSetMetadata`) until the definition holds the
  new arguments, over EDITS edits (goal: p99 < 50 ms);
- a tool's connect and disconnect until the daemon's status shows it, on
  RUNNING running guests under the KVMI emulator (goal: p99 < 20 ms);
- CPU time the daemon uses while nothing happens (goal: none: no polling).

Usage (as root, after scripts/setup-host.sh):
    bench/daemon_bench.py [--domains 500] [--running 5] [--edits 100] [--build DIR]
Prints a table; bench/RESULTS.md keeps the figures of a run."""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmitool  # noqa: E402
import libvirt  # noqa: E402  (python3-libvirt)

NS = "http://libvirt-vmi.org/schemas/introspection/1.0"
SOCKET = "/run/libvirt-vmi/virt-vmid.sock"


def element(sock, reconnect=1):
    return (f"<vmi:introspection xmlns:vmi='{NS}'><vmi:source type='unix' path='{sock}'/>"
            f"<vmi:reconnect timeout='{reconnect}'/></vmi:introspection>")


def metadata(sock, reconnect):
    """The element as virDomainSetMetadata takes it: libvirt adds the prefix."""
    return (f"<introspection xmlns='{NS}'><source type='unix' path='{sock}'/>"
            f"<reconnect timeout='{reconnect}'/></introspection>")


def status(d):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(d.host_path(SOCKET))
        s.sendall(b"status\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def p99(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def proc_stat(pid):
    """(resident KiB, CPU seconds) of @pid."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


def vmid_pid(d):
    with open(d.host_path("/run/libvirt-vmi/virt-vmid.pid")) as f:
        return int(f.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=500)
    ap.add_argument("--running", type=int, default=5)
    ap.add_argument("--edits", type=int, default=100)
    ap.add_argument("--build", default=os.path.join(TOP, "build"), type=os.path.abspath)
    args = ap.parse_args()

    virt_vmid = os.path.join(args.build, "src", "virt-vmid")
    hook = os.path.join(args.build, "src", "libvirt-vmi-hook")
    emulator = os.path.join(args.build, "tools", "kvmi-emulator", "qemu-kvmi")
    vmitool.TOOL = os.path.join(args.build, "tools", "vmi-tool", "vmi-tool")
    os.environ.setdefault("VMI_BUILD_DIR", args.build)

    d = vl.LibvirtDaemon("daemonbench", emulators=[emulator])
    vmid = None
    tools = []
    try:
        d.add_exec_hook("50-libvirt-vmi", [hook])
        vl._write(d.host_path("/etc/libvirt-vmi/libvirt-vmi.conf"), f"[hook]\nuri={d.uri}\n")
        d.start()
        conn = libvirt.open(d.uri)
        socks = {}
        for i in range(args.domains):
            name = f"g{i:04d}"
            socks[name] = os.path.join(d.dir, f"{name}.sock")
            conn.defineXML(vl.domain_xml(name, emulator=emulator,
                                         metadata=element(socks[name])))

        t0 = time.monotonic()
        vmid = d.popen_in_namespace([virt_vmid, "-c", d.uri, "--foreground"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        while True:
            try:
                st = status(d)
                if (len(st["domains"]) == args.domains and
                        all(e["sync"] == "in-step" for e in st["domains"])):
                    break
            except (FileNotFoundError, ConnectionRefusedError, json.JSONDecodeError):
                pass
            time.sleep(0.01)
        startup = time.monotonic() - t0
        pid = vmid_pid(d)
        rss, _ = proc_stat(pid)

        # metadata change -> the definition holds the new arguments
        dom = conn.lookupByName("g0000")
        edits = []
        for i in range(args.edits):
            reconnect = 2 + i % 2
            want = f"reconnect={reconnect}"
            t = time.monotonic()
            dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                            metadata(socks["g0000"], reconnect), "vmi", NS,
                            libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            while want not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE):
                pass
            edits.append(time.monotonic() - t)

        # tool connect/disconnect -> status
        running = [f"g{i:04d}" for i in range(1, args.running + 1)]
        for name in running:
            tools.append(vmitool.Tool(None, socks[name], "--socket-mode", "0666"))
            conn.lookupByName(name).create()
        for tool in tools:
            tool.wait_for("hooked", timeout=60)
        seen = []

        def state_of(name):
            return next(e["state"] for e in status(d)["domains"] if e["name"] == name)
        for _round in range(4):
            for name, tool in zip(running, tools):
                while state_of(name) != "hooked":
                    time.sleep(0.001)
                t = time.monotonic()
                tool.stop()
                while state_of(name) != "waiting-for-tool":
                    pass
                seen.append(time.monotonic() - t)
            tools = [vmitool.Tool(None, socks[n], "--socket-mode", "0666") for n in running]
            for name, tool in zip(running, tools):
                t = time.monotonic()
                tool.wait_for("hooked", timeout=60)
                while state_of(name) != "hooked":
                    pass
                # from the tool's hooked line to the status showing it
                seen.append(time.monotonic() - max(t, tool.events("hooked")[-1]["_t"]))

        # idle: nothing happens for 10 s
        _, cpu0 = proc_stat(pid)
        time.sleep(10)
        _, cpu1 = proc_stat(pid)
        conn.close()
    finally:
        for tool in tools:
            tool.stop()
        if vmid:
            vmid.terminate()
            vmid.wait()
        d.stop()

    rows = [
        (f"start-up, {args.domains} domains out of step", f"{startup * 1000:.0f} ms", "< 2000 ms",
         startup < 2),
        ("resident memory after start-up", f"{rss / 1024:.1f} MB", "< 30 MB", rss < 30 * 1024),
        (f"metadata change -> synced, p99 of {args.edits}", f"{p99(edits) * 1000:.1f} ms",
         "< 50 ms", p99(edits) < 0.05),
        ("  median", f"{statistics.median(edits) * 1000:.1f} ms", "-", None),
        (f"tool (dis)connect -> status, p99 of {len(seen)}", f"{p99(seen) * 1000:.1f} ms",
         "< 20 ms", p99(seen) < 0.02),
        ("  median", f"{statistics.median(seen) * 1000:.1f} ms", "-", None),
        ("CPU while idle for 10 s", f"{(cpu1 - cpu0) * 1000:.0f} ms", "0", cpu1 - cpu0 < 0.02),
    ]
    print(f"virt-vmid at scale: {args.domains} domains, {args.running} running")
    print(f"| {'measure':45} | {'figure':>10} | {'goal':>10} | met |")
    print(f"|{'-' * 47}|{'-' * 12}|{'-' * 12}|-----|")
    for what, fig, goal, met in rows:
        mark = "-" if met is None else ("yes" if met else "NO")
        print(f"| {what:45} | {fig:>10} | {goal:>10} | {mark:>3} |")


if __name__ == "__main__":
    main()
