/*
 * vmi_enum.h: enum <-> string tables, in the manner of libvirt's
 * VIR_ENUM_DECL / VIR_ENUM_IMPL
 *
 *   header:  VMI_ENUM_DECL(vmiSourceType);
 *   source:  VMI_ENUM_IMPL(vmiSourceType, VMI_SOURCE_LAST, "unix", "vsock");
 *
 * give vmiSourceTypeToString(value) (NULL when out of range) and
 * vmiSourceTypeFromString(str) (-1 when unknown); a table with a string
 * too many or too few fails the build.
 */
#pragma once

#include <glib.h>

const char *vmiEnumToString(const char *const *names, guint count, int value);
int vmiEnumFromString(const char *const *names, guint count, const char *str);

#define VMI_ENUM_DECL(name) \
    const char *name##ToString(int value); \
    int name##FromString(const char *str)

#define VMI_ENUM_IMPL(name, lastValue, ...) \
    static const char *const name##Names[] = { __VA_ARGS__ }; \
    G_STATIC_ASSERT(G_N_ELEMENTS(name##Names) == (lastValue)); \
    const char * \
    name##ToString(int value) \
    { \
        return vmiEnumToString(name##Names, G_N_ELEMENTS(name##Names), value); \
    } \
    int \
    name##FromString(const char *str) \
    { \
        return vmiEnumFromString(name##Names, G_N_ELEMENTS(name##Names), str); \
    }
