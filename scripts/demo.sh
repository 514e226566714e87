#!/bin/bash
# The libvirt-vmi demo: a real VM, started by libvirt's embedded QEMU
# driver (no daemon to set up) under the KVMI emulator, hooked by the
# reference introspection tool, authenticated by a key kept in a libvirt
# secret, then paused (the pause waits for the tool to unhook), resumed and
# stopped. Installs what it needs and builds first. Run as root.
set -euo pipefail

cd "$(dirname "$0")/.."
TOP=$PWD
# quiet unless it fails: then all it said
if ! setup_out=$(scripts/setup-host.sh 2>&1); then
    printf '%s\n' "$setup_out" >&2
    echo "demo: scripts/setup-host.sh failed" >&2
    exit 1
fi

BUILD=$TOP/build
VIRT_VMI=$BUILD/src/virt-vmi
EMULATOR=$BUILD/tools/kvmi-emulator/qemu-kvmi
TOOL=$BUILD/tools/vmi-tool/vmi-tool
DEMO=$TOP/.vmi-demo
ROOT=$DEMO/root
URI="qemu:///embed?root=$ROOT"
SOCK=$DEMO/vmi.sock
TOOL_LOG=$DEMO/vmi-tool.log
DOMAIN=vmi-guest1
UNHOOK_DELAY_MS=1500

say() {
    if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi
}
# The embedded driver caches QEMU's capabilities with the host CPUID, which
# differs between this machine's CPUs: pinned to one, no run re-probes QEMU.
vmi_quiet() { taskset -c 0 "$VIRT_VMI" -c "$URI" "$@"; }
vmi() { echo "# virt-vmi $*"; vmi_quiet "$@"; }

TOOL_PID=
cleanup() {
    vmi_quiet destroy "$DOMAIN" >/dev/null 2>&1 || true
    [ -n "$TOOL_PID" ] && kill "$TOOL_PID" 2>/dev/null && wait "$TOOL_PID" 2>/dev/null
    true
}
trap cleanup EXIT

# Wait until the tool has printed a line with "event":"$1", at most 20 s.
wait_tool() {
    local i
    for i in $(seq 200); do
        if grep -q "\"event\":\"$1\"" "$TOOL_LOG" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "the tool never reported '$1'; its log: $TOOL_LOG" >&2
    return 1
}

# A fresh embedded root each run; QEMU runs as libvirt-qemu, so it may
# traverse the demo directory and use /dev/kvm (setup-host opened it to kvm).
rm -rf "$DEMO"
mkdir -p "$ROOT/etc"
chmod 0755 "$DEMO" "$ROOT"
cat > "$ROOT/etc/qemu.conf" <<EOC
stdio_handler = "file"
user = "libvirt-qemu"
group = "libvirt-qemu"
EOC

say "1. The example domain carries <vmi:introspection> in its <metadata> (examples/guest-introspected.xml):"
sed -n '/<vmi:introspection xmlns/,/<\/vmi:introspection>/p' examples/guest-introspected.xml
# A host without KVM runs the guest under TCG (<domain type='qemu'>), and
# the KVMI emulator then stands in for KVM too (docs/qemu-kvmi.rst).
VIRT_TYPE=kvm
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    VIRT_TYPE=qemu
    echo "(this host has no usable /dev/kvm: the guest runs under TCG, type='qemu')"
fi
sed -e "s|<emulator>.*</emulator>|<emulator>$EMULATOR</emulator>|" \
    -e "s|<domain type='kvm'>|<domain type='$VIRT_TYPE'>|" \
    examples/guest-introspected.xml > "$DEMO/$DOMAIN.xml"

say "2. Define it in libvirt's embedded QEMU driver ($URI), its emulator the KVMI emulator; the tool will listen on $SOCK:"
vmi define "$DEMO/$DOMAIN.xml"
vmi set "$DOMAIN" --socket "$SOCK"

say "3. A random key, kept in a libvirt secret; the domain names the secret, never the key:"
vmi key-create "$DOMAIN"
echo "The tool answers the handshake with the key's SHA-1, the cookie: a secret as good as the key,"
echo "which virt-vmi key-hash --show-cookie hands to the tool on a pipe, never on a command line."

say "4. The reference introspection tool listens, and will take ${UNHOOK_DELAY_MS} ms to remove its hooks when asked:"
vmi_quiet key-hash "$DOMAIN" --show-cookie 2>/dev/null |
    "$TOOL" --listen "unix:$SOCK" --socket-mode 0666 --key-hash-file /dev/stdin \
    --unhook-delay "$UNHOOK_DELAY_MS" > "$TOOL_LOG" 2> "$DEMO/vmi-tool.err" &
TOOL_PID=$!
wait_tool listening
echo "vmi-tool is listening (pid $TOOL_PID)"

say "5. Start the VM: virt-vmi checks the definition, the key secret and the emulator, writes the per-run key file, and libvirt starts QEMU:"
vmi start "$DOMAIN"
wait_tool ready
echo "The tool hooked the guest. What QEMU's handshake told it, and what KVMI answered:"
python3 - "$TOOL_LOG" <<'EOP'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] in seen or e["event"] not in ("handshake", "hooked"):
        continue
    seen.add(e["event"])
    if e["event"] == "handshake":
        print("  guest %s, uuid %s, started at %d ms, %s, e820: %s" % (
            e["name"], e["uuid"], e["start_time"], e["cpu_type_name"],
            ", ".join("%#x+%#x type %d" % (m["address"], m["length"], m["type"])
                      for m in e["e820"] or [])))
    else:
        print("  authenticated by the key; KVMI version %d" % e["version"])
EOP


say "6. The status as libvirt-vmi sees it (QEMU's introspection chardev, through libvirt):"
vmi status "$DOMAIN"

say "7. Suspend: QEMU asks the tool to unhook and holds the pause until the tool closes its connection:"
vmi suspend "$DOMAIN"
python3 - "$TOOL_LOG" <<'EOP'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "unhook":
        print("  the tool got KVMI's UNHOOK event and took %d ms to remove its hooks" % e["close_after_ms"])
    elif e["event"] == "closed" and e.get("reason") == "unhook":
        print("  then closed its connection: QEMU's signal to pause")
        break
EOP

say "8. Resume: QEMU lets the tool connect again, and it hooks the guest afresh:"
vmi resume "$DOMAIN"
for i in $(seq 200); do
    [ "$(grep -c '"event":"hooked"' "$TOOL_LOG")" -ge 2 ] && break
    sleep 0.1
done
echo "hooked $(grep -c '"event":"hooked"' "$TOOL_LOG") times so far"

say "9. The per-run key file lived only while QEMU started (QEMU keeps the key in memory); stop the VM:"
find "$ROOT/run/libvirt-vmi" -name key | sed 's/^/a key file: /'
echo "(no key file listed: none while the VM runs)"
vmi destroy "$DOMAIN"

say "What QEMU's introspection object logged (the domain log):"
grep -h 'VMI:' "$ROOT/log/qemu/$DOMAIN.log" | sed 's/^/  /'

say "Done. Logs: the domain's QEMU log $ROOT/log/qemu/$DOMAIN.log (the emulator's 'VMI: ...' lines), the tool's $TOOL_LOG, the libvirt root $ROOT."
