#!/usr/bin/python3
"""Writes the seed corpus of one fuzzing harness (tests/fuzz) into a
directory, made from the unit and integration tests' own data, so that
the seeds follow the tests and are never a second copy to maintain:

  element         the <vmi:introspection> elements of qemuxml2argvdata,
                  vmixml2xmloutdata and domainsyncdata
  sync            the domain XMLs of domainsyncdata and qemuxml2argvdata
  hook            domainsyncdata's domains behind each hook operation
  keyfile         UUIDs and DAC labels of domainsyncdata, before keys
  qmp             the query-chardev replies of qemuqmptest.c
  kvmi_tool       QEMU's handshake and KVMI replies, from tests/lib/kvmi_wire.py
  kvmi_emulator   a tool's KVMI requests, from tests/lib/kvmi_wire.py

usage: fuzz_seeds.py HARNESS DIRECTORY
"""
import ast
import glob
import hashlib
import os
import re
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'lib'))

VMI_NS = 'http://libvirt-vmi.org/schemas/introspection/1.0'
HOOK_OPS = [('prepare', 'begin'), ('start', 'begin'), ('started', 'begin'),
            ('stopped', 'end'), ('release', 'end'), ('migrate', 'begin'),
            ('restore', 'begin'), ('reconnect', 'begin')]


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def data_files(*patterns):
    out = []
    for pattern in patterns:
        out += sorted(glob.glob(os.path.join(TESTS, pattern)))
    return out


def elements(xml):
    """The <vmi:introspection> elements in a document, each standing alone."""
    found = []
    for m in re.finditer(rb'<vmi:introspection\b[\s\S]*?(</vmi:introspection>|/>)', xml):
        elem = m.group(0)
        if b'xmlns:vmi' not in elem.split(b'>', 1)[0]:
            elem = elem.replace(b'<vmi:introspection',
                                b"<vmi:introspection xmlns:vmi='" + VMI_NS.encode() + b"'", 1)
        found.append(elem)
    return found


def seeds_element():
    for path in data_files('qemuxml2argvdata/*.xml', 'domainsyncdata/*.xml'):
        yield from elements(read(path))
    for path in data_files('vmixml2xmloutdata/*.xml', 'domainsyncdata/*.def.xml'):
        yield read(path)


def seeds_sync():
    for path in data_files('domainsyncdata/*.xml', 'qemuxml2argvdata/*.xml'):
        xml = read(path)
        if b'<domain' in xml:
            yield xml


def seeds_hook():
    paths = data_files('domainsyncdata/*.in.xml', 'domainsyncdata/*.out.xml')
    for i, path in enumerate(paths):
        xml = read(path)
        # every operation on some domain, every domain under some operation
        for op, sub in (HOOK_OPS if i == 0 else [HOOK_OPS[i % len(HOOK_OPS)], HOOK_OPS[0]]):
            yield b'\0'.join([b'guest1', op.encode(), sub.encode(), b'-', xml])
    yield b'guest1\0prepare\0'
    yield b'--help\0'


def seeds_keyfile():
    key = bytes(range(32))
    for path in data_files('domainsyncdata/*.xml'):
        xml = read(path)
        for m in re.finditer(rb'<(uuid|label)>([^<]*)</\1>', xml):
            yield m.group(2) + b'\n' + key
        for m in re.finditer(rb"secret='([^']*)'", xml):
            yield m.group(1).upper() + b'\n' + key
    yield b'+107:+108\n' + key
    yield b'root:root\n' + bytes(64)


def seeds_qmp():
    source = read(os.path.join(TESTS, 'qemuqmptest.c')).decode()
    for m in re.finditer(r'#define REPLY_\w+((?:\s*\\?\s*"(?:[^"\\]|\\.)*")+)', source):
        literals = re.findall(r'"(?:[^"\\]|\\.)*"', m.group(1))
        yield ''.join(ast.literal_eval(lit) for lit in literals).encode()


def seeds_kvmi_tool():
    import kvmi_wire as w
    hs_plain = w.pack_qemu_handshake(name=b'guest1')
    hs_e820 = w.pack_qemu_handshake(name=b'guest1', e820=[(0, 0x9fc00, 1), (0x100000, 0x3ff00000, 1)])
    version = w.pack_reply(w.MsgHdr(w.GET_VERSION, 0, 1), 0, w.pack_get_version_reply())
    info = w.pack_reply(w.MsgHdr(w.VM_GET_INFO, 0, 2), 0, w.pack_vm_get_info_reply(2))
    control = w.pack_reply(w.MsgHdr(w.VM_CONTROL_EVENTS, 0, 3))
    refused = w.pack_reply(w.MsgHdr(w.VM_GET_INFO, 0, 2), w.KVM_EPERM)
    unhook = w.pack_message(w.KVMI_EVENT, 1, w.pack_event(w.EVENT_UNHOOK))
    for opts in (b'\x01', b'\x03', b'\x05'):
        yield opts + hs_plain
        yield opts + hs_e820 + version + info + control + unhook
        yield opts + hs_plain + version + refused


def seeds_kvmi_emulator():
    import kvmi_wire as w
    msgs = [w.pack_message(w.GET_VERSION, 1),
            w.pack_message(w.VM_CHECK_COMMAND, 2, w.pack_vm_check(w.VM_GET_INFO)),
            w.pack_message(w.VM_CHECK_EVENT, 3, w.pack_vm_check(w.EVENT_UNHOOK)),
            w.pack_message(w.VM_GET_INFO, 4),
            w.pack_message(w.VM_CONTROL_EVENTS, 5, w.pack_vm_control_events(w.EVENT_UNHOOK, 1))]
    yield b'\xff\xff\x00' + b''.join(msgs)
    yield bytes([w.VM_GET_INFO, w.EVENT_UNHOOK, 8]) + b''.join(msgs)
    yield b'\x00\x00\x00' + msgs[0] + w.pack_message(w.KVMI_EVENT, 9)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    harness, outdir = sys.argv[1], sys.argv[2]
    gen = globals().get('seeds_' + harness)
    if not gen:
        sys.exit('fuzz_seeds.py: no harness %r' % harness)
    os.makedirs(outdir, exist_ok=True)
    n = 0
    for seed in gen():
        name = hashlib.sha1(seed).hexdigest()
        with open(os.path.join(outdir, name), 'wb') as f:
            f.write(seed)
        n += 1
    if not n:
        sys.exit('fuzz_seeds.py: no seeds for %s: has the test data moved?' % harness)


if __name__ == '__main__':
    main()
