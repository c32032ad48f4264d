/*
 * ip_output.c - IPv4 send: route, source address, header, fragmentation,
 * hand-off to ARP.
 *
 * Fragmentation (RFC 791 3.2, RFC 1812 5.2.4.3) copies: each fragment is a
 * new pool buffer holding a header (the original's, options that are not
 * "copied" dropped after the first fragment) and its slice of the payload,
 * chained over more buffers when the MTU is larger than one buffer.  The
 * original is freed when every fragment is out.  Cost: one allocation and a
 * copy per fragment; sending the fragments of a 65000-byte datagram over a
 * 1500-byte MTU is 45 allocations and 65 KB of copying (~15 us).  A packet
 * that fits goes out in its own buffer, untouched.
 *
 * Segmentation offload.  A PKT_GSO_TCPV4 packet (a TCP super-segment from
 * protocols/tcp, or a coalesced frame being forwarded) larger than the MTU
 * is neither fragmented nor refused: on an interface with TSO (gso_max)
 * whose MTU holds one piece it goes down whole and the device cuts it; on
 * any other it is cut here in software into TCP segments of at most
 * gso_size payload bytes that fit the MTU (each a fresh buffer from the
 * interface's pool with copied headers, its IP id, total length and header
 * checksum, TCP sequence and checksum recomputed; FIN and PSH only on the
 * last piece, CWR only on the first), which costs what fragmenting does
 * plus a checksum per piece.  A GSO packet that fits the MTU loses its GSO
 * marks on an interface without TSO.
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "protocols/arp/arp.h"
#include "protocols/ether/ether_wire.h"
#include "protocols/icmp/icmp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"
#include "protocols/ip/ip_private.h"

static uint16_t ip_next_id;

/* The interface whose subnet holds a, by the longest such prefix (the
 * connected routes are implied by the addresses of protocols/inet).
 * Returns the prefix length, or -1 when no subnet holds a. */
static int onlink_lookup(uint32_t a, uint16_t *ifindex)
{
	struct inet_ifaddr all[NG_IF_MAX * 2];
	unsigned n = inet_addr_list(0, all, NG_ARRAY_LEN(all));
	int best = -1;
	for (unsigned i = 0; i < n && i < NG_ARRAY_LEN(all); i++) {
		if ((a & ip_mask(all[i].plen)) != (all[i].addr & ip_mask(all[i].plen)))
			continue;
		if ((int)all[i].plen > best) {
			best = all[i].plen;
			*ifindex = all[i].ifindex;
		}
	}
	return best;
}

/* Routes: the table's longest match, or the subnet of one of our addresses
 * when that is at least as long (a connected route). */
bool ip_route_resolve(uint32_t dst, uint16_t ifindex_hint, struct ip_nexthop *out)
{
	*out = (struct ip_nexthop){0};
	const struct ip_route *r = ip_route_lookup(dst);
	if (ifindex_hint) {
		/* The caller named the interface: on-link unless a route
		 * through that same interface gives a gateway. */
		out->ifindex = ifindex_hint;
		out->nexthop = dst;
		if (r && r->ifindex == ifindex_hint && r->gateway && dst != IP_BCAST &&
		    !ip_is_multicast(dst)) {
			out->nexthop = r->gateway;
			out->mtu = r->mtu;
			out->src = r->src;
		}
	} else {
		uint16_t oif = 0;
		int oplen = onlink_lookup(dst, &oif);
		if (oplen >= 0 && (!r || oplen >= (int)r->plen)) {
			out->ifindex = oif;
			out->nexthop = dst;
		} else if (r) {
			out->nexthop = r->gateway ? r->gateway : dst;
			out->ifindex = r->ifindex;
			out->mtu = r->mtu;
			out->src = r->src;
			if (!out->ifindex && onlink_lookup(out->nexthop, &out->ifindex) < 0)
				return false;
		} else {
			return false;
		}
	}
	struct ng_iface *ifp = ng_iface_get(out->ifindex);
	if (!ifp)
		return false;
	if (!out->mtu || out->mtu > ifp->mtu)
		out->mtu = ifp->mtu;
	return true;
}

bool ip_csum_finish(struct pkt **pp)
{
	struct pkt *p = *pp;
	if (p->csum != PKT_CSUM_PARTIAL)
		return true;
	if (p->csum_start < ETHER_HDR_LEN)
		return false;
	uint32_t start = p->csum_start - ETHER_HDR_LEN;
	uint32_t at = start + p->csum_offset;
	if (start >= pkt_len(p) || at + 2 > pkt_len(p))
		return false;
	if (!pkt_unshare(pp))
		return false;
	p = *pp;
	uint32_t s = pkt_csum_partial(p, start, pkt_len(p) - start, 0);
	uint16_t c = csum_fold(s);
	if (c == 0)
		c = 0xffff;
	uint8_t b[2] = {(uint8_t)(c >> 8), (uint8_t)c};
	if (!pkt_copy_in(p, at, b, 2))
		return false;
	p->csum = PKT_CSUM_NONE;
	return true;
}

/* Appends n bytes of src at off to dst, adding buffers from pool as
 * needed; false when the pool ran dry (dst holds a prefix). */
static bool append_from(struct pkt *dst, const struct pkt *src, uint32_t off, uint32_t n,
			struct pkt_pool *pool)
{
	while (n) {
		uint32_t room = pkt_tailroom(dst);
		room = room > PKT_TAILROOM ? room - PKT_TAILROOM : 0;
		if (room == 0) {
			struct pkt *s = pkt_alloc(pool);
			if (!s)
				return false;
			/* A continuation segment needs no headroom. */
			s->off = 0;
			if (!pkt_chain(dst, &s))
				return false;
			continue;
		}
		uint32_t k = n < room ? n : room;
		uint8_t *d = pkt_put(dst, k);
		if (!d || !pkt_copy_out(src, off, d, k))
			return false;
		off += k;
		n -= k;
	}
	return true;
}

/* Builds the header of a non-first fragment from the original's: options
 * without the "copied" flag are left out (RFC 791 3.1).  Returns its
 * length. */
static unsigned frag_header(const uint8_t *orig, unsigned hlen, uint8_t *out)
{
	memcpy(out, orig, IP_HDR_MIN);
	unsigned n = IP_HDR_MIN, i = IP_HDR_MIN;
	while (i < hlen) {
		uint8_t t = orig[i];
		if (t == IP_OPT_EOL)
			break;
		if (t == IP_OPT_NOP) {
			i++;
			continue;
		}
		uint8_t len = i + 1 < hlen ? orig[i + 1] : 0;
		if (len < 2 || i + len > hlen)
			break;
		if (t & IP_OPT_COPIED) {
			memcpy(out + n, orig + i, len);
			n += len;
		}
		i += len;
	}
	while (n % 4)
		out[n++] = IP_OPT_EOL;
	out[0] = (uint8_t)(0x40 | (n / 4));
	return n;
}

/* Splits p (data start at a complete header) into fragments of at most mtu
 * bytes and sends each.  Consumes p. */
static int fragment(struct pkt *p, uint16_t ifindex, uint32_t nexthop, uint32_t mtu)
{
	uint8_t hdr0[IP_HDR_MAX], hdrn[IP_HDR_MAX];
	const struct ip_hdr *h = (const void *)pkt_data(p);
	unsigned hlen = ip_hdr_len(h);
	memcpy(hdr0, h, hlen);
	unsigned hlen_n = frag_header(hdr0, hlen, hdrn);
	uint16_t fw = ip_frag_word(h);
	uint32_t base = (uint32_t)(fw & IP_FRAG_OFFMASK) * 8u; /* refragmenting a fragment */
	bool more_after = (fw & IP_FRAG_MF) != 0;
	uint32_t payload = pkt_len(p) - hlen;
	struct pkt_pool *pool = p->pool;
	if (mtu < hlen + 8 || mtu < hlen_n + 8) {
		ng_drop(&p, &ip_node, IP_DROP_FRAG_NEEDED);
		return IP_OUT_MSGSIZE;
	}

	uint32_t off = 0;
	while (off < payload) {
		const uint8_t *hb = off == 0 ? hdr0 : hdrn;
		unsigned hl = off == 0 ? hlen : hlen_n;
		uint32_t chunk = (mtu - hl) & ~7u;
		bool last = off + chunk >= payload;
		if (last)
			chunk = payload - off;
		struct pkt *f = pkt_alloc(pool);
		uint8_t *d = f ? pkt_put(f, hl) : NULL;
		if (!d || !append_from(f, p, hlen + off, chunk, pool)) {
			pkt_free(f);
			ng_drop(&p, &ip_node, NG_DROP_NO_BUFFERS);
			return IP_OUT_NOBUFS;
		}
		memcpy(d, hb, hl);
		struct ip_hdr *fh = (void *)d;
		ip_put16(fh->tot_len, (uint16_t)(hl + chunk));
		uint16_t w = (uint16_t)(fw & IP_FRAG_DF);
		w |= (uint16_t)((base + off) / 8);
		if (!last || more_after)
			w |= IP_FRAG_MF;
		ip_put16(fh->frag, w);
		ip_put16(fh->csum, 0);
		ip_put16(fh->csum, ip_hdr_csum(fh, hl));
		f->ifindex = ifindex;
		f->flags = p->flags & (PKT_F_TRACE | PKT_F_VLAN);
		f->vlan_tci = p->vlan_tci;
		pkt_set_l3(f);
		ip_count(&ip_ctr.frag_created);
		arp_send(f, ifindex, nexthop);
		off += chunk;
	}
	pkt_free(p);
	return IP_OUT_OK;
}

/* TCP header fields that segmentation rewrites (RFC 9293 3.1). */
#define GSO_TCP_SEQ 4
#define GSO_TCP_OFF 12
#define GSO_TCP_FLAGS 13
#define GSO_TCP_CSUM 16
#define GSO_TCP_FIN 0x01u
#define GSO_TCP_PSH 0x08u
#define GSO_TCP_CWR 0x80u

/* The IP and TCP header lengths of a TCP/IPv4 GSO packet (data start at the
 * IP header), made contiguous; false when it is not one. */
static bool gso_headers(struct pkt *p, unsigned *iphl, unsigned *thl)
{
	if (!pkt_contig(p, IP_HDR_MIN))
		return false;
	const struct ip_hdr *h = (const void *)pkt_data(p);
	*iphl = ip_hdr_len(h);
	if (h->proto != IP_PROTO_TCP || *iphl < IP_HDR_MIN || !pkt_contig(p, *iphl + 20))
		return false;
	*thl = (unsigned)(pkt_data(p)[*iphl + GSO_TCP_OFF] >> 4) * 4u;
	return *thl >= 20 && pkt_contig(p, *iphl + *thl) && pkt_len(p) > *iphl + *thl;
}

/* Cuts a TCP/IPv4 GSO packet into segments that fit mtu and sends each
 * (see the top of the file).  Consumes p. */
static int gso_segment(struct pkt *p, uint16_t ifindex, uint32_t nexthop, uint32_t mtu)
{
	uint8_t hdr[IP_HDR_MAX + 60];
	unsigned iphl, thl;
	if (!gso_headers(p, &iphl, &thl)) {
		ng_drop(&p, &ip_node, IP_DROP_BAD_GSO);
		return IP_OUT_INVAL;
	}
	unsigned hl = iphl + thl;
	if (mtu <= hl) {
		ng_drop(&p, &ip_node, IP_DROP_FRAG_NEEDED);
		return IP_OUT_MSGSIZE;
	}
	memcpy(hdr, pkt_data(p), hl);
	uint32_t piece = p->gso_size && p->gso_size < mtu - hl ? p->gso_size : mtu - hl;
	uint32_t payload = pkt_len(p) - hl;
	uint32_t seq0 = ip_get32(hdr + iphl + GSO_TCP_SEQ);
	uint16_t id0 = ip_get16(hdr + 4);
	uint8_t flags0 = hdr[iphl + GSO_TCP_FLAGS];
	const struct ng_iface *ifp = ng_iface_get(ifindex);
	struct pkt_pool *pool = ifp && ifp->pool ? ifp->pool : p->pool;

	for (uint32_t off = 0, i = 0; off < payload; off += piece, i++) {
		uint32_t n = payload - off < piece ? payload - off : piece;
		struct pkt *f = pkt_alloc(pool);
		uint8_t *d = f ? pkt_put(f, hl) : NULL;
		if (!d || !append_from(f, p, hl + off, n, pool)) {
			pkt_free(f);
			ng_drop(&p, &ip_node, NG_DROP_NO_BUFFERS);
			return IP_OUT_NOBUFS;
		}
		memcpy(d, hdr, hl);
		struct ip_hdr *fh = (void *)d;
		ip_put16(fh->tot_len, (uint16_t)(hl + n));
		ip_put16(fh->id, (uint16_t)(id0 + i));
		ip_put16(fh->csum, 0);
		ip_put16(fh->csum, ip_hdr_csum(fh, iphl));
		uint8_t *th = d + iphl;
		ip_put32(th + GSO_TCP_SEQ, seq0 + off);
		uint8_t fl = flags0;
		if (off + n < payload)
			fl &= (uint8_t)~(GSO_TCP_FIN | GSO_TCP_PSH);
		if (off)
			fl &= (uint8_t)~GSO_TCP_CWR;
		th[GSO_TCP_FLAGS] = fl;
		/* The pseudo-header: addresses, protocol, TCP length. */
		uint8_t ph[12];
		memcpy(ph, d + 12, 8);
		ph[8] = 0;
		ph[9] = IP_PROTO_TCP;
		ip_put16(ph + 10, (uint16_t)(thl + n));
		ip_put16(th + GSO_TCP_CSUM, 0);
		uint32_t sum = pkt_csum_partial(f, iphl, thl + n, csum_add(0, ph, sizeof ph));
		uint16_t c = csum_fold(sum);
		ip_put16(th + GSO_TCP_CSUM, c);
		f->ifindex = ifindex;
		f->flags = p->flags & (PKT_F_TRACE | PKT_F_VLAN);
		f->vlan_tci = p->vlan_tci;
		pkt_set_l3(f);
		ip_count(&ip_ctr.tx);
		ip_count(&ip_ctr.gso_sw_segs);
		arp_send(f, ifindex, nexthop);
	}
	pkt_free(p);
	return IP_OUT_OK;
}

int ip_send_routed(struct pkt *p, uint16_t ifindex, uint32_t nexthop, uint32_t mtu,
		   bool icmp_frag)
{
	const struct ip_hdr *h = (const void *)pkt_data(p);
	p->ifindex = ifindex;
	if (p->gso_type != PKT_GSO_NONE) {
		const struct ng_iface *ifp = ng_iface_get(ifindex);
		bool tso = ifp && ifp->gso_max && p->gso_type == PKT_GSO_TCPV4;
		if (pkt_len(p) > mtu && p->gso_type == PKT_GSO_TCPV4) {
			unsigned iphl, thl;
			if (tso && pkt_len(p) <= ifp->gso_max && gso_headers(p, &iphl, &thl) &&
			    iphl + thl + p->gso_size <= mtu) {
				ip_count(&ip_ctr.tx);
				ip_count(&ip_ctr.gso_tx);
				arp_send(p, ifindex, nexthop);
				return IP_OUT_OK;
			}
			return gso_segment(p, ifindex, nexthop, mtu);
		}
		if (!tso) {
			p->gso_type = PKT_GSO_NONE;
			p->gso_size = 0;
		}
	}
	if (pkt_len(p) <= mtu) {
		ip_count(&ip_ctr.tx);
		arp_send(p, ifindex, nexthop);
		return IP_OUT_OK;
	}
	if (ip_frag_word(h) & IP_FRAG_DF) {
		if (icmp_frag)
			icmp_error_at(&p, ICMP_DEST_UNREACH, ICMP_UNREACH_FRAG_NEEDED, mtu, &ip_node,
				      IP_DROP_FRAG_NEEDED);
		else
			ng_drop(&p, &ip_node, IP_DROP_FRAG_NEEDED);
		return IP_OUT_MSGSIZE;
	}
	/* The transport checksum covers the whole datagram: finish it
	 * before the datagram is cut. */
	if (!ip_csum_finish(&p)) {
		ng_drop(&p, &ip_node, NG_DROP_BAD_CSUM);
		return IP_OUT_INVAL;
	}
	ip_count(&ip_ctr.tx);
	return fragment(p, ifindex, nexthop, mtu);
}

int ip_output(struct pkt **pp, uint32_t dst, uint8_t proto, const struct ip_send_opts *opt)
{
	static const struct ip_send_opts defaults;
	struct pkt *p = *pp;
	*pp = NULL;
	if (!p)
		return IP_OUT_INVAL;
	if (!opt)
		opt = &defaults;
	ng_enter_tx(&ip_node, p);
	int ret;
	unsigned reason;
	struct ip_nexthop nh;
	if (!ip_route_resolve(dst, opt->ifindex, &nh)) {
		ret = IP_OUT_NOROUTE;
		reason = IP_DROP_NO_ROUTE;
		goto bad;
	}
	uint32_t src = opt->src ? opt->src : nh.src;
	if (!src) {
		struct inet_ifaddr a;
		if (inet_addr_onlink(nh.ifindex, nh.nexthop, &a) ||
		    inet_addr_primary(nh.ifindex, &a))
			src = a.addr;
	}
	if (!src) {
		ret = IP_OUT_NOSRC;
		reason = IP_DROP_NO_SRC;
		goto bad;
	}
	if (pkt_len(p) > IP_MAX_LEN - IP_HDR_MIN) {
		ret = IP_OUT_INVAL;
		reason = IP_DROP_BAD_LEN;
		goto bad;
	}
	if (pkt_headroom(p) < IP_HDR_MIN + ETHER_HDR_LEN + ETHER_VLAN_LEN ||
	    !pkt_seg_writable(p)) {
		/* Too little room for the headers below, or a shared first
		 * segment: put the headers in a buffer of their own. */
		struct pkt *h = pkt_alloc(p->pool);
		if (!h) {
			ret = IP_OUT_NOBUFS;
			reason = NG_DROP_NO_BUFFERS;
			goto bad;
		}
		h->ifindex = p->ifindex;
		h->csum = p->csum;
		h->csum_start = p->csum_start;
		h->csum_offset = p->csum_offset;
		h->gso_type = p->gso_type;
		h->gso_size = p->gso_size;
		h->flags = p->flags;
		if (!pkt_chain(h, &p)) {
			p = h;
			ret = IP_OUT_NOBUFS;
			reason = NG_DROP_NO_BUFFERS;
			goto bad;
		}
		p = h;
	}
	struct ip_hdr *ih = (void *)pkt_push(p, IP_HDR_MIN);
	ih->ver_ihl = 0x45;
	ih->tos = opt->tos;
	ip_put16(ih->tot_len, (uint16_t)pkt_len(p));
	ip_put16(ih->id, opt->id ? opt->id : ip_next_id++);
	ip_put16(ih->frag, opt->df ? IP_FRAG_DF : 0);
	ih->ttl = opt->ttl ? opt->ttl : IP_CFG(default_ttl);
	ih->proto = proto;
	ip_put16(ih->csum, 0);
	ip_put32(ih->src, src);
	ip_put32(ih->dst, dst);
	ip_put16(ih->csum, ip_hdr_csum(ih, IP_HDR_MIN));
	pkt_set_l3(p);
	p->flags &= (uint8_t)~(PKT_F_BCAST | PKT_F_MCAST | PKT_F_OTHERHOST);
	ret = ip_send_routed(p, nh.ifindex, nh.nexthop, nh.mtu, false);
	ng_leave(&ip_node);
	return ret;
bad:
	ng_drop(&p, &ip_node, reason);
	ng_leave(&ip_node);
	return ret;
}

static int ip_send_nobody(struct pkt *p, uint32_t dst, uint8_t proto,
			  const struct ip_send_opts *opt)
{
	(void)dst, (void)proto, (void)opt;
	ng_drop(&p, &ip_node, NG_DROP_NO_HANDLER);
	return IP_OUT_NOROUTE;
}

SPIN_EVENT_DEFINE(IP_SendPacket, .owner = &ip_module, .subject = ng_pkt_subject,
		  .default_result = IP_OUT_OK, .default_handler = ip_send_nobody,
		  .doc = "send a transport payload as IPv4 (primary: ip_output)");
