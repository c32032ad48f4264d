/*
 * ip_wire.h - the IPv4 header as it lies on the wire (RFC 791).
 *
 * Multi-byte fields are big-endian on the wire; read and write them with the
 * ip_get16/ip_put16 helpers, never by casting, so the code is the same on
 * any host.  The struct is byte-aligned: cast it only over bytes that
 * pkt_contig made contiguous.
 */
#ifndef SPIN_IP_WIRE_H
#define SPIN_IP_WIRE_H

#include <stdbool.h>
#include <stdint.h>

struct ip_hdr {
	uint8_t ver_ihl;        /* version (4) << 4 | header length in words */
	uint8_t tos;
	uint8_t tot_len[2];     /* header + payload, bytes */
	uint8_t id[2];
	uint8_t frag[2];        /* flags (3 bits) | fragment offset in 8-byte units */
	uint8_t ttl;
	uint8_t proto;
	uint8_t csum[2];
	uint8_t src[4];
	uint8_t dst[4];
	/* options: (ihl - 5) * 4 bytes */
};
_Static_assert(sizeof(struct ip_hdr) == 20, "IPv4 header is 20 bytes");

#define IP_HDR_MIN 20u
#define IP_HDR_MAX 60u
#define IP_MAX_LEN 65535u

/* Offsets of fields within the header, for declarative guards. */
#define IP_OFF_PROTO 9u
#define IP_OFF_SRC 12u
#define IP_OFF_DST 16u

#define IP_FRAG_RF 0x8000u      /* reserved, must be zero */
#define IP_FRAG_DF 0x4000u      /* don't fragment */
#define IP_FRAG_MF 0x2000u      /* more fragments */
#define IP_FRAG_OFFMASK 0x1fffu

#define IP_PROTO_ICMP 1u
#define IP_PROTO_TCP 6u
#define IP_PROTO_UDP 17u

/* Option types that matter to forwarding and fragmentation. */
#define IP_OPT_EOL 0u
#define IP_OPT_NOP 1u
#define IP_OPT_COPIED 0x80u     /* copied into every fragment */

static inline uint16_t ip_get16(const uint8_t *b) { return (uint16_t)((b[0] << 8) | b[1]); }
static inline void ip_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}
static inline uint32_t ip_get32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}
static inline void ip_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static inline unsigned ip_hdr_len(const struct ip_hdr *h) { return (h->ver_ihl & 0x0fu) * 4u; }
static inline unsigned ip_version(const struct ip_hdr *h) { return h->ver_ihl >> 4; }
static inline uint32_t ip_src(const struct ip_hdr *h) { return ip_get32(h->src); }
static inline uint32_t ip_dst(const struct ip_hdr *h) { return ip_get32(h->dst); }
static inline uint16_t ip_tot_len(const struct ip_hdr *h) { return ip_get16(h->tot_len); }
static inline uint16_t ip_frag_word(const struct ip_hdr *h) { return ip_get16(h->frag); }
/* Fragment offset in bytes. */
static inline uint32_t ip_frag_off(const struct ip_hdr *h)
{
	return (uint32_t)(ip_frag_word(h) & IP_FRAG_OFFMASK) * 8u;
}
static inline bool ip_is_fragment(const struct ip_hdr *h)
{
	return (ip_frag_word(h) & (IP_FRAG_MF | IP_FRAG_OFFMASK)) != 0;
}

/* Addresses are host-order uint32_t everywhere in the API: 198.18.0.1 is
 * 0xc6120001. */
#define IP_ADDR(a, b, c, d)                                                    \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define IP_ANY 0u
#define IP_BCAST 0xffffffffu
static inline bool ip_is_multicast(uint32_t a) { return (a >> 28) == 0xe; }
static inline bool ip_is_loopback(uint32_t a) { return (a >> 24) == 127; }
static inline bool ip_is_zeronet(uint32_t a) { return (a >> 24) == 0; }
static inline bool ip_is_class_e(uint32_t a) { return (a >> 28) == 0xf && a != IP_BCAST; }
static inline uint32_t ip_mask(unsigned plen)
{
	return plen == 0 ? 0 : 0xffffffffu << (32 - plen);
}

#endif
