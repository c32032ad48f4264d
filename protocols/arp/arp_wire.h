/*
 * arp_wire.h - the ARP packet for IPv4 over Ethernet as it lies on the
 * wire (RFC 826).  Multi-byte fields are big-endian; the struct is
 * byte-aligned: cast it only over bytes that pkt_contig made contiguous.
 */
#ifndef SPIN_ARP_WIRE_H
#define SPIN_ARP_WIRE_H

#include <stdint.h>

struct arp_hdr {
	uint8_t htype[2];       /* ARP_HTYPE_ETHER */
	uint8_t ptype[2];       /* ETHER_TYPE_IPV4 */
	uint8_t hlen;           /* 6 */
	uint8_t plen;           /* 4 */
	uint8_t op[2];          /* ARP_OP_REQUEST or ARP_OP_REPLY */
	uint8_t sha[6];         /* sender hardware address */
	uint8_t spa[4];         /* sender protocol address */
	uint8_t tha[6];         /* target hardware address */
	uint8_t tpa[4];         /* target protocol address */
};
_Static_assert(sizeof(struct arp_hdr) == 28, "ARP for IPv4 over Ethernet is 28 bytes");

#define ARP_FIXED_LEN 8u        /* htype .. op: enough to read the lengths */
#define ARP_LEN 28u
#define ARP_HTYPE_ETHER 1u
#define ARP_OP_REQUEST 1u
#define ARP_OP_REPLY 2u

/* Offset of the operation within the packet, for declarative guards on
 * the ARP header (after the Ethernet header). */
#define ARP_OFF_OP 6u

#endif
