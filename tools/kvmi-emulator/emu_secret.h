/*
 * emu_secret.h: the `secret` objects the introspection object's key= names
 *
 * The secret objects stay with QEMU (they are valid in 7.2); the emulator
 * remembers their properties, from the command line and from QMP
 * object-add, so that it can read the key as QEMU's qcrypto_secret_lookup()
 * would: data= or file=, format=raw or base64.
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_tree.h>

#include "emu_opts.h"

typedef struct {
    char *id;
    char *data;
    char *file;
    char *format;       /* NULL: raw */
    char *keyid;        /* encrypted with another secret: not emulated */
    GBytes *value;      /* read when the object is created, as QEMU does */
    GError *loadError;  /* or why it could not be */
} emuSecret;

void emuSecretsAddOpts(const emuOpts *opts);
void emuSecretsAddJson(yajl_val obj);
void emuSecretsRemove(const char *id);
const emuSecret *emuSecretsLookup(const char *id);
void emuSecretsClear(void);

/* The secret's value, as QEMU loaded it when the object was created: the
 * file may be gone since (libvirt-vmi removes it once QEMU has started). */
GBytes *emuSecretLoad(const emuSecret *secret, GError **error);
