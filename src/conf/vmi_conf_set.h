/*
 * vmi_conf_set.h: a definition changed value by value, as a front end's
 * options give them (virt-vmi set; the daemon to come)
 *
 * Each takes the option's text and its name, which errors quote; none
 * validates the whole definition (vmiDefValidate does, once all are set).
 */
#pragma once

#include "vmi_conf.h"

void vmiDefSetSocket(vmiDef *def, const char *path);
gboolean vmiDefSetVsock(vmiDef *def, const char *value, const char *option,
                        GError **error);
gboolean vmiDefSetSeconds(vmiDef *def, vmiAttrId attr, const char *value,
                          const char *option, GError **error);
gboolean vmiDefSetAllowList(vmiDef *def, const char *kind, char **values,
                            const char *option, GError **error);
gboolean vmiDefSetKeySecret(vmiDef *def, const char *value, const char *option,
                            GError **error);
gboolean vmiDefSetRequired(vmiDef *def, const char *value, const char *option,
                           GError **error);
