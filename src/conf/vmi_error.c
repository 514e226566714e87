#include "vmi_error.h"

GQuark
vmiErrorQuark(void)
{
    return g_quark_from_static_string("vmi-error-quark");
}
