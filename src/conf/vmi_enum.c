/*
 * vmi_enum.c: what VMI_ENUM_IMPL's functions do
 */
#include "vmi_enum.h"


const char *
vmiEnumToString(const char *const *names, guint count, int value)
{
    if (value < 0 || (guint)value >= count)
        return NULL;
    return names[value];
}


int
vmiEnumFromString(const char *const *names, guint count, const char *str)
{
    guint i;

    for (i = 0; i < count; i++) {
        if (g_str_equal(names[i], str))
            return i;
    }
    return -1;
}
