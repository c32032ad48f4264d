/* Imports tdom 2.0 while tdom 1.0 is exported: refused. */
#include <stddef.h>

#include "kernel/module/module.h"

static const struct spin_import v_imports[] = {
	{.name = "tdom", .version = SPIN_VERSION(2, 0)},
	{.name = NULL},
};

SPIN_MODULE(version_module, .name = "version", .version = SPIN_VERSION(1, 0),
	    .imports = v_imports);
