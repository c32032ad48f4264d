/*
 * ip_input.c - IPv4 receive: header validation, the destination decision,
 * local delivery (through reassembly for fragments) and forwarding.
 *
 * Every bad packet leaves through one exit that counts its reason on the ip
 * node.  The checks follow RFC 1122 3.2.1 and RFC 1812 5.2.2 in order:
 * length of what arrived, version, header length, checksum, total length,
 * options, TTL, addresses.  Cost for a good 20-byte header: one contiguity
 * compare, a 20-byte checksum (~5 ns), a handful of compares and the
 * address lookups of protocols/inet (~10 ns).
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "netgraph/iface.h"
#include "protocols/ether/ether.h"
#include "protocols/icmp/icmp.h"
#include "protocols/inet/inet.h"
#include "protocols/ip/ip.h"
#include "protocols/ip/ip_private.h"

uint16_t ip_hdr_csum(const void *h, unsigned hlen)
{
	return csum_fold(csum_add(0, h, hlen));
}

/* Walks the options: each must fit inside the header.  Options are not
 * acted on (no source routing, no record route); a host that skips them is
 * conforming (RFC 1122 3.2.1.8 allows ignoring the ones it does not
 * implement), and a malformed one is a reason to drop. */
static bool options_ok(const uint8_t *o, unsigned n)
{
	unsigned i = 0;
	while (i < n) {
		uint8_t t = o[i];
		if (t == IP_OPT_EOL)
			return true;
		if (t == IP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n)
			return false;
		uint8_t len = o[i + 1];
		if (len < 2 || i + len > n)
			return false;
		i += len;
	}
	return true;
}

static bool src_bad(uint32_t a)
{
	return a == IP_BCAST || ip_is_multicast(a) || ip_is_loopback(a) || ip_is_class_e(a);
}

/* Validates the header at the data start and trims link padding.  Returns
 * 0 or the drop reason. */
static unsigned validate(struct pkt *p)
{
	if (!pkt_contig(p, IP_HDR_MIN))
		return NG_DROP_SHORT;
	const struct ip_hdr *h = (const void *)pkt_data(p);
	if (ip_version(h) != 4)
		return IP_DROP_BAD_VERSION;
	unsigned hlen = ip_hdr_len(h);
	if (hlen < IP_HDR_MIN)
		return IP_DROP_BAD_IHL;
	if (!pkt_contig(p, hlen))
		return NG_DROP_SHORT;
	h = (const void *)pkt_data(p);
	if (ip_hdr_csum(h, hlen) != 0)
		return NG_DROP_BAD_CSUM;
	unsigned tot = ip_tot_len(h);
	if (tot < hlen)
		return IP_DROP_BAD_LEN;
	if (tot > pkt_len(p))
		return IP_DROP_LEN_BEYOND_FRAME;
	if (tot < pkt_len(p) && !pkt_trim(p, tot))
		return NG_DROP_NO_BUFFERS;
	if (hlen > IP_HDR_MIN && !options_ok((const uint8_t *)h + IP_HDR_MIN, hlen - IP_HDR_MIN))
		return IP_DROP_BAD_OPTIONS;
	if (h->ttl == 0)
		return IP_DROP_TTL_ZERO;
	if (src_bad(ip_src(h)))
		return IP_DROP_BAD_SRC;
	return 0;
}

/* The Ether_PacketArrived handler (guard: EtherType 0x0800).  Consumes p. */
static void ip_input(void *closure, struct pkt *p)
{
	(void)closure;
	ng_enter(&ip_node, p);
	ip_count(&ip_ctr.rx);
	unsigned reason;
	if (!pkt_pull(p, p->l2_len ? p->l2_len : ETHER_HDR_LEN)) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	pkt_set_l3(p);
	reason = validate(p);
	if (reason)
		goto bad;

	const struct ip_hdr *h = (const void *)pkt_data(p);
	uint32_t dst = ip_dst(h);
	if (dst == IP_BCAST || inet_addr_is_bcast(p->ifindex, dst)) {
		p->flags |= PKT_F_BCAST;
		ip_deliver(p);
	} else if (ip_is_multicast(dst)) {
		p->flags |= PKT_F_MCAST;
		ip_deliver(p);
	} else if (inet_addr_ifindex(dst) != 0) {
		/* Weak host model (RFC 1122 3.3.4.2): an address of any
		 * interface is ours, whichever interface it came in on. */
		if (p->flags & PKT_F_OTHERHOST) {
			reason = IP_DROP_NOT_OURS;
			goto bad;
		}
		ip_deliver(p);
	} else if (ip_is_loopback(dst) || ip_is_zeronet(dst) || ip_is_class_e(dst)) {
		reason = IP_DROP_BAD_DST;
		goto bad;
	} else if (IP_CFG(forwarding) && !(p->flags & (PKT_F_BCAST | PKT_F_MCAST))) {
		ip_forward(p);
	} else {
		reason = IP_DROP_NOT_OURS;
		goto bad;
	}
	ng_leave(&ip_node);
	return;
bad:
	ng_drop(&p, &ip_node, reason);
	ng_leave(&ip_node);
}

void ip_deliver(struct pkt *p)
{
	const struct ip_hdr *h = (const void *)pkt_data(p);
	if (ip_is_fragment(h)) {
		ip_count(&ip_ctr.frags_rx);
		p = ip_reass(p);
		if (!p)
			return;
		ip_count(&ip_ctr.reassembled);
	}
	pkt_set_l3(p);
	ip_count(&ip_ctr.delivered);
	IP_PacketArrived_raise(p);
}

/* Nobody takes the protocol: RFC 1122 3.2.2.1 asks for protocol
 * unreachable (icmp_error_at applies the rules about broadcasts). */
static void ip_no_proto(struct pkt *p)
{
	icmp_error_at(&p, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, 0, &ip_node, IP_DROP_NO_PROTO);
}

SPIN_EVENT_DEFINE(IP_PacketArrived, .owner = &ip_module, .subject = ng_pkt_subject,
		  .default_handler = ip_no_proto,
		  .doc = "a valid IPv4 packet for this host; data start at its header");

/* Forwarding (RFC 1812 5.2, 5.3): TTL, route, MTU, then output.  The TTL
 * decrement patches the checksum incrementally (RFC 1624). */
void ip_forward(struct pkt *p)
{
	const struct ip_hdr *h = (const void *)pkt_data(p);
	if (ip_is_zeronet(ip_src(h))) {
		ng_drop(&p, &ip_node, IP_DROP_BAD_SRC);
		return;
	}
	if (h->ttl <= 1) {
		icmp_error_at(&p, ICMP_TIME_EXCEEDED, ICMP_TIMXCEED_TTL, 0, &ip_node,
			      IP_DROP_TTL_EXCEEDED);
		return;
	}
	struct ip_nexthop nh;
	if (!ip_route_resolve(ip_dst(h), 0, &nh)) {
		icmp_error_at(&p, ICMP_DEST_UNREACH, ICMP_UNREACH_NET, 0, &ip_node,
			      IP_DROP_NO_ROUTE);
		return;
	}
	if (!pkt_seg_writable(p) && !pkt_unshare(&p)) {
		ng_drop(&p, &ip_node, NG_DROP_NO_BUFFERS);
		return;
	}
	struct ip_hdr *w = (void *)pkt_data(p);
	uint16_t old = (uint16_t)((w->ttl << 8) | w->proto);
	w->ttl--;
	uint16_t new_ = (uint16_t)((w->ttl << 8) | w->proto);
	ip_put16(w->csum, ip_csum_update16(ip_get16(w->csum), old, new_));
	ip_count(&ip_ctr.forwarded);
	/* The buffer goes back out: forget how it arrived. */
	p->flags &= (uint8_t)~(PKT_F_BCAST | PKT_F_MCAST | PKT_F_OTHERHOST | PKT_F_VLAN);
	ip_send_routed(p, nh.ifindex, nh.nexthop, nh.mtu, true);
}

/* --- module ------------------------------------------------------------------ */
static const struct disp_term ip_terms[] = {DISP_HDR_EQ(ETHER_OFF_TYPE, 2, ETHER_TYPE_IPV4)};
static struct disp_binding *ip_in_binding;
static struct disp_binding *ip_send_binding;

static int ip_send_primary(void *closure, struct pkt *p, uint32_t dst, uint8_t proto,
			   const struct ip_send_opts *opt)
{
	(void)closure;
	return ip_output(&p, dst, proto, opt);
}

static int ip_init(const char *args)
{
	(void)args;
	const struct Ether_PacketArrived_spec in = {
		.handler = ip_input, .terms = ip_terms, .nterms = 1, .desc = "ip input"};
	int err = Ether_PacketArrived_install(&ip_module, &in, &ip_in_binding);
	if (err)
		return err;
	const struct IP_SendPacket_spec out = {.handler = ip_send_primary, .desc = "ip output"};
	err = IP_SendPacket_install(&ip_module, &out, &ip_send_binding);
	if (err) {
		disp_uninstall(ip_in_binding);
		ip_in_binding = NULL;
		return err;
	}
	ip_reass_start();
	return 0;
}

static void ip_fini(void)
{
	if (ip_in_binding)
		disp_uninstall(ip_in_binding);
	if (ip_send_binding)
		disp_uninstall(ip_send_binding);
	ip_in_binding = ip_send_binding = NULL;
	ip_reass_stop();
}

static const struct spin_import ip_imports[] = {{.name = NULL}};

SPIN_MODULE(ip_module, .name = "ip", .version = SPIN_VERSION(1, 0), .imports = ip_imports,
	    .init = ip_init, .fini = ip_fini,
	    .doc = "IPv4: validation, routing, fragmentation, reassembly, forwarding");
