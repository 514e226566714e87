/*
 * vmi_settings.c: /etc/libvirt-vmi/libvirt-vmi.conf, a GKeyFile:
 *
 *   [hook]
 *   # libvirt URI of the daemon that runs the hook (default qemu:///system)
 *   uri=qemu+unix:///system?socket=/run/libvirt/libvirt-sock
 *
 * Read by the hook and host-validate, written by virt-vmi hook-install. A
 * missing file means the defaults.
 */
#include <errno.h>
#include <pwd.h>

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


/* The value of `NAME = "VALUE"` in a libvirt configuration file, or NULL. */
static char *
vmiQemuConfGet(const char *text, const char *name)
{
    g_autofree char *pattern = g_strdup_printf("^[ \\t]*%s[ \\t]*=[ \\t]*\"([^\"]*)\"", name);
    g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_MULTILINE, 0, NULL);
    g_autoptr(GMatchInfo) match = NULL;
    char *value = NULL;

    /* the last setting wins, as in libvirt */
    g_regex_match(re, text, 0, &match);
    while (g_match_info_matches(match)) {
        g_free(value);
        value = g_match_info_fetch(match, 1);
        g_match_info_next(match, NULL);
    }
    return value;
}


/*
 * The DAC label ("user:group") the QEMU driver runs QEMU as: qemu.conf's
 * user and group, else libvirt's defaults (libvirt-qemu on Debian,
 * qemu elsewhere; the user's own group).
 */
char *
vmiSettingsQemuDACLabel(const char *qemuConf, GError **error)
{
    static const char *const defaultUsers[] = { "libvirt-qemu", "qemu" };
    g_autofree char *text = NULL;
    g_autofree char *user = NULL;
    g_autofree char *group = NULL;
    g_autoptr(GError) err = NULL;
    size_t i;

    if (!g_file_get_contents(qemuConf, &text, NULL, &err) &&
        !g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "cannot read %s (QEMU's user and group): %s", qemuConf, err->message);
        return NULL;
    }
    if (text) {
        user = vmiQemuConfGet(text, "user");
        group = vmiQemuConfGet(text, "group");
    }
    for (i = 0; !user && i < G_N_ELEMENTS(defaultUsers); i++) {
        if (getpwnam(defaultUsers[i]))
            user = g_strdup(defaultUsers[i]);
    }
    if (!user) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                    "%s sets no user and neither libvirt-qemu nor qemu exists: cannot tell "
                    "which user QEMU runs as", qemuConf);
        return NULL;
    }
    if (!group) {
        struct passwd *pw = getpwnam(user);

        group = pw ? g_strdup_printf("+%u", (unsigned)pw->pw_gid) : g_strdup(user);
    }
    return g_strdup_printf("%s:%s", user, group);
}


/* virt-vmi hook-install's record; the file's other keys and comments stay. */
gboolean
vmiSettingsSaveHookURI(const char *path, const char *uri, GError **error)
{
    g_autoptr(GKeyFile) file = g_key_file_new();
    g_autofree char *dir = g_path_get_dirname(path);

    g_key_file_load_from_file(file, path, G_KEY_FILE_KEEP_COMMENTS, NULL);
    g_key_file_set_string(file, "hook", "uri", uri);
    g_key_file_set_comment(file, "hook", NULL,
                           " The libvirt daemon that runs the hook, which reads key secrets from it",
                           NULL);
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot create %s: %s",
                    dir, g_strerror(errno));
        return FALSE;
    }
    return g_key_file_save_to_file(file, path, error);
}
