/*
 * emu_context.c: what the relay process knows about the VM it stands beside
 */
#include "emu_context.h"

emuContext emuCtx;


emuChardev *
emuContextFindChardev(const char *id)
{
    guint i;

    for (i = 0; emuCtx.chardevs && i < emuCtx.chardevs->len; i++) {
        emuChardev *chr = g_ptr_array_index(emuCtx.chardevs, i);

        if (g_str_equal(emuChardevId(chr), id))
            return chr;
    }
    return NULL;
}


void
emuContextRemoveChardev(emuChardev *chr)
{
    if (emuCtx.chardevs)
        g_ptr_array_remove(emuCtx.chardevs, chr);
}
