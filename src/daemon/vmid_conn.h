/*
 * vmid_conn.h: one libvirt connection of virt-vmid, and the domains it
 * keeps in step
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_gen.h>

#include "core/vmi_key.h"

typedef struct _vmidConn vmidConn;

/* Called whenever what vmidConnDescribeDomain says of @uuid may have changed. */
typedef void (*vmidConnChangeFunc)(vmidConn *vc, const char *uuid, gpointer opaque);

/* Connects now, and again with backoff whenever libvirt goes away. */
vmidConn *vmidConnNew(const char *uri);
void vmidConnFree(vmidConn *vc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmidConn, vmidConnFree)

/* The connection, as a JSON object into the open array of @gen. */
void vmidConnDescribeSelf(vmidConn *vc, yajl_gen gen);

/* Each domain carrying the element, as a JSON object into the open array
 * of @gen (the fields are documented in docs/virt-vmid.rst). */
void vmidConnDescribe(vmidConn *vc, yajl_gen gen);

/* Domain @uuid, as one JSON object into @gen; FALSE if it has no element. */
gboolean vmidConnDescribeDomain(vmidConn *vc, const char *uuid, yajl_gen gen);

void vmidConnSetChangeFunc(vmidConn *vc, vmidConnChangeFunc func, gpointer opaque);

const char *vmidConnGetURI(vmidConn *vc);

/* Whether a pause or resume of a required domain is under way (in a
 * thread): the connection is freed only once it is over. */
gboolean vmidConnBusy(vmidConn *vc);

/* The value of key secret @secretUUID, for the hook. */
/* The hook's attach-at-start: FALSE when not connected to libvirt. */
gboolean vmidConnExpectAttach(vmidConn *vc, const char *uuid, GError **error);

vmiKey *vmidConnGetKey(vmidConn *vc, const char *secretUUID, GError **error);
