/*
 * icmp_input.c - ICMP receive and the echo responder (contract in icmp.h).
 */
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "protocols/icmp/icmp.h"
#include "protocols/icmp/icmp_private.h"
#include "protocols/ip/ip.h"

/* The IP_PacketArrived handler (guard: protocol 1).  Consumes p. */
static void icmp_input(void *closure, struct pkt *p)
{
	(void)closure;
	ng_enter(&icmp_node, p);
	icmp_count(&icmp_ctr.rx);
	unsigned reason;
	const struct ip_hdr *ih = (const void *)pkt_data(p);
	if (!pkt_pull(p, ip_hdr_len(ih))) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	pkt_set_l4(p);
	if (!pkt_contig(p, ICMP_HDR_LEN)) {
		reason = NG_DROP_SHORT;
		goto bad;
	}
	/* The checksum covers the whole message (a reassembled one spans
	 * several segments); a device's verdict is trusted. */
	if (p->csum != PKT_CSUM_VERIFIED && p->csum != PKT_CSUM_PARTIAL &&
	    csum_fold(pkt_csum_partial(p, 0, pkt_len(p), 0)) != 0) {
		reason = NG_DROP_BAD_CSUM;
		goto bad;
	}
	ICMP_PacketArrived_raise(p);
	ng_leave(&icmp_node);
	return;
bad:
	ng_drop(&p, &icmp_node, reason);
	ng_leave(&icmp_node);
}

/* Echo request -> echo reply in the same buffer (RFC 792; RFC 1122
 * 3.2.2.6: same identifier, sequence and data; source = the address the
 * request was sent to).  Consumes p. */
static void icmp_echo(void *closure, struct pkt *p)
{
	(void)closure;
	unsigned reason;
	icmp_count(&icmp_ctr.echo_rx);
	if (!atomic_load_explicit(&icmp_echo_on, memory_order_relaxed)) {
		reason = ICMP_DROP_TYPE_IGNORED;
		goto bad;
	}
	if (p->flags & (PKT_F_BCAST | PKT_F_MCAST)) {
		reason = ICMP_DROP_ECHO_BCAST;
		goto bad;
	}
	const struct ip_hdr *ih = (const void *)(p->buf + p->l3_off);
	uint32_t req_src = ip_src(ih), req_dst = ip_dst(ih);
	uint8_t tos = ih->tos;
	if (!icmp_rate_ok(ICMP_BUCKET_ECHO)) {
		icmp_count(&icmp_ctr.rate_limited);
		reason = ICMP_DROP_RATE_LIMITED;
		goto bad;
	}
	if (!pkt_seg_writable(p) && !pkt_unshare(&p)) {
		reason = NG_DROP_NO_BUFFERS;
		goto bad;
	}
	struct icmp_hdr *h = (void *)pkt_data(p);
	uint16_t old = (uint16_t)((h->type << 8) | h->code);
	h->type = ICMP_ECHO_REPLY;
	uint16_t new_ = (uint16_t)((h->type << 8) | h->code);
	ip_put16(h->csum, ip_csum_update16(ip_get16(h->csum), old, new_));
	p->csum = PKT_CSUM_NONE;
	const struct ip_send_opts o = {.src = req_dst, .tos = tos};
	if (ip_output(&p, req_src, IP_PROTO_ICMP, &o) == IP_OUT_OK)
		icmp_count(&icmp_ctr.echo_tx);
	else
		icmp_count(&icmp_ctr.tx_fail);
	return;
bad:
	ng_drop(&p, &icmp_node, reason);
}

/* No binding took the message: errors and unknown types end here. */
static void icmp_nobody(struct pkt *p)
{
	const struct icmp_hdr *h = (const void *)pkt_data(p);
	if (icmp_type_is_error(h->type)) {
		icmp_count(&icmp_ctr.err_rx);
		ng_drop(&p, &icmp_node, ICMP_DROP_ERROR_RX);
	} else {
		ng_drop(&p, &icmp_node, ICMP_DROP_TYPE_IGNORED);
	}
}

SPIN_EVENT_DEFINE(ICMP_PacketArrived, .owner = &icmp_module, .subject = ng_pkt_subject,
		  .default_handler = icmp_nobody,
		  .doc = "a valid ICMP message for this host; data start at its header");

/* --- module ----------------------------------------------------------------------- */
static const struct disp_term icmp_in_terms[] = {DISP_HDR_EQ(IP_OFF_PROTO, 1, IP_PROTO_ICMP)};
static const struct disp_term icmp_echo_terms[] = {DISP_HDR_EQ(0, 1, ICMP_ECHO)};
static struct disp_binding *icmp_in_binding, *icmp_echo_binding;

static int icmp_init(const char *args)
{
	(void)args;
	const struct IP_PacketArrived_spec in = {
		.handler = icmp_input, .terms = icmp_in_terms, .nterms = 1, .desc = "icmp input"};
	int err = IP_PacketArrived_install(&icmp_module, &in, &icmp_in_binding);
	if (err)
		return err;
	const struct ICMP_PacketArrived_spec echo = {
		.handler = icmp_echo, .terms = icmp_echo_terms, .nterms = 1, .desc = "echo reply"};
	err = ICMP_PacketArrived_install(&icmp_module, &echo, &icmp_echo_binding);
	if (err) {
		disp_uninstall(icmp_in_binding);
		icmp_in_binding = NULL;
		return err;
	}
	icmp_rate_reset();
	atomic_store(&icmp_running, true);
	return 0;
}

static void icmp_fini(void)
{
	atomic_store(&icmp_running, false);
	if (icmp_echo_binding)
		disp_uninstall(icmp_echo_binding);
	if (icmp_in_binding)
		disp_uninstall(icmp_in_binding);
	icmp_echo_binding = icmp_in_binding = NULL;
}

static const struct spin_import icmp_imports[] = {{.name = NULL}};

SPIN_MODULE(icmp_module, .name = "icmp", .version = SPIN_VERSION(1, 0), .imports = icmp_imports,
	    .init = icmp_init, .fini = icmp_fini,
	    .doc = "ICMP: echo reply, errors (RFC 1122 rules, rate limited)");
