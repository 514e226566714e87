#!/usr/bin/env python3
"""vmi-tool against a peer that plays QEMU's introspection object and the
KVMI kernel, byte by byte from tests/lib/kvmi_wire.py (docs/kvmi.rst).

Environment: VMI_BUILD_DIR (finds tools/vmi-tool/vmi-tool), VMI_SOURCE_DIR
(finds tests/lib), VMI_TEST_WRAPPER (optional command prefix, e.g. valgrind:
see tests/lib/vmiwrap.py).
"""

import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get('VMI_SOURCE_DIR',
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
sys.path.insert(0, os.path.join(SOURCE_DIR, 'tests', 'lib'))

import kvmi_wire as kw  # noqa: E402
import vmitool  # noqa: E402
import vmiwrap as vw  # noqa: E402

WAIT = 5 * vw.SLOW

GUEST_UUID = uuid.UUID('c7a5fdbd-cdaf-9455-926a-d65c16db1809')
E820 = [(0x0, 0x9fc00, 1), (0x9fc00, 0x400, 2), (0x100000, 0x3ff00000, 1)]


class Peer:
    """QEMU's side of the handshake, then the kernel's side of KVMI."""

    def __init__(self, testcase, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        testcase.addCleanup(self.sock.close)
        self.sock.settimeout(WAIT)
        self.sock.connect(path)

    def send_handshake(self, **kwargs):
        kwargs.setdefault('uuid', GUEST_UUID.bytes)
        kwargs.setdefault('name', 'guest1')
        kwargs.setdefault('start_time', 1586950000123)
        kwargs.setdefault('e820', E820)
        self.sock.sendall(kw.pack_qemu_handshake(**kwargs))

    def handshake(self, **kwargs):
        self.send_handshake(**kwargs)
        return kw.recv_tool_reply(self.sock)

    def recv(self):
        return kw.recv_message(self.sock)

    def request(self, msg_id, size):
        hdr, payload = self.recv()
        assert hdr.id == msg_id and hdr.size == size, (hdr, msg_id, size)
        return hdr, payload

    def reply(self, hdr, err=0, payload=b''):
        self.sock.sendall(kw.pack_reply(hdr, err, payload))

    def serve_setup(self, vcpus=2, unhook=True, unhook_err=0):
        """Answers GET_VERSION, VM_GET_INFO and (if expected) VM_CONTROL_EVENTS."""
        hdr, _ = self.request(kw.GET_VERSION, 0)
        self.reply(hdr, payload=kw.pack_get_version_reply(singlestep=1))
        hdr, _ = self.request(kw.VM_GET_INFO, 0)
        self.reply(hdr, payload=kw.pack_vm_get_info_reply(vcpus))
        if unhook:
            hdr, payload = self.request(kw.VM_CONTROL_EVENTS, 8)
            self.reply(hdr, unhook_err)

    def send_unhook(self, seq=1):
        self.sock.sendall(kw.pack_event_message(seq, kw.EVENT_UNHOOK))

    def wait_eof(self, timeout=WAIT):
        """Seconds until the tool closed; fails if it sends data or stays open."""
        start = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except ConnectionResetError:
            data = b''          # closed with our bytes unread: a reset
        assert data == b'', f'the tool sent {data!r} instead of closing'
        return time.monotonic() - start

    def stays_open(self, seconds):
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(1)
        except socket.timeout:
            return True
        raise AssertionError(f'the tool sent {data!r} or closed')


class ToolTestCase(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix='vmi-tool-')
        self.addCleanup(shutil.rmtree, self.tmpdir, ignore_errors=True)
        self.sock = os.path.join(self.tmpdir, 'vmi.sock')

    def start(self, *args, kind=None, wait=True, **kwargs):
        """vmi-tool on self.sock (see vmitool.Tool for @kind: under
        valgrind, each kind of run goes under it once in this file)."""
        return vmitool.Tool(self, self.sock, *args, kind=kind, wait=wait, **kwargs)

    def assertExit(self, tool, rc, terminate=False):
        got = tool.terminate() if terminate else tool.wait()
        self.assertEqual(got, rc, tool.read_stderr())

    def full_session(self, tool, peer, conn=1):
        """Handshake, setup, UNHOOK and close; checks the JSON on the way."""
        reply, raw = peer.handshake()
        self.assertEqual(reply.struct_size, 24)
        tool.expect('handshake', conn=conn)
        peer.serve_setup()
        tool.expect('ready', conn=conn, unhook_event=True)
        peer.send_unhook()
        peer.wait_eof()
        tool.expect('closed', conn=conn, reason='unhook', state='unhooking')


class HandshakeTest(ToolTestCase):
    def test_reply_without_key_and_session(self):
        tool = self.start('--exit-after', '1')
        peer = Peer(self, tool.path)
        reply, raw = peer.handshake()

        # the 24-byte reply, field by field: struct_size, then a zero hash
        self.assertEqual(len(raw), kw.TOOL_REPLY_SIZE)
        self.assertEqual(raw[:4], (24).to_bytes(4, sys.byteorder))
        self.assertEqual(reply.struct_size, 24)
        self.assertEqual(reply.cookie_hash, bytes(20))

        hs = tool.expect('handshake', conn=1)
        self.assertEqual(hs['uuid'], str(GUEST_UUID))
        self.assertEqual(hs['name'], 'guest1')
        self.assertEqual(hs['start_time'], 1586950000123)
        self.assertEqual(hs['cpu_type'], kw.CPU_TYPE_X86_64)
        self.assertEqual(hs['cpu_type_name'], 'x86_64')
        self.assertEqual(hs['struct_size'], kw.handshake_size(3))
        self.assertEqual(hs['e820'], [{'address': a, 'length': n, 'type': t} for a, n, t in E820])

        # GET_VERSION first: hdr id 2, no payload, a sequence number
        hdr, payload = peer.request(kw.GET_VERSION, 0)
        self.assertEqual(payload, b'')
        self.assertGreater(hdr.seq, 0)
        peer.reply(hdr, payload=kw.pack_get_version_reply(singlestep=1))
        hooked = tool.expect('hooked', conn=1)
        self.assertEqual((hooked['version'], hooked['singlestep']), (1, True))

        hdr2, payload = peer.request(kw.VM_GET_INFO, 0)
        self.assertEqual(hdr2.seq, hdr.seq + 1, 'seq grows per request')
        peer.reply(hdr2, payload=kw.pack_vm_get_info_reply(4))
        self.assertEqual(tool.expect('vm-info', conn=1)['vcpu_count'], 4)

        # VM_CONTROL_EVENTS{event_id 0, enable 1}, every padding byte zero
        hdr3, payload = peer.request(kw.VM_CONTROL_EVENTS, 8)
        self.assertEqual(hdr3.seq, hdr2.seq + 1)
        self.assertEqual(payload, b'\x00\x00\x01\x00\x00\x00\x00\x00')
        self.assertEqual(kw.unpack_vm_control_events(payload), (0, 1, 0, 0))
        peer.reply(hdr3)
        tool.expect('unhook-enabled', conn=1)
        tool.expect('ready', conn=1, unhook_event=True)

        peer.send_unhook(seq=7)
        peer.wait_eof()
        unhook = tool.expect('unhook', conn=1)
        self.assertEqual((unhook['seq'], unhook['vcpu'], unhook['close_after_ms']), (7, 0, 0))
        tool.expect('closed', conn=1, reason='unhook', state='unhooking')
        self.assertExit(tool, 0)
        tool.expect('exit', reason='exit-after', connections=1)

        # once the handshake is read, every line names the guest
        for line in tool.lines:
            if line['conn'] == 1 and line['event'] not in ('connected',):
                self.assertEqual((line['uuid'], line['name']), (str(GUEST_UUID), 'guest1'), line)
        self.assertFalse(os.path.exists(tool.path), 'the socket file is removed on exit')

    def test_key_file_cookie_is_sha1_of_all_bytes(self):
        key = os.path.join(self.tmpdir, 'key')
        with open(key, 'wb') as f:
            f.write(b'not so secret\n')
        tool = self.start('--key-file', key)
        expected = kw.cookie_hash(b'not so secret\n')
        # the listening line says where the cookie came from, never the cookie
        self.assertEqual(tool.lines[0]['cookie_from'], 'key-file')
        self.assertNotIn('key_hash', tool.lines[0])
        reply, _ = Peer(self, tool.path).handshake()
        self.assertEqual(reply.cookie_hash, expected)
        self.assertNotEqual(reply.cookie_hash, kw.cookie_hash(b'not so secret'))
        self.assertExit(tool, 0, terminate=True)
        self.assertCookieNowhere(tool, expected)

    def assertCookieNowhere(self, tool, digest):
        out = tool.output()
        for form in (digest.hex(), digest.hex().upper()):
            self.assertNotIn(form, out)
        self.assertNotIn(digest, out.encode('utf-8', 'surrogateescape'))

    def test_key_hash_file_on_a_pipe(self):
        """The cookie from a pipe (what virt-vmi key-hash --show-cookie
        prints, any case), never on the command line."""
        digest = kw.cookie_hash(b'from virt-vmi key-hash')
        tool = self.start(key_hash=digest.hex().upper())
        self.assertEqual(tool.lines[0]['cookie_from'], 'key-hash-file')
        with open(f'/proc/{tool.proc.pid}/cmdline', 'rb') as f:
            self.assertNotIn(digest.hex().upper().encode(), f.read())
        reply, _ = Peer(self, tool.path).handshake()
        self.assertEqual(reply.cookie_hash, digest)
        self.assertExit(tool, 0, terminate=True)
        self.assertCookieNowhere(tool, digest)

    def test_key_hash_file_from_sha1sum(self):
        """A file as sha1sum writes it: the hash, then the name."""
        digest = kw.cookie_hash(b'a key')
        path = os.path.join(self.tmpdir, 'cookie')
        with open(path, 'w') as f:
            f.write(f'{digest.hex()}  key\n')
        tool = self.start('--key-hash-file', path)
        reply, _ = Peer(self, tool.path).handshake()
        self.assertEqual(reply.cookie_hash, digest)
        self.assertExit(tool, 0, terminate=True)

    def test_no_key_reports_null_hash(self):
        tool = self.start()
        self.assertIsNone(tool.lines[0]['cookie_from'])
        self.assertExit(tool, 0, terminate=True)

    def test_rejected_when_qemu_closes_after_reply(self):
        tool = self.start('--exit-after', '1', kind='rejected')
        peer = Peer(self, tool.path)
        peer.handshake()
        peer.sock.close()       # what QEMU does on "received cookie doesn't match"
        tool.expect('closed', conn=1, reason='rejected', state='hooking')
        self.assertExit(tool, 0)
        self.assertIn('key', tool.read_stderr())

    def test_peer_gone_before_the_reply(self):
        tool = self.start(kind='rejected')
        peer = Peer(self, tool.path)
        peer.send_handshake()
        peer.sock.close()
        tool.expect('handshake', conn=1)
        tool.expect('closed', conn=1, reason='rejected', state='hooking')
        self.assertFalse([line for line in tool.lines if line['event'] == 'error'], tool.lines)
        self.assertExit(tool, 0, terminate=True)

    def test_minimal_32_byte_handshake(self):
        tool = self.start(kind='handshake without name')
        peer = Peer(self, tool.path)
        data = kw.pack_qemu_handshake(uuid=GUEST_UUID.bytes, start_time=-5, cpu_type=0)[:32]
        peer.sock.sendall((32).to_bytes(4, sys.byteorder) + data[4:])
        reply, _ = kw.recv_tool_reply(peer.sock)
        self.assertEqual(reply.struct_size, 24)
        hs = tool.expect('handshake', conn=1)
        self.assertEqual((hs['struct_size'], hs['start_time'], hs['cpu_type_name']), (32, -5, 'i386'))
        self.assertIsNone(hs['name'])
        self.assertIsNone(hs['e820'])
        peer.request(kw.GET_VERSION, 0)
        self.assertExit(tool, 0, terminate=True)

    def test_unknown_trailing_bytes_are_skipped(self):
        # a struct_size beyond what the tool keeps: the rest is read and dropped
        tool = self.start(kind='handshake with trailing bytes')
        peer = Peer(self, tool.path)
        trailing = bytes(range(256)) * 40
        data = kw.pack_qemu_handshake(uuid=GUEST_UUID.bytes, name='big', e820=E820[:2])
        size = len(data) + len(trailing)
        peer.sock.sendall(size.to_bytes(4, sys.byteorder) + data[4:] + trailing)
        kw.recv_tool_reply(peer.sock)
        hs = tool.expect('handshake', conn=1, struct_size=size)
        self.assertEqual(len(hs['e820']), 2)
        self.assertEqual(hs['name'], 'big')
        peer.serve_setup()      # the stream is in step after the skipped bytes
        tool.expect('ready', conn=1)
        self.assertExit(tool, 0, terminate=True)

    def test_e820_count_beyond_struct_size_is_ignored(self):
        # kvmi-v12 sends 104 bytes with max_gpa at 96: not an e820 count
        tool = self.start(kind='handshake without e820')
        peer = Peer(self, tool.path)
        peer.handshake(e820=[], e820_count=3)
        hs = tool.expect('handshake', conn=1, struct_size=104)
        self.assertIsNone(hs['e820'])
        self.assertExit(tool, 0, terminate=True)

    def test_name_is_nul_terminated_and_valid_utf8(self):
        tool = self.start(kind='name not UTF-8')
        peer = Peer(self, tool.path)
        peer.handshake(name=b'caf\xe9\x00garbage')
        hs = tool.expect('handshake', conn=1)
        self.assertEqual(hs['name'], 'caf\ufffd')
        self.assertExit(tool, 0, terminate=True)

    def test_64_byte_name_without_nul(self):
        tool = self.start(kind='name without NUL')
        Peer(self, tool.path).handshake(name='n' * 64)
        self.assertEqual(tool.expect('handshake', conn=1)['name'], 'n' * 64)
        self.assertExit(tool, 0, terminate=True)


class BadPeerTest(ToolTestCase):
    def assertFailure(self, tool, error, conn=1):
        line = tool.expect('error', conn=conn, error=error)
        self.assertTrue(line['message'])
        tool.expect('closed', conn=conn, reason='error')
        return line

    def test_short_handshake(self):
        tool = self.start(kind='short-handshake')
        peer = Peer(self, tool.path)
        peer.sock.sendall(kw.pack_qemu_handshake()[:50])
        peer.sock.close()
        line = self.assertFailure(tool, 'short-handshake')
        self.assertIn('50 of 104', line['message'])
        # the tool goes on serving
        self.full_session(tool, Peer(self, tool.path), conn=2)
        self.assertExit(tool, 0, terminate=True)

    def test_short_size_field(self):
        tool = self.start(kind='short-handshake')
        peer = Peer(self, tool.path)
        peer.sock.sendall(b'\x20\x00')
        peer.sock.close()
        self.assertIn('2 of 4', self.assertFailure(tool, 'short-handshake')['message'])
        self.assertExit(tool, 0, terminate=True)

    def test_connect_and_close_is_plain_eof(self):
        tool = self.start(kind='eof')
        Peer(self, tool.path).sock.close()
        tool.expect('closed', conn=1, reason='eof', state='handshake')
        self.assertExit(tool, 0, terminate=True)

    def test_invalid_struct_size(self):
        tool = self.start(kind='invalid-handshake')
        for conn, size in ((1, 31), (2, 0xffffffff), (3, 65537)):
            peer = Peer(self, tool.path)
            peer.sock.sendall(size.to_bytes(4, sys.byteorder) + bytes(60))
            self.assertFailure(tool, 'invalid-handshake', conn=conn)
            peer.wait_eof()
        self.assertExit(tool, 0, terminate=True)

    def test_garbage_after_handshake(self):
        tool = self.start(kind='unexpected-message')
        peer = Peer(self, tool.path)
        peer.handshake()
        peer.request(kw.GET_VERSION, 0)
        # a well-framed message that answers nothing: id 0x5555, 4 bytes
        peer.sock.sendall(kw.pack_message(0x5555, 0x55555555, b'\x55' * 4))
        line = self.assertFailure(tool, 'unexpected-message')
        self.assertIn('id 21845', line['message'])

    def test_garbage_instead_of_handshake(self):
        tool = self.start(kind='invalid-handshake')
        peer = Peer(self, tool.path)
        peer.sock.sendall(b'GET / HTTP/1.1\r\n\r\n')
        self.assertFailure(tool, 'invalid-handshake')
        peer.wait_eof()
        self.assertExit(tool, 0, terminate=True)

    def test_reply_with_wrong_seq(self):
        tool = self.start(kind='unexpected-message')
        peer = Peer(self, tool.path)
        peer.handshake()
        hdr, _ = peer.request(kw.GET_VERSION, 0)
        peer.reply(hdr._replace(seq=hdr.seq + 100), payload=kw.pack_get_version_reply())
        line = self.assertFailure(tool, 'unexpected-message')
        self.assertIn(f'seq {hdr.seq + 100}', line['message'])
        self.assertExit(tool, 0, terminate=True)

    def test_oversized_message(self):
        tool = self.start(kind='oversized-message')
        peer = Peer(self, tool.path)
        peer.handshake()
        hdr, _ = peer.request(kw.GET_VERSION, 0)
        peer.sock.sendall(kw.pack_hdr(hdr.id, kw.MAX_PAYLOAD + 1, hdr.seq))
        line = self.assertFailure(tool, 'oversized-message')
        self.assertIn('8185', line['message'])
        peer.wait_eof()
        self.assertExit(tool, 0, terminate=True)

    def test_largest_message_is_accepted(self):
        # its own kind: a buffer's limit is where valgrind sees an overrun
        tool = self.start(kind='largest message')
        peer = Peer(self, tool.path)
        peer.handshake()
        hdr, _ = peer.request(kw.GET_VERSION, 0)
        body = kw.ERROR_CODE.pack(0, 0) + kw.pack_get_version_reply()
        body += bytes(kw.MAX_PAYLOAD - len(body))
        peer.sock.sendall(kw.pack_message(hdr.id, hdr.seq, body))
        tool.expect('hooked', conn=1, version=1)
        peer.request(kw.VM_GET_INFO, 0)
        self.assertExit(tool, 0, terminate=True)

    def test_short_message(self):
        tool = self.start(kind='short-message')
        peer = Peer(self, tool.path)
        peer.handshake()
        hdr, _ = peer.request(kw.GET_VERSION, 0)
        peer.sock.sendall(kw.pack_reply(hdr, payload=kw.pack_get_version_reply())[:13])
        peer.sock.close()
        self.assertIn('13 of 32', self.assertFailure(tool, 'short-message')['message'])
        self.assertExit(tool, 0, terminate=True)

    def test_reply_too_short_for_its_payload(self):
        tool = self.start(kind='bad-reply')
        peer = Peer(self, tool.path)
        peer.handshake()
        hdr, _ = peer.request(kw.GET_VERSION, 0)
        peer.reply(hdr)         # err 0 but no kvmi_get_version_reply
        self.assertFailure(tool, 'bad-reply')
        self.assertExit(tool, 0, terminate=True)

    def test_event_shorter_than_common_part(self):
        tool = self.start(kind='bad-event')
        peer = Peer(self, tool.path)
        peer.handshake()
        peer.request(kw.GET_VERSION, 0)
        peer.sock.sendall(kw.pack_message(kw.KVMI_EVENT, 1, b'\x00' * 4))
        self.assertFailure(tool, 'bad-event')
        self.assertExit(tool, 0, terminate=True)

    def test_handshake_timeout(self):
        tool = self.start('--timeout', '1')
        peer = Peer(self, tool.path)
        peer.sock.sendall(b'\x68\x00')
        elapsed = peer.wait_eof(timeout=WAIT)
        self.assertGreaterEqual(elapsed, 0.9)
        tool.expect('closed', conn=1, reason='timeout', state='handshake')
        self.assertExit(tool, 0, terminate=True)

    def test_reply_timeout(self):
        tool = self.start('--timeout', '1')
        peer = Peer(self, tool.path)
        peer.handshake()
        peer.request(kw.GET_VERSION, 0)
        elapsed = peer.wait_eof(timeout=WAIT)
        self.assertGreaterEqual(elapsed, 0.9)
        tool.expect('closed', conn=1, reason='timeout', state='hooking')
        self.assertExit(tool, 0, terminate=True)


class UnhookTest(ToolTestCase):
    def hooked_peer(self, tool, **setup):
        peer = Peer(self, tool.path)
        peer.handshake()
        peer.serve_setup(**setup)
        return peer

    def test_unhook_delay(self):
        tool = self.start('--unhook-delay', '600')
        peer = self.hooked_peer(tool)
        tool.expect('ready', conn=1)
        peer.send_unhook()
        elapsed = peer.wait_eof()
        self.assertGreaterEqual(elapsed, 0.55)
        self.assertLess(elapsed, 0.6 + 2 * vw.SLOW)
        self.assertEqual(tool.expect('unhook', conn=1)['close_after_ms'], 600)
        tool.expect('closed', conn=1, reason='unhook')
        self.assertExit(tool, 0, terminate=True)

    def test_unhook_never(self):
        tool = self.start('--unhook-delay', 'never', kind='never')
        peer = self.hooked_peer(tool)
        peer.send_unhook()
        self.assertIsNone(tool.expect('unhook', conn=1)['close_after_ms'])
        self.assertTrue(peer.stays_open(1.5))
        # as QEMU after unhook_timeout: it cuts the socket itself
        peer.sock.shutdown(socket.SHUT_RDWR)
        tool.expect('closed', conn=1, reason='eof', state='unhooking')
        self.assertExit(tool, 0, terminate=True)

    def test_no_unhook_event(self):
        tool = self.start('--no-unhook-event')
        peer = self.hooked_peer(tool, unhook=False)
        tool.expect('ready', conn=1, unhook_event=False)
        self.assertTrue(peer.stays_open(0.5), 'no VM_CONTROL_EVENTS is sent')
        peer.sock.shutdown(socket.SHUT_RDWR)
        tool.expect('closed', conn=1, reason='eof', state='ready')
        self.assertExit(tool, 0, terminate=True)

    def test_unhook_refused(self):
        tool = self.start(kind='refused')
        self.hooked_peer(tool, unhook_err=kw.KVM_EPERM)
        refused = tool.expect('refused', conn=1)
        self.assertEqual((refused['command'], refused['id'], refused['error'], refused['error_name']),
                         ('vm-control-events', 6, -1, 'EPERM'))
        tool.expect('ready', conn=1, unhook_event=False)
        self.assertExit(tool, 0, terminate=True)

    def test_other_event_is_reported_not_fatal(self):
        tool = self.start(kind='kvmi-event')
        peer = self.hooked_peer(tool)
        peer.sock.sendall(kw.pack_event_message(1, kw.EVENTS['breakpoint'], vcpu=1))
        line = tool.expect('kvmi-event', conn=1)
        self.assertEqual((line['id'], line['name'], line['vcpu']), (3, 'breakpoint', 1))
        peer.send_unhook(seq=2)
        peer.wait_eof()
        self.assertExit(tool, 0, terminate=True)

    def test_sigterm_closes_live_connections(self):
        tool = self.start(kind='shutdown')
        peer = self.hooked_peer(tool)
        tool.expect('ready', conn=1)
        self.assertExit(tool, 0, terminate=True)
        tool.expect('closed', conn=1, reason='shutdown', state='ready')
        tool.expect('exit', reason='signal', connections=1)
        peer.wait_eof()


class TryTest(ToolTestCase):
    def test_try_commands_and_events(self):
        tool = self.start('--try-command', 'vcpu-pause', '--try-command', '99',
                          '--try-command', '1', '--try-event', 'breakpoint', '--try-event', '12')
        peer = Peer(self, tool.path)
        peer.handshake()
        hdr, _ = peer.request(kw.GET_VERSION, 0)
        peer.reply(hdr, payload=kw.pack_get_version_reply())

        # vcpu-pause: VM_CHECK_COMMAND says allowed, the call fails its size check
        hdr, payload = peer.request(kw.VM_CHECK_COMMAND, 8)
        self.assertEqual(payload, kw.pack_vm_check(10))
        self.assertEqual(kw.unpack_vm_check(payload), (10, 0, 0))
        peer.reply(hdr)
        hdr, payload = peer.request(10, 0)
        peer.reply(hdr, kw.KVM_EINVAL)

        # 99: unknown to VM_CHECK_COMMAND and to the kernel
        hdr, payload = peer.request(kw.VM_CHECK_COMMAND, 8)
        self.assertEqual(kw.unpack_vm_check(payload).id, 99)
        peer.reply(hdr, kw.KVM_ENOENT)
        hdr, _ = peer.request(99, 0)
        peer.reply(hdr, kw.KVM_ENOSYS)

        # 1 is the event message id: checked, never sent as a command
        hdr, payload = peer.request(kw.VM_CHECK_COMMAND, 8)
        self.assertEqual(kw.unpack_vm_check(payload).id, 1)
        peer.reply(hdr, kw.KVM_ENOENT)

        hdr, payload = peer.request(kw.VM_CHECK_EVENT, 8)
        self.assertEqual(payload, kw.pack_vm_check(3))
        peer.reply(hdr, kw.KVM_EPERM)
        hdr, payload = peer.request(kw.VM_CHECK_EVENT, 8)
        self.assertEqual(kw.unpack_vm_check(payload).id, 12)
        peer.reply(hdr, kw.KVM_ENOENT)

        hdr, _ = peer.request(kw.VM_GET_INFO, 0)
        peer.reply(hdr, kw.KVM_EPERM)
        hdr, _ = peer.request(kw.VM_CONTROL_EVENTS, 8)
        peer.reply(hdr)
        tool.expect('ready', conn=1)

        checks = [(c['kind'], c['name'], c['id'], c['via'], c['result'], c['error'], c['error_name'])
                  for c in tool.lines if c['event'] == 'check']
        self.assertEqual(checks, [
            ('command', 'vcpu-pause', 10, 'check', 'allowed', 0, None),
            ('command', 'vcpu-pause', 10, 'call', 'allowed', -22, 'EINVAL'),
            ('command', None, 99, 'check', 'unknown', -2, 'ENOENT'),
            ('command', None, 99, 'call', 'unknown', -1000, 'ENOSYS'),
            ('command', None, 1, 'check', 'unknown', -2, 'ENOENT'),
            ('event', 'breakpoint', 3, 'check', 'disallowed', -1, 'EPERM'),
            ('event', None, 12, 'check', 'unknown', -2, 'ENOENT'),
        ])
        refused = tool.expect('refused', conn=1, command='vm-get-info')
        self.assertEqual(refused['error'], -1)
        self.assertExit(tool, 0, terminate=True)

    def test_disallowed_call(self):
        tool = self.start('--try-command', '21')
        peer = Peer(self, tool.path)
        peer.handshake()
        hdr, _ = peer.request(kw.GET_VERSION, 0)
        peer.reply(hdr, payload=kw.pack_get_version_reply())
        hdr, _ = peer.request(kw.VM_CHECK_COMMAND, 8)
        peer.reply(hdr, kw.KVM_EPERM)
        hdr, _ = peer.request(21, 0)
        peer.reply(hdr, kw.KVM_EPERM)
        line = tool.expect('check', conn=1, via='call')
        self.assertEqual((line['name'], line['result']), ('vm-set-page-access', 'disallowed'))
        self.assertEqual(tool.expect('check', conn=1, via='check')['result'], 'disallowed')
        self.assertExit(tool, 0, terminate=True)


class ServerTest(ToolTestCase):
    def test_two_connections_interleaved(self):
        tool = self.start('--exit-after', '2', '--unhook-delay', '300')
        a = Peer(self, tool.path)
        b = Peer(self, tool.path)
        tool.expect('connected', conn=2)
        # A sends half a handshake and stalls; B goes through meanwhile
        data = kw.pack_qemu_handshake(uuid=uuid.UUID(int=1).bytes, name='a', e820=E820)
        a.sock.sendall(data[:40])
        b.handshake(uuid=uuid.UUID(int=2).bytes, name='b')
        b.serve_setup()
        b.send_unhook()
        a.sock.sendall(data[40:])
        kw.recv_tool_reply(a.sock)
        a.serve_setup()
        a.send_unhook()
        b.wait_eof()
        a.wait_eof()
        closed = {line['name']: line for line in tool.lines if line['event'] == 'closed'}
        self.assertExit(tool, 0)
        closed = {line['name']: line for line in tool.lines if line['event'] == 'closed'}
        self.assertEqual(closed['a']['uuid'], str(uuid.UUID(int=1)))
        self.assertEqual(closed['b']['uuid'], str(uuid.UUID(int=2)))
        self.assertEqual({c['reason'] for c in closed.values()}, {'unhook'})
        self.assertNotEqual(closed['a']['conn'], closed['b']['conn'])
        tool.expect('exit', reason='exit-after', connections=2)

    def test_many_vms_connect_at_once(self):
        # every VM of a host reconnects together, e.g. after the tool restarts:
        # they all wait in the backlog while the tool is stopped
        count = 40
        tool = self.start('--exit-after', str(count), kind='backlog')
        tool.proc.send_signal(signal.SIGSTOP)
        try:
            peers = [Peer(self, tool.path) for _ in range(count)]
        finally:
            tool.proc.send_signal(signal.SIGCONT)
        for i, peer in enumerate(peers):
            peer.send_handshake(name=f'vm{i}')
        for peer in peers:
            kw.recv_tool_reply(peer.sock)
            peer.serve_setup()
        for peer in peers:
            peer.send_unhook()
        for peer in peers:
            peer.wait_eof()
        self.assertExit(tool, 0)
        closed = [line for line in tool.lines if line['event'] == 'closed']
        self.assertEqual(sorted(line['name'] for line in closed), sorted(f'vm{i}' for i in range(count)))
        self.assertEqual({line['reason'] for line in closed}, {'unhook'})

    def test_exit_after_counts_closed_connections(self):
        tool = self.start('--exit-after', '2')
        Peer(self, tool.path).sock.close()
        tool.expect('closed', conn=1)
        time.sleep(0.2)
        self.assertIsNone(tool.proc.poll(), 'one of two connections closed: still running')
        self.full_session(tool, Peer(self, tool.path), conn=2)
        self.assertExit(tool, 0)

    def test_several_listeners(self):
        second = os.path.join(self.tmpdir, 'second.sock')
        tool = self.start('--listen', 'unix:' + second, '--exit-after', '1',
                          kind='two listeners', wait=False)
        addresses = {tool.listening()['address'], tool.listening()['address']}
        self.assertEqual(addresses, {'unix:' + tool.path, 'unix:' + second})
        self.full_session(tool, Peer(self, second))
        tool.expect('connected', conn=1, address='unix:' + second)
        self.assertExit(tool, 0)

    def test_socket_mode_and_group(self):
        gid = os.getgid()
        tool = self.start('--socket-mode', '0640', '--socket-group', str(gid))
        st = os.stat(tool.path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(st.st_gid, gid)
        self.assertExit(tool, 0, terminate=True)

    def test_stale_socket_is_replaced(self):
        path = os.path.join(self.tmpdir, 'vmi.sock')
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(path)
        stale.close()           # the file stays, nobody listens
        tool = self.start(kind='stale socket')
        self.full_session(tool, Peer(self, tool.path))
        self.assertExit(tool, 0, terminate=True)

    def test_live_socket_is_not_stolen(self):
        tool = self.start()
        other = self.start(kind='in use', wait=False)     # same path
        self.assertEqual(other.wait(), 1)
        self.assertIn('in use', other.read_stderr())
        self.assertTrue(os.path.exists(tool.path), 'the first tool keeps its socket')
        # the second tool's probe was connection 1 of the first
        tool.expect('closed', conn=1, reason='eof', state='handshake')
        self.full_session(tool, Peer(self, tool.path), conn=2)
        self.assertExit(tool, 0, terminate=True)

    def test_path_that_is_not_a_socket(self):
        path = os.path.join(self.tmpdir, 'vmi.sock')
        open(path, 'w').close()
        tool = self.start(kind='not a socket', wait=False)
        self.assertEqual(tool.wait(), 1)
        self.assertIn('not a socket', tool.read_stderr())
        self.assertTrue(os.path.isfile(path), 'a regular file is never removed')

    def test_vsock_listen(self):
        try:
            probe = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            probe.close()
        except (AttributeError, OSError) as e:
            self.skipTest(f'no vsock here: {e}')
        port = 20000 + os.getpid() % 20000
        tool = self.start('--listen', f'vsock:{port}', listen=False, kind='vsock', wait=False)
        line = tool.expect('listening', timeout=WAIT * 2)
        self.assertEqual(line['address'], f'vsock:{port}')
        self.assertExit(tool, 0, terminate=True)


class OptionsTest(ToolTestCase):
    BAD = [
        (['--listen', 'tcp:1234'], '--listen', 'tcp:1234'),
        (['--listen', 'unix:'], '--listen', 'unix:'),
        (['--listen', 'unix:/' + 'x' * 120], '--listen', 'xxxx'),
        (['--listen', 'vsock:-1'], '--listen', 'vsock:-1'),
        (['--listen', 'vsock:4294967295'], '--listen', 'vsock:4294967295'),
        (['--socket-mode', '999'], '--socket-mode', '999'),
        (['--socket-group', 'no-such-group-here'], '--socket-group', 'no-such-group-here'),
        (['--unhook-delay', 'soon'], '--unhook-delay', 'soon'),
        (['--unhook-delay', '-1'], '--unhook-delay', '-1'),
        (['--try-command', 'vcpu-paws'], '--try-command', 'vcpu-paws'),
        (['--try-command', '65536'], '--try-command', '65536'),
        (['--try-event', 'unhok'], '--try-event', 'unhok'),
        (['--exit-after', '0'], '--exit-after', '0'),
        (['--timeout', 'x'], '--timeout', 'x'),
        (['--no-such-option'], '--no-such-option', ''),
        (['stray'], 'stray', ''),
    ]

    def run_tool(self, args, kind):
        """vmi-tool @args to its end; under valgrind once per @kind (a bad
        value of one option, ...) in this file."""
        return vw.run(vw.wrap_once(('vmi-tool', kind), [vmitool.TOOL] + args), timeout=WAIT * 4)

    def test_bad_values_name_option_and_value(self):
        sock = 'unix:' + os.path.join(self.tmpdir, 's')
        for args, option, value in self.BAD:
            with self.subTest(args=args):
                res = self.run_tool(['--listen', sock] + args, ('bad value', option))
                self.assertEqual(res.returncode, 2, res.stderr)
                self.assertIn(option, res.stderr)
                self.assertIn(value, res.stderr)
                self.assertEqual(res.stdout, '')

    def test_missing_listen(self):
        res = self.run_tool([], 'no --listen')
        self.assertEqual(res.returncode, 2)
        self.assertIn('--listen', res.stderr)

    def test_key_file_and_key_hash_exclude_each_other(self):
        res = self.run_tool(['--listen', 'unix:/tmp/x', '--key-file', '/dev/null',
                             '--key-hash-file', '/dev/null'], 'both keys')
        self.assertEqual(res.returncode, 2)
        self.assertIn('--key-file and --key-hash-file', res.stderr)

    def test_key_hash_on_argv_is_refused(self):
        """--key-hash HEX is gone: refused, its value never repeated."""
        cookie = 'c0ffee' + '1' * 34
        res = self.run_tool(['--listen', 'unix:/tmp/x', '--key-hash', cookie], 'key-hash argv')
        self.assertEqual(res.returncode, 2)
        self.assertIn('--key-hash is no more', res.stderr)
        self.assertIn('--key-hash-file FILE', res.stderr)
        self.assertNotIn(cookie, res.stderr + res.stdout)

    def test_bad_key_hash_file(self):
        """What the file holds is a secret: an error names the file only."""
        sock = 'unix:' + os.path.join(self.tmpdir, 's')
        for text in ('abc\n', 'g' * 40, 'a' * 41, '', 'deadbeef' * 5 + 'x'):
            with self.subTest(text=text):
                path = os.path.join(self.tmpdir, 'cookie')
                with open(path, 'w') as f:
                    f.write(text)
                res = self.run_tool(['--listen', sock, '--key-hash-file', path], 'bad key hash file')
                self.assertEqual(res.returncode, 1, res.stderr)
                self.assertIn(f"--key-hash-file: '{path}' does not start with 40 hexadecimal digits",
                              res.stderr)
                if text:
                    self.assertNotIn(text.strip(), res.stderr)
                self.assertEqual(res.stdout, '')
        missing = os.path.join(self.tmpdir, 'missing')
        res = self.run_tool(['--listen', sock, '--key-hash-file', missing], 'unreadable key hash file')
        self.assertEqual(res.returncode, 1)
        self.assertIn(missing, res.stderr)

    def test_unreadable_key_file_is_a_runtime_failure(self):
        missing = os.path.join(self.tmpdir, 'missing')
        res = self.run_tool(['--listen', 'unix:' + os.path.join(self.tmpdir, 's'), '--key-file', missing],
                            'unreadable key file')
        self.assertEqual(res.returncode, 1)
        self.assertIn(missing, res.stderr)

    def test_help_and_version(self):
        res = self.run_tool(['--help'], 'help')
        self.assertEqual(res.returncode, 0)
        for option in ('--listen', '--key-file', '--key-hash-file', '--unhook-delay', '--no-unhook-event',
                       '--try-command', '--try-event', '--exit-after', '--socket-mode', '--socket-group'):
            self.assertIn(option, res.stdout)
        res = self.run_tool(['--version'], 'version')
        self.assertEqual(res.returncode, 0)
        self.assertRegex(res.stdout, r'^vmi-tool \d+\.\d+')


class WireModuleTest(unittest.TestCase):
    """kvmi_wire itself, against the numbers in docs/kvmi.rst."""

    def test_layouts(self):
        data = kw.pack_qemu_handshake(uuid=GUEST_UUID.bytes, cpu_type=1, start_time=7, name='vm', e820=E820)
        self.assertEqual(len(data), 104 + 24 * 3)
        self.assertEqual(int.from_bytes(data[0:4], sys.byteorder), len(data))
        self.assertEqual(data[4:20], GUEST_UUID.bytes)
        self.assertEqual(data[20], 1)
        self.assertEqual(int.from_bytes(data[24:32], sys.byteorder, signed=True), 7)
        self.assertEqual(data[32:35], b'vm\0')
        self.assertEqual(data[96], 3)
        self.assertEqual(int.from_bytes(data[104 + 24:112 + 24], sys.byteorder), 0x9fc00)
        hs = kw.unpack_qemu_handshake(data)
        self.assertEqual(kw.handshake_name(hs.name), 'vm')
        self.assertEqual([e[:3] for e in hs.e820], E820)
        self.assertEqual(len(kw.pack_event_message(1)), 8 + 544)
        self.assertEqual(kw.unpack_hdr(kw.pack_event_message(5)), (1, 544, 5))
        reply = kw.pack_reply(kw.MsgHdr(2, 0, 9), kw.KVM_EPERM, b'ignored')
        self.assertEqual(reply, kw.pack_hdr(2, 8, 9) + (-1).to_bytes(4, sys.byteorder, signed=True) + bytes(4))


if __name__ == '__main__':
    unittest.main(verbosity=2)
