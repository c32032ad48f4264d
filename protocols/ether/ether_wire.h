/*
 * ether_wire.h - the Ethernet II header and the 802.1Q tag as they lie on
 * the wire (IEEE 802.3, 802.1Q).
 *
 * Multi-byte fields are big-endian; read and write them with ether_get16 /
 * ether_put16.  The structs are byte-aligned: cast them only over bytes that
 * pkt_contig made contiguous.
 */
#ifndef SPIN_ETHER_WIRE_H
#define SPIN_ETHER_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#define ETHER_ADDR_LEN 6u
#define ETHER_HDR_LEN 14u
#define ETHER_VLAN_LEN 4u       /* one 802.1Q tag */
#define ETHER_MIN_FRAME 60u     /* without the FCS */

/* An Ethernet address, passed by value in events. */
struct ether_addr {
	uint8_t b[ETHER_ADDR_LEN];
};

struct ether_hdr {
	uint8_t dst[ETHER_ADDR_LEN];
	uint8_t src[ETHER_ADDR_LEN];
	uint8_t type[2];
};
_Static_assert(sizeof(struct ether_hdr) == 14, "Ethernet header is 14 bytes");

/* What follows the source address in a tagged frame. */
struct ether_vlan_tag {
	uint8_t tpid[2];        /* ETHER_TYPE_VLAN */
	uint8_t tci[2];         /* PCP (3) | DEI (1) | VLAN id (12) */
	uint8_t type[2];        /* the EtherType of the payload */
};

/* Offset of the EtherType within the header, for declarative guards. */
#define ETHER_OFF_TYPE 12u

#define ETHER_TYPE_IPV4 0x0800u
#define ETHER_TYPE_ARP 0x0806u
#define ETHER_TYPE_VLAN 0x8100u /* 802.1Q */
#define ETHER_TYPE_QINQ 0x88a8u /* 802.1ad service tag */
#define ETHER_TYPE_IPV6 0x86ddu
#define ETHER_TYPE_MIN 0x0600u  /* below: an 802.3 length, not a type */

#define ETHER_VLAN_ID(tci) ((uint16_t)((tci) & 0x0fffu))

static inline uint16_t ether_get16(const uint8_t *b) { return (uint16_t)((b[0] << 8) | b[1]); }
static inline void ether_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline bool ether_is_bcast(const uint8_t *a)
{
	return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}
/* Group bit set: multicast or broadcast. */
static inline bool ether_is_group(const uint8_t *a) { return (a[0] & 1u) != 0; }
static inline bool ether_is_zero(const uint8_t *a)
{
	return (a[0] | a[1] | a[2] | a[3] | a[4] | a[5]) == 0;
}
static inline bool ether_addr_eq(const uint8_t *a, const uint8_t *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
	       a[4] == b[4] && a[5] == b[5];
}
static inline struct ether_addr ether_addr_from(const uint8_t *a)
{
	struct ether_addr e = {{a[0], a[1], a[2], a[3], a[4], a[5]}};
	return e;
}
/* The 48-bit value of an address (first byte highest). */
static inline uint64_t ether_addr_u64(const uint8_t *a)
{
	return ((uint64_t)a[0] << 40) | ((uint64_t)a[1] << 32) | ((uint64_t)a[2] << 24) |
	       ((uint64_t)a[3] << 16) | ((uint64_t)a[4] << 8) | a[5];
}

#define ETHER_BCAST ((struct ether_addr){{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})

/* The multicast address of an IPv4 group (RFC 1112 6.4): 01:00:5e and the
 * low 23 bits of the host-order group address. */
static inline struct ether_addr ether_mcast_ipv4(uint32_t group)
{
	struct ether_addr e = {{0x01, 0x00, 0x5e, (uint8_t)((group >> 16) & 0x7f),
				(uint8_t)(group >> 8), (uint8_t)group}};
	return e;
}

#endif
