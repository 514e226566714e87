/*
 * vmi_sync.c: write a definition into a domain XML document
 *
 * The element goes into <metadata>; the arguments it generates go into
 * <qemu:commandline>, where ours are recognised by their ids and replaced,
 * and everything the user put there (qemu:arg, qemu:env) is kept as it
 * is. All of it happens on one document, which the caller defines with
 * one virDomainDefineXML: a definition is never half-written.
 */
#include <string.h>

#include "core/vmi_sync.h"
#include "conf/vmi_error.h"
#include "core/qemu_vmi.h"

/* changes an out-of-step error names */
#define VMI_SYNC_CHANGES_SHOWN 4


typedef struct {
    xmlNodePtr option;      /* <qemu:arg value='-object'/> */
    xmlNodePtr value;       /* <qemu:arg value='introspection,...'/> */
} vmiArgPair;


static xmlNodePtr
vmiSyncFindCommandline(xmlNodePtr root)
{
    xmlNodePtr cur;

    for (cur = root->children; cur; cur = cur->next) {
        if (vmiXMLNodeIs(cur, VMI_QEMU_NAMESPACE_URI, "commandline"))
            return cur;
    }
    return NULL;
}


static char *
vmiSyncArgValue(xmlNodePtr node)
{
    if (!vmiXMLNodeIs(node, VMI_QEMU_NAMESPACE_URI, "arg"))
        return NULL;
    return vmiXMLGetAttr(node, "value");
}


static xmlNodePtr
vmiSyncNextArg(xmlNodePtr node)
{
    for (node = node->next; node; node = node->next) {
        if (vmiXMLNodeIs(node, VMI_QEMU_NAMESPACE_URI, "arg"))
            return node;
    }
    return NULL;
}


/*
 * Our option/value pairs in @cmdline, in order. With @addingOurs, a
 * hand-written introspection object is refused: QEMU allows one. A
 * domain without the element may have one: it is left alone.
 */
static gboolean
vmiSyncFindOurArgs(xmlNodePtr cmdline, GArray *pairs, gboolean addingOurs,
                   GError **error)
{
    xmlNodePtr cur;

    for (cur = cmdline ? cmdline->children : NULL; cur; cur = cur->next) {
        g_autofree char *option = vmiSyncArgValue(cur);
        g_autofree char *value = NULL;
        xmlNodePtr next;

        if (!option && vmiXMLNodeIs(cur, VMI_QEMU_NAMESPACE_URI, "arg")) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "the domain's <qemu:commandline> has a <qemu:arg> without "
                        "attribute 'value': libvirt refuses it too");
            return FALSE;
        }
        if (!option || !(next = vmiSyncNextArg(cur)) ||
            !(value = vmiSyncArgValue(next)))
            continue;   /* an <arg> without value is refused at its turn */

        if (vmiQemuArgIsOurs(option, value)) {
            vmiArgPair pair = { cur, next };
            g_array_append_val(pairs, pair);
            cur = next;
        } else if (addingOurs && g_str_equal(option, "-object") &&
                   g_str_has_prefix(value, "introspection,")) {
            g_autofree char *quoted = vmiErrorQuote(value);
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "the domain's <qemu:commandline> already has an introspection object "
                        "not managed by libvirt-vmi ('%s'): QEMU allows only one; remove it "
                        "and its -chardev (virsh edit) and describe it with <vmi:introspection>",
                        quoted);
            return FALSE;
        }
    }
    return TRUE;
}


static gboolean
vmiSyncArgsEqual(GArray *pairs, GStrv args)
{
    guint i;

    if (pairs->len * 2 != g_strv_length(args))
        return FALSE;
    for (i = 0; i < pairs->len; i++) {
        vmiArgPair *pair = &g_array_index(pairs, vmiArgPair, i);
        g_autofree char *option = vmiSyncArgValue(pair->option);
        g_autofree char *value = vmiSyncArgValue(pair->value);

        if (!g_str_equal(option, args[2 * i]) || !g_str_equal(value, args[2 * i + 1]))
            return FALSE;
    }
    return TRUE;
}


/* The namespace libvirt formats as xmlns:qemu on <domain>. */
static xmlNsPtr
vmiSyncQemuNamespace(xmlNodePtr root)
{
    xmlNsPtr ns = xmlSearchNsByHref(root->doc, root, BAD_CAST VMI_QEMU_NAMESPACE_URI);

    if (ns)
        return ns;
    if (!xmlSearchNs(root->doc, root, BAD_CAST "qemu"))
        return xmlNewNs(root, BAD_CAST VMI_QEMU_NAMESPACE_URI, BAD_CAST "qemu");
    return xmlNewNs(root, BAD_CAST VMI_QEMU_NAMESPACE_URI, BAD_CAST "vmiqemu");
}


/*
 * The document is re-indented as a whole when it is formatted (libvirt
 * re-formats it on define anyway), so the whitespace between elements
 * goes: nodes can then be added and removed without tending it.
 */
static void
vmiSyncDropBlanks(xmlNodePtr node)
{
    xmlNodePtr cur = node->children;

    while (cur) {
        xmlNodePtr next = cur->next;

        if (cur->type == XML_TEXT_NODE && xmlIsBlankNode(cur)) {
            xmlUnlinkNode(cur);
            xmlFreeNode(cur);
        } else if (cur->type == XML_ELEMENT_NODE) {
            vmiSyncDropBlanks(cur);
        }
        cur = next;
    }
}


static void
vmiSyncRemoveNode(xmlNodePtr node)
{
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}


/* Drops @node when removing our children left nothing in it. */
static void
vmiSyncRemoveIfEmpty(xmlNodePtr node)
{
    if (!node->children)
        vmiSyncRemoveNode(node);
}


static gboolean
vmiSyncCommandline(xmlNodePtr root, GStrv args, GPtrArray *changes, GError **error)
{
    xmlNodePtr cmdline = vmiSyncFindCommandline(root);
    g_autoptr(GArray) pairs = g_array_new(FALSE, FALSE, sizeof(vmiArgPair));
    g_autoptr(GPtrArray) old = g_ptr_array_new_with_free_func(g_free);
    guint before = changes->len;
    guint i;

    if (!vmiSyncFindOurArgs(cmdline, pairs, args[0] != NULL, error))
        return FALSE;
    if (vmiSyncArgsEqual(pairs, args))
        return TRUE;

    /* Removing a pair of ours can make its two neighbours one that looks
     * like ours (an '-object' before our -chardev pair, a
     * 'secret,id=vmi0-key,...' after it): scanned again until none is
     * left, or the next sync would find more to change. */
    while (pairs->len) {
        /* Report what differs; unchanged arguments are replaced silently. */
        for (i = 0; i < pairs->len; i++) {
            vmiArgPair *pair = &g_array_index(pairs, vmiArgPair, i);
            g_autofree char *value = vmiSyncArgValue(pair->value);

            if (!g_strv_contains((const char *const *)args, value))
                g_ptr_array_add(changes, g_strdup_printf("removed <qemu:arg> %s", value));
            g_ptr_array_add(old, g_steal_pointer(&value));
            vmiSyncRemoveNode(pair->option);
            vmiSyncRemoveNode(pair->value);
        }
        g_array_set_size(pairs, 0);
        if (!vmiSyncFindOurArgs(cmdline, pairs, args[0] != NULL, error))
            return FALSE;
    }

    if (args[0] && !cmdline)
        cmdline = xmlNewChild(root, vmiSyncQemuNamespace(root), BAD_CAST "commandline", NULL);
    for (i = 0; args[i]; i++) {
        xmlNodePtr arg = xmlNewChild(cmdline, cmdline->ns, BAD_CAST "arg", NULL);

        xmlNewProp(arg, BAD_CAST "value", BAD_CAST args[i]);
        if (i % 2 && !g_ptr_array_find_with_equal_func(old, args[i], g_str_equal, NULL))
            g_ptr_array_add(changes, g_strdup_printf("added <qemu:arg> %s", args[i]));
    }
    if (changes->len == before)
        g_ptr_array_add(changes, g_strdup("reordered <qemu:arg> entries"));
    if (cmdline)
        vmiSyncRemoveIfEmpty(cmdline);
    return TRUE;
}


static void
vmiSyncElement(vmiDomainXML *dom, const vmiDef *def, GPtrArray *changes)
{
    xmlNodePtr metadata;
    xmlNodePtr node;

    if (dom->vmi) {
        g_autoptr(GError) err = NULL;
        g_autoptr(vmiDef) current = vmiDefParseNode(dom->vmi, &err);

        if (current && def && vmiDefEqual(current, def))
            return;
    }

    if (!def) {
        if (!dom->vmi)
            return;
        vmiSyncRemoveNode(dom->vmi);
        dom->vmi = NULL;
        g_ptr_array_add(changes, g_strdup("removed <vmi:introspection> from <metadata>"));
        if ((metadata = vmiDomainXMLGetMetadata(dom)))
            vmiSyncRemoveIfEmpty(metadata);
        return;
    }

    node = vmiDefFormatNode(def);
    if (dom->vmi) {
        /* in place: the user's order of <metadata> children is kept */
        xmlReplaceNode(dom->vmi, node);
        xmlFreeNode(dom->vmi);
        g_ptr_array_add(changes, g_strdup("replaced <vmi:introspection> in <metadata>"));
    } else {
        if (!(metadata = vmiDomainXMLGetMetadata(dom)))
            metadata = xmlNewChild(xmlDocGetRootElement(dom->doc), NULL,
                                   BAD_CAST "metadata", NULL);
        xmlAddChild(metadata, node);
        g_ptr_array_add(changes, g_strdup("added <vmi:introspection> to <metadata>"));
    }
    dom->vmi = node;
}


/*
 * Makes @dom carry @def (NULL: no introspection) and exactly the
 * arguments it generates. Appends a line per change to @changes; an
 * unchanged document means nothing to define.
 */
gboolean
vmiSyncDomain(vmiDomainXML *dom, const vmiDef *def, const char *keyDir,
              GPtrArray *changes, GError **error)
{
    xmlNodePtr root = xmlDocGetRootElement(dom->doc);
    g_auto(GStrv) args = NULL;

    if (dom->bare) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "expected a domain XML, not a bare <vmi:introspection> element");
        return FALSE;
    }
    if (def) {
        if (!dom->uuid || !g_uuid_string_is_valid(dom->uuid)) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "the domain XML has no valid <uuid>: it names the key file");
            return FALSE;
        }
        args = vmiQemuBuildArgs(def, dom->uuid, keyDir);
    } else {
        args = g_new0(char *, 1);
    }

    vmiSyncDropBlanks(root);
    if (!vmiSyncCommandline(root, args, changes, error))
        return FALSE;
    vmiSyncElement(dom, def, changes);
    return TRUE;
}


/*
 * Whether @dom's arguments are those @def generates. A start with stale
 * ones would run QEMU with something else than the element says.
 */
gboolean
vmiSyncCheck(vmiDomainXML *dom, const vmiDef *def, const char *keyDir,
             const char *display, GError **error)
{
    g_autoptr(vmiDomainXML) copy = vmiDomainXMLNew(xmlCopyDoc(dom->doc, 1), display, error);
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *list = NULL;
    g_autofree char *more = NULL;
    guint total;

    if (!copy || !vmiSyncDomain(copy, def, keyDir, changes, error))
        return FALSE;
    if (!changes->len)
        return TRUE;
    /* a few of them: a definition with hundreds of stray arguments must not
     * make an error message of hundreds of lines */
    total = changes->len;
    if (total > VMI_SYNC_CHANGES_SHOWN)
        g_ptr_array_set_size(changes, VMI_SYNC_CHANGES_SHOWN);
    g_ptr_array_add(changes, NULL);
    list = g_strjoinv("; ", (char **)changes->pdata);
    if (total > VMI_SYNC_CHANGES_SHOWN)
        more = g_strdup_printf("; and %u more", total - VMI_SYNC_CHANGES_SHOWN);
    g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                "its <qemu:commandline> is out of step with its <vmi:introspection> "
                "(changed behind libvirt-vmi's back?): 'virt-vmi sync %s' fixes it (%s%s)",
                display, list, more ? more : "");
    return FALSE;
}


/*
 * Whether @dom's <qemu:commandline> carries any argument of ours. A
 * hand-written introspection object beside the element counts as one:
 * such a definition is never taken for a fresh one.
 */
gboolean
vmiSyncHasArgs(vmiDomainXML *dom)
{
    xmlNodePtr cmdline = vmiSyncFindCommandline(xmlDocGetRootElement(dom->doc));
    g_autoptr(GArray) pairs = g_array_new(FALSE, FALSE, sizeof(vmiArgPair));

    if (!vmiSyncFindOurArgs(cmdline, pairs, TRUE, NULL))
        return TRUE;
    return pairs->len > 0;
}
