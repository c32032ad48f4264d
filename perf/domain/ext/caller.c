/* call.inkernel: the calling extension, resolved against callee's domain;
 * each call goes through its GOT slot for callee_add. */
#include "kernel/module/module.h"

int callee_add(int a, int b);
long caller_loop(long n);

long caller_loop(long n)
{
	long acc = 0;
	for (long i = 0; i < n; i++)
		acc = callee_add((int)acc, 1);
	return acc;
}

SPIN_MODULE(caller_module, .name = "caller", .version = SPIN_VERSION(1, 0),
	    .doc = "call.inkernel: calls callee_add in a loop");
