/*
 * vmi_settings.c: /etc/libvirt-vmi/libvirt-vmi.conf, a GKeyFile:
 *
 *   [hook]
 *   # libvirt URI of the daemon that runs the hook (default qemu:///system)
 *   uri=qemu+unix:///system?socket=/run/libvirt/libvirt-sock
 *
 * A missing file means the defaults.
 */
#include "core/vmi_settings.h"
#include "conf/vmi_error.h"


void
vmiSettingsFree(vmiSettings *settings)
{
    if (!settings)
        return;
    g_free(settings->hookURI);
    g_free(settings);
}


vmiSettings *
vmiSettingsLoad(const char *path, GError **error)
{
    g_autoptr(vmiSettings) settings = g_new0(vmiSettings, 1);
    g_autoptr(GKeyFile) file = g_key_file_new();
    g_autoptr(GError) err = NULL;

    if (!g_key_file_load_from_file(file, path, G_KEY_FILE_NONE, &err)) {
        if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "cannot read %s: %s", path, err->message);
            return NULL;
        }
        g_clear_error(&err);
    }

    settings->hookURI = g_key_file_get_string(file, "hook", "uri", NULL);
    if (!settings->hookURI)
        settings->hookURI = g_strdup(VMI_DEFAULT_URI);
    return g_steal_pointer(&settings);
}
