#!/usr/bin/env python3
"""The emulated KVMI v8 kernel behind qemu-kvmi: framing, the emulated
commands, the allow-lists QEMU sets (in each compatibility mode) and the
kernel's error codes, checked byte by byte with kvmi_wire."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import vmitest as vt  # noqa: E402
from vmitest import kw  # noqa: E402

KVM_INTROSPECTION_COMMAND = 0x4008aec5


def check(ident, padding1=0, padding2=0):
    return kw.pack_vm_check(ident, padding1, padding2)


class KvmiTestBase(vt.VmiTestCase):

    def hooked(self, *extra, options=(), **props):
        """A VM and a raw tool past the handshake."""
        self.rtool = self.raw_tool()
        self.emu = self.start_emulator(*self.introspection_args(**props), *extra,
                                       options=options)
        conn = self.rtool.accept()
        conn.handshake()
        return conn

    def tearDown(self):
        if hasattr(self, 'emu') and self.emu.proc.poll() is None:
            self.emu.quit()


class MessagesTest(KvmiTestBase):

    def test_get_version(self):
        conn = self.hooked()
        hdr, err, body = conn.request(kw.GET_VERSION)
        self.assertEqual(hdr.size, kw.ERROR_CODE_SIZE + kw.GET_VERSION_REPLY.size)
        self.assertEqual(err, 0)
        rpl = kw.unpack_get_version_reply(body)
        self.assertEqual(rpl.version, kw.KVMI_VERSION)
        self.assertEqual((rpl.padding, rpl.features_padding), (0, bytes(7)))
        self.assertIn(rpl.singlestep, (0, 1))

    def test_vm_get_info_counts_real_vcpus(self):
        conn = self.hooked('-smp', '3')
        hdr, err, body = conn.request(kw.VM_GET_INFO)
        self.assertEqual((hdr.size, err), (kw.ERROR_CODE_SIZE + 16, 0))
        info = kw.unpack_vm_get_info_reply(body)
        self.assertEqual((info.vcpu_count, info.padding), (3, bytes(12)))

    def test_everything_allowed_without_lists(self):
        conn = self.hooked()
        for ident in range(2, 24):
            self.assertEqual(conn.request(kw.VM_CHECK_COMMAND, check(ident))[1], 0, ident)
        for ident in range(0, 11):
            self.assertEqual(conn.request(kw.VM_CHECK_EVENT, check(ident))[1], 0, ident)
        # allowed but not emulated
        hdr, err, body = conn.request(kw.COMMANDS['vm-read-physical'])
        self.assertEqual((err, body), (kw.KVM_EOPNOTSUPP, b''))
        self.assertEqual(hdr.size, kw.ERROR_CODE_SIZE)
        self.assertEqual(conn.request(kw.COMMANDS['vcpu-get-registers'])[1], kw.KVM_EOPNOTSUPP)

    def test_unknown_ids(self):
        conn = self.hooked()
        self.assertEqual(conn.request(kw.VM_CHECK_COMMAND, check(24))[1], kw.KVM_ENOENT)
        self.assertEqual(conn.request(kw.VM_CHECK_COMMAND, check(0))[1], kw.KVM_ENOENT)
        self.assertEqual(conn.request(kw.VM_CHECK_EVENT, check(11))[1], kw.KVM_ENOENT)
        for ident in (0, 24, 99, 0xffff):
            hdr, err, body = conn.request(ident)
            self.assertEqual((err, hdr.size), (kw.KVM_ENOSYS, kw.ERROR_CODE_SIZE), ident)

    def test_invalid_requests(self):
        conn = self.hooked()
        self.assertEqual(conn.request(kw.VM_CHECK_COMMAND, check(2, padding1=1))[1], kw.KVM_EINVAL)
        self.assertEqual(conn.request(kw.VM_CHECK_EVENT, check(0, padding2=1))[1], kw.KVM_EINVAL)
        control = kw.VM_CONTROL_EVENTS
        self.assertEqual(conn.request(control, kw.pack_vm_control_events(0, 2))[1], kw.KVM_EINVAL)
        self.assertEqual(conn.request(control, kw.pack_vm_control_events(0, 1, padding1=1))[1],
                         kw.KVM_EINVAL)
        # only UNHOOK is a VM event
        self.assertEqual(conn.request(control, kw.pack_vm_control_events(1, 1))[1], kw.KVM_EINVAL)
        self.assertEqual(conn.request(control, kw.pack_vm_control_events(0, 1))[1], 0)
        self.assertEqual(conn.request(control, kw.pack_vm_control_events(0, 0))[1], 0)
        # a short payload reads as zeros: command id 0 is unknown
        self.assertEqual(conn.request(kw.VM_CHECK_COMMAND, b'')[1], kw.KVM_ENOENT)

    def test_largest_payload(self):
        conn = self.hooked()
        hdr, err, body = conn.request(kw.GET_VERSION, bytes(kw.MAX_PAYLOAD))
        self.assertEqual(err, 0)

    def test_oversized_message_closes(self):
        conn = self.hooked()
        conn.sock.sendall(kw.pack_hdr(kw.GET_VERSION, kw.MAX_PAYLOAD + 1, 1))
        self.assertTrue(conn.expect_eof())
        self.emu.wait_log('VMI: introspection tool disconnected')
        # not pending anything: the chardev reconnects
        conn = self.rtool.accept(timeout=3 * vt.SLOW)
        conn.handshake()
        self.assertEqual(conn.request(kw.GET_VERSION)[1], 0)

    def test_short_message_closes(self):
        conn = self.hooked()
        conn.sock.sendall(kw.pack_hdr(kw.VM_CHECK_COMMAND, 8, 1) + bytes(4))
        conn.sock.shutdown(1)
        self.assertTrue(conn.expect_eof())
        self.emu.wait_log('VMI: introspection tool disconnected')

    def test_unexpected_event_reply_closes(self):
        conn = self.hooked()
        conn.sock.sendall(kw.pack_message(kw.KVMI_EVENT, 1, bytes(16)))
        self.assertTrue(conn.expect_eof())

    def test_replies_keep_the_order(self):
        """VM_GET_INFO waits for QEMU; what follows waits for it."""
        conn = self.hooked()
        conn.sock.sendall(kw.pack_message(kw.VM_GET_INFO, 10) + kw.pack_message(kw.GET_VERSION, 11))
        first, _ = kw.recv_message(conn.sock)
        second, _ = kw.recv_message(conn.sock)
        self.assertEqual([(first.id, first.seq), (second.id, second.seq)],
                         [(kw.VM_GET_INFO, 10), (kw.GET_VERSION, 11)])


class AllowListTest(KvmiTestBase):

    def test_documented_lists(self):
        """command=5,command=6,event=0: every repeated key counts."""
        conn = self.hooked(repeated=[('command', 5), ('command', 6), ('event', 0)])
        results = {i: conn.request(kw.VM_CHECK_COMMAND, check(i))[1] for i in range(2, 24)}
        self.assertEqual({i for i, e in results.items() if e == 0}, {2, 3, 4, 5, 6})
        self.assertEqual({e for i, e in results.items() if i not in (2, 3, 4, 5, 6)}, {kw.KVM_EPERM})
        self.assertEqual(conn.request(kw.VM_CHECK_EVENT, check(0))[1], 0)
        self.assertEqual(conn.request(kw.VM_CHECK_EVENT, check(3))[1], kw.KVM_EPERM)
        # the commands themselves
        self.assertEqual(conn.request(kw.COMMANDS['vm-read-physical'])[1], kw.KVM_EPERM)
        self.assertEqual(conn.request(kw.COMMANDS['vcpu-pause'])[1], kw.KVM_EPERM)
        self.assertEqual(conn.request(kw.VM_GET_INFO)[1], 0)
        self.assertEqual(conn.request(kw.VM_CONTROL_EVENTS, kw.pack_vm_control_events(0, 1))[1], 0)
        self.assertEqual(conn.request(99)[1], kw.KVM_ENOSYS)

    def test_event_not_allowed(self):
        conn = self.hooked(event=3)
        self.assertEqual(conn.request(kw.VM_CONTROL_EVENTS, kw.pack_vm_control_events(0, 1))[1],
                         kw.KVM_EPERM)
        self.assertEqual(conn.request(kw.VM_CHECK_EVENT, check(3))[1], 0)
        self.assertEqual(conn.request(kw.VM_CHECK_EVENT, check(0))[1], kw.KVM_EPERM)

    def test_query_commands_always_allowed(self):
        conn = self.hooked(command=10)
        for ident in (kw.GET_VERSION, kw.VM_CHECK_COMMAND, kw.VM_CHECK_EVENT):
            self.assertEqual(conn.request(kw.VM_CHECK_COMMAND, check(ident))[1], 0)
        self.assertEqual(conn.request(kw.GET_VERSION)[1], 0)
        self.assertEqual(conn.request(kw.VM_GET_INFO)[1], kw.KVM_EPERM)

    def test_fork_last_key_cuts_the_list(self):
        conn = self.hooked(options=['--kvmi-compat=fork-last-key'],
                           repeated=[('command', 5), ('command', 6)])
        self.assertEqual(conn.request(kw.VM_CHECK_COMMAND, check(6))[1], 0)
        self.assertEqual(conn.request(kw.VM_CHECK_COMMAND, check(5))[1], kw.KVM_EPERM)

    def test_unknown_id_in_list_fails_every_hook(self):
        """KVM refuses the id: QEMU unhooks, disconnects, reconnects, again."""
        rtool = self.raw_tool()
        emu = self.start_emulator(*self.introspection_args(command=30))
        for attempt in range(2):
            conn = rtool.accept(timeout=3 * vt.SLOW)
            conn.handshake()
            self.assertTrue(conn.expect_eof())
        emu.wait_log('VMI: introspection tool disconnected', count=2)
        msg = f'VMI: feature {KVM_INTROSPECTION_COMMAND} with id 30 failed: Unknown error -22'
        self.assertEqual(emu.vmi_lines()[1:4], ['VMI: introspection tool connected', msg,
                                                'VMI: introspection tool disconnected'])
        self.assertIn(f'warning: {msg}\nreconnecting\n', emu.log())
        self.assertNotIn('VMI: machine hooked', emu.log())
        emu.quit()


class UnhookEventTest(KvmiTestBase):

    def test_event_layout_and_seq(self):
        conn = self.hooked()
        self.assertEqual(conn.request(kw.VM_CONTROL_EVENTS, kw.pack_vm_control_events(0, 1))[1], 0)
        mon = self.emu.qmp()
        ident = mon.send('stop')
        hdr, body = kw.recv_message(conn.sock)
        self.assertEqual((hdr.id, hdr.size, hdr.seq), (kw.KVMI_EVENT, kw.EVENT_SIZE, 1))
        ev = kw.unpack_event(body)
        self.assertEqual((ev.size, ev.vcpu, ev.event), (kw.EVENT_SIZE, 0, kw.EVENT_UNHOOK))
        self.assertEqual((ev.padding, ev.arch), (bytes(3), bytes(536)))
        conn.close()
        self.assertIn('return', mon.response(ident))
        # after cont the tool comes back: a new hook counts from 1 again
        mon.ok('cont')
        conn = self.rtool.accept(timeout=3 * vt.SLOW)
        conn.handshake()
        self.assertEqual(conn.request(kw.VM_CONTROL_EVENTS, kw.pack_vm_control_events(0, 1))[1], 0)
        ident = mon.send('stop')
        hdr, body = kw.recv_message(conn.sock)
        self.assertEqual((hdr.id, hdr.seq), (kw.KVMI_EVENT, 1))
        conn.close()
        self.assertIn('return', mon.response(ident))


if __name__ == '__main__':
    vt.main()
