/*
 * icmp_wire.h - the ICMP header for IPv4 (RFC 792, RFC 1191).
 */
#ifndef SPIN_ICMP_WIRE_H
#define SPIN_ICMP_WIRE_H

#include <stdint.h>

struct icmp_hdr {
	uint8_t type;
	uint8_t code;
	uint8_t csum[2];
	/* The "rest of header" word: identifier and sequence for echo, unused
	 * (zero) for most errors, the next-hop MTU in the low half for
	 * "fragmentation needed", the pointer in the top byte for parameter
	 * problem. */
	uint8_t rest[4];
};
_Static_assert(sizeof(struct icmp_hdr) == 8, "ICMP header is 8 bytes");

#define ICMP_HDR_LEN 8u

enum icmp_type {
	ICMP_ECHO_REPLY = 0,
	ICMP_DEST_UNREACH = 3,
	ICMP_SOURCE_QUENCH = 4,
	ICMP_REDIRECT = 5,
	ICMP_ECHO = 8,
	ICMP_TIME_EXCEEDED = 11,
	ICMP_PARAM_PROBLEM = 12,
	ICMP_TIMESTAMP = 13,
	ICMP_TIMESTAMP_REPLY = 14,
};

/* Codes of ICMP_DEST_UNREACH. */
enum {
	ICMP_UNREACH_NET = 0,
	ICMP_UNREACH_HOST = 1,
	ICMP_UNREACH_PROTO = 2,
	ICMP_UNREACH_PORT = 3,
	ICMP_UNREACH_FRAG_NEEDED = 4,   /* info = next-hop MTU */
	ICMP_UNREACH_SRC_ROUTE = 5,
};
/* Codes of ICMP_TIME_EXCEEDED. */
enum {
	ICMP_TIMXCEED_TTL = 0,
	ICMP_TIMXCEED_REASS = 1,
};

/* Error types (the ones never answered with another error, RFC 1122
 * 3.2.2). */
static inline int icmp_type_is_error(uint8_t t)
{
	return t == ICMP_DEST_UNREACH || t == ICMP_SOURCE_QUENCH || t == ICMP_REDIRECT ||
	       t == ICMP_TIME_EXCEEDED || t == ICMP_PARAM_PROBLEM;
}

#endif
