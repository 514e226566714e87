#!/usr/bin/env python3
"""Pause, power-down and reset under qemu-kvmi, as a KVMI QEMU does them:
`stop` answered only once the tool has unhooked (it closes the socket) or
unhook_timeout fired, reconnects refused while paused, `cont` re-enabling
them, power-down delayed, resets unhooking at once (docs/kvmi.rst, "Unhooking")."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import vmitest as vt  # noqa: E402

DELAY_MS = 1000


class HookedTestBase(vt.VmiTestCase):

    def hooked(self, *tool_args, qmp_sockets=1, extra=(), kind=None, **props):
        """A hooked VM and its tool; @kind: see vmitest.emulator_command()."""
        tool = self.start_tool('vmi.sock', *tool_args)
        emu = self.start_emulator(*self.introspection_args(**props), *extra,
                                  qmp_sockets=qmp_sockets, kind=kind)
        tool.expect('ready', uuid=vt.GUEST_UUID)
        return tool, emu


class PauseTest(HookedTestBase):

    def test_stop_held_until_the_tool_closes(self):
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS), qmp_sockets=2, kind='stop')
        mon = emu.qmp()
        other = emu.qmp(1)
        t0 = time.monotonic()
        ident = mon.send('stop')
        tool.expect('unhook', seq=1, vcpu=0)
        # held: no reply, and the VM still runs
        self.assertRaises(TimeoutError, mon.response, ident, 0.4)
        self.assertEqual(other.ok('query-status')['status'], 'running')
        rsp = mon.response(ident)
        held = time.monotonic() - t0
        self.assertEqual(rsp, {'return': {}, 'id': ident})
        self.assertGreaterEqual(held, DELAY_MS / 1000)
        tool.expect('closed', reason='unhook')
        # the STOP event came before the reply
        self.assertEqual(mon.event_names(), ['STOP'])
        self.assertEqual(other.ok('query-status')['status'], 'paused')
        self.assertEqual(emu.vmi_lines()[-5:], [
            'VMI: intercept command: suspend',
            'VMI: intercept action: delayed',
            'VMI: introspection tool disconnected',
            'VMI: disable socket reconnect',
            "VMI: continue with 'suspend'",
        ])
        # inside a QMP command QEMU prints no timestamp and no program name
        self.assertIn('\ninfo: VMI: intercept command: suspend\n', emu.log())
        self.assertRegex(emu.log(), f"(?m)^{vt.TIMESTAMP_RE} qemu-kvmi: info: VMI: continue "
                                    "with 'suspend'$")
        emu.quit(mon)

    def test_commands_queue_behind_the_held_stop(self):
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS), kind='stop')
        mon = emu.qmp()
        stop = mon.send('stop')
        status = mon.send('query-status')
        first = mon.next_response()
        second = mon.next_response()
        self.assertEqual([first['id'], second['id']], [stop, status])
        self.assertEqual(second['return']['status'], 'paused')
        emu.quit(mon)

    def test_unhook_timeout(self):
        tool, emu = self.hooked('--unhook-delay', 'never', unhook_timeout=1)
        mon = emu.qmp()
        t0 = time.monotonic()
        mon.ok('stop')
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        # QEMU cut the socket itself
        tool.expect('closed', reason='eof')
        emu.wait_log('warning: VMI: the introspection tool is too slow')
        self.assertEqual(emu.vmi_lines()[-5:], [
            'VMI: intercept command: suspend',
            'VMI: intercept action: delayed',
            'VMI: the introspection tool is too slow',
            'VMI: disable socket reconnect',
            "VMI: continue with 'suspend'",
        ])
        self.assertEqual(mon.ok('query-status')['status'], 'paused')
        emu.quit(mon)

    def test_second_stop_while_pending(self):
        """From another monitor: "unhook in progress", and it runs at once."""
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS), qmp_sockets=2,
                                kind='unhook in progress')
        first = emu.qmp()
        second = emu.qmp(1)
        ident = first.send('stop')
        tool.expect('unhook')
        t0 = time.monotonic()
        self.assertEqual(second.ok('stop'), {})
        self.assertLess(time.monotonic() - t0, DELAY_MS / 1000)
        second.wait_event('STOP')
        self.assertRaises(TimeoutError, first.response, ident, 0.1)
        self.assertIn('VMI: unhook in progress', emu.vmi_lines())
        # error_report() inside QMP: no prefix, no "warning:"
        self.assertIn('\nVMI: unhook in progress\n', emu.log())
        self.assertEqual(first.response(ident)['return'], {})
        # one pause, one STOP event
        self.assertEqual(second.event_names(), ['STOP'])
        emu.quit(first)

    def test_no_unhook_event_cuts_the_socket(self):
        tool, emu = self.hooked('--no-unhook-event')
        mon = emu.qmp()
        mon.ok('stop', timeout=vt.WAIT)
        tool.expect('closed', reason='eof')
        # the socket closes inside the command, before it says "continue"
        self.assertEqual(emu.vmi_lines()[-3:], [
            'VMI: intercept command: suspend',
            'VMI: disable socket reconnect',
            'VMI: intercept action: continue',
        ])
        emu.quit(mon)

    def test_reconnect_refused_while_paused(self):
        # Under valgrind this emulator runs natively (the 'stop' kind): a
        # stop with a tool is test_commands_queue_behind_the_held_stop's
        # path, the cont and the hook after it test_connection_too_soon's;
        # what is new here is the wait
        tool, emu = self.hooked('--unhook-delay', '0', kind='stop')
        mon = emu.qmp()
        mon.ok('stop')
        tool.expect('closed', reason='unhook')
        # reconnect=1, yet nothing for a while (longer if either side runs
        # under valgrind)
        tool.absent('connected', vt.quiet_period(2.5, tool.slow, emu.slow))
        mon.ok('cont')
        tool.expect('handshake', timeout=3 * vt.SLOW)
        tool.expect('ready')
        self.assertEqual(emu.vmi_lines()[-4:], [
            'VMI: intercept command: resume',
            'VMI: intercept action: continue',
            'VMI: introspection tool connected',
            'VMI: machine hooked',
        ])
        emu.quit(mon)

    def test_connection_too_soon(self):
        """A reconnect already scheduled when the pause came is refused."""
        emu = self.start_emulator(*self.introspection_args())
        emu.wait_log('Unable to connect character device vmic')
        mon = emu.qmp()
        mon.ok('stop')
        rtool = self.raw_tool()
        conn = rtool.accept(timeout=3 * vt.SLOW)
        # no handshake: QEMU closes at once
        self.assertTrue(conn.expect_eof())
        emu.wait_log(r'VMI: chr_event_open: too soon \(suspend=1, migrate=0, shutdown=0\)')
        self.assertTrue(rtool.no_connection(vt.quiet_period(2.5, emu.slow)))
        mon.ok('cont')
        conn = rtool.accept(timeout=3 * vt.SLOW)
        conn.handshake()
        emu.wait_log('VMI: machine hooked')
        lines = emu.vmi_lines()
        i = lines.index('VMI: chr_event_open: too soon (suspend=1, migrate=0, shutdown=0)')
        self.assertEqual(lines[i + 1], 'VMI: disable socket reconnect')
        emu.quit(mon)

    def test_cont_while_pending(self):
        """cont during a held stop: "unhook in progress"; it clears the
        pause flag, so the stop, once done, leaves reconnects on."""
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS), qmp_sockets=2,
                                kind='unhook in progress')
        first = emu.qmp()
        second = emu.qmp(1)
        ident = first.send('stop')
        tool.expect('unhook')
        second.ok('cont')
        self.assertIn('VMI: unhook in progress', emu.vmi_lines())
        # the held stop still ends when the tool closes (see emu_vmi.c)
        self.assertEqual(first.response(ident)['return'], {})
        tool.expect('closed', reason='unhook')
        tool.expect('ready', timeout=3 * vt.SLOW)
        self.assertEqual(first.ok('query-status')['status'], 'paused')
        emu.quit(first)

    def test_async_unhook_off(self):
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS), async_unhook='off')
        mon = emu.qmp()
        t0 = time.monotonic()
        mon.ok('stop')
        self.assertGreaterEqual(time.monotonic() - t0, DELAY_MS / 1000)
        mon.wait_event('STOP')
        lines = emu.vmi_lines()
        start = [line for line in lines if line.startswith('VMI: start waiting until fd=')]
        self.assertEqual(len(start), 1, lines)
        self.assertEqual(lines[lines.index(start[0]) - 1], 'VMI: intercept command: suspend')
        self.assertEqual(lines[-2:], ['VMI: continue with the intercepted action fd=-1',
                                      'VMI: intercept action: continue'])
        emu.quit(mon)

    def test_hmp_stop(self):
        """HMP's stop is QMP's, and the messages go to the HMP output."""
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS))
        mon = emu.qmp()
        t0 = time.monotonic()
        out = mon.ok('human-monitor-command', {'command-line': 'stop'})
        self.assertGreaterEqual(time.monotonic() - t0, DELAY_MS / 1000)
        self.assertEqual(out, 'info: VMI: intercept command: suspend\n'
                              'info: VMI: intercept action: delayed\n')
        self.assertEqual(mon.ok('query-status')['status'], 'paused')
        out = mon.ok('human-monitor-command', {'command-line': 'c'})
        self.assertEqual(out, 'info: VMI: intercept command: resume\n'
                              'info: VMI: intercept action: continue\n')
        emu.quit(mon)


class PowerdownResetTest(HookedTestBase):

    def test_powerdown_delayed(self):
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS))
        mon = emu.qmp()
        t0 = time.monotonic()
        self.assertEqual(mon.ok('system_powerdown'), {})
        self.assertLess(time.monotonic() - t0, DELAY_MS / 1000)
        tool.expect('unhook')
        self.assertNotIn('POWERDOWN', mon.event_names())
        mon.wait_event('POWERDOWN')
        self.assertGreaterEqual(time.monotonic() - t0, DELAY_MS / 1000)
        tool.expect('closed', reason='unhook')
        self.assertEqual(emu.vmi_lines()[-4:], [
            'VMI: intercept command: shutdown',
            'VMI: intercept action: delayed',
            'VMI: introspection tool disconnected',
            "VMI: continue with 'shutdown'",
        ])
        # shutdown_pending lets the tool come back (the guest may not stop)
        tool.expect('ready', timeout=3 * vt.SLOW)
        emu.quit(mon)

    def test_hmp_powerdown(self):
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS))
        mon = emu.qmp()
        out = mon.ok('human-monitor-command', {'command-line': 'system_powerdown'})
        self.assertEqual(out, 'info: VMI: intercept command: shutdown\n'
                              'info: VMI: intercept action: delayed\n')
        mon.wait_event('POWERDOWN')
        tool.expect('closed', reason='unhook')
        emu.quit(mon)

    def test_powerdown_not_intercepted(self):
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS), unhook_on_shutdown='off')
        mon = emu.qmp()
        mon.ok('system_powerdown')
        mon.wait_event('POWERDOWN', timeout=0.5 * vt.SLOW)
        self.assertNotIn('unhook', [line['event'] for line in tool.lines])
        emu.quit(mon)

    def test_system_reset(self):
        """system_reset unhooks at once: no UNHOOK event, the socket just ends."""
        tool, emu = self.hooked('--unhook-delay', str(DELAY_MS))
        first = tool.expect('handshake')
        mon = emu.qmp()
        mon.ok('system_reset')
        mon.wait_event('RESET')
        tool.expect('closed', reason='eof')
        self.assertNotIn('unhook', [line['event'] for line in tool.lines])
        self.assertEqual(emu.vmi_lines()[-2:], ['VMI: intercept command: force-reset',
                                                'VMI: intercept action: continue'])
        # reconnects stay on, with a new start time
        second = tool.expect('handshake', timeout=3 * vt.SLOW)
        self.assertGreater(second['start_time'], first['start_time'])
        self.assertNotIn('Reset detected', emu.log())
        emu.quit(mon)

    def test_reset_outside_qmp(self):
        """A reset QEMU does on its own (here HMP's, as a guest's would be)."""
        hmp = self.path('hmp.sock')
        tool, emu = self.hooked(extra=['-monitor', f'unix:{hmp},server=on,wait=off'])
        first = tool.expect('handshake')
        sock = vt.wait_for(lambda: vt.Qmp._connect(hmp), what='the HMP socket')
        self.addCleanup(sock.close)
        sock.sendall(b'system_reset\n')
        emu.wait_log(r'info: VMI: Reset detected\. Closing the socket\.\.\.')
        tool.expect('closed', reason='eof')
        second = tool.expect('handshake', timeout=3 * vt.SLOW)
        self.assertGreater(second['start_time'], first['start_time'])
        emu.quit()


if __name__ == '__main__':
    vt.main()
