/*
 * udp_discard.c - UDP discard (RFC 863): every datagram to the service's
 * ports is counted on the node "udp_discard" and freed; nothing is sent.
 *
 * Built only as the extension object build/ext/udp_discard.o (module
 * "udp_discard"): `spin ctl load build/ext/udp_discard.o port 9`.  Its
 * bindings are left to the loader, which removes them in one transaction at
 * unload (docs/domains.md).
 */
#include "apps/echo/svc_args.h"
#include "kernel/sal/sal.h"
#include "netgraph/graph.h"
#include "protocols/udp/udp.h"

extern const struct spin_module udp_discard_module;

NG_NODE(udp_discard_node,
	.name = "udp_discard",
	.module = &udp_discard_module,
	.doc = "UDP discard service (RFC 863): counts and frees every datagram");

/* Consumes p. */
static void discard_input(void *closure, struct pkt *p)
{
	(void)closure;
	ng_enter(&udp_discard_node, p);
	pkt_free(p);
	ng_leave(&udp_discard_node);
}

/* args: the ports (apps/echo/svc_args.h), at least one. */
static int discard_init(const char *args)
{
	uint16_t ports[SVC_MAX_PORTS];
	int n = svc_args_ports(args, ports, SVC_MAX_PORTS);

	if (n <= 0)
		return -1;
	(void)ng_node_register(&udp_discard_node);
	for (int i = 0; i < n; i++) {
		char desc[32];
		const struct disp_term t = udp_port_term(ports[i]);
		struct UDP_PacketArrived_spec s = {
			.handler = discard_input, .terms = &t, .nterms = 1, .desc = desc,
		};
		int rc;

		sal_snprintf(desc, sizeof desc, "udp_discard port %u", (unsigned)ports[i]);
		/* On failure the loader sweeps the bindings already made. */
		if ((rc = UDP_PacketArrived_install(&udp_discard_module, &s, NULL)))
			return rc;
	}
	return 0;
}

static const struct spin_import discard_imports[] = {
	{.name = "udp", .version = SPIN_VERSION(1, 0)},
	{.name = NULL},
};

SPIN_MODULE(udp_discard_module,
	    .name = "udp_discard",
	    .version = SPIN_VERSION(1, 0),
	    .imports = discard_imports,
	    .init = discard_init,
	    .doc = "UDP discard service (RFC 863)");
