#!/usr/bin/env python3
"""virt-vmi save, restore and snapshot-create on a real libvirtd under the
KVMI emulator, with the reference tool, on one domain with a qcow2 disk
(one start, one restore):

- an internal snapshot: the tool gets UNHOOK and closes before the guest
  pauses, and hooks again once libvirt resumes it;
- save: the same unhook before the pause; the image's header names the
  key secret and the key file, never the key;
- restore: the hook prepares the key, the tool hooks the new QEMU, and
  virt-vmi checks it;
- an external snapshot (memory file + disk overlay): the same unhook, but
  QEMU writes the memory with a migration, and the RFC object refuses the
  tool while a migration it intercepted has not failed: the guest runs on
  unmonitored, which virt-vmi says (exit 3);
- SIGINT during a save's unhook wait cancels libvirt's job: the guest runs
  on, the tool hooks it again (exit 7); the image is a FIFO that holds
  QEMU's migration until the cancel is in.
Secrets: no form of the key in the save image, the memory file, the
snapshot XML or libvirt's log."""

import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("VMI_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "lib"))
import vmiclock as vc  # noqa: E402
import vmiproduct as vp  # noqa: E402
import vmiwrap as vw  # noqa: E402

UNHOOK_DELAY_MS = 300


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class SaveTest(vp.DaemonTestCase):
    NAME = "save"

    def test_usage(self):
        r = self.vv("save", "nosuch")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("save takes DOMAIN FILE", r.stderr)
        r = self.vv("snapshot-create", "a", "b", "c")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("snapshot-create takes DOMAIN [NAME]", r.stderr)
        r = self.vv("snapshot-create", "nosuch", "--external", "")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("--external: expected a FILE for the memory", r.stderr)
        r = self.vv("restore", "--paused")
        self.assertEqual(r.rc, 2, r)
        r = self.vv("restore", os.path.join(self.tmp.name, "nosuch.img"))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: cannot read the save image", r.stderr)
        r = self.vv("save", "nosuch", os.path.join(self.tmp.name, "x.img"))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("domain 'nosuch' not found", r.stderr)

    def unhooked_before_pause(self, tool, conn, t1, action="suspend", since=0):
        """The tool got UNHOOK on connection @conn and closed it before the
        command returned (at @t1), and QEMU paused only after the close."""
        unhook = tool.wait_for("unhook", timeout=1, conn=conn)
        closed = tool.wait_for("closed", timeout=1, conn=conn)
        self.assertEqual(closed["reason"], "unhook")
        self.assertEqual(unhook["close_after_ms"], UNHOOK_DELAY_MS)
        self.assertLess(unhook["_t"], closed["_t"])
        self.assertLess(closed["_t"], t1)
        log = self.d.domain_log("snap")[since:]
        self.assertRegex(log, r"VMI: intercept command: " + action + r"\n(.*\n)*.*VMI: "
                         r"introspection tool disconnected\n(.*\n)*.*VMI: continue with '"
                         + action + "'")

    def timed_vv(self, *args):
        t0 = time.monotonic()
        r = self.vv(*args, timeout=120)
        return r, t0, time.monotonic()

    def test_snapshots_save_restore(self):
        name = "snap"
        key = vp.printable_key()
        sock = os.path.join(self.tools, f"{name}.sock")
        disk = os.path.join(self.tmp.name, "snap.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
        uuid = self.d.define_domain(
            name, emulator=vp.domain_emulator(),
            metadata=vp.element(sock, reconnect=1, handshake=2),
            devices=f"    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                    f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk>")
        self.addCleanup(self.d.virsh, "undefine", name, "--snapshots-metadata", check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        keyfile = os.path.join(self.tmp.name, "snap.key")
        with open(keyfile, "wb") as f:
            f.write(key)
        r = self.vv("key-import", name, "--file", keyfile)
        self.assertEqual(r.rc, 0, r)
        tool = vp.tool(self, sock, "--unhook-delay", str(UNHOOK_DELAY_MS), key_file=keyfile)
        self.assertEqual(self.d.virsh("start", name, check=False, timeout=60 * vp.SLOW).rc, 0)
        tool.wait_for("ready", timeout=20 * vp.SLOW, conn=1, unhook_event=True)

        # internal snapshot: unhook, pause, savevm, resume, hooked again
        since = len(self.d.domain_log(name))
        r, t0, t1 = self.timed_vv("snapshot-create", name, "s1")
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Domain 'snap': snapshot 's1' created after [0-9.]+ s "
                         r"\(the introspection tool's unhook first, at most 60 s\)\n"
                         r"Domain 'snap': the introspection tool hooked it again after "
                         r"[0-9.]+ s\n$")
        self.unhooked_before_pause(tool, 1, t1, since=since)
        hooked = tool.wait_for("hooked", timeout=1, conn=2)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, name))
        self.assertLess(hooked["_t"], t1)
        self.assertEqual(self.d.domstate(name), "running")
        snapxml = self.d.virsh("snapshot-dumpxml", name, "s1").stdout
        self.assertIn("<vmi:key secret=", snapxml)
        self.assertEqual(vp.key_leaks(key, snapxml), [])
        self.assertIn("s1", self.d.virsh("snapshot-list", name, "--name").stdout)
        tool.wait_for("ready", timeout=10 * vp.SLOW, conn=2)

        # save: the same unhook; no key in the image
        image = os.path.join(self.tmp.name, "snap.img")
        since = len(self.d.domain_log(name))
        r, t0, t1 = self.timed_vv("save", name, image)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Domain 'snap' saved to " + re.escape(image) +
                         r" after [0-9.]+ s \(the introspection tool's unhook first, at most "
                         r"60 s\)\n$")
        self.unhooked_before_pause(tool, 2, t1, since=since)
        self.assertEqual(self.d.domstate(name), "shut off")
        data = read_bytes(image)
        self.assertIn(b"<vmi:key secret=", data)
        self.assertIn(vp.key_path(vp.KEY_DIR, uuid).encode(), data)
        self.assertEqual(vp.key_leaks(key, data), [])

        # restore: the hook prepares the key, the tool hooks the new QEMU
        r, t0, t1 = self.timed_vv("restore", image)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Domain 'snap' restored from " + re.escape(image) +
                         r"\nDomain 'snap': the introspection tool hooked it again after "
                         r"[0-9.]+ s\n$")
        hooked = tool.wait_for("hooked", timeout=1, conn=3)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, name))
        self.assertLess(hooked["_t"], t1)
        self.assertIsNone(vp.key_file_state(self.d.host_path(vp.key_path(vp.KEY_DIR, uuid))))
        tool.wait_for("ready", timeout=10 * vp.SLOW, conn=3)

        # external snapshot: the same unhook; the memory goes out through a
        # migration, after which QEMU refuses the tool
        memory = os.path.join(self.tmp.name, "snap.mem")
        since = len(self.d.domain_log(name))
        r, t0, t1 = self.timed_vv("snapshot-create", name, "s2", "--external", memory)
        self.assertEqual(r.rc, 3, r)
        self.assertRegex(r.stdout, r"^Domain 'snap': snapshot 's2' created after [0-9.]+ s")
        self.assertRegex(r.stderr, r"error: the introspection tool did not hook domain 'snap' "
                         r"again within 4 s \(QEMU's chardev: disconnected:unix:" +
                         re.escape(sock) + r"\); a tool listens at the socket, but QEMU does "
                         r"not let it hook .*: the guest runs unmonitored\n")
        self.unhooked_before_pause(tool, 3, t1, since=since)
        self.assertIn("VMI: chr_event_open: too soon (suspend=0, migrate=1, shutdown=0)",
                      self.d.domain_log(name)[since:])
        self.assertEqual(tool.events("hooked", conn=4), [])
        self.assertEqual(self.d.domstate(name), "running")
        self.assertTrue(os.path.exists(memory))
        self.assertTrue(os.path.exists(os.path.join(self.tmp.name, "snap.s2")))
        self.assertEqual(vp.key_leaks(key, read_bytes(memory)), [])
        snapxml = self.d.virsh("snapshot-dumpxml", name, "s2").stdout
        self.assertIn("snapshot='external'", snapxml)
        self.assertEqual(vp.key_leaks(key, snapxml), [])

        # only a new QEMU lets the tool in again: save (nothing to unhook)
        # and restore, paused, then resume
        r = self.vv("save", name, image)
        self.assertEqual(r.rc, 0, r)
        r = self.vv("restore", image, "--paused")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout, f"Domain 'snap' restored from {image}, paused\n"
                         "Domain 'snap' is paused: the introspection tool hooks it once it "
                         "is resumed\n")
        self.assertEqual(self.d.domstate(name), "paused")
        self.assertEqual(self.vv("resume", name).rc, 0)
        hooked = tool.wait_for("hooked", timeout=10 * vp.SLOW, count=4)
        self.assertEqual((hooked["uuid"], hooked["name"]), (uuid, name))
        self.assertGreater(hooked["conn"], 3)
        self.assertEqual(vp.key_leaks(key, self.d.log_text(0)), [])

    def test_sigint_cancels_the_save(self):
        """Ctrl-C during the unhook wait of a save cancels libvirt's save
        job, as virsh does, rather than leave it running behind a command
        that is gone: libvirt cancels once QEMU answers the held `stop`,
        resumes the guest, and the tool hooks it again.

        libvirt's save thread keeps the job once the `stop` is answered and
        starts QEMU's migration to the file at once; the cancel comes in
        only while that migration runs. The image is a FIFO nobody reads
        until QEMU has announced "cancelling", so that the migration cannot
        end first, however slow this host or the wrapped programs are.
        libvirt writes the image through libvirt_iohelper, whose buffer
        (1 MiB) and pipe hold a 64 MiB guest's whole state (zero pages
        take 9 bytes each): the guest has 1 GiB (2.3 MiB of state at
        least), so QEMU's RAM pass blocks on the FIFO, outside the big
        lock, and QMP still answers the cancel."""
        name = "cancel"
        sock = os.path.join(self.tools, f"{name}.sock")
        self.d.define_domain(name, emulator=vp.domain_emulator(), memory_mib=1024,
                             metadata=vp.element(sock, reconnect=1, unhook=30))
        self.addCleanup(self.d.virsh, "undefine", name, check=False)
        self.addCleanup(self.d.virsh, "destroy", name, check=False)
        self.assertEqual(self.vv("sync", name).rc, 0)
        tool = vp.tool(self, sock, "--unhook-delay", "3000")
        self.d.virsh("start", name, timeout=60 * vp.SLOW)
        tool.wait_for("hooked", timeout=20 * vp.SLOW, conn=1)
        image = os.path.join(self.tmp.name, "cancel.fifo")
        os.mkfifo(image, 0o600)
        held = os.open(image, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, held)
        fcntl.fcntl(held, fcntl.F_SETPIPE_SZ, 4096)
        events = vc.QmpEvents(self.d, self, names=("MIGRATION",))
        cmd = vw.wrap_once(("virt-vmi", "save", "SIGINT"),
                           [vp.VIRT_VMI, "-c", self.d.uri, "save", name, image])
        p = self.d.popen_in_namespace(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        tool.wait_for("unhook", timeout=20 * vp.SLOW, conn=1)
        p.send_signal(signal.SIGINT)
        vp.wait_until(lambda: migration_ended_or_cancelling(events.data(name, "MIGRATION")),
                      60 * vp.SLOW, "QEMU's migration to the image cancelling")
        self.assertIn('"cancelling"', "".join(events.data(name, "MIGRATION")),
                      "QEMU's migration ended before the cancel: its state fit in the buffers "
                      "between QEMU and the FIFO")
        drained = threading.Event()
        threading.Thread(target=drain, args=(held, drained), daemon=True).start()
        self.addCleanup(drained.set)
        out, err = p.communicate(timeout=120 * vp.SLOW)
        err = vw.check_run(cmd, p.returncode, err)
        self.assertEqual(p.returncode, 7, (out, err))
        self.assertRegex(err, r"^error: save of domain 'cancel' cancelled \(SIGINT\): cannot "
                              r"save domain 'cancel' to .*canceled by client\n$")
        self.assertRegex(out, r"^Domain 'cancel': the introspection tool hooked it again "
                              r"after [0-9.]+ s\n$")
        self.assertEqual(tool.wait_for("closed", conn=1)["reason"], "unhook")
        tool.wait_for("hooked", timeout=1, conn=2)
        self.assertEqual(self.d.domstate(name), "running")
        self.assertRegex(self.d.virsh("domjobinfo", name).stdout, r"Job type: +None")
        self.assertIn('"cancelled"', events.data(name, "MIGRATION")[-1])


def migration_ended_or_cancelling(data):
    """Whether QEMU's MIGRATION events (their data) reached "cancelling",
    or an end: a test waiting for the cancel then fails at once."""
    return any(f'"{status}"' in d for d in data
               for status in ("cancelling", "completed", "failed", "cancelled"))


def drain(fd, done):
    """Reads and drops what comes through @fd (non-blocking) until @done."""
    while not done.is_set():
        select.select([fd], [], [], 0.1)
        try:
            os.read(fd, 65536)
        except BlockingIOError:
            pass


def tearDownModule():
    vp.print_times()


if __name__ == "__main__":
    vp.skip_unless_ready()
    unittest.main(verbosity=2)
