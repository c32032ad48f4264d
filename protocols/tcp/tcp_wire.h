/*
 * tcp_wire.h - the TCP header and its options as they lie on the wire
 * (RFC 9293 3.1, RFC 7323, RFC 2018).
 *
 * Fields are big-endian byte arrays: read and write them with ip_get16 /
 * ip_get32 / ip_put16 / ip_put32 (protocols/ip/ip_wire.h), never by
 * casting.  Cast the struct only over bytes that pkt_contig made
 * contiguous.
 */
#ifndef SPIN_TCP_WIRE_H
#define SPIN_TCP_WIRE_H

#include <stdint.h>

struct tcp_hdr {
	uint8_t sport[2];
	uint8_t dport[2];
	uint8_t seq[4];
	uint8_t ack[4];
	uint8_t off_rsv;        /* data offset in 32-bit words << 4 | reserved */
	uint8_t flags;          /* TCP_F_* */
	uint8_t win[2];         /* scaled by the peer's shift, except on SYNs */
	uint8_t csum[2];        /* over the pseudo-header, header and data */
	uint8_t urg[2];         /* urgent pointer (RFC 6093: data is inline) */
	/* options: (data offset - 5) * 4 bytes */
};
_Static_assert(sizeof(struct tcp_hdr) == 20, "TCP header is 20 bytes");

#define TCP_HDR_LEN 20u
#define TCP_HDR_MAX 60u

/* Offsets of fields within the header, for declarative guards. */
#define TCP_OFF_SPORT 0u
#define TCP_OFF_DPORT 2u
#define TCP_OFF_FLAGS 13u
#define TCP_OFF_CSUM 16u

#define TCP_F_FIN 0x01u
#define TCP_F_SYN 0x02u
#define TCP_F_RST 0x04u
#define TCP_F_PSH 0x08u
#define TCP_F_ACK 0x10u
#define TCP_F_URG 0x20u
#define TCP_F_ECE 0x40u
#define TCP_F_CWR 0x80u

/* Option kinds and lengths. */
#define TCP_OPT_EOL 0u
#define TCP_OPT_NOP 1u
#define TCP_OPT_MSS 2u          /* len 4 */
#define TCP_OPT_WSCALE 3u       /* len 3, shift <= 14 */
#define TCP_OPT_SACK_PERM 4u    /* len 2, SYN only */
#define TCP_OPT_SACK 5u         /* len 2 + 8n */
#define TCP_OPT_TS 8u           /* len 10: TSval, TSecr */

#define TCP_WSCALE_MAX 14u

static inline unsigned tcp_hdr_len(const struct tcp_hdr *th)
{
	return (unsigned)(th->off_rsv >> 4) * 4u;
}

#endif
