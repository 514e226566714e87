#!/usr/bin/env python3
"""Faults around the per-run key file, on a real libvirtd with the hook and
one introspected domain on the KVMI emulator, started again after each:
QEMU killed with SIGKILL before `started` (the key file goes at `stopped`);
stale key directories a crash of the host left (the domain's own, with a
wrong key, owner and modes, replaced; another, older than the boot,
removed); the key directory /run/libvirt-vmi with a wrong mode (set back
to 0711), another owner or writable by others (the start
refused, naming the path, what was found and what is expected); and a
full or read-only file system under it (the start refused cleanly,
nothing half-written left). The faults on /run/libvirt-vmi are made in
the daemon's private mount namespace: a tiny tmpfs mounted over it."""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmiproduct as vp  # noqa: E402

NAME = "faulty"
OTHER_UUID = "7d0b5c1e-1f4a-4c3e-9a51-0c2b7e9d3f10"
EXPECTED = ("expected a directory owned by uid 0, not writable by group or others, mode 0711 "
            "(remove it, or chown 0 /run/libvirt-vmi; chmod 0711 /run/libvirt-vmi)")


class FaultTest(vp.DaemonTestCase):
    NAME = "faults"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.records = vp.record_key_files(cls.d, cls.tmp.name)

    def setUp(self):
        super().setUp()
        self.key = vp.printable_key()
        self.uuid = self.d.define_domain(NAME, emulator=vp.domain_emulator(),
                                         metadata=vp.element(os.path.join(self.tools, "f.sock"),
                                                             reconnect=1))
        self.addCleanup(self.d.virsh, "undefine", NAME, check=False)
        self.addCleanup(self.d.virsh, "destroy", NAME, check=False)
        self.assertEqual(self.vv("sync", NAME).rc, 0)
        r = self.vv("key-import", NAME, "--file", "-", input=self.key.decode())
        self.assertEqual(r.rc, 0, r)
        secret = vp.vmi_element(vp.dumpxml(self.d, NAME))[0].find(
            "{%s}key" % vp.VMI_NS).get("secret")
        self.addCleanup(self.d.virsh, "secret-undefine", secret, check=False)

    def ns(self, *cmd, check=True):
        return self.d.run_in_namespace(list(cmd), check=check)

    def key_dir_listing(self):
        """What is in /run/libvirt-vmi as the daemon sees it."""
        return sorted(self.ns("ls", "-A", vp.KEY_DIR).stdout.split())

    def key_dir_state(self):
        return self.ns("stat", "-c", "%u %a", vp.KEY_DIR).stdout.split()

    def start(self):
        r = self.d.virsh("start", NAME, check=False, timeout=60 * vp.SLOW)
        self.assertEqual(r.rc, 0, r)
        state = vp.key_file_records(self.records, self.uuid)
        self.assertIsNotNone(state.get("start"), "no key file when QEMU started")
        self.assertEqual(state["start"][6], vp.sha1_hex(self.key))
        self.assertIsNone(state["started"], "the key file outlives the start")
        self.d.virsh("destroy", NAME)

    def assertRefused(self, *needles):
        mark = self.d.log_size()
        r = self.d.virsh("start", NAME, check=False, timeout=60 * vp.SLOW)
        self.assertNotEqual(r.rc, 0, "the domain started")
        self.assertIn(f"libvirt-vmi: domain '{NAME}': ", r.stderr)
        for n in needles:
            self.assertIn(n, r.stderr)
        self.assertEqual(self.d.domstate(NAME), "shut off")
        self.assertFalse(vp.qemu_launched(self.d.log_text(mark), NAME), "QEMU ran")
        self.assertNotIn(self.uuid, self.key_dir_listing(), "a key directory is left")

    def mount_key_dir(self, options):
        """A tmpfs over /run/libvirt-vmi in the daemon's namespace, until
        the test's end."""
        self.ns("mount", "-t", "tmpfs", "-o", options, "vmi-test", vp.KEY_DIR)
        self.addCleanup(self.ns, "umount", "-l", vp.KEY_DIR, check=False)

    def test_stale_key_directories(self):
        """A crash of the host left the domain's key directory (a wrong
        key, owned by another user, open to all) and another domain's,
        older than the boot: the first is replaced, the second goes."""
        keydir = self.d.host_path(vp.KEY_DIR)
        own = os.path.join(keydir, self.uuid)
        other = os.path.join(keydir, OTHER_UUID)
        for d in (own, other):
            os.mkdir(d)
            with open(os.path.join(d, "key"), "wb") as f:
                f.write(b"stale")
            os.chmod(os.path.join(d, "key"), 0o666)
            os.chown(os.path.join(d, "key"), 12345, 12345)
            os.chmod(d, 0o777)
            os.chown(d, 12345, 12345)
        os.utime(other, (0, 0))
        self.addCleanup(lambda: os.path.isdir(other) and shutil.rmtree(other))
        self.start()
        self.assertFalse(os.path.lexists(own), "the domain's key directory is left")
        self.assertFalse(os.path.lexists(other), "the stale key directory is left")

    def test_key_directory_modes_and_owner(self):
        keydir = self.d.host_path(vp.KEY_DIR)
        self.addCleanup(os.chown, keydir, 0, 0)
        self.addCleanup(os.chmod, keydir, 0o755)
        # ours, and safe: set back to 0711
        os.chmod(keydir, 0o700)
        self.start()
        self.assertEqual(os.stat(keydir).st_mode & 0o7777, 0o711)
        # writable by others, who may have planted entries: refused
        os.chmod(keydir, 0o1777)
        self.assertRefused("refusing key directory '/run/libvirt-vmi': owner uid 0, mode 1777; "
                           + EXPECTED)
        # another user's: refused
        os.chmod(keydir, 0o711)
        os.chown(keydir, 12345, 0)
        self.assertRefused("refusing key directory '/run/libvirt-vmi': owner uid 12345, mode "
                           "0711; " + EXPECTED)
        os.chown(keydir, 0, 0)

    def test_qemu_killed_before_started(self):
        """QEMU killed with SIGKILL while its key file is still there
        (by a test hook that runs at `started begin` before ours): libvirt
        fails the start, runs `stopped` and `release`, and the key file
        and its directory go."""
        mark = os.path.join(self.tmp.name, "killed")
        self.d.add_hook("40-vmi-test-kill", f"""#!/bin/sh
[ "$1 $2 $3" = "{NAME} started begin" ] || exit 0
[ -e /run/libvirt-vmi/{self.uuid}/key ] && echo present > {mark}
kill -KILL "$(cat /run/libvirt/qemu/{NAME}.pid)"
exit 1
""")
        self.addCleanup(os.unlink, os.path.join(self.d.hooks_dir, "40-vmi-test-kill"))
        log = self.d.log_size()
        r = self.d.virsh("start", NAME, check=False, timeout=60 * vp.SLOW)
        self.assertNotEqual(r.rc, 0, r)
        with open(mark) as f:
            self.assertEqual(f.read(), "present\n", "no key file when QEMU was killed")
        vp.wait_until(lambda: self.d.domstate(NAME) == "shut off", 10 * vp.SLOW, "shut off")
        self.assertIn("50-libvirt-vmi faulty release end", self.d.log_text(log))
        self.assertNotIn(self.uuid, self.key_dir_listing(), "the key directory is left")

    def test_full_and_read_only_file_system(self):
        # a tmpfs of one page, filled: the key's directory fits (inodes),
        # its content does not
        self.mount_key_dir("size=4k,mode=0711")
        r = self.d.run_in_namespace(["dd", "if=/dev/zero", f"of={vp.KEY_DIR}/filler", "bs=4096",
                                     "count=2"])
        self.assertEqual(self.key_dir_listing(), ["filler"], r)
        self.assertRefused(f"cannot write '/run/libvirt-vmi/{self.uuid}/key': ",
                           "No space left on device")
        self.assertEqual(self.key_dir_listing(), ["filler"])
        # read-only: nothing can be created
        self.ns("rm", f"{vp.KEY_DIR}/filler")
        self.ns("mount", "-o", "remount,ro", vp.KEY_DIR)
        self.assertRefused(f"cannot create directory '/run/libvirt-vmi/{self.uuid}': "
                           "Read-only file system")
        self.assertEqual(self.key_dir_listing(), [])
        # writable again: the start goes through
        self.ns("mount", "-o", "remount,rw", vp.KEY_DIR)
        self.start()
        self.assertEqual(self.key_dir_listing(), [])


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
