/*
 * vmi_conf.c: parse, validate and format <vmi:introspection>
 */
#include <string.h>

#include "vmi_conf.h"
#include "vmi_error.h"
#include "vmi_kvmi.h"

VMI_ENUM_IMPL(vmiSourceType, VMI_SOURCE_LAST,
              "unix",
              "vsock");

const vmiRange vmiRangeTimeout = { 1, 3600, "seconds" };
/* 0 is the hypervisor's and -1 is VMADDR_CID_ANY / VMADDR_PORT_ANY */
const vmiRange vmiRangeVsockCid = { 1, G_MAXUINT32 - 1, NULL };
const vmiRange vmiRangeVsockPort = { 0, G_MAXUINT32 - 1, NULL };

const vmiAttrInfo vmiAttrs[VMI_ATTR_LAST] = {
    [VMI_ATTR_SOURCE_CID] = { "source", "cid", "vsockCid", &vmiRangeVsockCid, 0 },
    [VMI_ATTR_SOURCE_PORT] = { "source", "port", "vsockPort", &vmiRangeVsockPort, 0 },
    [VMI_ATTR_RECONNECT_TIMEOUT] = { "reconnect", "timeout", "seconds", &vmiRangeTimeout, 10 },
    [VMI_ATTR_TIMEOUTS_HANDSHAKE] = { "timeouts", "handshake", "seconds", &vmiRangeTimeout, 10 },
    [VMI_ATTR_TIMEOUTS_UNHOOK] = { "timeouts", "unhook", "seconds", &vmiRangeTimeout, 60 },
    [VMI_ATTR_REQUIRED] = { "introspection", "required", "yesNo", NULL, 0, VMI_ATTR_KIND_YES_NO },
};


const char *
vmiYesNoToString(gboolean value)
{
    return value ? "yes" : "no";
}


int
vmiYesNoFromString(const char *str)
{
    if (g_strcmp0(str, "yes") == 0)
        return 1;
    if (g_strcmp0(str, "no") == 0)
        return 0;
    return -1;
}


vmiDef *
vmiDefNew(void)
{
    return g_new0(vmiDef, 1);
}


vmiDef *
vmiDefCopy(const vmiDef *def)
{
    vmiDef *copy = g_memdup2(def, sizeof(*def));

    copy->source.path = g_strdup(def->source.path);
    copy->keySecret = g_strdup(def->keySecret);
    return copy;
}


void
vmiDefFree(vmiDef *def)
{
    if (!def)
        return;
    g_free(def->source.path);
    g_free(def->keySecret);
    g_free(def);
}


static gboolean
vmiCheckRange(guint64 value, const vmiRange *range, const char *attr,
              const char *elem, GError **error)
{
    g_autofree char *str = NULL;
    g_autofree char *expected = NULL;

    if (value >= range->min && value <= range->max)
        return TRUE;
    str = g_strdup_printf("%" G_GUINT64_FORMAT, value);
    expected = vmiRangeDescribe(range);
    vmiXMLSetInvalidValue(error, str, attr, elem, expected);
    return FALSE;
}


/* ---- <vmi:source> ---- */

static gboolean
vmiSourceDefValidate(const vmiSourceDef *src, GError **error)
{
    const char *p;

    switch (src->type) {
    case VMI_SOURCE_UNIX:
        if (!src->path) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "missing attribute 'path' of element 'source'");
            return FALSE;
        }
        if (!g_path_is_absolute(src->path)) {
            vmiXMLSetInvalidValue(error, src->path, "path", "source",
                               "an absolute path");
            return FALSE;
        }
        if (strlen(src->path) > VMI_UNIX_PATH_MAX) {
            g_autofree char *expected =
                g_strdup_printf("at most %d bytes (a unix socket path), not %zu",
                                VMI_UNIX_PATH_MAX, strlen(src->path));
            vmiXMLSetInvalidValue(error, src->path, "path", "source", expected);
            return FALSE;
        }
        /* The element is XML: a path from an option must be UTF-8 too. */
        if (!g_utf8_validate(src->path, -1, NULL)) {
            g_autofree char *escaped = g_strescape(src->path, NULL);
            vmiXMLSetInvalidValue(error, escaped, "path", "source", "a path in UTF-8");
            return FALSE;
        }
        for (p = src->path; *p; p = g_utf8_next_char(p)) {
            /* They would break every line-based view of the arguments;
             * C1 controls (U+0085 is a line end to some) included, as
             * the schema's \p{Cc} has them. */
            if (g_unichar_iscntrl(g_utf8_get_char(p))) {
                g_autofree char *escaped = g_strescape(src->path, NULL);
                vmiXMLSetInvalidValue(error, escaped, "path", "source",
                                   "a path without control characters");
                return FALSE;
            }
        }
        return TRUE;

    case VMI_SOURCE_VSOCK:
        return vmiCheckRange(src->cid, &vmiRangeVsockCid, "cid", "source", error) &&
               vmiCheckRange(src->port, &vmiRangeVsockPort, "port", "source", error);

    case VMI_SOURCE_LAST:
    default:
        break;
    }
    g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                "invalid source type %d", src->type);
    return FALSE;
}


static gboolean
vmiSourceDefParse(xmlNodePtr node, vmiDef *def, GError **error)
{
    static const char *const unixAttrs[] = { "type", "path", NULL };
    static const char *const vsockAttrs[] = { "type", "cid", "port", NULL };
    g_autofree char *type = NULL;
    vmiSourceDef *src = &def->source;
    gboolean found;
    guint64 val;
    int t;

    if (!(type = vmiXMLGetRequiredAttr(node, "type", error)))
        return FALSE;
    if ((t = vmiSourceTypeFromString(type)) < 0) {
        vmiXMLSetInvalidValue(error, type, "type", "source", "unix or vsock");
        return FALSE;
    }
    src->type = t;

    if (!vmiXMLCheckAttributes(node, t == VMI_SOURCE_UNIX ? unixAttrs : vsockAttrs,
                               error) ||
        !vmiXMLCheckNoContent(node, error))
        return FALSE;

    if (src->type == VMI_SOURCE_UNIX)
        return (src->path = vmiXMLGetRequiredAttr(node, "path", error)) != NULL;

    if (!vmiXMLGetUInt(node, "cid", &vmiRangeVsockCid, &found, &val, error))
        return FALSE;
    if (!found)
        return !!vmiXMLGetRequiredAttr(node, "cid", error);
    src->cid = val;
    if (!vmiXMLGetUInt(node, "port", &vmiRangeVsockPort, &found, &val, error))
        return FALSE;
    if (!found)
        return !!vmiXMLGetRequiredAttr(node, "port", error);
    src->port = val;
    return TRUE;
}


/* ---- <vmi:reconnect>, <vmi:key>, <vmi:timeouts> ---- */

static gboolean
vmiDefParseTimeout(xmlNodePtr node, const char *attr, gboolean required,
                   guint *out, GError **error)
{
    gboolean found;
    guint64 val;

    if (!vmiXMLGetUInt(node, attr, &vmiRangeTimeout, &found, &val, error))
        return FALSE;
    if (found)
        *out = val;
    else if (required)
        return !!vmiXMLGetRequiredAttr(node, attr, error);
    return TRUE;
}


static gboolean
vmiDefParseReconnect(xmlNodePtr node, vmiDef *def, GError **error)
{
    static const char *const attrs[] = { "timeout", NULL };

    return vmiXMLCheckAttributes(node, attrs, error) &&
           vmiXMLCheckNoContent(node, error) &&
           vmiDefParseTimeout(node, "timeout", TRUE, &def->reconnect, error);
}


static gboolean
vmiDefParseKey(xmlNodePtr node, vmiDef *def, GError **error)
{
    static const char *const attrs[] = { "secret", NULL };

    return vmiXMLCheckAttributes(node, attrs, error) &&
           vmiXMLCheckNoContent(node, error) &&
           (def->keySecret = vmiXMLGetRequiredAttr(node, "secret", error));
}


static gboolean
vmiDefParseTimeouts(xmlNodePtr node, vmiDef *def, GError **error)
{
    static const char *const attrs[] = { "handshake", "unhook", NULL };

    return vmiXMLCheckAttributes(node, attrs, error) &&
           vmiXMLCheckNoContent(node, error) &&
           vmiDefParseTimeout(node, "handshake", FALSE, &def->handshakeTimeout, error) &&
           vmiDefParseTimeout(node, "unhook", FALSE, &def->unhookTimeout, error);
}


/* ---- <vmi:allow> ---- */

static gboolean
vmiDefAddAllowed(guint64 *bitmap, const vmiKvmiTable *table, guint id,
                 GError **error)
{
    if (*bitmap & (G_GUINT64_CONSTANT(1) << id)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "duplicate %s '%s' (id %u) in element 'allow'",
                    table->kind, vmiKvmiTableName(table, id), id);
        return FALSE;
    }
    *bitmap |= G_GUINT64_CONSTANT(1) << id;
    return TRUE;
}


static gboolean
vmiDefParseAllowEntry(xmlNodePtr node, const vmiKvmiTable *table,
                      guint64 *bitmap, GError **error)
{
    static const char *const attrs[] = { "name", "id", NULL };
    g_autofree char *name = NULL;
    g_autofree char *idstr = NULL;
    guint64 id;

    if (!vmiXMLCheckAttributes(node, attrs, error) ||
        !vmiXMLCheckNoContent(node, error))
        return FALSE;

    name = vmiXMLGetAttr(node, "name");
    idstr = vmiXMLGetAttr(node, "id");
    if (!name == !idstr) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "element '%s' needs exactly one of attribute 'name' or 'id'",
                    table->kind);
        return FALSE;
    }

    if (name) {
        gint64 found = vmiKvmiTableLookup(table, name);
        if (found < 0) {
            g_autofree char *names = vmiKvmiTableNameList(table, ", ");
            g_autofree char *expected = g_strdup_printf("one of %s", names);
            vmiXMLSetInvalidValue(error, name, "name", table->kind, expected);
            return FALSE;
        }
        id = found;
    } else {
        vmiRange range = { table->first, table->last, NULL };
        if (!vmiRangeParse(idstr, &range, &id)) {
            g_autofree char *expected =
                g_strdup_printf("a KVMI v8 %s id, %u to %u",
                                table->kind, table->first, table->last);
            vmiXMLSetInvalidValue(error, idstr, "id", table->kind, expected);
            return FALSE;
        }
    }
    return vmiDefAddAllowed(bitmap, table, id, error);
}


static gboolean
vmiDefParseAllow(xmlNodePtr node, vmiDef *def, GError **error)
{
    static const char *const attrs[] = { NULL };
    xmlNodePtr cur;

    if (!vmiXMLCheckAttributes(node, attrs, error))
        return FALSE;

    for (cur = node->children; cur; cur = cur->next) {
        if (cur->type == XML_COMMENT_NODE || cur->type == XML_PI_NODE ||
            (cur->type == XML_TEXT_NODE && xmlIsBlankNode(cur)))
            continue;
        if (vmiXMLNodeIs(cur, VMI_NAMESPACE_URI, "command")) {
            if (!vmiDefParseAllowEntry(cur, &vmiKvmiCommands, &def->commands, error))
                return FALSE;
        } else if (vmiXMLNodeIs(cur, VMI_NAMESPACE_URI, "event")) {
            if (!vmiDefParseAllowEntry(cur, &vmiKvmiEvents, &def->events, error))
                return FALSE;
        } else {
            g_autofree char *quoted = vmiErrorQuote(cur->type == XML_ELEMENT_NODE ?
                                                    (const char *)cur->name : "text");
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "unexpected %s '%s' in element 'allow': expected <vmi:command> or <vmi:event>",
                        cur->type == XML_ELEMENT_NODE ? "element" : "content", quoted);
            return FALSE;
        }
    }

    if (!def->commands && !def->events) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "element 'allow' is empty: expected at least one <vmi:command> or <vmi:event> "
                    "(leave 'allow' out to allow everything)");
        return FALSE;
    }
    return TRUE;
}


/* ---- <vmi:introspection> ---- */

typedef gboolean (*vmiDefChildParser)(xmlNodePtr node, vmiDef *def, GError **error);

static const struct {
    const char *name;
    vmiDefChildParser parse;
} vmiDefChildren[] = {
    { "source", vmiSourceDefParse },
    { "reconnect", vmiDefParseReconnect },
    { "key", vmiDefParseKey },
    { "timeouts", vmiDefParseTimeouts },
    { "allow", vmiDefParseAllow },
};


static gboolean
vmiDefCheckChildNamespace(xmlNodePtr node, GError **error)
{
    g_autofree char *quoted = NULL;

    if (node->ns && node->ns->href &&
        g_str_equal((const char *)node->ns->href, VMI_NAMESPACE_URI))
        return TRUE;

    /* The usual slip: children without the prefix. libvirt would even
     * drop them from <metadata>, so say how to write it. */
    quoted = vmiErrorQuote((const char *)node->name);
    g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                "element '%s' in element 'introspection' is not in namespace '%s': "
                "write it as <vmi:%s>",
                quoted, VMI_NAMESPACE_URI, quoted);
    return FALSE;
}


static gboolean
vmiDefParseChild(xmlNodePtr node, vmiDef *def, guint *seen, GError **error)
{
    size_t i;

    if (node->type != XML_ELEMENT_NODE) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "unexpected content in element 'introspection': it takes elements only");
        return FALSE;
    }
    if (!vmiDefCheckChildNamespace(node, error))
        return FALSE;

    for (i = 0; i < G_N_ELEMENTS(vmiDefChildren); i++) {
        if (!g_str_equal((const char *)node->name, vmiDefChildren[i].name))
            continue;
        if (*seen & (1u << i)) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "duplicate element '%s' in element 'introspection': it may appear once",
                        node->name);
            return FALSE;
        }
        *seen |= 1u << i;
        return vmiDefChildren[i].parse(node, def, error);
    }

    {
        g_autofree char *quoted = vmiErrorQuote((const char *)node->name);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "unexpected element '%s' in element 'introspection': "
                    "expected source, reconnect, key, timeouts or allow",
                    quoted);
    }
    return FALSE;
}


vmiDef *
vmiDefParseNode(xmlNodePtr node, GError **error)
{
    static const char *const attrs[] = { "required", NULL };
    g_autoptr(vmiDef) def = vmiDefNew();
    g_autofree char *required = NULL;
    guint seen = 0;
    xmlNodePtr cur;

    if (!vmiXMLNodeIs(node, VMI_NAMESPACE_URI, VMI_ELEMENT)) {
        g_autofree char *qname = vmiErrorQuote((const char *)node->name);
        g_autofree char *qns = vmiErrorQuote(node->ns && node->ns->href ?
                                             (const char *)node->ns->href : "");
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "expected element 'introspection' in namespace '%s', found '%s'%s%s%s",
                    VMI_NAMESPACE_URI, qname,
                    node->ns && node->ns->href ? " in namespace '" : " in no namespace",
                    qns, node->ns && node->ns->href ? "'" : "");
        return NULL;
    }
    if (!vmiXMLCheckAttributes(node, attrs, error))
        return NULL;
    if ((required = vmiXMLGetAttr(node, "required"))) {
        int val = vmiYesNoFromString(required);

        if (val < 0) {
            vmiXMLSetInvalidValue(error, required, "required", VMI_ELEMENT, "yes or no");
            return NULL;
        }
        def->required = val;
    }

    for (cur = node->children; cur; cur = cur->next) {
        if (cur->type == XML_COMMENT_NODE || cur->type == XML_PI_NODE ||
            (cur->type == XML_TEXT_NODE && xmlIsBlankNode(cur)))
            continue;
        if (!vmiDefParseChild(cur, def, &seen, error))
            return NULL;
    }

    if (!(seen & 1u)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "missing element 'source' in element 'introspection'");
        return NULL;
    }

    if (!vmiDefValidate(def, error))
        return NULL;
    if (def->keySecret) {
        char *lower = g_ascii_strdown(def->keySecret, -1);
        g_free(def->keySecret);
        def->keySecret = lower;
    }
    return g_steal_pointer(&def);
}


vmiDef *
vmiDefParseString(const char *xml, GError **error)
{
    g_autoptr(xmlDoc) doc = vmiXMLReadString(xml, "introspection", error);

    if (!doc)
        return NULL;
    return vmiDefParseNode(xmlDocGetRootElement(doc), error);
}


/*
 * The checks a definition passes however it was made: parsed from XML,
 * or built from command line options.
 */
gboolean
vmiDefValidate(const vmiDef *def, GError **error)
{
    guint64 tableCommands = 0, tableEvents = 0;
    guint id;

    if (!vmiSourceDefValidate(&def->source, error))
        return FALSE;

    if ((def->reconnect &&
         !vmiCheckRange(def->reconnect, &vmiRangeTimeout, "timeout", "reconnect", error)) ||
        (def->handshakeTimeout &&
         !vmiCheckRange(def->handshakeTimeout, &vmiRangeTimeout, "handshake", "timeouts", error)) ||
        (def->unhookTimeout &&
         !vmiCheckRange(def->unhookTimeout, &vmiRangeTimeout, "unhook", "timeouts", error)))
        return FALSE;

    if (def->keySecret && !g_uuid_string_is_valid(def->keySecret)) {
        vmiXMLSetInvalidValue(error, def->keySecret, "secret", "key",
                           "the UUID of a libvirt secret, such as 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f");
        return FALSE;
    }

    for (id = vmiKvmiCommands.first; id <= vmiKvmiCommands.last; id++)
        tableCommands |= G_GUINT64_CONSTANT(1) << id;
    for (id = vmiKvmiEvents.first; id <= vmiKvmiEvents.last; id++)
        tableEvents |= G_GUINT64_CONSTANT(1) << id;
    if ((def->commands & ~tableCommands) || (def->events & ~tableEvents)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "allow-list holds ids that are not KVMI v8 commands or events");
        return FALSE;
    }
    return TRUE;
}


/* ---- formatting ---- */

static void
vmiDefFormatAllowList(xmlNodePtr allow, xmlNsPtr ns, const vmiKvmiTable *table,
                      guint64 bitmap)
{
    guint id;

    for (id = table->first; id <= table->last; id++) {
        if (bitmap & (G_GUINT64_CONSTANT(1) << id)) {
            xmlNodePtr entry = xmlNewChild(allow, ns, BAD_CAST table->kind, NULL);
            xmlNewProp(entry, BAD_CAST "name", BAD_CAST vmiKvmiTableName(table, id));
        }
    }
}


static void
vmiFormatUInt(xmlNodePtr node, const char *attr, guint64 value)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, value);
    xmlNewProp(node, BAD_CAST attr, BAD_CAST buf);
}


/*
 * Canonical form: children and attributes in a fixed order, allow-list
 * entries by name in ascending id order, and nothing the user did not
 * set (defaults stay implicit).
 */
xmlNodePtr
vmiDefFormatNode(const vmiDef *def)
{
    xmlNodePtr root = xmlNewNode(NULL, BAD_CAST VMI_ELEMENT);
    xmlNsPtr ns = xmlNewNs(root, BAD_CAST VMI_NAMESPACE_URI, BAD_CAST VMI_NAMESPACE_PREFIX);
    xmlNodePtr node;

    xmlSetNs(root, ns);
    if (def->required)
        xmlNewProp(root, BAD_CAST "required", BAD_CAST vmiYesNoToString(TRUE));

    node = xmlNewChild(root, ns, BAD_CAST "source", NULL);
    xmlNewProp(node, BAD_CAST "type", BAD_CAST vmiSourceTypeToString(def->source.type));
    if (def->source.type == VMI_SOURCE_UNIX) {
        xmlNewProp(node, BAD_CAST "path", BAD_CAST def->source.path);
    } else {
        vmiFormatUInt(node, "cid", def->source.cid);
        vmiFormatUInt(node, "port", def->source.port);
    }

    if (def->reconnect) {
        node = xmlNewChild(root, ns, BAD_CAST "reconnect", NULL);
        vmiFormatUInt(node, "timeout", def->reconnect);
    }

    if (def->keySecret) {
        node = xmlNewChild(root, ns, BAD_CAST "key", NULL);
        xmlNewProp(node, BAD_CAST "secret", BAD_CAST def->keySecret);
    }

    if (def->handshakeTimeout || def->unhookTimeout) {
        node = xmlNewChild(root, ns, BAD_CAST "timeouts", NULL);
        if (def->handshakeTimeout)
            vmiFormatUInt(node, "handshake", def->handshakeTimeout);
        if (def->unhookTimeout)
            vmiFormatUInt(node, "unhook", def->unhookTimeout);
    }

    if (def->commands || def->events) {
        node = xmlNewChild(root, ns, BAD_CAST "allow", NULL);
        vmiDefFormatAllowList(node, ns, &vmiKvmiCommands, def->commands);
        vmiDefFormatAllowList(node, ns, &vmiKvmiEvents, def->events);
    }
    return root;
}


char *
vmiDefFormat(const vmiDef *def)
{
    g_autoptr(xmlDoc) doc = xmlNewDoc(BAD_CAST "1.0");

    xmlDocSetRootElement(doc, vmiDefFormatNode(def));
    return vmiXMLNodeToString(xmlDocGetRootElement(doc));
}


gboolean
vmiDefEqual(const vmiDef *a, const vmiDef *b)
{
    return a->source.type == b->source.type &&
           g_strcmp0(a->source.path, b->source.path) == 0 &&
           a->source.cid == b->source.cid &&
           a->source.port == b->source.port &&
           a->reconnect == b->reconnect &&
           g_strcmp0(a->keySecret, b->keySecret) == 0 &&
           a->handshakeTimeout == b->handshakeTimeout &&
           a->unhookTimeout == b->unhookTimeout &&
           a->commands == b->commands &&
           a->events == b->events &&
           a->required == b->required;
}


guint
vmiDefReconnect(const vmiDef *def)
{
    return def->reconnect ? def->reconnect : vmiAttrs[VMI_ATTR_RECONNECT_TIMEOUT].defaultValue;
}


/* How long QEMU waits for the tool to unhook, set or not. */
guint
vmiDefUnhookTimeout(const vmiDef *def)
{
    if (!def->unhookTimeout)
        return vmiAttrs[VMI_ATTR_TIMEOUTS_UNHOOK].defaultValue;
    return def->unhookTimeout;
}


/* How long QEMU waits for the tool's answer to the handshake, set or not. */
guint
vmiDefHandshakeTimeout(const vmiDef *def)
{
    if (!def->handshakeTimeout)
        return vmiAttrs[VMI_ATTR_TIMEOUTS_HANDSHAKE].defaultValue;
    return def->handshakeTimeout;
}


/*
 * The graceful unhook needs the tool to enable the UNHOOK event with
 * VM_CONTROL_EVENTS, so a given command list always carries command 6 and
 * a given event list always carries event 0. 0 still means "all".
 */
guint64
vmiDefEffectiveCommands(const vmiDef *def)
{
    if (!def->commands)
        return 0;
    return def->commands | (G_GUINT64_CONSTANT(1) << VMI_KVMI_VM_CONTROL_EVENTS);
}


guint64
vmiDefEffectiveEvents(const vmiDef *def)
{
    if (!def->events)
        return 0;
    return def->events | (G_GUINT64_CONSTANT(1) << VMI_KVMI_EVENT_UNHOOK);
}


/* For front ends: add one --allow-command / --allow-event value. */
gboolean
vmiDefSetAllow(guint64 *bitmap, const char *kind, const char *value,
               GError **error)
{
    const vmiKvmiTable *table = g_str_equal(kind, "command") ? &vmiKvmiCommands : &vmiKvmiEvents;
    guint id;

    return vmiKvmiTableParse(table, value, &id, error) &&
           vmiDefAddAllowed(bitmap, table, id, error);
}
