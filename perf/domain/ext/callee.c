/* call.inkernel: the exporting extension.  One procedure, not inlinable. */
#include "kernel/module/module.h"

__attribute__((noinline)) int callee_add(int a, int b);
__attribute__((noinline)) int callee_add(int a, int b) { return a + b; }

SPIN_MODULE(callee_module, .name = "callee", .version = SPIN_VERSION(1, 0),
	    .doc = "call.inkernel: exports callee_add");
