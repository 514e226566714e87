/*
 * emu_relay.h: the process beside QEMU
 *
 * Forked before the real QEMU is executed in the original process, it
 * runs the QMP proxy, the introspection object and the emulated KVMI
 * kernel in one GLib main loop, and ends when QEMU does.
 */
#pragma once

#include "emu_cmdline.h"

/* Closes every inherited fd it does not need (QEMU's tap fds and the
 * like must not be kept open). */
void emuRelayCloseOtherFds(emuCmdline *cmd, int privateFd);
int emuRelayRun(emuCmdline *cmd, int privateFd, pid_t qemuPid);
