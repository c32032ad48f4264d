/*
 * ng_internal.h - shared between the files of netgraph/ only.
 */
#ifndef SPIN_NG_INTERNAL_H
#define SPIN_NG_INTERNAL_H

struct pkt;

/* The primary handler of Link_SendPacket (iface.c): completes a partial
 * checksum when the interface cannot, then calls its xmit.  Consumes p. */
void ng_link_send(void *closure, struct pkt *p);

#endif
