/*
 * tdom.h - the interface the domain tests' extensions are written against:
 * module "tdom" (built into the test program), its events and procedures.
 */
#ifndef SPIN_TEST_TDOM_H
#define SPIN_TEST_TDOM_H

#include <stdint.h>

#include "kernel/dispatch/dispatch.h"
#include "kernel/module/module.h"

struct tdom_pkt {
	uint32_t seq;
};

SPIN_EVENT_DECLARE_VOID(TDOM_Packet, (struct tdom_pkt *, p))
/* Its authorizer denies every install. */
SPIN_EVENT_DECLARE_VOID(TDOM_Guarded, (struct tdom_pkt *, p))

extern const struct spin_module tdom_module;
/* Counts a handler run of extension `who` (1 or 2). */
void tdom_hit(int who, const struct tdom_pkt *p);

#endif
