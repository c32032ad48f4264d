/*
 * udp_private.h - what the udp files share and nobody else uses.
 */
#ifndef SPIN_UDP_PRIVATE_H
#define SPIN_UDP_PRIVATE_H

#include <stdint.h>

struct pkt;

void udp_input(void *closure, struct pkt *p);
void udp_unreach(struct pkt *p);
void udp_output(void *closure, struct pkt *p, uint16_t ifindex, uint32_t src, uint16_t sport,
		uint32_t dst, uint16_t dport);
/* The source address for a datagram to dst (out of *ifindex when nonzero);
 * 0 when there is none.  With no route but a connected subnet holding dst,
 * sets *ifindex to that subnet's interface. */
uint32_t udp_src_select(uint16_t *ifindex, uint32_t dst);

#endif
