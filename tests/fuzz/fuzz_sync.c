/*
 * fuzz_sync: the domain-XML sync and its check (src/core/vmi_sync.c)
 *
 * The input is a domain XML. It is synced three ways: with its own
 * element (virt-vmi sync), with none (virt-vmi remove) and with a fixed
 * one (virt-vmi set). A sync that succeeds leaves a document that a
 * second sync does not change and the check passes, also after a round
 * through its text (as libvirt stores it), with the element it was given.
 */
#include <string.h>

#include "fuzz_common.h"
#include "conf/vmi_domain_xml.h"
#include "core/vmi_sync.h"

static vmiDef *fixedDef;

static const char fixedXML[] =
    "<vmi:introspection xmlns:vmi='" VMI_NAMESPACE_URI "'>"
    "<vmi:source type='unix' path='/run/vmi,tool.sock'/>"
    "<vmi:reconnect timeout='5'/>"
    "<vmi:key secret='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>"
    "<vmi:allow><vmi:command name='vm-get-info'/><vmi:event name='unhook'/></vmi:allow>"
    "</vmi:introspection>";


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(GError) err = NULL;

    fuzzInit();
    if (!(fixedDef = vmiDefParseString(fixedXML, &err)))
        g_error("fuzz_sync: the fixed element: %s", err->message);
    return 0;
}


static void
syncOnce(const char *xml, int mode)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) dom = vmiDomainXMLParseString(xml, "fuzz", &err);
    g_autoptr(vmiDomainXML) reread = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) more = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(vmiDef) own = NULL;
    g_autoptr(vmiDef) back = NULL;
    g_autofree char *text = NULL;
    const char *keyDir = mode == 2 ? "/run/vmi,keys" : NULL;
    const vmiDef *def = NULL;

    if (!dom) {
        fuzzCheckError(err, "parsing the domain XML");
        return;
    }
    if (mode == 0) {
        if (!dom->vmi)
            return;
        if (!(own = vmiDomainXMLGetDef(dom, &err))) {
            fuzzCheckError(err, "parsing the domain's element");
            return;
        }
        def = own;
    } else if (mode == 2) {
        def = fixedDef;
    }

    if (!vmiSyncDomain(dom, def, keyDir, changes, &err)) {
        fuzzCheckError(err, "syncing");
        g_assert_true(dom->bare || err != NULL);
        return;
    }
    g_assert_false(dom->bare);

    /* sync twice = no change */
    if (!vmiSyncDomain(dom, def, keyDir, more, &err))
        g_error("mode %d: the second sync fails: %s", mode, err->message);
    if (more->len) {
        g_ptr_array_add(more, NULL);
        g_error("mode %d: the second sync changes: %s", mode,
                g_strjoinv("; ", (char **)more->pdata));
    }
    if (!vmiSyncCheck(dom, def, keyDir, "fuzz", &err))
        g_error("mode %d: the check after a sync fails: %s", mode, err->message);
    g_assert_true(def ? dom->vmi != NULL : dom->vmi == NULL);

    /* what libvirt would store, read back */
    text = vmiXMLNodeToString(xmlDocGetRootElement(dom->doc));
    if (!(reread = vmiDomainXMLParseString(text, "fuzz", &err)))
        g_error("mode %d: the synced document does not parse: %s\n%s", mode,
                err->message, text);
    if (!vmiSyncCheck(reread, def, keyDir, "fuzz", &err))
        g_error("mode %d: the check on the synced text fails: %s\n%s", mode,
                err->message, text);
    if (def) {
        if (!(back = vmiDomainXMLGetDef(reread, &err)))
            g_error("mode %d: the synced element does not parse: %s", mode, err->message);
        g_assert_true(vmiDefEqual(def, back));
    } else {
        g_assert_null(reread->vmi);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = fuzzString(data, size);
    int mode;

    for (mode = 0; mode < 3; mode++)
        syncOnce(xml, mode);
    return 0;
}
