#!/usr/bin/env python3
"""qemu-kvmi on the command line: what it passes through untouched, its own
options, and the introspection object's checks when QEMU starts, with the
patched QEMU's messages, order and exit status (docs/kvmi.rst, "The
introspection object")."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import vmitest as vt  # noqa: E402
import vmiwrap as vw  # noqa: E402

PROBE_INPUT = '{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n'
INVALID_ID = 'VMI: add command: invalid id -1'
PERMISSION = 'Insufficient permission to perform this operation'


class PassThroughTest(vt.VmiTestCase):
    """Nothing of its own to do: the real QEMU, as it is."""

    def test_version_is_qemus(self):
        real = subprocess.run([vt.QEMU, '-version'], capture_output=True, text=True)
        res = vw.run(vt.emulator_command(['-version']))
        self.assertEqual(res.returncode, 0)
        self.assertEqual(res.stdout, real.stdout)

    def test_capability_probe_runs_qemu_itself(self):
        """libvirt's probe: -machine none, no object; the pid is QEMU's own."""
        qmp = self.path('probe.sock')
        pidfile = self.path('probe.pid')
        res = vw.run(vt.emulator_command([
            '-S', '-no-user-config', '-nodefaults', '-nographic',
            '-machine', 'none,accel=kvm:tcg', '-qmp', f'unix:{qmp},server=on,wait=off',
            '-pidfile', pidfile, '-daemonize']), timeout=vt.WAIT)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(pidfile) as f:
            pid = int(f.read())
        self.addCleanup(lambda: vt.processes_mentioning(self.tmpdir) and os.kill(pid, 9))
        self.assertEqual(os.path.basename(vt.exe_of(pid)), 'qemu-system-x86_64')
        # no relay beside it: the only process of this test is QEMU
        self.assertEqual(vt.processes_mentioning(self.tmpdir), [pid])
        mon = vt.Qmp(qmp).negotiate()
        self.assertEqual(mon.greeting['QMP']['version']['qemu']['major'], 7)
        self.assertIn('return', mon.cmd('query-version'))
        mon.send('quit')
        vt.wait_for(lambda: not vt.processes_mentioning(self.tmpdir), what='QEMU to quit')
        mon.close()

    def test_object_help_lists_introspection(self):
        real = subprocess.run([vt.QEMU, '-object', 'help'], capture_output=True, text=True)
        res = vw.run(vt.emulator_command(['-object', 'help']))
        self.assertEqual(res.returncode, 0)
        ours = res.stdout.splitlines()
        theirs = real.stdout.splitlines()
        self.assertEqual(ours[0], 'List of user creatable objects:')
        self.assertIn('  introspection', ours)
        self.assertEqual([line for line in ours if line != '  introspection'], theirs)
        names = [line.strip() for line in ours[1:]]
        self.assertEqual(names, sorted(names))

    def test_introspection_help(self):
        res = vw.run(vt.emulator_command(['-object', 'introspection,help']))
        self.assertEqual(res.returncode, 0)
        self.assertEqual(res.stdout.splitlines(), [
            'introspection options:',
            '  async_unhook=<bool>',
            '  chardev=<string>',
            '  command=<uint32>',
            '  event=<uint32>',
            '  handshake_timeout=<uint32>',
            '  key=<string>',
            '  unhook_on_shutdown=<bool>',
            '  unhook_timeout=<uint32>',
        ])


class OwnOptionsTest(vt.VmiTestCase):
    """--qemu, --kvmi-compat, --kvmi-migrate-hold and their variables."""

    def test_options_are_stripped(self):
        real = subprocess.run([vt.QEMU, '-version'], capture_output=True, text=True)
        for args in (['--kvmi-compat=fork-readonly', '--kvmi-migrate-hold', 'wait-unplug'],
                     ['--qemu', vt.QEMU, '--kvmi-compat', 'documented'],
                     [f'--qemu={vt.QEMU}', '--kvmi-migrate-hold=setup']):
            with self.subTest(args=args):
                res = vw.run(vt.emulator_command(args + ['-version']))
                self.assertEqual((res.returncode, res.stdout), (0, real.stdout))

    def test_qemu_path(self):
        for how in ('option', 'env'):
            with self.subTest(how=how):
                missing = self.path('no-such-qemu')
                args = ['--qemu', missing] if how == 'option' else []
                env = dict(os.environ, QEMU_KVMI_QEMU=missing)
                res = vw.run(vt.emulator_command(args + ['-version']),
                             env=env if how == 'env' else None)
                self.assertEqual(res.returncode, 1)
                self.assertIn(f'qemu-kvmi: cannot execute {missing}: No such file or directory',
                              res.stderr)

    def test_bad_values(self):
        for args, env, msg in (
                (['--kvmi-compat=fork', '-version'], {}, "--kvmi-compat: invalid value 'fork'"),
                (['-version'], {'QEMU_KVMI_COMPAT': 'x'}, "--kvmi-compat: invalid value 'x'"),
                (['--kvmi-migrate-hold', 'active', '-version'], {},
                 "--kvmi-migrate-hold: invalid value 'active'"),
                (['-version', '--qemu'], {}, '--qemu requires an argument')):
            with self.subTest(args=args, env=env):
                res = vw.run(vt.emulator_command(args), env=dict(os.environ, **env))
                self.assertEqual(res.returncode, 1)
                self.assertIn(msg, res.stderr)

    def test_option_wins_over_env(self):
        obj = ['-object', 'introspection,id=p,chardev=c,command=2',
               '-chardev', f'socket,id=c,path={self.path("t.sock")},reconnect=1']
        rc, _, err = self.run_emulator(*obj, options=['--kvmi-compat=fork-readonly'],
                                       env={'QEMU_KVMI_COMPAT': 'documented'})
        self.assertEqual(rc, 1)
        self.assertIn(PERMISSION, err)


class ObjectChecksTest(vt.VmiTestCase):
    """Every error of the object, its text, its place and its order."""

    def chardev(self, cid='c', extra=',reconnect=1'):
        return ['-chardev', f'socket,id={cid},path={self.path("t.sock")}{extra}']

    def check_error(self, args, message, location=True, accel=vt.HOST_ACCEL, kind=None):
        """qemu-kvmi fails with @message (under valgrind: once per @kind,
        the name of the case in test_each_error() whose check fails)."""
        rc, out, err = self.run_emulator(*args, accel=accel, kind=kind)
        self.assertEqual(rc, 1, err)
        obj = [a for i, a in enumerate(args) if i and args[i - 1] == '-object'
               and a.startswith('introspection')]
        where = f'-object {obj[-1]}: ' if location else ''
        pattern = f'^{vt.TIMESTAMP_RE} qemu-kvmi: {re.escape(where + message)}$'
        lines = err.splitlines()
        self.assertTrue(any(re.match(pattern, line) for line in lines),
                        f'expected {pattern!r} in:\n{err}')
        # the VM never started: no relay, no QEMU
        self.assertEqual(vt.processes_mentioning(self.tmpdir), [])
        return err

    def test_each_error(self):
        c = self.chardev()
        cases = [
            ('only one', c + ['-object', 'introspection,id=a,chardev=c',
                              '-object', 'introspection,id=b,chardev=c'],
             'VMI: only one introspection object can be created', True),
            ('chardev not set', ['-object', 'introspection,id=a'],
             'VMI: chardev is not set', True),
            ('no id', c + ['-object', 'introspection,chardev=c'],
             "Parameter 'id' is missing", True),
            ('device', ['-object', 'introspection,id=a,chardev=nosuch'],
             "VMI: device 'nosuch' not found", False),
            ('no reconnect', self.chardev(extra='') + ['-object', 'introspection,id=a,chardev=c'],
             "VMI: missing reconnect=N for 'c'", False),
            ('not a socket', ['-chardev', 'null,id=n', '-object', 'introspection,id=a,chardev=n'],
             "VMI: missing reconnect=N for 'n'", False),
            ('server socket', ['-chardev', f'socket,id=s,path={self.path("s.sock")},server=on,wait=off',
                               '-object', 'introspection,id=a,chardev=s'],
             "VMI: missing reconnect=N for 's'", False),
            ('no secret', c + ['-object', 'introspection,id=a,chardev=c,key=nosuch'],
             "No secret with id 'nosuch'", False),
            ('not a secret', c + ['-object', 'iothread,id=io0',
                                  '-object', 'introspection,id=a,chardev=c,key=io0'],
             "Object with id 'io0' is not a secret", False),
            ('invalid command id', c + ['-object', 'introspection,id=a,chardev=c,command=4294967295'],
             'VMI: add command: invalid id -1', True),
            ('invalid event id', c + ['-object', 'introspection,id=a,chardev=c,event=0xffffffff'],
             'VMI: add event: invalid id -1', True),
            ('not a number', c + ['-object', 'introspection,id=a,chardev=c,handshake_timeout=ten'],
             "Parameter 'handshake_timeout' expects an uint64 value", True),
            ('negative', c + ['-object', 'introspection,id=a,chardev=c,unhook_timeout=-1'],
             "Parameter 'unhook_timeout' expects an uint64 value", True),
            ('too big', c + ['-object', 'introspection,id=a,chardev=c,unhook_timeout=4294967296'],
             "Parameter 'unhook_timeout' expects uint32_t", True),
            ('not a bool', c + ['-object', 'introspection,id=a,chardev=c,async_unhook=maybe'],
             "Parameter 'async_unhook' expects 'on' or 'off'", True),
            ('unknown property', c + ['-object', 'introspection,id=a,chardev=c,tool=x'],
             "Property '.tool' not found", True),
        ]
        for name, args, message, location in cases:
            with self.subTest(name):
                self.check_error(args, message, location, kind=name)

    def test_missing_kvm(self):
        self.check_error(self.chardev() + ['-object', 'introspection,id=a,chardev=c'],
                         'VMI: missing KVM support', location=False, accel=vt.NO_KVM,
                         kind='missing kvm')

    def test_order(self):
        """When several are wrong, the first QEMU checks is reported (each
        case fails where a case of test_each_error() or test_missing_kvm()
        does: the same kind of run)."""
        c = self.chardev()
        cases = [
            # property values are set before the object is completed
            (['-object', 'introspection,id=a,command=4294967295'],
             'VMI: add command: invalid id -1', True, vt.HOST_ACCEL, 'invalid command id'),
            # creation comes before the machine: before the KVM check
            (['-object', 'introspection,id=a'], 'VMI: chardev is not set', True, vt.NO_KVM,
             'chardev not set'),
            (['-object', 'introspection,id=a,chardev=nosuch'], 'VMI: missing KVM support',
             False, vt.NO_KVM, 'missing kvm'),
            (['-object', 'introspection,id=a,chardev=nosuch,key=nosuch'],
             "VMI: device 'nosuch' not found", False, vt.HOST_ACCEL, 'device'),
            (self.chardev(extra='') + ['-object', 'introspection,id=a,chardev=c,key=nosuch'],
             "VMI: missing reconnect=N for 'c'", False, vt.HOST_ACCEL, 'no reconnect'),
            (c + ['-object', 'introspection,id=a,chardev=c,key=nosuch'],
             "No secret with id 'nosuch'", False, vt.HOST_ACCEL, 'no secret'),
        ]
        for args, message, location, accel, kind in cases:
            with self.subTest(message=message, accel=accel):
                err = self.check_error(args, message, location, accel, kind)
                self.assertEqual(len([line for line in err.splitlines() if 'VMI:' in line
                                      or 'Parameter' in line or 'secret' in line]), 1, err)

    def test_unreadable_key_file(self):
        missing = self.path('no-key')
        args = self.chardev() + ['-object', f'secret,id=k,format=raw,file={missing}',
                                 '-object', 'introspection,id=a,chardev=c,key=k']
        rc, _, err = self.run_emulator(*args)
        self.assertEqual(rc, 1)
        self.assertIn(f'Unable to read {missing}: ', err)

    def test_json_object_goes_to_qemu(self):
        """-object JSON is QEMU 6.0+ syntax: the 5.0-based fork never had it."""
        rc, _, err = self.run_emulator(
            '-object', '{"qom-type": "introspection", "id": "a", "chardev": "c"}')
        self.assertEqual(rc, 1)
        self.assertIn("'introspection'", err)


class ProbeTest(vt.VmiTestCase):
    """The three-way probe (docs/kvmi.rst) tells the compatibility modes apart."""

    def probe(self, mode, accel=vt.HOST_ACCEL, env=False):
        args = ['-object', 'introspection,id=p,chardev=c,command=4294967295,command=2',
                '-chardev', f'socket,id=c,path={self.path("probe.sock")},reconnect=1',
                '-qmp', 'stdio']
        options = [] if env or mode is None else [f'--kvmi-compat={mode}']
        envs = {'QEMU_KVMI_COMPAT': mode} if env else {}
        return self.run_emulator(*args, machine='none', accel=accel, name=None,
                                 guest_uuid=None, options=options, env=envs,
                                 input=PROBE_INPUT)

    def test_documented(self):
        for mode, env in ((None, False), ('documented', False), ('documented', True)):
            with self.subTest(mode=mode, env=env):
                rc, out, err = self.probe(mode, env=env)
                self.assertEqual(rc, 1)
                self.assertIn(f'-object introspection,id=p,chardev=c,command=4294967295,'
                              f'command=2: {INVALID_ID}', err)
                self.assertNotIn(PERMISSION, err)
                self.assertEqual(out, '')

    def test_fork_readonly(self):
        for env in (False, True):
            with self.subTest(env=env):
                rc, out, err = self.probe('fork-readonly', env=env)
                self.assertEqual(rc, 1)
                self.assertIn(f'command=2: {PERMISSION}', err)
                self.assertNotIn(INVALID_ID, err)

    def test_fork_last_key(self):
        """Neither message: the VM runs (and quits through -qmp stdio)."""
        rc, out, err = self.probe('fork-last-key')
        self.assertEqual(rc, 0, err)
        self.assertNotIn(INVALID_ID, err)
        self.assertNotIn(PERMISSION, err)
        replies = [line for line in out.splitlines() if '"return"' in line]
        self.assertEqual(len(replies), 2, out)
        self.assertIn('"QMP"', out.splitlines()[0])
        self.assertEqual(vt.processes_mentioning(self.tmpdir), [])

    def test_fork_last_key_without_kvm(self):
        """A probe under TCG stops at the KVM check: still neither message."""
        rc, out, err = self.probe('fork-last-key', accel=vt.NO_KVM)
        self.assertEqual(rc, 1)
        self.assertIn('qemu-kvmi: VMI: missing KVM support', err)
        self.assertNotIn(INVALID_ID, err)


if __name__ == '__main__':
    vt.main()
