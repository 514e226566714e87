/*
 * vmi_apparmor.c: the AppArmor rules a confined QEMU needs for
 * <vmi:introspection>, and where they go on a Debian/Ubuntu host
 *
 * libvirt's AppArmor driver confines each QEMU with a profile of its own,
 * /etc/apparmor.d/libvirt/libvirt-UUID, which virt-aa-helper writes from
 * the domain's devices: it includes abstractions/libvirt-qemu (the rules
 * every QEMU gets) and libvirt/libvirt-UUID.files (the domain's disks,
 * logs, sockets ...). Paths that appear only in <qemu:commandline>, our
 * key file and the tool's socket, are in neither, so QEMU is denied them.
 *
 * The per-domain .files would be the narrowest place, but it is not ours:
 * virt-aa-helper rewrites it whole (-r) when libvirt labels the domain,
 * after every hook that runs before QEMU (prepare, start), and again at
 * each hotplug. What is left is the place the packaged abstraction keeps
 * for site additions, local/abstractions/libvirt-qemu, which every
 * domain's profile includes: it gets one line that includes our own file,
 * abstractions/libvirt-vmi, with the rules made here. These are shared by
 * every domain's QEMU, so they are as narrow as a shared rule can be:
 *   - the key file: KEYDIR/<uuid>/key, read only, and only when the QEMU
 *     process's user owns it (it is handed to that domain's QEMU user at
 *     `start` and removed at `started`);
 *   - the tools' unix sockets: the exact paths the domains' elements name,
 *     no globs; vsock only if a domain uses it.
 * The file is made from the domains (virt-vmi hook-install), and the hook
 * adds a starting domain's rules if they are missing: both take the text
 * from vmiAppArmorRules, the one source of truth, which host-validate
 * also compares the installed file with.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/vmi_apparmor.h"
#include "core/vmi_fd.h"
#include "conf/vmi_error.h"

#define VMI_APPARMOR_HEADER \
    "# libvirt-vmi: what a QEMU confined by libvirt's AppArmor profile needs\n" \
    "# for <vmi:introspection>. Written by `virt-vmi hook-install` from the\n" \
    "# domains defined then, extended by the hook when a domain with a new\n" \
    "# tool socket starts; included by " VMI_APPARMOR_LOCAL ".\n" \
    "# Do not edit: hook-install rewrites it (docs/security.rst).\n"


/*
 * A path as an AppArmor file rule's quoted path: AppArmor's glob and
 * variable characters lose their meaning with a backslash. A control
 * character cannot be written at all.
 */
char *
vmiAppArmorQuotePath(const char *path, GError **error)
{
    GString *buf;
    const char *p;

    if (!path || path[0] != '/') {
        g_autofree char *quoted = vmiErrorQuote(path ? path : "");

        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "AppArmor rule for path '%s': expected an absolute path", quoted);
        return NULL;
    }
    buf = g_string_new("\"");
    for (p = path; *p; p++) {
        if (g_ascii_iscntrl(*p)) {
            g_autofree char *quoted = vmiErrorQuote(path);

            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "AppArmor rule for path '%s': a control character cannot "
                        "be written in a rule", quoted);
            g_string_free(buf, TRUE);
            return NULL;
        }
        if (strchr("\\\"*?[]{}^@", *p))
            g_string_append_c(buf, '\\');
        g_string_append_c(buf, *p);
    }
    g_string_append_c(buf, '"');
    return g_string_free(buf, FALSE);
}


static gint
vmiAppArmorCmpPaths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}


/*
 * The rules for the key files under @keyDir and the sources of @defs
 * (vmiDef *, NULL entries skipped), in a stable order.
 */
char *
vmiAppArmorRules(const char *keyDir, GPtrArray *defs, GError **error)
{
    g_autoptr(GString) buf = g_string_new(VMI_APPARMOR_HEADER);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *keyRule = NULL;
    gboolean vsock = FALSE;
    guint i;

    /* QEMU's user owns the file from `start` to `started`; the
     * directory is named after the domain's UUID in canonical form */
    if (!(keyRule = vmiAppArmorQuotePath(keyDir, error)))
        return NULL;
    keyRule[strlen(keyRule) - 1] = '\0';
    g_string_append(buf, "\n  # the per-run key file, KEYDIR/DOMAIN-UUID/key\n");
    g_string_append_printf(buf, "  owner %s/[0-9a-f]*-*-*-*-*/key\" r,\n", keyRule);

    for (i = 0; defs && i < defs->len; i++) {
        const vmiDef *def = defs->pdata[i];

        if (!def)
            continue;
        if (def->source.type == VMI_SOURCE_VSOCK)
            vsock = TRUE;
        else if (def->source.path &&
                 !g_ptr_array_find_with_equal_func(paths, def->source.path, g_str_equal, NULL))
            g_ptr_array_add(paths, g_strdup(def->source.path));
    }
    g_ptr_array_sort(paths, vmiAppArmorCmpPaths);

    if (paths->len)
        g_string_append(buf, "\n  # the tools' unix sockets (<vmi:source path=...>): QEMU connects\n");
    for (i = 0; i < paths->len; i++) {
        g_autofree char *rule = vmiAppArmorQuotePath(paths->pdata[i], error);

        if (!rule)
            return NULL;
        g_string_append_printf(buf, "  %s rw,\n", rule);
    }
    if (vsock)
        g_string_append(buf, "\n  # a tool on vsock (<vmi:source cid=... port=...>)\n"
                        "  network vsock stream,\n");
    return g_string_free(g_steal_pointer(&buf), FALSE);
}


static gboolean
vmiAppArmorHasInclude(const char *contents)
{
    g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
    char **line;

    for (line = lines; *line; line++) {
        if (g_str_equal(g_strstrip(*line), VMI_APPARMOR_INCLUDE))
            return TRUE;
    }
    return FALSE;
}


/*
 * The rule lines of @rules (not comments, not blank) that @installed
 * lacks. The hook appends lines, so order and extra lines do not matter.
 */
static GPtrArray *
vmiAppArmorMissingLines(const char *installed, const char *rules)
{
    g_auto(GStrv) have = g_strsplit(installed, "\n", -1);
    g_auto(GStrv) want = g_strsplit(rules, "\n", -1);
    GPtrArray *missing = g_ptr_array_new_with_free_func(g_free);
    char **line;

    for (line = want; *line; line++) {
        const char *rule = *line + strspn(*line, " ");

        if (!*rule || *rule == '#' || g_strv_contains((const char *const *)have, *line))
            continue;
        g_ptr_array_add(missing, g_strdup(*line));
    }
    return missing;
}


vmiAppArmorState
vmiAppArmorGetState(const char *aaDir, const char *rules)
{
    g_autofree char *libvirtQemu = g_build_filename(aaDir, VMI_APPARMOR_LIBVIRT_QEMU, NULL);
    g_autofree char *local = g_build_filename(aaDir, VMI_APPARMOR_LOCAL, NULL);
    g_autofree char *ours = g_build_filename(aaDir, VMI_APPARMOR_RULES, NULL);
    g_autofree char *localText = NULL;
    g_autofree char *oursText = NULL;
    g_autoptr(GPtrArray) missing = NULL;

    if (!g_file_test(libvirtQemu, G_FILE_TEST_IS_REGULAR))
        return VMI_APPARMOR_NO_LIBVIRT;
    if (!g_file_get_contents(local, &localText, NULL, NULL) ||
        !vmiAppArmorHasInclude(localText) ||
        !g_file_get_contents(ours, &oursText, NULL, NULL))
        return VMI_APPARMOR_MISSING;
    missing = vmiAppArmorMissingLines(oursText, rules);
    return missing->len ? VMI_APPARMOR_STALE : VMI_APPARMOR_IN_PLACE;
}


static gboolean
vmiAppArmorWrite(const char *path, const char *text, GError **error)
{
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                  0644, &err)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot write %s: %s",
                    path, err->message);
        return FALSE;
    }
    return TRUE;
}


/*
 * Writes our rules file and, once, the line that includes it into the
 * local additions file (created if the package's postinst did not),
 * keeping whatever the administrator has there. No packaged file changes.
 */
gboolean
vmiAppArmorInstall(const char *aaDir, const char *rules, GError **error)
{
    g_autofree char *local = g_build_filename(aaDir, VMI_APPARMOR_LOCAL, NULL);
    g_autofree char *localDir = g_path_get_dirname(local);
    g_autofree char *ours = g_build_filename(aaDir, VMI_APPARMOR_RULES, NULL);
    g_autofree char *localText = NULL;
    g_autoptr(GError) err = NULL;

    if (!vmiAppArmorWrite(ours, rules, error))
        return FALSE;

    if (!g_file_get_contents(local, &localText, NULL, &err)) {
        if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot read %s: %s",
                        local, err->message);
            return FALSE;
        }
        localText = g_strdup("");
    }
    if (vmiAppArmorHasInclude(localText))
        return TRUE;
    if (g_mkdir_with_parents(localDir, 0755) < 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot create %s: %s",
                    localDir, g_strerror(errno));
        return FALSE;
    }
    {
        g_autofree char *text = g_strdup_printf(
            "%s%s# libvirt-vmi: a confined QEMU's key file and tool socket "
            "(virt-vmi hook-install)\n" VMI_APPARMOR_INCLUDE "\n",
            localText, *localText && !g_str_has_suffix(localText, "\n") ? "\n" : "");

        return vmiAppArmorWrite(local, text, error);
    }
}


/*
 * At a domain's `prepare` (or on a migration's destination): the rules
 * for its source, if hook-install's file lacks them. virt-aa-helper makes
 * and loads the domain's profile after this hook, so the starting QEMU
 * gets them. Without our file (no AppArmor profiles, or hook-install not
 * run since they came), nothing: host-validate tells. The lines are
 * appended with one write (O_APPEND): two domains starting at once can at
 * worst write a rule twice, which AppArmor does not mind.
 */
gboolean
vmiAppArmorAddSource(const char *aaDir, const char *keyDir, const vmiDef *def,
                     GError **error)
{
    g_autofree char *ours = g_build_filename(aaDir, VMI_APPARMOR_RULES, NULL);
    g_autoptr(GPtrArray) defs = g_ptr_array_new();
    g_autoptr(GPtrArray) missing = NULL;
    g_autofree char *oursText = NULL;
    g_autofree char *rules = NULL;
    g_autofree char *text = NULL;
    VMI_AUTOCLOSE fd = -1;

    if (!def || !g_file_get_contents(ours, &oursText, NULL, NULL))
        return TRUE;
    g_ptr_array_add(defs, (gpointer)def);
    if (!(rules = vmiAppArmorRules(keyDir, defs, error)))
        return FALSE;
    missing = vmiAppArmorMissingLines(oursText, rules);
    if (!missing->len)
        return TRUE;
    g_ptr_array_add(missing, g_strdup(""));
    g_ptr_array_add(missing, NULL);
    text = g_strjoinv("\n", (char **)missing->pdata);
    if (!g_str_has_suffix(oursText, "\n")) {
        g_autofree char *tmp = g_steal_pointer(&text);
        text = g_strconcat("\n", tmp, NULL);
    }
    if ((fd = open(ours, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "cannot add the AppArmor rules of this domain's tool socket to %s: %s",
                    ours, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}


/* Whether this kernel enforces AppArmor (libvirt then confines QEMU). */
gboolean
vmiAppArmorKernelEnabled(void)
{
    g_autofree char *value = NULL;

    if (!g_file_get_contents("/sys/module/apparmor/parameters/enabled", &value, NULL, NULL))
        return FALSE;
    return g_str_has_prefix(value, "Y");
}
