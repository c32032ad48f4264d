/* The baseline's callee, in its own translation unit (no LTO). */
#include "perf/domain/bench_other.h"

__attribute__((noinline)) int other_add(int a, int b) { return a + b; }
