/*
 * udp_wire.h - the UDP header as it lies on the wire (RFC 768).
 *
 * Fields are big-endian byte arrays: read and write them with ip_get16 /
 * ip_put16 (protocols/ip/ip_wire.h), never by casting.  Cast the struct only
 * over bytes that pkt_contig made contiguous.
 */
#ifndef SPIN_UDP_WIRE_H
#define SPIN_UDP_WIRE_H

#include <stdint.h>

struct udp_hdr {
	uint8_t sport[2];
	uint8_t dport[2];
	uint8_t len[2];         /* header + payload, bytes; at least 8 */
	uint8_t csum[2];        /* 0: no checksum (IPv4 only) */
};
_Static_assert(sizeof(struct udp_hdr) == 8, "UDP header is 8 bytes");

#define UDP_HDR_LEN 8u

/* Offsets of fields within the header, for declarative guards. */
#define UDP_OFF_SPORT 0u
#define UDP_OFF_DPORT 2u
#define UDP_OFF_CSUM 6u

/* The largest payload one IPv4 datagram without options can carry. */
#define UDP_MAX_PAYLOAD (65535u - 20u - UDP_HDR_LEN)

#endif
