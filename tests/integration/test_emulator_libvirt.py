#!/usr/bin/env python3
"""qemu-kvmi as a real libvirt 9.0 domain's <emulator>: libvirt probes it,
starts a domain through it as the QEMU user, and its suspend, resume and
destroy go through the emulated object (tests/lib/vmilibvirt.py's private
daemon; the introspection object comes from <qemu:commandline>)."""

import os
import sys
import time
import unittest
import uuid as uuidlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import vmilibvirt as vl  # noqa: E402
import vmitest as vt  # noqa: E402

DELAY_MS = 1000


@unittest.skipIf(vl.missing_requirement(), vl.missing_requirement() or '')
class LibvirtEmulatorTest(vt.VmiTestCase):

    def test_domain_lifecycle(self):
        daemon = vl.LibvirtDaemon(emulators=(vt.EMULATOR,))
        self.addCleanup(daemon.stop)
        daemon.start()
        sock = os.path.join(daemon.dir, 'vmi.sock')
        tool = vt.Tool(self, sock, '--unhook-delay', str(DELAY_MS), '--socket-mode', '0666')
        uuid = str(uuidlib.uuid4())
        daemon.define_domain('vm1', uuid=uuid, emulator=vt.EMULATOR, qemu_args=[
            '-chardev', f'socket,id=charvmi0,path={sock},reconnect=1',
            '-object', 'introspection,id=vmi0,chardev=charvmi0,unhook_timeout=10'])
        daemon.virsh('start', 'vm1')
        hs = tool.expect('handshake', timeout=vt.WAIT)
        self.assertEqual((hs['uuid'], hs['name']), (uuid, 'vm1'))
        tool.expect('ready')

        # the pid libvirt tracks is QEMU's, running as the QEMU user
        pid = daemon.qemu_pid('vm1')
        self.assertEqual(os.path.basename(vt.exe_of(pid)), 'qemu-system-x86_64')
        with open(f'/proc/{pid}/status') as f:
            uid = [line.split()[1] for line in f if line.startswith('Uid:')][0]
        self.assertEqual(int(uid), vl.pwd_uid(vl.QEMU_USER))

        # suspend: the stop reply waits for the tool's unhook
        t0 = time.monotonic()
        daemon.virsh('suspend', 'vm1')
        self.assertGreaterEqual(time.monotonic() - t0, DELAY_MS / 1000)
        tool.expect('closed', reason='unhook')
        self.assertEqual(daemon.virsh('domstate', 'vm1').stdout.strip(), 'paused')
        # resume: the tool is let back in
        daemon.virsh('resume', 'vm1')
        tool.expect('ready', timeout=3 * vt.SLOW)
        # QMP through libvirt, to the proxy
        out = daemon.virsh('qemu-monitor-command', 'vm1', '{"execute": "query-chardev"}')
        self.assertIn('"charvmi0"', out.stdout)
        log = daemon.domain_log('vm1')
        self.assertRegex(log, f'{vt.TIMESTAMP_RE} qemu-kvmi: info: VMI: machine hooked')

        daemon.virsh('destroy', 'vm1')
        vt.wait_for(lambda: not vt.processes_mentioning(uuid), what='QEMU and the relay to go')

    def test_live_migration(self):
        """virsh migrate --live between two daemons: the source waits for the
        unhook, the destination hooks afresh."""
        a = vl.LibvirtDaemon('src', emulators=(vt.EMULATOR,))
        b = vl.LibvirtDaemon('dst', emulators=(vt.EMULATOR,))
        self.addCleanup(vl.stop_all, a, b)
        a.start()
        b.start()
        os.chmod(self.tmpdir, 0o755)
        sock = self.path('vmi.sock')
        tool = vt.Tool(self, sock, '--unhook-delay', str(DELAY_MS), '--socket-mode', '0666')
        uuid = str(uuidlib.uuid4())
        a.define_domain('mig', uuid=uuid, emulator=vt.EMULATOR, qemu_args=[
            '-chardev', f'socket,id=charvmi0,path={sock},reconnect=1',
            '-object', 'introspection,id=vmi0,chardev=charvmi0,unhook_timeout=10'])
        a.virsh('start', 'mig')
        tool.expect('ready', conn=1)
        src_pid = a.qemu_pid('mig')

        t0 = time.monotonic()
        a.migrate('mig', b)
        self.assertGreaterEqual(time.monotonic() - t0, DELAY_MS / 1000)
        tool.expect('unhook', conn=1)
        tool.expect('closed', conn=1, reason='unhook')
        hs = tool.expect('handshake', conn=2)
        self.assertEqual((hs['uuid'], hs['name']), (uuid, 'mig'))
        tool.expect('ready', conn=2)
        self.assertEqual(b.virsh('domstate', 'mig').stdout.strip(), 'running')
        vt.wait_for(lambda: not os.path.exists(f'/proc/{src_pid}'), what='the source QEMU to go')
        self.assertIn("VMI: continue with 'migrate'", a.domain_log('mig'))
        b.virsh('destroy', 'mig')


if __name__ == '__main__':
    vt.main()
