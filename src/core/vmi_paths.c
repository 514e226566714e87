/*
 * vmi_paths.c: where libvirt-vmi's programs are
 */
#include <stdlib.h>

#include "core/vmi_paths.h"


/*
 * The program @name beside @self (resolved, so that a symlink such as
 * qemu.d's or /proc/self/exe leads to where it really is) in a build
 * tree, or where it was installed.
 */
char *
vmiFindSibling(const char *self, const char *name)
{
    g_autofree char *real = realpath(self, NULL);
    g_autofree char *dir = real ? g_path_get_dirname(real) : NULL;
    g_autofree char *sibling = dir ? g_build_filename(dir, name, NULL) : NULL;

    if (sibling && g_file_test(sibling, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer(&sibling);
    return g_build_filename(VMI_LIBEXECDIR, name, NULL);
}
