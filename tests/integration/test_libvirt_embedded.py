#!/usr/bin/env python3
"""The embedded driver (qemu:///embed?root=DIR, no daemon, no hooks):
virt-vmi define, key-import and key-hash against the root's own secret
driver, `virt-vmi start` doing the hook's checks and writing the key file
under the root (QEMU's when it starts, as an emulator script records; gone
once the domain started), the tool hooking the guest, suspend waiting for
the unhook, save and `virt-vmi restore` (the key file written again for
the restored QEMU, the tool hooking it), detach and attach over the
root's QEMU monitor, `virt-vmi destroy` removing the key file; and the
in-process checks refusing a start (arguments out of step, an allow-list
the emulator cannot enforce) before QEMU runs."""

import os
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmilibvirt as vl  # noqa: E402
import vmiproduct as vp  # noqa: E402
import vmiwrap as vw  # noqa: E402


class EmbeddedTest(vp.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vmi-embedded-")
        os.chmod(cls.tmp.name, 0o755)
        cls.readonly = vp.compat_emulator("fork-readonly")
        root = os.path.join(cls.tmp.name, "root")
        cls.key_dir = os.path.join(root, "run", "libvirt-vmi")
        cls.keyrec, cls.keyrecords = cls.key_recording_emulator()
        cls.e = vl.EmbeddedRoot(root, emulators=[*vp.emulators(), cls.readonly, cls.keyrec])
        cls.tools = os.path.join(cls.tmp.name, "tools")
        os.makedirs(cls.tools, mode=0o755)

    @classmethod
    def key_recording_emulator(cls):
        """qemu-kvmi behind a script that records, as QEMU's user, the key
        file QEMU is about to read (owner, mode, its directory's, SHA-1)."""
        records = os.path.join(cls.tmp.name, "keyrecords")
        os.makedirs(records)
        os.chmod(records, 0o777)
        path = os.path.join(cls.tmp.name, "qemu-kvmi-keyrec")
        with open(path, "w") as f:
            f.write(rf"""#!/bin/sh
# the key directory is not listable by QEMU's user: the path from the arguments
k=$(printf '%s\n' "$@" | sed -n 's/^secret,id=vmi0-key,.*file=\([^,]*\).*/\1/p')
if [ -n "$k" ]; then
    d=${{k%/key}}
    echo "$(stat -c '%u %g %a' "$k") $(stat -c '%u %g %a' "$d") $(sha1sum < "$k" | cut -c1-40)" \
        > {records}/${{d##*/}}
fi
exec {shlex.join(vw.wrap([vp.QEMU_KVMI]))} "$@"
""")
        os.chmod(path, 0o755)
        return path, records

    @classmethod
    def tearDownClass(cls):
        cls.e.cleanup()
        cls.tmp.cleanup()

    def setUp(self):
        super().setUp()
        self.addCleanup(vp.check_wrapper_reports, self, self.e)

    def vv(self, *args, **kwargs):
        return vp.virt_vmi_embedded(self.e, *args, **kwargs)

    def define(self, name, emulator=None, **element):
        sock = os.path.join(self.tools, f"{name}.sock")
        xml = vl.domain_xml(name, emulator=emulator or vp.domain_emulator(),
                            metadata=vp.element(sock, reconnect=1, **element))
        path = self.e.write_xml(xml, f"{name}.xml")
        r = self.vv("define", path)
        self.assertEqual(r.rc, 0, r)
        self.addCleanup(self.e.virsh, f"undefine {name}", check=False)
        return sock, self.e.virsh(f"domuuid {name}").stdout.strip()

    def test_start_suspend_destroy(self):
        sock, uuid = self.define("emb", emulator=self.keyrec, unhook=10)
        key = vp.printable_key()
        keyfile = os.path.join(self.tmp.name, "emb.key")
        with open(keyfile, "wb") as f:
            f.write(key)
        r = self.vv("key-import", "emb", "--file", keyfile)
        self.assertEqual(r.rc, 0, r)
        # The secret lives in the root's own secret driver
        secrets = vl.run(vl.pinned([vl.VIRSH, "-c", f"secret:///embed?root={self.e.root}",
                                    "secret-list"]), env=self.e.env())
        self.assertIn(f"libvirt-vmi/{uuid}", secrets.stdout)
        h = self.vv("key-hash", "emb", "--show-cookie")
        self.assertEqual(h.stdout, vp.sha1_hex(key) + "\n")
        tool = vp.tool(self, sock, "--unhook-delay", "500", key_hash=h.stdout.strip())

        outputs = []
        r = self.vv("start", "emb")
        self.addCleanup(self.vv, "destroy", "emb")   # a failed start may leave QEMU
        outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, "Domain 'emb' started\n")
        hooked = tool.wait_for("hooked", timeout=20 * vp.SLOW, conn=1)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, "emb"))
        tool.wait_for("ready", timeout=10 * vp.SLOW, conn=1)

        # QEMU found its key file, its user's; gone once the domain started
        with open(os.path.join(self.keyrecords, uuid)) as f:
            state = f.read().split()
        qemu_uid = vl.pwd_uid(vl.QEMU_USER)
        self.assertEqual((int(state[0]), int(state[2], 8), int(state[3]), int(state[5], 8)),
                         (qemu_uid, 0o600, qemu_uid, 0o700))
        self.assertEqual(state[6], vp.sha1_hex(key))
        self.assertIsNone(vp.key_file_state(vp.key_path(self.key_dir, uuid)))
        top = os.stat(self.key_dir)
        self.assertEqual((top.st_uid, top.st_mode & 0o7777), (0, 0o711))

        st = self.vv("status", "emb")
        outputs.append(st.stdout + st.stderr)
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")
        self.assertIn(f"Key file:         {self.key_dir}/{uuid}/key: absent (QEMU read it at start "
                      "and keeps the key in memory)", st.stdout)

        t0 = time.monotonic()
        r = self.vv("suspend", "emb")
        t1 = time.monotonic()
        outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.rc, 0, r)
        closed = tool.wait_for("closed", timeout=1, conn=1)
        self.assertEqual(closed["reason"], "unhook")
        self.assertLess(closed["_t"], t1)
        self.assertGreaterEqual(t1 - t0, 0.5)
        r = self.vv("resume", "emb")
        self.assertEqual(r.rc, 0, r)
        tool.wait_for("hooked", timeout=10 * vp.SLOW, conn=2)
        tool.wait_for("ready", timeout=10 * vp.SLOW, conn=2)

        # save and restore: virt-vmi writes the key file for the restored
        # QEMU (no hook runs) and removes it once QEMU has started
        image = os.path.join(self.tmp.name, "emb.img")
        r = self.vv("save", "emb", image)
        outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(tool.wait_for("closed", timeout=1, conn=2)["reason"], "unhook")
        os.unlink(os.path.join(self.keyrecords, uuid))
        r = self.vv("restore", image)
        outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Domain 'emb' restored from .*\nDomain 'emb': the "
                         r"introspection tool hooked it again after [0-9.]+ s\n$")
        tool.wait_for("hooked", timeout=1, conn=3)
        with open(os.path.join(self.keyrecords, uuid)) as f:
            self.assertEqual(f.read().split()[6], vp.sha1_hex(key))
        self.assertIsNone(vp.key_file_state(vp.key_path(self.key_dir, uuid)))

        # detach (the tool unhooks during a pause) and attach again over
        # the root's QEMU monitor: the key file under the root for the
        # secret object, gone after; the tool hooks the guest again
        r = self.vv("detach", "emb")
        outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, "Introspection detached from domain 'emb', once the tool "
                         "had unhooked (the guest was paused meanwhile)\n")
        self.assertEqual(tool.wait_for("closed", timeout=5 * vp.SLOW, conn=3)["reason"], "unhook")
        # dommemstat first: it waits for virsh's reconnection to the
        # running domain, without which virsh may crash at exit (see
        # test_exit_waits_for_reconnection)
        self.assertEqual(self.e.virsh("dommemstat emb", "domstate emb").stdout.split()[-1],
                         "running")
        r = self.vv("attach", "emb")
        outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, "Introspection attached to domain 'emb': QEMU connects to the "
                         "tool\n")
        tool.wait_for("hooked", timeout=20 * vp.SLOW, conn=4)
        self.assertIsNone(vp.key_file_state(vp.key_path(self.key_dir, uuid)))
        st = self.vv("status", "emb")
        self.assertRegex(st.stdout, r"Tool connection:  connected \(")
        with open(image, "rb") as f:
            places_image = f.read()
        self.assertEqual(vp.key_leaks(key, places_image), [], "the key is in the save image")

        pids = vp.guest_pids("emb")
        places = {f"/proc/{p}": vp.proc_text(p) for p in pids}
        places["the tool's /proc/PID"] = vp.proc_text(tool.proc.pid)
        places["the tool's output"] = tool.output()
        places["the XML"] = self.e.virsh("dommemstat emb", "dumpxml --security-info emb",
                                         "dumpxml --inactive --security-info emb").stdout
        places["libvirt's status XML"] = self.e.status_xml("emb")
        r = self.vv("destroy", "emb")
        outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, "Domain 'emb' destroyed\n")
        self.assertIsNone(vp.key_file_state(vp.key_path(self.key_dir, uuid)))
        self.assertFalse(vl._wait_gone(pids, 5), "QEMU or its relay still running")
        with open(self.e.domain_log_path("emb"), errors="replace") as f:
            places["the domain log"] = f.read()
        places["libvirt's log"] = self.e.log_text()
        places["virt-vmi's output"] = "".join(outputs)
        for where, data in places.items():
            self.assertEqual(vp.key_leaks(key, data), [], f"the key is in {where}")

    def test_refused_before_qemu(self):
        # Out of step: the element changed behind our back
        self.define("stale")
        self.e.virsh(["metadata", "stale", vp.VMI_NS, "--key", "vmi", "--config", "--set",
                      vp.element("/run/vmi/other.sock", prefix="")])
        r = self.vv("start", "stale")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: domain 'stale': its <qemu:commandline> is out of step with its "
                      "<vmi:introspection>", r.stderr)
        self.assertIn("'virt-vmi sync stale' fixes it", r.stderr)
        self.assertEqual(self.e.qemu_pids(), [])

        # An allow-list the emulator cannot enforce
        _, uuid = self.define("readonly", emulator=self.readonly,
                              commands=["vcpu-pause", "vm-read-physical"])
        r = self.vv("start", "readonly")
        self.assertEqual(r.rc, 1, r)
        self.assertIn(f"error: domain 'readonly': the domain's <vmi:allow> cannot be enforced: "
                      f"emulator {self.readonly} cannot enforce allow-lists", r.stderr)
        self.assertEqual(self.e.qemu_pids(), [])
        self.assertFalse(os.path.exists(os.path.join(self.key_dir, uuid)))
        self.assertEqual(self.e.virsh("domstate readonly").stdout.strip(), "shut off")

    def test_exit_waits_for_reconnection(self):
        """A process that opens the root reconnects to its running domains
        in threads libvirt 9.0 never joins, and crashes if it exits while
        one runs (docs/how-it-works.rst): virt-vmi waits for them. With
        QEMU stopped the reconnection cannot end, so virt-vmi, its work
        done, must still be running; it ends once QEMU continues."""
        self.define("recon")
        r = self.vv("start", "recon")
        self.addCleanup(self.vv, "destroy", "recon")   # a failed start may leave QEMU
        self.assertEqual(r.rc, 0, r)
        pids = vp.guest_pids("recon")
        self.assertTrue(pids)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            proc = subprocess.Popen(vl.pinned([vp.VIRT_VMI, "-c", self.e.uri, "get", "recon"]),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=self.e.env())
            self.addCleanup(proc.kill)
            lines = [proc.stdout.readline() for _ in range(2)]
            while lines[-1] and lines[-1] != b"</vmi:introspection>\n":
                lines.append(proc.stdout.readline())
            self.assertRegex(lines[0].decode(), r"^<vmi:introspection ")
            self.assertEqual(lines[-1], b"</vmi:introspection>\n")
            # Its work is done. 2 s: without the wait it exits at once; with
            # it, only libvirt's 30 s job timeout would end the wait
            eof = (select.select([proc.stdout], [], [], 2)[0] and
                   os.read(proc.stdout.fileno(), 100) == b"")
            self.assertFalse(eof, "virt-vmi exited while libvirt was reconnecting")
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=30 * vp.SLOW)
        self.assertEqual((proc.returncode, out, err), (0, b"", b""))

    def test_host_validate(self):
        r = self.vv("host-validate", "--emulator", vp.emulator())
        self.assertEqual(r.rc, 1, r)   # no KVMI kernel here
        lines = r.stdout.splitlines()
        self.assertRegex(lines[1], r"Checking for a libvirt connection +: PASS \(qemu:///embed\?root=")
        self.assertRegex(lines[2], r"Checking for the libvirt hook +: PASS \(not needed: the "
                         r"embedded driver runs no hooks, virt-vmi start does their work\)")
        self.assertIn(f"Checking the key directory {self.key_dir}", lines[3])
        self.assertRegex(lines[5], r"enforces allow-lists: PASS")

    def test_hook_install_refused(self):
        r = self.vv("hook-install")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("the embedded driver", r.stderr)
        self.assertIn("runs no hooks: virt-vmi start does their work in-process", r.stderr)


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
