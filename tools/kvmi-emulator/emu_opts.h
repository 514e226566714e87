/*
 * emu_opts.h: QEMU's key=value option syntax (QemuOpts)
 *
 * "introspection,id=vmi0,chardev=c,command=2,command=10": elements are
 * separated by commas, a comma inside a value is written twice, a bare
 * first element is the value of the option's implied key (qom-type,
 * backend, type...) and any other bare element means KEY=on. Repeated
 * keys are all kept, in order: the introspection object's allow-lists
 * depend on what is done with them.
 */
#pragma once

#include <glib.h>

typedef struct {
    char *key;
    char *value;
} emuOpt;

typedef struct {
    GPtrArray *items;       /* emuOpt *, in command line order */
} emuOpts;

emuOpts *emuOptsParse(const char *str, const char *implied);
void emuOptsFree(emuOpts *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(emuOpts, emuOptsFree);

/* The last value of @key (QEMU's "last one wins"), or NULL. */
const char *emuOptsGet(const emuOpts *opts, const char *key);
gboolean emuOptsHas(const emuOpts *opts, const char *key);

/* on/off, yes/no, true/false as QEMU accepts them; @def if absent or bad. */
gboolean emuOptsGetBool(const emuOpts *opts, const char *key, gboolean def);
gboolean emuParseBool(const char *value, gboolean *out);

/* Whether @str asks for help: "help" or "?". */
gboolean emuIsHelpOption(const char *str);
