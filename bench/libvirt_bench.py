#!/usr/bin/python3
"""libvirt-vmi's cost on a real libvirtd, measured side by side in one run,
reported as ratios against the same operation without introspection.

- start: `virsh start` of the example VM with introspection (the hook's
  checks and key file, the emulator, the tool's handshake) against the same
  VM without the element (same emulator), without virt-vmid (the hook runs
  libvirt-vmi-hook-key for the key) and with it (the daemon hands the key
  over). Goal: at most 1.05x.
- hooked: from `virsh start` until the tool reports the guest hooked
  (informative: QEMU connects once the machine is created, so the
  handshake runs while libvirt is still setting the VM up).
- suspend: `virsh suspend` against the tool's own unhook delay.
  Goal: at most delay + 20 ms.
- define: `virt-vmi define` and `virt-vmi set` against plain `virsh define`
  of the same XML.

Lifecycle operations are timed as libvirt API calls (python3-libvirt), so
that no client process start-up is in the figures; define and set are
timed as the commands a user runs (virsh and virt-vmi processes).

Usage (as root, after scripts/setup-host.sh): bench/libvirt_bench.py [--rounds N] [--build DIR]
Prints a table; bench/RESULTS.md keeps the figures of a run."""

import argparse
import os
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
UNHOOK_DELAY_MS = 200


def start_tool(sock, key_hash):
    """vmi-tool on @sock, as the tests run it; it unhooks after UNHOOK_DELAY_MS."""
    return vmitool.Tool(None, sock, "--socket-mode", "0666", "--unhook-delay",
                        UNHOOK_DELAY_MS, key_hash=key_hash)


def timed(fn, *args):
    t = time.monotonic()
    fn(*args)
    return time.monotonic() - t


def median_ms(values):
    return statistics.median(values) * 1000


def element(sock):
    return (f"<vmi:introspection xmlns:vmi='{NS}'>\n"
            f"  <vmi:source type='unix' path='{sock}'/>\n"
            f"  <vmi:reconnect timeout='1'/>\n"
            f"  <vmi:timeouts unhook='30'/>\n"
            f"  <vmi:allow><vmi:command name='vcpu-pause'/><vmi:event name='pause-vcpu'/></vmi:allow>\n"
            f"</vmi:introspection>")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--build", default=os.path.join(TOP, "build"),
                    type=os.path.abspath)
    args = ap.parse_args()

    virt_vmi = os.path.join(args.build, "src", "virt-vmi")
    virt_vmid = os.path.join(args.build, "src", "virt-vmid")
    hook = os.path.join(args.build, "src", "libvirt-vmi-hook")
    emulator = os.path.join(args.build, "tools", "kvmi-emulator", "qemu-kvmi")
    tool_bin = os.path.join(args.build, "tools", "vmi-tool", "vmi-tool")
    os.environ.setdefault("VMI_BUILD_DIR", args.build)
    vmitool.TOOL = tool_bin

    d = vl.LibvirtDaemon("bench", emulators=[emulator])
    tool = None
    vmid = None
    try:
        d.add_vmi_hook(hook)
        d.start()
        sock = os.path.join(d.dir, "vmi.sock")

        def vmi(*a):
            return vl.run([virt_vmi, "-c", d.uri, *a], check=True)

        plain_xml = d.write_xml(vl.domain_xml("plain", emulator=emulator), "plain.xml")
        vmi_xml = d.write_xml(vl.domain_xml("vmi", emulator=emulator, metadata=element(sock)),
                              "vmi.xml")
        d.virsh("define", plain_xml)
        vmi("define", vmi_xml)
        vmi("key-create", "vmi")
        key_hash = vmi("key-hash", "vmi", "--show-cookie").stdout.strip()
        tool = start_tool(sock, key_hash)

        conn = libvirt.open(d.uri)
        # The product's part alone: the hook and the key file, with no tool
        # listening (so no handshake work for the emulator)
        tool.stop()
        alone = {"vmi": [], "plain": []}
        for i in range(args.rounds):
            for name in (("vmi", "plain") if i % 2 else ("plain", "vmi")):
                dom = conn.lookupByName(name)
                alone[name].append(timed(dom.create))
                dom.destroy()
        tool = start_tool(sock, key_hash)

        doms = {name: conn.lookupByName(name) for name in ("vmi", "plain")}
        starts = {"vmi": [], "plain": []}
        hooked = []
        # warm-up: the first starts pay for caches (the hook's probe, pages)
        for dom in doms.values():
            dom.create()
            dom.destroy()
        for i in range(args.rounds):
            for name in (("vmi", "plain") if i % 2 else ("plain", "vmi")):
                t0 = time.monotonic()
                doms[name].create()
                starts[name].append(time.monotonic() - t0)
                if name == "vmi":
                    hooked.append(tool.wait_for("hooked", since=t0)["_t"] - t0)
                doms[name].destroy()

        # the same with virt-vmid running: the hook takes the key from it
        vmid = d.popen_in_namespace([virt_vmid, "-c", d.uri, "--foreground"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        while not os.path.exists(d.host_path("/run/libvirt-vmi/virt-vmid.sock")):
            time.sleep(0.01)
        with_daemon = {"vmi": [], "plain": []}
        for i in range(args.rounds):
            for name in (("vmi", "plain") if i % 2 else ("plain", "vmi")):
                t0 = time.monotonic()
                doms[name].create()
                with_daemon[name].append(time.monotonic() - t0)
                if name == "vmi":
                    tool.wait_for("hooked", since=t0)
                doms[name].destroy()
        vmid.terminate()
        vmid.wait()
        vmid = None

        suspends = {"vmi": [], "plain": []}
        for name, dom in doms.items():
            t0 = time.monotonic()
            dom.create()
            if name == "vmi":
                tool.wait_for("ready", since=t0)
            for _ in range(args.rounds):
                suspends[name].append(timed(dom.suspend))
                t0 = time.monotonic()
                dom.resume()
                if name == "vmi":
                    # the tool connects again after cont: wait until it has
                    # hooked and enabled the UNHOOK event, or QEMU would
                    # just cut the connection at the next pause
                    tool.wait_for("ready", since=t0)
            dom.destroy()
        conn.close()

        defines = {"virsh define": [], "virt-vmi define": [], "virt-vmi set": []}
        for i in range(args.rounds * 2):
            defines["virsh define"].append(d.virsh("define", vmi_xml).seconds)
            defines["virt-vmi define"].append(vmi("define", vmi_xml).seconds)
            defines["virt-vmi set"].append(
                vmi("set", "vmi", "--unhook-timeout", str(20 + i % 2)).seconds)
    finally:
        if vmid:
            vmid.kill()
            vmid.wait()
        if tool:
            tool.stop()
        d.stop()

    s_vmi, s_plain = median_ms(starts["vmi"]), median_ms(starts["plain"])
    a_vmi, a_plain = median_ms(alone["vmi"]), median_ms(alone["plain"])
    w_vmi, w_plain = median_ms(with_daemon["vmi"]), median_ms(with_daemon["plain"])
    sus_vmi, sus_plain = median_ms(suspends["vmi"]), median_ms(suspends["plain"])
    d_virsh = median_ms(defines["virsh define"])
    rows = [
        ("start (virDomainCreate)", f"{s_vmi:.0f} ms", f"{s_plain:.0f} ms",
         f"{s_vmi / s_plain:.2f}x", "<= 1.05x", s_vmi / s_plain <= 1.05),
        ("start, key from virt-vmid", f"{w_vmi:.0f} ms", f"{w_plain:.0f} ms",
         f"{w_vmi / w_plain:.2f}x", "<= 1.05x", w_vmi / w_plain <= 1.05),
        ("start, no tool listening", f"{a_vmi:.0f} ms", f"{a_plain:.0f} ms",
         f"{a_vmi / a_plain:.2f}x", "-", None),
        ("start until the tool hooked", f"{median_ms(hooked):.0f} ms", "-", "-", "-", None),
        ("suspend (virDomainSuspend)", f"{sus_vmi:.0f} ms", f"{UNHOOK_DELAY_MS} ms unhook delay",
         f"+{sus_vmi - UNHOOK_DELAY_MS:.0f} ms", "<= +20 ms", sus_vmi - UNHOOK_DELAY_MS <= 20),
        ("suspend without introspection", f"{sus_plain:.0f} ms", "-", "-", "-", None),
        ("virt-vmi define vs virsh define", f"{median_ms(defines['virt-vmi define']):.0f} ms", f"{d_virsh:.0f} ms",
         f"{median_ms(defines['virt-vmi define']) / d_virsh:.2f}x", "-", None),
        ("virt-vmi set vs virsh define", f"{median_ms(defines['virt-vmi set']):.0f} ms", f"{d_virsh:.0f} ms",
         f"{median_ms(defines['virt-vmi set']) / d_virsh:.2f}x", "-", None),
    ]
    print(f"libvirt-vmi on libvirtd, {args.rounds} rounds, medians "
          f"(baseline: the same operation without introspection)")
    print(f"| {'operation':32} | {'with':>10} | {'baseline':>22} | {'ratio':>9} | {'goal':>9} | met |")
    print(f"|{'-' * 34}|{'-' * 12}|{'-' * 24}|{'-' * 11}|{'-' * 11}|-----|")
    for op, w, b, ratio, goal, met in rows:
        mark = "-" if met is None else ("yes" if met else "NO")
        print(f"| {op:32} | {w:>10} | {b:>22} | {ratio:>9} | {goal:>9} | {mark:>3} |")


if __name__ == "__main__":
    main()
