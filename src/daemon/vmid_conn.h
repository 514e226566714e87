/*
 * vmid_conn.h: one libvirt connection of virt-vmid, and the domains it
 * keeps in step
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_gen.h>

typedef struct _vmidConn vmidConn;

/* Connects now, and again with backoff whenever libvirt goes away. */
vmidConn *vmidConnNew(const char *uri);
void vmidConnFree(vmidConn *vc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmidConn, vmidConnFree)

/* The connection, as a JSON object into the open array of @gen. */
void vmidConnDescribeSelf(vmidConn *vc, yajl_gen gen);

/* Each domain carrying the element, as a JSON object into the open array
 * of @gen (the fields are documented in docs/virt-vmid.rst). */
void vmidConnDescribe(vmidConn *vc, yajl_gen gen);
