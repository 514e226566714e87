#!/usr/bin/env python3
"""Migration between two emulated KVMI QEMUs on this host: the source holds
the migration in "setup" (or kvmi-v12's "wait-unplug") until the tool has
unhooked, then it completes; the destination hooks afresh; a cancel while
held (docs/kvmi.rst, "Unhooking")."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import vmitest as vt  # noqa: E402

DELAY_MS = 1000


class MigrateTest(vt.VmiTestCase):

    def pair(self, *tool_args, src_options=(), tool=True):
        self.tool = self.start_tool('vmi.sock', '--unhook-delay', str(DELAY_MS), *tool_args) \
            if tool else None
        self.mig = self.path('mig.sock')
        self.src = self.start_emulator(*self.introspection_args(), tag='src-',
                                       options=src_options)
        if tool:
            self.tool.expect('ready', conn=1)
        # Every destination does the same: hook afresh, then take the
        # migration (or not): one kind for valgrind
        self.dst = self.start_emulator(*self.introspection_args(), '-incoming',
                                       f'unix:{self.mig}', tag='dst-', kind='incoming')
        vt.wait_for(lambda: os.path.exists(self.mig), what='the incoming socket')
        self.smon = self.src.qmp()
        self.dmon = self.dst.qmp()
        self.smon.ok('migrate-set-capabilities',
                     {'capabilities': [{'capability': 'events', 'state': True}]})

    def migration_statuses(self, mon):
        return [ev['data']['status'] for ev in mon.events if ev['event'] == 'MIGRATION']

    def wait_status(self, mon, status, timeout=vt.WAIT):
        return vt.wait_for(lambda: mon.ok('query-migrate').get('status') == status, timeout,
                           interval=0.05, what=f'migration status {status}')

    def test_held_in_setup_until_unhook(self):
        self.pair()
        # the destination hooks afresh, even before any state arrived
        hs = self.tool.expect('handshake', conn=2)
        self.assertEqual((hs['uuid'], hs['name']), (vt.GUEST_UUID, vt.GUEST_NAME))
        self.tool.expect('ready', conn=2)
        self.assertEqual(self.dmon.ok('query-status')['status'], 'inmigrate')

        t0 = time.monotonic()
        self.assertEqual(self.smon.ok('migrate', {'uri': f'unix:{self.mig}'}), {})
        self.assertLess(time.monotonic() - t0, 0.5 * vt.SLOW)
        # as QEMU's migrate_init(): "setup" comes before the reply (libvirt
        # checks its job when the reply comes)
        self.assertEqual(self.migration_statuses(self.smon), ['setup'])
        self.tool.expect('unhook', conn=1)
        # held: still "setup", the source still runs
        time.sleep(0.5)
        self.assertEqual(self.smon.ok('query-migrate'), {'status': 'setup'})
        self.assertEqual(self.smon.ok('query-status')['status'], 'running')
        self.smon.wait_event('MIGRATION', status='completed')
        self.assertGreaterEqual(time.monotonic() - t0, DELAY_MS / 1000)
        self.tool.expect('closed', conn=1, reason='unhook')
        self.assertEqual(self.migration_statuses(self.smon), ['setup', 'active', 'completed'])
        self.assertEqual(self.smon.ok('query-migrate')['status'], 'completed')
        self.dmon.wait_event('RESUME')
        self.assertEqual(self.dmon.ok('query-status')['status'], 'running')
        self.assertEqual(self.src.vmi_lines()[-5:], [
            'VMI: intercept command: migrate',
            'VMI: intercept action: delayed',
            'VMI: introspection tool disconnected',
            'VMI: disable socket reconnect',
            "VMI: continue with 'migrate'",
        ])
        # the source stays unhooked; the destination keeps its tool
        self.tool.absent('connected', vt.quiet_period(2.5, self.tool.slow, self.src.slow))
        self.assertNotIn({'event': 'closed', 'conn': 2}, [
            {k: line[k] for k in ('event', 'conn')} for line in self.tool.lines])
        self.dst.quit(self.dmon)
        self.src.quit(self.smon)

    def test_wait_unplug(self):
        self.pair(src_options=['--kvmi-migrate-hold=wait-unplug'])
        self.tool.expect('ready', conn=2)
        self.smon.ok('migrate', {'uri': f'unix:{self.mig}'})
        self.smon.wait_event('MIGRATION', status='wait-unplug')
        self.assertEqual(self.smon.ok('query-migrate'), {'status': 'wait-unplug'})
        self.smon.wait_event('MIGRATION', status='completed')
        self.assertEqual(self.migration_statuses(self.smon),
                         ['setup', 'wait-unplug', 'active', 'completed'])
        self.dst.quit(self.dmon)
        self.src.quit(self.smon)

    def test_cancel_while_held(self):
        self.pair()
        self.tool.expect('ready', conn=2)
        self.smon.ok('migrate', {'uri': f'unix:{self.mig}'})
        self.tool.expect('unhook', conn=1)
        self.assertEqual(self.smon.ok('migrate_cancel'), {})
        self.assertEqual(self.migration_statuses(self.smon), ['setup', 'cancelling'])
        self.assertEqual(self.smon.ok('query-migrate'), {'status': 'cancelling'})
        self.smon.wait_event('MIGRATION', status='cancelled')
        self.assertEqual(self.migration_statuses(self.smon), ['setup', 'cancelling', 'cancelled'])
        self.assertEqual(self.smon.ok('query-status')['status'], 'running')
        self.assertEqual(self.dmon.ok('query-status')['status'], 'inmigrate')
        # the failed migration cleared its flag: cont lets the tool back
        self.smon.ok('cont')
        self.tool.expect('ready', conn=3, timeout=3 * vt.SLOW)
        self.src.quit(self.smon)
        self.dst.quit(self.dmon)

    def test_query_migrate_without_events(self):
        """Without the events capability QMP shows the hold in query-migrate only."""
        self.pair()
        self.smon.ok('migrate-set-capabilities',
                     {'capabilities': [{'capability': 'events', 'state': False}]})
        self.tool.expect('ready', conn=2)
        self.smon.ok('migrate', {'uri': f'unix:{self.mig}'})
        self.assertEqual(self.smon.ok('query-migrate'), {'status': 'setup'})
        self.wait_status(self.smon, 'completed')
        self.assertEqual(self.migration_statuses(self.smon), [])
        self.dst.quit(self.dmon)
        self.src.quit(self.smon)

    def test_without_tool_goes_at_once(self):
        self.pair(tool=False)
        t0 = time.monotonic()
        self.smon.ok('migrate', {'uri': f'unix:{self.mig}'})
        self.smon.wait_event('MIGRATION', status='completed')
        self.assertLess(time.monotonic() - t0, DELAY_MS / 1000)
        self.assertIn('VMI: intercept action: continue', self.src.vmi_lines())
        self.assertEqual(self.migration_statuses(self.smon), ['setup', 'active', 'completed'])
        self.dst.quit(self.dmon)
        self.src.quit(self.smon)

    def test_migrate_at_once_that_fails_clears_its_flag(self):
        """A migrate after the tool has gone (a save's, which follows its
        pause) runs at once; its failure clears the pending flag as a held
        one's does (QEMU's migration state notifier sees every migration),
        so `cont` lets the tool back: a save cancelled after its pause."""
        self.pair()
        self.tool.expect('ready', conn=2)
        self.smon.ok('stop')
        self.tool.expect('closed', conn=1, reason='unhook')
        self.smon.ok('migrate', {'uri': 'unix:' + self.path('nosuch.sock')})
        self.smon.wait_event('MIGRATION', status='failed')
        self.assertEqual(self.src.vmi_lines()[-2:], ['VMI: intercept command: migrate',
                                                     'VMI: intercept action: continue'])
        self.smon.ok('cont')
        self.tool.expect('ready', conn=3, timeout=3 * vt.SLOW)
        self.src.quit(self.smon)
        self.dst.quit(self.dmon)

    def test_second_migrate_while_held(self):
        self.pair()
        self.tool.expect('ready', conn=2)
        self.smon.ok('migrate', {'uri': f'unix:{self.mig}'})
        self.assertEqual(self.smon.error('migrate', {'uri': f'unix:{self.mig}'}),
                         "There's a migration process in progress")
        self.smon.wait_event('MIGRATION', status='completed')
        self.dst.quit(self.dmon)
        self.src.quit(self.smon)


if __name__ == '__main__':
    vt.main()
