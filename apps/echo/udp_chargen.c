/*
 * udp_chargen.c - UDP character generator (RFC 864): every datagram to the
 * service's ports is answered with one datagram of 0 to 512 characters
 * (the length drawn at random for each answer); what the request carried
 * is ignored.
 *
 * The text is the TCP chargen stream (chargen_byte, apps/tcpsvc/tcpsvc.h:
 * 72 rotating printable characters and CR LF per line), and each answer
 * starts at the beginning of the next line, so answer k starts with the
 * character 32 + k mod 95 and a client can check every byte.
 *
 * The answer is written into the request's own buffer (no allocation): the
 * payload is cut to nothing and the text appended.  A buffer that cannot
 * take 512 bytes (shared, or too little tailroom) is dropped with the
 * reason `no_room`.
 *
 * Built only as the extension object build/ext/udp_chargen.o (module
 * "udp_chargen"): `spin ctl load build/ext/udp_chargen.o port 19`.
 */
#include "apps/echo/svc_args.h"
#include "apps/tcpsvc/tcpsvc.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "protocols/inet/inet.h"
#include "protocols/udp/udp.h"

#define CHARGEN_UDP_MAX 512
#define CHARGEN_LINE 74         /* 72 characters, CR, LF */
#define CHARGEN_LINES 95        /* the stream repeats after 95 lines */

extern const struct spin_module udp_chargen_module;

static const char *const chargen_drop_names[] = {"no_room"};
enum { CHARGEN_DROP_NO_ROOM = NG_DROP_COMMON };

NG_NODE(udp_chargen_node,
	.name = "udp_chargen",
	.module = &udp_chargen_module,
	.drop_names = chargen_drop_names,
	.ndrops = NG_ARRAY_LEN(chargen_drop_names),
	.doc = "UDP character generator (RFC 864): a random-length line block per datagram");

/* Only the packet loop touches these. */
static uint64_t chargen_rng;    /* xorshift64 state, never 0 */
static uint32_t chargen_line;   /* the line the next answer starts with */

static uint32_t chargen_random_len(void)
{
	uint64_t x = chargen_rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	chargen_rng = x;
	return (uint32_t)(x % (CHARGEN_UDP_MAX + 1));
}

/* Consumes p (data start at the UDP header).  The answer leaves from the
 * address the request was sent to, as UDP echo's does. */
static void chargen_input(void *closure, struct pkt *p)
{
	struct udp_peer u;
	uint32_t src, n;
	uint64_t start;
	uint8_t *d;

	(void)closure;
	ng_enter(&udp_chargen_node, p);
	udp_peer(p, &u);
	src = u.dst;
	if ((p->flags & (PKT_F_BCAST | PKT_F_MCAST)) || !inet_addr_is_local(u.ifindex, u.dst))
		src = 0;
	if (!pkt_trim(p, UDP_HDR_LEN) || !pkt_pull(p, UDP_HDR_LEN) ||
	    pkt_tailroom(p) < CHARGEN_UDP_MAX || !(d = pkt_put(p, CHARGEN_UDP_MAX))) {
		ng_leave(&udp_chargen_node);
		ng_drop(&p, &udp_chargen_node, CHARGEN_DROP_NO_ROOM);
		return;
	}
	n = chargen_random_len();
	start = (uint64_t)chargen_line * CHARGEN_LINE;
	chargen_line = (chargen_line + 1) % CHARGEN_LINES;
	for (uint32_t i = 0; i < n; i++)
		d[i] = chargen_byte(start + i);
	(void)pkt_trim(p, n);
	ng_leave(&udp_chargen_node);
	udp_send(p, u.ifindex, src, u.dport, u.src, u.sport);
}

/* args: the ports (apps/echo/svc_args.h), at least one. */
static int chargen_init(const char *args)
{
	uint16_t ports[SVC_MAX_PORTS];
	int n = svc_args_ports(args, ports, SVC_MAX_PORTS);

	if (n <= 0)
		return -1;
	sal_random_bytes(&chargen_rng, sizeof chargen_rng);
	chargen_rng |= 1;
	chargen_line = 0;
	(void)ng_node_register(&udp_chargen_node);
	for (int i = 0; i < n; i++) {
		char desc[32];
		const struct disp_term t = udp_port_term(ports[i]);
		struct UDP_PacketArrived_spec s = {
			.handler = chargen_input, .terms = &t, .nterms = 1, .desc = desc,
		};
		int rc;

		sal_snprintf(desc, sizeof desc, "udp_chargen port %u", (unsigned)ports[i]);
		/* On failure the loader sweeps the bindings already made. */
		if ((rc = UDP_PacketArrived_install(&udp_chargen_module, &s, NULL)))
			return rc;
	}
	return 0;
}

static const struct spin_import chargen_imports[] = {
	{.name = "udp", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(udp_chargen_module,
	    .name = "udp_chargen",
	    .version = SPIN_VERSION(1, 0),
	    .imports = chargen_imports,
	    .init = chargen_init,
	    .doc = "UDP character generator (RFC 864)");
