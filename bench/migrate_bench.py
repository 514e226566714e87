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

With --breakdown, each migration is also cut into phases from both
libvirtd's debug logs (bench/breakdown.py) and the tool's events, and the
medians are printed side by side: the destination's Prepare (its hooks,
QEMU's exec until QMP answers), the source's `migrate` until the
transfer starts (the unhook wait: the tool's UNHOOK event, its own delay,
QEMU's release), the transfer, Finish (the destination's `started`
hook) and Confirm; for the introspected VM also when the tool hooked the
destination's QEMU: that QEMU connects its introspection chardev once
its QMP monitor answers, during Prepare, so the tool has hooked it well
before the destination's Finish (the last row is how long before). The
key's fetch is inside the destination's `prepare begin` hook: its
difference from the plain VM's run of the same hook is its cost.

With --vmid, virt-vmid runs beside both libvirtd, as on a host that
runs the daemon: the destination's hook then takes the key from it
instead of from libvirt-vmi-hook-key (which loads libvirt).
Where the kernel counts the free memory it reports to its host
(breakdown.REPORTED), the transfers are also split by whether any was
reported between the previous migration's QEMU kill and the transfer's
start: on such a host that, not introspection, decides how long the
transfer takes (bench/transfer_wait.py).

It runs itself under the build's tests/vmi-test-reaper (see
breakdown.run_under_reaper): the source QEMU's exit is part of each
migration, and this machine's PID 1 reaps late.

Usage (as root, after scripts/setup-host.sh):
  bench/migrate_bench.py [--rounds N] [--build DIR] [--vmid] [--breakdown] [--keep-logs DIR]
Prints a table; bench/RESULTS.md keeps the figures of a run."""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "bench"))
import breakdown as bd  # noqa: E402

UNHOOK_DELAY_MS = 200
TOOL_DIR = "/var/lib/libvirt/vmi-tool"      # private to each daemon
SOCK = TOOL_DIR + "/bench.sock"


QMP_READY = re.compile(r'QEMU_MONITOR_RECV_REPLY.*"id": ?"libvirt-1"')
MIGRATE_SENT = '"execute":"migrate"'
ORDER = ["src: API call -> dst Prepare", "dst: Prepare -> hook migrate begin",
         "dst hook migrate begin", "dst: migrate hook -> hook prepare begin",
         "dst hook prepare begin", "dst: prepare hook -> hook start begin",
         "dst hook start begin", "dst: start hook -> QEMU exec", "dst: QEMU exec -> QMP ready",
         "dst: QMP ready -> hook started begin", "dst hook started begin",
         "dst: started hook -> src migrate", "src: migrate -> transfer starts (unhook wait)",
         "  src: migrate -> the tool's UNHOOK event", "  the tool's UNHOOK -> its close",
         "  the tool's close -> transfer starts", "src: transfer (active -> completed)",
         "  src: RAM (active -> device)", "  src: switchover, device state (device -> completed)",
         "src: completed -> dst Finish", "dst Finish (until src Confirm)",
         "src: Confirm -> kill the old QEMU", "src: the old QEMU's exit",
         "src: clean-up -> hook stopped end",
         "src hook stopped end", "src hook release end", "src: release hook -> API return",
         "= dst Prepare (until src migrate)", "= total (src log)", "= total (client's clock)",
         "dst QEMU exec -> the tool hooked it", "dst: the tool hooked dst -> Finish"]

# libvirt's own QMP set-up of the destination's QEMU: the same commands for
# both VMs, 800 to 1000 ms under TCG, and the noisiest phase of all
SETUP = "dst: QMP ready -> hook started begin"
TOTAL = "= total (src log)"


def migration_status(status):
    """A MIGRATION event with @status (QEMU's spacing, or the emulator's)."""
    return re.compile(f'"event": ?"MIGRATION", ?"data": ?{{"status": ?"{status}"}}')


def migration_phases(src_text, dst_text, client_s, events):
    """One migration's phases (ms) from the source's and the destination's
    libvirtd log of it, and the tool's event times (wall clock); and the
    wall times the transfer started and the old QEMU was killed."""
    src, dst = bd.parse(src_text), bd.parse(dst_text)
    ph = {}
    bd.add_hooks(ph, src, "src hook ")
    bd.add_hooks(ph, dst, "dst hook ")
    hooks = {label: (s, e) for label, s, e in bd.hook_runs(dst)}

    def t(x):
        return x.t if x else None
    api = bd.find(src, "virDomainMigratePerform3Params")
    prepare = bd.find(dst, "virDomainMigratePrepare3Params")
    execd = bd.find(dst, "Handshake complete, child running")
    ready = bd.find(dst, QMP_READY)
    migrate = bd.find(src, MIGRATE_SENT)
    active = bd.find(src, migration_status("active"), after=t(migrate))
    device = bd.find(src, migration_status("device"), after=t(migrate))
    completed = bd.find(src, migration_status("completed"), after=t(migrate))
    finish = bd.find(dst, "virDomainMigrateFinish3Params")
    confirm = bd.find(src, "qemuMigrationSrcConfirmPhase")
    kill = bd.find(src, "qemuProcessKill", after=t(confirm))
    cleanup = bd.find(src, "qemuDomainCleanupRun", after=t(kill))
    end = [ln for ln in src if api and ln.tid == api.tid][-1] if api else None
    mig, prep, start, started = (hooks.get(k, (None, None)) for k in
                                 ("migrate begin", "prepare begin", "start begin",
                                  "started begin"))
    src_hooks = {label: (s, e) for label, s, e in bd.hook_runs(src)}
    stopped, release = (src_hooks.get(k, (None, None)) for k in ("stopped end", "release end"))
    pairs = [("src: API call -> dst Prepare", t(api), t(prepare)),
             ("dst: Prepare -> hook migrate begin", t(prepare), mig[0]),
             ("dst: migrate hook -> hook prepare begin", mig[1], prep[0]),
             ("dst: prepare hook -> hook start begin", prep[1], start[0]),
             ("dst: start hook -> QEMU exec", start[1], t(execd)),
             ("dst: QEMU exec -> QMP ready", t(execd), t(ready)),
             ("dst: QMP ready -> hook started begin", t(ready), started[0]),
             ("dst: started hook -> src migrate", started[1], t(migrate)),
             ("src: migrate -> transfer starts (unhook wait)", t(migrate), t(active)),
             ("  src: migrate -> the tool's UNHOOK event", t(migrate), events.get("unhook")),
             ("  the tool's UNHOOK -> its close", events.get("unhook"), events.get("closed")),
             ("  the tool's close -> transfer starts", events.get("closed"), t(active)),
             ("src: transfer (active -> completed)", t(active), t(completed)),
             ("  src: RAM (active -> device)", t(active), t(device)),
             ("  src: switchover, device state (device -> completed)", t(device), t(completed)),
             ("src: completed -> dst Finish", t(completed), t(finish)),
             ("dst Finish (until src Confirm)", t(finish), t(confirm)),
             ("src: Confirm -> kill the old QEMU", t(confirm), t(kill)),
             ("src: the old QEMU's exit", t(kill), t(cleanup)),
             ("src: clean-up -> hook stopped end", t(cleanup), stopped[0]),
             ("src: release hook -> API return", release[1], t(end)),
             ("= dst Prepare (until src migrate)", t(prepare), t(migrate)),
             ("= total (src log)", t(api), t(end)),
             ("dst QEMU exec -> the tool hooked it", t(execd), events.get("hooked")),
             ("dst: the tool hooked dst -> Finish", events.get("hooked"), t(finish))]
    for label, a, b in pairs:
        if a is not None and b is not None:
            ph[label] = (b - a) * 1000
    ph["= total (client's clock)"] = client_s * 1000
    return ph, t(active), t(kill)


def print_by_reported(transfers):
    """@transfers: {name: [(transfer ms, KiB reported before it)]}."""
    print("\nTransfer (active -> completed) by what the host took back between the "
          "previous migration's QEMU kill and the transfer's start (free page "
          "reporting; bench/transfer_wait.py):")
    for name, rows in transfers.items():
        for rep, label in ((False, "nothing reported"), (True, "memory reported")):
            ms = [x for x, kib in rows if kib is not None and (kib > 0) == rep]
            if ms:
                print(f"  {name:6s} {label:17s} median {statistics.median(ms):6.1f} ms "
                      f"(n={len(ms)}: {', '.join(f'{x:.0f}' for x in ms)})")


def print_without_setup(phases):
    """The goal once more, on each migration's total less libvirt's QMP
    set-up of the destination (SETUP): its noise from one migration to the
    next (tens of ms either way) is as large as the margin judged."""
    rest = {name: [ph[TOTAL] - ph[SETUP] for ph in phases[name] if TOTAL in ph and SETUP in ph]
            for name in ("vmi", "plain")}
    if not rest["vmi"] or not rest["plain"]:
        return
    extra = statistics.median(rest["vmi"]) - statistics.median(rest["plain"])
    print(f"without libvirt's QMP set-up of the destination: vmi "
          f"{statistics.median(rest['vmi']):.1f} ms, plain {statistics.median(rest['plain']):.1f}"
          f" ms (n={len(rest['vmi'])}, {len(rest['plain'])}): {extra:+.1f} ms, "
          f"{extra - UNHOOK_DELAY_MS:+.1f} ms beyond the unhook (goal: <= 25 ms)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--breakdown", action="store_true",
                    help="also print each phase's median, from the daemons' logs")
    ap.add_argument("--keep-logs", metavar="DIR",
                    help="keep both daemons' log of each migration there")
    ap.add_argument("--vmid", action="store_true",
                    help="run virt-vmid beside both daemons (the key from it)")
    args = ap.parse_args()
    bd.run_under_reaper(os.path.abspath(args.build))
    if args.keep_logs:
        os.makedirs(args.keep_logs, exist_ok=True)
    os.environ["VMI_BUILD_DIR"] = os.path.abspath(args.build)
    import vmilibvirt as vl
    import vmiproduct as vp
    import libvirt  # python3-libvirt

    tmp = tempfile.TemporaryDirectory(prefix="vmi-migrate-bench-")
    a = vp.product_daemon("bench-a", emulators=[vl.QEMU, *vp.emulators()])
    b = vp.product_daemon("bench-b", emulators=[vl.QEMU, *vp.emulators()])
    tool = None
    sampler = None
    vmids = []
    try:
        if args.vmid:
            vmids = [bd.start_vmid(d, os.path.abspath(args.build)) for d in (a, b)]
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
        phases = {"vmi": [], "plain": []}
        transfers = {"vmi": [], "plain": []}
        if args.breakdown:
            sampler = bd.ReportedSampler()
        last_kill = None
        flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
        for _ in range(args.rounds):
            for name in ("vmi", "plain"):       # interleaved
                src = where[name]
                dst = b if src is a else a
                if name == "vmi":               # hooked again before each run
                    vp.wait_until(lambda: "connected (" in vp.virt_vmi(
                        src, "status", "vmi").stdout, 30, "the tool hooked")
                dom = conns[src].lookupByName(name)
                marks = (src.log_size(), dst.log_size())
                wall_minus_mono = time.time() - time.monotonic()
                t = time.monotonic()
                dom.migrateToURI3(dst.uri, {}, flags)
                times[name].append(time.monotonic() - t)
                where[name] = dst
                if args.breakdown or args.keep_logs:
                    logs = (src.log_text(marks[0]), dst.log_text(marks[1]))
                    events = {}
                    if name == "vmi":
                        # the destination's QEMU hooked, after the call
                        tool.wait_for("hooked", since=t, timeout=60)
                        events = {ev: tool.wait_for(ev, since=t)["_t"] + wall_minus_mono
                                  for ev in ("unhook", "closed", "hooked")}
                    ph, started, killed = migration_phases(*logs, times[name][-1], events)
                    phases[name].append(ph)
                    if sampler and sampler.thread and "src: transfer (active -> completed)" in ph:
                        transfers[name].append((ph["src: transfer (active -> completed)"],
                                                sampler.between(last_kill, started)))
                    last_kill = killed
                    if args.keep_logs:
                        for side, text in zip(("src", "dst"), logs):
                            with open(os.path.join(args.keep_logs,
                                                   f"{name}-{len(times[name])}-{side}.log"),
                                      "w") as f:
                                f.write(text)
        print("the destination's key from " +
              ("virt-vmid" if args.vmid else "libvirt-vmi-hook-key (no virt-vmid)"))
        for name in ("vmi", "plain"):
            ms = [x * 1000 for x in times[name]]
            print(f"{name:6s} median {statistics.median(ms):8.1f} ms  "
                  f"min {min(ms):8.1f}  max {max(ms):8.1f}  (n={len(ms)})")
        extra = statistics.median(times["vmi"]) * 1000 - statistics.median(times["plain"]) * 1000
        print(f"with introspection: {extra:+.1f} ms, of which the tool's unhook delay "
              f"{UNHOOK_DELAY_MS} ms: {extra - UNHOOK_DELAY_MS:+.1f} ms beyond it "
              f"(goal: <= 25 ms)")
        if args.breakdown:
            print_without_setup(phases)
            print(f"\nPhases, medians in ms over {args.rounds} migrations each "
                  f"(src: the migrating daemon, dst: the other)")
            med = bd.table(phases, ORDER)
            bd.differences(med, "= total (client's clock)", ("vmi", "plain"))
            if sampler.thread:
                print_by_reported(transfers)
    finally:
        if sampler:
            sampler.stop()
        if tool:
            tool.stop()
        for vmid in vmids:
            bd.stop_vmid(vmid)
        vl.stop_all(a, b)
        tmp.cleanup()


if __name__ == "__main__":
    main()
