#!/usr/bin/env python3
"""QMP round trips through qemu-kvmi against the same QEMU run directly.

Starts the real QEMU 7.2 and qemu-kvmi (with an introspection object and,
if it was built, vmi-tool hooked to it), both small KVM VMs, then times
query-status round trips on each, interleaved in rounds so that both see
the same machine load (under TCG where the host has no /dev/kvm, as
qemu-kvmi does there). Prints median, mean, p90 and p99 in microseconds,
the difference of the medians (the goal: within 500 us) and of the means.

    bench/qmp_roundtrip.py [--build-dir build] [--rounds 20] [--per-round 200]
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

QEMU = '/usr/bin/qemu-system-x86_64'
# TCG where the host has no KVM: qemu-kvmi then emulates KVMI over TCG too
ACCEL = 'kvm' if os.path.exists('/dev/kvm') else 'tcg'
VM = ['-machine', f'pc,accel={ACCEL}', '-m', '64', '-nodefaults', '-display', 'none']
GOAL_US = 500


class Client:
    def __init__(self, path):
        for _ in range(200):
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                time.sleep(0.025)
        else:
            raise RuntimeError(f'cannot connect to {path}')
        self.buf = b''
        self.line()                                     # greeting
        self.call(b'{"execute": "qmp_capabilities"}\n')

    def line(self):
        while b'\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return line

    def call(self, msg):
        self.sock.sendall(msg)
        while True:
            line = self.line()
            if b'"return"' in line or b'"error"' in line:
                return line

    def time_calls(self, count):
        msg = b'{"execute": "query-status"}\n'
        out = []
        for _ in range(count):
            t0 = time.perf_counter_ns()
            self.call(msg)
            out.append((time.perf_counter_ns() - t0) / 1000)
        return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--build-dir', default=os.path.join(here, '..', 'build'))
    ap.add_argument('--rounds', type=int, default=20)
    ap.add_argument('--per-round', type=int, default=200)
    args = ap.parse_args()
    emulator = os.path.join(args.build_dir, 'tools', 'kvmi-emulator', 'qemu-kvmi')
    tool = os.path.join(args.build_dir, 'tools', 'vmi-tool', 'vmi-tool')

    tmp = tempfile.mkdtemp(prefix='qmpbench-')
    procs = []
    try:
        vmi = os.path.join(tmp, 'vmi.sock')
        if os.path.exists(tool):
            procs.append(subprocess.Popen([tool, '--listen', f'unix:{vmi}'],
                                          stdout=subprocess.DEVNULL))
        direct = os.path.join(tmp, 'direct.sock')
        proxied = os.path.join(tmp, 'proxied.sock')
        procs.append(subprocess.Popen([QEMU] + VM + ['-qmp', f'unix:{direct},server=on,wait=off'],
                                      stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([emulator] + VM + [
            '-chardev', f'socket,id=vmic,path={vmi},reconnect=1',
            '-object', 'introspection,id=vmi0,chardev=vmic',
            '-qmp', f'unix:{proxied},server=on,wait=off'], stderr=subprocess.DEVNULL))
        a, b = Client(direct), Client(proxied)
        a.time_calls(100)
        b.time_calls(100)                               # warm up
        res = {'direct': [], 'qemu-kvmi': []}
        for _ in range(args.rounds):
            res['direct'] += a.time_calls(args.per_round)
            res['qemu-kvmi'] += b.time_calls(args.per_round)
        for c in (a, b):
            c.call(b'{"execute": "quit"}\n')
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f'query-status round trips, {args.rounds} x {args.per_round} each, interleaved')
    print('| path | median (us) | mean (us) | p90 (us) | p99 (us) |')
    print('|---|---|---|---|---|')
    for name, values in res.items():
        print(f'| {name} | {statistics.median(values):.1f} | {statistics.mean(values):.1f} '
              f'| {pct(values, 90):.1f} | {pct(values, 99):.1f} |')
    diff = statistics.median(res['qemu-kvmi']) - statistics.median(res['direct'])
    # what a sequence of commands (libvirt's set-up of a QEMU) adds up to
    mean = statistics.mean(res['qemu-kvmi']) - statistics.mean(res['direct'])
    print(f'\nmedian overhead: {diff:.1f} us (goal: <= {GOAL_US} us): '
          f'{"met" if diff <= GOAL_US else "NOT met"}; mean overhead: {mean:.1f} us')
    return 0 if diff <= GOAL_US else 1


if __name__ == '__main__':
    sys.exit(main())
