#!/usr/bin/python3
"""Where a start's time goes, with introspection and without, side by side.

The same two domains as bench/libvirt_bench.py (the example VM under
qemu-kvmi with <vmi:introspection> and a key, a tool listening; the same VM
without the element), each started ROUNDS times, interleaved, on a libvirtd
with its debug log on (vmilibvirt.DEFAULT_LOG_FILTERS). Each start (and the
destroy after it) is cut into phases from libvirtd's timestamps
(bench/breakdown.py): every hook script run, libvirt's own work between
them, QEMU's exec ("Handshake complete, child running") until its QMP
greeting is answered, until `cont`, and the rest; for the introspected
domain also when the tool saw the guest hooked (its JSON event, on the
same wall clock). Then the same with virt-vmid running, with the CPU time
the daemon used during each start.

The debug log slows libvirtd down (some 2,500 lines a start): compare the
two columns of one run with each other, never with bench/libvirt_bench.py.

Usage (as root, after scripts/setup-host.sh):
  bench/start_breakdown.py [--rounds N] [--build DIR] [--no-vmid] [--keep-logs DIR]"""

import argparse
import os
import re
import shutil
import sys
import time

TOP = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOP)
sys.path.insert(0, os.path.join(os.path.dirname(TOP), "tests", "lib"))
import breakdown as bd  # noqa: E402
import vmilibvirt as vl  # noqa: E402
import vmitool  # noqa: E402
import libvirt  # noqa: E402  (python3-libvirt)
from libvirt_bench import element, start_tool  # noqa: E402

QMP_READY = re.compile(r'QEMU_MONITOR_RECV_REPLY.*"id": ?"libvirt-1"')
ORDER = ["libvirtd: API call -> hook prepare begin", "hook prepare begin",
         "libvirtd: prepare -> hook start begin", "hook start begin",
         "libvirtd: start hook -> QEMU exec", "QEMU exec -> QMP ready",
         "QMP ready -> cont (libvirt's setup over QMP)", "cont -> its reply",
         "cont reply -> hook started begin", "hook started begin",
         "libvirtd: started hook -> API return",
         "= QEMU exec -> cont", "= total (libvirtd's log)", "= total (client's clock)"]


def proc_tree_cpu_ms(root):
    """CPU time of @root and its descendants, in ms (the scheduler's
    count in ns: /proc/PID/stat's ticks are too coarse for one start)."""
    stats = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ns = 0
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/schedstat") as f:
                        ns += int(f.read().split()[0])
                stats[int(p)] = (int(fields[1]), ns)
            except (OSError, IndexError, ValueError):
                pass
    tree, grew = {root}, True
    while grew:
        new = {p for p, (ppid, _) in stats.items() if ppid in tree} - tree
        tree |= new
        grew = bool(new)
    return sum(stats[p][1] for p in tree if p in stats) / 1e6


def phases_of(text, qemu_log, client_s, tool_hooked=None):
    """One start's phases (ms) from libvirtd's log text of its create and
    destroy, and the domain's log."""
    lines = bd.parse(text)
    ph = {}
    api = bd.find(lines, "virDomainCreate")
    destroy = bd.find(lines, "virDomainDestroy")
    create = [ln for ln in lines if destroy is None or ln.t < destroy.t]
    hooks = {label: (s, e) for label, s, e in bd.hook_runs(create)}
    bd.add_hooks(ph, lines)
    execd = bd.find(create, "Handshake complete, child running")
    ready = bd.find(create, QMP_READY)
    cont = bd.find(create, '"execute":"cont"')
    cont_reply = bd.find(create, "QEMU_MONITOR_RECV_REPLY", after=cont.t) if cont else None
    end = [ln for ln in create if api and ln.tid == api.tid][-1] if api else None

    def t(x):
        return x.t if x else None
    prep, start, started = (hooks.get(k, (None, None)) for k in
                            ("prepare begin", "start begin", "started begin"))
    pairs = [("libvirtd: API call -> hook prepare begin", t(api), prep[0]),
             ("libvirtd: prepare -> hook start begin", prep[1], start[0]),
             ("libvirtd: start hook -> QEMU exec", start[1], t(execd)),
             ("QEMU exec -> QMP ready", t(execd), t(ready)),
             ("QMP ready -> cont (libvirt's setup over QMP)", t(ready), t(cont)),
             ("cont -> its reply", t(cont), t(cont_reply)),
             ("cont reply -> hook started begin", t(cont_reply), started[0]),
             ("libvirtd: started hook -> API return", started[1], t(end)),
             ("= QEMU exec -> cont", t(execd), t(cont)),
             ("= total (libvirtd's log)", t(api), t(end))]
    for name, a, b in pairs:
        if a is not None and b is not None:
            ph[name] = (b - a) * 1000
    ph["= total (client's clock)"] = client_s * 1000
    if tool_hooked is not None and execd:
        ph["QEMU exec -> the tool hooked (tool's event)"] = (tool_hooked - execd.t) * 1000
    # QEMU's own timestamped lines (-msg timestamp=on), e.g. the emulator's
    for when, msg in bd.qemu_messages(qemu_log):
        if execd and "hooked" in msg and when >= execd.t:
            ph["QEMU exec -> QEMU's log says hooked"] = (when - execd.t) * 1000
            break
    return ph


def run_rounds(d, conn, tool, rounds, keep, tag, vmid=None):
    doms = {n: conn.lookupByName(n) for n in ("vmi", "plain")}
    results = {"vmi": [], "plain": []}
    for dom in doms.values():          # warm-up: caches, pages
        dom.create()
        dom.destroy()
    for i in range(rounds):
        for name in (("vmi", "plain") if i % 2 else ("plain", "vmi")):
            log_mark = d.log_size()
            qlog = d.domain_log_path(name)
            qmark = os.path.getsize(qlog) if os.path.exists(qlog) else 0
            cpu0 = proc_tree_cpu_ms(vmid.pid) if vmid else None
            wall_minus_mono = time.time() - time.monotonic()
            t0 = time.monotonic()
            doms[name].create()
            client = time.monotonic() - t0
            cpu1 = proc_tree_cpu_ms(vmid.pid) if vmid else None
            hooked = None
            if name == "vmi":
                hooked = tool.wait_for("hooked", since=t0)["_t"] + wall_minus_mono
            doms[name].destroy()
            text = d.log_text(log_mark)
            with open(qlog, errors="replace") as f:
                f.seek(qmark)
                qtext = f.read()
            ph = phases_of(text, qtext, client, hooked)
            if vmid:
                ph["virt-vmid's CPU during the start"] = cpu1 - cpu0
            results[name].append(ph)
            if keep:
                with open(os.path.join(keep, f"{tag}-{name}-{i}.log"), "w") as f:
                    f.write(text)
    return results


def report(title, results):
    print(f"\n{title}: medians in ms over {len(results['vmi'])} starts each")
    med = bd.table({"vmi": results["vmi"], "plain": results["plain"]}, ORDER)
    bd.differences(med, "= total (libvirtd's log)", ("vmi", "plain"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(TOP), "build"),
                    type=os.path.abspath)
    ap.add_argument("--no-vmid", action="store_true", help="skip the runs with virt-vmid")
    ap.add_argument("--keep-logs", metavar="DIR", help="keep each start's libvirtd log there")
    args = ap.parse_args()
    bd.run_under_reaper(args.build)
    if args.keep_logs:
        os.makedirs(args.keep_logs, exist_ok=True)

    virt_vmi = os.path.join(args.build, "src", "virt-vmi")
    hook = os.path.join(args.build, "src", "libvirt-vmi-hook")
    emulator = os.path.join(args.build, "tools", "kvmi-emulator", "qemu-kvmi")
    os.environ.setdefault("VMI_BUILD_DIR", args.build)
    vmitool.TOOL = os.path.join(args.build, "tools", "vmi-tool", "vmi-tool")

    d = vl.LibvirtDaemon("start-breakdown", emulators=[emulator])
    tool = vmid = conn = None
    try:
        d.add_vmi_hook(hook)
        d.start()
        sock = os.path.join(d.dir, "vmi.sock")

        def vmi(*a):
            return vl.run([virt_vmi, "-c", d.uri, *a], check=True)

        d.virsh("define", d.write_xml(vl.domain_xml("plain", emulator=emulator), "plain.xml"))
        vmi("define", d.write_xml(vl.domain_xml("vmi", emulator=emulator,
                                                metadata=element(sock)), "vmi.xml"))
        vmi("key-create", "vmi")
        tool = start_tool(sock, vmi("key-hash", "vmi", "--show-cookie").stdout.strip())
        conn = libvirt.open(d.uri)

        report("Start, key from libvirt-vmi-hook-key (no virt-vmid)",
               run_rounds(d, conn, tool, args.rounds, args.keep_logs, "helper"))
        if not args.no_vmid:
            vmid = bd.start_vmid(d, args.build)
            report("Start, key from virt-vmid (the daemon running)",
                   run_rounds(d, conn, tool, args.rounds, args.keep_logs, "vmid", vmid))
    finally:
        if conn:
            conn.close()
        bd.stop_vmid(vmid)
        if tool:
            tool.stop()
        if args.keep_logs and os.path.exists(d.log_path):
            shutil.copy(d.log_path, os.path.join(args.keep_logs, "libvirtd.log"))
        d.stop()


if __name__ == "__main__":
    main()
