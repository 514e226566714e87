#!/usr/bin/env python3
"""qemu-kvmi's QMP side: the proxy as libvirt uses it (an inherited
listening fd, fd passing, a client after another), object-add and
object-del of the introspection object (QEMU 5.0 style), what query-chardev
and qom-list show, and the process layout (QEMU's own pid, no orphans)."""

import os
import shutil
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import vmitest as vt  # noqa: E402

IN_USE = "object 'vmi0' is in use, can not be deleted"


def alive(pid):
    """Running (not gone, not a zombie)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            return 'zombie' not in f.read()
    except OSError:
        return False


class ObjectAddTest(vt.VmiTestCase):

    def vm(self, *extra, options=()):
        """A VM with the tool's chardev on the command line and no object."""
        chardev = ['-chardev', f'socket,id=vmic,path={self.path("vmi.sock")},reconnect=1']
        self.emu = self.start_emulator(*chardev, *extra, options=options)
        self.mon = self.emu.qmp()
        return self.mon

    def add(self, nested=True, **props):
        args = {'qom-type': 'introspection', 'id': props.pop('id', 'vmi0')}
        if nested:
            args['props'] = props
        else:
            args.update(props)
        return self.mon.cmd('object-add', args)

    def test_add_and_hook(self):
        self.vm()
        tool = self.start_tool()
        self.assertEqual(self.add(chardev='vmic', handshake_timeout=5), {'return': {}, 'id': 'cmd-2'})
        # the warning comes from inside the QMP command: no prefix
        # (a line of its own; under KVM, QEMU has written lines before it)
        self.assertRegex(self.emu.log(),
                         "(?m)^warning: VMI: the introspection tool won't be 'authenticated'$")
        tool.expect('ready', uuid=vt.GUEST_UUID, timeout=3 * vt.SLOW)
        objects = self.mon.ok('qom-list', {'path': '/objects'})
        self.assertIn({'name': 'vmi0', 'type': 'child<introspection>'}, objects)
        props = self.mon.ok('qom-list', {'path': '/objects/vmi0'})
        self.assertEqual({p['name']: p['type'] for p in props}, {
            'type': 'string', 'async_unhook': 'bool', 'chardev': 'string', 'command': 'uint32',
            'event': 'uint32', 'handshake_timeout': 'uint32', 'key': 'string',
            'unhook_on_shutdown': 'bool', 'unhook_timeout': 'uint32'})
        get = lambda p: self.mon.cmd('qom-get', {'path': '/objects/vmi0', 'property': p})  # noqa: E731
        self.assertEqual(get('handshake_timeout')['return'], 5)
        self.assertEqual(get('unhook_timeout')['return'], 60)
        self.assertEqual(get('async_unhook')['return'], True)
        self.assertEqual(get('chardev')['error']['desc'],
                         'Insufficient permission to perform this operation')
        # in use: it cannot go
        self.assertEqual(self.mon.error('object-del', {'id': 'vmi0'}), IN_USE)
        # the tool goes: then it can, and its chardev goes with it
        tool.stop()
        self.emu.wait_log('VMI: introspection tool disconnected')
        self.assertEqual(self.mon.ok('object-del', {'id': 'vmi0'}), {})
        labels = [c['label'] for c in self.mon.ok('query-chardev')]
        self.assertNotIn('vmic', labels)
        self.assertNotIn({'name': 'vmi0', 'type': 'child<introspection>'},
                         self.mon.ok('qom-list', {'path': '/objects'}))
        self.emu.quit(self.mon)

    def test_flat_props_and_key(self):
        """object-add of a secret (5.0 style) and of the object using it."""
        self.vm()
        key = self.path('key')
        with open(key, 'wb') as f:
            f.write(b'sesame')
        tool = self.start_tool('vmi.sock', '--key-file', key)
        self.assertIn('return', self.mon.cmd('object-add', {
            'qom-type': 'secret', 'id': 'k', 'props': {'file': key, 'format': 'raw'}}))
        self.assertEqual(self.add(nested=False, chardev='vmic', key='k')['return'], {})
        tool.expect('hooked', timeout=3 * vt.SLOW)
        self.assertNotIn("won't be 'authenticated'", self.emu.log())
        self.emu.quit(self.mon)

    def test_secret_read_when_created(self):
        """As QEMU does, the secret's file is read when the secret object
        is created: an introspection object added after the file is gone
        (libvirt-vmi removes it once QEMU started) still has the key."""
        self.vm()
        key = self.path('key')
        with open(key, 'wb') as f:
            f.write(b'read once')
        tool = self.start_tool('vmi.sock', '--key-file', key)
        self.assertIn('return', self.mon.cmd('object-add', {
            'qom-type': 'secret', 'id': 'k', 'props': {'file': key, 'format': 'raw'}}))
        os.unlink(key)
        self.assertEqual(self.add(nested=False, chardev='vmic', key='k')['return'], {})
        tool.expect('hooked', timeout=3 * vt.SLOW)
        self.emu.quit(self.mon)

    def test_errors(self):
        self.vm('-object', 'iothread,id=io0',
                '-chardev', f'socket,id=plain,path={self.path("p.sock")},server=on,wait=off')
        cases = [
            ({'chardev': 'vmic', 'command': [2, 10]}, "Parameter 'command' expects uint64"),
            ({'chardev': 'vmic', 'command': 4294967295}, 'VMI: add command: invalid id -1'),
            ({'chardev': 'vmic', 'unhook_timeout': 'ten'}, "Parameter 'unhook_timeout' expects uint64"),
            ({'chardev': 'vmic', 'async_unhook': 1},
             "Invalid parameter type for 'async_unhook', expected: boolean"),
            ({'chardev': 7}, "Invalid parameter type for 'chardev', expected: string"),
            ({'chardev': 'vmic', 'tool': 1}, "Property '.tool' not found"),
            ({'id': 'io0', 'chardev': 'vmic'},
             "attempt to add duplicate property 'io0' to object (type 'container')"),
            ({}, 'VMI: chardev is not set'),
            ({'chardev': 'nosuch'}, "VMI: device 'nosuch' not found"),
            ({'chardev': 'plain'}, "VMI: missing reconnect=N for 'plain'"),
            ({'chardev': 'vmic', 'key': 'nosuch'}, "No secret with id 'nosuch'"),
            ({'chardev': 'vmic', 'key': 'io0'}, "Object with id 'io0' is not a secret"),
        ]
        for props, desc in cases:
            with self.subTest(desc=desc):
                rsp = self.add(**props)
                self.assertEqual(rsp.get('error'), {'class': 'GenericError', 'desc': desc})
        self.assertEqual(self.mon.error('object-add', {
            'qom-type': 'introspection', 'id': 'x', 'props': [1]}),
            "Invalid parameter type for 'props', expected: dict")
        self.assertEqual(self.mon.error('object-add', {
            'qom-type': 'introspection', 'id': 'x', 'chardev': 'vmic',
            'props': {'chardev': 'vmic'}}), "Option in 'props' conflicts with top level")
        self.assertEqual(self.mon.error('object-add', {'qom-type': 'introspection'}),
                         "Parameter 'id' is missing")
        # one object at most, and its id is taken
        self.assertEqual(self.add(chardev='vmic')['return'], {})
        self.assertEqual(self.add(id='other', chardev='vmic')['error']['desc'],
                         'VMI: only one introspection object can be created')
        self.assertEqual(self.add(chardev='vmic')['error']['desc'],
                         "attempt to add duplicate property 'vmi0' to object (type 'container')")
        self.assertEqual(self.mon.error('object-add', {'qom-type': 'iothread', 'id': 'vmi0'}),
                         "attempt to add duplicate property 'vmi0' to object (type 'container')")
        self.emu.quit(self.mon)

    def test_missing_kvm(self):
        chardev = ['-chardev', f'socket,id=vmic,path={self.path("vmi.sock")},reconnect=1']
        self.emu = self.start_emulator(*chardev, accel=vt.NO_KVM)
        self.mon = self.emu.qmp()
        self.assertEqual(self.add(chardev='vmic')['error']['desc'], 'VMI: missing KVM support')
        self.emu.quit(self.mon)

    def test_tcg_stands_in_for_kvm(self):
        """--kvmi-kvm=tcg (QEMU_KVMI_KVM): a TCG guest hooks, on any host."""
        chardev = ['-chardev', f'socket,id=vmic,path={self.path("vmi.sock")},reconnect=1']
        for how in ('option', 'env'):
            with self.subTest(how=how):
                tool = self.start_tool('vmi.sock')
                options = ['--kvmi-kvm=tcg'] if how == 'option' else []
                env = {'QEMU_KVMI_KVM': 'tcg'} if how == 'env' else {}
                self.emu = self.start_emulator(*chardev, accel='tcg', options=options, env=env)
                self.mon = self.emu.qmp()
                self.assertEqual(self.mon.ok('query-kvm')['enabled'], False)
                self.assertEqual(self.add(chardev='vmic')['return'], {})
                tool.expect('hooked', timeout=3 * vt.SLOW)
                self.emu.quit(self.mon)
                tool.stop()

    def test_default_kvm_follows_the_host(self):
        """Without the option, a TCG guest counts as a KVM one only on a
        host that has no /dev/kvm at all."""
        chardev = ['-chardev', f'socket,id=vmic,path={self.path("vmi.sock")},reconnect=1']
        self.emu = self.start_emulator(*chardev, accel='tcg')
        self.mon = self.emu.qmp()
        rsp = self.add(chardev='vmic')
        if os.path.exists('/dev/kvm'):
            self.assertEqual(rsp['error']['desc'], 'VMI: missing KVM support')
        else:
            self.assertEqual(rsp['return'], {})
        self.emu.quit(self.mon)

    def test_bad_kvm_mode(self):
        for args, env in ((['--kvmi-kvm=kvm'], {}), ([], {'QEMU_KVMI_KVM': 'kvm'})):
            with self.subTest(args=args, env=env):
                rc, _, err = self.run_emulator(*args, env=env)
                self.assertEqual(rc, 1)
                self.assertIn("qemu-kvmi: --kvmi-kvm: invalid value 'kvm' (expected host or tcg)",
                              err)

    def test_compat_modes(self):
        for mode, desc in (('fork-readonly', 'Insufficient permission to perform this operation'),
                           ('documented', None), ('fork-last-key', None)):
            with self.subTest(mode=mode):
                self.vm(options=[f'--kvmi-compat={mode}'])
                rsp = self.add(chardev='vmic', command=5)
                if desc:
                    self.assertEqual(rsp['error']['desc'], desc)
                else:
                    self.assertEqual(rsp['return'], {})
                self.emu.quit(self.mon)

    def test_chardev_add_and_remove(self):
        self.vm()
        vsock = {'id': 'vs', 'backend': {'type': 'socket', 'data': {
            'addr': {'type': 'vsock', 'data': {'cid': '1234', 'port': '4321'}},
            'server': False, 'reconnect': 1}}}
        self.assertEqual(self.mon.ok('chardev-add', vsock), {})
        info = {c['label']: c for c in self.mon.ok('query-chardev')}
        self.assertEqual(info['vs'], {'frontend-open': False, 'label': 'vs',
                                      'filename': 'disconnected:vsock:1234:4321'})
        self.assertEqual(self.mon.error('chardev-add', vsock), "Chardev with id 'vs' already exists")
        # used by the object: busy
        self.assertEqual(self.add(chardev='vs')['return'], {})
        self.assertEqual(self.mon.error('chardev-remove', {'id': 'vs'}), "Chardev 'vs' is busy")
        self.assertEqual(self.mon.ok('object-del', {'id': 'vmi0'}), {})
        # the object took its chardev with it
        self.assertEqual(self.mon.error('chardev-remove', {'id': 'vs'}), "Chardev 'vs' not found")
        unix = {'id': 'u', 'backend': {'type': 'socket', 'data': {
            'addr': {'type': 'unix', 'data': {'path': self.path('u.sock')}},
            'server': False, 'reconnect': 1}}}
        self.assertEqual(self.mon.ok('chardev-add', unix), {})
        self.assertEqual(self.mon.ok('chardev-remove', {'id': 'u'}), {})
        self.emu.quit(self.mon)


class ChardevViewTest(vt.VmiTestCase):

    def test_query_chardev(self):
        emu = self.start_emulator(*self.introspection_args())
        mon = emu.qmp()
        info = {c['label']: c for c in mon.ok('query-chardev')}
        self.assertEqual(info['vmic'], {'frontend-open': True, 'label': 'vmic',
                                        'filename': f'disconnected:unix:{self.path("vmi.sock")}'})
        # the QMP monitor as QEMU shows a server socket with its client
        self.assertEqual(info['compat_monitor0']['filename'],
                         f'unix:{emu.qmp_paths[0]},server=on')
        # the emulator's private monitor does not show
        self.assertEqual(set(info), {'vmic', 'compat_monitor0'})
        tool = self.start_tool()
        tool.expect('ready', timeout=3 * vt.SLOW)
        info = {c['label']: c for c in mon.ok('query-chardev')}
        self.assertEqual(info['vmic']['filename'], 'unix:')
        emu.quit(mon)


class ProxyTest(vt.VmiTestCase):

    def libvirt_vm(self):
        """A VM started as libvirt starts it: the monitor's listening socket
        is inherited (fd=N)."""
        path = self.path('monitor.sock')
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        self.addCleanup(listener.close)
        fd = listener.fileno()
        emu = self.start_emulator(
            '-chardev', f'socket,id=charmonitor,fd={fd},server=on,wait=off',
            '-mon', 'chardev=charmonitor,id=monitor,mode=control',
            *self.introspection_args(), qmp_sockets=0, pass_fds=[fd])
        listener.close()
        return emu, path

    def test_libvirt_monitor_and_fd_passing(self):
        emu, path = self.libvirt_vm()
        mon = vt.Qmp(path)
        self.addCleanup(mon.close)
        # before qmp_capabilities, as QEMU answers
        rsp = mon.cmd('query-status')
        self.assertEqual(rsp['error'], {'class': 'CommandNotFound',
                                        'desc': "Expecting capabilities negotiation with "
                                                "'qmp_capabilities'"})
        mon.negotiate()
        self.assertEqual(mon.error('qmp_capabilities'),
                         'Capabilities negotiation is already complete, command ignored')
        # getfd with SCM_RIGHTS, as libvirt does for migration
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.assertEqual(mon.cmd('getfd', {'fdname': 'fd0'}, fds=[w])['return'], {})
        os.close(w)
        self.assertEqual(mon.ok('closefd', {'fdname': 'fd0'}), {})
        self.assertEqual(mon.error('closefd', {'fdname': 'fd0'}),
                         "File descriptor named 'fd0' not found")
        # one client at a time: a second one gets its greeting when the first goes
        mon.close()
        again = vt.Qmp(path).negotiate()
        self.addCleanup(again.close)
        self.assertEqual(again.ok('query-status')['status'], 'running')
        info = {c['label']: c for c in again.ok('query-chardev')}
        self.assertEqual(info['charmonitor']['filename'], f'unix:{path},server=on')
        emu.quit(again)
        self.assertFalse(os.path.exists(self.path('qmp0.sock')))

    def test_process_layout(self):
        emu = self.start_emulator(*self.introspection_args())
        mon = emu.qmp()
        # libvirt's pid is QEMU's own
        self.assertEqual(os.path.basename(vt.exe_of(emu.pid)), 'qemu-system-x86_64')
        relays = [pid for pid in vt.processes_mentioning(emu.marker) if pid != emu.pid]
        self.assertEqual(len(relays), 1)
        # (under valgrind, the relay is valgrind's)
        self.assertIn(os.path.basename(vt.exe_of(relays[0])),
                      ('qemu-kvmi', 'memcheck-amd64-linux'))
        self.assertFalse(any(name.startswith('qemu-kvmi') for name in os.listdir(self.tmpdir)
                             if name.endswith('.sock') and name != 'qmp0.sock'))
        emu.quit(mon)
        # its socket file goes too, as QEMU removes its own
        self.assertFalse(os.path.exists(emu.qmp_paths[0]))

    def test_relay_ends_with_qemu_killed(self):
        emu = self.start_emulator(*self.introspection_args())
        emu.qmp()
        relays = [pid for pid in vt.processes_mentioning(emu.marker) if pid != emu.pid]
        os.kill(emu.pid, 9)
        emu.wait_exit()
        vt.wait_for(lambda: not any(alive(p) for p in relays), what='the relay to exit')

    def test_events_pass_through(self):
        emu = self.start_emulator(qmp_sockets=2)
        first = emu.qmp()
        second = emu.qmp(1)
        first.ok('stop')
        first.wait_event('STOP')
        second.wait_event('STOP')
        first.ok('cont')
        second.wait_event('RESUME')
        # a big reply, byte for byte
        schema = first.ok('query-qmp-schema')
        self.assertGreater(len(schema), 500)
        emu.quit(first)

    def test_line_ends_as_qemus(self):
        """QEMU's monitor ends every line with CR LF (libvirt splits on it):
        forwarded messages keep theirs, the emulator's own have them too."""
        emu = self.start_emulator(*self.introspection_args())
        sock = vt.wait_for(lambda: vt.Qmp._connect(emu.qmp_paths[0]), what='QMP')
        self.addCleanup(sock.close)
        sock.settimeout(vt.WAIT)
        data = b''

        def lines(count):
            nonlocal data
            while data.count(b'\r\n') < count:
                data += sock.recv(65536)
            return data.split(b'\r\n')[:count]
        self.assertTrue(lines(1)[0].startswith(b'{"QMP"'))
        # the emulator's reply, QEMU's reply, the emulator's error
        sock.sendall(b'{"execute": "qmp_capabilities"}{"execute": "query-status"}'
                     b'{"execute": "object-add", "arguments": {"qom-type": "introspection",'
                     b' "id": "x"}}')
        got = lines(4)
        self.assertIn(b'"return"', got[1])
        self.assertIn(b'"status"', got[2])
        self.assertIn(b'only one introspection object', got[3])
        self.assertNotIn(b'\n', b''.join(got))
        self.assertFalse(data.replace(b'\r\n', b'').count(b'\n'))
        sock.sendall(b'{"execute": "quit"}\n')
        emu.wait_exit()

    def test_nesting_depth_bound(self):
        """A message nested deeper than QEMU's JSON streamer allows (1024
        levels) is answered with QEMU's error, without an id: before the
        bound, a deep id of a command the emulator answers itself made it
        recurse (parse, free, write back) until it crashed."""
        emu = self.start_emulator(*self.introspection_args())
        mon = emu.qmp()
        deep = 100000
        for arguments in ('{"qom-type": "introspection", "id": "x"}', '{}'):
            mon.send_raw('{"execute": "object-add", "arguments": %s, "id": %s%s}\n'
                         % (arguments, '[' * deep, ']' * deep))
            self.assertEqual(mon.next_response(), {'error': {
                'class': 'GenericError', 'desc': 'JSON nesting depth limit exceeded'}})
        # 1025 levels are too deep, as for QEMU; 1024 are not
        mon.send_raw('[' * 1025 + ']' * 1025)
        self.assertEqual(mon.next_response()['error']['desc'],
                         'JSON nesting depth limit exceeded')
        mon.send_raw('[' * 1024 + ']' * 1024)
        self.assertEqual(mon.next_response()['error']['desc'],
                         'QMP input must be a JSON object')
        # the session goes on, in order
        self.assertEqual(mon.ok('query-status')['status'], 'running')
        emu.quit(mon)

    def test_pipelined_commands(self):
        emu = self.start_emulator()
        mon = emu.qmp()
        ids = [mon.send('query-status') for _ in range(50)]
        got = [mon.next_response()['id'] for _ in ids]
        self.assertEqual(got, ids)
        emu.quit(mon)

    def test_vsock_chardev_taken_from_qemu(self):
        """QEMU 7.2 refuses cid= on its command line: the emulator runs it."""
        emu = self.start_emulator('-chardev', 'socket,id=vs,cid=1234,port=4321,reconnect=1',
                                  '-object', 'introspection,id=vmi0,chardev=vs')
        mon = emu.qmp()
        info = {c['label']: c for c in mon.ok('query-chardev')}
        self.assertEqual(info['vs'], {'frontend-open': True, 'label': 'vs',
                                      'filename': 'disconnected:vsock:1234:4321'})
        emu.wait_log('Unable to connect character device vs: Failed to connect socket: ')
        self.assertNotIn("Invalid parameter 'cid'", emu.log())
        emu.quit(mon)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which('setpriv'), 'needs root and setpriv')
    def test_unprivileged_user(self):
        """As an unprivileged QEMU user: nothing of the emulator needs more."""
        os.chmod(self.tmpdir, 0o777)
        argv, qmp_paths = self.emulator_argv(accel=vt.NO_KVM)
        argv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] + argv
        emu = vt.Emulator(self, argv, dict(os.environ), self.path('nobody.log'), qmp_paths)
        mon = emu.qmp()
        self.assertEqual(mon.ok('query-status')['status'], 'running')
        self.assertEqual(os.stat(qmp_paths[0]).st_uid, 65534)
        self.assertEqual(mon.error('object-add', {'qom-type': 'introspection', 'id': 'v',
                                                  'props': {'chardev': 'x'}}),
                         'VMI: missing KVM support')
        emu.quit(mon)
        self.assertEqual(sorted(os.listdir(self.tmpdir)), ['nobody.log'])

    def test_qmp_stdio(self):
        rc, out, err = self.run_emulator('-qmp', 'stdio', input=(
            '{"execute": "qmp_capabilities"}\n'
            '{"execute": "query-status", "id": 1}\n'
            '{"execute": "quit"}\n'))
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertIn('"QMP"', lines[0])
        self.assertIn('"status": "running"', [line for line in lines if '"id": 1' in line][0])

    def test_wait_for_first_client(self):
        """-qmp ...,server=on without wait=off: QEMU waits for a client."""
        path = self.path('w.sock')
        argv, _ = self.emulator_argv('-qmp', f'unix:{path},server=on', qmp_sockets=0)
        emu = vt.Emulator(self, argv, dict(os.environ), self.path('w.log'), [path])
        emu.wait_log('info: QEMU waiting for connection on: disconnected:unix:'
                     + path.replace('.', r'\.') + ',server=on')
        self.assertEqual([p for p in vt.processes_mentioning(path)
                          if os.path.basename(vt.exe_of(p) or '') == 'qemu-system-x86_64'], [])
        mon = vt.Qmp(path).negotiate()
        self.addCleanup(mon.close)
        self.assertEqual(mon.ok('query-status')['status'], 'running')
        emu.quit(mon)


if __name__ == '__main__':
    vt.main()
