/*
 * emu_e820.h: the guest's e820 map, as QEMU 7.2 builds it
 *
 * QEMU does not show its e820 table over QMP, so it is rebuilt from what
 * QMP does show, the way QEMU fills it: RAM below 4 GiB and above (the
 * ram-below-4g / ram-above-4g aliases of `info mtree`), the KVM identity
 * map and TSS pages (kvm_arch_init), and the AMD HyperTransport hole on
 * 7.1+ machine types with an AMD vCPU of 40+ physical address bits.
 * SGX EPC sections are not added.
 */
#pragma once

#include <glib.h>

typedef struct {
    char *mtree;            /* HMP "info mtree" */
    gboolean kvm;
    char *machineType;      /* QOM type: "pc-q35-7.2-machine" */
    char *cpuVendor;        /* "AuthenticAMD" ... or NULL */
    guint physBits;
} emuE820Input;

/* kvmiWireE820Entry, in QEMU's table order */
GArray *emuE820Build(const emuE820Input *in);
