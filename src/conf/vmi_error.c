#include "vmi_error.h"

GQuark
vmiErrorQuark(void)
{
    return g_quark_from_static_string("vmi-error-quark");
}


/*
 * @value as an error message quotes it: whole up to VMI_ERROR_QUOTE_MAX
 * characters, else its start and "...". Invalid UTF-8 is made valid, so
 * the cut never splits a character.
 */
char *
vmiErrorQuote(const char *value)
{
    g_autofree char *valid = NULL;

    if (!value)
        return g_strdup("");
    if (!g_utf8_validate(value, -1, NULL))
        value = valid = g_utf8_make_valid(value, -1);
    if (g_utf8_strlen(value, -1) <= VMI_ERROR_QUOTE_MAX)
        return g_strdup(value);
    {
        g_autofree char *head = g_utf8_substring(value, 0, VMI_ERROR_QUOTE_MAX);
        return g_strconcat(head, "...", NULL);
    }
}
