#!/usr/bin/env python3
"""A management layer's view of libvirt-vmi: a plain libvirt-python client,
as OpenStack Nova's libvirt driver or oVirt's VDSM talk to libvirt. It
defines a domain whose <metadata> carries <vmi:introspection>, starts it
at once, and never runs virt-vmi: virt-vmid turns the element into QEMU
arguments for the next starts, and attaches introspection live to this
one (the start reaches libvirt before the daemon's sync can).

    examples/api_client.py [--uri URI] [--emulator PATH] [--socket PATH]
                           [--name NAME] [--virt-type kvm|qemu]

It prints the domain's UUID once it runs. Start the introspection tool on
--socket first (for example vmi-tool --listen unix:PATH) to see it hook.
"""

import argparse
import sys
import uuid as uuidlib
from xml.sax.saxutils import quoteattr

import libvirt

VMI_NS = "http://libvirt-vmi.org/schemas/introspection/1.0"

DOMAIN = """<domain type={virt_type}>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <metadata>
    <vmi:introspection xmlns:vmi='{ns}'>
      <vmi:source type='unix' path={socket}/>
      <vmi:reconnect timeout='1'/>
    </vmi:introspection>
  </metadata>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{emulator}</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", default="qemu:///system")
    p.add_argument("--emulator", default="/usr/local/bin/qemu-kvmi")
    p.add_argument("--socket", default="/run/vmi/api-guest.sock")
    p.add_argument("--name", default="api-guest")
    p.add_argument("--virt-type", default="kvm", choices=("kvm", "qemu"))
    args = p.parse_args()

    conn = libvirt.open(args.uri)
    xml = DOMAIN.format(virt_type=quoteattr(args.virt_type), name=args.name,
                        uuid=uuidlib.uuid4(), ns=VMI_NS, socket=quoteattr(args.socket),
                        emulator=args.emulator)
    # As Nova does: the start follows the define at once. Without virt-vmid
    # running, libvirt-vmi's hook refuses this start (libvirt.libvirtError).
    dom = conn.defineXML(xml)
    dom.createWithFlags(0)
    print(dom.UUIDString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
