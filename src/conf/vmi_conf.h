/*
 * vmi_conf.h: the <vmi:introspection> definition
 *
 * Pure data: parsing, validation and formatting of one element, no I/O.
 */
#pragma once

#include <stdbool.h>
#include <glib.h>
#include <libxml/tree.h>

#include "vmi_xml.h"
#include "vmi_enum.h"

#define VMI_NAMESPACE_URI "http://libvirt-vmi.org/schemas/introspection/1.0"
#define VMI_NAMESPACE_PREFIX "vmi"
#define VMI_ELEMENT "introspection"

/* The live state libvirt-vmi records in a running domain's <metadata>
 * (VIR_DOMAIN_AFFECT_LIVE only: gone when the domain stops). */
#define VMI_STATE_NAMESPACE_URI "http://libvirt-vmi.org/schemas/state/1.0"
#define VMI_STATE_NAMESPACE_PREFIX "vmistate"
/* one element at a time (libvirt keeps one per namespace): a domain runs
 * unmonitored on purpose, or virt-vmid paused it for want of its tool */
#define VMI_STATE_UNMONITORED "unmonitored"
#define VMI_STATE_PAUSED "paused"

/* UNIX_PATH_MAX less the terminating NUL */
#define VMI_UNIX_PATH_MAX 107

typedef enum {
    VMI_SOURCE_UNIX,
    VMI_SOURCE_VSOCK,

    VMI_SOURCE_LAST
} vmiSourceType;

VMI_ENUM_DECL(vmiSourceType);

typedef struct {
    vmiSourceType type;
    char *path;         /* unix */
    guint32 cid;        /* vsock */
    guint32 port;       /* vsock */
} vmiSourceDef;

typedef struct _vmiDef vmiDef;
struct _vmiDef {
    vmiSourceDef source;
    guint reconnect;            /* seconds; 0: not set (QEMU gets the default) */
    char *keySecret;            /* libvirt secret UUID, lower case; NULL: no key */
    guint handshakeTimeout;     /* seconds; 0: not set */
    guint unhookTimeout;        /* seconds; 0: not set */
    /* Bitmaps of KVMI ids, bit N for id N. 0 means no list was given,
     * that is every id is allowed: a given list is never empty. */
    guint64 commands;
    guint64 events;
    gboolean required;          /* the guest never runs without its tool hooked */
};

/* The ranges every front end checks values against. */
extern const vmiRange vmiRangeTimeout;
extern const vmiRange vmiRangeVsockCid;
extern const vmiRange vmiRangeVsockPort;

/*
 * The numeric and yes/no attributes: what is allowed and what applies when
 * one is left out (QEMU's own default for the timeouts; for reconnect,
 * which QEMU requires, the value generated). The parser, the QEMU
 * arguments, virt-vmi's help texts, the emulator and the tests that hold
 * the schema and the docs to them all read this one table.
 */
typedef enum {
    VMI_ATTR_SOURCE_CID,
    VMI_ATTR_SOURCE_PORT,
    VMI_ATTR_RECONNECT_TIMEOUT,
    VMI_ATTR_TIMEOUTS_HANDSHAKE,
    VMI_ATTR_TIMEOUTS_UNHOOK,
    VMI_ATTR_REQUIRED,

    VMI_ATTR_LAST
} vmiAttrId;

typedef enum {
    VMI_ATTR_KIND_UINT,         /* a number in @range */
    VMI_ATTR_KIND_YES_NO,       /* 'yes' or 'no' */
} vmiAttrKind;

typedef struct {
    const char *element;
    const char *attribute;
    const char *schemaType;     /* its <define> in the schema */
    const vmiRange *range;      /* numbers only */
    guint defaultValue;         /* numbers: 0 none; yes/no: 1 yes, 0 no */
    vmiAttrKind kind;
} vmiAttrInfo;

/* "yes" or "no" */
const char *vmiYesNoToString(gboolean value);
/* 1 for "yes", 0 for "no", -1 for anything else */
int vmiYesNoFromString(const char *str);

extern const vmiAttrInfo vmiAttrs[VMI_ATTR_LAST];

vmiDef *vmiDefNew(void);
vmiDef *vmiDefCopy(const vmiDef *def);
void vmiDefFree(vmiDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiDef, vmiDefFree)

vmiDef *vmiDefParseNode(xmlNodePtr node, GError **error);
vmiDef *vmiDefParseString(const char *xml, GError **error);
gboolean vmiDefValidate(const vmiDef *def, GError **error);

xmlNodePtr vmiDefFormatNode(const vmiDef *def);
char *vmiDefFormat(const vmiDef *def);

gboolean vmiDefEqual(const vmiDef *a, const vmiDef *b);
guint vmiDefReconnect(const vmiDef *def);
guint vmiDefUnhookTimeout(const vmiDef *def);
guint vmiDefHandshakeTimeout(const vmiDef *def);
guint64 vmiDefEffectiveCommands(const vmiDef *def);
guint64 vmiDefEffectiveEvents(const vmiDef *def);

gboolean vmiDefSetAllow(guint64 *bitmap, const char *kind, const char *value,
                        GError **error);
