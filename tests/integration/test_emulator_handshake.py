#!/usr/bin/env python3
"""The introspection handshake of qemu-kvmi with a real QEMU 7.2: the bytes
QEMU sends (checked field by field with kvmi_wire), the key, the timeouts,
bad data and the reconnects after each failure (docs/kvmi.rst, "The
handshake")."""

import os
import re
import struct
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import vmitest as vt  # noqa: E402
from vmitest import kw  # noqa: E402

KVM_IDENTITY = (0xfeffc000, 0x4000, 2)
AMD_HT_HOLE = (0xfd00000000, 0x300000000, 2)
MiB = 1 << 20
GiB = 1 << 30


class HandshakeLayoutTest(vt.VmiTestCase):
    """What QEMU sends: 104 + 24 * n bytes, in the RFC layout."""

    def hooked_handshake(self, *extra, kind=None, **kwargs):
        tool = self.raw_tool()
        before = int(time.time() * 1000)
        emu = self.start_emulator(*self.introspection_args(), *extra, kind=kind, **kwargs)
        conn = tool.accept()
        hs, raw = conn.recv_handshake()
        after = int(time.time() * 1000)
        conn.send_reply()
        emu.wait_log('VMI: machine hooked')
        return emu, hs, raw, before, after

    def qemu_e820(self, emu, ram):
        """The table the QEMU in use builds for this guest on this host, by
        QEMU 7.2's own rule from what it reports: @ram, KVM's identity-map
        pages under KVM (kvm_arch_init), and the HyperTransport hole below
        1 TiB for an AMD vCPU of a 7.1+ machine type with phys-bits >= 40
        (pc_memory_init). Sorted by address, as the handshake sends it."""
        mon = emu.qmp()
        cpu = mon.ok('query-cpus-fast')[0]['qom-path']
        vendor = mon.ok('qom-get', {'path': cpu, 'property': 'vendor'})
        phys_bits = mon.ok('qom-get', {'path': cpu, 'property': 'phys-bits'})
        mtype = mon.ok('qom-get', {'path': '/machine', 'property': 'type'})
        version = re.match(r'pc-(?:i440fx|q35)-(\d+)\.(\d+)', mtype)
        table = list(ram)
        if mon.ok('query-kvm')['enabled']:
            table.append(KVM_IDENTITY)
        if (vendor == 'AuthenticAMD' and phys_bits >= 40 and version
                and tuple(map(int, version.groups())) >= (7, 1)):
            table.append(AMD_HT_HOLE)
        mon.close()
        return sorted(table)

    def check_layout(self, hs, raw, e820, before, after, name=vt.GUEST_NAME):
        self.assertEqual(hs.struct_size, kw.handshake_size(len(e820)))
        self.assertEqual(len(raw), hs.struct_size)
        self.assertEqual(hs.uuid, uuid.UUID(vt.GUEST_UUID).bytes)
        self.assertEqual(hs.cpu_type, kw.CPU_TYPE_X86_64)
        self.assertEqual(hs.padding, bytes(3))
        self.assertTrue(before - 1000 <= hs.start_time <= after, (before, hs.start_time, after))
        self.assertEqual(kw.handshake_name(hs.name), name)
        self.assertEqual(hs.name[len(name.encode()):], bytes(64 - len(name.encode())))
        self.assertEqual(hs.e820_count, len(e820))
        self.assertEqual((hs.arch_padding, hs.arch_hole), (bytes(3), bytes(4)))
        self.assertEqual([(e.address, e.length, e.type) for e in hs.e820], e820)
        self.assertEqual([e.padding for e in hs.e820], [0] * len(e820))

    def test_pc_64m(self):
        emu, hs, raw, before, after = self.hooked_handshake(kind='handshake')
        self.check_layout(hs, raw, self.qemu_e820(emu, [(0, 64 * MiB, 1)]), before, after)
        self.assertEqual(emu.vmi_lines(), [
            "VMI: the introspection tool won't be 'authenticated'",
            'VMI: introspection tool connected',
            'VMI: machine hooked',
        ])
        # QEMU's error_report() format, with -msg timestamp=on
        self.assertRegex(emu.log(), f'(?m)^{vt.TIMESTAMP_RE} qemu-kvmi: info: VMI: machine hooked$')
        self.assertRegex(emu.log(), f"(?m)^{vt.TIMESTAMP_RE} qemu-kvmi: warning: VMI: the "
                                    "introspection tool won't be 'authenticated'$")
        emu.quit()

    def test_q35_above_4g(self):
        """RAM above 4 GiB and the sort by address (QEMU's table has the
        KVM pages first)."""
        emu, hs, raw, before, after = self.hooked_handshake(machine='q35', memory='3G')
        self.check_layout(hs, raw, self.qemu_e820(emu, [(0, 2 * GiB, 1), (4 * GiB, GiB, 1)]),
                          before, after)
        emu.quit()

    def test_long_name_and_no_uuid(self):
        name = 'n' * 70
        tool = self.raw_tool()
        emu = self.start_emulator(*self.introspection_args(), name=name, guest_uuid=None)
        conn = tool.accept()
        hs, raw = conn.recv_handshake()
        self.assertEqual(hs.uuid, bytes(16))
        self.assertEqual(hs.name, b'n' * 63 + b'\0')
        emu.quit()


class KeyTest(vt.VmiTestCase):
    """key=: SHA-1 over all bytes of the secret's value."""

    def test_key_file_with_newline(self):
        key = self.path('key')
        with open(key, 'wb') as f:
            f.write(b'sesame\n')
        tool = self.start_tool('vmi.sock', '--key-file', key)
        emu = self.start_emulator('-object', f'secret,id=k,format=raw,file={key}',
                                  *self.introspection_args(key='k'))
        tool.expect('hooked', uuid=vt.GUEST_UUID, name=vt.GUEST_NAME)
        self.assertNotIn("won't be 'authenticated'", emu.log())
        emu.quit()

    def test_key_file_read_at_start(self):
        """The key file is read when QEMU starts, as QEMU reads a secret
        object's file, never again: removed after the start, the tool still
        hooks, and again after a reconnect."""
        key = self.path('key')
        with open(key, 'wb') as f:
            f.write(b'read at start\n')
        copy = self.path('key-copy')
        with open(copy, 'wb') as f:
            f.write(b'read at start\n')
        emu = self.start_emulator('-object', f'secret,id=k,format=raw,file={key}',
                                  *self.introspection_args(key='k'))
        emu.qmp().close()       # QEMU is up, as libvirt's `started` hook sees it
        os.unlink(key)
        tool = self.start_tool('vmi.sock', '--key-file', copy)
        tool.expect('hooked', uuid=vt.GUEST_UUID, name=vt.GUEST_NAME, timeout=5 * vt.SLOW)
        tool.stop()
        emu.wait_log('VMI: introspection tool disconnected')
        tool = self.start_tool('vmi.sock', '--key-file', copy)
        tool.expect('hooked', uuid=vt.GUEST_UUID, name=vt.GUEST_NAME, timeout=5 * vt.SLOW)
        self.assertNotIn("doesn't match", emu.log())
        emu.quit()

    def test_base64_data_secret(self):
        rtool = self.raw_tool()
        emu = self.start_emulator('-object', 'secret,id=k,format=base64,data=AAECAwQ=',
                                  *self.introspection_args(key='k'))
        conn = rtool.accept()
        conn.handshake(key=bytes([0, 1, 2, 3, 4]))
        hdr, err, body = conn.request(kw.GET_VERSION)
        self.assertEqual(err, 0)
        emu.quit()

    def test_wrong_key_then_fixed(self):
        """A mismatch disconnects; the chardev reconnects; a right key hooks."""
        rtool = self.raw_tool()
        emu = self.start_emulator('-object', 'secret,id=k,data=right',
                                  *self.introspection_args(key='k'))
        conn = rtool.accept()
        conn.handshake(key=b'wrong')
        self.assertTrue(conn.expect_eof())
        emu.wait_log("VMI: introspection tool disconnected")
        t0 = time.monotonic()
        conn = rtool.accept(timeout=3 * vt.SLOW)
        # reconnect=1: the next attempt comes a second after the close
        self.assertGreater(time.monotonic() - t0, 0.5)
        conn.handshake(key=b'right')
        hdr, err, body = conn.request(kw.GET_VERSION)
        self.assertEqual(err, 0)
        emu.wait_log('VMI: machine hooked')
        self.assertEqual(emu.vmi_lines(), [
            'VMI: introspection tool connected',
            "VMI: received cookie doesn't match",
            'VMI: introspection tool disconnected',
            'VMI: introspection tool connected',
            'VMI: machine hooked',
        ])
        # warn_report_err(): the hint "reconnecting" follows on its own line
        self.assertRegex(emu.log(), r"warning: VMI: received cookie doesn't match\nreconnecting\n")
        emu.quit()

    def test_without_key_any_cookie(self):
        rtool = self.raw_tool()
        # Without a key the handshake takes HandshakeLayoutTest's path
        emu = self.start_emulator(*self.introspection_args(), kind='handshake')
        conn = rtool.accept()
        conn.handshake(key=b'anything')
        self.assertEqual(conn.request(kw.GET_VERSION)[1], 0)
        emu.quit()


class BadHandshakeTest(vt.VmiTestCase):

    def test_timeout(self):
        rtool = self.raw_tool()
        emu = self.start_emulator(*self.introspection_args(handshake_timeout=1))
        conn = rtool.accept()
        conn.recv_handshake()
        t0 = time.monotonic()
        self.assertTrue(conn.expect_eof(timeout=5 * vt.SLOW))
        self.assertGreater(time.monotonic() - t0, 0.9)
        emu.wait_log('warning: VMI: the handshake takes too long')
        # and it tries again
        conn = rtool.accept(timeout=3 * vt.SLOW)
        conn.handshake()
        emu.wait_log('VMI: machine hooked')
        self.assertNotIn('VMI: introspection tool disconnected', emu.log())
        emu.quit()

    def test_short_data(self):
        rtool = self.raw_tool()
        emu = self.start_emulator(*self.introspection_args())
        conn = rtool.accept()
        conn.recv_handshake()
        # a struct_size of 12: QEMU reads 12 bytes, then finds them too few
        conn.sock.sendall(struct.pack('=I', 12) + bytes(8))
        self.assertTrue(conn.expect_eof())
        emu.wait_log('warning: VMI: not enough or invalid handshake data')
        self.assertRegex(emu.log(), r'not enough or invalid handshake data\nreconnecting\n')
        emu.wait_log('VMI: introspection tool disconnected')
        conn = rtool.accept(timeout=3 * vt.SLOW)
        conn.handshake()
        emu.wait_log('VMI: machine hooked')
        emu.quit()

    def test_size_below_its_own_field(self):
        """struct_size < 4: QEMU reads nothing more, the timeout ends it."""
        rtool = self.raw_tool()
        emu = self.start_emulator(*self.introspection_args(handshake_timeout=1))
        conn = rtool.accept()
        conn.recv_handshake()
        conn.sock.sendall(struct.pack('=I', 2) + bytes(20))
        self.assertTrue(conn.expect_eof(timeout=5 * vt.SLOW))
        emu.wait_log('VMI: the handshake takes too long')
        self.assertNotIn('not enough', emu.log())
        emu.quit()

    def test_longer_reply_and_pipelined_request(self):
        """Extra bytes of a longer reply are skipped; a request sent with the
        reply goes to the kernel."""
        rtool = self.raw_tool()
        emu = self.start_emulator(*self.introspection_args())
        conn = rtool.accept()
        conn.recv_handshake()
        reply = kw.pack_tool_reply(struct_size=40) + b'\xff' * 16
        conn.seq = 1
        conn.sock.sendall(reply + kw.pack_message(kw.GET_VERSION, 1))
        hdr, body = kw.recv_message(conn.sock)
        self.assertEqual((hdr.id, hdr.seq), (kw.GET_VERSION, 1))
        self.assertEqual(kw.unpack_error_code(body).err, 0)
        emu.quit()

    def test_tool_closes_during_handshake(self):
        rtool = self.raw_tool()
        emu = self.start_emulator(*self.introspection_args())
        conn = rtool.accept()
        conn.recv_handshake()
        conn.close()
        emu.wait_log('VMI: introspection tool disconnected')
        conn = rtool.accept(timeout=3 * vt.SLOW)
        conn.handshake()
        emu.wait_log('VMI: machine hooked')
        emu.quit()

    def test_no_tool_yet(self):
        """QEMU reports the first failed connect once, then keeps trying."""
        emu = self.start_emulator(*self.introspection_args())
        emu.wait_log(f"Unable to connect character device vmic: Failed to connect to "
                     f"'{re.escape(self.path('vmi.sock'))}': No such file or directory")
        time.sleep(1.5)
        tool = self.start_tool()
        tool.expect('hooked', timeout=3 * vt.SLOW)
        self.assertEqual(emu.log().count('Unable to connect character device'), 1)
        emu.quit()


if __name__ == '__main__':
    vt.main()
