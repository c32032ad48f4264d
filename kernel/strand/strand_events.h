/*
 * strand_events.h - the Strand interface's events (dispatcher events,
 * kernel/dispatch/dispatch.h).
 *
 *   Strand_Block(s)       s stopped running and waits for Strand_Unblock
 *   Strand_Unblock(s)     s may run again
 *   Strand_Checkpoint(s)  s lost the processor but is still runnable
 *   Strand_Resume(s)      the processor is given to s; returns the strand
 *                         that actually runs
 *
 * The global scheduler is each event's default handler (it runs when no
 * binding's guard passes), so with no application scheduler a raise is one
 * load and one indirect call.  Bindings are made only by strand_vp_new on
 * behalf of an application scheduler, with declarative guards the
 * dispatcher compiles: Block/Unblock/Checkpoint are guarded by "s->vp ==
 * this vp", Resume by "s is this vp".  The events' authorizer refuses any
 * other install, so no extension can take strands it does not own.
 *
 * Events are raised by the processor that owns the strand, from scheduler
 * code that holds no dispatcher reference across a switch.
 */
#ifndef SPIN_STRAND_EVENTS_H
#define SPIN_STRAND_EVENTS_H

#include "kernel/dispatch/dispatch.h"
#include "kernel/strand/strand.h"

SPIN_EVENT_DECLARE_VOID(Strand_Block, (struct strand *, s))
SPIN_EVENT_DECLARE_VOID(Strand_Unblock, (struct strand *, s))
SPIN_EVENT_DECLARE_VOID(Strand_Checkpoint, (struct strand *, s))
SPIN_EVENT_DECLARE(Strand_Resume, struct strand *, (struct strand *, s))

#endif
