#include "kernel/sal/sal.h"
#include "kernel/module/module.h"
#include <stdio.h>
int main(void)
{
	sal_init();
	for (unsigned i = 0; i < spin_builtin_count(); i++)
		printf("%s\n", spin_builtin(i)->name);
	return 0;
}
