/*
 * icmp_error.c - sending ICMP errors about offending packets (contract in
 * icmp.h).
 *
 * The error quotes the offending datagram from its IP header on: as much as
 * keeps the whole error within 576 bytes (RFC 1812 4.3.2.3), which is more
 * than the header plus 64 bits RFC 792 asks for.  The quote is read where
 * the bytes lie, before or after the current data start of the first
 * segment (a layer above IP has pulled the IP header but the bytes are
 * still in the buffer), so the offending packet is never written.
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "protocols/icmp/icmp.h"
#include "protocols/icmp/icmp_private.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"

#define ICMP_ERR_MAX 576u

static bool addr_not_a_host(uint32_t a, uint16_t ifindex)
{
	return a == IP_ANY || a == IP_BCAST || ip_is_multicast(a) || ip_is_loopback(a) ||
	       ip_is_class_e(a) || ip_is_zeronet(a) || inet_addr_is_bcast(ifindex, a);
}

/* Copies n bytes that start `at` bytes from the first segment's buf; the
 * bytes may begin before the data start (in the first segment) and run on
 * into the chain.  False when they are not all there. */
static bool copy_from_l3(const struct pkt *p, uint32_t at, uint8_t *dst, uint32_t n)
{
	uint32_t head = 0;
	if (at < p->off) {
		head = p->off - at;
		if (head > n)
			head = n;
		memcpy(dst, p->buf + at, head);
	}
	if (head == n)
		return true;
	uint32_t from = at + head - p->off;
	return pkt_copy_out(p, from, dst + head, n - head);
}

/* Sends the error when the rules allow it; returns 0 when sent, or the
 * icmp drop reason that explains why not. */
static unsigned error_send(const struct pkt *p, uint8_t type, uint8_t code, uint32_t info)
{
	if (!atomic_load_explicit(&icmp_running, memory_order_relaxed))
		return ICMP_DROP_DISABLED;
	if (p->l3_off < 0)
		return NG_DROP_SHORT;
	uint32_t l3 = (uint32_t)p->l3_off;
	/* The header must lie in the first segment, behind or after the data
	 * start. */
	if (l3 + IP_HDR_MIN > p->off + p->len)
		return NG_DROP_SHORT;
	const struct ip_hdr *ih = (const void *)(p->buf + l3);
	unsigned hlen = ip_hdr_len(ih);
	if (ip_version(ih) != 4 || hlen < IP_HDR_MIN || l3 + hlen > p->off + p->len)
		return NG_DROP_SHORT;
	if (ip_frag_off(ih) != 0)
		return ICMP_DROP_ABOUT_FRAG;
	uint32_t src = ip_src(ih), dst = ip_dst(ih);
	if ((p->flags & (PKT_F_BCAST | PKT_F_MCAST)) || dst == IP_BCAST ||
	    ip_is_multicast(dst) || inet_addr_is_bcast(p->ifindex, dst))
		return ICMP_DROP_ABOUT_BCAST;
	if (addr_not_a_host(src, p->ifindex))
		return ICMP_DROP_ABOUT_BAD_SRC;
	/* Bytes of the offending datagram that are present, from its IP
	 * header on. */
	uint32_t avail = p->off + p->pkt_len - l3;
	uint32_t tot = ip_tot_len(ih);
	if (tot > avail || tot < hlen)
		tot = avail;
	if (ih->proto == IP_PROTO_ICMP) {
		uint8_t t;
		if (tot <= hlen || !copy_from_l3(p, l3 + hlen, &t, 1) || icmp_type_is_error(t))
			return ICMP_DROP_ABOUT_ERROR;
	}
	if (!icmp_rate_ok(ICMP_BUCKET_ERR)) {
		icmp_count(&icmp_ctr.rate_limited);
		return ICMP_DROP_RATE_LIMITED;
	}

	uint32_t quote = ICMP_ERR_MAX - IP_HDR_MIN - ICMP_HDR_LEN;
	if (quote > tot)
		quote = tot;
	struct pkt *e = pkt_alloc(p->pool);
	uint8_t *d = e ? pkt_put(e, ICMP_HDR_LEN + quote) : NULL;
	if (!d || !copy_from_l3(p, l3, d + ICMP_HDR_LEN, quote)) {
		pkt_free(e);
		icmp_count(&icmp_ctr.tx_fail);
		return NG_DROP_NO_BUFFERS;
	}
	struct icmp_hdr *h = (void *)d;
	h->type = type;
	h->code = code;
	ip_put16(h->csum, 0);
	ip_put32(h->rest, info);
	ip_put16(h->csum, csum_fold(csum_add(0, d, ICMP_HDR_LEN + quote)));
	e->flags = p->flags & PKT_F_TRACE;
	pkt_set_l4(e);
	/* The source: the address the offending packet was sent to when it
	 * is ours, else (forwarding) the egress interface's.  Precedence 6,
	 * internetwork control (RFC 1812 4.3.2.5). */
	const struct ip_send_opts o = {
		.src = inet_addr_ifindex(dst) ? dst : 0,
		.tos = 0xc0,
	};
	if (ip_output(&e, src, IP_PROTO_ICMP, &o) == IP_OUT_OK) {
		icmp_count(&icmp_ctr.err_tx);
	} else {
		icmp_count(&icmp_ctr.tx_fail);
	}
	return 0;
}

void icmp_error_at(struct pkt **pp, uint8_t type, uint8_t code, uint32_t info,
		   const struct ng_node *node, unsigned reason)
{
	struct pkt *p = *pp;
	*pp = NULL;
	if (!p)
		return;
	unsigned why = error_send(p, type, code, info);
	if (why)
		icmp_count(&icmp_ctr.err_suppressed);
	if (node)
		ng_drop(&p, node, reason);
	else
		ng_drop(&p, &icmp_node, why ? why : ICMP_DROP_ERR_SENT);
}

void icmp_error(struct pkt **pp, uint8_t type, uint8_t code, uint32_t info)
{
	icmp_error_at(pp, type, code, info, NULL, 0);
}
