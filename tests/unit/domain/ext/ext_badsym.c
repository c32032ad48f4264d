/* Calls getpid, which no domain exports: the load must fail naming it. */
#include "kernel/module/module.h"

int getpid(void);

static int badsym_init(const char *args)
{
	(void)args;
	return getpid() < 0;
}

SPIN_MODULE(badsym_module, .name = "badsym", .version = SPIN_VERSION(1, 0),
	    .init = badsym_init);
