#ifndef SPIN_PERF_DOMAIN_OTHER_H
#define SPIN_PERF_DOMAIN_OTHER_H
int other_add(int a, int b);
#endif
