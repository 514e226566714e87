/*
 * vmi_load.c: read a domain XML or a bare element, with both the semantic
 * and the schema checks
 */
#include "vmi_load.h"
#include "conf/vmi_error.h"
#include "conf/vmi_schema.h"


void
vmiLoadedFree(vmiLoaded *loaded)
{
    if (!loaded)
        return;
    vmiDomainXMLFree(loaded->dom);
    vmiDefFree(loaded->def);
    g_free(loaded->uuid);
    g_free(loaded);
}


/*
 * On failure the message holds every error found: the semantic one
 * (which says best what is wrong) and the schema's.
 */
vmiLoaded *
vmiLoadFile(const char *path, GError **error)
{
    g_autoptr(vmiLoaded) loaded = g_new0(vmiLoaded, 1);
    g_autoptr(GError) semantic = NULL;
    g_autoptr(GError) schema = NULL;

    if (!(loaded->dom = vmiDomainXMLReadFile(path, path, error)))
        return NULL;

    loaded->def = vmiDomainXMLGetDef(loaded->dom, &semantic);
    if (loaded->dom->vmi)
        vmiSchemaValidate(loaded->dom->vmi, path, &schema);

    if (semantic || schema) {
        GError *first = semantic ? semantic : schema;

        g_set_error(error, VMI_ERROR, first->code, "%s%s%s",
                    semantic ? semantic->message : "",
                    semantic && schema ? "\n" : "",
                    schema ? schema->message : "");
        return NULL;
    }

    loaded->uuid = g_strdup(loaded->dom->uuid);
    return g_steal_pointer(&loaded);
}


/* The key file path needs the domain's UUID. */
gboolean
vmiLoadedSetUUID(vmiLoaded *loaded, const char *option, GError **error)
{
    /* in libvirt's form, as the domain's <uuid> is */
    g_autofree char *uuid = option ? vmiUUIDCanonical(option) : NULL;

    if (option && !uuid) {
        g_autofree char *quoted = vmiErrorQuote(option);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid value '%s' for option '--uuid': expected a UUID such as "
                    "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", quoted);
        return FALSE;
    }
    if (uuid && loaded->uuid && !g_str_equal(uuid, loaded->uuid)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "option '--uuid' %s contradicts the domain's <uuid> %s",
                    uuid, loaded->uuid);
        return FALSE;
    }
    if (uuid && !loaded->uuid)
        loaded->uuid = g_steal_pointer(&uuid);

    if (!loaded->uuid) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    loaded->dom->bare ?
                    "a bare <vmi:introspection> element needs option '--uuid' (the domain's UUID)" :
                    "the domain XML has no <uuid>: add one or give option '--uuid'");
        return FALSE;
    }
    if (!g_uuid_string_is_valid(loaded->uuid)) {
        g_autofree char *quoted = vmiErrorQuote(loaded->uuid);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid domain <uuid> '%s': expected a UUID such as "
                    "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", quoted);
        return FALSE;
    }
    return TRUE;
}
